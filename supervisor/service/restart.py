"""Restart in place: the daemon replaces itself with a fresh process on the same command line.

Used once, by ``Supervisor.run`` after a requested restart (the structural actions'
``restart: true``, supervisor/http/structural.py) has drained and released everything as a
SIGTERM would. ``execv`` keeps the pid, so systemd's ``Type=notify`` unit sees one process that
said ``RELOADING=1`` and then, after its first cycle, ``READY=1`` again
(supervisor/service/sdnotify.py). Every fd Python opened is non-inheritable (PEP 446), so no
lock, socket or DB handle crosses the exec (shutdown() released them anyway).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable


def reexec(log: Callable[[str], None]) -> None:
    """Exec ``sys.orig_argv`` (the command line as started: ``python -m supervisor.cli …`` or
    the console script) with this interpreter, from the same directory and environment."""
    log(f"[restart] exec {' '.join(sys.orig_argv)}")
    sys.stdout.flush()
    sys.stderr.flush()
    os.execv(sys.executable, list(sys.orig_argv))
