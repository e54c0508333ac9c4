"""Load and validate the JSON config (the upstream go-trader shape).

Every problem becomes one line that names the file, the strategy and the key, and all problems
are reported at once, so an operator fixes the file in one pass. The CLI turns a
:class:`ConfigError` into exit 78 without a traceback.
"""

from __future__ import annotations

import difflib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
SUPPORTED_TYPES = ("spot",)
KNOWN_TYPES = ("spot", "options", "perps", "futures", "manual")
DEFAULT_INTERVAL = 600
DEFAULT_STATUS_PORT = 8099
DEFAULT_SCRIPT_TIMEOUT = 30.0
DEFAULT_DB_FILE = "state/state.db"
MIN_TICK_SECONDS = 1

# Type defaults for max_drawdown_pct, as upstream.
DEFAULT_MAX_DRAWDOWN = {"options": 40.0, "perps": 50.0, "futures": 45.0}
DEFAULT_MAX_DRAWDOWN_OTHER = 60.0

PLATFORM_PREFIXES = {
    "ibkr-": "ibkr",
    "deribit-": "deribit",
    "hl-": "hyperliquid",
    "ts-": "topstep",
    "rh-": "robinhood",
    "luno-": "luno",
    "okx-": "okx",
}

TOP_LEVEL_KEYS = {
    "config_version",
    "interval_seconds",
    "db_file",
    "state_file",
    "status_port",
    "market_data",
    "max_concurrent_checks",
    "script_timeout_seconds",
    "batch_checks",
    "strategies",
}
# Upstream top-level sections a go-trader config may carry; later issues give them meaning.
TOP_LEVEL_PASSTHROUGH = {
    "log_dir",
    "replay_log_path",
    "discord",
    "telegram",
    "auto_update",
    "leaderboard_post_time",
    "portfolio_risk",
    "correlation",
    "regime",
    "platforms",
    "leaderboard_summaries",
    "summary_frequency",
    "risk_free_rate",
    "default_stop_loss_atr_mult",
    "atr_method",
    "notify_tp_sl_fills",
    "notify_ratchet_triggers",
    "alert_throttle_interval",
    "kill_switch_reset_dm_timeout",
    "tradingview_export",
    "user_defaults",
    "tuning",
}

STRATEGY_KEYS = {
    "id",
    "type",
    "platform",
    "script",
    "args",
    "capital",
    "initial_capital",
    "max_drawdown_pct",
    "interval_seconds",
    "open_strategy",
    "close_strategy",
    "close_strategies",
    "circuit_breaker",
    "cb_drawdown_cooldown_minutes",
    "cb_loss_streak_threshold",
    "cb_loss_streak_cooldown_minutes",
    "atr_method",
    "paused",
}
# Upstream per-strategy keys that belong to features this build does not have yet: accepted
# (so a go-trader config loads) with a warning that they are ignored.
STRATEGY_KEYS_NOT_YET = {
    "symbol",
    "timeframe",
    "capital_pct",
    "allowed_regimes",
    "regime_gate_on_failure",
    "regime_gate_window",
    "regime_atr_window",
    "regime_directional_window",
    "hurst_gate",
    "notify_ratchet_triggers",
    "llm_entry_analysis",
    "allow_deprecated",
    "htf_filter",
    "invert_signal",
    "direction",
    "allow_shorts",
    "leverage",
    "sizing_leverage",
    "margin_per_trade_usd",
    "risk_per_trade_pct",
    "stop_loss_pct",
    "stop_loss_margin_pct",
    "trailing_stop_pct",
    "trailing_stop_atr_mult",
    "stop_loss_atr_mult",
    "stop_loss_atr_regime",
    "trailing_stop_atr_regime",
    "trailing_stop_min_move_pct",
    "margin_mode",
    "theta_harvest",
    "futures",
    "regime_directional_policy",
    "regime_window_divergence",
    "regime_profile_allocation",
    "allow_scale_in",
    "scale_in",
    "replay_sharing",
    "hedge",
}
KEY_HINTS = {
    "params": 'per-strategy params moved into open_strategy: {"name": ..., "params": {...}}',
    "open": 'use open_strategy: {"name": ..., "params": {...}}',
    "close": 'use close_strategy: {"name": ..., "params": {...}}',
    "interval": "the key is interval_seconds",
    "drawdown": "the key is max_drawdown_pct",
}


