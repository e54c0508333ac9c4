"""Run one worker process under limits and collect its raw output.

This module owns everything that can go wrong with one child (hangs, crashes, megabytes of
output, grandchildren that outlive it); what its output means is
:mod:`supervisor.run.output`'s business, and scheduling many of them is
:mod:`supervisor.run.executor`'s.

* Each child gets its own process group (``start_new_session=True``) and every kill is
  ``killpg(SIGKILL)``, so grandchildren die with it. Leftover group members of a worker
  that exited normally are killed as well, before the leader is reaped (so the pgid can
  not have been recycled). On Linux each child also asks the kernel to SIGKILL it when the
  supervisor dies (``PR_SET_PDEATHSIG``), so a ``kill -9`` of the supervisor leaves no
  worker behind.
* Workers get an allowlisted environment (:func:`child_env`), never the supervisor's
  secrets (status token, chat credentials); the one exception is the chat sender
  (``shared_scripts/notify_send.py``), which gets the bot tokens from :func:`notify_env`.
* ``_Pump`` multiplexes one child's stdin writing, stdout (capped) and stderr (bounded tail,
  cleaned of control characters), plus a pidfd when the platform has one so that a leader
  that exits while a grandchild still holds the pipe open is noticed at once.
* :class:`Running` is what an owner sees of a live child: ``kill()`` only sends a signal,
  so it may be called from a signal handler.
"""

from __future__ import annotations

import contextlib
import os
import selectors
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from shared_tools.text import clean, one_line

__all__ = [
    "STDERR_TAIL_BYTES",
    "ProcessOutcome",
    "Running",
    "child_env",
    "notify_env",
    "run_process",
]

STDERR_TAIL_BYTES = 8 * 1024
_READ_CHUNK = 64 * 1024
_POLL_INTERVAL_S = 0.1  # only used where pidfd_open is unavailable


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


NOTIFY_ENV_NAMES = (
    "DISCORD_BOT_TOKEN",
    "TELEGRAM_BOT_TOKEN",
    "GO_TRADER_DISCORD_API",
    "GO_TRADER_TELEGRAM_API",
)


def notify_env(environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment of the chat sender (shared_scripts/notify_send.py) and nothing else.

    The one worker that needs the chat bot tokens: :func:`child_env` without the venue
    credentials, plus exactly DISCORD_BOT_TOKEN, TELEGRAM_BOT_TOKEN and the two API base URLs.
    Strategy workers never get these.
    """
    source = os.environ if environ is None else environ
    env = {
        k: v
        for k, v in child_env(environ=source).items()
        if k in _ENV_NAMES or k.startswith(("LC_", "GO_TRADER_"))  # no venue credentials
    }
    env.update({k: source[k] for k in NOTIFY_ENV_NAMES if source.get(k)})
    return env


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


class Running:
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
    register: Callable[[int], Running | None] | None = None,
    unregister: Callable[[Running], None] | None = None,
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
