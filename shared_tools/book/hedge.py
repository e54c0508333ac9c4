"""The hedge leg: a perps position on a second coin, opposite the primary, sized from it.

Upstream's state-derived reconciler (reference C.9), run once per cycle after the strategy
traded. The leg lives in the strategy's own book (``acct.positions[hedge coin]``, marked
``hedge_for`` = the primary symbol), so cash + positions = value holds with it; its rows are
trade type ``hedge``: they count in the day's P&L but never in the loss streak, and the leg has
no stop, target or close evaluator. Its watermark ``hedge_basis`` is the primary quantity the
leg was last sized against:

* no leg yet: open ``primary_qty x primary_px x ratio / hedge_px``;
* the primary grew past the basis: hedge the added quantity at today's notional;
* the primary shrank below it: cut the leg by the same *fraction*;
* primary flat, or the leg on the wrong side: close the leg;
* an order under $10 (the venue's floor) waits, and the basis is held, so small changes add up;
* a missing mark for either coin blocks the whole step (no fallback to the entry price).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from shared_tools.book.base import finite_order
from shared_tools.book.model import Account, Position, Trade, fmt_money, new_position_id, usable
from shared_tools.book.perps import PerpsBook
from shared_tools.domain import Action, Kind, Side

__all__ = ["HEDGE", "MIN_ORDER_USD", "HedgeLeg", "reconcile_hedge"]

HEDGE = "hedge"  # the trade type of every hedge row
MIN_ORDER_USD = 10.0
EPS = 1e-12


@dataclass(frozen=True)
class HedgeLeg:
    """What the reconciler needs of a ``hedge`` block (config/hedge.py) and the venue."""

    symbol: str
    ratio: float = 1.0
    leverage: float = 1.0
    fee_rate: float = 0.0


def _opposite(side: str) -> Side:
    return Side.SHORT if side == Side.LONG else Side.LONG


def reconcile_hedge(
    acct: Account,
    primary: str,
    leg: HedgeLeg,
    marks: Mapping[str, float],
    now: str,
    now_s: float = 0.0,
    *,
    may_open: bool = True,
) -> tuple[list[Trade], str]:
    """Bring the hedge leg in line with the primary position; (rows booked, what happened).

    ``may_open`` False (a kill switch or breaker latched) holds opens and growth; cuts and
    closes still run.
    """
    pos = acct.positions.get(primary)
    hedge = acct.positions.get(leg.symbol)
    if hedge is not None and hedge.hedge_for != primary:
        return [], f"hedge blocked: {leg.symbol} is held but not as {primary}'s hedge"
    if pos is None and hedge is None:
        return [], ""
    h_px, p_px = marks.get(leg.symbol), marks.get(primary)
    if not usable(h_px) or (pos is not None and not usable(p_px)):
        missing = leg.symbol if not usable(h_px) else primary
        return [], f"hedge blocked: no mark for {missing}"
    book = PerpsBook(leg.fee_rate, leg.leverage)
    if pos is None or (hedge is not None and hedge.side != _opposite(pos.side)):
        assert hedge is not None
        why = "hedge_primary_flat" if pos is None else "hedge_wrong_side"
        return _close(acct, book, leg.symbol, h_px, now, 1.0, why)
    assert usable(p_px)
    grows = hedge is None or pos.quantity > hedge.hedge_basis * (1 + 1e-9)
    if grows and not may_open:
        return [], "hedge held: a latch holds new exposure"
    if hedge is None:
        qty = pos.quantity * p_px * leg.ratio / h_px
        return _open(acct, book, primary, leg, _opposite(pos.side), qty, h_px, now, now_s, pos)
    basis = hedge.hedge_basis
    if pos.quantity > basis * (1 + 1e-9):
        qty = (pos.quantity - basis) * p_px * leg.ratio / h_px
        return _open(acct, book, primary, leg, hedge.side, qty, h_px, now, now_s, pos)
    if pos.quantity < basis * (1 - 1e-9) and basis > 0:
        fraction = 1.0 - pos.quantity / basis
        cut = hedge.quantity * fraction * h_px
        if cut < MIN_ORDER_USD:
            return [], _deferred(cut, basis)
        trades, note = _close(acct, book, leg.symbol, h_px, now, fraction, "hedge_shrink")
        if leg.symbol in acct.positions:
            acct.positions[leg.symbol].hedge_basis = pos.quantity
        return trades, note
    return [], ""


def _deferred(notional: float, basis: float) -> str:
    return (
        f"hedge order ${notional:,.2f} under the ${MIN_ORDER_USD:g} minimum: deferred "
        f"(basis {basis:.6g} held)"
    )


def _open(
    acct: Account,
    book: PerpsBook,
    primary: str,
    leg: HedgeLeg,
    side: Side,
    qty: float,
    price: float,
    now: str,
    now_s: float,
    pos: Position,
) -> tuple[list[Trade], str]:
    """Open the leg, or add ``qty`` to it; the basis moves to the primary's quantity."""
    notional = qty * price
    held = acct.positions.get(leg.symbol)
    if notional < MIN_ORDER_USD:
        return [], _deferred(notional, held.hedge_basis if held else 0.0)
    fee = notional * leg.fee_rate
    if not finite_order(qty, notional, fee):
        return [], f"hedge refused: quantity {qty!r} at {price!r} is not finite"
    acct.cash -= fee
    if held is None:
        held = Position(
            symbol=leg.symbol,
            position_id=new_position_id(acct.id, leg.symbol),
            quantity=qty,
            initial_quantity=qty,
            avg_cost=price,
            cost_basis=notional,
            side=side,
            opened_at=now,
            kind=Kind.PERPS,
            leverage=book.leverage,
            margin=notional / book.leverage,
            funded_at=now_s,
            hedge_for=primary,
        )
        acct.positions[leg.symbol] = held
        what = "Open hedge"
    else:
        total = held.quantity + qty
        held.avg_cost = (held.quantity * held.avg_cost + qty * price) / total
        held.quantity = total
        held.initial_quantity += qty
        held.cost_basis += notional
        held.margin += notional / book.leverage
        what = "Add to hedge"
    held.hedge_basis = pos.quantity
    verb = Action.BUY if side == Side.LONG else Action.SELL
    trade = Trade(
        acct.id, now, leg.symbol, held.position_id, verb, qty, price, notional, fee, HEDGE
    )
    trade.reason = HEDGE
    trade.details = (
        f"{what} {side} {qty:.6g} {leg.symbol} @ ${fmt_money(price)} against {primary} "
        f"{pos.quantity:.6g} (ratio {leg.ratio:g}, {book.leverage:g}x, fee ${fee:.2f})"
    )
    return [trade], f"hedge {verb} {qty:.6g} {leg.symbol} @ {fmt_money(price)}"


def _close(
    acct: Account,
    book: PerpsBook,
    symbol: str,
    price: float,
    now: str,
    fraction: float,
    reason: str,
) -> tuple[list[Trade], str]:
    trade, action = book.close(acct, symbol, price, now, fraction, reason)
    if trade is None:
        return [], f"hedge: {action}"
    return [trade], f"hedge {action} [{reason}]"
