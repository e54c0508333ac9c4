"""The paper book: one accounting module for the supervisor and the backtester.

Pure Python (no pandas, numpy or SDKs), so the always-running supervisor can import it.

* :mod:`model`   positions (with their guard: stop and targets), trade rows, the P&L convention;
* :mod:`venues`  fee and contract tables;
* :mod:`instruments`  one row per venue and symbol: lots, ticks, minimums, margin, funding;
* :mod:`rules`   a strategy's trading terms and the direction rules for a signal;
* :mod:`guard`   stops and take-profit targets, armed at open and checked on every mark;
* :mod:`sizing`  how large a perps open is; :mod:`scale_in` pyramiding (adds to a position);
* :mod:`spot`, :mod:`perps`, :mod:`futures`  one book per instrument type (open, fee, lots);
  the close leg they share is in :mod:`base`;
* :mod:`funding`  the funding owed over a venue's funding intervals;
* :mod:`margin`  equity, maintenance and liquidation (import it as a submodule).

A caller asks :func:`apply_signal` what a signal does, :func:`protect` what the cycle's mark
triggers, :func:`accrue_funding` what a perp owes and ``margin.liquidate`` whether the account
is liquidated; each returns the trade rows it booked.
"""

from __future__ import annotations

from shared_tools.book.base import Book
from shared_tools.book.futures import FuturesBook
from shared_tools.book.guard import (
    Hit,
    Protection,
    after_target,
    arm,
    check,
    fill_price,
    stop_distance,
)
from shared_tools.book.model import Account, Guard, Position, Trade, fmt_money, usable
from shared_tools.book.perps import PerpsBook
from shared_tools.book.rules import Plan, Rules, decide
from shared_tools.book.scale_in import ScaleIn, add_refusal, blend
from shared_tools.book.spot import SpotBook
from shared_tools.domain import Action, Kind, Side

__all__ = [
    "Account",
    "Book",
    "Guard",
    "Hit",
    "Plan",
    "Position",
    "Protection",
    "Rules",
    "ScaleIn",
    "Trade",
    "accrue_funding",
    "add_to_position",
    "apply_signal",
    "book_for",
    "close_all",
    "decide",
    "fmt_money",
    "open_position",
    "protect",
]

MAX_ENTRY_ATR_SHARE = 0.5  # an entry ATR above half the price is a unit error, not volatility


def book_for(rules: Rules) -> Book:
    book: Book
    if rules.kind == Kind.PERPS:
        book = PerpsBook(
            rules.fee_rate,
            rules.leverage,
            rules.sizing_leverage,
            rules.margin_per_trade_usd,
            rules.risk_per_trade_pct,
        )
    elif rules.kind == Kind.FUTURES:
        book = FuturesBook(rules.contract, rules.fee_per_contract, rules.max_contracts)
    else:
        book = SpotBook(rules.fee_rate)
    book.market = rules.instrument_of
    return book


def open_position(
    acct: Account,
    rules: Rules,
    symbol: str,
    side: str,
    price: float,
    now: str,
    *,
    entry_atr: float = 0.0,
    regime: str = "",
    now_s: float = 0.0,
    fill: tuple[float, float] | None = None,
) -> tuple[Trade | None, str]:
    """Open ``side`` at ``price``, stamp the entry ATR and regime, and arm the guard.

    ``fill`` = (qty, fee) books a live venue fill instead of sizing from cash. The entry ATR
    is screened before the open, so risk sizing reads the stop distance the guard then arms.
    """
    if not usable(price):
        return None, "no valid price"
    if not rules.allows(side):
        return None, f"hold (direction {rules.direction}: no {side} entries)"
    atr = entry_atr if 0 < entry_atr < MAX_ENTRY_ATR_SHARE * price else 0.0
    book = book_for(rules)
    if isinstance(book, PerpsBook):
        sign = 1 if side == Side.LONG else -1
        distance = stop_distance(rules.protection, price, atr, book.leverage, sign, regime)
        trade, action = book.open(acct, symbol, side, price, now, fill=fill, stop_distance=distance)
    else:
        trade, action = book.open(acct, symbol, side, price, now, fill=fill)
    if trade is None:
        return None, action
    pos = acct.positions[symbol]
    pos.entry_atr = atr
    pos.regime = regime
    if rules.kind == Kind.PERPS:
        pos.funded_at = now_s
    notes = arm(pos, rules.protection)
    if pos.guard.stop or pos.guard.targets:
        trade.details += _guard_text(pos)
    if notes:
        action += " (" + "; ".join(notes) + ")"
    acct.trade_count += 1
    return trade, action


