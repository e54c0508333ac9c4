"""Run short-lived worker scripts under the worker contract and collect their JSON.

The supervisor never imports strategy code: each tick it spawns
``<python> <repo_root>/<script> <args...>`` processes and reads one JSON document from
their stdout. This module owns everything that can go wrong with such a child (hangs,
crashes, garbage, megabytes of output, grandchildren that outlive it) so that one bad
worker only costs its own job a one-line error and never stalls the tick.

Design notes:

* Threads, not asyncio: a ``ThreadPoolExecutor`` per ``run()`` call drives the units of
  work and a shared semaphore bounds the number of live processes across concurrent
  ``run()``/``run_one()`` calls. The semaphore is taken *before* the deadline starts, so
  waiting for a slot never eats into a job's timeout.
* Each child gets its own process group (``start_new_session=True``) and every kill is
  ``killpg(SIGKILL)``, so grandchildren die with it. Leftover group members of a worker
  that exited normally are killed as well, before the leader is reaped (so the pgid can
  not have been recycled).
* One selector loop per child multiplexes stdin writing, stdout (capped) and stderr
  (bounded tail), plus a pidfd when the platform has one so that a leader that exits
  while a grandchild still holds the pipe open is noticed at once.
* ``cancel_read_only()`` may run in a signal handler on the thread that is inside
  ``run()``; the registry of live processes is therefore guarded by an ``RLock`` and the
  handler only sets a flag and sends signals.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import selectors
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

__all__ = [
    "SHUTTING_DOWN",
    "Executor",
    "ExecutorStats",
    "Job",
    "Result",
    "ProcessOutcome",
    "run_process",
]

log = logging.getLogger(__name__)

SHUTTING_DOWN = "shutting down"
STDERR_TAIL_BYTES = 8 * 1024
_READ_CHUNK = 64 * 1024
_POLL_INTERVAL_S = 0.1  # only used where pidfd_open is unavailable
_MAX_REASON_CHARS = 400
BATCH_TIMEOUT_MAX_FACTOR = 3  # a batch gets up to 3x the per-script timeout


# --------------------------------------------------------------------------- data types


@dataclass(frozen=True)
class Job:
    """One worker invocation; ``key`` names its result (usually the strategy id)."""

    key: str
    script: str
    args: tuple[str, ...] = ()
    stdin: str | None = None
    side_effect: bool = False


@dataclass
class Result:
    """What the supervisor learns from one job; ``error`` is a single line or None."""

    key: str
    data: dict | list | None
    error: str | None
    exit_code: int | None
    stderr_tail: str
    duration_s: float
    batched: bool = False

    @property
    def ok(self) -> bool:
        return self.error is None


@dataclass
class ExecutorStats:
    """Counters for benchmarks and the status page (monotonic until ``reset()``)."""

    runs: int = 0  # run() calls
    jobs: int = 0  # jobs submitted through run()/run_one()
    spawned: int = 0  # processes actually started
    singles: int = 0  # processes started for a single job
    batches: int = 0  # --batch processes started
    batched_jobs: int = 0  # jobs sent inside --batch processes
    batch_fallbacks: int = 0  # batches that failed as a whole and were re-run singly
    timeouts: int = 0
    output_overflows: int = 0
    killed: int = 0  # runs killed by cancel_read_only()/drain()
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def add(self, **counts: int) -> None:
        with self._lock:
            for name, n in counts.items():
                setattr(self, name, getattr(self, name) + n)

    def snapshot(self) -> dict[str, int]:
        with self._lock:
            return {name: getattr(self, name) for name in _STAT_FIELDS}

    def reset(self) -> None:
        with self._lock:
            for name in _STAT_FIELDS:
                setattr(self, name, 0)


_STAT_FIELDS = tuple(f.name for f in fields(ExecutorStats) if not f.name.startswith("_"))


# --------------------------------------------------------------------------- process runner


@dataclass
class ProcessOutcome:
    """Raw facts about one finished child process (before contract interpretation)."""

    exit_code: int | None
    stdout: bytes
    stderr_tail: str
    duration_s: float
    timed_out: bool = False
    overflow: bool = False
    kill_reason: str | None = None  # set when killed from outside (shutdown)
    spawn_error: str | None = None


class _Running:
    """A live child as seen by the registry; ``kill()`` is async-signal tolerant."""

    __slots__ = ("pgid", "side_effect", "kill_reason")

    def __init__(self, pgid: int, side_effect: bool) -> None:
        self.pgid = pgid
        self.side_effect = side_effect
        self.kill_reason: str | None = None

    def kill(self, reason: str) -> None:
        if self.kill_reason is None:
            self.kill_reason = reason
        _killpg(self.pgid)


def _killpg(pgid: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signal.SIGKILL)


def _leader_exited(pid: int) -> bool:
    """True once the child has exited, without reaping it (the pgid stays reserved)."""
    try:
        info = os.waitid(os.P_PID, pid, os.WEXITED | os.WNOHANG | os.WNOWAIT)
    except ChildProcessError:
        return True
    return info is not None


def run_process(
    argv: Sequence[str],
    *,
    cwd: str | Path,
    env: dict[str, str] | None,
    stdin: bytes | None,
    timeout_s: float,
    max_output_bytes: int,
    register: Callable[[int], _Running | None] | None = None,
    unregister: Callable[[_Running], None] | None = None,
) -> ProcessOutcome:
    """Spawn ``argv`` in its own process group and collect its output under limits.

    ``register``/``unregister`` let an owner (the Executor) kill the group from another
    thread while it runs; ``unregister`` is always called before the child is reaped.
    """
    start = time.monotonic()
    try:
        proc = subprocess.Popen(
            list(argv),
            cwd=str(cwd),
            env=env,
            stdin=subprocess.PIPE if stdin is not None else subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            bufsize=0,
            start_new_session=True,
            close_fds=True,
        )
    except OSError as exc:
        return ProcessOutcome(
            exit_code=None,
            stdout=b"",
            stderr_tail="",
            duration_s=time.monotonic() - start,
            spawn_error=f"spawn failed: {exc}",
        )

    handle = register(proc.pid) if register is not None else None
    stdout = bytearray()
    stderr = bytearray()
    timed_out = overflow = False
    pidfd: int | None = None
    sel = selectors.DefaultSelector()
    assert proc.stdout is not None and proc.stderr is not None
    streams: dict[int, Any] = {proc.stdout.fileno(): proc.stdout, proc.stderr.fileno(): proc.stderr}
    out_fd, err_fd = proc.stdout.fileno(), proc.stderr.fileno()
    in_fd = -1
    pending_in = memoryview(stdin or b"")
    try:
        for fd in (out_fd, err_fd):
            os.set_blocking(fd, False)
            sel.register(fd, selectors.EVENT_READ)
        if proc.stdin is not None:
            in_fd = proc.stdin.fileno()
            streams[in_fd] = proc.stdin
            if pending_in:
                os.set_blocking(in_fd, False)
                sel.register(in_fd, selectors.EVENT_WRITE)
            else:
                streams.pop(in_fd).close()
                in_fd = -1
        if hasattr(os, "pidfd_open"):
            try:
                pidfd = os.pidfd_open(proc.pid)
                sel.register(pidfd, selectors.EVENT_READ)
            except OSError:
                pidfd = None

        def close_stream(fd: int) -> None:
            with contextlib.suppress(KeyError, ValueError):
                sel.unregister(fd)
            stream = streams.pop(fd, None)
            if stream is not None:
                with contextlib.suppress(OSError):
                    stream.close()

        def drain_fd(fd: int) -> bool:
            """Read what is available now; False once the stream is finished."""
            nonlocal overflow
            while True:
                try:
                    chunk = os.read(fd, _READ_CHUNK)
                except BlockingIOError:
                    return True
                except OSError:
                    chunk = b""
                if not chunk:
                    close_stream(fd)
                    return False
                if fd == out_fd:
                    stdout.extend(chunk)
                    if len(stdout) > max_output_bytes:
                        overflow = True
                        close_stream(fd)
                        return False
                else:
                    stderr.extend(chunk)
                    if len(stderr) > 2 * STDERR_TAIL_BYTES:
                        del stderr[: len(stderr) - STDERR_TAIL_BYTES]

        deadline = time.monotonic() + timeout_s
        leader_done = False
        while (out_fd in streams or err_fd in streams) and not overflow:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                timed_out = True
                break
            wait_s = remaining if pidfd is not None else min(remaining, _POLL_INTERVAL_S)
            for key, _mask in sel.select(wait_s):
                fd = key.fd
                if fd == pidfd:
                    leader_done = True
                    sel.unregister(fd)
                elif fd == in_fd:
                    try:
                        n = os.write(fd, pending_in[:_READ_CHUNK])
                        pending_in = pending_in[n:]
                    except BlockingIOError:
                        continue
                    except OSError:  # EPIPE: the child does not want (more) stdin
                        pending_in = memoryview(b"")
                    if not pending_in:
                        close_stream(fd)
                elif fd in streams:
                    drain_fd(fd)
                    if overflow:
                        break
            if not leader_done and pidfd is None:
                leader_done = _leader_exited(proc.pid)
            if leader_done and not overflow:
                # Everything the leader wrote is in the pipes now; a grandchild may
                # still hold them open, so take what is there and stop waiting.
                for fd in (out_fd, err_fd):
                    if fd in streams and not overflow:
                        drain_fd(fd)
                break

        if not timed_out and not overflow and not leader_done:
            # Output is complete but the leader has not been seen exiting yet (usually
            # a matter of microseconds; or it closed stdout and went on working).
            if in_fd in streams:
                close_stream(in_fd)
            while not _leader_exited(proc.pid):
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    timed_out = True
                    break
                if pidfd is not None:
                    sel.select(remaining)  # only the pidfd is still registered
                else:
                    time.sleep(min(0.02, remaining))
    finally:
        # Kill the whole group (timeout, overflow, or stragglers left behind by a
        # worker that exited) while the unreaped leader still pins the pgid.
        _killpg(proc.pid)
        if handle is not None and unregister is not None:
            unregister(handle)
        proc.wait()
        for fd in list(streams):
            with contextlib.suppress(OSError):
                streams.pop(fd).close()
        sel.close()
        if pidfd is not None:
            os.close(pidfd)

    return ProcessOutcome(
        exit_code=proc.returncode,
        stdout=bytes(stdout),
        stderr_tail=bytes(stderr[-STDERR_TAIL_BYTES:]).decode("utf-8", "replace"),
        duration_s=time.monotonic() - start,
        timed_out=timed_out,
        overflow=overflow,
        kill_reason=handle.kill_reason if handle is not None else None,
    )


# --------------------------------------------------------------------------- interpretation


def _one_line(text: str, limit: int = _MAX_REASON_CHARS) -> str:
    line = " ".join(str(text).split())
    return line if len(line) <= limit else line[: limit - 3] + "..."


def last_stderr_line(stderr_tail: str) -> str:
    """The last non-blank stderr line: usually the exception or the usage error."""
    for line in reversed(stderr_tail.splitlines()):
        if line.strip():
            return _one_line(line)
    return "(no stderr)"


def describe_exit(code: int) -> str:
    """``exit N`` or ``killed by SIGKILL`` for a Popen return code."""
    if code < 0:
        try:
            name = signal.Signals(-code).name
        except ValueError:
            name = f"signal {-code}"
        return f"killed by {name}"
    return f"exit {code}"


_UNPARSED = object()


def _decode(stdout: bytes) -> Any:
    text = stdout.decode("utf-8", "replace").strip()
    if not text:
        return _UNPARSED
    try:
        return json.loads(text)
    except ValueError:
        return _UNPARSED


def _unparsable(stdout: bytes) -> str:
    text = stdout.decode("utf-8", "replace").strip()
    return "unparsable output: " + (_one_line(text[:120], 200) if text else "<empty>")


def _soft_error(doc: Any) -> str | None:
    if isinstance(doc, dict):
        err = doc.get("error")
        if err:
            return _one_line(err if isinstance(err, str) else json.dumps(err, default=str))
    return None


def _failure_reason(out: ProcessOutcome, timeout_s: float, max_output_bytes: int) -> str | None:
    """Reason for runs that produced no usable stdout at all (independent of content)."""
    if out.spawn_error:
        return out.spawn_error
    if out.kill_reason and out.exit_code == -signal.SIGKILL:
        return out.kill_reason
    if out.timed_out:
        return f"timed out after {timeout_s:g}s"
    if out.overflow:
        return f"output exceeded {max_output_bytes} bytes"
    return None


def interpret_single(
    key: str, out: ProcessOutcome, timeout_s: float, max_output_bytes: int
) -> Result:
    """Apply the worker contract's exit-code/stdout rules to one single run."""
    reason = _failure_reason(out, timeout_s, max_output_bytes)
    data: Any = None
    if reason is None:
        doc = _decode(out.stdout)
        if doc is not _UNPARSED and isinstance(doc, dict | list):
            data = doc
        reason = _soft_error(doc)
        if reason is None and out.exit_code != 0:
            reason = f"{describe_exit(out.exit_code or 0)}: {last_stderr_line(out.stderr_tail)}"
        if reason is None and doc is _UNPARSED:
            reason = _unparsable(out.stdout)
        if reason is None and data is None:
            reason = f"unexpected JSON type {type(doc).__name__}: {_one_line(repr(doc)[:120])}"
    return Result(
        key=key,
        data=data,
        error=reason,
        exit_code=out.exit_code,
        stderr_tail=out.stderr_tail,
        duration_s=out.duration_s,
    )


