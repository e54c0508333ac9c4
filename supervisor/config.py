"""Load and validate the JSON config (the upstream go-trader shape).

Every problem becomes one line that names the file, the strategy and the key, and all problems
are reported at once, so an operator fixes the file in one pass. The CLI turns a
:class:`ConfigError` into exit 78 without a traceback, and SIGHUP reload relies on
:func:`load_config` raising nothing else for any file, however broken: numbers are finite and
bounded, strings carry no control characters, and values echoed in messages are escaped and cut.

A strategy's ``args`` are parsed by the worker's own argv spec (``shared_tools/check_argv.py``),
so the supervisor marks, charges and checks the same symbol and venue the worker trades.
"""

from __future__ import annotations

import difflib
import functools
import json
import math
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from shared_tools.check_argv import (
    FLAGS_BY_NAME,
    CheckArgs,
    CheckArgvError,
    flag_hint,
    parse_check_args,
    without_flag,
)
from shared_tools.paths import REPO_ROOT, SCRIPTS_DIR
from shared_tools.text import LINE_LIMIT, clean, exc_line, one_line, show

__all__ = [
    "REPO_ROOT",
    "Config",
    "ConfigError",
    "StrategyConfig",
    "StrategyRef",
    "load_config",
    "parse_config",
]

SUPPORTED_TYPES = ("spot",)
KNOWN_TYPES = ("spot", "options", "perps", "futures", "manual")
DEFAULT_INTERVAL = 600
DEFAULT_STATUS_PORT = 8099
DEFAULT_SCRIPT_TIMEOUT = 30.0
DEFAULT_DB_FILE = "state/state.db"
MIN_TICK_SECONDS = 1

# Bounds: every number is finite and sane, so nothing downstream overflows or sleeps for ages.
MAX_INTERVAL = 7 * 86400
STATUS_PORT_RANGE = (1024, 65531)  # the status server may move up to port + 4
MAX_CONCURRENT_CHECKS = 64
MAX_SCRIPT_TIMEOUT = 3600.0
MAX_CAPITAL = 1e12
MAX_CONFIG_VERSION = 1_000_000
MAX_COOLDOWN_MINUTES = 43200  # 30 days
MAX_LOSS_STREAK = 100
MAX_STRATEGIES = 10_000
MAX_ARGS = 64
MAX_ARG_CHARS = 4096
MAX_PATH_CHARS = 1024
MAX_REFS_CHARS = 16384  # --strategy-refs JSON, well under the kernel's 128 KiB per argv item
MAX_DEPTH = 32
MAX_INT_DIGITS = 30
MAX_FILE_BYTES = 16 * 1024 * 1024
MAX_LINES = 50
ID_PATTERN = re.compile(r"[A-Za-z0-9._-]{1,64}")
PLATFORM_PATTERN = re.compile(r"[A-Za-z0-9._-]{1,32}")
# C0/C1 controls, DEL, line/paragraph separators and lone surrogates: none survives a journal,
# Popen (NUL) or sqlite (surrogates).
_BAD_CHARS = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\ud800-\udfff]")

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
# Until then each one present gets a warning, so nobody believes e.g. discord alerts are on.
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
    "allow_external_script",
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
        lines = [one_line(line, LINE_LIMIT) for line in lines]
        super().__init__("\n".join(lines))
        self.lines = lines


@dataclass
class StrategyRef:
    name: str
    params: dict = field(default_factory=dict)

    def as_json(self) -> dict:
        return {"name": self.name, "params": self.params}


@functools.lru_cache(maxsize=4096)
def _parsed(args: tuple[str, ...]) -> CheckArgs:
    try:
        return parse_check_args(args)
    except CheckArgvError:
        return CheckArgs()


@dataclass
class StrategyConfig:
    id: str
    type: str
    platform: str
    script: str
    args: list[str]  # as configured, with --params folded into open_strategy.params
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
    allow_external_script: bool = False

    @property
    def check_args(self) -> CheckArgs:
        """``args`` parsed by the worker's own argv rules (shared_tools/check_argv.py)."""
        return _parsed(tuple(self.args))

    @property
    def symbol(self) -> str:
        """The traded symbol: the worker's ``symbol`` positional."""
        return self.check_args.symbol or ""

    @property
    def timeframe(self) -> str:
        return self.check_args.timeframe or ""

    def symbols(self) -> list[str]:
        """Every symbol the check reads (symbol, and symbol_b for pairs); marks cover these."""
        return self.check_args.symbols()

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
        if self.platform != "binanceus" and self.check_args.platform is None:
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
    """A script path as given, anchored at the repository root when relative."""
    p = Path(script)
    return p if p.is_absolute() else REPO_ROOT / p