class ConfigError(Exception):
    """One or more config problems; ``lines`` holds one human line per problem."""

    def __init__(self, lines: list[str]) -> None:
        super().__init__("\n".join(lines))
        self.lines = lines


@dataclass
class StrategyRef:
    name: str
    params: dict = field(default_factory=dict)

    def as_json(self) -> dict:
        return {"name": self.name, "params": self.params}


@dataclass
class StrategyConfig:
    id: str
    type: str
    platform: str
    script: str
    args: list[str]
    capital: float
    initial_capital: float
    max_drawdown_pct: float
    interval_seconds: int  # 0 = use the global interval
    open_strategy: StrategyRef
    close_strategies: list[StrategyRef]
    circuit_breaker: bool = True
    cb_drawdown_cooldown_minutes: float = 24 * 60
    cb_loss_streak_threshold: int = 5
    cb_loss_streak_cooldown_minutes: float = 60
    atr_method: str = "simple"
    paused: bool = False

    @property
    def symbol(self) -> str:
        """The traded symbol: the second positional arg of a spot check."""
        positionals = [a for a in self.args if not a.startswith("--")]
        return positionals[1] if len(positionals) > 1 else ""

    def symbols(self) -> list[str]:
        positionals = [a for a in self.args if not a.startswith("--")]
        out = [positionals[1]] if len(positionals) > 1 else []
        if len(positionals) > 3:
            out.append(positionals[3])
        return out

    def effective_interval(self, global_interval: int) -> int:
        return self.interval_seconds or global_interval

    def check_argv(self) -> list[str]:
        """The argv the check script gets every cycle (and, with --probe-only, at startup)."""
        argv = list(self.args)
        if self.open_strategy.params or self.close_strategies:
            refs: dict = {"open": self.open_strategy.as_json()}
            if self.close_strategies:
                refs["closes"] = [c.as_json() for c in self.close_strategies]
            argv.append("--strategy-refs=" + json.dumps(refs, sort_keys=True))
        argv.append(f"--atr-method={self.atr_method}")
        if self.platform != "binanceus" and not any(a.startswith("--platform") for a in argv):
            argv.append(f"--platform={self.platform}")
        return argv


@dataclass
class Config:
    path: Path
    config_version: int
    interval_seconds: int
    db_file: Path
    status_port: int
    market_data: str
    max_concurrent_checks: int
    script_timeout_seconds: float
    batch_checks: bool
    strategies: list[StrategyConfig]
    warnings: list[str] = field(default_factory=list)
    raw: dict = field(default_factory=dict)

    def strategy(self, sid: str) -> StrategyConfig:
        for s in self.strategies:
            if s.id == sid:
                return s
        raise KeyError(sid)

    @property
    def tick_seconds(self) -> int:
        intervals = [s.effective_interval(self.interval_seconds) for s in self.strategies]
        return max(MIN_TICK_SECONDS, min(intervals or [self.interval_seconds]))

    def script_path(self, script: str) -> Path:
        return resolve_script(script)


def resolve_script(script: str) -> Path:
    p = Path(script)
    return p if p.is_absolute() else REPO_ROOT / p


def infer_platform(sid: str, stype: str) -> str:
    for prefix, platform in PLATFORM_PREFIXES.items():
        if sid.startswith(prefix):
            return platform
    return "deribit" if stype == "options" else "binanceus"


def _is_number(v: object) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _is_int(v: object) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _unknown_key_line(where: str, key: str, known: set[str]) -> str:
    hint = KEY_HINTS.get(key)
    if hint is None:
        close = difflib.get_close_matches(key, sorted(known), n=1, cutoff=0.6)
        hint = f"did you mean '{close[0]}'?" if close else "remove it"
    return f"{where}: unknown key '{key}' ({hint})"


