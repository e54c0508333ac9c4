"""One cycle of the book: plan the worker jobs, then apply marks, signals and risk.

The cycle never runs a process itself (the daemon hands the planned jobs to the executor) and
never saves (the daemon commits the whole cycle in one transaction). Order of application:

1. marks (and perps funding rates) from check_price, stamped with the time they were read;
2. each due strategy: its breakers, then its stop and targets against this cycle's mark, then
   its signal, filled at this cycle's mark (the check's bar close is the fallback; both are
   recorded on the trade) through the book of its instrument type (shared_tools/book);
3. breakers, stops and targets for every other strategy that holds a position, so a 1d
   strategy is watched every cycle, not once a day;
4. funding for every perp held across a funding hour;
5. drawdown peaks, on fresh marks only;
6. a finiteness audit: a strategy whose numbers are no longer finite is put back as it was at
   the start of the cycle and marked failed, so one poisoned answer never blocks the save of
   the others.

A stop or target that fires closes at its trigger price; when the check also asks to close,
the larger share wins (never both), and nothing new opens on that symbol in the same cycle.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from shared_tools import book
from shared_tools.regime import gate_allows, payload_label
from shared_tools.text import exc_line, one_line
from supervisor import risk_portfolio
from supervisor.config import Config, StrategyConfig
from supervisor.jobs import Job, Result
from supervisor.models import AppState, Mark, StrategyState, Trade, utc_iso
from supervisor.results import (
    WorkerSignal,
    all_finite,
    check_against_mark,
    read_funding,
    read_prices,
    read_signal,
)
from supervisor.risk import evaluate_breakers, latched, record_trade_result, update_drawdown
from supervisor.risk_portfolio import RiskEvent
from supervisor.schedule import mark_max_age
from supervisor.workers import PRICE_SCRIPT, price_argv, price_job_key


@dataclass
class Outcome:
    """What happened to one strategy in one cycle, for the summary."""

    id: str
    signal: int | None = None
    price: float | None = None
    action: str = ""
    error: str = ""


@dataclass
class CycleReport:
    cycle: int
    started: float
    duration_s: float = 0.0
    outcomes: list[Outcome] = field(default_factory=list)
    trades: list[Trade] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    events: list[RiskEvent] = field(default_factory=list)  # breakers, kill switch, warnings


class Cycle:
    """The book-side work of one cycle; ``log`` receives one line per notable event."""

    def __init__(
        self,
        app: AppState,
        config: Config,
        now: datetime,
        report: CycleReport,
        *,
        log: Callable[[str], None],
        draining: Callable[[], bool] = lambda: False,
    ) -> None:
        self.app, self.config, self.now, self.report = app, config, now, report
        self.stamp = utc_iso(now)
        self.epoch = now.timestamp()
        self.log = log
        self.draining = draining
        self.max_age = mark_max_age(config)
        self.blocked: set[str] = set()
        self.requested: dict[str, set[str]] = {}  # venue -> symbols asked of check_price
        self.funding: dict[str, dict[str, float]] = {}  # venue -> symbol -> hourly rate
        self.snapshot: dict[str, StrategyState] = {}
        self.halted = ""  # why no strategy trades this cycle (the kill switch)
        self.book_hold = ""  # why no strategy opens this cycle (daily loss, notional cap)
        self._fresh: dict[str, dict[str, float]] = {}  # venue -> fresh marks, once prices are in

    # -- plan ------------------------------------------------------------------------------
    def plan(self, due: list[StrategyConfig]) -> list[Job]:
        """Jobs for the due strategies that may run, plus one price check per platform."""
        jobs: list[Job] = []
        kill = risk_portfolio.state(self.app)
        for sc in due:
            strat = self.app.strategies[sc.id]
            self.requested.setdefault(sc.venue, set()).update(sc.symbols())
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
            position = strat.positions.get(sc.symbol)
            jobs.append(Job(key=sc.id, script=sc.script, args=tuple(sc.check_argv(position))))
        for strat in self.app.strategies.values():
            if strat.positions:
                self.requested.setdefault(strat.venue, set()).update(strat.positions)
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
        """Apply every result; trades land in ``report.trades`` whatever fails on the way."""
        self.snapshot = {sid: copy.deepcopy(s) for sid, s in self.app.strategies.items()}
        for platform in sorted(self.requested):
            result = results.get(price_job_key(platform))
            if result is not None:
                self._apply_prices(platform, result)
        self._portfolio()
        handled: set[str] = set()
        for sc in due if not self.halted else []:
            if sc.id not in self.blocked:
                handled.add(sc.id)
                self._guarded(sc, lambda sc=sc: self._apply_result(sc, results.get(sc.id)))
        for sc in self.config.strategies:
            strat = self.app.strategies[sc.id]
            if sc.id in handled or self.halted or strat.risk.circuit_breaker:
                continue
            if strat.positions:
                self._guarded(sc, lambda sc=sc, strat=strat: self._watch(sc, strat))
        for sc in self.config.strategies:
            strat = self.app.strategies[sc.id]
            if sc.type == "perps" and strat.positions:
                self._guarded(sc, lambda sc=sc, strat=strat: self._fund(sc, strat))
        for strat in self.app.strategies.values():
            marks = self.risk_marks(strat)
            if marks is not None:
                update_drawdown(strat, strat.value(marks), marks)
        _, events = risk_portfolio.correlation(self.app, self.config.risk, self.app.prices_for)
        self._events(events)
        self._audit()

    # -- book-wide risk --------------------------------------------------------------------
    def _events(self, events: list[RiskEvent]) -> None:
        for e in events:
            self.log(f"[risk] {e.text}")
        self.report.events.extend(events)

    def _portfolio(self) -> None:
        """The kill switch (judge, flatten, auto-reset) and the book-wide entry holds.

        Runs right after the marks arrive and before any strategy, so a book over its limit
        never trades on: when it fires, every position is closed at this cycle's marks and no
        per-strategy alert joins the kill switch's (one alert, not two).
        """
        settings, ids = self.config.risk, [sc.id for sc in self.config.strategies]
        marks = {sid: self.risk_marks(st) for sid, st in self.app.strategies.items()}
        trusted = all(m is not None for m in marks.values())
        total = sum(st.value(marks[sid] or {}) for sid, st in self.app.strategies.items())
        state = risk_portfolio.state(self.app)
        if state["kill_switch"]:
            flat = not any(st.positions for st in self.app.strategies.values())
            if flat and trusted and not risk_portfolio.owner_configured(self.config):
                why = "automatic: the book is flat and no owner is configured to reset it"
                self._events([risk_portfolio.reset(self.app, total, ids, self.now, why)])
            else:
                self.halted = f"kill switch active since {state['kill_switch_at']}"
                self._flatten(marks)  # what a missing mark kept open before is closed now
                return
        elif trusted:
            margin_dd = risk_portfolio.margin_drawdown(self.app.strategies.values(), marks)
            events = risk_portfolio.judge(
                self.app, settings, total, ids, self.now, margin_dd=margin_dd
            )
            self._events(events)
        else:  # stale marks stand in for the missing ones; a latch waits (upstream #1449)
            stale = sum(
                st.value(marks[sid] or self.app.prices_for(st.venue))
                for sid, st in self.app.strategies.items()
            )
            self._events(risk_portfolio.judge_untrusted(self.app, settings, stale, ids, self.now))
        if state["kill_switch"]:
            for e in self.report.events:
                if e.kind == "kill_switch":
                    e.text += risk_portfolio.reset_hint(self.config)
            self.halted = state["reason"]
            self._flatten(marks)
            return
        why, events = risk_portfolio.daily_loss(self.app, settings, self.now)
        self._events(events)
        notional = sum(
            p.notional((marks[sid] or {}).get(p.symbol) or p.avg_cost)
            for sid, st in self.app.strategies.items()
            for p in st.positions.values()
        )
        capped, events = risk_portfolio.notional_cap(self.app, settings, notional)
        self._events(events)
        self.book_hold = why or capped

    def _flatten(self, marks: dict) -> None:
        """Close every position at this cycle's marks (the kill switch fired or holds).

        A strategy without fresh marks for all it holds waits for the next cycle: a forced
        close books at a real price, never at a stale one.
        """
        for sc in self.config.strategies:
            strat = self.app.strategies[sc.id]
            if not strat.positions or marks.get(sc.id) is None:
                continue
            made = book.close_all(
                strat, sc.rules, marks.get(sc.id) or {}, self.stamp, "kill_switch"
            )
            self._book(sc, strat, made)
            if made:
                self.report.outcomes.append(Outcome(sc.id, action="flattened by the kill switch"))

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

    def risk_marks(self, strat: StrategyState, extra: dict[str, float] | None = None):
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

    def _judge_risk(self, sc: StrategyConfig, strat: StrategyState, extra: dict) -> str:
        """Run the breakers if every held symbol has a fresh mark; returns the breaker reason."""
        marks = self.risk_marks(strat, extra)
        if marks is None:
            if strat.positions:
                self.report.notes.append(f"[{sc.id}] risk not judged: no fresh mark")
            return ""
        reason, closes = evaluate_breakers(strat, sc, marks, self.now, self.app.cycle_count)
        self._book(sc, strat, closes)
        if reason:
            until = strat.risk.circuit_breaker_until
            why = reason.removeprefix("circuit breaker: ")
            text = f"[{sc.id}] CIRCUIT BREAKER: {why}; positions closed, latched until {until}"
            self._events([RiskEvent("breaker", text, critical=True)])
        return reason

    def _book(self, sc: StrategyConfig, strat: StrategyState, trades: list[Trade], bar=0.0):
        """Stamp, log and report trades just booked; a close feeds the loss streak."""
        for t in trades:
            t.cycle = self.app.cycle_count
            t.mark_price, t.bar_price = self.cycle_mark(strat.venue, t.symbol), bar
            if t.is_close:
                forced = t.reason in ("circuit_breaker", "kill_switch")
                record_trade_result(strat, t.net_pnl, self.now, streak=not forced)
            self.log(f"[{sc.id}] {t.details}")
        self.report.trades.extend(trades)

    def _protect(self, sc: StrategyConfig, strat: StrategyState, outranked_by=0.0) -> list[Trade]:
        """Stops and targets of the strategy's position against this cycle's mark."""
        pos = strat.positions.get(sc.symbol)
        mark = self.cycle_mark(strat.venue, sc.symbol) if pos is not None else 0.0
        if not mark:
            return []
        trades = book.protect(
            strat, sc.rules, sc.symbol, mark, self.stamp, outranked_by=outranked_by
        )
        self._book(sc, strat, trades)
        return trades

    def _watch(self, sc: StrategyConfig, strat: StrategyState) -> None:
        """Breakers, stops and targets for a strategy not due this cycle that holds a position."""
        reason = self._judge_risk(sc, strat, {})
        if reason:
            self.report.outcomes.append(Outcome(sc.id, action=reason))
            return
        hit = self._protect(sc, strat)
        if hit:
            self.report.outcomes.append(Outcome(sc.id, action=_hits_text(hit)))

    def _fund(self, sc: StrategyConfig, strat: StrategyState) -> None:
        """Funding owed or earned by the strategy's perps since their last accrual."""
        rates = self.funding.get(strat.venue, {})
        for symbol in list(strat.positions):
            mark = self.cycle_mark(strat.venue, symbol)
            rate = rates.get(symbol)
            if mark and rate is not None:
                t = book.accrue_funding(strat, sc.rules, symbol, rate, mark, self.epoch, self.stamp)
                if t is not None:
                    self._book(sc, strat, [t])

    def _read(self, sc: StrategyConfig, result: Result | None) -> tuple[WorkerSignal | None, str]:
        if result is None:
            return None, "no result"
        if not result.ok:
            return None, result.error or "failed"
        try:
            sig = read_signal(result.data, sc.symbol)
            check_against_mark(sig.price, self.cycle_mark(sc.venue, sc.symbol))
        except ValueError as exc:
            return None, f"bad result: {exc}"
        return sig, ""

    def _apply_result(self, sc: StrategyConfig, result: Result | None) -> None:
        strat = self.app.strategies[sc.id]
        sig, reason = self._read(sc, result)
        extra = {sc.symbol: sig.price} if sig is not None and sig.price > 0 else {}
        breaker = self._judge_risk(sc, strat, extra)
        if sig is None:
            if not breaker:  # a failed check never disarms the stops: they run on the mark
                self._protect(sc, strat)
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
        if breaker:
            self.report.outcomes.append(Outcome(sc.id, sig.signal, fill, breaker))
            return
        self._trade(sc, strat, sig, fill)

    def _trade(self, sc: StrategyConfig, strat: StrategyState, sig: WorkerSignal, fill: float):
        """Stops and targets first; else the signal through the book, entries gated."""
        pos = strat.positions.get(sc.symbol)
        plan = book.decide(
            pos.side if pos else "",
            sig.signal,
            sc.rules,
            composed=sig.composed,
            close_fraction=sig.close_fraction,
        )
        hit = self._protect(sc, strat, outranked_by=plan.close_fraction)
        if hit:
            self.report.outcomes.append(Outcome(sc.id, sig.signal, fill, _hits_text(hit)))
            return
        held = self._entry_hold(sc, sig)
        regime = payload_label(sig.regime, sc.regime_gate_window)
        trades, action = book.apply_signal(
            strat,
            sc.rules,
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
        self._book(sc, strat, trades, bar=sig.price)
        if held and action.endswith("entry held"):
            action = f"{action} ({held})"
        self.report.outcomes.append(Outcome(sc.id, sig.signal, fill, action))

    def _entry_hold(self, sc: StrategyConfig, sig: WorkerSignal) -> str:
        """Why entries are held for this check ("" when they may open); closes always run."""
        if self.book_hold:
            return self.book_hold
        if not sig.market_open:
            return "market closed"
        if sc.paused:
            return "paused"
        if "--regime-enabled" not in sc.regime_args:  # upstream: the gate needs regime.enabled
            return ""
        label = payload_label(sig.regime, sc.regime_gate_window)
        if not gate_allows(label, sc.allowed_regimes, sc.regime_gate_on_failure):
            return f"regime gate: {label or 'unknown regime'} not in allowed_regimes"
        return ""

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


def _hits_text(trades: list[Trade]) -> str:
    return "; ".join(f"{t.reason} {t.side.upper()} {t.quantity:.6g} @ {t.price:g}" for t in trades)


def new_report(cycle: int) -> CycleReport:
    return CycleReport(cycle=cycle, started=time.time())
