"""Perpetual swaps, margin-style: an open pays only its fee; the notional stays virtual.

Sizing (upstream §1.4) is :func:`shared_tools.book.sizing.perps_notional`: cash x
sizing_leverage, ``margin_per_trade_usd`` x leverage, or ``risk_per_trade_pct`` of cash over
the stop distance (refused when there is none).

Leverage sets the margin a position ties up (notional / leverage, shown in /status and used by
the margin stop); it does not scale P&L, which is quantity * price move. Funding is booked as
its own rows, once per funding interval of the venue (the instrument table: Hyperliquid hourly,
OKX every 8 hours) the position was held across.
"""

from __future__ import annotations

import math

from shared_tools.book.base import Book, finite_order
from shared_tools.book.funding import funding_due
from shared_tools.book.model import Account, Position, Trade, fmt_money, new_position_id
from shared_tools.book.sizing import Sizing, perps_notional
from shared_tools.domain import Action, Kind, Reason, Side

HOUR = 3600


class PerpsBook(Book):
    kind = Kind.PERPS

    def __init__(
        self,
        fee_rate: float,
        leverage: float = 1.0,
        sizing_leverage: float = 0.0,
        margin_per_trade_usd: float = 0.0,
        risk_per_trade_pct: float = 0.0,
    ) -> None:
        self.fee_rate = fee_rate
        self.leverage = max(leverage, 1.0)
        self.sizing = Sizing(
            self.leverage, sizing_leverage, margin_per_trade_usd, risk_per_trade_pct
        )

    def fee(self, pos: Position, qty: float, price: float) -> float:
        return qty * price * self.fee_rate

    def notional(self, cash: float, price: float = 0.0, stop_distance: float = 0.0) -> float:
        """The notional a fresh open at ``price`` gets (0: refused, see :meth:`open`)."""
        return perps_notional(cash, price, self.sizing, stop_distance)[0]

    def open(
        self,
        acct: Account,
        symbol: str,
        side: str,
        price: float,
        now: str,
        *,
        fill: tuple[float, float] | None = None,
        stop_distance: float = 0.0,
    ) -> tuple[Trade | None, str]:
        """Open at ``price``, sized from cash; ``fill`` = (qty, fee) books a venue's real fill
        instead (live: the venue sized, filled and charged it, docs/architecture.md "Live").

        ``stop_distance`` is the distance to the stop this open will be armed with
        (:func:`shared_tools.book.guard.stop_distance`); risk sizing refuses the open without it.
        """
        if fill is None:
            if acct.cash <= 0:
                return None, f"skip {side} (no cash: ${acct.cash:.2f})"
            notional, why = perps_notional(acct.cash, price, self.sizing, stop_distance)
            if why:
                return None, f"skip {side} ({why})"
            qty = notional / price
            fee = notional * self.fee_rate
        else:
            qty, fee = fill
            notional = qty * price
        if not finite_order(qty, notional, fee):
            return None, f"refused {side}: quantity {qty!r} at price {price!r} is not finite"
        why = self.instrument(symbol).below_minimum(qty, price) if fill is None else ""
        if why:
            return None, f"skip {side} ({why})"
        acct.cash -= fee
        pid = new_position_id(acct.id, symbol)
        acct.positions[symbol] = Position(
            symbol=symbol,
            position_id=pid,
            quantity=qty,
            initial_quantity=qty,
            avg_cost=price,
            cost_basis=notional,
            side=Side(side),
            opened_at=now,
            kind=Kind.PERPS,
            leverage=self.leverage,
            margin=notional / self.leverage,
        )
        verb = Action.BUY if side == Side.LONG else Action.SELL
        trade = Trade(acct.id, now, symbol, pid, verb, qty, price, notional, fee, Kind.PERPS)
        trade.details = (
            f"Open {side} {qty:.6g} {symbol} @ ${fmt_money(price)} "
            f"({self.leverage:g}x, fee ${fee:.2f})"
        )
        return trade, f"{verb.upper()} {qty:.6g} @ {fmt_money(price)} ({side})"

    def accrue_funding(
        self, acct: Account, pos: Position, hourly_rate: float, mark: float, now_s: float, now: str
    ) -> Trade | None:
        """Book the funding for every funding boundary crossed since the last accrual.

        A positive (hourly) rate means longs pay shorts, as on every venue. The rate and mark
        are the cycle's, applied to each boundary crossed: a position held over three of them
        while the supervisor was down pays three periods at the rate it sees on return.
        """
        if not (math.isfinite(hourly_rate) and math.isfinite(mark) and mark > 0):
            return None
        if pos.funded_at <= 0:
            pos.funded_at = now_s
            return None
        interval = self.instrument(pos.symbol).funding_interval_s or HOUR
        amount, periods = funding_due(
            pos.sign, pos.quantity, mark, hourly_rate, pos.funded_at, now_s, interval
        )
        if periods < 1:
            return None
        pos.funded_at = now_s
        acct.cash += amount
        paid = "received" if amount >= 0 else "paid"
        return Trade(
            strategy_id=acct.id,
            timestamp=now,
            symbol=pos.symbol,
            position_id=pos.position_id,
            side=Action.FUNDING,
            quantity=pos.quantity,
            price=mark,
            value=pos.quantity * mark,
            fee=0.0,
            trade_type="funding",
            realized_pnl=amount,
            reason=Reason.FUNDING,
            details=(
                f"Funding {paid} ${abs(amount):.4f} on {pos.side} {pos.quantity:.6g} "
                f"{pos.symbol} ({periods} x {interval / HOUR:g}h at {hourly_rate * 100:.4f}%/h)"
            ),
        )