def add_to_position(
    acct: Account,
    rules: Rules,
    symbol: str,
    price: float,
    now: str,
    *,
    fill: tuple[float, float] | None = None,
) -> tuple[Trade | None, str]:
    """Scale in: add to the held position at ``price`` if ``rules.scale_in`` lets it.

    The add is sized ``add_notional_usd`` (0: the notional a fresh open would get now) and
    gated by :func:`shared_tools.book.scale_in.add_refusal`; ``fill`` = (qty, fee) books a live
    venue fill as is. The guard's triggers stay put (they hold absolute prices) and the stop
    and targets close the grown size. Not counted in the trade count (upstream's #T).
    """
    pos = acct.positions.get(symbol)
    book = book_for(rules)
    if pos is None or not isinstance(book, PerpsBook) or not usable(price):
        return None, "hold (nothing to add to)"
    if fill is None:
        notional = rules.scale_in.add_notional_usd
        if notional <= 0:
            distance = stop_distance(
                rules.protection, price, pos.entry_atr, book.leverage, pos.sign
            )
            notional = book.notional(acct.cash, price, distance)
        why = add_refusal(pos, price, rules.scale_in, notional)
        if why:
            return None, why
        if acct.cash <= 0 or notional <= 0:
            return None, f"hold (scale_in: no cash to add with: ${acct.cash:.2f})"
        qty, fee = notional / price, notional * book.fee_rate
        small = book.instrument(symbol).below_minimum(qty, price)
        if small:
            return None, f"hold (scale_in: {small})"
    else:
        qty, fee = fill
    trade = blend(acct, pos, qty, price, fee, now)
    if trade is None:
        return None, f"refused add: quantity {qty!r} at price {price!r} is not finite"
    verb = Action.BUY if pos.side == Side.LONG else Action.SELL
    return trade, f"{verb.upper()} {qty:.6g} @ {fmt_money(price)} (scale-in #{pos.scale_in_count})"


def _guard_text(pos: Position) -> str:
    g = pos.guard
    parts = []
    if g.stop:
        parts.append(f"{g.stop_kind.replace('_', ' ')} ${fmt_money(g.stop)}")
    if g.targets:
        parts.append("targets " + ", ".join(f"${fmt_money(p)}" for p, _f in g.targets))
    return " [" + "; ".join(parts) + "]"


def apply_signal(
    acct: Account,
    rules: Rules,
    symbol: str,
    signal: int,
    price: float,
    now: str,
    *,
    composed: bool = False,
    close_fraction: float = 1.0,
    entry_atr: float = 0.0,
    regime: str = "",
    now_s: float = 0.0,
    may_open: bool = True,
) -> tuple[list[Trade], str]:
    """Apply one signal at ``price``: close (a share of) the held side and/or open one.

    ``may_open`` False holds entries (a regime gate, a pause, a breaker) but lets closes run.
    """
    if not usable(price):
        return [], "no valid price"
    pos = acct.positions.get(symbol)
    plan = decide(
        pos.side if pos else "", signal, rules, composed=composed, close_fraction=close_fraction
    )
    trades: list[Trade] = []
    actions: list[str] = []
    if plan.close_fraction > 0 and pos is not None:
        trade, action = book_for(rules).close(
            acct, symbol, price, now, plan.close_fraction, "signal"
        )
        actions.append(action)
        if trade is not None:
            acct.trade_count += 1
            trades.append(trade)
    if plan.add and pos is not None:
        if may_open:
            trade, action = add_to_position(acct, rules, symbol, price, now)
            actions.append(action)
            if trade is not None:
                trades.append(trade)
        else:
            actions.append(f"{pos.side} scale-in entry held")
    if plan.open_side and symbol not in acct.positions:
        if may_open:
            trade, action = open_position(
                acct,
                rules,
                symbol,
                plan.open_side,
                price,
                now,
                entry_atr=entry_atr,
                regime=regime,
                now_s=now_s,
            )
            actions.append(action)
            if trade is not None:
                trades.append(trade)
        else:
            actions.append(f"{plan.open_side} entry held")
    return trades, "; ".join(actions) or plan.note


