"""Run short-lived worker scripts under the worker contract and collect their JSON.

The supervisor never imports strategy code: each tick it spawns
``<python> <repo_root>/<script> <args...>`` processes and reads one JSON document from
their stdout. This module owns everything that can go wrong with such a child (hangs,
crashes, garbage, megabytes of output, grandchildren that outlive it) so that one bad
worker only costs its own job a one-line error and never stalls the tick.

Design notes:

* Threads, not asyncio: a ``ThreadPoolExecutor`` per ``run()`` call drives the units of
  work and a shared semaphore bounds the number of live processes across concurrent
  ``run()``/``run_one()`` calls.
* One deadline per ``run()`` (a cycle): by default what the run would take if every job used
  its whole timeout on perfectly packed slots. Waiting for a slot, every process limit and
  every fallback is cut to what is left of it, so a cycle cannot grow with the number of
  hung workers. Inside a ``--batch`` the worker enforces each job's timeout itself
  (``GO_TRADER_JOB_TIMEOUT``) and streams results as they finish, so a killed batch still
  yields the jobs it finished; a batch that timed out is not re-run job by job.
* Each child gets its own process group (``start_new_session=True``) and every kill is
  ``killpg(SIGKILL)``, so grandchildren die with it. Leftover group members of a worker
  that exited normally are killed as well, before the leader is reaped (so the pgid can
  not have been recycled). On Linux each child also asks the kernel to SIGKILL it when the
  supervisor dies (``PR_SET_PDEATHSIG``), so a ``kill -9`` of the supervisor leaves no
  worker behind.
* Workers get an allowlisted environment (:func:`child_env`), never the supervisor's
  secrets (status token, chat credentials).
* ``_Pump`` multiplexes one child's stdin writing, stdout (capped) and stderr (bounded tail,
  cleaned of control characters), plus a pidfd when the platform has one so that a leader
  that exits while a grandchild still holds the pipe open is noticed at once.
* ``cancel_read_only()`` may run in a signal handler on the thread that is inside
  ``run()``; the registry of live processes is therefore guarded by an ``RLock`` and the
  handler only sets a flag and sends signals.
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
import os
import selectors
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, NamedTuple, TypeVar

from shared_tools.text import clean, one_line

__all__ = [
    "SHUTTING_DOWN",
    "Deadline",
    "Executor",
    "ExecutorStats",
    "Job",
    "Result",
    "ProcessOutcome",
    "child_env",
    "decode_stream",
    "run_process",
    "split_evenly",
]

log = logging.getLogger(__name__)

SHUTTING_DOWN = "shutting down"
STDERR_TAIL_BYTES = 8 * 1024
_READ_CHUNK = 64 * 1024
_POLL_INTERVAL_S = 0.1  # only used where pidfd_open is unavailable
BATCH_SLACK_S = 2.0  # a batch's interpreter start and imports, on top of its jobs' timeouts
BATCH_OUTPUT_CAP = 32 << 20  # a batch may print max_output_bytes per job, up to this
JOB_TIMEOUT_ENV = "GO_TRADER_JOB_TIMEOUT"  # read by shared_tools.worker in --batch mode

T = TypeVar("T")


# --------------------------------------------------------------------------- environment

_ENV_NAMES = frozenset(
    (
        *("PATH", "HOME", "USER", "LOGNAME", "LANG", "LANGUAGE", "TZ", "TMPDIR"),
        *("PYTHONPATH", "PYTHONHASHSEED", "PYTHONDONTWRITEBYTECODE", "PYTHONUNBUFFERED"),
        *("VIRTUAL_ENV", "SSL_CERT_FILE", "SSL_CERT_DIR", "REQUESTS_CA_BUNDLE"),
        *("HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY", "http_proxy", "https_proxy", "no_proxy"),
    )
)
_ENV_PREFIXES = (
    *("LC_", "GO_TRADER_", "BINANCE_", "BINANCEUS_", "HYPERLIQUID_", "DERIBIT_"),
    *("IBKR_", "OKX_", "ROBINHOOD_", "TOPSTEP_", "LUNO_"),
)
_ENV_NEVER = ("STATUS_AUTH_TOKEN", "DISCORD_", "TELEGRAM_")


def child_env(
    overlay: Mapping[str, str] | None = None, environ: Mapping[str, str] | None = None
) -> dict[str, str]:
    """The environment a worker gets: an allowlist of ours plus ``overlay``.

    A strategy process has no business with the status token or chat credentials, so nothing
    is inherited by default. Kept from ``environ`` (default ``os.environ``): PATH, HOME, USER,
    LOGNAME, LANG, LANGUAGE, LC_*, TZ, TMPDIR; PYTHONPATH, PYTHONHASHSEED,
    PYTHONDONTWRITEBYTECODE, PYTHONUNBUFFERED, VIRTUAL_ENV; SSL_CERT_FILE, SSL_CERT_DIR,
    REQUESTS_CA_BUNDLE; HTTP_PROXY, HTTPS_PROXY, NO_PROXY (either case); every GO_TRADER_*;
    venue credentials by prefix (BINANCE_, BINANCEUS_, HYPERLIQUID_, DERIBIT_, IBKR_, OKX_,
    ROBINHOOD_, TOPSTEP_, LUNO_). Then the supervisor's ``overlay``. STATUS_AUTH_TOKEN,
    DISCORD_* and TELEGRAM_* never pass, not even through the overlay.
    """
    source = os.environ if environ is None else environ
    env = {k: v for k, v in source.items() if k in _ENV_NAMES or k.startswith(_ENV_PREFIXES)}
    env.update(overlay or {})
    return {k: v for k, v in env.items() if not k.startswith(_ENV_NEVER)}


# --------------------------------------------------------------------------- die with parent

_PR_SET_PDEATHSIG = 1


def _load_prctl() -> Callable[..., int] | None:
    """libc's ``prctl``, looked up once at import (Linux only; None elsewhere)."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        import ctypes

        fn = ctypes.CDLL(None, use_errno=True).prctl
    except (ImportError, OSError, AttributeError):
        return None
    fn.argtypes = (ctypes.c_int, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong)
    fn.restype = ctypes.c_int
    return fn


