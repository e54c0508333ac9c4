"""The supervisor's lifecycle: signals, status server, probe, lock, book; then the loop; then exit.

Start-up order matters: signal handlers first (a SIGTERM during a slow probe must mean "exit 0",
not death by default action), then the status server (so ``/health`` answers 503 "starting"
while the probe runs), then the probe, the lock and the state DB. What one cycle does lives in
``cycle.py``, when things run in ``schedule.py``. The book is guarded by one lock that the status
server's readers share; no subprocess ever runs under it.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy.exc import SQLAlchemyError

from shared_tools.clock import now_utc as market_now
from shared_tools.config.effective import effective_values
from shared_tools.config.load import load_config
from shared_tools.config.model import Config, ConfigError, StrategyConfig
from shared_tools.paths import REPO_ROOT
from shared_tools.text import exc_line
from supervisor.cycle import Cycle
from supervisor.cycle_report import CycleReport, Outcome, new_report
from supervisor.http.board import Board, make_server
from supervisor.http.server import NotReady, StatusServer, parse_history_query
from supervisor.http.views import build_status, health
from supervisor.notify.hooks import Notifier
from supervisor.notify.outbox import pending_count as outbox_pending
from supervisor.reload import (
    apply_reload,
    capital_problems,
    flat_only_problems,
    structural_changes,
)
from supervisor.risk import capital_pct
from supervisor.risk import portfolio as risk_portfolio
from supervisor.run.executor import Executor
from supervisor.run.probe import probe_config
from supervisor.run.workers import worker_env
from supervisor.schedule import (
    cadence_changes,
    due_strategies,
    mark_max_age,
    risk_pass_due,
    save_backoff,
    seconds_until_due,
)
from supervisor.service.lean import release_freed_memory
from supervisor.service.lock import AlreadyRunning, acquire_lock
from supervisor.service.restart import reexec
from supervisor.service.sdnotify import SdNotify
from supervisor.state import roster
from supervisor.state.db import StateDB, StateError
from supervisor.state.models import AppState, utc_iso
from supervisor.summary import format_summary

EXIT_OK, EXIT_ERROR, EXIT_CONFIG, EXIT_LOCKED = 0, 1, 78, 79
STALE_MIN_SECONDS = 1800
SHUTDOWN_DRAIN_S = 15.0


if TYPE_CHECKING:
    from supervisor.live.desk import LiveDesk


def needs_desk(config: Config) -> bool:
    """Whether the live desk runs at all: a live strategy, or a manual one (its queued actions
    and limit orders are drained by the desk's phases). A paper-only book never loads
    supervisor/live/ (about 0.5 MiB of the idle daemon). Adding either kind is a structural
    change, which the SIGHUP reload refuses, so the answer holds for the process's life."""
    return bool(config.live_strategies) or any(sc.type == "manual" for sc in config.strategies)


def log(msg: str) -> None:
    print(f"{datetime.now(UTC).strftime('%H:%M:%S')} {msg}", file=sys.stderr, flush=True)


class Supervisor:
    def __init__(
        self,
        config: Config,
        *,
        once: bool = False,
        status_port: int | None = None,
        prune_open: bool = False,
        out=None,
    ) -> None:
        self.config = config
        self.prune_open = prune_open
        self.once = once
        self.status_port = status_port or config.status_port
        self.out = out or sys.stdout
        self.book_lock = threading.RLock()
        self.app = AppState()
        self.db: StateDB | None = None
        self.server: StatusServer | None = None
        self.executor: Executor | None = None
        self.desk: LiveDesk | None = None
        self.ready = False  # the book is loaded; /status and /history may answer
        self.draining = False
        self.save_error = ""
        self.save_failures = 0
        self.retry_save_at = 0.0  # time.monotonic() before which a failed save is not retried
        self.stopping = False
        self.wake = threading.Event()
        self.reload_requested = False
        self.restart_requested = False  # drain as on SIGTERM, then re-execute (request_restart)
        self.fast_cadence: set[str] = set()  # ids on the drawdown-warning 90 s cadence
        self.started_at = market_now().timestamp()  # on the book's clock, as last_cycle
        self._lock_handle = None
        self.notifier = Notifier(lambda: self.config, log)
        self.board = Board(self)  # the dashboard's reads and /metrics (supervisor/http/board.py)
        self.sd = SdNotify()  # systemd Type=notify: READY/WATCHDOG/STOPPING; no-op outside

    # -- startup ----------------------------------------------------------------------------
    def start(self) -> int:
        """Bring the supervisor up; EXIT_OK also when a stop signal arrived on the way."""
        for w in self.config.warnings:
            log(f"[config] {w}")
        if not self.once:
            self._start_server()
        lines = [] if self.stopping else probe_config(self.config)
        if lines:
            for line in lines:
                print(line, file=sys.stderr)
            print("startup probe failed: refusing to start (exit 78)", file=sys.stderr)
            self.notifier.alert_now(f"**Startup probe failed** (exit 78): {lines[0]}", wait=True)
            return EXIT_CONFIG
        if self.stopping:
            return EXIT_OK
        live_lines = []
        if self.config.live_strategies:  # the live modules load only for a config that trades live
            from supervisor.live.start import start_problems

            live_lines = start_problems(self.config, Path(self.config.db_file).exists(), os.environ)
        if live_lines:
            for line in live_lines:
                print(line, file=sys.stderr)
            print("live start-up checks failed: refusing to start (exit 78)", file=sys.stderr)
            self.notifier.alert_now(f"**Live start refused** (exit 78): {live_lines[0]}", wait=True)
            return EXIT_CONFIG
        try:
            self._lock_handle = acquire_lock(self.config.db_file)
        except AlreadyRunning as exc:
            print(f"{exc} (exit 79)", file=sys.stderr)
            return EXIT_LOCKED
        except OSError as exc:
            raise StateError(
                f"cannot lock state DB {self.config.db_file}: {exc.strerror}; check db_file"
            ) from None
        if self.stopping:  # stopped while locking: nothing opened, nothing written
            return EXIT_OK
        try:
            self.db = StateDB(self.config.db_file)
        except SQLAlchemyError as exc:
            raise StateError(
                f"cannot open state DB {self.config.db_file}: {exc_line(exc)}; check db_file"
            ) from None
        with self.book_lock:
            self.app = self.db.load()
        if self.stopping:  # not ready: shutdown() saves nothing, the DB stays as it was
            return EXIT_OK
        if not self._prune():
            return EXIT_CONFIG
        self.executor = self._make_executor(self.config)
        if needs_desk(self.config):
            from supervisor.live.desk import LiveDesk

            self.desk = LiveDesk(self.config, self.app, self._run_jobs, log, lock=self.book_lock)
        with self.book_lock:
            self._reconcile_roster()
            self.ready = True
        self.notifier.start(
            self.db,
            reset_file=risk_portfolio.request_path(self.config.db_file),
            latched_at=self._kill_switch_at,
            now=market_now,
        )
        return EXIT_OK

    def _start_server(self) -> None:
        self.server = make_server(self, self.board, log)  # always behind a token

    def _prune(self) -> bool:
        """Drop strategies no longer configured; refuse (False) while they hold positions."""
        assert self.db is not None
        return roster.prune(self.db, self.app, self.config, prune_open=self.prune_open, log=log)

    def _make_executor(self, config: Config) -> Executor:
        return Executor(
            REPO_ROOT,
            max_concurrent=config.max_concurrent_checks,
            timeout_s=config.script_timeout_seconds,
            batching=config.batch_checks,
            env=worker_env(config),
        )

    def _reconcile_roster(self) -> None:
        """The roster from the config; capital_pct strategies join with the capital resolved
        from a fresh account read (supervisor/risk/capital_pct.py)."""
        capital_pct.refresh(
            self.app, self.config, self.desk or capital_pct.NO_READS, log, startup=True
        )
        capitals = capital_pct.capitals(self.app, self.config)
        roster.reconcile(self.app, self.config, log=log, capitals=capitals)

    # -- views for the status server --------------------------------------------------------
    def status_view(self) -> dict:
        if not self.ready:
            raise NotReady("starting")
        with self.book_lock:
            view = build_status(self.app, mark_max_age_s=mark_max_age(self.config))
        for sc in self.config.strategies:  # each defaultable value and its source
            if sc.id in view["strategies"]:
                view["strategies"][sc.id]["effective_values"] = effective_values(sc, self.config)
        view["notifications"] = {"pending": self._outbox_pending()}  # read outside the lock
        return view

    def _outbox_pending(self) -> int | None:
        """Chat messages waiting for delivery (None when the DB cannot say right now)."""
        try:
            return outbox_pending(self.db.engine) if self.db is not None else None
        except SQLAlchemyError:
            return None

    def health_view(self) -> tuple[int, dict]:
        if not self.ready:
            state = "draining" if self.draining else "starting"
            return 503, {"status": state, "pid": os.getpid()}
        stale = max(STALE_MIN_SECONDS, 3 * self.config.tick_seconds)
        with self.book_lock:
            code, body = health(
                self.app, draining=self.draining, started_at=self.started_at, stale_after_s=stale
            )
        if code == 200 and self.save_error:
            code, body = 503, {**body, "status": "unhealthy", "reason": self.save_error}
        return code, body

    def history_view(self, query: dict) -> dict:
        if not self.ready or self.db is None:
            raise NotReady("starting")
        kwargs = parse_history_query(query)
        rows, total = self.db.trade_history(**kwargs)
        return {
            "trades": rows,
            "total": total,
            "limit": kwargs["limit"],
            "offset": kwargs["offset"],
        }

    # -- the loop ---------------------------------------------------------------------------
    def run(self) -> int:
        self._install_signals()  # before anything slow: a stop during start-up exits 0
        try:
            code = self.start()
        except BaseException:
            self._release()
            raise
        if code != EXIT_OK:
            self._release()
            return code
        try:
            if self.once and not self.stopping:
                self.print_summary(self.run_cycle(self.config.strategies))
                self.notifier.flush()
            while not self.once and not self.stopping:
                self._tick()
        finally:
            saved = self.shutdown()
        if saved and self.restart_requested:
            reexec(log)  # does not return
        if not saved:
            print(
                f"go-trader: exiting with unsaved state ({self.save_error}); the last committed "
                "cycle is intact and will be resumed",
                file=sys.stderr,
            )
            return EXIT_ERROR
        return EXIT_OK

    def _tick(self) -> None:
        """One pass of the loop: reload if asked, run what is due, sleep until the next."""
        if self.reload_requested:
            self.reload()
        now = market_now()
        due = due_strategies(self.config, self.app, now)
        if due or risk_pass_due(self.config, self.app, now):
            report = self.run_cycle(due)
            if report.outcomes or report.trades:
                self.print_summary(report)
        if self.stopping:
            return
        self.fast_cadence, changes = cadence_changes(self.config, self.app, self.fast_cadence)
        for line in changes:
            log(line)
        wait = seconds_until_due(self.config, self.app, market_now())
        if self.save_error:
            wait = max(wait, self.retry_save_at - time.monotonic())
        log(f"next cycle in {wait:.0f}s")
        self.sd.cycle_done(self.app.cycle_count, self.save_error)
        release_freed_memory()  # the cycle's garbage back to the OS while idle (service/lean.py)
        self.sd.sleep(self.wake, wait)
        self.wake.clear()

    def _run_jobs(self, jobs: list) -> dict:
        assert self.executor is not None
        results = self.executor.run(jobs) if jobs else {}
        self.board.run.jobs_done(jobs, results)
        return results

    def run_cycle(self, due: list[StrategyConfig]) -> CycleReport:
        """One cycle. No new trades while earlier ones are not yet on disk.

        The book's clock is the market's (GO_TRADER_NOW when pinned, as in offline
        simulations and tests), so trade times, funding hours and latches follow the same
        time the workers' candles do; so does the schedule. Live strategies add the desk's
        phases (supervisor/live/): resolve, account read, reconcile, decide, commit the
        intents, send, protect, then the cycle's commit.
        """
        assert self.db is not None and self.executor is not None
        now = market_now()
        desk = self.desk  # None: no live and no manual strategy (needs_desk)
        with self.book_lock:
            if self.save_error and not self._retry_save():
                report = new_report(self.app.cycle_count)
                report.outcomes = [
                    Outcome(sc.id, error=f"not trading: {self.save_error}") for sc in due
                ]
                return report
            self.app.cycle_count += 1
            reads = desk or capital_pct.NO_READS
            capital_pct.refresh(self.app, self.config, reads, log)  # the latest account read
            due = capital_pct.tradable(self.app, due, log, utc_iso(now))
            report = new_report(self.app.cycle_count)
            report.events.extend(risk_portfolio.take_reset_request(self.app, self.config, now, log))
            cycle = Cycle(
                self.app,
                self.config,
                now,
                report,
                log=log,
                draining=lambda: self.draining,
                live=desk if desk is not None and desk.active else None,
            )
            self.app.in_cycle = True
        saved, intents = 0, []
        try:
            if desk is not None:
                from supervisor.live import limit_orders, manual_queue

                desk.resolve(cycle)
                manual_queue.drain(
                    self.app, self.config, self._run_jobs, cycle, lock=self.book_lock
                )
                limit_orders.sync(self.app, self.config, self._run_jobs, cycle, lock=self.book_lock)
            with self.book_lock:
                jobs = cycle.plan(due)
                if desk is not None:
                    jobs += desk.read_jobs(int(cycle.epoch * 1000))
            results = self._run_jobs(jobs)
            with self.book_lock:
                try:
                    cycle.apply(due, results)
                    intents = desk.decide(cycle) if desk is not None else []
                finally:  # whatever happened, trades already made must reach the DB
                    self.app.unsaved_trades.extend(report.trades)
                    saved = len(report.trades)
                if intents and not self.persist():  # an intent is on disk before it leaves
                    assert desk is not None  # intents come only from a desk
                    desk.drop(intents)
                    intents = []
            if desk is not None and desk.active:
                desk.send(intents, cycle)
                desk.protect(cycle)
        finally:
            with self.book_lock:
                self.app.unsaved_trades.extend(report.trades[saved:])
                self.notifier.queue_cycle(report, self.app)  # commits with the cycle
                self.notifier.queue_events(report, self.app)
                self.app.last_cycle = utc_iso(now)  # the book's clock, as marks and funding
                self.persist()
                self.app.in_cycle = False
        report.duration_s = time.time() - report.started
        self.board.run.cycle_done(report.duration_s)
        return report

    def _kill_switch_at(self) -> str:
        """When the kill switch latched ("" when it is not): read by the reply listener."""
        s = self.app.extra.get(risk_portfolio.KEY) or {}
        return str(s.get("kill_switch_at") or "") if s.get("kill_switch") else ""

    def _retry_save(self) -> bool:
        """Retry a failed save once its back-off has passed; False while still failing."""
        if time.monotonic() < self.retry_save_at:
            return False
        return self.persist()

    def persist(self) -> bool:
        """Commit the book with every trade not yet on disk; on failure keep them for a retry."""
        assert self.db is not None
        try:
            self.db.save(self.app, self.app.unsaved_trades, self.app.unsaved_messages)
        except (SQLAlchemyError, OSError, ValueError) as exc:
            self.save_failures += 1
            backoff = save_backoff(self.save_failures)
            self.retry_save_at = time.monotonic() + backoff
            self.save_error = f"state save failed: {exc_line(exc)}"
            log(f"[state] {self.save_error} (trading paused; next try in {backoff:.0f}s)")
            if self.save_failures == 1:
                self.notifier.alert_now(f"{self.save_error}; trading paused until it recovers")
            return False
        self.app.unsaved_trades.clear()
        self.app.unsaved_messages.clear()
        self.notifier.saved()
        if self.save_error:
            log("[state] save recovered; trading resumes")
        self.save_error, self.save_failures, self.retry_save_at = "", 0, 0.0
        return True

    # -- signals, reload, shutdown ----------------------------------------------------------
    def _install_signals(self) -> None:
        if threading.current_thread() is not threading.main_thread():
            return
        signal.signal(signal.SIGTERM, self._on_stop)
        signal.signal(signal.SIGINT, self._on_stop)
        signal.signal(signal.SIGHUP, self._on_hup)

    def _on_stop(self, signum, _frame) -> None:
        if signum is not None:  # a stop signal during a requested restart: exit, no exec
            self.restart_requested = False
        first = not self.draining
        self.draining = True
        self.stopping = True
        # Locks (and stderr writes) in a signal handler can deadlock or raise with the
        # interrupted main thread, so logging, waking and killing happen on a helper thread.
        threading.Thread(
            target=self._stop_work, args=(signum if first else None,), name="stop", daemon=True
        ).start()

    def _stop_work(self, signum: int | None) -> None:
        if signum is not None:
            log(
                f"[shutdown] {signal.Signals(signum).name}: stopping the running checks, "
                "saving, then exiting"
            )
        self.wake.set()
        if self.executor is not None:
            self.executor.cancel_read_only()

    def request_restart(self, why: str) -> bool:
        """Restart in place (the structural actions' ``restart: true``): drain exactly as on
        SIGTERM, then :meth:`run` re-executes the same argv once everything is released (state
        saved, DB closed, status port and single-instance lock let go). Called from a status
        server worker: its reply goes out before the server stops (stop() waits for workers).
        False when a stop is already under way: a stop always wins over a restart."""
        if self.stopping:
            return False
        log(f"[restart] {why}: draining, then restarting")
        self.restart_requested = True
        self._on_stop(None, None)
        return True

    def _on_hup(self, _signum, _frame) -> None:
        """Reloads are applied at the loop top; wake a waiting loop so that happens now."""
        self.reload_requested = True
        threading.Thread(target=self.wake.set, name="hup", daemon=True).start()

    def reload(self) -> bool:
        """Apply the safe subset of a changed config; refuse structural changes. Never stops."""
        self.reload_requested = False
        try:
            new = load_config(self.config.path)
        except ConfigError as exc:
            for line in exc.lines:
                log(f"[reload] rejected: {line}")
            return False
        problems = structural_changes(self.config, new)
        if problems:
            for p in problems:
                log(f"[reload] rejected (restart required): {p}")
            return False
        with self.book_lock:
            problems = capital_problems(new, self.app)
            problems += flat_only_problems(self.config, new, self.app)
            if problems:
                for p in problems:
                    log(f"[reload] rejected: {p}")
                return False
            changes = apply_reload(self.config, new, self.app)
            self.config = new
            self.executor = self._make_executor(new)
            if self.desk is not None:
                self.desk.config = new
            if self.stopping:  # a stop arrived while we swapped executors
                self.executor.cancel_read_only()
            if changes:
                self.persist()
        log(f"[reload] applied: {', '.join(changes) if changes else 'no changes'}")
        return True

    def shutdown(self) -> bool:
        """Drain side-effect runs, save, release everything; False if the final save failed."""
        saved = True
        if self.restart_requested:
            self.sd.reloading()
        else:
            self.sd.stopping()
        if self.executor is not None:
            self.executor.drain(SHUTDOWN_DRAIN_S)
        if self.db is not None and self.ready:
            with self.book_lock:
                saved = self.persist()
        self._release()
        return saved

    def _release(self) -> None:
        self.board.stop_tuning()  # a running tuning worker ends; its run becomes interrupted
        self.notifier.stop()  # before the DB closes: no delivery mark after that
        if self.db is not None:
            self.db.close()
            self.db = None
        if self.server is not None:
            self.server.stop()
            self.server = None
        if self._lock_handle is not None:
            self._lock_handle.release()
            self._lock_handle = None

    # -- output -----------------------------------------------------------------------------
    def print_summary(self, report: CycleReport) -> None:
        text = format_summary(report, self.app, self.config, save_error=self.save_error)
        print(text, file=self.out, flush=True)