def protect(
    acct: Account,
    rules: Rules,
    symbol: str,
    mark: float,
    now: str,
    *,
    outranked_by: float = 0.0,
) -> list[Trade]:
    """Book what the position's stop and targets trigger at ``mark``.

    A target fills at its own price; a stop at the worse of its trigger and ``mark`` (the
    price that crossed it: a gap through the stop fills at the gapped mark), the rule the
    backtester uses too (:func:`guard.fill_price`).

    ``outranked_by`` is the share of the position another close (the check's answer) takes
    this cycle: when it is larger than what the triggers would close, the triggers yield (the
    largest close fraction wins, and a share is never closed twice). On a tie the triggers win:
    a resting stop or target fills the moment the price crosses it, before any check runs.
    """
    pos = acct.positions.get(symbol)
    if pos is None:
        return []
    hits = check(pos, mark)
    if not hits:
        return []
    remaining = 1.0
    for hit in hits:
        remaining *= 1.0 - hit.fraction
    if outranked_by > 1.0 - remaining + 1e-12:
        return []
    book = book_for(rules)
    trades: list[Trade] = []
    for hit in hits:
        if symbol not in acct.positions:
            break
        price = fill_price(hit, mark, pos.sign)
        trade, _ = book.close(acct, symbol, price, now, hit.fraction, hit.reason)
        if trade is not None:
            acct.trade_count += 1
            trades.append(trade)
    if symbol in acct.positions and any(h.reason == "take_profit" for h in hits):
        for i, (price, _f) in enumerate(pos.guard.targets):  # sl_after of each tier passed
            if (mark - price) * pos.sign >= 0:
                after_target(pos, i)
    return trades


def close_all(
    acct: Account, rules: Rules, marks: dict[str, float], now: str, reason: str
) -> list[Trade]:
    """Close every position at its mark: a breaker or the kill switch flattening the account.

    A position without a usable mark stays open (a close is never booked at an invented
    price); the trades returned are the closes made, and the caller retries the rest.
    """
    book = book_for(rules)
    trades: list[Trade] = []
    for symbol in list(acct.positions):
        price = marks.get(symbol)
        if not usable(price):
            continue
        trade, _ = book.close(acct, symbol, price, now, 1.0, reason)
        if trade is not None:
            acct.trade_count += 1
            trades.append(trade)
    legs = getattr(acct, "legs", None)
    if legs:  # option legs (type options) close at their last mark
        from shared_tools.book.options import OptionsBook
        from shared_tools.book.options_life import close_legs

        trades += close_legs(acct, OptionsBook(rules.platform), reason, now)  # type: ignore[arg-type]
    return trades


def accrue_funding(
    acct: Account,
    rules: Rules,
    symbol: str,
    hourly_rate: float,
    mark: float,
    now_s: float,
    now: str,
) -> Trade | None:
    """Funding owed or earned by the perp in ``symbol`` since its last accrual (None: nothing)."""
    pos = acct.positions.get(symbol)
    if pos is None or pos.kind != Kind.PERPS or rules.kind != Kind.PERPS:
        return None
    perps = book_for(rules)
    assert isinstance(perps, PerpsBook)  # rules.kind is perps
    return perps.accrue_funding(acct, pos, hourly_rate, mark, now_s, now)