_PRCTL = _load_prctl()


def _die_with_parent() -> Callable[[], None] | None:
    """A ``preexec_fn`` that makes the child SIGKILLed when we die (or already died).

    PDEATHSIG fires when the *thread* that forked the child exits, not the process. That is
    what we want here: the thread that spawns a worker always waits for it and reaps it
    (``run_process`` blocks), so the thread outlives its child unless the whole supervisor
    dies. The getppid() check covers a supervisor that died between fork and prctl.
    """
    prctl = _PRCTL
    if prctl is None:
        return None
    parent = os.getpid()
    kill = int(signal.SIGKILL)

    def arm() -> None:
        prctl(_PR_SET_PDEATHSIG, kill, 0, 0, 0)
        if os.getppid() != parent:
            os.kill(os.getpid(), kill)

    return arm


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


@dataclass(frozen=True)
class Deadline:
    """The end of one run on the monotonic clock, and how missing it reads in an error."""

    at: float
    seconds: float
    label: str = "cycle"

    @classmethod
    def start(cls, seconds: float, label: str = "cycle") -> Deadline:
        return cls(time.monotonic() + seconds, seconds, label)

    def remaining(self) -> float:
        return self.at - time.monotonic()

    @property
    def message(self) -> str:
        return f"{self.label} deadline of {self.seconds:g}s passed"

    def cap(self, limit_s: float, reason: str) -> tuple[float, str]:
        """``limit_s`` or what is left of the deadline, whichever is shorter, with its wording."""
        left = self.remaining()
        return (left, self.message) if left < limit_s else (limit_s, reason)


def split_evenly(items: Sequence[T], parts: int) -> list[list[T]]:
    """``items`` in at most ``parts`` consecutive chunks whose sizes differ by at most one."""
    parts = max(1, min(parts, len(items)))
    size, extra = divmod(len(items), parts)
    chunks, start = [], 0
    for i in range(parts):
        end = start + size + (1 if i < extra else 0)
        chunks.append(list(items[start:end]))
        start = end
    return [c for c in chunks if c]


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


