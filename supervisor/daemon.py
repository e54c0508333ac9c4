"""The supervisor process: probe, lock, load the book, then tick until told to stop.

Each cycle: pick the due strategies, run their risk checks, spawn their check scripts (and one
check_price.py for marks) through the executor, apply the signals to the paper book, and commit
the whole cycle in one transaction. The book is guarded by one lock that the status server's
readers share; no subprocess ever runs under it.
"""

from __future__ import annotations

import math
import os
import signal
import sys
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime

from sqlalchemy.exc import SQLAlchemyError

from supervisor.config import REPO_ROOT, Config, ConfigError, StrategyConfig, load_config
from supervisor.executor import Executor, Job, Result
from supervisor.lock import AlreadyRunning, acquire_lock
from supervisor.models import AppState, StrategyState, Trade, parse_iso, utc_iso
from supervisor.portfolio import apply_spot_signal, spot_fee_rate
from supervisor.probe import probe_scripts
from supervisor.reload import apply_reload, capital_problems, structural_changes
from supervisor.risk import evaluate_breakers, latched, record_trade_result, update_drawdown
from supervisor.server import StatusServer, parse_history_query
from supervisor.state import StateDB, StateError
from supervisor.status import build_status, health
from supervisor.summary import format_summary

EXIT_OK, EXIT_ERROR, EXIT_CONFIG, EXIT_LOCKED = 0, 1, 78, 79
PRICE_SCRIPT = "shared_scripts/check_price.py"
PRICE_JOB_PREFIX = "__prices__:"
DEFAULT_VENUE = "binanceus"
STALE_MIN_SECONDS = 1800
SHUTDOWN_DRAIN_S = 15.0


def one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return f"{type(exc).__name__}: {text[:300]}"


def log(msg: str) -> None:
    print(f"{datetime.now(UTC).strftime('%H:%M:%S')} {msg}", file=sys.stderr, flush=True)


@dataclass
class WorkerSignal:
    """The fields of a signal-check result the book acts on, validated."""

    signal: int
    price: float
    atr: float = 0.0
    close_fraction: float = 1.0