def infer_platform(sid: str, stype: str) -> str:
    """The platform an id prefix implies (``okx-...`` -> okx), else the type's default venue."""
    return _prefix_platform(sid) or ("deribit" if stype == "options" else "binanceus")


def _prefix_platform(sid: str) -> str | None:
    for prefix, platform in PLATFORM_PREFIXES.items():
        if sid.startswith(prefix):
            return platform
    return None


# -- value checks -------------------------------------------------------------------------------


def _is_number(v: object) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def _is_int(v: object) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _n(x: float) -> str:
    if x == int(x) and abs(x) < 1e7:
        return str(int(x))
    return f"{x:.0e}".replace("e+", "e")


def _range_text(lo: float, hi: float, *, integer: bool, lo_open: bool) -> str:
    kind = "an integer" if integer else "a number"
    return f"{kind} in {'(' if lo_open else '['}{_n(lo)}, {_n(hi)}]"


def _in_range(value: object, lo: float, hi: float, *, integer: bool, lo_open: bool) -> bool:
    if not (_is_int(value) if integer else _is_number(value)):
        return False
    return (lo < value if lo_open else lo <= value) and value <= hi  # type: ignore[operator]


def _text_problem(value: object, max_chars: int) -> str | None:
    """Why a string cannot be passed to a process, a path or the journal (None if it can)."""
    if not isinstance(value, str):
        return f"must be a string, got {show(value)}"
    if len(value) > max_chars:
        return f"must be at most {max_chars} characters, got {len(value)}"
    if _BAD_CHARS.search(value):
        return f"must not contain control or invalid characters, got {show(value)}"
    return None


def _label(path: Path) -> str:
    text = str(path)
    return text if clean(text) == text and len(text) <= 160 else show(text, 120)


class _BadNumber:
    """Stands in for a JSON number we refuse (1e400, NaN, 10**100) until its key is known."""

    __slots__ = ("text", "why")

    def __init__(self, text: str, why: str) -> None:
        self.text = text if len(text) <= 24 else text[:21] + "..."
        self.why = why

    def __repr__(self) -> str:
        return self.text


def _json_number_hooks() -> dict:
    def parse_float(text: str) -> float | _BadNumber:
        value = float(text)
        return (
            value
            if math.isfinite(value)
            else _BadNumber(text, "is out of range; use a finite number")
        )

    def parse_int(text: str) -> int | _BadNumber:
        if len(text.lstrip("-")) > MAX_INT_DIGITS:
            return _BadNumber(text, f"has more than {MAX_INT_DIGITS} digits; use a smaller number")
        return int(text)

    def parse_constant(name: str) -> _BadNumber:
        return _BadNumber(name, "is not a valid number here; use a finite number")

    return {"parse_float": parse_float, "parse_int": parse_int, "parse_constant": parse_constant}


def _loads(text: str) -> Any:
    """json.loads that keeps refused numbers as markers for :func:`_scan` to report by key."""
    return json.loads(text, **_json_number_hooks())


def _path_text(parts: tuple) -> str:
    out = ""
    for part in parts:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            name = part if ID_PATTERN.fullmatch(part) else show(part, 40)
            out += f".{name}" if out else name
    return out or "(top level)"


def _scan(doc: Any) -> list[str]:
    """Problems anywhere in a document: nesting over MAX_DEPTH, numbers that are not finite.

    Walks without recursion, so neither a deep file nor a huge one can crash the checker.
    """
    problems: list[str] = []
    stack: list[tuple[Any, tuple]] = [(doc, ())]
    while stack and len(problems) < 10:
        item, parts = stack.pop()
        if len(parts) >= MAX_DEPTH:
            return [f"nested deeper than {MAX_DEPTH} levels (at {_path_text(parts[:6])}...)"]
        if isinstance(item, dict):
            stack.extend((v, (*parts, k)) for k, v in reversed(item.items()))
        elif isinstance(item, list):
            stack.extend((v, (*parts, i)) for i, v in reversed(list(enumerate(item))))
        elif isinstance(item, _BadNumber):
            problems.append(f"{_path_text(parts)}: {item.text} {item.why}")
        elif isinstance(item, float) and not math.isfinite(item):
            problems.append(f"{_path_text(parts)}: {item} is not finite; use a finite number")
    return problems