class _Pump:
    """Moves one child's bytes until it is done or out of time.

    Writes ``stdin`` without blocking, keeps stdout up to a cap and a bounded stderr tail, and
    watches the leader through a pidfd (or polling) so a grandchild that inherited the pipes
    cannot keep us waiting after the leader exited. Never kills or reaps: ``run_process`` does.
    """

    def __init__(self, proc: subprocess.Popen, stdin: bytes | None, max_output_bytes: int) -> None:
        assert proc.stdout is not None and proc.stderr is not None
        self.proc = proc
        self.max_output_bytes = max_output_bytes
        self.stdout = bytearray()
        self.stderr = bytearray()
        self.timed_out = self.overflow = self.leader_done = False
        self.sel = selectors.DefaultSelector()
        self.out_fd, self.err_fd, self.in_fd = proc.stdout.fileno(), proc.stderr.fileno(), -1
        self.streams: dict[int, Any] = {self.out_fd: proc.stdout, self.err_fd: proc.stderr}
        self.pending_in = memoryview(stdin or b"")
        self.pidfd: int | None = None

    def open(self) -> None:
        for fd in (self.out_fd, self.err_fd):
            os.set_blocking(fd, False)
            self.sel.register(fd, selectors.EVENT_READ)
        if self.proc.stdin is not None:
            self.in_fd = self.proc.stdin.fileno()
            self.streams[self.in_fd] = self.proc.stdin
            if self.pending_in:
                os.set_blocking(self.in_fd, False)
                self.sel.register(self.in_fd, selectors.EVENT_WRITE)
            else:
                self._close(self.in_fd)
        if hasattr(os, "pidfd_open"):
            try:
                self.pidfd = os.pidfd_open(self.proc.pid)
                self.sel.register(self.pidfd, selectors.EVENT_READ)
            except OSError:
                if self.pidfd is not None:
                    os.close(self.pidfd)
                self.pidfd = None

    def run(self, timeout_s: float) -> None:
        """Pump until the output is complete and the leader has exited, or the time is up."""
        deadline = time.monotonic() + timeout_s
        self._pump_output(deadline)
        if not (self.timed_out or self.overflow or self.leader_done):
            self._await_leader(deadline)

    def stderr_tail(self) -> str:
        """The last few KiB of stderr, without NUL, ANSI escapes or other control characters."""
        return clean(bytes(self.stderr[-STDERR_TAIL_BYTES:]).decode("utf-8", "replace"))

    def close(self) -> None:
        for fd in list(self.streams):
            with contextlib.suppress(OSError):
                self.streams.pop(fd).close()
        self.sel.close()
        if self.pidfd is not None:
            os.close(self.pidfd)
            self.pidfd = None

    def _pump_output(self, deadline: float) -> None:
        while (self.out_fd in self.streams or self.err_fd in self.streams) and not self.overflow:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                self.timed_out = True
                return
            wait_s = remaining if self.pidfd is not None else min(remaining, _POLL_INTERVAL_S)
            for key, _mask in self.sel.select(wait_s):
                self._ready(key.fd)
                if self.overflow:
                    return
            if not self.leader_done and self.pidfd is None:
                self.leader_done = _leader_exited(self.proc.pid)
            if self.leader_done:
                # Everything the leader wrote is in the pipes now; a grandchild may still
                # hold them open, so take what is there and stop waiting.
                for fd in (self.out_fd, self.err_fd):
                    if fd in self.streams and not self.overflow:
                        self._drain(fd)
                return

    def _await_leader(self, deadline: float) -> None:
        """Output is complete but the leader was not seen exiting yet (usually microseconds;
        or it closed stdout and went on working)."""
        if self.in_fd in self.streams:
            self._close(self.in_fd)
        while not _leader_exited(self.proc.pid):
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                self.timed_out = True
                return
            if self.pidfd is not None:
                self.sel.select(remaining)  # only the pidfd is still registered
            else:
                time.sleep(min(0.02, remaining))

    def _ready(self, fd: int) -> None:
        if fd == self.pidfd:
            self.leader_done = True
            self.sel.unregister(fd)
        elif fd == self.in_fd:
            self._feed()
        elif fd in self.streams:
            self._drain(fd)

    def _feed(self) -> None:
        try:
            n = os.write(self.in_fd, self.pending_in[:_READ_CHUNK])
            self.pending_in = self.pending_in[n:]
        except BlockingIOError:
            return
        except OSError:  # EPIPE: the child does not want (more) stdin
            self.pending_in = memoryview(b"")
        if not self.pending_in:
            self._close(self.in_fd)

    def _drain(self, fd: int) -> None:
        """Read what is available now; close the stream at EOF or past the stdout cap."""
        while True:
            try:
                chunk = os.read(fd, _READ_CHUNK)
            except BlockingIOError:
                return
            except OSError:
                chunk = b""
            if not chunk:
                self._close(fd)
                return
            if fd == self.out_fd:
                self.stdout.extend(chunk)
                if len(self.stdout) > self.max_output_bytes:
                    self.overflow = True
                    self._close(fd)
                    return
            else:
                self.stderr.extend(chunk)
                if len(self.stderr) > 2 * STDERR_TAIL_BYTES:
                    del self.stderr[: len(self.stderr) - STDERR_TAIL_BYTES]

    def _close(self, fd: int) -> None:
        with contextlib.suppress(KeyError, ValueError):
            self.sel.unregister(fd)
        stream = self.streams.pop(fd, None)
        if stream is not None:
            with contextlib.suppress(OSError):
                stream.close()


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
    The calling thread must stay alive until this returns (it always does: it waits here),
    because the child's PDEATHSIG is tied to it.
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
            preexec_fn=_die_with_parent(),  # noqa: PLW1509 - only prctl + getppid, no locks
        )
    except (OSError, ValueError, subprocess.SubprocessError) as exc:
        return ProcessOutcome(
            exit_code=None,
            stdout=b"",
            stderr_tail="",
            duration_s=time.monotonic() - start,
            spawn_error=one_line(f"spawn failed: {exc}"),
        )

    handle = register(proc.pid) if register is not None else None
    pump = _Pump(proc, stdin, max_output_bytes)
    try:
        pump.open()
        pump.run(timeout_s)
    finally:
        # Kill the whole group (timeout, overflow, or stragglers left behind by a worker
        # that exited) while the unreaped leader still pins the pgid.
        _killpg(proc.pid)
        if handle is not None and unregister is not None:
            unregister(handle)
        proc.wait()
        pump.close()
    return ProcessOutcome(
        exit_code=proc.returncode,
        stdout=bytes(pump.stdout),
        stderr_tail=pump.stderr_tail(),
        duration_s=time.monotonic() - start,
        timed_out=pump.timed_out,
        overflow=pump.overflow,
        kill_reason=handle.kill_reason if handle is not None else None,
    )


