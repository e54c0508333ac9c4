"""Paper spot book: turn a signal and a fill price into trades, cash and positions.

Rules (upstream-compatible where it was right):
* BUY while flat spends all available cash, fee included, so cash never goes negative;
* BUY while long is a no-op ("already long"); spot never opens a short;
* SELL closes the long (or ``close_fraction`` of it); SELL while flat is a no-op;
* realized P&L is net of the open fee (carried in ``cost_basis``) and the close fee, so
  ``cash + sum(cost_basis) == initial_capital + sum(realized_pnl)`` holds at all times;
* a partial close that would leave less than the venue minimum (dust) closes everything;
* nothing non-finite enters the book: a price or quantity that is not a finite positive number
  is refused with a reason instead of booked.
"""

from __future__ import annotations

import itertools
import math
import time

from supervisor.models import Position, StrategyState, Trade

# Taker fees by platform (fraction of notional). Unknown platforms pay the Binance US rate.
SPOT_FEES: dict[str, float] = {
    "binanceus": 0.001,
    "binance": 0.001,
    "okx": 0.001,
    "luno": 0.01,
    "robinhood": 0.0,
    "hyperliquid": 0.00045,
}
DEFAULT_SPOT_FEE = 0.001
MIN_ORDER_USD = 1.0

_nonce = itertools.count(1)


def spot_fee_rate(platform: str) -> float:
    return SPOT_FEES.get(platform, DEFAULT_SPOT_FEE)


def _usable(x: float) -> bool:
    """A finite, positive amount (NaN fails every comparison, so test it explicitly)."""
    return isinstance(x, (int, float)) and math.isfinite(x) and x > 0


def new_position_id(strategy_id: str, symbol: str) -> str:
    return f"{strategy_id}:{symbol}:{time.time_ns()}:{next(_nonce)}"


def _fmt(x: float) -> str:
    return f"{x:,.2f}" if abs(x) >= 1 else f"{x:.6g}"


def apply_spot_signal(
    strat: StrategyState,
    symbol: str,
    signal: int,
    price: float,
    now: str,
    *,
    fee_rate: float,
    close_fraction: float = 1.0,
    entry_atr: float = 0.0,
    cycle: int = 0,
    reason: str = "",
) -> tuple[list[Trade], str]:
    """Apply one signal; returns the trades made and a short human description of the outcome."""
    if not _usable(price):
        return [], "no valid price"
    pos = strat.positions.get(symbol)
    if signal > 0:
        if pos is not None:
            return [], "hold (already long)"
        return _open_long(strat, symbol, price, now, fee_rate, entry_atr, cycle)
    if signal < 0:
        if pos is None:
            return [], "hold (flat, spot does not short)"
        return close_long(strat, symbol, price, now, fee_rate, close_fraction, cycle, reason)
    return [], "hold"


def _open_long(
    strat: StrategyState,
    symbol: str,
    price: float,
    now: str,
    fee_rate: float,
    entry_atr: float,
    cycle: int,
) -> tuple[list[Trade], str]:
    budget = strat.cash
    if budget < MIN_ORDER_USD:
        return [], f"skip buy (cash ${budget:.2f} below ${MIN_ORDER_USD:.0f})"
    notional = budget / (1.0 + fee_rate)
    qty = notional / price
    fee = budget - notional  # == notional * fee_rate, and notional + fee is exactly the budget
    if not (_usable(qty) and _usable(notional) and math.isfinite(fee)):
        return [], f"refused buy: quantity {qty!r} at price {price!r} is not a finite amount"
    strat.cash = 0.0
    pid = new_position_id(strat.id, symbol)
    strat.positions[symbol] = Position(
        symbol=symbol,
        position_id=pid,
        quantity=qty,
        initial_quantity=qty,
        avg_cost=price,
        cost_basis=budget,
        entry_atr=entry_atr if 0 < entry_atr < 0.5 * price else 0.0,
        opened_at=now,
    )
    trade = Trade(
        strategy_id=strat.id,
        timestamp=now,
        symbol=symbol,
        position_id=pid,
        side="buy",
        quantity=qty,
        price=price,
        value=notional,
        fee=fee,
        details=f"Open long {qty:.6g} {symbol} @ ${_fmt(price)} (fee ${fee:.2f})",
        cycle=cycle,
    )
    strat.trade_count += 1
    return [trade], f"BUY {qty:.6g} @ {_fmt(price)}"


def close_long(
    strat: StrategyState,
    symbol: str,
    price: float,
    now: str,
    fee_rate: float,
    fraction: float = 1.0,
    cycle: int = 0,
    reason: str = "",
) -> tuple[list[Trade], str]:
    """Close ``fraction`` (0..1] of the long in ``symbol`` at ``price``."""
    pos = strat.positions[symbol]
    if not _usable(price):
        return [], "no valid price"
    fraction = min(max(fraction, 0.0), 1.0) if math.isfinite(fraction) else 0.0
    if fraction <= 0:
        return [], "hold (close fraction 0)"
    full = fraction >= 1.0 - 1e-12
    if not full and pos.quantity * (1.0 - fraction) * price < MIN_ORDER_USD:
        full = True  # the rest would be dust no venue accepts an order for: close it all
    qty = pos.quantity if full else pos.quantity * fraction
    proceeds = qty * price
    fee = proceeds * fee_rate
    basis = pos.cost_basis if full else pos.cost_basis * fraction
    pnl = proceeds - fee - basis
    strat.cash += proceeds - fee
    if full:
        del strat.positions[symbol]
    else:
        pos.quantity -= qty
        pos.cost_basis -= basis
    why = f" [{reason}]" if reason else ""
    trade = Trade(
        strategy_id=strat.id,
        timestamp=now,
        symbol=symbol,
        position_id=pos.position_id,
        side="sell",
        quantity=qty,
        price=price,
        value=proceeds,
        fee=fee,
        is_close=True,
        realized_pnl=pnl,
        details=(
            f"Close long {qty:.6g} {symbol} @ ${_fmt(price)}, PnL: ${pnl:,.2f} (fee ${fee:.2f}){why}"
        ),
        cycle=cycle,
    )
    strat.trade_count += 1
    return [trade], f"SELL {qty:.6g} @ {_fmt(price)} pnl {pnl:+,.2f}"
