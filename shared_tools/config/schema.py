"""The config schema: one row per config key, the single source of what a key is.

Each :class:`Key` says where the key lives (its section), its type, default, bounds or allowed
values, what a SIGHUP reload may do with it, the ``config_version`` since which it exists, the
``go-trader init`` option that sets it (if any) and a one-line doc. Derived from this table:

- the loader's unknown-key sets and the bounds of its type/range checks
  (:mod:`shared_tools.config.checks`, ``load``, ``strategy``, ``trading``, ``risk``, ``regime``,
  ``notify``);
- the reload's safe subset: ``supervisor/reload.py`` takes its LIVE, FLAT_ONLY and structural
  field lists from :func:`reload_fields`;
- the migrations' defaults for keys added in a config_version (:func:`added_since`);
- init's defaults and bounds for the keys it asks about (:func:`init_keys`);
- ``docs/config.md`` (:mod:`shared_tools.config.docs`).

Plain frozen dataclasses: a schema library (msgspec, jsonschema) would cost the always-running
supervisor memory for rows that are only read, and the checks keep their own operator-facing
one-line messages and upstream's "a Go zero value means unset" rules.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

__all__ = [
    "KEYS",
    "RELOAD_CLASSES",
    "SECTIONS",
    "STRATEGY",
    "TOP",
    "Key",
    "added_since",
    "bounds",
    "default",
    "init_keys",
    "names",
    "reload_fields",
    "row",
    "rows",
]

TOP = ""  # the top-level section
STRATEGY = "strategies[]"
MAX_INTERVAL = 7 * 86400
MAX_CAPITAL = 1e12
MAX_COOLDOWN_MINUTES = 43200  # 30 days
MAX_ATR_MULT = 100.0

# What a SIGHUP reload may do with a changed value:
RELOAD_CLASSES = {
    "live": "applied at once, positions or not",
    "flat-only": "applied only while the strategy holds no position; refused otherwise",
    "structural": "refused whole: restart the supervisor to apply it",
}
# Whether this build reads the key:
STATUSES = {
    "built": "read and checked",
    "not-yet": "accepted with a warning and ignored (an upstream feature this build lacks)",
    "env-only": "ignored with a warning: the value belongs in the environment",
}


@dataclass(frozen=True)
class Key:
    """One config key: where it is, what it holds, and what may change it."""

    section: str  # "" (top level), "strategies[]", "portfolio_risk", "regime", ...
    name: str
    type: str  # int | number | bool | string | choice | id | object | list | map | duration
    doc: str
    default: Any = None  # None: required, derived (default_text says how) or absent = off
    default_text: str = ""  # the default in words when it is derived, for the docs
    lo: float | None = None
    hi: float | None = None
    lo_open: bool = False  # (lo, hi] instead of [lo, hi]
    choices: tuple[str, ...] = ()
    reload: str = "live"  # a key of RELOAD_CLASSES
    since: int = 0  # the config_version that added it (0: before versioning)
    status: str = "built"  # a key of STATUSES
    attr: str = ""  # the loaded Config/StrategyConfig field a reload compares ("" none)
    init: str = ""  # the `go-trader init --json` option that sets it ("" none)
    fill_on_migrate: bool = False  # a migration from before `since` writes `default` in

    @property
    def path(self) -> str:
        return f"{self.section}.{self.name}" if self.section else self.name

    @property
    def integer(self) -> bool:
        return self.type == "int"


def _k(section: str, name: str, type_: str, doc: str, **kw: Any) -> Key:
    return Key(section, name, type_, doc, **kw)


def _top(name: str, type_: str, doc: str, **kw: Any) -> Key:
    return _k(TOP, name, type_, doc, **kw)


def _strat(name: str, type_: str, doc: str, **kw: Any) -> Key:
    return _k(STRATEGY, name, type_, doc, **kw)


def _not_yet(section: str, *names: str, since: int = 0) -> list[Key]:
    return [
        _k(section, n, "any", "upstream key; not built yet", status="not-yet", since=since)
        for n in names
    ]


_PCT = {"lo": 0.0, "hi": 100.0, "lo_open": True}
_COOLDOWN = {"lo": 0, "hi": MAX_COOLDOWN_MINUTES, "lo_open": True}

KEYS: tuple[Key, ...] = (
    # -- top level ---------------------------------------------------------------------------
    _top(
        "config_version",
        "int",
        "the config's shape version; older shapes are migrated",
        default=0,
        lo=0,
        hi=1_000_000,
    ),
    _top(
        "interval_seconds",
        "int",
        "the global cycle interval (0 = the default)",
        default=600,
        lo=1,
        hi=MAX_INTERVAL,
        attr="interval_seconds",
    ),
    _top(
        "db_file",
        "string",
        "the SQLite state DB (relative to the repo; .json becomes .db)",
        default="state/state.db",
        reload="structural",
        attr="db_file",
        init="dbFile",
    ),
    _top(
        "state_file",
        "string",
        "old name of db_file (used when db_file is absent)",
        reload="structural",
    ),
    _top(
        "status_port",
        "int",
        "the local status server's port (it may move up to port + 4)",
        default=8099,
        lo=1024,
        hi=65531,
        reload="structural",
        attr="status_port",
    ),
    _top(
        "market_data",
        "string",
        "where prices come from: exchange, simulated or replay:<dir>",
        default="exchange",
        reload="structural",
        attr="market_data",
    ),
    _top(
        "max_concurrent_checks",
        "int",
        "worker processes run at once",
        default_text="min(CPU count, 64)",
        lo=1,
        hi=64,
    ),
    _top(
        "script_timeout_seconds",
        "number",
        "one worker's time limit",
        default=30.0,
        lo=0,
        hi=3600.0,
        lo_open=True,
    ),
    _top(
        "batch_checks", "bool", "one worker process serves many strategies (--batch)", default=True
    ),
    _top(
        "strategies",
        "list",
        "the strategies (a non-empty list; see strategies[])",
        reload="structural",
    ),
    _top("regime", "object", "regime classification added to every signal check"),
    _top(
        "default_stop_loss_atr_mult",
        "number",
        "the ATR stop of Hyperliquid perps that set no stop (0 turns it off)",
        default=1.0,
        lo=0,
        hi=MAX_ATR_MULT,
    ),
    _top("portfolio_risk", "object", "the book-wide kill switch and entry holds"),
    _top("correlation", "object", "concentration and same-direction warnings"),
    _top("discord", "object", "Discord notifications"),
    _top("telegram", "object", "Telegram notifications"),
    _top("summary_frequency", "map", "channel key -> hourly, daily, every or a duration like 30m"),
    _top(
        "kill_switch_reset_dm_timeout",
        "duration",
        "how long the owner's DM reply 'reset' to a latched kill switch counts",
        default="6h",
    ),
    _top("tradingview_export", "object", "go-trader export tradingview: symbol_overrides"),
    *_not_yet(
        TOP,
        "log_dir",
        "replay_log_path",
        "auto_update",
        "leaderboard_post_time",
        "platforms",
        "leaderboard_summaries",
        "risk_free_rate",
    ),
    *_not_yet(TOP, "atr_method", since=17),
    *_not_yet(TOP, "notify_tp_sl_fills", "notify_ratchet_triggers", "alert_throttle_interval"),
    *_not_yet(TOP, "user_defaults", since=16),
    *_not_yet(TOP, "tuning"),
    # -- one strategies[] entry --------------------------------------------------------------
    _strat(
        "id",
        "id",
        "unique id, [A-Za-z0-9._-]{1,64}; its prefix may imply the platform",
        reload="structural",
    ),
    _strat(
        "type",
        "choice",
        "what it trades (options and manual: not built yet)",
        choices=("spot", "options", "perps", "futures", "manual"),
        reload="structural",
        attr="type",
    ),
    _strat(
        "platform",
        "string",
        "the venue",
        default_text="from the id prefix, else the type",
        reload="structural",
        attr="platform",
    ),
    _strat(
        "script",
        "string",
        "the check script, a .py file inside shared_scripts/",
        reload="structural",
        attr="script",
    ),
    _strat(
        "allow_external_script",
        "bool",
        "allow a script outside shared_scripts/",
        default=False,
        reload="structural",
    ),
    _strat(
        "args",
        "list",
        "the worker's argv: <strategy> <symbol> <timeframe> [flags]",
        default=[],
        reload="structural",
        attr="args",
    ),
    _strat(
        "capital",
        "number",
        "the strategy's capital; a change is a cashflow",
        lo=0,
        hi=MAX_CAPITAL,
        lo_open=True,
    ),
    _strat(
        "initial_capital",
        "number",
        "the P&L baseline",
        default_text="capital",
        lo=0,
        hi=MAX_CAPITAL,
    ),
    _strat(
        "max_drawdown_pct",
        "number",
        "the strategy's drawdown breaker",
        default_text="options 40, perps 50, futures 45, else 60",
        **_PCT,
        attr="max_drawdown_pct",
    ),
    _strat(
        "interval_seconds",
        "int",
        "its own interval (0 = the global one)",
        default=0,
        lo=1,
        hi=MAX_INTERVAL,
        attr="interval_seconds",
    ),
    _strat(
        "circuit_breaker",
        "bool",
        "false turns both breakers off",
        default=True,
        attr="circuit_breaker",
        init="disableCircuitBreaker",
    ),
    _strat(
        "cb_drawdown_cooldown_minutes",
        "number",
        "the drawdown breaker's cooldown",
        default=1440,
        **_COOLDOWN,
        attr="cb_drawdown_cooldown_minutes",
        init="cbDrawdownCooldownMinutes",
    ),
    _strat(
        "cb_loss_streak_threshold",
        "int",
        "losses in a row that trip the streak breaker",
        default=5,
        lo=1,
        hi=100,
        attr="cb_loss_streak_threshold",
        init="cbLossStreakThreshold",
    ),
    _strat(
        "cb_loss_streak_cooldown_minutes",
        "number",
        "the streak breaker's cooldown",
        default=60,
        **_COOLDOWN,
        attr="cb_loss_streak_cooldown_minutes",
        init="cbLossStreakCooldownMinutes",
    ),
    _strat("paused", "bool", "hold position-increasing signals", default=False, attr="paused"),
    _strat(
        "htf_filter",
        "bool",
        "upstream's higher-timeframe trend filter",
        default=False,
        attr="htf_filter",
        init="htfFilter",
    ),
    _strat(
        "atr_method",
        "choice",
        "how ATR is averaged",
        default="simple",
        choices=("simple", "wilder"),
        since=17,
        attr="atr_method",
        init="atrMethod",
    ),
    _strat(
        "sizing_leverage",
        "number",
        "notional = cash x this (perps)",
        default_text="leverage",
        lo=0.01,
        hi=100,
        attr="sizing_leverage",
        init="perpsSizingLeverage",
    ),
    _strat(
        "margin_per_trade_usd",
        "number",
        "notional = min(this, cash) x leverage (perps)",
        default=0.0,
        lo=0,
        hi=MAX_CAPITAL,
        lo_open=True,
        attr="margin_per_trade_usd",
    ),
    _strat(
        "stop_loss_pct",
        "number",
        "stop this % of price from the entry (one stop at most)",
        default=0.0,
        lo=0,
        hi=50,
        attr="stop_loss_pct",
        init="hlStopLossPct",
    ),
    _strat(
        "stop_loss_margin_pct",
        "number",
        "stop at this % of margin lost",
        default=0.0,
        lo=0,
        hi=100,
        attr="stop_loss_margin_pct",
        init="hlStopLossMarginPct",
    ),
    _strat(
        "stop_loss_atr_mult",
        "number",
        "stop this many ATRs from the entry",
        default=0.0,
        default_text="HL perps with no stop: default_stop_loss_atr_mult",
        lo=0,
        hi=MAX_ATR_MULT,
        attr="stop_loss_atr_mult",
    ),
    _strat(
        "trailing_stop_pct",
        "number",
        "trail the best mark by this %",
        default=0.0,
        lo=0,
        hi=50,
        attr="trailing_stop_pct",
        init="hlTrailingStopPct",
    ),
    _strat(
        "trailing_stop_atr_mult",
        "number",
        "trail the best mark by this many ATRs",
        default=0.0,
        lo=0,
        hi=MAX_ATR_MULT,
        attr="trailing_stop_atr_mult",
    ),
    _strat(
        "trailing_stop_min_move_pct",
        "number",
        "a trailing stop moves by at least this %",
        default=0.5,
        lo=0,
        hi=100,
        attr="trailing_stop_min_move_pct",
    ),
    _strat(
        "allowed_regimes",
        "list",
        "open only in these regime labels",
        default=[],
        attr="allowed_regimes",
    ),
    _strat(
        "regime_gate_on_failure",
        "choice",
        "what an unknown regime does to the gate",
        default_text="regime.gate_on_failure",
        choices=("open", "closed"),
        attr="regime_gate_on_failure",
    ),
    _strat(
        "open_strategy",
        "object",
        '{"name", "params"}: params apply live, a new name is structural',
        default_text="args[0]",
        since=13,
    ),
    _strat("close_strategy", "object", 'one close evaluator {"name", "params"}', since=13),
    _strat("close_strategies", "list", "close evaluators, each {name, params}", since=13),
    _strat(
        "allow_deprecated", "bool", "keep a deprecated strategy without the warning", default=False
    ),
    _strat(
        "direction",
        "choice",
        "long, short or both (spot: long only)",
        default_text="long; futures both",
        choices=("long", "short", "both"),
        reload="flat-only",
        since=14,
        attr="direction",
    ),
    _strat(
        "allow_shorts",
        "bool",
        "legacy: true = direction both, false = long (v14 migrates)",
        reload="flat-only",
    ),
    _strat(
        "invert_signal",
        "bool",
        "buy on sell signals and sell on buy (perps)",
        default=False,
        reload="flat-only",
        attr="invert_signal",
    ),
    _strat(
        "leverage",
        "number",
        "exchange leverage (perps)",
        default=1.0,
        lo=1,
        hi=100,
        reload="flat-only",
        attr="leverage",
        init="perpsLeverage",
    ),
    _strat(
        "margin_mode",
        "choice",
        "isolated or cross (perps)",
        default="isolated",
        choices=("isolated", "cross"),
        reload="flat-only",
        attr="margin_mode",
    ),
    _strat(
        "regime_gate_window",
        "string",
        "the regime.windows entry the gate reads",
        default_text="the payload's first window",
        reload="flat-only",
        attr="regime_gate_window",
    ),
    _strat(
        "futures", "object", "futures terms: fee_per_contract, max_contracts", reload="structural"
    ),
    *_not_yet(
        STRATEGY,
        "symbol",
        "timeframe",
        "capital_pct",
        "regime_atr_window",
        "regime_directional_window",
        "hurst_gate",
        "notify_ratchet_triggers",
        "llm_entry_analysis",
        "risk_per_trade_pct",
        "stop_loss_atr_regime",
        "trailing_stop_atr_regime",
        "theta_harvest",
        "regime_directional_policy",
        "regime_window_divergence",
        "regime_profile_allocation",
        "allow_scale_in",
        "scale_in",
        "replay_sharing",
        "hedge",
    ),
    # -- strategies[].futures ----------------------------------------------------------------
    _k(
        "strategies[].futures",
        "fee_per_contract",
        "number",
        "fee per contract per side",
        default=0.0,
        lo=0,
        hi=1000.0,
        reload="structural",
        attr="futures_fee_per_contract",
        init="futuresFeePerContract",
    ),
    _k(
        "strategies[].futures",
        "max_contracts",
        "int",
        "contracts held at most (0 = no cap)",
        default=0,
        lo=0,
        hi=1_000_000,
        reload="structural",
        attr="futures_max_contracts",
    ),
    # -- portfolio_risk, correlation ---------------------------------------------------------
    _k(
        "portfolio_risk",
        "max_drawdown_pct",
        "number",
        "the kill switch: drawdown of the book",
        default=25.0,
        **_PCT,
        init="portfolioMaxDrawdownPct",
    ),
    _k(
        "portfolio_risk",
        "warn_threshold_pct",
        "number",
        "warn from this % of max_drawdown_pct (0 = the default)",
        default=60.0,
        **_PCT,
        init="portfolioWarnThresholdPct",
    ),
    _k(
        "portfolio_risk",
        "max_notional_usd",
        "number",
        "hold entries above this notional (0 = off)",
        default=0.0,
        lo=0,
        hi=1e13,
    ),
    _k(
        "portfolio_risk",
        "daily_max_loss_usd",
        "number",
        "hold entries after this day's loss (0 = off)",
        default=0.0,
        lo=0,
        hi=1e13,
    ),
    _k(
        "portfolio_risk",
        "daily_max_loss_pct",
        "number",
        "the same in % of the summed initial capital (0 = off)",
        default=0.0,
        lo=0,
        hi=100.0,
    ),
    *_not_yet("portfolio_risk", "max_same_direction_notional_usd", "max_asset_concentration_pct"),
    _k("correlation", "enabled", "bool", "turn the correlation warnings on", default=False),
    _k(
        "correlation",
        "max_concentration_pct",
        "number",
        "warn above this share in one asset",
        default=60.0,
        **_PCT,
    ),
    _k(
        "correlation",
        "max_same_direction_pct",
        "number",
        "warn above this share one way",
        default=75.0,
        **_PCT,
    ),
    # -- regime ------------------------------------------------------------------------------
    _k("regime", "enabled", "bool", "classify regimes in every signal check", default=False),
    _k("regime", "period", "int", "the ADX period (0 = the default)", default=14, lo=2, hi=500),
    _k(
        "regime",
        "adx_threshold",
        "number",
        "the ADX trend threshold (0 = 20)",
        default=0,
        lo=0,
        hi=100,
    ),
    _k(
        "regime",
        "windows",
        "map",
        "name -> a period or {classifier, period, adx_threshold, thresholds}",
    ),
    _k(
        "regime",
        "gate_on_failure",
        "choice",
        "the default of regime_gate_on_failure",
        default="open",
        choices=("open", "closed"),
    ),
    *_not_yet("regime", "timeframe", "display_windows", "transitions", "hurst_gate_on_failure"),
    _k(
        "regime.windows.*",
        "classifier",
        "choice",
        "how the window labels regimes",
        default="adx",
        choices=("adx", "composite"),
    ),
    _k("regime.windows.*", "period", "int", "the window's period", default=14, lo=2, hi=500),
    _k(
        "regime.windows.*",
        "adx_threshold",
        "number",
        "the window's ADX threshold",
        default=0,
        lo=0,
        hi=100,
    ),
    _k("regime.windows.*", "thresholds", "object", "classifier thresholds, passed through"),
    # -- discord, telegram -------------------------------------------------------------------
    _k("discord", "enabled", "bool", "send to Discord", default=False, init="discordEnabled"),
    _k("discord", "token", "string", "ignored: set DISCORD_BOT_TOKEN", status="env-only"),
    _k(
        "discord",
        "owner_id",
        "id",
        "the owner's user id (DMs, the kill-switch reset)",
        init="discordOwnerID",
    ),
    _k("discord", "channels", "map", "channel key -> channel id (summaries)", init="channelMap"),
    _k("discord", "trade_alert_channels", "map", "channel key -> channel id (trade alerts)"),
    _k("discord", "dm_channels", "map", "channel key -> true (the owner) or a user id"),
    *_not_yet(
        "discord",
        "leaderboard_top_n",
        "leaderboard_channel",
        "ephemeral_replies",
        "report_repo",
        "report_github_token",
    ),
    _k("telegram", "enabled", "bool", "send to Telegram", default=False, init="telegramEnabled"),
    _k("telegram", "bot_token", "string", "ignored: set TELEGRAM_BOT_TOKEN", status="env-only"),
    _k("telegram", "owner_chat_id", "id", "the owner's chat id", init="telegramOwnerChatID"),
    _k(
        "telegram",
        "channels",
        "map",
        "channel key -> chat id (summaries)",
        init="telegramChannelMap",
    ),
    _k("telegram", "trade_alert_channels", "map", "channel key -> chat id (trade alerts)"),
    _k("telegram", "dm_channels", "map", "channel key -> true (the owner) or a chat id"),
    # -- tradingview_export ------------------------------------------------------------------
    _k(
        "tradingview_export",
        "symbol_overrides",
        "map",
        "strategy:symbol, platform:symbol or symbol -> EXCHANGE:TICKER",
    ),
)

SECTIONS: tuple[str, ...] = tuple(dict.fromkeys(k.section for k in KEYS))
_BY_PATH = {(k.section, k.name): k for k in KEYS}


def row(section: str, name: str) -> Key:
    """The row of ``section``'s key ``name`` (KeyError when there is none)."""
    return _BY_PATH[(section, name)]