# --------------------------------------------------------------------------- interpretation


def last_stderr_line(stderr_tail: str) -> str:
    """The last non-blank stderr line: usually the exception or the usage error."""
    for line in reversed(stderr_tail.splitlines()):
        if line.strip():
            return one_line(line)
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


def _skip_ws(text: str, i: int) -> int:
    while i < len(text) and text[i] in " \t\r\n":
        i += 1
    return i


def decode_stream(stdout: bytes) -> tuple[list[Any], bool]:
    """The items of a streamed JSON array, also when the writer was killed half-way.

    Returns ``(items, complete)``: ``complete`` only for a whole array with nothing after
    it. Output that does not start with ``[`` gives ``([], False)``.
    """
    text = stdout.decode("utf-8", "replace")
    i = _skip_ws(text, 0)
    if not text.startswith("[", i):
        return [], False
    decoder = json.JSONDecoder()
    items: list[Any] = []
    i = _skip_ws(text, i + 1)
    if text.startswith("]", i):
        return items, not text[i + 1 :].strip()
    while True:
        try:
            item, i = decoder.raw_decode(text, i)
        except ValueError:
            return items, False
        items.append(item)
        i = _skip_ws(text, i)
        if text.startswith(",", i):
            i = _skip_ws(text, i + 1)
        elif text.startswith("]", i):
            return items, not text[i + 1 :].strip()
        else:
            return items, False


def _unparsable(stdout: bytes) -> str:
    text = stdout.decode("utf-8", "replace").strip()
    return "unparsable output: " + (one_line(text[:120], 200) if text else "<empty>")


def _soft_error(doc: Any) -> str | None:
    if isinstance(doc, dict):
        err = doc.get("error")
        if err:
            return one_line(err if isinstance(err, str) else json.dumps(err, default=str))
    return None


