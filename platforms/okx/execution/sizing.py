"""Coins <-> the venue's order unit, explicitly (upstream sent coins where ccxt wants contracts).

An OKX swap order's ``sz`` is in **contracts** of ``ctVal`` coins each (ccxt's market
``contractSize``; BTC-USDT-SWAP: 0.01 BTC), and its lot and minimum size are in contracts too;
a spot order's ``sz`` is in coins. The book always counts coins. The rule (like Hyperliquid's
szDecimals): the venue size is **floored** to the lot, and a size below the minimum after
flooring is refused with an error, never sent. So 0.01 BTC is 1 contract, 0.015 BTC is 1.5
contracts (lotSz 0.01 allows it), 0.00005 BTC (0.005 contracts) is refused. Exact decimal
arithmetic: 0.015 / 0.01 in floats is 1.4999999999999998.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_FLOOR, Decimal
from typing import Any

__all__ = ["Lot", "SizeError", "to_coins", "to_venue"]


class SizeError(ValueError):
    """A size the venue cannot take (zero after the lot, or below the minimum)."""


@dataclass(frozen=True)
class Lot:
    """One instrument's sizing rules: contract value (1 for spot), lot and minimum, venue units."""

    inst_id: str
    ct_val: Decimal
    lot: Decimal
    min_sz: Decimal
    swap: bool

    @classmethod
    def of_market(cls, market: dict[str, Any]) -> Lot:
        """From a ccxt okx market (``contractSize``, ``precision.amount``, ``limits.amount.min``)."""
        swap = bool(market.get("contract"))

        def dec(value: object, default: str) -> Decimal:
            return Decimal(str(value)) if value not in (None, "", 0) else Decimal(default)

        return cls(
            inst_id=str(market["id"]),
            ct_val=dec(market.get("contractSize"), "1") if swap else Decimal(1),
            lot=dec((market.get("precision") or {}).get("amount"), "0.00000001"),
            min_sz=dec(((market.get("limits") or {}).get("amount") or {}).get("min"), "0"),
            swap=swap,
        )

    @property
    def unit(self) -> str:
        return "contracts" if self.swap else "coins"


def to_venue(coins: float, lot: Lot) -> Decimal:
    """``coins`` as the order's ``sz``: contracts (swap) or coins (spot), floored to the lot."""
    want = Decimal(repr(abs(float(coins))))
    raw = want / lot.ct_val
    sz = (raw / lot.lot).to_integral_value(rounding=ROUND_FLOOR) * lot.lot
    if sz <= 0 or sz < lot.min_sz:
        what = (
            f"{raw.normalize():f} contracts (ctVal {lot.ct_val.normalize():f})"
            if lot.swap
            else "coins"
        )
        raise SizeError(
            f"{want.normalize():f} coins is {what} of {lot.inst_id}: below the lot "
            f"{lot.lot.normalize():f} / minimum {lot.min_sz.normalize():f} {lot.unit}; refused"
        )
    return sz.normalize()


def to_coins(venue_sz: Decimal | float | str, lot: Lot) -> float:
    """A venue size (contracts or coins) in coins."""
    return float(Decimal(str(venue_sz)) * lot.ct_val)
