"""Futures in whole contracts: the point value (multiplier) scales P&L, margin sizes the order.

Opening (upstream §1.5): contracts = floor(cash / margin per contract), capped by
``futures.max_contracts``; refused below one. Margin per contract is the contract spec's, or
price * multiplier for a root without one. Only the per-contract fee leaves cash on open; P&L
is contracts * multiplier * price move. A partial close rounds down to whole contracts.
"""

from __future__ import annotations

import math

from shared_tools.book.base import Book, finite_order
from shared_tools.book.model import Account, Position, Trade, fmt_money, new_position_id
from shared_tools.book.venues import ContractSpec
from shared_tools.domain import Action, Kind, Side


class FuturesBook(Book):
    kind = Kind.FUTURES

    def __init__(
        self, contract: ContractSpec | None, fee_per_contract: float = 0.0, max_contracts: int = 0
    ) -> None:
        self.contract = contract
        self.fee_per_contract = fee_per_contract
        self.max_contracts = max_contracts

    @property
    def multiplier(self) -> float:
        return self.contract.multiplier if self.contract else 1.0

    def fee(self, pos: Position, qty: float, price: float) -> float:
        return qty * self.fee_per_contract

    def whole(self, qty: float) -> float:
        return float(math.floor(qty + 1e-9))

    def margin_per_contract(self, price: float) -> float:
        if self.contract and self.contract.margin > 0:
            return self.contract.margin
        return price * self.multiplier

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
        per = self.margin_per_contract(price)
        if fill is not None:  # a live venue's fill (TopStep): its whole contracts and fee
            n, fee = int(round(fill[0])), fill[1]
            if n < 1 or not math.isfinite(fee):
                return None, f"refused {side}: fill {fill!r} is not whole contracts and a fee"
        else:
            n = math.floor(acct.cash / per) if per > 0 and acct.cash > 0 else 0
            if self.max_contracts > 0:
                n = min(n, self.max_contracts)
            if n < 1:
                return (
                    None,
                    f"skip {side} (cash ${acct.cash:,.2f} below one contract's ${per:,.2f})",
                )
            fee = n * self.fee_per_contract
        qty = float(n)
        if not finite_order(qty, qty * self.multiplier * price, fee):
            return None, f"refused {side}: {n} contracts at price {price!r} is not finite"
        acct.cash -= fee
        pid = new_position_id(acct.id, symbol)
        mult = self.multiplier
        acct.positions[symbol] = Position(
            symbol=symbol,
            position_id=pid,
            quantity=qty,
            initial_quantity=qty,
            avg_cost=price,
            cost_basis=qty * mult * price,
            side=Side(side),
            opened_at=now,
            kind=Kind.FUTURES,
            multiplier=mult,
            margin=qty * per,
        )
        verb = Action.BUY if side == Side.LONG else Action.SELL
        trade = Trade(acct.id, now, symbol, pid, verb, qty, price, qty * mult * price, fee)
        trade.trade_type = Kind.FUTURES
        trade.details = (
            f"Open {side} {n} {symbol} @ ${fmt_money(price)} (x{mult:g}, fee ${fee:.2f})"
        )
        return trade, f"{verb.upper()} {n} {symbol} @ {fmt_money(price)} ({side})"