# --------------------------------------------------------------------------- executor


@dataclass
class _Batch:
    script: str
    jobs: list[Job]


@dataclass
class _BatchOutcome:
    results: list[Result] | None  # None: failed as a whole
    reason: str | None = None
    argv_rejected: bool = False


_Unit = Job | _Batch


class Executor:
    """Runs jobs as worker processes with bounded concurrency, batching and shutdown.

    Beyond the contract: scripts whose ``--batch`` run exits 2 without JSON (argv
    rejected, i.e. no batch support) are remembered and not batched again.
    """

    def __init__(
        self,
        repo_root: str | Path,
        *,
        python: str = sys.executable,
        max_concurrent: int | None = None,
        timeout_s: float = 30.0,
        max_output_bytes: int = 1 << 20,
        batching: bool = True,
        max_batch_size: int = 25,
        env: dict[str, str] | None = None,
        batch_timeout_s: float | None = None,
    ) -> None:
        self.repo_root = Path(repo_root)
        self.python = python
        self.max_concurrent = max(1, max_concurrent or os.cpu_count() or 1)
        self.timeout_s = timeout_s
        self.batch_timeout_s = batch_timeout_s  # None: scaled with the batch size
        self.max_output_bytes = max_output_bytes
        self.batching = batching
        self.max_batch_size = max(1, max_batch_size)
        self.env_overlay = dict(env) if env else None
        self.stats = ExecutorStats()
        self._slots = threading.BoundedSemaphore(self.max_concurrent)
        self._registry_lock = threading.RLock()  # RLock: may be re-entered by a signal handler
        self._running: dict[int, _Running] = {}
        self._shutting_down = False
        self._no_batch: set[str] = set()

    # ----------------------------------------------------------------- public API

    @property
    def shutting_down(self) -> bool:
        return self._shutting_down

    def run(self, jobs: Sequence[Job]) -> dict[str, Result]:
        """Run all jobs and return a result for every key, in job order."""
        jobs = list(jobs)
        keys = [j.key for j in jobs]
        if len(set(keys)) != len(keys):
            dupes = sorted({k for k in keys if keys.count(k) > 1})
            raise ValueError(f"duplicate job keys: {dupes}")
        self.stats.add(runs=1, jobs=len(jobs))
        if not jobs:
            return {}
        if self._shutting_down:
            return {j.key: self._refused(j) for j in jobs}

        results: dict[str, Result] = {}
        units = self._plan(jobs)
        pool = ThreadPoolExecutor(
            max_workers=min(self.max_concurrent, len(jobs)), thread_name_prefix="executor"
        )
        pending: dict[Future, _Unit] = {}
        try:
            for unit in units:
                pending[pool.submit(self._run_unit, unit)] = unit
            while pending:
                done, _ = wait(pending, return_when=FIRST_COMPLETED)
                for fut in done:
                    unit = pending.pop(fut)
                    outcome = fut.result()
                    if isinstance(outcome, Result):
                        results[outcome.key] = outcome
                        continue
                    assert isinstance(unit, _Batch)
                    if outcome.results is not None:
                        for res in outcome.results:
                            results[res.key] = res
                        continue
                    if outcome.argv_rejected:
                        self._no_batch.add(unit.script)
                    self.stats.add(batch_fallbacks=1)
                    log.warning(
                        "batch of %d jobs for %s failed as a whole (%s); running them singly",
                        len(unit.jobs),
                        unit.script,
                        outcome.reason,
                    )
                    for job in unit.jobs:
                        pending[pool.submit(self._run_unit, job)] = job
        finally:
            pool.shutdown(wait=not pending, cancel_futures=True)
        return {k: results[k] for k in keys}

    def run_one(self, job: Job, *, timeout_s: float | None = None) -> Result:
        """Run one job singly in the calling thread (never batched)."""
        self.stats.add(jobs=1)
        return self._run_single(job, self.timeout_s if timeout_s is None else timeout_s)

    def cancel_read_only(self) -> None:
        """Shutdown step 1: refuse new spawns and SIGKILL running read-only groups now.

        Safe from a signal handler and from any thread.
        """
        self._shutting_down = True
        with self._registry_lock:
            live = list(self._running.values())
        for running in live:
            if not running.side_effect:
                running.kill(SHUTTING_DOWN)

    def drain(self, timeout_s: float = 15.0) -> None:
        """Shutdown step 2: let side-effect runs (live orders) finish, kill them at the cap.

        Also performs ``cancel_read_only()`` so nothing new starts and no read-only run
        keeps the process alive.
        """
        self.cancel_read_only()
        deadline = time.monotonic() + timeout_s
        while self._live(side_effect=True) and time.monotonic() < deadline:
            time.sleep(0.02)
        leftovers = self._live(side_effect=True)
        for running in leftovers:
            log.error("killing side-effect run (pgid %d) after drain cap", running.pgid)
            running.kill(f"killed after drain timeout ({timeout_s:g}s)")
        # Give runner threads a moment to reap what was just killed.
        end = time.monotonic() + 2.0
        while self._live() and time.monotonic() < end:
            time.sleep(0.01)

    # ----------------------------------------------------------------- internals

    def _live(self, side_effect: bool | None = None) -> list[_Running]:
        with self._registry_lock:
            return [
                r
                for r in self._running.values()
                if side_effect is None or r.side_effect == side_effect
            ]

    def _env(self) -> dict[str, str] | None:
        if not self.env_overlay:
            return None
        return {**os.environ, **self.env_overlay}

    def _refused(self, job: Job) -> Result:
        return Result(job.key, None, SHUTTING_DOWN, None, "", 0.0)

    def batch_deadline(self, n_jobs: int) -> float:
        """A batch runs its jobs one after another, so it gets more than one job's timeout;
        capped so that one hung job in a batch delays the fallback to singles only boundedly."""
        return self.timeout_s * min(max(n_jobs, 1), BATCH_TIMEOUT_MAX_FACTOR)

    def _plan(self, jobs: list[Job]) -> list[_Unit]:
        """Group read-only jobs of one script into batches; everything else runs singly."""
        if not self.batching or self.max_batch_size < 2:
            return list(jobs)
        groups: dict[str, list[Job]] = {}
        units: list[_Unit | str] = []
        for job in jobs:
            if job.side_effect or job.script in self._no_batch or not _stdin_batchable(job):
                units.append(job)
                continue
            if job.script not in groups:
                groups[job.script] = []
                units.append(job.script)  # placeholder keeps first-appearance order
            groups[job.script].append(job)
        planned: list[_Unit] = []
        for unit in units:
            if not isinstance(unit, str):
                planned.append(unit)
                continue
            group = groups[unit]
            # Spread a group over the concurrency slots: one interpreter per core, not one
            # interpreter doing all the work while the other cores idle.
            size = min(self.max_batch_size, -(-len(group) // self.max_concurrent))
            for i in range(0, len(group), size):
                chunk = group[i : i + size]
                planned.extend(chunk if len(chunk) == 1 else [_Batch(unit, chunk)])
        return planned

    def _run_unit(self, unit: _Unit) -> Result | _BatchOutcome:
        """Pool entry point; never raises so that every key gets an answer."""
        try:
            if isinstance(unit, _Batch):
                return self._run_batch(unit)
            return self._run_single(unit, self.timeout_s)
        except Exception as exc:  # a bug here must not lose a key
            log.exception("executor internal error")
            reason = f"internal error: {_one_line(repr(exc))}"
            if isinstance(unit, _Batch):
                return _BatchOutcome(None, reason)
            return Result(unit.key, None, reason, None, "", 0.0)

    def _spawn(
        self, script: str, args: Sequence[str], stdin: bytes | None, timeout_s: float, side: bool
    ) -> ProcessOutcome | None:
        """Run one process inside a concurrency slot; None when refused for shutdown."""
        with self._slots:
            if self._shutting_down:
                return None
            self.stats.add(spawned=1)

            def register(pid: int) -> _Running:
                running = _Running(pid, side)
                with self._registry_lock:
                    self._running[pid] = running
                if self._shutting_down and not side:
                    running.kill(SHUTTING_DOWN)
                return running

            def unregister(running: _Running) -> None:
                with self._registry_lock:
                    self._running.pop(running.pgid, None)

            out = run_process(
                [self.python, str(self.repo_root / script), *args],
                cwd=self.repo_root,
                env=self._env(),
                stdin=stdin,
                timeout_s=timeout_s,
                max_output_bytes=self.max_output_bytes,
                register=register,
                unregister=unregister,
            )
        self.stats.add(
            timeouts=int(out.timed_out),
            output_overflows=int(out.overflow),
            killed=int(out.kill_reason is not None),
        )
        return out

    def _run_single(self, job: Job, timeout_s: float) -> Result:
        if not (self.repo_root / job.script).is_file():
            return Result(job.key, None, f"script not found: {job.script}", None, "", 0.0)
        stdin = job.stdin.encode() if job.stdin is not None else None
        out = self._spawn(job.script, job.args, stdin, timeout_s, job.side_effect)
        if out is None:
            return self._refused(job)
        self.stats.add(singles=1)
        return interpret_single(job.key, out, timeout_s, self.max_output_bytes)

    def _run_batch(self, batch: _Batch) -> _BatchOutcome:
        if not (self.repo_root / batch.script).is_file():
            # Singles will report the missing script per job.
            return _BatchOutcome(None, f"script not found: {batch.script}")
        payload = []
        for job in batch.jobs:
            item: dict[str, Any] = {"args": list(job.args)}
            if job.stdin is not None:
                item["stdin"] = json.loads(job.stdin)
            payload.append(item)
        stdin = json.dumps(payload).encode()
        timeout_s = self.batch_timeout_s or self.batch_deadline(len(batch.jobs))
        out = self._spawn(batch.script, ["--batch"], stdin, timeout_s, False)
        if out is None:
            return _BatchOutcome([self._refused(j) for j in batch.jobs])
        self.stats.add(batches=1, batched_jobs=len(batch.jobs))
        if out.kill_reason and out.exit_code == -signal.SIGKILL:
            # Killed by shutdown: re-running singly would only be refused.
            return _BatchOutcome(
                [
                    Result(
                        j.key,
                        None,
                        out.kill_reason,
                        out.exit_code,
                        out.stderr_tail,
                        out.duration_s,
                        True,
                    )
                    for j in batch.jobs
                ]
            )
        reason = _failure_reason(out, timeout_s, self.max_output_bytes)
        if reason is not None:
            return _BatchOutcome(None, reason)
        doc = _decode(out.stdout)
        if not isinstance(doc, list):
            if doc is _UNPARSED and out.exit_code != 0:
                reason = f"{describe_exit(out.exit_code or 0)}: {last_stderr_line(out.stderr_tail)}"
                return _BatchOutcome(None, reason, argv_rejected=out.exit_code == 2)
            if doc is _UNPARSED:
                return _BatchOutcome(None, _unparsable(out.stdout))
            return _BatchOutcome(
                None, _soft_error(doc) or f"batch output is {type(doc).__name__}, not a list"
            )
        if len(doc) != len(batch.jobs):
            return _BatchOutcome(
                None, f"batch returned {len(doc)} results for {len(batch.jobs)} jobs"
            )
        results = []
        for job, item in zip(batch.jobs, doc, strict=True):
            data = item if isinstance(item, dict | list) else None
            error = _soft_error(item)
            if error is None and data is None:
                error = f"invalid batch item: {_one_line(repr(item)[:120])}"
            results.append(
                Result(
                    key=job.key,
                    data=data,
                    error=error,
                    exit_code=out.exit_code,
                    stderr_tail=out.stderr_tail,
                    duration_s=out.duration_s,
                    batched=True,
                )
            )
        return _BatchOutcome(results)


def _stdin_batchable(job: Job) -> bool:
    """A job's stdin can ride in a batch only as parsed JSON."""
    if job.stdin is None:
        return True
    try:
        json.loads(job.stdin)
    except ValueError:
        return False
    return True
