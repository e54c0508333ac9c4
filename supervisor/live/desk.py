"""The live desk: one cycle's orders from intent to booked fill (see the package docstring).

The daemon calls, in order: :meth:`LiveDesk.resolve` (before planning), :meth:`read_jobs`
(with the cycle's checks), :meth:`reconcile` (the cycle's ``reconcile`` step),
:meth:`decide` (after the cycle applied), then :meth:`send` and :meth:`protect` once the
intents are committed. Jobs run through ``run`` (the executor); the book is touched only
under ``lock``.
"""

from __future__ import annotations

import contextlib
import copy
import os
from collections.abc import Callable
from typing import Any, Protocol

from shared_tools.book.guard import trail
from shared_tools.config.model import Config, StrategyConfig
from supervisor.live import argv as hl
from supervisor.live import balances, venue_check, venue_funding, venue_orders
from supervisor.live import reconcile as rec
from supervisor.live.decide import SALT_KEY, orders_from_cycle, owners
from supervisor.live.fills import book_fill, fail, fill_of, refused
from supervisor.live.start import start_problems
from supervisor.live.venues import HL, SCRIPT_DIR_ENV, Driver, driver, forced, hold_key
from supervisor.ops import cash_reconcile
from supervisor.risk.portfolio import RiskEvent
from supervisor.run.jobs import Job, Result
from supervisor.state.models import AppState, Intent, StrategyState, Trade

ACCOUNT_JOB = "live:hyperliquid:account"
UNKNOWN_TWICE = 2
__all__ = ["ACCOUNT_JOB", "CycleView", "LiveDesk", "start_problems"]


Runner = Callable[[list[Job]], dict[str, Result]]


class CycleView(Protocol):
    """What the desk needs of a cycle (supervisor/cycle.py)."""

    app: AppState
    stamp: str
    epoch: float
    results: dict[str, Result]
    report: Any

    def book_trades(
        self, sc: StrategyConfig, strat: StrategyState, trades: list[Trade], bar: float = 0.0
    ) -> None: ...

    def events(self, events: list[RiskEvent]) -> None: ...

    def cycle_mark(self, platform: str, symbol: str) -> float: ...


