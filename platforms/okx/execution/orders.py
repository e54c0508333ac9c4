"""What one OKX order is, read from the venue (``GET /api/v5/trade/order``).

The fill is always taken from the order as the venue reports it *after* placement: upstream
read ccxt's create answer, which OKX returns before ``avgPx``/``accFillSz``/``fee`` exist.
Status: ``filled`` (state filled), ``partial`` (some filled, the rest cancelled or still
working), ``open`` (nothing filled yet), ``canceled`` (nothing filled, cancelled).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from platforms.okx.execution.sizing import Lot, to_coins

__all__ = ["OrderState", "from_row"]


def _dec(value: Any) -> Decimal:
    try:
        out = Decimal(str(value))
    except (InvalidOperation, ValueError):
        return Decimal(0)
    return out if out.is_finite() else Decimal(0)


@dataclass
class OrderState:
    """One order as the venue knows it; ``qty`` is in coins, ``venue_sz`` in the order's unit."""

    status: str
    client_order_id: str
    oid: str
    inst_id: str
    side: str
    venue_sz: float = 0.0
    qty: float = 0.0
    avg_px: float = 0.0
    fee: float = 0.0  # positive: what was paid (OKX writes it negative)
    fee_ccy: str = "USDT"
    requested_sz: float = 0.0
    state: str = ""  # the venue's own word (live, partially_filled, filled, canceled)
    notes: list[str] = field(default_factory=list)

    @property
    def done(self) -> bool:
        """The venue has finished with it (nothing more will fill)."""
        return self.state in ("filled", "canceled", "mmp_canceled")

    def fill(self, swap: bool) -> dict[str, Any] | None:
        """The scripts' ``fill``: upstream's keys (avg_px, total_sz, fee, oid) + ``qty``.

        ``total_sz`` is in coins like ``qty`` (upstream passed ccxt's contracts through);
        ``contracts`` carries the venue's count on a swap."""
        if self.qty <= 0:
            return None
        out: dict[str, Any] = {
            "avg_px": self.avg_px,
            "total_sz": self.qty,
            "qty": self.qty,
            "fee": self.fee,
            "fee_ccy": self.fee_ccy,
            "oid": self.oid,
        }
        if swap:
            out["contracts"] = self.venue_sz
        return out


def from_row(row: dict[str, Any], lot: Lot) -> OrderState:
    """An order row of ``GET /trade/order`` as an :class:`OrderState`."""
    state = str(row.get("state") or "")
    filled = _dec(row.get("accFillSz"))
    size = _dec(row.get("sz"))
    if state == "filled":
        status = "filled"
    elif filled > 0:
        status = "partial"
    elif state in ("canceled", "mmp_canceled"):
        status = "canceled"
    else:
        status = "open"
    fee = _dec(row.get("fee"))
    return OrderState(
        status=status,
        client_order_id=str(row.get("clOrdId") or ""),
        oid=str(row.get("ordId") or ""),
        inst_id=str(row.get("instId") or lot.inst_id),
        side=str(row.get("side") or ""),
        venue_sz=float(filled),
        qty=to_coins(filled, lot),
        avg_px=float(_dec(row.get("avgPx"))),
        fee=float(-fee),
        fee_ccy=str(row.get("feeCcy") or "USDT"),
        requested_sz=to_coins(size, lot) if str(row.get("tgtCcy")) != "quote_ccy" else 0.0,
        state=state,
    )
