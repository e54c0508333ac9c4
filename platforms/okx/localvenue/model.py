"""The local OKX venue's vocabulary: instruments, accounts, orders, and OKX's wire numbers.

Plain data and pure rules; :mod:`.exchange` keeps the state and matches orders.

Instruments follow OKX's public ``/api/v5/public/instruments`` for the coins the simulated
market knows: spot ``BTC-USDT`` (lotSz/minSz in coins), USDT swaps ``BTC-USDT-SWAP`` with
``ctVal`` (coins per contract) and lotSz/minSz **in contracts** (BTC ctVal 0.01, lotSz 0.01).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import ROUND_FLOOR, Decimal
from typing import Any

from shared_tools.book.venues import taker_fee

__all__ = [
    "SPOT",
    "SWAP",
    "Instrument",
    "OkxError",
    "Order",
    "Position",
    "Account",
    "wire",
    "floor_to",
    "instruments",
]

SPOT_FEE = taker_fee("okx", "spot")
SWAP_FEE = taker_fee("okx", "perps")
LEVERAGE = 10  # cross margin, the account's fixed leverage (orders never set it, upstream §7)

# coin -> (lotSz, minSz, tickSz), spot, in coins (venue docs for BTC/ETH; SOL assumed alike)
SPOT: dict[str, tuple[str, str, str]] = {
    "BTC": ("0.00000001", "0.00001", "0.1"),
    "ETH": ("0.000001", "0.0001", "0.01"),
    "SOL": ("0.000001", "0.001", "0.01"),
}
# coin -> (ctVal, lotSz, minSz, tickSz), USDT swaps, lot/min in contracts (venue docs)
SWAP: dict[str, tuple[str, str, str, str]] = {
    "BTC": ("0.01", "0.01", "0.01", "0.1"),
    "ETH": ("0.1", "0.01", "0.01", "0.01"),
    "SOL": ("1", "0.01", "0.01", "0.01"),
}


class OkxError(Exception):
    """A request the venue refuses: OKX's ``code`` and ``msg`` (and HTTP status)."""

    def __init__(self, code: str, msg: str, status: int = 200) -> None:
        super().__init__(msg)
        self.code, self.msg, self.status = code, msg, status


def wire(x: float | Decimal, decimals: int = 10) -> str:
    """A number as OKX writes it: a decimal string without trailing zeros."""
    text = f"{round(float(x), decimals):.{decimals}f}".rstrip("0").rstrip(".")
    return "0" if text in ("", "-0") else text


def floor_to(value: Decimal, step: Decimal) -> Decimal:
    """``value`` floored to a multiple of ``step`` (exact decimal arithmetic)."""
    return (value / step).to_integral_value(rounding=ROUND_FLOOR) * step


@dataclass(frozen=True)
class Instrument:
    """One tradable instrument: ids, lot rules and, for swaps, the contract value."""

    inst_id: str
    inst_type: str  # SPOT | SWAP
    coin: str
    lot: Decimal
    min_sz: Decimal
    tick: Decimal
    ct_val: Decimal = Decimal(1)

    @property
    def fee_rate(self) -> float:
        return SWAP_FEE if self.inst_type == "SWAP" else SPOT_FEE

    def public(self, now_ms: int) -> dict[str, Any]:
        """The ``/public/instruments`` row (the fields ccxt's okx market parser reads)."""
        swap = self.inst_type == "SWAP"
        return {
            "instType": self.inst_type,
            "instId": self.inst_id,
            "uly": f"{self.coin}-USDT" if swap else "",
            "instFamily": f"{self.coin}-USDT" if swap else "",
            "baseCcy": "" if swap else self.coin,
            "quoteCcy": "" if swap else "USDT",
            "settleCcy": "USDT" if swap else "",
            "ctVal": str(self.ct_val) if swap else "",
            "ctMult": "1" if swap else "",
            "ctValCcy": self.coin if swap else "",
            "ctType": "linear" if swap else "",
            "lotSz": str(self.lot),
            "minSz": str(self.min_sz),
            "tickSz": str(self.tick),
            "lever": str(LEVERAGE * 10) if swap else "",
            "state": "live",
            "listTime": str(now_ms - 365 * 86_400_000),
            "expTime": "",
            "alias": "",
            "category": "1",
            "maxMktSz": "1000000",
            "maxLmtSz": "1000000",
            "optType": "",
            "stk": "",
        }