class LiveDesk:
    def __init__(
        self,
        config: Config,
        app: AppState,
        run: Runner,
        log: Callable[[str], None],
        lock: contextlib.AbstractContextManager[Any] | None = None,
    ) -> None:
        self.config, self.app, self.run, self.log = config, app, run, log
        self.lock = lock or contextlib.nullcontext()
        self.holds: dict[str, str] = {}  # coin -> why entries on it are held this cycle
        self.onchain: dict[str, float] = {}
        self.orphans: list[tuple[str, int]] = []
        self.read_ok = False
        self.moved: set[str] = set()  # strategies whose trailing stop moved this cycle
        self.before: dict[str, StrategyState] = {}  # live books right after the reconcile
        self.real_trades = 0  # report.trades[:real_trades] are real (venue) bookings
        self.balances: dict[str, float | None] = {}  # platform -> last balance (capital_pct)
        self.venue_read: dict[str, bool] = {}  # OKX, TopStep, Robinhood: positions read ok
        self.venue_held: dict[str, dict[str, float]] = {}  # their positions, by coin
        self.operator_gaps: list[str] = []  # forced closes only a person can make (this cycle)
        self.late: list[RiskEvent] = []  # alerts raised while booking, flushed to the cycle
        alt = (os.environ.get(SCRIPT_DIR_ENV) or "").strip()
        if alt and any(sc.platform != HL for sc in config.live_strategies):
            log(f"[live] OKX/TopStep/Robinhood workers are taken from {alt} ({SCRIPT_DIR_ENV})")

    @property
    def active(self) -> bool:
        return bool(self.config.live_strategies)

    @property
    def hl_live(self) -> bool:
        return any(sc.platform == HL for sc in self.config.live_strategies)

    def driver_of(self, i: Intent) -> tuple[Driver, StrategyConfig | None]:
        sc = self.strategy(i.strategy_id)
        return driver(sc.platform if sc is not None else HL), sc

    def status_job(self, i: Intent) -> Job:
        """``--order-status`` for ``i`` on its venue (HL: by cloid, as before)."""
        d, sc = self.driver_of(i)
        if d.platform == HL or sc is None:
            return Job(
                key=f"resolve:{i.cloid}",
                script=hl.HL_SCRIPT,
                args=tuple(hl.order_status_argv(i.cloid)),
            )
        return Job(
            key=f"resolve:{i.cloid}", script=d.path(d.script), args=tuple(d.order_status(i, sc))
        )

    def strategy(self, sid: str) -> StrategyConfig | None:
        for sc in self.config.live_strategies:
            if sc.id == sid:
                return sc
        return None

    # -- 1. resolve what a crash left pending ---------------------------------------------
    def resolve(self, cy: CycleView) -> None:
        """Ask the venue about every pending intent (by cloid) and book what filled."""
        pending = [i for i in self.app.intents.values() if i.open]
        if not pending:
            return
        jobs = [self.status_job(i) for i in pending]
        jobs += venue_orders.confirm_jobs(self, [i for i in pending if self._confirms(i)])
        results = self.run(jobs)
        with self.lock:
            for i in pending:
                r = results.get(f"resolve:{i.cloid}")
                if self._confirms(i) and not venue_orders.confirmed(self, i, r, results, cy):
                    continue
                self._book(i, r, cy, resolving=True)

    def _confirms(self, i: Intent) -> bool:
        """A forced close on OKX, TopStep or Robinhood: booked only once a positions read
        after it succeeded (the book is never cleared on a failed read, upstream #346)."""
        d, _ = self.driver_of(i)
        return d.platform != HL and forced(i)

    def drop(self, intents: list[Intent]) -> None:
        """Forget intents that never reached the disk (and so never left)."""
        for i in intents:
            self.app.intents.pop(i.cloid, None)

    def _book(self, i: Intent, r: Result | None, cy: CycleView, *, resolving: bool) -> None:
        trades = self._settle(i, r, cy.stamp, cy.epoch, resolving=resolving)
        sc = self.strategy(i.strategy_id)
        if trades and sc is not None:
            cy.book_trades(sc, self.app.strategies[sc.id], trades)
        if self.late:
            cy.events(self.late)
            self.late = []

    book_answer = _book  # for supervisor/live/venue_orders.py

    # -- 2. read the account with the cycle's checks --------------------------------------
    def read_jobs(self, now_ms: int) -> list[Job]:
        if not self.active:
            return []
        jobs = [self._account_job(now_ms)] if self.hl_live else []
        jobs += [venue_check.read_job(book) for book in venue_check.venues(self.config)]
        jobs += venue_funding.jobs(self.config, self.app.extra, now_ms)
        return jobs + balances.jobs(self.config)

    def read_balance(self, now_ms: int) -> None:
        """Startup: one balance read per platform for capital_pct (cycles reuse their own)."""
        jobs = balances.jobs(self.config) + ([self._account_job(now_ms)] if self.hl_live else [])
        if jobs:
            self._balances(self.run(jobs))

    def _account_job(self, now_ms: int) -> Job:
        args = tuple(hl.account_state_argv(rec.since_ms(self.app.extra, now_ms)))
        return Job(key=ACCOUNT_JOB, script=hl.HL_SCRIPT, args=args)

    def _balances(self, results: dict[str, Result]) -> None:
        self.balances.update(balances.read(results, self.config))
        if self.hl_live:
            self.balances[HL] = balances.account_value(results.get(ACCOUNT_JOB))

    def reconcile(self, cy: CycleView) -> None:
        """The cycle's ``reconcile`` step: book what the venue did; hold what it cannot explain.

        Then the book as it truly is gets snapshotted: what the rest of the cycle changes
        from here on is a wish that :meth:`decide` turns into orders.
        """
        try:
            self._reconcile(cy)
        finally:
            self.before = {
                sc.id: copy.deepcopy(self.app.strategies[sc.id])
                for sc in self.config.live_strategies
                if sc.id in self.app.strategies
            }
            self.real_trades = len(cy.report.trades)

    def _reconcile(self, cy: CycleView) -> None:
        self.holds, self.orphans, self.read_ok = {}, [], False
        self.venue_read, self.venue_held = {}, {}
        if not self.active:
            return
        self._balances(cy.results)
        for sid in cash_reconcile.apply_requests(self.app, self.config.db_file):
            self.log(f"[live] [{sid}] cash reconcile latch cleared by the operator")
        for platform in venue_check.venues(self.config):
            venue_orders.check_positions(self, platform, cy)
        self._funding(cy)
        if self.hl_live:
            self._reconcile_hl(cy)
        for sc in self.config.live_strategies:
            if any(i.open and i.strategy_id == sc.id for i in self.app.intents.values()):
                self.holds[hold_key(sc)] = "an earlier order is not resolved yet"

    def _funding(self, cy: CycleView) -> None:
        """Live OKX swaps: the funding the venue settled, from its bills, once per bill."""
        r = cy.results.get(venue_funding.JOB)
        now_ms = int(cy.epoch * 1000)
        out = venue_funding.book(
            self.config, self.app.strategies, self.app.extra, r, cy.stamp, now_ms
        )
        self._take(out, cy)

    def _take(self, out: rec.Outcome, cy: CycleView) -> None:
        """Book an account read's trades on their strategies and report its notes."""
        for sid, trade in out.trades:
            owner = self.strategy(sid)
            if owner is not None:
                cy.book_trades(owner, self.app.strategies[sid], [trade])
        for note in out.notes:
            cy.report.notes.append(note)
            self.log(note)

    def _reconcile_hl(self, cy: CycleView) -> None:
        r = cy.results.get(ACCOUNT_JOB)
        if r is None or not r.ok or not isinstance(r.data, dict):
            why = (r.error if r is not None else None) or "not read"
            note = f"[live] hyperliquid account not read ({why}): live entries held this cycle"
            cy.report.notes.append(note)
            self.log(note)
            for sc in self.config.live_strategies:
                if sc.platform == HL:
                    self.holds[sc.symbol] = "venue account not read"
            return
        self.read_ok = True
        out = rec.reconcile(
            self.config, self.app.strategies, self.app.extra, r.data, cy.stamp, int(cy.epoch * 1000)
        )
        self._take(out, cy)
        cy.events(out.events)
        self.onchain, self.orphans = out.onchain, out.orphans
        for sym in out.gaps:
            self.holds[sym] = f"reconcile gap on {sym}"

    def entry_hold(self, sc: StrategyConfig) -> str:
        if not sc.live:
            return ""
        return self.holds.get(hold_key(sc), "") or venue_orders.cash_hold(self.app, sc)

    def trail(self, sc: StrategyConfig, strat: StrategyState, mark: float) -> None:
        """Live positions: follow the mark with the trailing stop; the venue's stop fires."""
        pos = strat.positions.get(sc.symbol)
        if pos is not None and trail(pos, mark):
            self.moved.add(sc.id)  # the protection sync replaces the resting stop

    # -- 3. decide: the cycle's wishes become intents -------------------------------------
    def decide(self, cy: CycleView) -> list[Intent]:
        """Intents for what the cycle changed after the reconcile (its virtual bookings)."""
        if not self.active:
            return []
        salt = self.app.extra.setdefault(SALT_KEY, os.urandom(8).hex())
        real, wished = cy.report.trades[: self.real_trades], cy.report.trades[self.real_trades :]
        intents, kept = orders_from_cycle(
            self.config,
            self.app.strategies,
            self.before,
            wished,
            cycle=self.app.cycle_count,
            salt=salt,
            stamp=cy.stamp,
        )
        cy.report.trades[:] = real + kept
        unresolved = {i.strategy_id for i in self.app.intents.values() if i.open}
        self.operator_gaps = []
        out = []
        for i in intents:
            if i.strategy_id in unresolved:
                continue  # never a second order while one is unknown
            sc = self.strategy(i.strategy_id)
            if sc is not None and sc.platform != HL:
                if not venue_orders.may_send(self, sc, i, cy):
                    continue
            elif i.purpose in ("open", "add") and (not self.read_ok or self.holds.get(i.symbol)):
                continue
            self.app.intents[i.cloid] = i
            out.append(i)
        venue_orders.report_gaps(self, cy)
        return out

    # -- 4. send ---------------------------------------------------------------------------
    def send(self, intents: list[Intent], cy: CycleView) -> None:
        """One order at a time (one account), each booked as soon as it is answered."""
        budgets = venue_orders.Budgets()
        for i in intents:
            d, sc = self.driver_of(i)
            if d.platform != HL and sc is not None:
                venue_orders.send(self, d, sc, i, cy, budgets)
                continue
            job = Job(
                key=f"order:{i.cloid}",
                script=hl.HL_SCRIPT,
                args=tuple(hl.execute_argv(i)),
                side_effect=True,
            )
            r = self.run([job]).get(job.key)
            resolving = False
            if r is not None and not r.ok:  # refused, or lost: the venue says which
                if refused(r):
                    i.extra["refused"] = (r.error or "refused")[:300]
                check = self.status_job(i)
                r, resolving = self.run([check]).get(check.key) or r, True
            with self.lock:
                self._book(i, r, cy, resolving=resolving)

    def _settle(
        self, i: Intent, r: Result | None, stamp: str, now_s: float, *, resolving: bool
    ) -> list[Trade]:
        """Book ``r`` (an ``--execute`` or ``--order-status`` answer) for intent ``i``."""
        sc = self.strategy(i.strategy_id)
        strat = self.app.strategies.get(i.strategy_id)
        if r is None or sc is None or strat is None:
            return []
        data = r.data if isinstance(r.data, dict) else {}
        fill = fill_of(data)
        if fill is not None:
            cash_before = strat.cash
            trade = book_fill(sc, strat, i, fill, stamp, now_s)
            if sc.platform != HL:
                self.late += venue_orders.after_fill(self, sc, i, data, trade, cash_before, stamp)
                self.log(
                    f"[{i.strategy_id}] live {sc.platform} {i.leg} {i.side} {fill['qty']:g} {i.symbol} @ {fill['price']:g} (fee {fill['fee']:g}, order {i.extra.get('venue_oid') or i.oid})"
                )
                return [trade] if trade is not None else []
            ledger = rec.ledger(self.app.extra, int(now_s * 1000))
            if i.oid:
                ledger["booked"][str(i.oid)] = int(now_s * 1000)
                if i.extra.get("fee_pending"):
                    ledger["fee_due"][str(i.oid)] = [i.strategy_id, i.symbol, int(now_s * 1000)]
            self._protection_from(strat, i, data)
            if i.purpose == "add" and i.symbol in self.onchain:
                # the cycle's read predates the add: the protection sync caps the stop at the
                # on-chain size, so count the fill in and the stop grows in this cycle (#873)
                sign = 1.0 if i.side == "buy" else -1.0
                self.onchain[i.symbol] += sign * fill["qty"]
            self.log(
                f"[{i.strategy_id}] live {i.leg} {i.side} {fill['qty']:g} {i.symbol} @ {fill['price']:g} (fee {fill['fee']:g}, oid {i.oid})"
            )
            return [trade] if trade is not None else []
        status = str(data.get("status") or "")
        if resolving and r.ok and status == "unknown" and not i.extra.get("refused"):
            # A lost request may still land: unknown twice, a cycle apart, before it is failed.
            seen = int(i.extra.get("unknown_seen") or 0) + 1
            i.extra["unknown_seen"] = seen
            if seen < UNKNOWN_TWICE:
                i.error = "the venue does not know it yet; asked again next cycle"
                return []
        if resolving and r.ok and status in ("unknown", "canceled", "rejected"):
            why = f"the venue {'never received' if status == 'unknown' else status} it"
            fail(i, str(i.extra.get("refused") or why), stamp)
        elif not resolving and r.ok:
            fail(i, "answered without a fill", stamp)
        elif resolving and r.ok and status == "resting":
            i.status, i.resolved_at, i.oid = "resting", stamp, int(data.get("oid") or 0)
        else:  # unknown outcome: stays pending; the account holds until it is resolved
            i.error = (r.error or status or "unknown")[:500]
            return []
        self.log(
            f"[{i.strategy_id}] live {i.leg} {i.side} {i.size:g} {i.symbol}: {i.status} ({i.error})"
        )
        return []

    def _protection_from(self, strat: StrategyState, i: Intent, data: dict[str, Any]) -> None:
        if i.purpose == "open" or i.symbol not in strat.positions:
            return
        if i.extra.get("cancel_oids") and data.get("cancel_stop_loss_succeeded"):
            g = strat.positions[i.symbol].guard
            g.stop_oid, g.target_oids = 0, [0] * len(g.target_oids)

    # -- 5. protection ---------------------------------------------------------------------
    def protect(self, cy: CycleView) -> None:
        """Every live position's stop and targets resting as in the book, sized ≤ on-chain."""
        if not (self.active and self.read_ok):
            return
        jobs: list[Job] = []
        for coin, oid in dict.fromkeys(self.orphans):
            jobs.append(
                Job(
                    key=f"cancel:{coin}:{oid}",
                    script=hl.HL_SCRIPT,
                    args=tuple(hl.cancel_argv(coin, oid)),
                    side_effect=True,
                )
            )
        sync: dict[str, tuple[str, str, float, float]] = {}
        for sc in self.config.live_strategies:
            strat = self.app.strategies.get(sc.id)
            pos = strat.positions.get(sc.symbol) if strat else None
            if pos is None or sc.platform != HL:  # elsewhere the supervisor's evaluators close
                continue
            if not pos.guard.stop:
                self._unprotected(sc, pos.position_id, cy)
            if not (pos.guard.stop or pos.guard.targets):
                continue
            chain = abs(self.onchain.get(sc.symbol, 0.0))
            if len(owners(self.config, sc.symbol, sc.platform)) == 1:
                cap = min(chain, pos.quantity) if chain > 0 else pos.quantity
            else:
                cap = pos.quantity
            g = pos.guard
            resized = g.stop_oid > 0 and abs(g.stop_qty - cap) > 1e-12
            moved = g.stop_oid > 0 and g.stop_px > 0 and abs(g.stop - g.stop_px) > 1e-9 * g.stop
            force = sc.id in self.moved or resized or moved  # trail, sl_after, target fill
            key = f"protect:{sc.id}"
            sync[key] = (sc.id, sc.symbol, cap, g.stop)
            jobs.append(
                Job(
                    key=key,
                    script=hl.HL_SCRIPT,
                    args=tuple(hl.protection_argv(pos, cap, force)),
                    side_effect=True,
                )
            )
        self.moved.clear()
        results: dict[str, Result] = {}
        for job in jobs:  # one signed action at a time per account: the venue orders nonces
            results.update(self.run([job]))
        with self.lock:
            for key, (sid, sym, cap, stop) in sync.items():
                self._apply_sync(sid, sym, cap, stop, results.get(key), cy)

    def _unprotected(self, sc: StrategyConfig, position_id: str, cy: CycleView) -> None:
        """A live position without a stop (no entry ATR for an ATR stop, or none configured):
        one critical alert per position, so it is never silent (upstream #885)."""
        seen = rec.ledger(self.app.extra, int(cy.epoch * 1000)).setdefault("unprotected", [])
        if position_id in seen:
            return
        seen.append(position_id)
        del seen[:-50]
        text = (
            f"[{sc.id}] HL POSITION WITHOUT A STOP {sc.symbol}: no stop-loss is resting on the "
            "venue (no stop configured, or an ATR stop without an entry ATR); protect it by hand "
            "or set stop_loss_pct"
        )
        cy.events([RiskEvent("protection", text, critical=True)])

    def _apply_sync(
        self, sid: str, sym: str, cap: float, stop: float, r: Result | None, cy: CycleView
    ) -> None:
        strat = self.app.strategies.get(sid)
        pos = strat.positions.get(sym) if strat else None
        if pos is None or r is None or not isinstance(r.data, dict):
            return
        d, g = r.data, pos.guard
        oid = d.get("stop_loss_oid")
        if isinstance(oid, int) and oid > 0:
            if oid != g.stop_oid or not g.stop_qty:
                g.stop_qty, g.stop_px = cap, stop
            g.stop_oid = oid
        filled = d.get("stop_loss_filled_oid")
        if d.get("stop_loss_filled_immediately") and isinstance(filled, int) and filled > 0:
            g.stop_oid = filled  # filled at submit: its fill is booked as the stop (#412)
        tp = d.get("tp_oids")
        if isinstance(tp, list):
            at_once = d.get("tp_filled_oids") or []
            oids = [int(o) if isinstance(o, int) and o > 0 else 0 for o in tp]
            for i, o in enumerate(at_once[: len(oids)]):
                if isinstance(o, int) and o > 0 and not oids[i]:
                    oids[i] = o  # filled at submit: booked as that tier by the reconcile
            g.target_oids = oids
            placed = list(g.target_placed) + [False] * (len(tp) - len(g.target_placed))
            g.target_placed = [p or o > 0 for p, o in zip(placed, g.target_oids, strict=False)]
        problems = [
            str(d.get(k)) for k in ("stop_loss_error", "open_order_check_error") if d.get(k)
        ]
        problems += [str(e) for e in d.get("tp_errors") or [] if e]
        if r.error:
            problems.append(r.error)
        if problems:
            text = f"[{sid}] HL PROTECTION WARNING {sym} reduce-only SL/TP sync failed: {'; '.join(problems)[:300]}"
            if any(_order_cap(p) for p in problems):
                text = (
                    f"[{sid}] HL OPEN-ORDER CAP HIT {sym} position is UNPROTECTED: "
                    f"SL/TP placement rejected: {'; '.join(problems)[:300]}"
                )
            cy.events([RiskEvent("protection", text, critical=True)])


def _order_cap(text: str) -> bool:
    """The venue's open-order cap (upstream #479): escalated, the position is unprotected."""
    t = text.lower()
    capped = any(w in t for w in ("too many", "rate limit", "max", "limit", "exceed"))
    return capped and any(w in t for w in ("trigger order", "open order"))
