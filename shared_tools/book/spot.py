"""Spot: the account buys the asset with its cash and sells it back; it never shorts.

A BUY while flat spends all the cash, fee included, so cash never goes negative; an order below
the venue's minimum (the instrument table) is refused.
"""

from __future__ import annotations

from shared_tools.book.base import Book, finite_order
from shared_tools.book.model import Account, Position, Trade, fmt_money, new_position_id
from shared_tools.domain import Action, Kind, Side


class SpotBook(Book):
    kind = Kind.SPOT
    holds_notional = True

    def __init__(self, fee_rate: float) -> None:
        self.fee_rate = fee_rate

    def fee(self, pos: Position, qty: float, price: float) -> float:
        return qty * price * self.fee_rate

    def open(
        self,
        acct: Account,
        symbol: str,
        side: str,
        price: float,
        now: str,
        *,
        fill: tuple[float, float] | None = None,
    ) -> tuple[Trade | None, str]:
        if side != Side.LONG:
            return None, "hold (spot does not short)"
        if fill is not None:  # a live venue's buy (OKX spot, Robinhood): its quantity and fee
            qty, fee = fill
            notional = qty * price
            if not (qty > 0 and finite_order(qty, notional, fee)):
                return None, f"refused buy: fill {fill!r} is not a quantity and a fee"
            acct.cash -= notional + fee  # may go below 0: the desk's cash latch (#1394)
        else:
            budget = acct.cash
            if budget <= 0:
                return None, f"skip buy (no cash: ${budget:.2f})"
            notional = budget / (1.0 + self.fee_rate)
            qty = notional / price
            fee = budget - notional  # == notional * fee_rate; notional + fee is the budget
            if not finite_order(qty, notional, fee):
                return None, f"refused buy: quantity {qty!r} at price {price!r} is not finite"
            why = self.instrument(symbol).below_minimum(qty, price)
            if why:
                return None, f"skip buy ({why})"
            acct.cash = 0.0
        pid = new_position_id(acct.id, symbol)
        acct.positions[symbol] = Position(
            symbol=symbol,
            position_id=pid,
            quantity=qty,
            initial_quantity=qty,
            avg_cost=price,
            cost_basis=notional,
            opened_at=now,
            kind=Kind.SPOT,
        )
        trade = Trade(acct.id, now, symbol, pid, Action.BUY, qty, price, notional, fee, Kind.SPOT)
        trade.details = f"Open long {qty:.6g} {symbol} @ ${fmt_money(price)} (fee ${fee:.2f})"
        return trade, f"BUY {qty:.6g} @ {fmt_money(price)}"
