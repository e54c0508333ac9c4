"""The cycle's ``portfolio`` step: the kill switch and the book-wide entry holds.

Book-wide state and its rules live in :mod:`supervisor.risk.portfolio`; this step reads the
cycle's fresh marks, asks those rules, flattens the book when the kill switch holds and sets
the holds every later step obeys (``cy.halted``: nothing trades; ``cy.daily_hold`` and
``cy.notional_hold``: nothing opens; ``cy.exposure``: what the exposure caps read).
"""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from shared_tools import book
from shared_tools.book.options_life import leg_notional
from shared_tools.config.model import Config, StrategyConfig
from shared_tools.domain import Reason
from supervisor.cycle_report import CycleReport, Outcome
from supervisor.risk import exposure as risk_exposure
from supervisor.risk import portfolio as risk_portfolio
from supervisor.risk.exposure import Exposure
from supervisor.risk.portfolio import RiskEvent
from supervisor.state.models import AppState, StrategyState, Trade


class Cycle(Protocol):
    """What this step needs of :class:`supervisor.cycle.Cycle` (no import back up)."""

    app: AppState
    config: Config
    now: datetime
    stamp: str
    report: CycleReport
    halted: str
    daily_hold: str
    notional_hold: str
    exposure: Exposure

    def events(self, events: list[RiskEvent]) -> None: ...

    def risk_marks(self, strat: StrategyState) -> dict[str, float] | None: ...

    def book_trades(
        self, sc: StrategyConfig, strat: StrategyState, trades: list[Trade]
    ) -> None: ...


def judge_book(cy: Cycle) -> None:
    """The kill switch (judge, flatten, auto-reset) and the book-wide entry holds.

    Runs right after the marks arrive and before any strategy, so a book over its limit
    never trades on: when it fires, every position is closed at this cycle's marks and no
    per-strategy alert joins the kill switch's (one alert, not two).
    """
    settings, ids = cy.config.risk, [sc.id for sc in cy.config.strategies]
    marks = {sid: cy.risk_marks(st) for sid, st in cy.app.strategies.items()}
    trusted = all(m is not None for m in marks.values())
    total = sum(st.value(marks[sid] or {}) for sid, st in cy.app.strategies.items())
    state = risk_portfolio.state(cy.app)
    if state["kill_switch"]:
        flat = not any(st.positions for st in cy.app.strategies.values())
        if flat and trusted and not risk_portfolio.owner_configured(cy.config):
            why = "automatic: the book is flat and no owner is configured to reset it"
            cy.events([risk_portfolio.reset(cy.app, total, ids, cy.now, why)])
        else:
            cy.halted = f"kill switch active since {state['kill_switch_at']}"
            flatten(cy, marks)  # what a missing mark kept open before is closed now
            return
    elif trusted:
        margin_dd = risk_portfolio.margin_drawdown(cy.app.strategies.values(), marks)
        events = risk_portfolio.judge(cy.app, settings, total, ids, cy.now, margin_dd=margin_dd)
        cy.events(events)
    else:  # stale marks stand in for the missing ones; a latch waits (upstream #1449)
        stale = sum(
            st.value(marks[sid] or cy.app.prices_for(st.venue))
            for sid, st in cy.app.strategies.items()
        )
        cy.events(risk_portfolio.judge_untrusted(cy.app, settings, stale, ids, cy.now))
    if state["kill_switch"]:
        for e in cy.report.events:
            if e.kind == "kill_switch":
                e.text += risk_portfolio.reset_hint(cy.config)
        cy.halted = state["reason"]
        flatten(cy, marks)
        return
    why, events = risk_portfolio.daily_loss(cy.app, settings, cy.now)
    cy.events(events)
    notional = sum(
        p.notional((marks[sid] or {}).get(p.symbol) or p.avg_cost)
        for sid, st in cy.app.strategies.items()
        for p in st.positions.values()
    ) + sum(leg_notional(leg) for st in cy.app.strategies.values() for leg in st.legs.values())
    capped, events = risk_portfolio.notional_cap(cy.app, settings, notional)
    cy.events(events)
    cy.daily_hold, cy.notional_hold = why, capped
    venues = {st.venue for st in cy.app.strategies.values()}
    latest = {v: cy.app.prices_for(v) for v in venues}
    cy.exposure = risk_exposure.measure(cy.app.strategies.values(), marks, latest, total)
    cy.events(risk_exposure.alerts(cy.app, cy.exposure, settings))


def flatten(cy: Cycle, marks: dict[str, dict[str, float] | None]) -> None:
    """Close every position at this cycle's marks (the kill switch fired or holds).

    A strategy without fresh marks for all it holds waits for the next cycle: a forced
    close books at a real price, never at a stale one.
    """
    for sc in cy.config.strategies:
        strat = cy.app.strategies[sc.id]
        if not (strat.positions or strat.legs) or marks.get(sc.id) is None:
            continue
        made = book.close_all(strat, sc.rules, marks.get(sc.id) or {}, cy.stamp, Reason.KILL_SWITCH)
        cy.book_trades(sc, strat, made)
        if made:
            cy.report.outcomes.append(Outcome(sc.id, action="flattened by the kill switch"))