def _unknown_key_line(where: str, key: str, known: set[str]) -> str:
    hint = KEY_HINTS.get(key)
    if hint is None:
        close = difflib.get_close_matches(key, sorted(known), n=1, cutoff=0.6)
        hint = f"did you mean '{close[0]}'?" if close else "remove it"
    return f"{where}: unknown key {_key(key)} ({hint})"


def _key(key: str) -> str:
    """A key as echoed in a message: plain quotes when harmless, escaped otherwise."""
    return f"'{key}'" if ID_PATTERN.fullmatch(key) else show(key, 60)


def _ref(value: object, where: str, key: str, errors: list[str]) -> StrategyRef | None:
    if value is None:
        return None
    if isinstance(value, str):
        value = {"name": value}
    if not isinstance(value, dict):
        errors.append(f'{where}: {key} must be a name or {{"name", "params"}}, got {show(value)}')
        return None
    name = value.get("name")
    params = value.get("params", {})
    extra = set(value) - {"name", "params"}
    if extra:
        shown = ", ".join(_key(k) for k in sorted(extra)[:5])
        errors.append(f"{where}: {key} has unknown key(s) {shown} (use name, params)")
    if not isinstance(name, str) or not ID_PATTERN.fullmatch(name):
        errors.append(f"{where}: {key}.name must match [A-Za-z0-9._-]+, got {show(name)}")
        return None
    if not isinstance(params, dict):
        errors.append(f"{where}: {key}.params must be an object, got {show(params)}")
        return None
    return StrategyRef(name, dict(params))


# -- loading ------------------------------------------------------------------------------------


def load_config(path: str | Path) -> Config:
    """Read, validate and default a config file; raises ConfigError (only) listing every problem."""
    path = Path(path)
    label = _label(path)
    try:
        with open(path, "rb") as fh:
            data = fh.read(MAX_FILE_BYTES + 1)
    except FileNotFoundError:
        raise ConfigError([f"config {label}: file not found (pass --config <file>)"]) from None
    except OSError as exc:
        raise ConfigError([f"config {label}: cannot read ({exc.strerror or exc})"]) from None
    except ValueError as exc:  # e.g. an embedded NUL in the path
        raise ConfigError([f"config {label}: cannot read ({exc})"]) from None
    if len(data) > MAX_FILE_BYTES:
        raise ConfigError([f"config {label}: larger than {MAX_FILE_BYTES // 2**20} MiB"])
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ConfigError(
            [f"config {label}: not UTF-8 text (bad byte at offset {exc.start}); save it as UTF-8"]
        ) from None
    try:
        raw = _loads(text)
    except json.JSONDecodeError as exc:
        raise ConfigError(
            [f"config {label}: invalid JSON at line {exc.lineno} column {exc.colno}: {exc.msg}"]
        ) from None
    except ValueError as exc:  # e.g. an integer over Python's digit limit
        raise ConfigError([f"config {label}: {exc_line(exc, 160)}"]) from None
    except RecursionError:
        raise ConfigError(
            [f"config {label}: nested too deeply (limit {MAX_DEPTH} levels)"]
        ) from None
    if not isinstance(raw, dict):
        raise ConfigError([f"config {label}: the top level must be a JSON object"])
    try:
        return parse_config(raw, path)
    except ConfigError:
        raise
    except Exception as exc:  # a checker bug must still be one line and exit 78, never a crash
        raise ConfigError(
            [f"config {label}: internal error while checking the config ({exc_line(exc, 160)})"]
        ) from None