def _failure_reason(out: ProcessOutcome, timeout_reason: str, max_output_bytes: int) -> str | None:
    """Reason for runs that produced no usable stdout at all (independent of content)."""
    if out.spawn_error:
        return out.spawn_error
    if out.kill_reason and out.exit_code == -signal.SIGKILL:
        return out.kill_reason
    if out.timed_out:
        return timeout_reason
    if out.overflow:
        return f"output exceeded {max_output_bytes} bytes"
    return None


def interpret_single(
    key: str, out: ProcessOutcome, timeout_reason: str, max_output_bytes: int
) -> Result:
    """Apply the worker contract's exit-code/stdout rules to one single run."""
    reason = _failure_reason(out, timeout_reason, max_output_bytes)
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
            reason = f"unexpected JSON type {type(doc).__name__}: {one_line(repr(doc)[:120])}"
    return Result(
        key=key,
        data=data,
        error=reason,
        exit_code=out.exit_code,
        stderr_tail=out.stderr_tail,
        duration_s=out.duration_s,
    )


def _batch_item(job: Job, item: Any, out: ProcessOutcome) -> Result:
    data = item if isinstance(item, dict | list) else None
    error = _soft_error(item)
    if error is None and data is None:
        error = f"invalid batch item: {one_line(repr(item)[:120])}"
    return Result(job.key, data, error, out.exit_code, out.stderr_tail, out.duration_s, True)


def _batch_failure(out: ProcessOutcome, items: list, complete: bool, n: int, cap: int) -> str:
    """Why a batch that was neither complete nor timed out failed as a whole."""
    reason = _failure_reason(out, "", cap)
    if reason:
        return reason
    if complete:
        return f"batch returned {len(items)} results for {n} jobs"
    if out.exit_code != 0:
        return f"{describe_exit(out.exit_code or 0)}: {last_stderr_line(out.stderr_tail)}"
    if items or out.stdout.lstrip().startswith(b"["):
        return f"batch output ended after {len(items)} of {n} results"
    doc = _decode(out.stdout)
    if doc is _UNPARSED:
        return _unparsable(out.stdout)
    return _soft_error(doc) or f"batch output is {type(doc).__name__}, not a list"


# --------------------------------------------------------------------------- executor


@dataclass
class _Batch:
    script: str
    jobs: list[Job]


@dataclass
class _BatchOutcome:
    results: list[Result]  # the jobs that have an answer
    rerun: list[Job] = field(default_factory=list)  # to run singly: the batch failed as a whole
    reason: str | None = None
    argv_rejected: bool = False


