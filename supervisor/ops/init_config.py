"""``go-trader init``: the config document the resolved options generate.

One entry per strategy and asset of each enabled group, on that group's venue script
(:data:`VENUES`), then the fleet-wide passes (HTF filter, breaker overrides, regime gate), the
portfolio risk, chat and top-level keys; stamped with the current ``config_version``. The
options themselves (keys, defaults, checks) are :mod:`supervisor.ops.init_options`.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Any

from shared_tools.config.migrate import CURRENT_CONFIG_VERSION
from supervisor.ops.init_options import (
    DEFAULT_FUTURES_SYMBOLS,
    FUTURES_FEE,
    PORTFOLIO_DRAWDOWN,
    STOPS,
    WARN_THRESHOLD,
    Catalogue,
    Plan,
    is_set,
    number,
)
from supervisor.ops.init_options_type import option_entries

__all__ = ["VENUES", "generate", "venue_entry"]

DEFAULT_DB_FILE = "state/state.db"
INTERVAL = 3600
# Composite-regime range strategies get a fail-closed gate on the ranging labels (upstream).
GATED = ("atr_band_revert", "anchored_vwap_channel", "anchored_vwap_reversion", "rsi_bb_combo")
NO_HTF = ("delta_neutral_funding",)


@dataclass(frozen=True)
class Venue:
    """How one group's strategies become entries: id, type, venue script and args."""

    id: str  # {s}: the strategy's short name, {a}: the asset (lower case)
    type: str
    platform: str
    script: str
    symbol: str  # {A}: the asset; {X}: the asset in Luno's spelling (XBT for BTC)
    extra: tuple[str, ...] = ()  # after the timeframe; "{mode}" is --mode=paper|live


VENUES = {
    "spot": Venue("{s}-{a}", "spot", "binanceus", "check_strategy.py", "{A}/USDT"),
    "perps": Venue(
        "hl-{s}-{a}", "perps", "hyperliquid", "check_hyperliquid.py", "{A}", ("{mode}",)
    ),
    "futures": Venue("ts-{s}-{a}", "futures", "topstep", "check_topstep.py", "{A}", ("{mode}",)),
    "luno": Venue("luno-{s}-{a}", "spot", "luno", "check_luno.py", "{X}/ZAR"),
    "robinhood": Venue("rh-{s}-{a}", "spot", "robinhood", "check_robinhood.py", "{A}", ("{mode}",)),
    "okx": Venue(
        "okx-{s}-{a}", "spot", "okx", "check_okx.py", "{A}", ("{mode}", "--inst-type=spot")
    ),
    "okx-perps": Venue(
        "okx-{s}-{a}-perp", "perps", "okx", "check_okx.py", "{A}", ("{mode}", "--inst-type=swap")
    ),
}


def generate(plan: Plan, cat: Catalogue) -> dict[str, Any]:
    """The config document (today's shape, stamped with the current config_version)."""
    opts = plan.opts
    strategies: list[dict[str, Any]] = []
    for key, names in plan.strategies.items():
        if key == "options":  # type options entries (supervisor/ops/init_options_type.py)
            strategies += option_entries(
                names,
                opts["optionPlatforms"],
                plan.assets,
                opts,
                plan.capital["options"],
                plan.drawdown["options"],
            )
            continue
        group = key.removesuffix("-perps")
        assets = plan.assets
        if group == "futures":
            syms = opts.get("futuresSymbols") or DEFAULT_FUTURES_SYMBOLS
            assets = list(dict.fromkeys(a.upper() for a in syms))
        for name in names:
            strategies.extend(venue_entry(VENUES[key], group, name, a, plan, cat) for a in assets)
    if opts.get("includePairs") and "spot" in plan.groups:
        for a, b in itertools.combinations(plan.assets, 2):
            pair = venue_entry(VENUES["spot"], "spot", "pairs_spread", a, plan, cat)
            pair["id"] = f"pairs-{a.lower()}-{b.lower()}"
            pair["args"] = ["pairs_spread", f"{a}/USDT", "1d", f"{b}/USDT"]
            strategies.append(pair)
    for entry in strategies:
        if entry["type"] != "options":  # atr_method, htf_filter, regime gates: not on options
            _post(entry, opts)
    risk = {
        "max_drawdown_pct": number(opts, "portfolioMaxDrawdownPct", PORTFOLIO_DRAWDOWN, 0, 100),
        "warn_threshold_pct": number(opts, "portfolioWarnThresholdPct", WARN_THRESHOLD, 0, 100),
        "max_notional_usd": 0,
    }
    doc: dict[str, Any] = {
        "config_version": CURRENT_CONFIG_VERSION,
        "interval_seconds": INTERVAL,
        "db_file": opts.get("dbFile") or DEFAULT_DB_FILE,
        "default_stop_loss_atr_mult": 1.0,
        "portfolio_risk": risk,
        "discord": _chat(opts, "discord", "discordOwnerID", "channelMap"),
        "telegram": _chat(opts, "telegram", "telegramOwnerChatID", "telegramChannelMap"),
    }
    if opts.get("autoUpdate") not in (None, "", "off"):
        doc["auto_update"] = opts["autoUpdate"]
    if any(e.get("allowed_regimes") for e in strategies):
        doc["regime"] = {
            "enabled": True,
            "period": 14,
            "adx_threshold": 20,
            "windows": {"medium": {"classifier": "composite", "period": 20}},
        }
    doc["strategies"] = strategies
    return doc


