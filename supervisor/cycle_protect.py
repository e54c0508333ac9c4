"""The cycle's ``funding``, ``liquidation`` and ``protect`` steps: what a held position owes
and what closes it on this cycle's mark.

Split out of supervisor/cycle.py (which keeps the order of the steps and the shared
bookkeeping: marks, ``book_trades``, ``_fail``); the rules are the book's
(shared_tools/book/: funding, margin, stops and targets) and the breakers'
(supervisor/risk/breakers.py), so the backtester books the same numbers.

- funding: every perp held across a funding boundary pays or earns it;
- liquidation: a margin account at or below its maintenance margin is closed, with an alert;
- protect: per strategy, its breakers, then its stop and targets against this cycle's mark; a
  due strategy's answer is read first, and a larger close from the check outranks the triggers.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Protocol

from shared_tools import book
from shared_tools.book import margin
from shared_tools.config.model import StrategyConfig
from supervisor.cycle_report import CycleReport, Outcome
from supervisor.risk.breakers import evaluate_breakers
from supervisor.risk.portfolio import RiskEvent
from supervisor.run.jobs import Result
from supervisor.run.results import WorkerSignal, check_against_mark, read_signal
from supervisor.state.models import AppState, StrategyState, Trade

__all__ = ["fund", "hits_text", "liquidate", "protect_due", "watch"]


class LiveTrail(Protocol):
    """The one live hook this step calls (supervisor/live/desk.py)."""

    def trail(self, sc: StrategyConfig, strat: StrategyState, mark: float) -> None: ...


class Cycle(Protocol):
    """What these steps need of :class:`supervisor.cycle.Cycle` (no import back up)."""

    app: AppState
    report: CycleReport
    now: datetime
    stamp: str
    epoch: float
    funding: dict[str, dict[str, float]]
    results: dict[str, Result]
    readings: dict[str, tuple[WorkerSignal | None, str, str]]
    hits: dict[str, list[Trade]]
    log: Callable[[str], None]

    @property
    def live(self) -> LiveTrail | None: ...

    def events(self, events: list[RiskEvent]) -> None: ...

    def cycle_mark(self, platform: str, symbol: str) -> float: ...

    def risk_marks(
        self, strat: StrategyState, extra: dict[str, float] | None = None
    ) -> dict[str, float] | None: ...

    def book_trades(
        self, sc: StrategyConfig, strat: StrategyState, trades: list[Trade], bar: float = 0.0
    ) -> None: ...


def fund(cy: Cycle, sc: StrategyConfig, strat: StrategyState) -> None:
    """Funding owed or earned by the strategy's perps for every boundary crossed."""
    rates = cy.funding.get(strat.venue, {})
    for symbol in list(strat.positions):
        mark = cy.cycle_mark(strat.venue, symbol)
        rate = rates.get(symbol)
        if mark and rate is not None:
            t = book.accrue_funding(strat, sc.rules, symbol, rate, mark, cy.epoch, cy.stamp)
            if t is not None:
                cy.book_trades(sc, strat, [t])


def liquidate(cy: Cycle, sc: StrategyConfig, strat: StrategyState) -> None:
    """Close a margin account whose equity no longer covers its maintenance margin."""
    marks = {sym: cy.cycle_mark(strat.venue, sym) for sym in strat.positions}
    if not all(marks.values()):  # judged on this cycle's marks only, never a stale one
        return
    trades = margin.liquidate(strat, sc.rules, marks, cy.stamp)
    if not trades:
        return
    cy.book_trades(sc, strat, trades)
    legs = "; ".join(f"{t.symbol} {t.quantity:.6g} @ {t.price:g}" for t in trades)
    loss = sum(t.net_pnl for t in trades)
    text = (
        f"[{sc.id}] LIQUIDATED: equity fell to the maintenance margin; closed {legs} "
        f"(P&L ${loss:,.2f}, cash left ${strat.cash:,.2f})"
    )
    cy.events([RiskEvent("liquidation", text, critical=True)])
    cy.report.outcomes.append(Outcome(sc.id, action="liquidated"))


