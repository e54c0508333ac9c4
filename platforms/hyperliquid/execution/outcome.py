"""What an order answer means, and what the fills of one order add up to.

Every order answer is classified by its first status only: ``filled`` (totalSz, avgPx, oid),
``resting`` (oid), ``error`` (the venue's text) or ``missing``. An answer without ``filled`` or
``resting`` is a failed order, never a fill (upstream booked a rejected IOC at the mid).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

__all__ = ["Outcome", "classify", "summarize_fills", "num"]


def num(value: Any, default: float = 0.0) -> float:
    """A venue number (often a decimal string) as a finite float, else ``default``."""
    try:
        out = float(value)
    except (TypeError, ValueError):
        return default
    return out if math.isfinite(out) else default


@dataclass
class Outcome:
    """One order's result: ``kind`` is filled | resting | error | missing."""

    kind: str
    oid: int | None = None
    total_sz: float = 0.0
    avg_px: float = 0.0
    error: str = ""
    cloid: str | None = None
    notes: list[str] = field(
        default_factory=list
    )  # e.g. "resolved by cloid after a dropped answer"

    @property
    def ok(self) -> bool:
        return self.kind in ("filled", "resting")

    def describe(self) -> str:
        """The venue's words for a failed order (one line)."""
        if self.kind == "error":
            return self.error or "the venue refused the order"
        if self.kind == "missing":
            return self.error or "the venue's answer carried no order status"
        return self.kind


def classify(answer: Any, cloid: str | None = None) -> Outcome:
    """Classify an ``/exchange`` order answer by its first status."""
    if not isinstance(answer, dict):
        return Outcome("missing", error=f"unexpected answer {str(answer)[:120]!r}", cloid=cloid)
    if answer.get("status") != "ok":
        return Outcome("error", error=str(answer.get("response"))[:300], cloid=cloid)
    try:
        statuses = answer["response"]["data"]["statuses"]
        first = statuses[0]
    except (KeyError, IndexError, TypeError):
        return Outcome("missing", error="the venue's answer carried no order status", cloid=cloid)
    if isinstance(first, dict) and isinstance(first.get("filled"), dict):
        f = first["filled"]
        return Outcome(
            "filled",
            oid=int(f["oid"]) if f.get("oid") is not None else None,
            total_sz=num(f.get("totalSz")),
            avg_px=num(f.get("avgPx")),
            cloid=cloid,
        )
    if isinstance(first, dict) and isinstance(first.get("resting"), dict):
        oid = first["resting"].get("oid")
        return Outcome("resting", oid=int(oid) if oid is not None else None, cloid=cloid)
    if isinstance(first, dict) and "error" in first:
        return Outcome("error", error=str(first["error"])[:300], cloid=cloid)
    return Outcome("missing", error=f"unexpected order status {str(first)[:120]!r}", cloid=cloid)


def summarize_fills(fills: list[dict[str, Any]]) -> dict[str, Any]:
    """One order's fills: summed size, size-weighted price, fee, closed PnL, count, times."""
    qty = sum(num(f.get("sz")) for f in fills)
    notional = sum(num(f.get("sz")) * num(f.get("px")) for f in fills)
    times = [int(num(f.get("time"))) for f in fills]
    return {
        "coin": fills[0].get("coin") if fills else None,
        "qty": qty,
        "px": notional / qty if qty > 0 else 0.0,
        "fee": sum(num(f.get("fee")) for f in fills),
        "closed_pnl": sum(num(f.get("closedPnl")) for f in fills),
        "count": len(fills),
        "first_time_ms": min(times) if times else None,
        "last_time_ms": max(times) if times else None,
    }
