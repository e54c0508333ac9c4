"""Scalar take-profit ladders: tiered_tp_pct, tiered_tp_atr, tiered_tp_atr_live (§4.3-4.5).

Each tier is ``(trigger, cumulative fraction of the initial quantity)``; the highest tier the
position's progress has reached says how much should have been closed by now.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from shared_strategies.close._helpers import (
    Result,
    fmt_g,
    held_or_noop,
    held_with_entry_atr,
    live_atr_or_noop,
    parse_tiers,
    tier_result,
)
from shared_tools.book.guard import DEFAULT_ATR_TIERS, DEFAULT_PCT_TIERS


# The ladders' defaults are the book's (shared_tools/book/guard.py), so the targets the
# supervisor arms at open and the fractions this evaluator reports agree by construction.
def _as_dicts(tiers: tuple[tuple[float, float], ...], key: str) -> list[dict[str, float]]:
    return [{key: t, "close_fraction": f} for t, f in tiers]


PCT_DEFAULTS: dict[str, Any] = {"tp_tiers": _as_dicts(DEFAULT_PCT_TIERS, "profit_pct")}
ATR_DEFAULTS: dict[str, Any] = {"tp_tiers": _as_dicts(DEFAULT_ATR_TIERS, "atr_multiple")}
ATR_LIVE_DEFAULTS: dict[str, Any] = {
    "tp_tiers": _as_dicts(DEFAULT_ATR_TIERS, "atr_multiple"),
    "atr_source": "live",
}


def tiered_tp_pct(
    position: Mapping[str, Any], market: Mapping[str, Any], params: Mapping[str, Any]
) -> Result:
    """Scale out as the price moves ``profit_pct`` in our favour (a pure price move, no leverage)."""
    held = held_or_noop(position, market)
    if isinstance(held, dict):
        return held
    tiers = parse_tiers(params.get("tp_tiers"), "profit_pct", DEFAULT_PCT_TIERS)
    progress = held.profit() / held.avg_cost
    return tier_result(position, tiers, progress, lambda t: f"tiered_tp_pct:{fmt_g(t)}")


def tiered_tp_atr(
    position: Mapping[str, Any], market: Mapping[str, Any], params: Mapping[str, Any]
) -> Result:
    """Scale out at multiples of the ATR frozen at entry; the last fraction is kept as given."""
    got = held_with_entry_atr(position, market)
    if isinstance(got, dict):
        return got
    held, entry_atr = got
    tiers = parse_tiers(params.get("tp_tiers"), "atr_multiple", DEFAULT_ATR_TIERS)
    progress = held.profit() / entry_atr
    return tier_result(position, tiers, progress, lambda t: f"tiered_tp_atr:{fmt_g(t)}")


def tiered_tp_atr_live(
    position: Mapping[str, Any], market: Mapping[str, Any], params: Mapping[str, Any]
) -> Result:
    """Like tiered_tp_atr but measured in the *current* ATR (``atr_source: live``) by default."""
    held = held_or_noop(position, market)
    if isinstance(held, dict):
        return held
    live = live_atr_or_noop(position, market, params.get("atr_source"))
    if isinstance(live, dict):
        return live
    atr, label = live
    tiers = parse_tiers(params.get("tp_tiers"), "atr_multiple", DEFAULT_ATR_TIERS)
    progress = held.profit() / atr
    return tier_result(
        position, tiers, progress, lambda t: f"tiered_tp_atr_live:{label}:{fmt_g(t)}"
    )
