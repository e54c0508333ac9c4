"""The close leg every book shares; each instrument type supplies its open, fee and lot rules.

Closing is the same arithmetic everywhere: ``gross = sign * qty * multiplier * (exit - avg)``
and the close fee leaves cash. Spot also gets the entry notional back (it bought the asset);
perps and futures never paid it (margin-style), so only the P&L moves their cash.
"""

from __future__ import annotations

import math
from collections.abc import Callable

from shared_tools.book.instruments import Instrument, instrument
from shared_tools.book.model import Account, Position, Trade, fmt_money, usable
from shared_tools.domain import Action


def finite_order(qty: float, notional: float, fee: float) -> bool:
    """An order the book can hold: positive finite quantity and notional, a finite fee."""
    return usable(qty) and usable(notional) and math.isfinite(fee) and fee >= 0


class Book:
    kind = "base"
    holds_notional = False  # spot: the position's notional was paid out of cash
    market: Callable[[str], Instrument] | None = None  # the rules' lookup (set by book_for)

    def instrument(self, symbol: str) -> Instrument:
        """The venue's terms for ``symbol`` (its minimums decide refusals and dust)."""
        if self.market is not None:
            return self.market(symbol)
        return instrument("", symbol, self.kind)

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
        raise NotImplementedError

    def fee(self, pos: Position, qty: float, price: float) -> float:
        raise NotImplementedError

    def whole(self, qty: float) -> float:
        """The tradable part of ``qty`` (futures: whole contracts)."""
        return qty

    def close(
        self,
        acct: Account,
        symbol: str,
        price: float,
        now: str,
        fraction: float = 1.0,
        reason: str = "",
        *,
        fill: tuple[float, float] | None = None,
    ) -> tuple[Trade | None, str]:
        """Close ``fraction`` (0..1] of the position in ``symbol`` at ``price``.

        ``fill`` = (qty, fee) books a venue's real fill instead (live): that quantity, capped at
        the position, at that fee; the position closes only when nothing is left.
        """
        pos = acct.positions[symbol]
        if not usable(price):
            return None, "no valid price"
        if fill is not None:
            qty, fee = min(fill[0], pos.quantity), fill[1]
            if not (usable(qty) and math.isfinite(fee)):
                return None, f"refused close: fill {fill!r} is not a quantity and a fee"
            full = pos.quantity - qty <= pos.quantity * 1e-9
            qty = pos.quantity if full else qty
        else:
            fraction = min(max(fraction, 0.0), 1.0) if math.isfinite(fraction) else 0.0
            if fraction <= 0:
                return None, "hold (close fraction 0)"
            full = fraction >= 1.0 - 1e-12
            qty = pos.quantity if full else self.whole(pos.quantity * fraction)
            if not full and qty <= 0:
                return None, "hold (partial close rounds to zero contracts)"
            rest = pos.quantity - qty
            if not full and (rest <= 0 or self.instrument(symbol).below_minimum(rest, price)):
                full, qty = True, pos.quantity  # the rest would be dust no venue takes
            fee = self.fee(pos, qty, price)
        share = qty / pos.quantity
        gross = pos.sign * qty * pos.multiplier * (price - pos.avg_cost)
        basis = pos.cost_basis * share
        acct.cash += (basis if self.holds_notional else 0.0) + gross - fee
        if full:
            del acct.positions[symbol]
        else:
            pos.quantity -= qty
            pos.cost_basis -= basis
            pos.margin -= pos.margin * share
        side = Action.SELL if pos.sign > 0 else Action.BUY
        why = f" [{reason}]" if reason else ""
        trade = Trade(
            strategy_id=acct.id,
            timestamp=now,
            symbol=symbol,
            position_id=pos.position_id,
            side=side,
            quantity=qty,
            price=price,
            value=qty * pos.multiplier * price,
            fee=fee,
            trade_type="hedge" if pos.hedge_for else self.kind,  # a hedge leg (book/hedge.py)
            is_close=True,
            realized_pnl=gross,
            reason=reason,
            details=(
                f"Close {pos.side} {qty:.6g} {symbol} @ ${fmt_money(price)}, "
                f"PnL: ${gross - fee:,.2f} (fee ${fee:.2f}){why}"
            ),
        )
        verb = side.upper()
        return trade, f"{verb} {qty:.6g} @ {fmt_money(price)} pnl {gross - fee:+,.2f}"
