"""The console scripts' entry (``go-trader``, ``supervisor``): stop signals first, then the CLI.

Importing the CLI takes about a second (SQLAlchemy loads with the ``supervisor`` package, then
click and the daemon's modules), and until the daemon installs its own handlers a SIGTERM's
default action would kill the process (exit -15: a failure to systemd), though a stop at any
point of start-up must exit 0. So this package imports nothing but the standard library and
lives outside ``supervisor``, whose import is the slow part: its handlers are in place before
any of that loads.

A stop that arrives early is only recorded (nothing has been opened or written yet, and a write
in progress, such as a config migration, should finish); the process then exits 0 at the next
hand-off: right after the imports, when a subcommand starts (:meth:`EarlyStop.release`, which
also gives subcommands the default signal behaviour back), or once the daemon exists
(:meth:`EarlyStop.hand_over`, which from then on passes signals to the daemon's own handlers
until it installs them itself). The CLI gets the :class:`EarlyStop` as click's ``ctx.obj``, so
it does not import this package.
"""

from __future__ import annotations

import signal
import sys
from collections.abc import Callable
from types import FrameType
from typing import Any

Handler = Callable[[int, FrameType | None], Any]

STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)
# A reload asked for before the config is read changes nothing: SIGHUP must not kill us either.
EARLY_SIGNALS = (*STOP_SIGNALS, signal.SIGHUP)


class EarlyStop:
    """The signal handling of the process until the daemon installs its own."""

    def __init__(self) -> None:
        self.pending: int | None = None  # the stop signal that arrived before anyone could act
        self._previous: dict[int, Any] = {}  # the handlers install() replaced
        self._forward: dict[int, Handler] = {}  # the daemon's handlers, once handed over

    def install(self) -> None:
        """Put the early handlers in place (first thing in the process)."""
        for sig in EARLY_SIGNALS:
            self._previous.setdefault(sig, signal.getsignal(sig))
            signal.signal(sig, self._handle)

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        """Record a stop, or pass any signal on to the daemon once handed over."""
        target = self._forward.get(signum)
        if target is not None:
            target(signum, frame)
        elif signum in STOP_SIGNALS:
            self.pending = signum

    def exit_if_stopped(self) -> None:
        """A stop during start-up is a clean exit, and nothing has been written yet."""
        if self.pending is not None:
            sys.exit(0)

    def release(self) -> None:
        """Before a subcommand runs: the default signal behaviour again (Ctrl-C aborts
        ``init``), after exiting 0 if a stop came already."""
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)
        self._previous.clear()
        self.exit_if_stopped()  # after the restore: a later signal takes the default path

    def hand_over(self, on_stop: Handler, on_reload: Handler) -> None:
        """The daemon exists but has not installed its handlers yet: exit 0 if a stop came
        already, else send every later signal to the daemon's handlers (none is lost)."""
        self._forward.update(
            {signal.SIGTERM: on_stop, signal.SIGINT: on_stop, signal.SIGHUP: on_reload}
        )
        self.exit_if_stopped()  # after the forward: a later stop reaches the daemon


def main() -> None:
    """``go-trader``: handlers first, then the (slow) CLI import, then the CLI."""
    if sys.argv[1:2] == ["chat-bridge"]:  # its own process: never loads the supervisor
        from chat_bridge.main import main as bridge_main

        bridge_main(sys.argv[2:])
        return
    early = EarlyStop()
    early.install()
    from supervisor.cli import main as cli_main

    early.exit_if_stopped()
    cli_main(obj=early)