class _Started(NamedTuple):
    out: ProcessOutcome
    timeout_reason: str  # what a timeout of this process means (own limit or the deadline)


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
        env: dict[str, str] | None = None,
    ) -> None:
        self.repo_root = Path(repo_root)
        self.python = python
        self.max_concurrent = max(1, max_concurrent or os.cpu_count() or 1)
        self.timeout_s = timeout_s
        self.max_output_bytes = max_output_bytes
        self.batching = batching
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

    def run_deadline(self, n_jobs: int) -> float:
        """Default budget of a run: every job using its whole timeout on perfectly packed
        slots (at least two timeouts, so a failed batch still leaves room for its singles)."""
        return self.timeout_s * max(2, math.ceil(n_jobs / self.max_concurrent))

    def batch_deadline(self, n_jobs: int) -> float:
        """A batch runs its jobs one after another, each may use its whole timeout; plus a
        little for the interpreter start. The run's deadline may cut it shorter."""
        return max(n_jobs, 1) * self.timeout_s + BATCH_SLACK_S

    def run(self, jobs: Sequence[Job], deadline_s: float | None = None) -> dict[str, Result]:
        """Run all jobs within one deadline and return a result for every key, in job order.

        ``deadline_s`` defaults to :meth:`run_deadline`. Read-only work never outlives it;
        a side-effect job (a live order) only has to *start* before it and then gets its
        whole timeout, since killing an order half-way is worse than a late cycle.
        """
        jobs = list(jobs)
        keys = [j.key for j in jobs]
        if len(set(keys)) != len(keys):
            dupes = sorted({k for k in keys if keys.count(k) > 1})
            raise ValueError(f"duplicate job keys: {dupes}")
        self.stats.add(runs=1, jobs=len(jobs))
        if not jobs:
            return {}
        if self._shutting_down:
            return {j.key: self._refused(j, SHUTTING_DOWN) for j in jobs}

        budget = Deadline.start(self.run_deadline(len(jobs)) if deadline_s is None else deadline_s)
        results: dict[str, Result] = {}
        pool = ThreadPoolExecutor(
            max_workers=min(self.max_concurrent, len(jobs)), thread_name_prefix="executor"
        )
        pending: dict[Future, _Unit] = {}
        try:
            for unit in self._plan(jobs):
                pending[pool.submit(self._run_unit, unit, budget)] = unit
            while pending:
                # No timeout needed: every unit is bounded by the budget (or its own limit).
                done, _ = wait(pending, return_when=FIRST_COMPLETED)
                for fut in done:
                    unit = pending.pop(fut)
                    outcome = fut.result()
                    if isinstance(outcome, Result):
                        results[outcome.key] = outcome
                        continue
                    assert isinstance(unit, _Batch)
                    for res in outcome.results:
                        results[res.key] = res
                    for job in self._fallback(unit, outcome):
                        pending[pool.submit(self._run_unit, job, budget)] = job
        finally:
            pool.shutdown(wait=not pending, cancel_futures=True)
        return {
            k: results.get(k) or self._refused(j, budget.message)
            for k, j in zip(keys, jobs, strict=True)
        }

    def run_one(self, job: Job, *, timeout_s: float | None = None) -> Result:
        """Run one job singly in the calling thread (never batched, no run deadline)."""
        self.stats.add(jobs=1)
        return self._run_single(job, self.timeout_s if timeout_s is None else timeout_s, None)

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

    def _env(self, extra: Mapping[str, str] | None = None) -> dict[str, str]:
        return child_env({**(self.env_overlay or {}), **(extra or {})})

    def _refused(self, job: Job, reason: str) -> Result:
        return Result(job.key, None, reason, None, "", 0.0)

    def _plan(self, jobs: list[Job]) -> list[_Unit]:
        """Group read-only jobs of one script into batches, one per slot (one interpreter per
        core, not one doing all the work while the others idle); the rest run singly."""
        if not self.batching:
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
            for chunk in split_evenly(groups[unit], self.max_concurrent):
                planned.extend(chunk if len(chunk) == 1 else [_Batch(unit, chunk)])
        return planned

    def _fallback(self, batch: _Batch, outcome: _BatchOutcome) -> list[Job]:
        """The jobs of a batch that failed as a whole, to be run singly (within the budget)."""
        if not outcome.rerun:
            return []
        if outcome.argv_rejected:
            self._no_batch.add(batch.script)
        self.stats.add(batch_fallbacks=1)
        log.warning(
            "batch of %d jobs for %s failed as a whole (%s); running %d of them singly",
            len(batch.jobs),
            batch.script,
            outcome.reason,
            len(outcome.rerun),
        )
        return outcome.rerun

    def _run_unit(self, unit: _Unit, budget: Deadline) -> Result | _BatchOutcome:
        """Pool entry point; never raises so that every key gets an answer."""
        try:
            if isinstance(unit, _Batch):
                return self._run_batch(unit, budget)
            return self._run_single(unit, self.timeout_s, budget)
        except Exception as exc:  # a bug here must not lose a key
            log.exception("executor internal error")
            reason = f"internal error: {one_line(repr(exc))}"
            if isinstance(unit, _Batch):
                return _BatchOutcome([], list(unit.jobs), reason)
            return Result(unit.key, None, reason, None, "", 0.0)

    def _spawn(
        self,
        script: str,
        args: Sequence[str],
        stdin: bytes | None,
        *,
        limit_s: float,
        timeout_reason: str,
        side: bool,
        budget: Deadline | None,
        max_output_bytes: int,
        env_extra: Mapping[str, str] | None = None,
    ) -> _Started | str:
        """Run one process inside a concurrency slot, within its limit and the run's budget.

        Returns why it never started instead (shutdown, or the budget ran out before a slot
        or any time was left). A side-effect process is never cut short by the budget.
        """
        wait_s = None if budget is None else max(budget.remaining(), 0.0)
        if not self._slots.acquire(timeout=wait_s):
            assert budget is not None
            return budget.message
        try:
            if self._shutting_down:
                return SHUTTING_DOWN
            if budget is not None:
                if budget.remaining() <= 0:
                    return budget.message
                if not side:
                    limit_s, timeout_reason = budget.cap(limit_s, timeout_reason)
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
                env=self._env(env_extra),
                stdin=stdin,
                timeout_s=limit_s,
                max_output_bytes=max_output_bytes,
                register=register,
                unregister=unregister,
            )
        finally:
            self._slots.release()
        self.stats.add(
            timeouts=int(out.timed_out),
            output_overflows=int(out.overflow),
            killed=int(out.kill_reason is not None),
        )
        return _Started(out, timeout_reason)

    def _run_single(self, job: Job, timeout_s: float, budget: Deadline | None) -> Result:
        if not (self.repo_root / job.script).is_file():
            return self._refused(job, f"script not found: {job.script}")
        started = self._spawn(
            job.script,
            job.args,
            job.stdin.encode() if job.stdin is not None else None,
            limit_s=timeout_s,
            timeout_reason=f"timed out after {timeout_s:g}s",
            side=job.side_effect,
            budget=budget,
            max_output_bytes=self.max_output_bytes,
        )
        if isinstance(started, str):
            return self._refused(job, started)
        self.stats.add(singles=1)
        return interpret_single(job.key, started.out, started.timeout_reason, self.max_output_bytes)

    def _run_batch(self, batch: _Batch, budget: Deadline) -> _BatchOutcome:
        if not (self.repo_root / batch.script).is_file():
            return _BatchOutcome(
                [self._refused(j, f"script not found: {j.script}") for j in batch.jobs]
            )
        payload = []
        for job in batch.jobs:
            item: dict[str, Any] = {"args": list(job.args)}
            if job.stdin is not None:
                item["stdin"] = json.loads(job.stdin)
            payload.append(item)
        n = len(batch.jobs)
        limit = self.batch_deadline(n)
        cap = min(self.max_output_bytes * n, max(self.max_output_bytes, BATCH_OUTPUT_CAP))
        started = self._spawn(
            batch.script,
            ["--batch"],
            json.dumps(payload).encode(),
            limit_s=limit,
            timeout_reason=f"timed out after {limit:g}s in a batch of {n} jobs",
            side=False,
            budget=budget,
            max_output_bytes=cap,
            env_extra={JOB_TIMEOUT_ENV: repr(float(self.timeout_s))},
        )
        if isinstance(started, str):
            return _BatchOutcome([self._refused(j, started) for j in batch.jobs])
        self.stats.add(batches=1, batched_jobs=n)
        return self._interpret_batch(batch, started, cap)

    def _interpret_batch(self, batch: _Batch, started: _Started, cap: int) -> _BatchOutcome:
        """Complete answers are taken as they are. A batch killed by its limit or a shutdown
        keeps the results it streamed and the rest get the reason, without a re-run (a slow
        venue would only make each single wait again). Any other failure re-runs the jobs
        without an answer singly."""
        out, n = started.out, len(batch.jobs)
        items, complete = decode_stream(out.stdout)
        if complete and len(items) == n:
            return _BatchOutcome(
                [_batch_item(j, it, out) for j, it in zip(batch.jobs, items, strict=True)]
            )
        done: list[Any] = []
        for item in [] if complete else items:
            if not isinstance(item, dict):
                break
            done.append(item)
        results = [_batch_item(j, it, out) for j, it in zip(batch.jobs, done, strict=False)]
        rest = batch.jobs[len(done) :]
        killed = out.kill_reason if out.kill_reason and out.exit_code == -signal.SIGKILL else None
        if killed or out.timed_out:
            reason = killed or started.timeout_reason
            if not killed:
                log.warning(
                    "batch of %d jobs for %s: %s; %d without an answer are not re-run",
                    n,
                    batch.script,
                    reason,
                    len(rest),
                )
            results += [
                Result(j.key, None, reason, out.exit_code, out.stderr_tail, out.duration_s, True)
                for j in rest
            ]
            return _BatchOutcome(results)
        no_json = not items and _decode(out.stdout) is _UNPARSED
        return _BatchOutcome(
            results,
            rerun=rest,
            reason=_batch_failure(out, items, complete, n, cap),
            argv_rejected=out.exit_code == 2 and no_json,
        )


def _stdin_batchable(job: Job) -> bool:
    """A job's stdin can ride in a batch only as parsed JSON."""
    if job.stdin is None:
        return True
    try:
        json.loads(job.stdin)
    except ValueError:
        return False
    return True