def judge_risk(cy: Cycle, sc: StrategyConfig, strat: StrategyState, extra: dict[str, float]) -> str:
    """Run the breakers if every held symbol has a fresh mark; returns the breaker reason."""
    marks = cy.risk_marks(strat, extra)
    if marks is None:
        if strat.positions:
            cy.report.notes.append(f"[{sc.id}] risk not judged: no fresh mark")
        return ""
    reason, closes = evaluate_breakers(strat, sc, marks, cy.now, cy.app.cycle_count)
    cy.book_trades(sc, strat, closes)
    if reason:
        until = strat.risk.circuit_breaker_until
        why = reason.removeprefix("circuit breaker: ")
        text = f"[{sc.id}] CIRCUIT BREAKER: {why}; positions closed, latched until {until}"
        cy.events([RiskEvent("breaker", text, critical=True)])
    return reason


def protect(
    cy: Cycle, sc: StrategyConfig, strat: StrategyState, outranked_by: float = 0.0
) -> list[Trade]:
    """Stops and targets of the strategy's position against this cycle's mark."""
    pos = strat.positions.get(sc.symbol)
    mark = cy.cycle_mark(strat.venue, sc.symbol) if pos is not None else 0.0
    if not mark:
        return []
    if sc.live and sc.platform == "hyperliquid":  # the venue's resting stop and targets
        # fire; the stop only trails here. OKX, TopStep, Robinhood: no venue stops upstream,
        # the book's evaluators below close and the desk sends the close (live/venues.py)
        if cy.live is not None:
            cy.live.trail(sc, strat, mark)
        return []
    trades = book.protect(strat, sc.rules, sc.symbol, mark, cy.stamp, outranked_by=outranked_by)
    cy.book_trades(sc, strat, trades)
    return trades


def watch(cy: Cycle, sc: StrategyConfig, strat: StrategyState) -> None:
    """Breakers, stops and targets for a strategy not due this cycle that holds a position."""
    reason = judge_risk(cy, sc, strat, {})
    if reason:
        cy.report.outcomes.append(Outcome(sc.id, action=reason))
        return
    hit = protect(cy, sc, strat)
    if hit:
        cy.report.outcomes.append(Outcome(sc.id, action=hits_text(hit)))


def read(cy: Cycle, sc: StrategyConfig, result: Result | None) -> tuple[WorkerSignal | None, str]:
    """The due strategy's answer checked against this cycle's mark; else why there is none."""
    if result is None:
        return None, "no result"
    if not result.ok:
        return None, result.error or "failed"
    try:
        sig = read_signal(result.data, sc.symbol)
        check_against_mark(sig.price, cy.cycle_mark(sc.venue, sc.symbol))
    except ValueError as exc:
        return None, f"bad result: {exc}"
    return sig, ""


def protect_due(cy: Cycle, sc: StrategyConfig) -> None:
    """A due strategy: read its answer, judge its breakers, then its stop and targets.

    A larger close from the check outranks the triggers (see ``book.protect``); a failed
    check never disarms the stops: they run on the mark.
    """
    strat = cy.app.strategies[sc.id]
    if sc.options is not None:  # its answer is read by cycle_options.apply_check
        cy.readings[sc.id] = (None, "", judge_risk(cy, sc, strat, {}))
        return
    sig, reason = read(cy, sc, cy.results.get(sc.id))
    extra = {sc.symbol: sig.price} if sig is not None and sig.price > 0 else {}
    breaker = judge_risk(cy, sc, strat, extra)
    cy.readings[sc.id] = (sig, reason, breaker)
    if breaker:
        return
    outranked_by = 0.0
    pos = strat.positions.get(sc.symbol)
    if sig is not None and pos is not None:
        plan = book.decide(
            pos.side,
            sig.signal,
            sc.rules,
            composed=sig.composed,
            close_fraction=sig.close_fraction,
        )
        outranked_by = plan.close_fraction
    cy.hits[sc.id] = protect(cy, sc, strat, outranked_by=outranked_by)


def hits_text(trades: list[Trade]) -> str:
    """The outcome line of the stops and targets that fired."""
    return "; ".join(f"{t.reason} {t.side.upper()} {t.quantity:.6g} @ {t.price:g}" for t in trades)