def _ref(value: object, where: str, key: str, errors: list[str]) -> StrategyRef | None:
    if value is None:
        return None
    if isinstance(value, str):
        return StrategyRef(value, {})
    if isinstance(value, dict):
        name = value.get("name")
        params = value.get("params", {})
        extra = set(value) - {"name", "params"}
        if extra:
            errors.append(f"{where}: {key} has unknown key(s) {sorted(extra)} (use name, params)")
        if not isinstance(name, str) or not name:
            errors.append(f"{where}: {key}.name must be a non-empty string")
            return None
        if not isinstance(params, dict):
            errors.append(f"{where}: {key}.params must be an object")
            return None
        return StrategyRef(name, dict(params))
    errors.append(f'{where}: {key} must be a name or {{"name", "params"}}')
    return None


def load_config(path: str | Path) -> Config:
    """Read, validate and default a config file; raises ConfigError listing every problem."""
    path = Path(path)
    label = str(path)
    try:
        text = path.read_text()
    except FileNotFoundError:
        raise ConfigError([f"config {label}: file not found (pass --config <file>)"]) from None
    except OSError as exc:
        raise ConfigError([f"config {label}: cannot read ({exc.strerror})"]) from None

    def reject_constant(name: str) -> float:
        raise ValueError(f"{name} is not a valid number here; use a finite number")

    try:
        raw = json.loads(text, parse_constant=reject_constant)
    except ValueError as exc:
        if not isinstance(exc, json.JSONDecodeError):
            raise ConfigError([f"config {label}: {exc}"]) from None
        raise ConfigError(
            [f"config {label}: invalid JSON at line {exc.lineno} column {exc.colno}: {exc.msg}"]
        ) from None
    if not isinstance(raw, dict):
        raise ConfigError([f"config {label}: the top level must be a JSON object"])
    return parse_config(raw, path)


def parse_config(raw: dict, path: Path) -> Config:
    label = str(path)
    errors: list[str] = []
    warnings: list[str] = []

    for key in raw:
        if key not in TOP_LEVEL_KEYS and key not in TOP_LEVEL_PASSTHROUGH:
            warnings.append(_unknown_key_line(f"config {label}", key, TOP_LEVEL_KEYS) + "; ignored")

    def top(key: str, default, check, expect: str):
        value = raw.get(key, default)
        if value is None:
            return default
        if not check(value):
            errors.append(f"config {label}: {key} must be {expect}, got {json.dumps(value)}")
            return default
        return value

    version = top("config_version", 0, _is_int, "an integer")
    interval = top("interval_seconds", 0, _is_int, "an integer number of seconds")
    if interval <= 0:
        interval = DEFAULT_INTERVAL
    db_value = raw.get("db_file") or raw.get("state_file") or DEFAULT_DB_FILE
    if not isinstance(db_value, str):
        errors.append(f"config {label}: db_file must be a path string")
        db_value = DEFAULT_DB_FILE
    if str(db_value).endswith(".json"):
        db_value = str(Path(db_value).with_suffix(".db"))
    port = top("status_port", DEFAULT_STATUS_PORT, _is_int, "an integer port")
    if port and not 1024 <= port <= 65531:
        errors.append(f"config {label}: status_port must be between 1024 and 65531, got {port}")
    market = top("market_data", "exchange", lambda v: isinstance(v, str), "a string")
    if market not in ("exchange", "simulated") and not market.startswith("replay:"):
        errors.append(
            f"config {label}: market_data must be exchange, simulated or replay:<dir>, got '{market}'"
        )
    max_conc = top("max_concurrent_checks", os.cpu_count() or 2, _is_int, "a positive integer")
    if max_conc < 1:
        errors.append(f"config {label}: max_concurrent_checks must be at least 1")
        max_conc = 1
    timeout = top("script_timeout_seconds", DEFAULT_SCRIPT_TIMEOUT, _is_number, "a number")
    if timeout <= 0:
        errors.append(f"config {label}: script_timeout_seconds must be > 0")
        timeout = DEFAULT_SCRIPT_TIMEOUT
    batch = top("batch_checks", True, lambda v: isinstance(v, bool), "true or false")

    raw_strats = raw.get("strategies")
    if not isinstance(raw_strats, list) or not raw_strats:
        errors.append(f"config {label}: strategies must be a non-empty list")
        raw_strats = []

    strategies: list[StrategyConfig] = []
    seen: set[str] = set()
    for i, entry in enumerate(raw_strats):
        sc = _parse_strategy(entry, i, label, interval, errors, warnings)
        if sc is None:
            continue
        if sc.id in seen:
            errors.append(f"config {label}: duplicate strategy id '{sc.id}'")
            continue
        seen.add(sc.id)
        strategies.append(sc)

    if errors:
        raise ConfigError(errors)
    db_path = Path(db_value)
    if not db_path.is_absolute():
        db_path = REPO_ROOT / db_path  # like scripts: independent of the working directory
    return Config(
        path=path,
        config_version=version,
        interval_seconds=interval,
        db_file=db_path,
        status_port=port,
        market_data=market,
        max_concurrent_checks=max_conc,
        script_timeout_seconds=float(timeout),
        batch_checks=batch,
        strategies=strategies,
        warnings=warnings,
        raw=raw,
    )


