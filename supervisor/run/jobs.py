"""What the supervisor asks of a worker (:class:`Job`) and learns from it (:class:`Result`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

__all__ = ["Job", "Result"]


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
    data: dict[str, Any] | list[Any] | None
    error: str | None
    exit_code: int | None
    stderr_tail: str
    duration_s: float
    batched: bool = False

    @property
    def ok(self) -> bool:
        return self.error is None
