"""What bounds a run of workers: one deadline, even batch splits, and the counters.

Shared by the executor (a cycle's jobs) and the startup probe (every configured script), so
both cut their waits the same way.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field, fields
from typing import TypeVar

BATCH_SLACK_S = 2.0  # a batch's interpreter start and imports, on top of its jobs' timeouts
BATCH_OUTPUT_CAP = 32 << 20  # a batch may print max_output_bytes per job, up to this
JOB_TIMEOUT_ENV = "GO_TRADER_JOB_TIMEOUT"  # read by shared_tools.worker in --batch mode

T = TypeVar("T")


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