def _parse_strategy(
    entry: object,
    index: int,
    label: str,
    global_interval: int,
    errors: list[str],
    warnings: list[str],
) -> StrategyConfig | None:
    if not isinstance(entry, dict):
        errors.append(f"config {label}: strategies[{index}] must be an object")
        return None
    sid = entry.get("id")
    if not isinstance(sid, str) or not sid.strip():
        errors.append(f"config {label}: strategies[{index}]: id must be a non-empty string")
        return None
    where = f"config {label}: strategy[{sid}]"
    n_errors = len(errors)

    for key in entry:
        if key in STRATEGY_KEYS:
            continue
        if key in STRATEGY_KEYS_NOT_YET:
            warnings.append(f"{where}: key '{key}' is not supported by this build yet; ignored")
            continue
        errors.append(_unknown_key_line(where, key, STRATEGY_KEYS | STRATEGY_KEYS_NOT_YET))

    stype = entry.get("type")
    if stype not in KNOWN_TYPES:
        errors.append(
            f"{where}: type must be one of {', '.join(KNOWN_TYPES)}, got {json.dumps(stype)}"
        )
    elif stype not in SUPPORTED_TYPES:
        errors.append(
            f"{where}: type '{stype}' is not supported by this build yet (supported: "
            f"{', '.join(SUPPORTED_TYPES)})"
        )
    platform = entry.get("platform") or infer_platform(sid, str(stype))
    if not isinstance(platform, str):
        errors.append(f"{where}: platform must be a string")

    script = entry.get("script")
    if not isinstance(script, str) or not script.endswith(".py"):
        errors.append(f"{where}: script must be the path of a .py check script")
    elif not resolve_script(script).is_file():
        errors.append(f"{where}: script '{script}' not found (looked in {resolve_script(script)})")

    args = entry.get("args", [])
    if not isinstance(args, list) or not all(isinstance(a, str) for a in args):
        errors.append(f"{where}: args must be a list of strings")
        args = []
    positionals = [a for a in args if not a.startswith("--")]
    if "--mode=live" in args or ("--mode" in args and "live" in args):
        errors.append(
            f"{where}: live trading (--mode=live) is not supported by this build yet; "
            "remove it to paper trade"
        )
    if stype == "spot" and len(positionals) < 3:
        errors.append(f"{where}: args must start with <strategy> <symbol> <timeframe>")

    capital = entry.get("capital")
    if not _is_number(capital):
        errors.append(f"{where}: capital must be a number, got {json.dumps(capital)}")
        capital = 0.0
    elif capital <= 0:
        errors.append(f"{where}: capital must be > 0, got {capital}")
    initial = entry.get("initial_capital", capital)
    if "initial_capital" in entry and (not _is_number(initial) or initial < 0):
        errors.append(f"{where}: initial_capital must be a number >= 0")
        initial = capital

    default_dd = DEFAULT_MAX_DRAWDOWN.get(str(stype), DEFAULT_MAX_DRAWDOWN_OTHER)
    max_dd = entry.get("max_drawdown_pct", default_dd)
    if not _is_number(max_dd) or not 0 < max_dd <= 100:
        errors.append(
            f"{where}: max_drawdown_pct must be a number in (0, 100], got {json.dumps(max_dd)}"
        )
        max_dd = default_dd

    interval = entry.get("interval_seconds", 0)
    if not _is_int(interval) or interval < 0:
        errors.append(f"{where}: interval_seconds must be an integer >= 0")
        interval = 0
    elif interval and interval > global_interval:
        warnings.append(
            f"{where}: interval_seconds {interval} is longer than the global {global_interval}"
        )

    open_ref = _ref(entry.get("open_strategy"), where, "open_strategy", errors)
    if open_ref is None:
        open_ref = StrategyRef(positionals[0] if positionals else "", {})
    elif positionals and open_ref.name != positionals[0]:
        errors.append(
            f"{where}: open_strategy.name '{open_ref.name}' differs from args[0] '{positionals[0]}'"
        )
    closes: list[StrategyRef] = []
    if "close_strategy" in entry:
        ref = _ref(entry["close_strategy"], where, "close_strategy", errors)
        closes = [ref] if ref else []
    if "close_strategies" in entry:
        raw_closes = entry["close_strategies"]
        if not isinstance(raw_closes, list):
            errors.append(f"{where}: close_strategies must be a list")
        else:
            for j, item in enumerate(raw_closes):
                ref = _ref(item, where, f"close_strategies[{j}]", errors)
                if ref:
                    closes.append(ref)
    if closes:
        warnings.append(f"{where}: close strategies are not evaluated by this build yet")

    def opt(key: str, default, check, expect: str):
        value = entry.get(key, default)
        if not check(value):
            errors.append(f"{where}: {key} must be {expect}, got {json.dumps(value)}")
            return default
        return value

    cb = opt("circuit_breaker", True, lambda v: isinstance(v, bool), "true or false")
    cb_dd = opt(
        "cb_drawdown_cooldown_minutes",
        1440,
        lambda v: _is_number(v) and 0 < v <= 43200,
        "minutes in (0, 43200]",
    )
    cb_n = opt(
        "cb_loss_streak_threshold",
        5,
        lambda v: _is_int(v) and 0 < v <= 100,
        "an integer in [1, 100]",
    )
    cb_ls = opt(
        "cb_loss_streak_cooldown_minutes",
        60,
        lambda v: _is_number(v) and 0 < v <= 43200,
        "minutes in (0, 43200]",
    )
    atr_method = opt(
        "atr_method", "simple", lambda v: v in ("simple", "wilder"), "simple or wilder"
    )
    paused = opt("paused", False, lambda v: isinstance(v, bool), "true or false")

    if len(errors) > n_errors:
        return None
    return StrategyConfig(
        id=sid,
        type=str(stype),
        platform=str(platform),
        script=str(script),
        args=list(args),
        capital=float(capital),
        initial_capital=float(initial),
        max_drawdown_pct=float(max_dd),
        interval_seconds=int(interval),
        open_strategy=open_ref,
        close_strategies=closes,
        circuit_breaker=cb,
        cb_drawdown_cooldown_minutes=float(cb_dd),
        cb_loss_streak_threshold=int(cb_n),
        cb_loss_streak_cooldown_minutes=float(cb_ls),
        atr_method=atr_method,
        paused=paused,
    )
