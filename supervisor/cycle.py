"""One cycle of the book: plan the worker jobs, then apply marks, signals and risk.

The cycle never runs a process itself (the daemon hands the planned jobs to the executor) and
never saves (the daemon commits the whole cycle in one transaction). What a cycle does, and in
which order, is the list :data:`STEPS` (docs/architecture.md, "The cycle"):

1. ``marks``: check_price's marks and perps funding rates, stamped with the cycle's time, and
   the option legs' marks and expiries (supervisor/cycle_options.py);
   then ``reconcile``: live strategies book what their venue did on its own (stop and target
   fills, external closes, funding) at the venue's numbers (supervisor/live/reconcile.py);
2. ``funding``: every perp held across a funding boundary pays or earns it *before* anything
   can close it, so a position closed or flipped this cycle still settles the hours it held;
3. ``liquidation``: a margin account whose equity is at or below its maintenance margin at
   the marks is closed by the margin model (shared_tools/book/margin.py), with an alert;
4. ``portfolio``: the kill switch (judge, flatten, auto-reset) and the book-wide entry holds
   (daily loss, notional cap, exposure caps), before any strategy trades;
5. ``protect``: per strategy, its breakers, then its stop and targets against this cycle's
   mark, for every strategy that holds a position (due or not: a 1d strategy is watched
   every cycle); a stop gapped through fills at the worse of its trigger and the mark
   (funding, liquidation and protect: supervisor/cycle_protect.py);
6. ``signals``: each due strategy's answer through the book of its instrument type: closes,
   then opens (entries gated in upstream's order: supervisor/cycle_gates.py), filled at this cycle's mark (the check's bar close is the
   fallback; both are recorded on the trade); options: the check's actions, then theta
   harvest for every options strategy;
7. ``hedge``: each paper strategy's ``hedge`` leg brought in line with its primary position
   (shared_tools/book/hedge.py): opened, grown, cut or closed at this cycle's marks;
8. ``risk``: drawdown peaks on fresh marks only, correlation warnings;
9. ``audit``: a strategy whose numbers are no longer finite is put back as it was at the start
   of the cycle and marked failed, so one poisoned answer never blocks the save of the others.

A stop or target that fires this cycle outranks the check unless the check closes a larger
share (never both), and nothing new opens on that symbol in the same cycle.
"""

from __future__ import annotations

import copy
import functools
from collections.abc import Callable
from datetime import datetime
from typing import Any, Protocol

from shared_tools import book
from shared_tools.book.hedge import HEDGE
from shared_tools.config.model import Config, StrategyConfig
from shared_tools.domain import Kind, Reason
from shared_tools.regime_labels import payload_label
from shared_tools.text import exc_line, one_line
from supervisor import (
    cycle_gates,
    cycle_hedge,
    cycle_options,
    cycle_portfolio,
    cycle_protect,
)
from supervisor.cycle_report import CycleReport, Outcome
from supervisor.risk import portfolio as risk_portfolio
from supervisor.risk import regime_transitions
from supervisor.risk.breakers import (
    latched,
    record_trade_result,
    update_drawdown,
)
from supervisor.risk.exposure import Exposure
from supervisor.risk.portfolio import RiskEvent
from supervisor.run.jobs import Job, Result
from supervisor.run.results import (
    WorkerSignal,
    all_finite,
    read_funding,
    read_prices,
)
from supervisor.run.workers import PRICE_SCRIPT, price_argv, price_job_key
from supervisor.schedule import mark_max_age
from supervisor.state.models import AppState, Mark, StrategyState, Trade, utc_iso

# What a cycle does, in order (see the module docstring); ``Cycle.apply`` runs ``_step_<name>``.
STEPS: tuple[str, ...] = (
    "marks",
    "reconcile",
    "funding",
    "liquidation",
    "portfolio",
    "protect",
    "signals",
    "hedge",
    "risk",
    "audit",
    "transitions",
)


class LiveHooks(Protocol):
    """The live desk as the cycle sees it (supervisor/live/desk.py)."""

    def reconcile(self, cy: Any) -> None: ...

    def entry_hold(self, sc: StrategyConfig) -> str: ...

    def trail(self, sc: StrategyConfig, strat: StrategyState, mark: float) -> None: ...


