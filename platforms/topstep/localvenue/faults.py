"""Fault switches of the local TopStep venue, per endpoint, armed by tests or ``POST /control``.

A *kind* is an endpoint's path after ``/api/`` (``Order/place``, ``Order/search``,
``Trade/search``, ``Position/searchOpen``, ``Position/closeContract``, ``Auth/loginKey``, ...),
its bare verb (``place``, ``searchOpen``: every endpoint of that verb), or ``*`` for any.
Each armed fault fires ``count`` times.
Modes (the live-venue contract's list):

- ``429`` / ``5xx``: answer HTTP 429 / 500 (``status`` param) before anything happens;
- ``timeout``: hold the request ``hold_s`` seconds (default 30), then handle it (it takes
  effect after the client gave up);
- ``drop``: handle the request (an order takes effect), then close the connection unanswered;
- ``partial``: a market order fills ``fraction`` (default 0.5, whole contracts, at least one)
  of its size; the rest is cancelled;
- ``no_fill``: a market order shows no fill on the first ``reads`` (default 2) order reads,
  then fills at the price of that moment.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any

__all__ = ["MODES", "TRANSPORT_MODES", "Fault", "Faults"]

MODES = frozenset({"429", "5xx", "timeout", "drop", "partial", "no_fill"})
TRANSPORT_MODES = frozenset({"429", "5xx", "timeout", "drop"})
ORDER_MODES = frozenset({"partial", "no_fill"})


@dataclass
class Fault:
    kind: str
    mode: str
    count: int = 1
    params: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "mode": self.mode, "count": self.count, **self.params}


class Faults:
    """The armed faults, thread-safe; ``take`` consumes one firing."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._armed: list[Fault] = []

    def add(self, kind: str, mode: str, count: int = 1, **params: Any) -> Fault:
        if mode not in MODES:
            raise ValueError(f"unknown fault mode {mode!r} (one of {', '.join(sorted(MODES))})")
        if int(count) < 1:
            raise ValueError("fault count must be >= 1")
        fault = Fault(str(kind), mode, int(count), dict(params))
        with self._lock:
            self._armed.append(fault)
        return fault

    def clear(self) -> None:
        with self._lock:
            self._armed.clear()

    def armed(self) -> list[dict[str, Any]]:
        with self._lock:
            return [f.as_dict() for f in self._armed]

    def take(self, kind: str, modes: frozenset[str]) -> Fault | None:
        with self._lock:
            for fault in self._armed:
                if fault.mode in modes and fault.kind in (kind, kind.rsplit("/", 1)[-1], "*"):
                    fault.count -= 1
                    if fault.count <= 0:
                        self._armed.remove(fault)
                    return fault
        return None
