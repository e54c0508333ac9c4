"""Book a live order's outcome: the venue's fill at its price, quantity and fee, or nothing.

An answer without a fill is never a trade (upstream booked a rejected order as a fill at the
mid). The intent records the outcome either way, so ``inspect`` and the audit trail show
every order the bot sent and what became of it.
"""

from __future__ import annotations

import math
from typing import Any

from shared_tools import book, regime_policy
from shared_tools.book.model import usable
from shared_tools.config.model import StrategyConfig
from shared_tools.domain import Kind
from supervisor.run.jobs import Result
from supervisor.state.models import Intent, StrategyState, Trade


def fill_of(data: Any) -> dict[str, float] | None:
    """The fill in a worker's answer (``--execute``'s ``execution.fill``, ``--order-status``'s
    ``fill``), or None when nothing filled."""
    if not isinstance(data, dict):
        return None
    fill = data.get("fill")
    for outer in ("execution", "close"):  # --execute's answer; a close worker's (OKX, ...)
        if fill is None and isinstance(data.get(outer), dict):
            fill = data[outer].get("fill")
    if not isinstance(fill, dict):
        return None
    px, sz = _num(fill.get("avg_px")), _num(_qty(fill))
    if not (usable(px) and usable(sz)):
        return None
    fee = _num(fill.get("fee"))
    return {
        "price": px,
        "qty": sz,
        "fee": fee if math.isfinite(fee) else math.nan,
        "oid": _num(fill.get("oid")),
    }


def _qty(fill: dict[str, Any]) -> Any:
    """The filled quantity in the book's unit: ``qty`` (OKX, TopStep and Robinhood workers add
    it: coins, or contracts for TopStep), else upstream's key (HL ``total_sz``)."""
    for key in ("qty", "total_sz", "total_contracts", "quantity"):
        if fill.get(key) is not None:
            return fill[key]
    return None


def _num(x: Any) -> float:
    try:
        return float(x)
    except (TypeError, ValueError):
        return math.nan


def book_fill(
    sc: StrategyConfig,
    strat: StrategyState,
    intent: Intent,
    fill: dict[str, float],
    stamp: str,
    now_s: float,
) -> Trade | None:
    """Book ``fill`` for ``intent`` into ``strat``; marks the intent filled. A fee the venue
    could not report yet is booked as 0 and left for the reconcile (``fee_pending``)."""
    fee = fill["fee"] if math.isfinite(fill["fee"]) else 0.0
    oid = int(fill["oid"]) if math.isfinite(fill["oid"]) else 0
    intent.status, intent.resolved_at, intent.oid = "filled", stamp, oid
    intent.fill_price, intent.fill_qty, intent.fee = fill["price"], fill["qty"], fee
    if not math.isfinite(fill["fee"]):
        intent.extra["fee_pending"] = True
    trade: Trade | None
    if intent.purpose == "open":
        eff = regime_policy.effective(  # the rules the decision opened under (frozen verdict)
            sc.direction,
            sc.invert_signal,
            sc.directional_policy,
            str(intent.extra.get("policy_regime") or ""),
            str(intent.extra.get("policy_verdict") or ""),
        )
        trade, _ = book.open_position(
            strat,
            regime_policy.apply(sc.rules, eff),
            intent.symbol,
            intent.position_side,
            fill["price"],
            stamp,
            entry_atr=float(intent.extra.get("entry_atr") or 0.0),
            regime=str(intent.extra.get("regime") or ""),
            now_s=now_s if sc.rules.kind == Kind.PERPS else 0.0,
            fill=(fill["qty"], fee),
        )
        if trade is not None:
            regime_policy.stamp(strat.positions.get(intent.symbol), eff)
    elif intent.symbol not in strat.positions:
        intent.error = "filled, but the book no longer holds the position"
        return None
    elif intent.purpose == "add":  # scale-in: blend the venue's fill into the position
        trade, _ = book.add_to_position(
            strat, sc.rules, intent.symbol, fill["price"], stamp, fill=(fill["qty"], fee)
        )
    else:
        trade, _ = book.book_for(sc.rules).close(
            strat,
            intent.symbol,
            fill["price"],
            stamp,
            reason=intent.reason,
            fill=(fill["qty"], fee),
        )
        if trade is not None:
            strat.trade_count += 1
    if trade is not None:
        trade.order_id = str(oid) if oid else ""
    return trade


def fail(intent: Intent, error: str, stamp: str) -> None:
    intent.status, intent.resolved_at, intent.error = "failed", stamp, error[:500]


def refused(r: Result) -> bool:
    """The venue answered the order and refused it, or it never left (rounding, leverage):
    an order that certainly did not fill. A lost answer is not a refusal."""
    data = r.data if isinstance(r.data, dict) else {}
    error = str(data.get("error") or "")
    if "answer lost" in error or "unexpected" in error:
        return False
    return data.get("execution", "") is None and bool(error)