def parse_config(raw: dict, path: Path) -> Config:
    """Validate an already-decoded config document; raises ConfigError listing every problem."""
    label = _label(path)
    errors: list[str] = []
    warnings: list[str] = []
    problems = _scan(raw)
    if problems:
        raise ConfigError([f"config {label}: {p}" for p in problems])

    for key in raw:
        if key in TOP_LEVEL_PASSTHROUGH:
            warnings.append(f"config {label}: section {_key(key)} is not built yet; ignored")
        elif key not in TOP_LEVEL_KEYS:
            warnings.append(_unknown_key_line(f"config {label}", key, TOP_LEVEL_KEYS) + "; ignored")

    def bounded(key: str, default, lo, hi, *, integer: bool, lo_open: bool = False):
        value = raw.get(key)
        if value is None:
            return default
        if not _in_range(value, lo, hi, integer=integer, lo_open=lo_open):
            expect = _range_text(lo, hi, integer=integer, lo_open=lo_open)
            errors.append(f"config {label}: {key} must be {expect}, got {show(value)}")
            return default
        return value

    version = bounded("config_version", 0, 0, MAX_CONFIG_VERSION, integer=True)
    interval = DEFAULT_INTERVAL
    if not (_is_int(raw.get("interval_seconds")) and raw["interval_seconds"] == 0):  # 0: default
        interval = bounded("interval_seconds", DEFAULT_INTERVAL, 1, MAX_INTERVAL, integer=True)
    db_value = raw.get("db_file") or raw.get("state_file") or DEFAULT_DB_FILE
    problem = _text_problem(db_value, MAX_PATH_CHARS)
    if problem:
        errors.append(f"config {label}: db_file {problem}")
        db_value = DEFAULT_DB_FILE
    if db_value.endswith(".json"):
        db_value = db_value[: -len(".json")] + ".db"
    port = bounded("status_port", DEFAULT_STATUS_PORT, *STATUS_PORT_RANGE, integer=True)
    market = raw.get("market_data")
    if market is None:
        market = "exchange"
    problem = _text_problem(market, MAX_PATH_CHARS)
    if problem:
        errors.append(f"config {label}: market_data {problem}")
        market = "exchange"
    elif market not in ("exchange", "simulated") and not market.startswith("replay:"):
        errors.append(
            f"config {label}: market_data must be exchange, simulated or replay:<dir>, "
            f"got {show(market)}"
        )
    max_conc = bounded(
        "max_concurrent_checks",
        min(os.cpu_count() or 2, MAX_CONCURRENT_CHECKS),
        1,
        MAX_CONCURRENT_CHECKS,
        integer=True,
    )
    timeout = bounded(
        "script_timeout_seconds",
        DEFAULT_SCRIPT_TIMEOUT,
        0,
        MAX_SCRIPT_TIMEOUT,
        integer=False,
        lo_open=True,
    )
    batch = raw.get("batch_checks", True)
    if batch is None:
        batch = True
    if not isinstance(batch, bool):
        errors.append(f"config {label}: batch_checks must be true or false, got {show(batch)}")
        batch = True

    raw_strats = raw.get("strategies")
    if not isinstance(raw_strats, list) or not raw_strats:
        errors.append(f"config {label}: strategies must be a non-empty list")
        raw_strats = []
    elif len(raw_strats) > MAX_STRATEGIES:
        errors.append(f"config {label}: at most {MAX_STRATEGIES} strategies, got {len(raw_strats)}")
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
        raise ConfigError(_capped(errors, label))
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
        warnings=[one_line(w, LINE_LIMIT) for w in _capped(warnings, label)],
        raw=raw,
    )


def _capped(lines: list[str], label: str) -> list[str]:
    """At most MAX_LINES lines, so a file of a million bad keys cannot flood the journal."""
    if len(lines) <= MAX_LINES:
        return lines
    more = len(lines) - (MAX_LINES - 1)
    return [*lines[: MAX_LINES - 1], f"config {label}: ... and {more} more like these"]


def _check_script(script: object, allow_external: bool, where: str, errors: list[str]) -> None:
    """The script must be an existing .py file inside shared_scripts/ (symlinks followed)."""
    problem = _text_problem(script, MAX_PATH_CHARS)
    if problem or not isinstance(script, str):
        errors.append(f"{where}: script {problem}")
        return
    if not script.endswith(".py"):
        errors.append(f"{where}: script must be the path of a .py check script, got {show(script)}")
        return
    try:
        target = resolve_script(script).resolve()
        if not allow_external and not target.is_relative_to(SCRIPTS_DIR.resolve()):
            errors.append(
                f"{where}: script {show(script)} is outside shared_scripts/ (resolves to "
                f'{show(str(target))}); set "allow_external_script": true to run it anyway'
            )
        elif not target.is_file():
            errors.append(
                f"{where}: script {show(script)} not found (looked in {show(str(target))})"
            )
    except (OSError, RuntimeError, ValueError) as exc:
        errors.append(f"{where}: script {show(script)} cannot be checked ({exc_line(exc, 80)})")


