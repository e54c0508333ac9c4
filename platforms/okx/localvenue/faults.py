"""Fault switches of the local OKX venue, per request kind, armed by tests or ``POST /control``.

A *kind* is a REST path below ``/api/v5/`` (``trade/order``, ``account/positions``), optionally
prefixed by its method (``POST trade/order`` places, ``GET trade/order`` reads), or ``*`` for any
request. Each armed fault fires ``count`` times, then disarms itself. Modes:

- ``429``: HTTP 429 with OKX's code 50011 (ccxt raises ``RateLimitExceeded``); nothing happens;
- ``5xx``: HTTP ``status`` (default 503) with code 50013 ("system is busy"); nothing happens;
- ``timeout``: hold the request ``hold_s`` seconds (default 30) before handling it, so the
  client's own timeout fires first; the request still takes effect afterwards;
- ``drop``: handle the request (an order takes effect), then close the connection unanswered;
- ``partial``: a market order fills only ``fraction`` (default 0.5) of its size, floored to the
  lot; OKX cancels the rest (state ``canceled`` with ``accFillSz`` > 0);
- ``no_fill``: the order fills at once, but its first ``reads`` (default 2) ``GET trade/order``
  answers show it ``live`` with nothing filled (the venue has not populated it yet);
- ``reject``: the order is refused with ``scode`` (default 51008, insufficient balance).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any

__all__ = ["MODES", "TRANSPORT_MODES", "ORDER_MODES", "Fault", "Faults"]

TRANSPORT_MODES = frozenset({"429", "5xx", "timeout", "drop"})
ORDER_MODES = frozenset({"partial", "no_fill", "reject"})
MODES = TRANSPORT_MODES | ORDER_MODES


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
    """The armed faults, thread-safe; ``take`` consumes one firing."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._armed: list[Fault] = []

    def add(self, kind: str, mode: str, count: int = 1, **params: Any) -> Fault:
        """Arm ``mode`` for the next ``count`` requests of ``kind``."""
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

    def take(self, method: str, path: str, modes: frozenset[str]) -> Fault | None:
        """Consume the first armed fault matching ``method path`` (or the bare path, or ``*``)."""
        names = (f"{method} {path}", path, "*")
        with self._lock:
            for fault in self._armed:
                if fault.mode in modes and fault.kind in names:
                    fault.count -= 1
                    if fault.count <= 0:
                        self._armed.remove(fault)
                    return fault
        return None
