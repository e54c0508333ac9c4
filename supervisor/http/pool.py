"""The status server's handler threads: a small pool that grows on demand up to ``max_workers``
and shrinks to none when idle (supervisor/http/server.py owns the sockets; this owns the threads).

A thread exits after WORKER_IDLE_S without a job, so an idle daemon holds no handler thread.
When the last one leaves, ``on_idle`` runs (the board sweeps expired charts and trims the heap:
nobody has asked anything for that long).
"""

from __future__ import annotations

import contextlib
import queue
import sys
import threading
import time
from collections.abc import Callable
from typing import Any

from shared_tools.text import exc_line

WORKER_IDLE_S = 30.0  # an idle worker thread exits after this long without a request


class Workers:
    """Runs ``run(job)`` for each submitted job on up to ``max_workers`` threads."""

    def __init__(
        self,
        run: Callable[[Any], None],
        max_workers: int,
        on_idle: Callable[[], None] | None = None,
    ) -> None:
        self.run, self.max_workers, self.on_idle = run, max(1, max_workers), on_idle
        self._jobs: queue.SimpleQueue[Any] = queue.SimpleQueue()  # None: a thread's stop
        self._lock = threading.Lock()  # guards the counts below
        self._threads = 0  # threads alive
        self._idle = 0  # of which waiting for a job

    @property
    def threads(self) -> int:
        with self._lock:
            return self._threads

    @property
    def idle(self) -> int:
        with self._lock:
            return self._idle

    def submit(self, job: Any) -> None:
        with self._lock:
            self._jobs.put(job)
            if self._jobs.qsize() <= self._idle or self._threads >= self.max_workers:
                return  # a waiting worker takes it, or the next one to finish does
            self._threads += 1
        try:
            threading.Thread(target=self._worker, name="status-worker", daemon=True).start()
        except RuntimeError:  # can't start new thread: the job waits for a running worker
            with self._lock:
                self._threads -= 1
                alone = self._threads == 0
            if alone:  # ... or, with none running, is run here rather than left hanging
                with contextlib.suppress(queue.Empty):
                    if (job := self._jobs.get_nowait()) is not None:
                        self.run(job)

    def stop(self, wait_s: float = 2.0) -> None:
        """Ask every thread to exit; wait up to ``wait_s`` for them."""
        with self._lock:
            for _ in range(self._threads):
                self._jobs.put(None)
        deadline = time.monotonic() + wait_s
        while self.threads and time.monotonic() < deadline:
            time.sleep(0.01)

    def _worker(self) -> None:
        """Run jobs one after another; exit after WORKER_IDLE_S without work."""
        while (job := self._take()) is not None:
            self.run(job)

    def _take(self) -> Any:
        with self._lock:
            self._idle += 1
        try:
            job = self._jobs.get(timeout=WORKER_IDLE_S)
        except queue.Empty:
            job = None
            with self._lock:  # a job may have been queued just as we timed out
                with contextlib.suppress(queue.Empty):
                    job = self._jobs.get_nowait()
                self._idle -= 1
                if job is None:
                    self._threads -= 1
                last = job is None and self._threads == 0
            if last and self.on_idle is not None:  # the last worker leaves: nobody is looking
                try:
                    self.on_idle()
                except Exception as exc:  # a hook's bug must not stop the server
                    print(f"[status] idle hook failed: {exc_line(exc)}", file=sys.stderr)
            return job
        with self._lock:
            self._idle -= 1
            if job is None:  # stop()
                self._threads -= 1
        return job
