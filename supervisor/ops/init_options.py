"""``go-trader init``: the options (the seed's camelCase ``--json`` keys), their defaults and checks.

The interactive wizard (:mod:`supervisor.ops.init_wizard`) fills the same options, so both paths
share :func:`resolve` (defaults and checks) and then generate the same document
(:mod:`supervisor.ops.init_config`). Keys
match case-insensitively (``enableSpot`` = ``EnableSpot``), as upstream's Go decoder does, and a
zero, false or empty value means "not set" (the default applies). Strategy names come from the
open-strategy registry, listed by a child ``python -m shared_strategies.open.registry
--list-json --all`` (the supervisor never imports the pandas-based registry itself).
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from dataclasses import dataclass, field
from typing import Any

from shared_tools.config import schema
from shared_tools.config.trading import STOP_KEYS
from shared_tools.paths import REPO_ROOT
from shared_tools.text import show
from supervisor.ops.init_options_type import resolve_options

__all__ = [
    "GROUPS",
    "Catalogue",
    "InitError",
    "load_catalogue",
    "parse_options",
    "resolve",
]

# Strategy groups: the venue groups this build runs (options: supervisor/ops/init_options_type.py).
GROUPS = ("spot", "options", "perps", "futures", "luno", "robinhood", "okx")
CAPITAL = {"spot": 1000, "options": 5000, "perps": 1000, "futures": 5000, "luno": 500}
CAPITAL |= {"robinhood": 500, "okx": 1000}
DRAWDOWN = {"spot": 5, "options": 10, "perps": 5, "futures": 5, "luno": 5, "robinhood": 5, "okx": 5}
# The keys init asks about take their defaults and bounds from the schema table.
PORTFOLIO_DRAWDOWN = float(schema.default("portfolio_risk", "max_drawdown_pct"))
WARN_THRESHOLD = float(schema.default("portfolio_risk", "warn_threshold_pct"))
LEVERAGE_RANGE = schema.bounds(schema.STRATEGY, "leverage")
STARTER_SPOT = ["chart_pattern"]
DEFAULT_ASSETS = ["BTC"]
FUTURES_SYMBOLS = ("ES", "NQ", "MES", "MNQ", "CL", "GC")
DEFAULT_FUTURES_SYMBOLS = ["ES", "MES"]
FUTURES_FEE = 1.50  # init proposes a typical CME fee; the config key's own default is 0
MAX_FUTURES_FEE = schema.bounds("strategies[].futures", "fee_per_contract")[1]
AUTO_UPDATE = ("off", "daily", "heartbeat")
ASSET = re.compile(r"[A-Z0-9]{1,12}")
LIVE_NOT_SUPPORTED = (
    "live trading is not supported by this build yet (the loader refuses --mode=live); use paper"
)

# Every --json key: canonical spelling -> kind (upstream's InitOptions names).
_TEXT = ("outputPath", "dbFile", "autoUpdate", "atrMethod", "manualSymbol", "manualTimeframe")
_BOOL = ("htfFilter", "disableCircuitBreaker", "includePairs", "enableManual")
_BOOL += ("discordEnabled", "telegramEnabled")
_NUMBER = ("cbDrawdownCooldownMinutes", "cbLossStreakThreshold", "cbLossStreakCooldownMinutes")
_NUMBER += ("portfolioMaxDrawdownPct", "portfolioWarnThresholdPct", "capitalPct")
_NUMBER += ("perpsLeverage", "perpsSizingLeverage", "perpsRiskPerTradePct", "hlStopLossPct")
_NUMBER += ("hlStopLossMarginPct", "hlTrailingStopPct", "futuresFeePerContract")
_NUMBER += ("manualCapital", "manualDrawdown", "manualLeverage")
_NAMES = ("assets", "spotStrategies", "optStrategies", "optionPlatforms", "perpsStrategies")
_NAMES += ("robinhoodOptionsSymbols", "futuresStrategies", "futuresSymbols", "lunoStrategies")
_NAMES += ("robinhoodStrategies", "okxSpotStrategies", "okxPerpsStrategies")
KEYS: dict[str, str] = {
    **dict.fromkeys(_TEXT, "text"),
    **dict.fromkeys(_BOOL, "bool"),
    **dict.fromkeys(_NUMBER, "number"),
    **dict.fromkeys(_NAMES, "names"),
    **{f"enable{g.capitalize()}": "bool" for g in GROUPS if g != "okx"},
    "enableOKX": "bool",
    **{f"{g}{x}": "number" for g in GROUPS for x in ("Capital", "Drawdown")},
    **{f"{g}Mode": "text" for g in ("perps", "futures", "robinhood", "okx")},
    **dict.fromkeys(("discordOwnerID", "spotChannelID", "optionsChannelID"), "id"),
    "telegramOwnerChatID": "id",
    "channelMap": "map",
    "telegramChannelMap": "map",
}
_BY_LOWER = {k.lower(): k for k in KEYS}
# Keys of features this build does not have: refused when set, with the reason.
NOT_BUILT = {
    "enableManual": "type manual (manual Hyperliquid trading) is not supported by this build yet",
    "capitalPct": "capital_pct (shared-wallet sizing) is not supported by this build yet",
    "perpsRiskPerTradePct": "risk_per_trade_pct is not supported by this build yet; "
    "use perpsSizingLeverage",
}
# init's stop options -> the stop key each sets, and that key's upper bound.
STOPS = {o: k.name for o, k in schema.init_keys().items() if k.name in STOP_KEYS}
STOP_RANGES = {o: float(schema.bounds(schema.STRATEGY, key)[1]) for o, key in STOPS.items()}
COOLDOWN_MAX = schema.MAX_COOLDOWN_MINUTES
STREAK_RANGE = schema.bounds(schema.STRATEGY, "cb_loss_streak_threshold")


class InitError(Exception):
    """Problems with the init options: one line each, printed without a traceback."""

    def __init__(self, lines: list[str], exit_code: int = 2) -> None:
        super().__init__("\n".join(lines))
        self.lines = lines
        self.exit_code = exit_code  # 2: bad options; 1: could not run (registry listing)


@dataclass
class Catalogue:
    """Registry rows by name: platforms, short name, status, can_short, needs_pair."""

    rows: dict[str, dict] = field(default_factory=dict)

    def names(self, platform: str) -> list[str]:
        return [n for n, r in self.rows.items() if platform in r.get("platforms", ())]

    def visible(self, platform: str) -> list[str]:
        """What discovery offers: visible, not hold, not pair strategies."""
        return [
            n
            for n in self.names(platform)
            if self.rows[n].get("status") == "visible"
            and n != "hold"
            and not self.rows[n].get("needs_pair")
        ]

    def short(self, name: str) -> str:
        short = self.rows.get(name, {}).get("short_name") or name
        return re.sub(r"[^a-z0-9]+", "", str(short).lower()) or "s"

    def can_short(self, name: str) -> bool:
        return bool(self.rows.get(name, {}).get("can_short"))


def load_catalogue() -> Catalogue:
    """The open-strategy registry, listed by a child process (it imports pandas)."""
    cmd = [sys.executable, "-m", "shared_strategies.open.registry", "--list-json", "--all"]
    try:
        proc = subprocess.run(
            cmd, cwd=REPO_ROOT, capture_output=True, text=True, timeout=120, check=False
        )
        rows = json.loads(proc.stdout) if proc.returncode == 0 else None
    except (OSError, subprocess.SubprocessError, ValueError):
        rows, proc = None, None
    if not isinstance(rows, list):
        tail = (proc.stderr.strip().splitlines() or [""])[-1] if proc else ""
        raise InitError(
            [f"init: cannot list the strategies (shared_strategies.open.registry): {tail}"]
        )
    return Catalogue({r["id"]: r for r in rows if isinstance(r, dict) and "id" in r})


def parse_options(text: str) -> dict[str, Any]:
    """The ``--json`` object, keys in their canonical spelling and values type-checked."""
    try:
        raw = json.loads(text)
    except ValueError as exc:
        raise InitError([f"init: --json is not valid JSON ({exc})"]) from None
    if not isinstance(raw, dict):
        raise InitError([f"init: --json must be a JSON object, got {show(raw, 60)}"])
    errors: list[str] = []
    out: dict[str, Any] = {}
    for key, value in raw.items():
        name = _BY_LOWER.get(str(key).lower())
        if name is None:
            import difflib  # only for this error's hint

            close = difflib.get_close_matches(str(key), list(KEYS), n=1, cutoff=0.6)
            hint = f"did you mean '{close[0]}'?" if close else "see `go-trader init --help`"
            errors.append(f"init: --json key {show(key, 40)} is not known ({hint})")
            continue
        problem = _type_problem(KEYS[name], value)
        if problem:
            errors.append(f"init: --json {name} {problem}, got {show(value, 60)}")
            continue
        out[name] = value
    if errors:
        raise InitError(errors)
    return out


def _type_problem(kind: str, value: Any) -> str | None:
    if value is None:
        return None
    ok = {
        "bool": isinstance(value, bool),
        "number": isinstance(value, (int, float)) and not isinstance(value, bool),
        "text": isinstance(value, str),
        "names": isinstance(value, list) and all(isinstance(v, str) for v in value),
        "id": isinstance(value, str) or (isinstance(value, int) and not isinstance(value, bool)),
        "map": isinstance(value, dict),
    }[kind]
    if ok and kind == "number" and value != value:  # NaN
        ok = False
    what = {
        "bool": "must be true or false",
        "number": "must be a number",
        "text": "must be a string",
        "names": "must be a list of strings",
        "id": "must be an id (string or integer)",
        "map": "must be an object of key -> id",
    }[kind]
    return None if ok else what


@dataclass
class Plan:
    """Resolved options: every default applied and every value checked."""

    opts: dict[str, Any]
    groups: list[str]
    assets: list[str]
    strategies: dict[str, list[str]]  # spot, perps, futures, luno, robinhood, okx, okx-perps
    capital: dict[str, float]
    drawdown: dict[str, float]
    modes: dict[str, str]


def is_set(opts: dict, key: str) -> bool:
    """Set in the Go sense: present and not a zero value."""
    value = opts.get(key)
    return value not in (None, False, 0, "", [], {})


def resolve(opts: dict[str, Any], cat: Catalogue) -> Plan:
    """Apply defaults and check every value; raises InitError listing all the problems."""
    errors: list[str] = []
    for key, why in NOT_BUILT.items():
        if is_set(opts, key):
            errors.append(f"init: {key}: {why}")
    groups = [g for g in GROUPS if opts.get(_enable_key(g)) is True]
    if not groups:
        groups = ["spot"]  # upstream's minimal starter: spot, chart_pattern on BTC
    assets = list(dict.fromkeys(a.upper() for a in opts.get("assets") or DEFAULT_ASSETS))
    if "assets" in opts and opts["assets"] == []:
        errors.append('init: assets must name at least one asset, e.g. ["BTC"]')
    for a in assets:
        if not ASSET.fullmatch(a):
            errors.append(f"init: assets: {show(a, 30)} is not an asset ticker like BTC")
    strategies: dict[str, list[str]] = {}
    capital: dict[str, float] = {}
    drawdown: dict[str, float] = {}
    modes: dict[str, str] = {}
    for g in groups:
        capital[g] = number(opts, f"{g}Capital", CAPITAL[g], 0, 1e12, errors)
        drawdown[g] = number(opts, f"{g}Drawdown", DRAWDOWN[g], 0, 100, errors)
        if g in ("perps", "futures", "robinhood", "okx"):
            modes[g] = _mode(opts, f"{g}Mode", errors)
    pick = _Picker(opts, cat, errors)
    if "spot" in groups:
        default = [] if opts.get("includePairs") else STARTER_SPOT
        strategies["spot"] = pick("spotStrategies", "spot", default)
        if not strategies["spot"] and not opts.get("includePairs"):
            errors.append("init: spotStrategies is empty and includePairs is off; nothing to run")
        if opts.get("includePairs") and len(assets) < 2:
            errors.append("init: includePairs needs at least two assets")
    if "options" in groups:
        strategies["options"], opts["optionPlatforms"] = resolve_options(opts, errors)
    if "perps" in groups:
        strategies["perps"] = pick("perpsStrategies", "perps", cat.visible("perps"))
    if "futures" in groups:
        strategies["futures"] = pick("futuresStrategies", "futures", cat.visible("futures"))
        for sym in opts.get("futuresSymbols") or []:
            if sym.upper() not in FUTURES_SYMBOLS:
                errors.append(
                    f"init: futuresSymbols: {show(sym, 20)} is not one of "
                    f"{', '.join(FUTURES_SYMBOLS)}"
                )
    if "luno" in groups:
        strategies["luno"] = pick("lunoStrategies", "spot", cat.visible("spot"))
    if "robinhood" in groups:
        strategies["robinhood"] = pick("robinhoodStrategies", "spot", cat.visible("spot"))
    if "okx" in groups:
        strategies["okx"] = pick("okxSpotStrategies", "spot", cat.visible("spot"))
        strategies["okx-perps"] = pick("okxPerpsStrategies", "perps", cat.visible("perps"))
    _check_general(opts, errors)
    if errors:
        raise InitError(errors)
    return Plan(opts, groups, assets, strategies, capital, drawdown, modes)


def _enable_key(group: str) -> str:
    return "enableOKX" if group == "okx" else f"enable{group.capitalize()}"


def number(
    opts: dict, key: str, default: float, lo: float, hi: float, errors: list | None = None
) -> float:
    value = opts.get(key)
    if value is None or value == 0:
        return float(default)
    if not lo < value <= hi:
        if errors is not None:
            errors.append(f"init: {key} must be a number in ({lo:g}, {hi:g}], got {show(value)}")
        return float(default)
    return float(value)


def _mode(opts: dict, key: str, errors: list) -> str:
    value = opts.get(key) or "paper"
    if value == "live":
        errors.append(f"init: {key}: {LIVE_NOT_SUPPORTED}")
    elif value != "paper":
        errors.append(f"init: {key} must be paper or live, got {show(value, 30)}")
    return "paper"


@dataclass
class _Picker:
    """Checks a strategy list against the registry (one line per unknown name)."""

    opts: dict
    cat: Catalogue
    errors: list[str]

    def __call__(self, key: str, platform: str, default: list[str]) -> list[str]:
        names = list(dict.fromkeys(self.opts.get(key) or default))
        known = self.cat.names(platform)
        for name in names:
            row = self.cat.rows.get(name, {})
            if name not in known:
                offer = ", ".join(self.cat.visible(platform))
                self.errors.append(
                    f"init: {key}: unknown strategy {show(name, 40)} for {platform} "
                    f"(available: {offer})"
                )
            elif row.get("status") == "backtest_only":
                self.errors.append(
                    f"init: {key}: {name} is backtest-only; run it with backtest/run_backtest.py"
                )
            elif row.get("needs_pair"):
                self.errors.append(
                    f"init: {key}: {name} needs two symbols; set includePairs: true instead"
                )
        return names


def _check_general(opts: dict, errors: list[str]) -> None:
    if opts.get("autoUpdate") not in (None, "", *AUTO_UPDATE):
        errors.append(
            f"init: autoUpdate must be off, daily or heartbeat, got {show(opts['autoUpdate'], 30)}"
        )
    if opts.get("atrMethod") not in (None, "", "simple", "wilder"):
        errors.append(
            f"init: atrMethod must be simple or wilder, got {show(opts['atrMethod'], 30)}"
        )
    for key in ("portfolioMaxDrawdownPct", "portfolioWarnThresholdPct"):
        number(opts, key, 1, 0, 100, errors)
    lo, hi = LEVERAGE_RANGE
    number(opts, "perpsLeverage", 1, 0, hi, errors)
    if is_set(opts, "perpsLeverage") and opts["perpsLeverage"] < lo:
        errors.append(
            f"init: perpsLeverage must be in [{lo:g}, {hi:g}], got {show(opts['perpsLeverage'])}"
        )
    number(
        opts,
        "perpsSizingLeverage",
        1,
        0,
        schema.bounds(schema.STRATEGY, "sizing_leverage")[1],
        errors,
    )
    number(opts, "futuresFeePerContract", FUTURES_FEE, 0, MAX_FUTURES_FEE, errors)
    stops = [k for k in STOPS if is_set(opts, k)]
    for key in stops:
        number(opts, key, 1, 0, STOP_RANGES[key], errors)
    if len(stops) > 1:
        errors.append(f"init: {', '.join(stops)} are set together; the stops exclude each other")
    for key in ("cbDrawdownCooldownMinutes", "cbLossStreakCooldownMinutes"):
        number(opts, key, 1, 0, COOLDOWN_MAX, errors)
    n = opts.get("cbLossStreakThreshold")
    lo, hi = STREAK_RANGE
    if n not in (None, 0) and not (isinstance(n, int) and lo <= n <= hi):
        errors.append(
            f"init: cbLossStreakThreshold must be an integer in [{lo:g}, {hi:g}], got {show(n)}"
        )
