"""systemd's notify protocol (``Type=notify``) over a plain AF_UNIX datagram socket.

No dependency: a message is ``KEY=value`` lines sent as one datagram to ``$NOTIFY_SOCKET`` (a path,
or the abstract namespace when it starts with ``@``). Outside systemd the variable is unset and
every call is a silent no-op, so the daemon calls it unconditionally.

What the daemon says:
- ``READY=1`` once, after the first committed cycle (or when nothing was due at start: the book
  loaded from the DB is then the last committed cycle), so ``systemctl restart`` returns only
  when the new process really trades;
- ``WATCHDOG=1`` after every loop pass, and from the idle wait at half of ``WATCHDOG_USEC``, so
  a hung loop (not a long sleep) gets the unit restarted;
- ``STATUS=...`` one human line for ``systemctl status``;
- ``STOPPING=1`` when the shutdown begins; ``RELOADING=1`` instead when the daemon restarts
  itself in place (a structural action with ``restart: true``): same pid, re-executed, and its
  ``READY=1`` after the first cycle ends the reload, as for a reloading ``Type=notify`` unit.
"""

from __future__ import annotations

import os
import socket
import threading
import time


def _address(raw: str) -> str:
    return "\0" + raw[1:] if raw.startswith("@") else raw


def send(message: str, env: dict[str, str] | None = None) -> bool:
    """Send one notify datagram; False (never an exception) when there is nowhere to send it."""
    raw = (os.environ if env is None else env).get("NOTIFY_SOCKET", "")
    if not raw:
        return False
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
            sock.settimeout(1.0)
            sock.connect(_address(raw))
            sock.sendall(message.encode())
    except OSError:
        return False
    return True


def watchdog_interval(env: dict[str, str] | None = None) -> float | None:
    """Seconds between watchdog pings (half of WATCHDOG_USEC), or None when not asked for.

    WATCHDOG_PID, when set, names the process systemd watches; another process must not ping.
    """
    env = os.environ if env is None else env
    pid = env.get("WATCHDOG_PID", "")
    if pid and pid != str(os.getpid()):
        return None
    try:
        usec = int(env.get("WATCHDOG_USEC", ""))
    except ValueError:
        return None
    return usec / 2e6 if usec > 0 else None


class SdNotify:
    """The daemon's side of the protocol; the environment is read once, at construction."""

    def __init__(self, env: dict[str, str] | None = None) -> None:
        self.env = dict(os.environ if env is None else env)
        self.enabled = bool(self.env.get("NOTIFY_SOCKET"))
        self.ping_every = watchdog_interval(self.env) if self.enabled else None
        self.ready = False

    def send(self, *lines: str) -> None:
        if self.enabled:
            send("\n".join(lines), self.env)

    def cycle_done(self, cycle_count: int, save_error: str = "") -> None:
        """After a loop pass: READY=1 the first time the book is committed, then WATCHDOG=1."""
        if save_error:
            self.send("WATCHDOG=1", f"STATUS=cycle {cycle_count}: {save_error}")
            return
        lines = ["WATCHDOG=1", f"STATUS=cycle {cycle_count} committed"]
        if not self.ready:
            self.ready = True
            lines.insert(0, "READY=1")
        self.send(*lines)

    def sleep(self, wake: threading.Event, seconds: float) -> bool:
        """``wake.wait(seconds)``, pinging the watchdog often enough on the way; True if woken."""
        if self.ping_every is None:
            return wake.wait(seconds)
        deadline = time.monotonic() + seconds
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            if wake.wait(min(left, self.ping_every)):
                return True
            self.send("WATCHDOG=1")

    def stopping(self) -> None:
        self.send("STOPPING=1", "STATUS=stopping: draining workers and saving")

    def reloading(self) -> None:
        """The daemon drains and re-executes itself; its next READY=1 ends the reload."""
        usec = time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000
        self.send("RELOADING=1", f"MONOTONIC_USEC={usec}", "STATUS=restarting: draining, then exec")