def _finite(value: object, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ValueError(f"{name} must be a finite number, got {value!r}")
    return float(value)


def read_signal(data: object) -> WorkerSignal:
    """Validate a worker's JSON; anything odd is that strategy's error, never the cycle's."""
    if not isinstance(data, dict):
        raise ValueError(f"expected a JSON object, got {type(data).__name__}")
    signal_value = data.get("signal", 0)
    if isinstance(signal_value, bool) or signal_value not in (-1, 0, 1):
        raise ValueError(f"signal must be -1, 0 or 1, got {signal_value!r}")
    price = data.get("price")
    price = 0.0 if price is None else _finite(price, "price")
    if price < 0:
        raise ValueError(f"price must be >= 0, got {price!r}")
    indicators = data.get("indicators") or {}
    if not isinstance(indicators, dict):
        raise ValueError(f"indicators must be an object, got {type(indicators).__name__}")
    atr = indicators.get("atr")
    try:
        atr = _finite(atr, "atr") if atr is not None else 0.0
    except ValueError:
        atr = 0.0  # ATR only annotates the position; a bad one is dropped, not fatal
    fraction = data.get("close_fraction")
    fraction = 1.0 if fraction is None else _finite(fraction, "close_fraction")
    if not 0.0 <= fraction <= 1.0:
        raise ValueError(f"close_fraction must be within [0, 1], got {fraction!r}")
    return WorkerSignal(int(signal_value), price, max(atr, 0.0), fraction)


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


def worker_env(config: Config) -> dict[str, str]:
    """Environment overlay for workers: the market-data source when the config names one."""
    env: dict[str, str] = {}
    if "market_data" in config.raw:
        env["GO_TRADER_MARKET_DATA"] = config.market_data
    return env


def price_argv(platform: str, symbols: set[str]) -> list[str]:
    argv = sorted(symbols)
    if platform != DEFAULT_VENUE:
        argv.append(f"--platform={platform}")
    return argv


def probe_list(config: Config) -> list[tuple[str, list[str]]]:
    """Every script with the exact argv it will get in a cycle (plus the price script)."""
    probes = [(s.script, s.check_argv()) for s in config.strategies]
    by_platform: dict[str, set[str]] = {}
    for s in config.strategies:
        by_platform.setdefault(s.platform, set()).update(s.symbols())
    for platform, symbols in sorted(by_platform.items()):
        probes.append((PRICE_SCRIPT, price_argv(platform, symbols or {"BTC/USDT"})))
    return probes


def run_probe(config: Config) -> list[str]:
    """Probe lines for every failure (empty when all scripts accept their argv)."""
    failures = probe_scripts(REPO_ROOT, probe_list(config), env=worker_env(config))
    return [f.line() for f in failures]


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
        self.draining = False
        self.save_error = ""
        self.stopping = False
        self.wake = threading.Event()
        self.reload_requested = False
        self.started_at = time.time()
        self._lock_handle = None

    # -- startup ----------------------------------------------------------------------------
    def start(self) -> int:
        for w in self.config.warnings:
            log(f"[config] {w}")
        lines = run_probe(self.config)
        if lines:
            for line in lines:
                print(line, file=sys.stderr)
            print("startup probe failed: refusing to start (exit 78)", file=sys.stderr)
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
        try:
            self.db = StateDB(self.config.db_file)
        except SQLAlchemyError as exc:
            raise StateError(
                f"cannot open state DB {self.config.db_file}: {one_line(exc)}; check db_file"
            ) from None
        configured = {s.id for s in self.config.strategies}
        self.app = self.db.load()
        holding = {
            sid: sorted(strat.positions)
            for sid, strat in self.app.strategies.items()
            if sid not in configured and strat.positions
        }
        if holding and not self.prune_open:
            for sid, symbols in sorted(holding.items()):
                print(
                    f"state {self.config.db_file}: strategy '{sid}' is no longer in the config but "
                    f"holds {', '.join(symbols)}; put it back to let it close, or start with "
                    "--prune-open to drop those positions",
                    file=sys.stderr,
                )
            self.db.close()
            self._lock_handle.release()
            return EXIT_CONFIG
        for sid in self.db.prune(configured):
            self.app.strategies.pop(sid, None)
            log(f"[state] pruned strategy '{sid}' (no longer in the config)")
        self._reconcile_roster()
        self.executor = self._make_executor(self.config)
        if not self.once:
            self.server = StatusServer(
                status=self.status_view,
                health=self.health_view,
                history=self.history_view,
                token=os.environ.get("STATUS_AUTH_TOKEN") or None,
            )
            port = self.server.start(self.status_port)
            if port:
                log(f"[status] http://127.0.0.1:{port}/status")
                if self.server.token is None:
                    log(
                        "[status] NOTE: STATUS_AUTH_TOKEN is not set; any local user can read /status"
                    )
        return EXIT_OK

    def _make_executor(self, config: Config) -> Executor:
        return Executor(
            REPO_ROOT,
            max_concurrent=config.max_concurrent_checks,
            timeout_s=config.script_timeout_seconds,
            batching=config.batch_checks,
            env=worker_env(config),
        )

    def _reconcile_roster(self) -> None:
        for sc in self.config.strategies:
            strat = self.app.strategies.get(sc.id)
            if strat is None:
                strat = StrategyState(
                    id=sc.id,
                    type=sc.type,
                    platform=sc.platform,
                    cash=sc.capital,
                    initial_capital=sc.initial_capital or sc.capital,
                )
                strat.risk.peak_value = sc.capital
                self.app.strategies[sc.id] = strat
            elif abs(strat.initial_capital - sc.initial_capital) > 1e-9:
                log(
                    f"[state] {sc.id}: config capital {sc.initial_capital:g} differs from the "
                    f"stored baseline {strat.initial_capital:g}; the stored book wins "
                    "(send SIGHUP to move the difference into cash)"
                )
            strat.type, strat.platform = sc.type, sc.platform
            strat.risk.max_drawdown_pct = sc.max_drawdown_pct
        # rebase peaks on what remains (no-op for strategies whose peak is already set)
        for strat in self.app.strategies.values():
            if strat.risk.peak_value <= 0:
                strat.risk.peak_value = strat.value(self.app.prices)

    # -- views for the status server --------------------------------------------------------
    def status_view(self) -> dict:
        with self.book_lock:
            return build_status(self.app)

    def health_view(self) -> tuple[int, dict]:
        stale = max(STALE_MIN_SECONDS, 3 * self.config.tick_seconds)
        with self.book_lock:
            code, body = health(
                self.app, draining=self.draining, started_at=self.started_at, stale_after_s=stale
            )
        if code == 200 and self.save_error:
            code, body = 503, {**body, "status": "unhealthy", "reason": self.save_error}
        return code, body

    def history_view(self, query: dict) -> dict:
        kwargs = parse_history_query(query)
        assert self.db is not None
        rows, total = self.db.trade_history(**kwargs)
        return {
            "trades": rows,
            "total": total,
            "limit": kwargs["limit"],
            "offset": kwargs["offset"],
        }

    # -- the loop ---------------------------------------------------------------------------
    def run(self) -> int:
        code = self.start()
        if code != EXIT_OK:
            return code
        self._install_signals()
        try:
            if self.once:
                self.print_summary(self.run_cycle(self.config.strategies))
            while not self.once and not self.stopping:
                if self.reload_requested:
                    self.reload()
                due = [] if self.stopping else self.due_strategies(datetime.now(UTC))
                if due:
                    self.print_summary(self.run_cycle(due))
                if self.stopping:
                    break
                self.wake.wait(self.seconds_until_due(datetime.now(UTC)))
                self.wake.clear()
        finally:
            saved = self.shutdown()
        if not saved:
            print(
                f"go-trader: exiting with unsaved state ({self.save_error}); the last committed "
                "cycle is intact and will be resumed",
                file=sys.stderr,
            )
            return EXIT_ERROR
        return EXIT_OK

    def due_strategies(self, now: datetime) -> list[StrategyConfig]:
        due = []
        for sc in self.config.strategies:
            last = self.app.strategies[sc.id].last_run
            interval = sc.effective_interval(self.config.interval_seconds)
            if not last or (now - parse_iso(last)).total_seconds() >= interval - 0.5:
                due.append(sc)
        return due

    def seconds_until_due(self, now: datetime) -> float:
        waits = []
        for sc in self.config.strategies:
            last = self.app.strategies[sc.id].last_run
            if not last:
                return 1.0
            interval = sc.effective_interval(self.config.interval_seconds)
            waits.append(interval - (now - parse_iso(last)).total_seconds())
        return max(1.0, min(waits or [self.config.tick_seconds]))

    def run_cycle(self, due: list[StrategyConfig]) -> CycleReport:
        """One cycle. No new trades while earlier ones are not yet on disk."""
        assert self.db is not None and self.executor is not None
        now = datetime.now(UTC)
        stamp = utc_iso(now)
        with self.book_lock:
            self.app.cycle_count += 1
            report = CycleReport(cycle=self.app.cycle_count, started=time.time())
            if self.save_error and not self.persist():
                self.app.cycle_count -= 1
                report.outcomes = [
                    Outcome(sc.id, error=f"not trading: {self.save_error}") for sc in due
                ]
                return report
            self.app.in_cycle = True
            jobs, blocked = self._plan(due, now, report)
        try:
            results = self.executor.run(jobs) if jobs else {}
            with self.book_lock:
                for key, result in results.items():
                    if key.startswith(PRICE_JOB_PREFIX):
                        self._apply_prices(result)
                try:
                    for sc in due:
                        if sc.id not in blocked:
                            self._apply_guarded(sc, results.get(sc.id), now, stamp, report)
                    for strat in self.app.strategies.values():
                        update_drawdown(strat, strat.value(self.app.prices))
                finally:  # whatever happened, trades already made must reach the DB
                    self.app.unsaved_trades.extend(report.trades)
                self.app.last_cycle = utc_iso()
                self.persist()
        finally:
            self.app.in_cycle = False
        report.duration_s = time.time() - report.started
        return report

    def persist(self) -> bool:
        """Commit the book with every trade not yet on disk; on failure keep them for a retry."""
        assert self.db is not None
        try:
            self.db.save(self.app, self.app.unsaved_trades)
        except (SQLAlchemyError, OSError) as exc:
            self.save_error = f"state save failed: {one_line(exc)}"
            log(f"[state] {self.save_error} (trading pauses until a save succeeds)")
            return False
        self.app.unsaved_trades.clear()
        if self.save_error:
            log("[state] save recovered; trading resumes")
        self.save_error = ""
        return True

    def _plan(
        self, due: list[StrategyConfig], now: datetime, report: CycleReport
    ) -> tuple[list[Job], set[str]]:
        jobs: list[Job] = []
        blocked: set[str] = set()
        symbols: dict[str, set[str]] = {}  # platform -> symbols to mark
        for sc in due:
            strat = self.app.strategies[sc.id]
            symbols.setdefault(sc.platform, set()).update(sc.symbols())
            reason = latched(strat, now)
            if reason:
                blocked.add(sc.id)
                strat.last_run = utc_iso(now)
                report.outcomes.append(Outcome(sc.id, action=reason))
                continue
            jobs.append(Job(key=sc.id, script=sc.script, args=tuple(sc.check_argv())))
        for strat in self.app.strategies.values():
            symbols.setdefault(strat.platform, set()).update(strat.positions)
        for platform, syms in sorted(symbols.items()):
            if syms:
                jobs.append(
                    Job(
                        key=PRICE_JOB_PREFIX + platform,
                        script=PRICE_SCRIPT,
                        args=tuple(price_argv(platform, syms)),
                    )
                )
        return jobs, blocked

    def _apply_prices(self, result: Result) -> None:
        data = result.data if isinstance(result.data, dict) else {}
        fresh = {
            k: float(v)
            for k, v in data.items()
            if isinstance(v, (int, float))
            and not isinstance(v, bool)
            and math.isfinite(v)
            and v > 0
        }
        if fresh:
            self.app.prices.update(fresh)
        if not result.ok:
            log(f"[prices] {result.key.removeprefix(PRICE_JOB_PREFIX)}: {result.error}")

    def _apply_guarded(
        self,
        sc: StrategyConfig,
        result: Result | None,
        now: datetime,
        stamp: str,
        report: CycleReport,
    ) -> None:
        """Apply one strategy's result; a bug here costs that strategy, never the cycle."""
        try:
            self._apply_result(sc, result, now, stamp, report)
        except Exception as exc:
            reason = f"internal error applying result: {one_line(exc)}"
            log(f"[{sc.id}] {reason}")
            self._record_failure(self.app.strategies[sc.id], reason, stamp, report)

    def _record_failure(
        self, strat: StrategyState, reason: str, stamp: str, report: CycleReport
    ) -> None:
        strat.last_error = reason
        strat.last_error_at = stamp
        strat.consecutive_failures += 1
        strat.last_run = stamp
        report.outcomes.append(Outcome(strat.id, error=reason))

    def _apply_result(
        self,
        sc: StrategyConfig,
        result: Result | None,
        now: datetime,
        stamp: str,
        report: CycleReport,
    ) -> None:
        strat = self.app.strategies[sc.id]
        sig: WorkerSignal | None = None
        reason = ""
        if result is None:
            reason = "no result"
        elif not result.ok:
            reason = result.error or "failed"
        else:
            try:
                sig = read_signal(result.data)
            except ValueError as exc:
                reason = f"bad result: {exc}"
        if sig is not None and sig.price <= 0:
            sig.price = self.app.prices.get(sc.symbol, 0.0)
        # Breakers are judged on this cycle's marks (the check's own price fills any gap).
        marks = dict(self.app.prices)
        if sig is not None and sig.price > 0:
            marks.setdefault(sc.symbol, sig.price)
        for symbol in strat.positions:
            if strat.last_price > 0:
                marks.setdefault(symbol, strat.last_price)
        breaker, closes = evaluate_breakers(strat, sc, marks, now, self.app.cycle_count)
        for t in closes:
            log(f"[{sc.id}] {t.details}")
        report.trades.extend(closes)
        if sig is None:
            if self.draining:
                report.outcomes.append(Outcome(sc.id, error=f"skipped: shutting down ({reason})"))
                return
            self._record_failure(strat, reason, stamp, report)
            log(f"[{sc.id}] skipped: {reason} (failures in a row: {strat.consecutive_failures})")
            return
        strat.last_error, strat.last_error_at, strat.consecutive_failures = "", "", 0
        strat.last_run = stamp
        strat.last_signal = sig.signal
        strat.last_price = sig.price
        if breaker:
            report.outcomes.append(Outcome(sc.id, sig.signal, sig.price, breaker))
            return
        if sc.paused and sig.signal > 0:
            report.outcomes.append(Outcome(sc.id, sig.signal, sig.price, "paused (buy held)"))
            return
        trades, action = apply_spot_signal(
            strat,
            sc.symbol,
            sig.signal,
            sig.price,
            stamp,
            fee_rate=spot_fee_rate(sc.platform),
            close_fraction=sig.close_fraction,
            entry_atr=sig.atr,
            cycle=self.app.cycle_count,
        )
        for t in trades:
            if t.is_close:
                record_trade_result(strat, t.realized_pnl, now)
            log(f"[{sc.id}] {t.details}")
        report.trades.extend(trades)
        report.outcomes.append(Outcome(sc.id, sig.signal, sig.price, action))

    # -- signals, reload, shutdown ----------------------------------------------------------
    def _install_signals(self) -> None:
        if threading.current_thread() is not threading.main_thread():
            return
        signal.signal(signal.SIGTERM, self._on_stop)
        signal.signal(signal.SIGINT, self._on_stop)
        signal.signal(signal.SIGHUP, self._on_hup)

    def _on_stop(self, signum, _frame) -> None:
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
            log(f"[shutdown] {signal.Signals(signum).name}: finishing the cycle, then exiting")
        self.wake.set()
        if self.executor is not None:
            self.executor.cancel_read_only()

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
            if problems:
                for p in problems:
                    log(f"[reload] rejected: {p}")
                return False
            changes = apply_reload(self.config, new, self.app)
            self.config = new
            self.executor = self._make_executor(new)
            if self.stopping:  # a stop arrived while we swapped executors
                self.executor.cancel_read_only()
            if changes:
                self.persist()
        log(f"[reload] applied: {', '.join(changes) if changes else 'no changes'}")
        return True

    def shutdown(self) -> bool:
        """Drain side-effect runs, save, release everything; False if the final save failed."""
        saved = True
        if self.executor is not None:
            self.executor.drain(SHUTDOWN_DRAIN_S)
        if self.db is not None:
            with self.book_lock:
                saved = self.persist()
            self.db.close()
        if self.server is not None:
            self.server.stop()
        if self._lock_handle is not None:
            self._lock_handle.release()
        return saved

    # -- output -----------------------------------------------------------------------------
    def print_summary(self, report: CycleReport) -> None:
        text = format_summary(report, self.app, self.config, save_error=self.save_error)
        print(text, file=self.out, flush=True)
