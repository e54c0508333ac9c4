"""Capital changes are cashflows, never gains or losses.

Every change of a strategy's capital passes through :func:`cashflow`: a SIGHUP reload, a
restart with a new capital in the config, a strategy added to the roster (a deposit from 0)
or pruned from it (its value withdrawn). It moves the strategy's cash and P&L baseline
(``initial_capital``) by the amount, scales the strategy's risk peak and the portfolio peak so
that no drawdown reading changes, and journals the amount as a row of the ``cashflows`` table,
committed with the next save of the book (the same transaction). Without this a halved capital
reads as a 50% drawdown and fires the kill switch (docs/operator.md, "Changing capital").

The journal's latest rows live in ``app.extra["cashflows"]`` (for ``/status``); rows with
``id == 0`` are not on disk yet. :mod:`supervisor.state.db` strips the key from ``extra_json``,
inserts the pending rows and reloads the latest ones on open.
"""

from __future__ import annotations

from datetime import datetime

from shared_tools.clock import now_utc
from supervisor.risk import portfolio as risk_portfolio
from supervisor.state.models import AppState, StrategyState, utc_iso

KEY = "cashflows"
RECENT_KEPT = 50  # rows kept in memory for /status; the table holds them all
EPS = 1e-9

__all__ = [
    "KEY",
    "add_strategy",
    "baseline",
    "cashflow",
    "committed",
    "cut_problem",
    "describe",
    "pending",
    "recent",
    "remove_strategy",
    "scaled_peak",
    "set_capital",
    "trim",
]


def baseline(sc) -> float:
    """The P&L baseline a config entry asks for (``initial_capital``, else ``capital``)."""
    return float(sc.initial_capital or sc.capital)


def scaled_peak(peak: float, value: float, amount: float) -> float:
    """A peak after ``amount`` flows into a book worth ``value``, its drawdown % unchanged.

    peak * (value + amount) / value keeps (peak - value) / peak; a book worth nothing has no
    percentage to keep, so its peak just moves by the amount. A peak of 0 means "not set yet"
    and stays 0 while the book has value (the next reading sets it).
    """
    if value > EPS:
        return max(peak * (value + amount) / value, 0.0)
    return max(peak + amount, 0.0)


def book_value(app: AppState, strat: StrategyState) -> float:
    """The strategy at its latest marks (the rule the peaks are ratcheted on)."""
    return strat.value(app.prices_for(strat.venue))


def cut_problem(strat: StrategyState, capital: float) -> str:
    """Why moving ``strat``'s baseline to ``capital`` is refused ("" when it is not)."""
    delta = capital - strat.initial_capital
    if delta < 0 and strat.cash + delta < -EPS:
        return (
            f"strategy[{strat.id}]: capital cut of {-delta:,.2f} exceeds free cash "
            f"{strat.cash:,.2f}; close positions first"
        )
    return ""


def cashflow(
    app: AppState,
    strat: StrategyState,
    amount: float,
    reason: str,
    *,
    now: datetime | None = None,
) -> dict | None:
    """THE capital change: ``amount`` (signed USD) into ``strat``, journaled as ``reason``.

    Cash and the P&L baseline move by the amount (P&L stays); the strategy's peak and the
    portfolio peak are scaled on the values before the flow (drawdowns stay). Returns the
    journal row, or None for a zero amount.
    """
    if abs(amount) <= EPS:
        return None
    value = book_value(app, strat)
    total = sum(book_value(app, st) for st in app.strategies.values() if st is not strat) + value
    strat.risk.peak_value = scaled_peak(strat.risk.peak_value, value, amount)
    strat.cash += amount
    strat.initial_capital += amount
    s = risk_portfolio.state(app)
    if s["peak"]:  # 0: not set yet; the first trusted reading sets it (first start)
        s["peak"] = scaled_peak(s["peak"], total, amount)
    row = {
        "id": 0,
        "at": utc_iso(now or now_utc()),
        "strategy_id": strat.id,
        "amount": amount,
        "reason": reason,
        "cycle": app.cycle_count,
    }
    app.extra[KEY] = trim([*recent(app), row])
    return row


def set_capital(
    app: AppState, strat: StrategyState, capital: float, reason: str, *, now=None
) -> dict | None:
    """Move ``strat``'s P&L baseline to ``capital`` (reload, restart) as a cashflow."""
    return cashflow(app, strat, capital - strat.initial_capital, reason, now=now)


def add_strategy(
    app: AppState, strat: StrategyState, capital: float, base: float, reason: str, *, now=None
) -> dict | None:
    """Put an empty ``strat`` on the roster and deposit ``capital`` into it.

    ``base`` is the P&L baseline the config asks for (usually the capital itself); the deposit
    lands on top of ``base - capital`` so both end where the config says.
    """
    strat.cash, strat.initial_capital = 0.0, base - capital
    strat.risk.peak_value = 0.0
    row = cashflow(app, strat, capital, reason, now=now)
    app.strategies[strat.id] = strat
    _sync_ids(app)
    return row


def remove_strategy(app: AppState, sid: str, reason: str, *, now=None) -> dict | None:
    """Take ``sid`` off the roster: its value (positions at their latest marks) is withdrawn."""
    strat = app.strategies[sid]
    row = cashflow(app, strat, -book_value(app, strat), reason, now=now)
    del app.strategies[sid]
    _sync_ids(app)
    return row


def _sync_ids(app: AppState) -> None:
    """The portfolio peak covers exactly the strategies on the roster."""
    s = risk_portfolio.state(app)
    if s["peak"]:
        s["ids"] = sorted(app.strategies)


def recent(app: AppState) -> list[dict]:
    """The journal's latest rows, oldest first (pending ones included)."""
    rows = app.extra.get(KEY)
    return list(rows) if isinstance(rows, list) else []


def pending(app: AppState) -> list[dict]:
    """Rows booked in memory and not yet committed (``id`` 0)."""
    return [r for r in recent(app) if not r.get("id")]


def trim(rows: list[dict]) -> list[dict]:
    """The latest RECENT_KEPT rows, but never drop one that is not on disk yet."""
    unsaved = [r for r in rows if not r.get("id")]
    saved = [r for r in rows if r.get("id")]
    keep = max(RECENT_KEPT - len(unsaved), 0)
    return (saved[-keep:] if keep else []) + unsaved


def committed(app: AppState, rows: list[dict], ids: list[int]) -> None:
    """The save that inserted ``rows`` committed: they now carry their DB ids."""
    for row, rid in zip(rows, ids, strict=True):
        row["id"] = rid
    app.extra[KEY] = trim(recent(app))


def describe(row: dict | None) -> str:
    """A log line's part: ``cashflow -500.00`` (the caller says why)."""
    return "no cashflow" if row is None else f"cashflow {row['amount']:+,.2f}"
