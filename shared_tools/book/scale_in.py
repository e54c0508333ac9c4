"""Pyramiding (``allow_scale_in`` + ``scale_in``): a same-direction signal on an open position
adds to it instead of being skipped. One implementation for the supervisor and the backtester.

Upstream's rules (scheduler/scale_in.go; docs/architecture.md "Sizing"):

* gating (every field 0 = unlimited/off): ``max_adds`` counts adds; ``max_added_notional_usd``
  caps the cumulative *filled* add notional plus the requested add (the initial open is not
  counted); ``add_spacing_atr`` is signed: > 0 adds only after a favourable move of at least
  N x entry ATR from the last add price (or the average cost before the first add), < 0 only
  after an adverse move of |N| x entry ATR ("average down"); it needs a frozen entry ATR;
* size: ``add_notional_usd`` per add, 0 = the normal open notional;
* blend: avg = (q*avg + dq*px) / (q + dq); the initial quantity, add count, last add price and
  added notional move with it; the first add freezes the risk anchor at the pre-blend average.
  The stop and target *triggers* stay where they were armed (anchor -/+ mult x entry ATR): the
  guard holds absolute prices, so only the size they close grows. An add never flips.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from shared_tools.book.model import Account, Position, Trade, fmt_money, usable
from shared_tools.domain import Action, Side

__all__ = ["SCALE_IN", "ScaleIn", "add_refusal", "blend"]

SCALE_IN = "scale_in"  # the trade type of an add leg (not counted in the trade count #T)


@dataclass(frozen=True)
class ScaleIn:
    """A strategy's pyramiding terms (``enabled`` is ``allow_scale_in``; 0 = unlimited/off)."""

    enabled: bool = False
    max_adds: int = 0
    max_added_notional_usd: float = 0.0
    add_notional_usd: float = 0.0
    add_spacing_atr: float = 0.0


def add_refusal(pos: Position, price: float, terms: ScaleIn, notional: float) -> str:
    """Why an add of ``notional`` at ``price`` to ``pos`` is refused ("" when it may go)."""
    if not terms.enabled:
        return f"hold (already {pos.side})"
    if terms.max_adds > 0 and pos.scale_in_count >= terms.max_adds:
        return f"hold (scale_in: max_adds {terms.max_adds} reached)"
    cap = terms.max_added_notional_usd
    if cap > 0 and pos.added_notional_usd + notional > cap + 1e-9:
        return (
            f"hold (scale_in: added ${fmt_money(pos.added_notional_usd)} + "
            f"${fmt_money(notional)} > max_added_notional_usd ${fmt_money(cap)})"
        )
    spacing = terms.add_spacing_atr
    if spacing:
        if not usable(pos.entry_atr):
            return "hold (scale_in: add_spacing_atr needs an entry ATR)"
        ref = pos.last_add_price or pos.avg_cost
        favourable = (price - ref) * pos.sign  # > 0: the price moved the position's way
        need = abs(spacing) * pos.entry_atr
        moved = favourable if spacing > 0 else -favourable
        if moved < need - 1e-12:
            way = "favourable" if spacing > 0 else "adverse"
            return (
                f"hold (scale_in: {way} move {moved:.6g} from ${fmt_money(ref)} "
                f"< {abs(spacing):g} x ATR {need:.6g})"
            )
    return ""


def blend(
    acct: Account, pos: Position, qty: float, price: float, fee: float, now: str
) -> Trade | None:
    """Book an add of ``qty`` at ``price`` (paying ``fee``) into ``pos``; the add leg's row.

    Margin-style (perps): cash pays only the fee; the notional and margin grow with the size.
    """
    notional = qty * pos.multiplier * price
    if not (usable(qty) and usable(notional) and math.isfinite(fee) and fee >= 0):
        return None
    if pos.scale_in_count == 0 and pos.risk_anchor_price <= 0:
        pos.risk_anchor_price = pos.avg_cost  # frozen at the pre-blend average
    held = pos.quantity
    pos.avg_cost = (held * pos.avg_cost + qty * price) / (held + qty)
    pos.quantity = held + qty
    pos.initial_quantity += qty
    pos.cost_basis += notional
    pos.margin += notional / max(pos.leverage, 1.0)
    pos.scale_in_count += 1
    pos.last_add_price = price
    pos.added_notional_usd += notional
    acct.cash -= fee
    verb = Action.BUY if pos.side == Side.LONG else Action.SELL
    trade = Trade(
        acct.id, now, pos.symbol, pos.position_id, verb, qty, price, notional, fee, SCALE_IN
    )
    trade.details = (
        f"Scale-in #{pos.scale_in_count} {pos.side} {qty:.6g} {pos.symbol} @ "
        f"${fmt_money(price)} (avg ${fmt_money(pos.avg_cost)}, fee ${fee:.2f})"
    )
    return trade