def venue_entry(v: Venue, group: str, name: str, asset: str, plan: Plan, cat: Catalogue) -> dict:
    mode = f"--mode={plan.modes.get(group, 'paper')}"
    luno = "XBT" if asset == "BTC" else asset
    entry: dict[str, Any] = {
        "id": v.id.format(s=cat.short(name), a=asset.lower()),
        "type": v.type,
        "platform": v.platform,
        "script": f"shared_scripts/{v.script}",
        "args": [name, v.symbol.format(A=asset, X=luno), "1h"]
        + [x.format(mode=mode) for x in v.extra],
        "capital": plan.capital[group],
        "max_drawdown_pct": plan.drawdown[group],
    }
    opts = plan.opts
    if v.type == "perps":
        leverage = number(opts, "perpsLeverage", 1, 0, 100)
        entry["leverage"] = leverage
        entry["sizing_leverage"] = number(opts, "perpsSizingLeverage", leverage, 0, 100)
        entry["direction"] = "both" if cat.can_short(name) else "long"
    if v.platform == "hyperliquid":
        entry["margin_mode"] = "isolated"
        for key, field_name in STOPS.items():
            if is_set(opts, key):
                entry[field_name] = float(opts[key])
        if opts.get("hlStopDisabled"):  # the wizard's "disabled": no automatic ATR stop
            entry["stop_loss_pct"] = 0
    if v.type == "futures":
        fee = number(opts, "futuresFeePerContract", FUTURES_FEE, 0, 1000)
        entry["futures"] = {"fee_per_contract": fee}
    return entry


def _post(entry: dict, opts: dict) -> None:
    """The fleet-wide passes: HTF filter, circuit-breaker overrides, atr_method, regime gate."""
    name = entry["args"][0]
    if opts.get("htfFilter") and name not in NO_HTF:
        entry["htf_filter"] = True
    if opts.get("disableCircuitBreaker"):
        entry["circuit_breaker"] = False
    for key, field_name in (
        ("cbDrawdownCooldownMinutes", "cb_drawdown_cooldown_minutes"),
        ("cbLossStreakThreshold", "cb_loss_streak_threshold"),
        ("cbLossStreakCooldownMinutes", "cb_loss_streak_cooldown_minutes"),
    ):
        if is_set(opts, key):
            entry[field_name] = opts[key]
    if opts.get("atrMethod"):
        entry["atr_method"] = opts["atrMethod"]
    if name in GATED:
        entry["allowed_regimes"] = ["ranging_quiet", "ranging_volatile"]
        entry["regime_gate_on_failure"] = "closed"


def _chat(opts: dict, transport: str, owner_key: str, map_key: str) -> dict[str, Any]:
    channels = {str(k): str(v) for k, v in (opts.get(map_key) or {}).items() if v not in (None, "")}
    if transport == "discord":  # the deprecated single-channel keys fold into the map
        for key, channel in (("spotChannelID", "spot"), ("optionsChannelID", "options")):
            if opts.get(key) not in (None, ""):
                channels.setdefault(channel, str(opts[key]))
    owner = opts.get(owner_key)
    owner_field = "owner_id" if transport == "discord" else "owner_chat_id"
    return {
        "enabled": bool(opts.get(f"{transport}Enabled")),
        owner_field: "" if owner in (None, "") else str(owner),
        "channels": channels,
    }