def _parse_args(
    args: list[str], stype: str, where: str, errors: list[str]
) -> tuple[CheckArgs, dict | None]:
    """Parse args by the worker's rules; returns them and the --params object (if any)."""
    if "--" in args:
        errors.append(f"{where}: args must not contain a bare '--'")
        return CheckArgs(), None
    try:
        parsed = parse_check_args(args)
    except CheckArgvError as exc:
        errors.append(f"{where}: args rejected by the worker: {one_line(exc, 160)}")
        return CheckArgs(), None
    for name in parsed.given:
        flag = FLAGS_BY_NAME[name]
        if flag.owner != "config":
            errors.append(f"{where}: args must not set {name} ({flag_hint(flag)})")
    if parsed.mode == "live":
        errors.append(
            f"{where}: live trading (--mode=live) is not supported by this build yet; "
            "remove it to paper trade"
        )
    if stype == "spot" and not (parsed.strategy and parsed.symbol and parsed.timeframe):
        errors.append(f"{where}: args must start with <strategy> <symbol> <timeframe>")
    extra: dict | None = None
    if parsed.params is not None:
        try:
            extra = _loads(parsed.params)
        except (ValueError, RecursionError) as exc:
            errors.append(f"{where}: --params in args is not valid JSON ({one_line(exc, 100)})")
            return parsed, None
        if not isinstance(extra, dict):
            errors.append(f"{where}: --params in args must be a JSON object, got {show(extra)}")
            return parsed, None
        problems = _scan(extra)
        if problems:
            errors.append(f"{where}: --params in args: {problems[0]}")
            return parsed, None
    return parsed, extra


