"""What one cycle did, for the summary, the chat messages and the log."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from supervisor.risk.portfolio import RiskEvent
from supervisor.state.models import Trade

__all__ = ["CycleReport", "Outcome", "new_report"]


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
    notes: list[str] = field(default_factory=list)
    events: list[RiskEvent] = field(default_factory=list)  # breakers, kill switch, warnings


def new_report(cycle: int) -> CycleReport:
    return CycleReport(cycle=cycle, started=time.time())
