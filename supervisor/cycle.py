"""One cycle of the book: plan the worker jobs, then apply marks, signals and risk.

The cycle never runs a process itself (the daemon hands the planned jobs to the executor) and
never saves (the daemon commits the whole cycle in one transaction). Order of application:

1. marks from check_price, stamped with the time they were read;
2. each due strategy's signal, filled at this cycle's mark for its symbol (the check's bar
   close is the fallback; both are recorded on the trade), after its breakers are judged;
3. breakers for every other strategy that holds a position, so a 1d strategy is watched every
   cycle, not once a day;
4. drawdown peaks, on fresh marks only;
5. a finiteness audit: a strategy whose numbers are no longer finite is put back as it was at
   the start of the cycle and marked failed, so one poisoned answer never blocks the save of
   the others.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from shared_tools.text import exc_line, one_line
from supervisor.config import Config, StrategyConfig
from supervisor.jobs import Job, Result
from supervisor.models import AppState, Mark, StrategyState, Trade, utc_iso
from supervisor.portfolio import apply_spot_signal, spot_fee_rate
from supervisor.results import (
    WorkerSignal,
    all_finite,
    check_against_mark,
    read_prices,
    read_signal,
)
from supervisor.risk import evaluate_breakers, latched, record_trade_result, update_drawdown
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
        self.requested: dict[str, set[str]] = {}  # platform -> symbols asked of check_price
        self.snapshot: dict[str, StrategyState] = {}
        self._fresh: dict[str, dict[str, float]] = {}  # platform -> fresh marks, once prices are in

    # -- plan ------------------------------------------------------------------------------
    def plan(self, due: list[StrategyConfig]) -> list[Job]:
        """Jobs for the due strategies that may run, plus one price check per platform."""
        jobs: list[Job] = []
        for sc in due:
            strat = self.app.strategies[sc.id]
            self.requested.setdefault(sc.platform, set()).update(sc.symbols())
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
                self.requested.setdefault(strat.platform, set()).update(strat.positions)
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
        handled: set[str] = set()
        for sc in due:
            if sc.id not in self.blocked:
                handled.add(sc.id)
                self._guarded(sc, lambda sc=sc: self._apply_result(sc, results.get(sc.id)))
        for sc in self.config.strategies:
            strat = self.app.strategies[sc.id]
            if sc.id not in handled and strat.positions and not strat.risk.circuit_breaker:
                self._guarded(sc, lambda sc=sc, strat=strat: self._watch(sc, strat))
        for strat in self.app.strategies.values():
            marks = self.risk_marks(strat)
            if marks is not None:
                update_drawdown(strat, strat.value(marks))
        self._audit()

    def _apply_prices(self, platform: str, result: Result) -> None:
        fresh = read_prices(result.data)
        for sym, price in fresh.items():
            self.app.marks[(platform, sym)] = Mark(price, self.epoch)
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
        if strat.platform not in self._fresh:  # marks no longer change once prices are applied
            self._fresh[strat.platform] = self.app.fresh_prices(
                strat.platform, self.epoch, self.max_age
            )
        marks = dict(self._fresh[strat.platform])
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
        for t in closes:
            t.mark_price = self.cycle_mark(strat.platform, t.symbol)
            self.log(f"[{sc.id}] {t.details}")
        self.report.trades.extend(closes)
        return reason

    def _watch(self, sc: StrategyConfig, strat: StrategyState) -> None:
        """Breakers for a strategy that is not due this cycle but holds a position."""
        reason = self._judge_risk(sc, strat, {})
        if reason:
            self.report.outcomes.append(Outcome(sc.id, action=reason))

    def _read(self, sc: StrategyConfig, result: Result | None) -> tuple[WorkerSignal | None, str]:
        if result is None:
            return None, "no result"
        if not result.ok:
            return None, result.error or "failed"
        try:
            sig = read_signal(result.data, sc.symbol)
            check_against_mark(sig.price, self.cycle_mark(sc.platform, sc.symbol))
        except ValueError as exc:
            return None, f"bad result: {exc}"
        return sig, ""

    def _apply_result(self, sc: StrategyConfig, result: Result | None) -> None:
        strat = self.app.strategies[sc.id]
        sig, reason = self._read(sc, result)
        extra = {sc.symbol: sig.price} if sig is not None and sig.price > 0 else {}
        breaker = self._judge_risk(sc, strat, extra)
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
        mark = self.cycle_mark(sc.platform, sc.symbol)
        fill = mark or sig.price  # the live price a market order would get; else the bar close
        strat.last_error, strat.last_error_at, strat.consecutive_failures = "", "", 0
        strat.last_run = self.stamp
        strat.last_signal = sig.signal
        strat.last_price = fill
        if breaker:
            self.report.outcomes.append(Outcome(sc.id, sig.signal, fill, breaker))
            return
        if sc.paused and sig.signal > 0:
            self.report.outcomes.append(Outcome(sc.id, sig.signal, fill, "paused (buy held)"))
            return
        trades, action = apply_spot_signal(
            strat,
            sc.symbol,
            sig.signal,
            fill,
            self.stamp,
            fee_rate=spot_fee_rate(sc.platform),
            close_fraction=sig.close_fraction,
            entry_atr=sig.atr,
            cycle=self.app.cycle_count,
        )
        for t in trades:
            t.mark_price, t.bar_price = mark, sig.price
            if t.is_close:
                record_trade_result(strat, t.realized_pnl, self.now)
            self.log(f"[{sc.id}] {t.details}")
        self.report.trades.extend(trades)
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


def new_report(cycle: int) -> CycleReport:
    return CycleReport(cycle=cycle, started=time.time())