def rows(section: str, status: str | None = None) -> tuple[Key, ...]:
    """The rows of ``section`` in table order, optionally only those of one status."""
    return tuple(k for k in KEYS if k.section == section and status in (None, k.status))


def names(section: str, *statuses: str) -> frozenset[str]:
    """The key names of ``section`` (of any of ``statuses``; all when none is given)."""
    return frozenset(
        k.name for k in KEYS if k.section == section and (not statuses or k.status in statuses)
    )


def default(section: str, name: str) -> Any:
    return row(section, name).default


def bounds(section: str, name: str) -> tuple[float, float]:
    """(lo, hi) of a bounded key."""
    k = row(section, name)
    if k.lo is None or k.hi is None:
        raise KeyError(f"{k.path} has no bounds")
    return k.lo, k.hi


def reload_fields(section: str, reload: str) -> tuple[str, ...]:
    """The Config/StrategyConfig fields of ``section``'s keys in a reload class, table order."""
    return tuple(k.attr for k in KEYS if k.section == section and k.reload == reload and k.attr)


def added_since(version: int) -> tuple[Key, ...]:
    """Built keys a config of ``version`` predates (``since`` above it), table order."""
    return tuple(k for k in KEYS if k.since > version and k.status == "built")


def init_keys() -> dict[str, Key]:
    """``go-trader init --json`` option -> the row of the key it sets."""
    return {k.init: k for k in KEYS if k.init}
