"""Fault switches of the local venue: per request kind, armed by tests or ``POST /control``.

A *kind* is an ``/info`` type (``allMids``, ``userFillsByTime``, ...), an ``/exchange`` action
type (``order``, ``cancel``, ``cancelByCloid``, ``updateLeverage``) or ``*`` for any request.
Each armed fault fires ``count`` times (then disarms itself). Modes:

- ``429``: answer HTTP 429 (the SDK raises ``ClientError``); nothing happens on the venue;
- ``5xx``: answer HTTP 500 (``ServerError``); nothing happens;
- ``timeout``: hold the request ``hold_s`` seconds (default 30) before handling it, so the
  client's own timeout fires first; the request still takes effect afterwards;
- ``drop``: handle the request (an order takes effect), then close the connection unanswered;
- ``partial``: an order fills only ``fraction`` (default 0.5) of its size (IOC: the rest is
  cancelled; GTC: the rest rests);
- ``reject``: an order is refused with ``error`` (default ``"Order rejected by the local
  venue (fault)."``) as its status;
- ``late_fill``: a fill is recorded but ``userFills``/``userFillsByTime`` show it only once the
  venue clock is ``delay_s`` (default 10) seconds past the fill.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any

__all__ = ["MODES", "Fault", "Faults"]

MODES = frozenset({"429", "5xx", "timeout", "drop", "partial", "reject", "late_fill"})
# modes that act on the whole HTTP request, before / after it is handled
TRANSPORT_MODES = frozenset({"429", "5xx", "timeout", "drop"})


@dataclass
class Fault:
    """One armed fault: its kind, mode, how many more times it fires and its parameters."""

    kind: str
    mode: str
    count: int = 1
    params: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "mode": self.mode, "count": self.count, **self.params}


class Faults:
    """The armed faults, thread-safe; ``take`` consumes one firing.

    Every local venue uses this class: a venue's subclass sets its own ``modes`` and, where its
    kinds have another shape, which armed kinds a request's kind matches (``names``).
    """

    modes: frozenset[str] = MODES

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._armed: list[Fault] = []

    def add(self, kind: str, mode: str, count: int = 1, **params: Any) -> Fault:
        """Arm ``mode`` for requests of ``kind`` for the next ``count`` matching requests."""
        if mode not in self.modes:
            raise ValueError(
                f"unknown fault mode {mode!r} (one of {', '.join(sorted(self.modes))})"
            )
        if int(count) < 1:
            raise ValueError("fault count must be >= 1")
        fault = Fault(str(kind), mode, int(count), dict(params))
        with self._lock:
            self._armed.append(fault)
        return fault

    def clear(self) -> None:
        """Disarm every fault."""
        with self._lock:
            self._armed.clear()

    def armed(self) -> list[dict[str, Any]]:
        """The armed faults, as plain dicts (for ``/control``)."""
        with self._lock:
            return [f.as_dict() for f in self._armed]

    def names(self, kind: str) -> tuple[str, ...]:
        """The armed kinds a request of ``kind`` matches."""
        return (kind, "*")

    def take(self, kind: str, modes: frozenset[str]) -> Fault | None:
        """Consume and return the first armed fault matching ``kind`` (or ``*``) among ``modes``."""
        names = self.names(kind)
        with self._lock:
            for fault in self._armed:
                if fault.mode in modes and fault.kind in names:
                    fault.count -= 1
                    if fault.count <= 0:
                        self._armed.remove(fault)
                    return fault
        return None