def _parse_strategy(
    entry: object,
    index: int,
    label: str,
    global_interval: int,
    errors: list[str],
    warnings: list[str],
) -> StrategyConfig | None:
    if not isinstance(entry, dict):
        errors.append(f"config {label}: strategies[{index}] must be an object, got {show(entry)}")
        return None
    sid = entry.get("id")
    if not isinstance(sid, str) or not ID_PATTERN.fullmatch(sid):
        errors.append(
            f"config {label}: strategies[{index}]: id must match [A-Za-z0-9._-]+ "
            f"(at most 64 characters), got {show(sid)}"
        )
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
        errors.append(f"{where}: type must be one of {', '.join(KNOWN_TYPES)}, got {show(stype)}")
    elif stype not in SUPPORTED_TYPES:
        errors.append(
            f"{where}: type '{stype}' is not supported by this build yet (supported: "
            f"{', '.join(SUPPORTED_TYPES)})"
        )
    stype = str(stype) if stype in KNOWN_TYPES else ""

    declared = entry.get("platform")
    declared_by = "platform key"
    if declared is None or declared == "":
        declared, declared_by = _prefix_platform(sid), "id prefix"
    elif not isinstance(declared, str) or not PLATFORM_PATTERN.fullmatch(declared):
        errors.append(
            f"{where}: platform must match [A-Za-z0-9._-]+ (at most 32 characters), "
            f"got {show(declared)}"
        )
        declared = None

    allow_external = entry.get("allow_external_script", False)
    if not isinstance(allow_external, bool):
        errors.append(
            f"{where}: allow_external_script must be true or false, got {show(allow_external)}"
        )
        allow_external = False
    script = entry.get("script")
    _check_script(script, allow_external, where, errors)

    args = entry.get("args", [])
    parsed, extra_params = CheckArgs(), None
    if not isinstance(args, list):
        errors.append(f"{where}: args must be a list of strings, got {show(args)}")
        args = []
    elif len(args) > MAX_ARGS:
        errors.append(f"{where}: args must have at most {MAX_ARGS} items, got {len(args)}")
        args = []
    else:
        bad = [(j, p) for j, a in enumerate(args) if (p := _text_problem(a, MAX_ARG_CHARS))]
        for j, problem in bad[:3]:
            errors.append(f"{where}: args[{j}] {problem}")
        if bad:
            args = []
        elif stype in SUPPORTED_TYPES:
            parsed, extra_params = _parse_args(args, stype, where, errors)

    platform = declared
    if parsed.platform is not None:
        if not PLATFORM_PATTERN.fullmatch(parsed.platform):
            errors.append(
                f"{where}: --platform in args is not a platform name: {show(parsed.platform)}"
            )
        elif declared is not None and parsed.platform != declared:
            errors.append(
                f"{where}: args say --platform={parsed.platform} but the {declared_by} says "
                f"{declared}; make them agree"
            )
        else:
            platform = parsed.platform
    if platform is None:
        platform = infer_platform(sid, stype)

    capital = entry.get("capital")
    if not _in_range(capital, 0, MAX_CAPITAL, integer=False, lo_open=True):
        if _is_number(capital):
            errors.append(f"{where}: capital must be > 0 and at most 1e12, got {show(capital)}")
        else:
            errors.append(f"{where}: capital must be a number in (0, 1e12], got {show(capital)}")
        capital = 0.0
    initial = entry.get("initial_capital", capital)
    if "initial_capital" in entry and not _in_range(
        initial, 0, MAX_CAPITAL, integer=False, lo_open=False
    ):
        errors.append(
            f"{where}: initial_capital must be a number in [0, 1e12], got {show(initial)}"
        )
        initial = capital

    def opt(key: str, default, lo, hi, *, integer: bool, lo_open: bool = False):
        value = entry.get(key, default)
        if not _in_range(value, lo, hi, integer=integer, lo_open=lo_open):
            expect = _range_text(lo, hi, integer=integer, lo_open=lo_open)
            errors.append(f"{where}: {key} must be {expect}, got {show(value)}")
            return default
        return value

    default_dd = DEFAULT_MAX_DRAWDOWN.get(stype, DEFAULT_MAX_DRAWDOWN_OTHER)
    max_dd = opt("max_drawdown_pct", default_dd, 0, 100, integer=False, lo_open=True)

    interval = entry.get("interval_seconds", 0)
    if interval != 0 or not _is_int(interval):
        interval = opt("interval_seconds", 0, 1, MAX_INTERVAL, integer=True)
        if interval > global_interval:
            warnings.append(
                f"{where}: interval_seconds {interval} is longer than the global {global_interval}"
            )

    open_ref = _ref(entry.get("open_strategy"), where, "open_strategy", errors)
    if open_ref is None:
        open_ref = StrategyRef(parsed.strategy or "", {})
    elif parsed.strategy and open_ref.name != parsed.strategy:
        errors.append(
            f"{where}: open_strategy.name '{open_ref.name}' differs from the strategy in args "
            f"{show(parsed.strategy)}"
        )
    if extra_params is not None:
        # The worker applies --params over open_strategy.params; fold them into one place so
        # a reload sees a params change as such, and refuse a key set twice differently.
        clash = sorted(k for k, v in extra_params.items() if open_ref.params.get(k, v) != v)
        if clash:
            shown = ", ".join(_key(k) for k in clash[:3])
            errors.append(
                f"{where}: --params in args and open_strategy.params set {shown} differently; "
                "keep one"
            )
        open_ref = StrategyRef(open_ref.name, {**open_ref.params, **extra_params})
        args = without_flag(args, "--params")

    closes: list[StrategyRef] = []
    if "close_strategy" in entry:
        ref = _ref(entry["close_strategy"], where, "close_strategy", errors)
        closes = [ref] if ref else []
    if "close_strategies" in entry:
        raw_closes = entry["close_strategies"]
        if not isinstance(raw_closes, list):
            errors.append(f"{where}: close_strategies must be a list, got {show(raw_closes)}")
        else:
            for j, item in enumerate(raw_closes[:MAX_ARGS]):
                ref = _ref(item, where, f"close_strategies[{j}]", errors)
                if ref:
                    closes.append(ref)
            if len(raw_closes) > MAX_ARGS:
                errors.append(f"{where}: close_strategies must have at most {MAX_ARGS} items")
    if closes:
        warnings.append(f"{where}: close strategies are not evaluated by this build yet")
    refs = {"open": open_ref.as_json(), "closes": [c.as_json() for c in closes]}
    if len(json.dumps(refs)) > MAX_REFS_CHARS:
        errors.append(
            f"{where}: strategy params are too large (over {MAX_REFS_CHARS} characters as JSON)"
        )

    def flag(key: str, default: bool) -> bool:
        value = entry.get(key, default)
        if not isinstance(value, bool):
            errors.append(f"{where}: {key} must be true or false, got {show(value)}")
            return default
        return value

    cb = flag("circuit_breaker", True)
    cb_dd = opt(
        "cb_drawdown_cooldown_minutes", 1440, 0, MAX_COOLDOWN_MINUTES, integer=False, lo_open=True
    )
    cb_n = opt("cb_loss_streak_threshold", 5, 1, MAX_LOSS_STREAK, integer=True)
    cb_ls = opt(
        "cb_loss_streak_cooldown_minutes", 60, 0, MAX_COOLDOWN_MINUTES, integer=False, lo_open=True
    )
    atr_method = entry.get("atr_method", "simple")
    if atr_method not in ("simple", "wilder"):
        errors.append(f"{where}: atr_method must be simple or wilder, got {show(atr_method)}")
        atr_method = "simple"
    paused = flag("paused", False)

    if len(errors) > n_errors:
        return None
    return StrategyConfig(
        id=sid,
        type=stype,
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
        allow_external_script=allow_external,
    )