def instruments() -> dict[str, Instrument]:
    """Every instrument of the venue by instId."""
    out: dict[str, Instrument] = {}
    for coin, (lot, mn, tick) in SPOT.items():
        out[f"{coin}-USDT"] = Instrument(
            f"{coin}-USDT", "SPOT", coin, Decimal(lot), Decimal(mn), Decimal(tick)
        )
    for coin, (ct, lot, mn, tick) in SWAP.items():
        out[f"{coin}-USDT-SWAP"] = Instrument(
            f"{coin}-USDT-SWAP", "SWAP", coin, Decimal(lot), Decimal(mn), Decimal(tick), Decimal(ct)
        )
    return out


@dataclass
class Order:
    """A (market) order as the venue keeps it; sizes in the instrument's unit."""

    ord_id: str
    cl_ord_id: str
    inst: Instrument
    side: str
    sz: Decimal
    td_mode: str
    reduce_only: bool
    c_time: int
    tgt_ccy: str = ""
    state: str = "live"
    acc_fill_sz: Decimal = Decimal(0)
    avg_px: float = 0.0
    fee: float = 0.0  # negative: OKX writes a charged fee as a negative number
    pnl: float = 0.0
    u_time: int = 0
    hidden_reads: int = 0  # the no_fill fault: reads that still show nothing filled

    def wire(self, *, hide: bool = False) -> dict[str, Any]:
        """The ``GET /trade/order`` row; ``hide`` shows it live and unfilled (no_fill fault)."""
        filled = Decimal(0) if hide else self.acc_fill_sz
        return {
            "instType": self.inst.inst_type,
            "instId": self.inst.inst_id,
            "ordId": self.ord_id,
            "clOrdId": self.cl_ord_id,
            "tag": "",
            "px": "",
            "sz": str(self.sz),
            "ordType": "market",
            "side": self.side,
            "posSide": "net",
            "tdMode": self.td_mode,
            "tgtCcy": self.tgt_ccy,
            "reduceOnly": "true" if self.reduce_only else "false",
            "state": "live" if hide else self.state,
            "accFillSz": str(filled),
            "fillSz": str(filled),
            "avgPx": "" if hide or filled == 0 else wire(self.avg_px),
            "fillPx": "" if hide or filled == 0 else wire(self.avg_px),
            "fee": "0" if hide else wire(self.fee),
            "feeCcy": "USDT",
            "pnl": "0" if hide else wire(self.pnl),
            "lever": str(LEVERAGE) if self.inst.inst_type == "SWAP" else "",
            "cTime": str(self.c_time),
            "uTime": str(self.c_time if hide else self.u_time),
        }


@dataclass
class Position:
    """One swap's net position: signed contracts and the average entry price."""

    pos: Decimal = Decimal(0)
    avg_px: float = 0.0
    c_time: int = 0


@dataclass
class Account:
    """One API key's account: USDT cash, spot coins, swap positions, orders, fills, bills."""

    api_key: str
    secret: str
    passphrase: str
    usdt: float = 0.0
    coins: dict[str, Decimal] = field(default_factory=dict)
    positions: dict[str, Position] = field(default_factory=dict)
    orders: dict[str, Order] = field(default_factory=dict)  # ordId -> order
    by_cl: dict[str, str] = field(default_factory=dict)  # clOrdId -> ordId
    fills: list[dict[str, Any]] = field(default_factory=list)
    bills: list[dict[str, Any]] = field(default_factory=list)
    funded_ms: int = 0  # swap funding settled up to here (epoch ms; .funding)