class Cycle:
    """The book-side work of one cycle; ``log`` receives one line per notable event.

    Live strategies (``--mode=live``) go through the same steps; their venue funds,
    liquidates and fires their resting stops and targets, so those steps only trail the stop
    for them, and what they book here is undone into orders by supervisor/live/decide.py.
    """

    def __init__(
        self,
        app: AppState,
        config: Config,
        now: datetime,
        report: CycleReport,
        *,
        log: Callable[[str], None],
        draining: Callable[[], bool] = lambda: False,
        live: LiveHooks | None = None,
    ) -> None:
        self.app, self.config, self.now, self.report = app, config, now, report
        self.stamp = utc_iso(now)
        self.epoch = now.timestamp()
        self.log = log
        self.draining = draining
        self.live = live
        self.max_age = mark_max_age(config)
        self.blocked: set[str] = set()
        self.requested: dict[str, set[str]] = {}  # venue -> symbols asked of check_price
        self.funding: dict[str, dict[str, float]] = {}  # venue -> symbol -> hourly rate
        self.snapshot: dict[str, StrategyState] = {}
        self.halted = ""  # why no strategy trades this cycle (the kill switch)
        self.daily_hold = ""  # why no strategy opens this cycle: today's losses
        self.notional_hold = ""  # ... the book's notional cap
        self.exposure = Exposure()  # the book's nets per asset, for the exposure caps
        self._fresh: dict[str, dict[str, float]] = {}  # venue -> fresh marks, once prices are in
        self.due: list[StrategyConfig] = []
        self.results: dict[str, Result] = {}
        self.handled: list[StrategyConfig] = []  # due strategies whose answer is applied
        self.readings: dict[str, tuple[WorkerSignal | None, str, str]] = {}  # signal, why, breaker
        self.hits: dict[str, list[Trade]] = {}  # stops and targets that fired this cycle

    # -- plan ------------------------------------------------------------------------------
    def plan(self, due: list[StrategyConfig]) -> list[Job]:
        """Jobs for the due strategies that may run, plus one price check per platform."""
        jobs: list[Job] = []
        kill = risk_portfolio.state(self.app)
        for sc in due:
            strat = self.app.strategies[sc.id]
            if sc.options is None:  # options: marks come from mark_options.py (cycle_options)
                self.requested.setdefault(sc.venue, set()).update(sc.symbols())
            if sc.type == "manual":  # the operator trades it (go-trader manual-*): no check
                self.blocked.add(sc.id)  # its position is still watched, reconciled, protected
                continue
            if kill["kill_switch"]:  # no checks while latched: nothing may trade
                self.blocked.add(sc.id)
                self.report.outcomes.append(Outcome(sc.id, action="kill switch active"))
                continue
            reason = latched(strat, self.now)
            if reason:
                self.blocked.add(sc.id)
                strat.last_run = self.stamp
                self.report.outcomes.append(Outcome(sc.id, action=reason))
                continue
            if sc.options is not None:
                jobs.append(cycle_options.check_job(sc, strat))
                continue
            position = strat.positions.get(sc.symbol)
            jobs.append(Job(key=sc.id, script=sc.script, args=tuple(sc.check_argv(position))))
        jobs += cycle_options.mark_jobs(self.app, self.config)
        for strat in self.app.strategies.values():
            if strat.positions and strat.type != "options":  # assigned spot: mark_options
                self.requested.setdefault(strat.venue, set()).update(strat.positions)
        for sc in self.config.strategies:  # a hedge leg needs its coin's mark every cycle
            if sc.hedge is not None and sc.hedge.enabled:
                self.requested.setdefault(sc.venue, set()).add(sc.hedge.symbol)
        for platform, syms in sorted(self.requested.items()):
            if syms:
                jobs.append(
                    Job(
                        key=price_job_key(platform),
                        script=PRICE_SCRIPT,
                        args=tuple(price_argv(platform, syms)),
                    )
                )
        return jobs

    # -- apply -----------------------------------------------------------------------------
    def apply(self, due: list[StrategyConfig], results: dict[str, Result]) -> None:
        """Apply every result, step by step (:data:`STEPS`); trades land in ``report.trades``
        whatever fails on the way."""
        self.snapshot = {sid: copy.deepcopy(s) for sid, s in self.app.strategies.items()}
        self.due, self.results = due, results
        for step in STEPS:
            getattr(self, f"_step_{step}")()

    def _step_marks(self) -> None:
        for platform in sorted(self.requested):
            result = self.results.get(price_job_key(platform))
            if result is not None:
                self._apply_prices(platform, result)
        try:  # option marks, expiry settlement, assigned spot (supervisor/cycle_options.py)
            cycle_options.apply_marks(self)
        except Exception as exc:
            self.log(f"[options] marks not applied: {exc_line(exc)}")

    def _step_reconcile(self) -> None:
        if self.live is not None:
            self.live.reconcile(self)

    def _step_funding(self) -> None:
        for sc in self.config.strategies:
            strat = self.app.strategies[sc.id]
            if sc.type == Kind.PERPS and strat.positions and not sc.live:
                self._guarded(sc, functools.partial(cycle_protect.fund, self, sc, strat))

    def _step_liquidation(self) -> None:
        for sc in self.config.strategies:
            strat = self.app.strategies[sc.id]
            if sc.type in (Kind.PERPS, Kind.FUTURES) and strat.positions and not sc.live:
                self._guarded(sc, functools.partial(cycle_protect.liquidate, self, sc, strat))

    def _step_portfolio(self) -> None:
        cycle_portfolio.judge_book(self)

    def _step_protect(self) -> None:
        """Breakers, then stops and targets, for every strategy that may act this cycle."""
        if self.halted:
            return
        due = {sc.id for sc in self.due}
        for sc in self.config.strategies:
            strat = self.app.strategies[sc.id]
            if sc.id in due and sc.id not in self.blocked:
                self.handled.append(sc)
                self._guarded(sc, functools.partial(cycle_protect.protect_due, self, sc))
            elif (strat.positions or strat.legs) and not strat.risk.circuit_breaker:
                self._guarded(sc, functools.partial(cycle_protect.watch, self, sc, strat))

    def _step_signals(self) -> None:
        for sc in self.handled:
            self._guarded(sc, functools.partial(self._apply_result, sc))
        cycle_options.harvest_all(self)

    def _step_hedge(self) -> None:
        for sc in self.config.strategies:
            if not sc.live:
                self._guarded(sc, functools.partial(cycle_hedge.reconcile, self, sc))

    def _step_risk(self) -> None:
        for strat in self.app.strategies.values():
            marks = self.risk_marks(strat)
            if marks is not None:
                update_drawdown(strat, strat.value(marks), marks)
        _, events = risk_portfolio.correlation(self.app, self.config.risk, self.app.prices_for)
        self.events(events)

    def _step_audit(self) -> None:
        self._audit()

    def _step_transitions(self) -> None:
        """regime.transitions: closed-bar label history and the owner's DMs (alerting only)."""
        regime_transitions.observe(self)

    # -- book-wide risk --------------------------------------------------------------------
    def events(self, events: list[RiskEvent]) -> None:
        for e in events:
            self.log(f"[risk] {e.text}")
        self.report.events.extend(events)

    def _apply_prices(self, platform: str, result: Result) -> None:
        fresh = read_prices(result.data)
        for sym, price in fresh.items():
            self.app.marks[(platform, sym)] = Mark(price, self.epoch)
        self.funding[platform] = read_funding(result.data)
        missing = sorted(self.requested[platform] - set(fresh))
        if missing:
            why = f" ({result.error})" if result.error else ""
            note = f"[prices] {platform}: no mark for {', '.join(missing)}{why}"
            self.report.notes.append(note)
            self.log(note)

    def cycle_mark(self, platform: str, symbol: str) -> float:
        """The mark read in this cycle (0.0 when check_price did not deliver one)."""
        mark = self.app.marks.get((platform, symbol))
        return mark.price if mark is not None and mark.at >= self.epoch else 0.0

    def risk_marks(
        self, strat: StrategyState, extra: dict[str, float] | None = None
    ) -> dict[str, float] | None:
        """Fresh marks for every symbol ``strat`` holds, or None when one is missing.

        Risk is judged on fresh marks only: a stale mark would move a peak or fire a breaker on
        a price that no longer exists. ``extra`` adds prices known this cycle (a check's bar
        close) for symbols without a fresh mark.
        """
        venue = strat.venue
        if venue not in self._fresh:  # marks no longer change once prices are applied
            self._fresh[venue] = self.app.fresh_prices(venue, self.epoch, self.max_age)
        marks = dict(self._fresh[venue])
        for sym, price in (extra or {}).items():
            marks.setdefault(sym, price)
        if any(sym not in marks for sym in strat.positions):
            return None
        return marks

    def _guarded(self, sc: StrategyConfig, work: Callable[[], None]) -> None:
        """Run ``work`` for one strategy; a bug there costs that strategy, never the cycle."""
        try:
            work()
        except Exception as exc:
            reason = f"internal error applying result: {exc_line(exc)}"
            self.log(f"[{sc.id}] {reason}")
            self._fail(self.app.strategies[sc.id], reason)

    def _fail(self, strat: StrategyState, reason: str) -> None:
        strat.last_error = one_line(reason)
        strat.last_error_at = self.stamp
        strat.consecutive_failures += 1
        strat.last_run = self.stamp
        self.report.outcomes.append(Outcome(strat.id, error=strat.last_error))

    def book_trades(
        self, sc: StrategyConfig, strat: StrategyState, trades: list[Trade], bar: float = 0.0
    ) -> None:
        """Stamp, log and report trades just booked.

        Every row's cash effect (fees, funding, close P&L) counts toward the day's loss; a close
        also feeds the loss streak, unless a breaker or the kill switch forced it or it is a
        hedge leg's (as upstream).
        """
        for t in trades:
            t.cycle = self.app.cycle_count
            t.mark_price, t.bar_price = self.cycle_mark(strat.venue, t.symbol), bar
            forced = t.reason in (Reason.CIRCUIT_BREAKER, Reason.KILL_SWITCH)
            streak = t.is_close and not forced and t.trade_type != HEDGE  # upstream: not hedges
            record_trade_result(strat, t.net_pnl, self.now, streak=streak)
            self.log(f"[{sc.id}] {t.details}")
        self.report.trades.extend(trades)

    def _apply_result(self, sc: StrategyConfig) -> None:
        strat = self.app.strategies[sc.id]
        sig, reason, breaker = self.readings.get(sc.id, (None, "not read", ""))
        if sc.options is not None:
            if breaker:
                self.report.outcomes.append(Outcome(sc.id, action=breaker))
            else:
                cycle_options.apply_check(self, sc, strat)
            return
        if sig is None:
            if self.draining():
                self.report.outcomes.append(
                    Outcome(sc.id, error=f"skipped: shutting down ({reason})")
                )
                return
            self._fail(strat, reason)
            self.log(
                f"[{sc.id}] skipped: {reason} (failures in a row: {strat.consecutive_failures})"
            )
            return
        mark = self.cycle_mark(sc.venue, sc.symbol)
        fill = mark or sig.price  # the live price a market order would get; else the bar close
        strat.last_error, strat.last_error_at, strat.consecutive_failures = "", "", 0
        strat.last_run = self.stamp
        strat.last_signal = sig.signal
        strat.last_price = fill
        hit = self.hits.get(sc.id)
        if breaker or hit:
            action = breaker or cycle_protect.hits_text(hit or [])
            self.report.outcomes.append(Outcome(sc.id, sig.signal, fill, action))
            return
        self._trade(sc, strat, sig, fill)

    def _trade(
        self, sc: StrategyConfig, strat: StrategyState, sig: WorkerSignal, fill: float
    ) -> None:
        """The signal through the book: closes, then opens (entries gated)."""
        rules, eff = cycle_gates.directional(sc, strat, sig)
        cycle_gates.show_regime(self.app, self.config, sc, sig, eff)
        held = cycle_gates.entry_hold(self, sc, strat, sig, rules, eff)  # "" = may open
        regime = payload_label(sig.regime, sc.regime_atr_window or sc.regime_gate_window)
        had = strat.positions.get(sc.symbol)
        trades, action = book.apply_signal(
            strat,
            rules,
            sc.symbol,
            sig.signal,
            fill,
            self.stamp,
            composed=sig.composed,
            close_fraction=sig.close_fraction,
            entry_atr=sig.atr,
            regime=regime,
            now_s=self.epoch,
            may_open=not held,
        )
        cycle_gates.freeze_verdict(sc, strat, sig, had)
        self.book_trades(sc, strat, trades, bar=sig.price)
        action = cycle_gates.outcome(action, held)
        self.report.outcomes.append(Outcome(sc.id, sig.signal, fill, action))

    def _audit(self) -> None:
        """Put back any strategy whose book is no longer finite; drop the trades it made."""
        for sid, strat in list(self.app.strategies.items()):
            mine = [t for t in self.report.trades if t.strategy_id == sid]
            trade_numbers = [x for t in mine for x in (t.quantity, t.price, t.value, t.fee)]
            trade_numbers += [t.realized_pnl for t in mine]
            if all_finite(strat.numbers()) and all_finite(trade_numbers):
                continue
            before = self.snapshot.get(sid)
            if before is None:
                continue
            self.app.strategies[sid] = before
            self.report.trades = [t for t in self.report.trades if t.strategy_id != sid]
            self.report.outcomes = [o for o in self.report.outcomes if o.id != sid]
            reason = "refused this cycle: its book would hold a non-finite amount"
            self.log(f"[{sid}] {reason}")
            self._fail(before, reason)
