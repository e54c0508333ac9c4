"""Whole-position exits: atr_stop, time_stop, avwap_stop, zscore_target (§4.10-4.13).

Each either closes everything (``close_fraction 1.0``) or nothing.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from shared_strategies.close._helpers import (
    NOOP_DISABLED,
    NOOP_MISSING_LIVE_ATR,
    NOOP_MISSING_POSITION,
    NOOP_NOT_HIT,
    Result,
    entry_atr_or_noop,
    fmt_g,
    held_or_noop,
    nonneg,
    noop,
    num,
    opt_num,
    result,
    side_of,
    text,
)

ATR_STOP_DEFAULTS: dict[str, Any] = {"atr_mult": 0.0, "atr_source": "entry"}
TIME_STOP_DEFAULTS: dict[str, Any] = {"max_bars": 0}
AVWAP_STOP_DEFAULTS: dict[str, Any] = {"buffer_atr_mult": 0.25, "atr_source": "live"}
ZSCORE_TARGET_DEFAULTS: dict[str, Any] = {"lookback": 0, "z_target": 0.0}


def _stop_atr(
    position: Mapping[str, Any], market: Mapping[str, Any], *, live: bool
) -> float | Result:
    """ATR for a stop distance: live -> market.atr, else entry_atr; a noop when missing."""
    if live:
        atr = num(market.get("atr"))
        return atr if atr > 0 else noop(NOOP_MISSING_LIVE_ATR)
    return entry_atr_or_noop(position)


def atr_stop(
    position: Mapping[str, Any], market: Mapping[str, Any], params: Mapping[str, Any]
) -> Result:
    """Close everything once price is ``atr_mult`` ATRs against the entry (inclusive)."""
    mult = num(params.get("atr_mult"))
    if mult <= 0:
        return noop(NOOP_DISABLED)
    held = held_or_noop(position, market)
    if isinstance(held, dict):
        return held
    source = params.get("atr_source")
    atr = _stop_atr(position, market, live=text(source).lower() == "live")
    if isinstance(atr, dict):
        return atr
    hit = held.lost(held.avg_cost, mult * atr)
    return result(1.0, f"atr_stop:{fmt_g(mult)}") if hit else noop(NOOP_NOT_HIT)


def time_stop(
    position: Mapping[str, Any], market: Mapping[str, Any], params: Mapping[str, Any]
) -> Result:
    """Close everything after ``max_bars`` closed bars held (backtest only: live sends no count)."""
    max_bars = num(params.get("max_bars"))
    if max_bars <= 0:
        return noop(NOOP_DISABLED)
    bars_held = opt_num(position.get("bars_held"))
    if bars_held is None:
        return noop("noop:missing_bars_held")
    if bars_held >= max_bars:
        return result(1.0, f"time_stop:{fmt_g(max_bars)}")
    return noop("noop:within_window")


def avwap_stop(
    position: Mapping[str, Any], market: Mapping[str, Any], params: Mapping[str, Any]
) -> Result:
    """Close everything when price loses the open strategy's live anchored VWAP by a buffer.

    The buffer is ``buffer_atr_mult`` ATRs (negative -> 0; unparseable -> 0.25); with 0 no ATR is
    needed. Upstream checks the position before the mark here, unlike the other evaluators.
    """
    held = held_or_noop(position, market, position_first=True)
    if isinstance(held, dict):
        return held
    avwap = num(market.get("avwap"))
    if avwap <= 0:
        return noop("noop:missing_avwap")
    mult = nonneg(params.get("buffer_atr_mult"), 0.25)
    buffer = 0.0
    if mult > 0:
        source = params.get("atr_source")
        atr = _stop_atr(position, market, live=text(source).lower() != "entry")
        if isinstance(atr, dict):
            return atr
        buffer = mult * atr
    hit = held.lost(avwap, buffer)
    return result(1.0, f"avwap_stop:line_lost:{fmt_g(mult)}") if hit else noop("noop:holding_line")


def zscore_target(
    position: Mapping[str, Any], market: Mapping[str, Any], params: Mapping[str, Any]
) -> Result:
    """Close everything when the backtester's z-score reaches ``z_target`` in our favour.

    Live scripts never send ``market.zscore``, so live this always answers missing_zscore.
    """
    lookback = num(params.get("lookback"))
    z_target = num(params.get("z_target"))
    if lookback <= 0 or z_target <= 0:
        return noop(NOOP_DISABLED)
    side = side_of(position)
    if num(position.get("current_quantity")) <= 0 or side is None:
        return noop(NOOP_MISSING_POSITION)
    z = opt_num(market.get("zscore"))
    if z is None:
        return noop("noop:missing_zscore")
    hit = z >= z_target if side == "long" else z <= -z_target
    return result(1.0, f"zscore_target:{fmt_g(z_target)}") if hit else noop(NOOP_NOT_HIT)
