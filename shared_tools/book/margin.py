"""One margin model: equity, maintenance, liquidation price and liquidation.

The supervisor's cycle calls :func:`liquidate` with each cycle's marks and the backtester
calls it inside each bar, so both liquidate with the same rule (``docs/backtesting.md``,
"Gapped stops and liquidation"):

* equity = cash + what each position adds at its mark (margin-style: its unrealized P&L;
  spot: its market value);
* maintenance = perps: the instrument's ``maint_margin_rate`` x notional at the mark;
  futures: the per-contract ``maint_margin`` x contracts; spot: none;
* when equity <= maintenance, every margin-style position is closed (reason
  ``liquidation``) at the worse of its liquidation price and the first price seen past it,
  paying the close's fee plus the venue's liquidation fee;
* the loss is capped at the collateral: a fill past the bankruptcy price (where the
  account's cash would reach zero) is booked at that price, the venue's insurance fund taking
  the rest, so cash never ends below zero and equity is never negative.
"""

from __future__ import annotations

from collections.abc import Mapping

from shared_tools.book import book_for
from shared_tools.book.base import Book
from shared_tools.book.guard import worse
from shared_tools.book.model import Account, Position, Trade, fmt_money, usable
from shared_tools.book.rules import Rules
from shared_tools.domain import Kind

__all__ = ["equity", "liquidate", "liquidation_price", "maintenance"]

MARGIN_KINDS = (Kind.PERPS, Kind.FUTURES)


def _mark(pos: Position, marks: Mapping[str, float]) -> float:
    mark = marks.get(pos.symbol)
    return float(mark) if usable(mark) else pos.avg_cost


def _maint(pos: Position, mark: float, rules: Rules) -> float:
    inst = rules.instrument_of(pos.symbol)
    if pos.kind == Kind.PERPS:
        return inst.maint_margin_rate * pos.notional(mark)
    if pos.kind == Kind.FUTURES:
        return inst.maint_margin * pos.quantity
    return 0.0


def equity(acct: Account, marks: Mapping[str, float]) -> float:
    """Cash plus every position's value at its mark (at its entry price without one)."""
    return acct.cash + sum(p.value(_mark(p, marks)) for p in acct.positions.values())


def maintenance(acct: Account, marks: Mapping[str, float], rules: Rules) -> float:
    """The maintenance margin the account's positions need at ``marks``."""
    return sum(_maint(p, _mark(p, marks), rules) for p in acct.positions.values())


def liquidation_price(
    acct: Account, pos: Position, rules: Rules, marks: Mapping[str, float] | None = None
) -> float:
    """The mark of ``pos`` at which equity == maintenance (0.0: spot, or never).

    The account's other positions count at ``marks`` when given, else not at all (the
    one-position account of the backtester).
    """
    if pos.kind not in MARGIN_KINDS or pos.quantity <= 0:
        return 0.0
    base = acct.cash
    if marks is not None:
        for other in acct.positions.values():
            if other is not pos:
                mark = _mark(other, marks)
                base += other.value(mark) - _maint(other, mark, rules)
    inst = rules.instrument_of(pos.symbol)
    units = pos.quantity * pos.multiplier
    rate = inst.maint_margin_rate if pos.kind == Kind.PERPS else 0.0
    fixed = inst.maint_margin * pos.quantity if pos.kind == Kind.FUTURES else 0.0
    # base + s*units*(P - avg) - rate*units*P - fixed == 0, solved for P
    s = pos.sign
    price = (s * units * pos.avg_cost + fixed - base) / (units * (s - rate))
    return price if usable(price) else 0.0


def _bankruptcy_price(acct: Account, pos: Position, book: Book, liq_fee: float) -> float:
    """The fill at which closing ``pos`` (fees included) leaves the account's cash at zero.

    Every book's fee is linear in the price, so two evaluations give its fixed and
    proportional parts.
    """
    units = pos.quantity * pos.multiplier
    fixed = book.fee(pos, pos.quantity, 0.0)
    rate = (book.fee(pos, pos.quantity, 1.0) - fixed) / units + liq_fee
    s = pos.sign
    # cash + s*units*(P - avg) - fixed - rate*units*P == 0, solved for P
    return (s * units * pos.avg_cost + fixed - acct.cash) / (units * (s - rate))


def liquidate(
    acct: Account,
    rules: Rules,
    marks: Mapping[str, float],
    now: str,
    seen: Mapping[str, float] | None = None,
) -> list[Trade]:
    """Close every margin-style position when equity <= maintenance at ``marks``.

    Each fills at the worse of its liquidation price and ``seen`` (the first price seen past
    it; default the mark). Returns the close trades (reason ``liquidation``); nothing when a
    margin-style position has no usable mark (the caller retries with fresh marks).
    """
    held = [p for p in acct.positions.values() if p.kind in MARGIN_KINDS]
    if not held or any(not usable(marks.get(p.symbol)) for p in held):
        return []
    if equity(acct, marks) > maintenance(acct, marks, rules):
        return []
    seen = marks if seen is None else seen
    fills = []
    for pos in held:
        first = seen.get(pos.symbol)
        first = float(first) if usable(first) else float(marks[pos.symbol])
        trigger = liquidation_price(acct, pos, rules, marks)
        price = worse(trigger, first, pos.sign) if trigger > 0 else first
        fills.append(
            (pos.sign * pos.quantity * pos.multiplier * (price - pos.avg_cost), pos, price)
        )
    fills.sort(key=lambda f: -f[0])  # winners first: their gains are cash for the losers
    book = book_for(rules)
    trades = []
    for _pnl, pos, price in fills:
        trade = _close(acct, book, rules, pos, price, now)
        if trade is not None:
            trades.append(trade)
    return trades


def _close(
    acct: Account, book: Book, rules: Rules, pos: Position, price: float, now: str
) -> Trade | None:
    """Close ``pos`` at ``price`` (capped at the bankruptcy price) with the liquidation fee."""
    liq_fee = rules.instrument_of(pos.symbol).liquidation_fee
    floor = _bankruptcy_price(acct, pos, book, liq_fee)
    capped = usable(floor) and worse(price, floor, pos.sign) != floor
    if capped:
        price = floor
    units = pos.quantity * pos.multiplier
    trade, _ = book.close(acct, pos.symbol, price, now, 1.0, "liquidation")
    if trade is None:
        return None
    extra = liq_fee * units * price
    trade.fee += extra
    acct.cash -= extra
    if acct.cash < 0:  # float noise of the cap, or a gap the cap could not price
        trade.realized_pnl -= acct.cash
        acct.cash = 0.0
        capped = True
    acct.trade_count += 1
    if extra:
        trade.details += f" (liquidation fee ${extra:.2f})"
    if capped:
        trade.details += (
            f" (loss capped at the collateral: booked at the bankruptcy price "
            f"${fmt_money(price)}; the insurance fund takes the rest)"
        )
    return trade
