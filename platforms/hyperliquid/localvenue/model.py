"""The local venue's vocabulary: fees, rounding rules, its clock, and what an account holds.

Plain data and pure rules (no matching, no I/O): :mod:`.exchange` matches orders and keeps
the accounts, :mod:`.info` answers the read-only API from them.
"""

from __future__ import annotations

import hashlib
import os
import threading
import time
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from shared_tools.book.instruments import HL_PERPS_DECIMALS
from shared_tools.book.venues import taker_fee
from shared_tools.clock import ENV_NOW, parse_now

TAKER_FEE = taker_fee("hyperliquid", "perps")  # HL base tier: 0.045%
MAKER_FEE = 0.00015  # HL base tier maker rate: 0.015%
HOUR_MS = 3_600_000
STEP_MS = 60_000  # resting orders are checked against the mid once a venue minute
MAX_STEPS = 7 * 24 * 60  # a jump longer than a week checks its last week only
DEFAULT_LEVERAGE = 20
MAX_ANSWER = 2000  # HL answers at most this many fills / ledger rows
IS_MAINNET = False  # the SDK signs for mainnet only when its base URL is mainnet's


class VenueError(Exception):
    """A request the venue refuses as a whole (HTTP 4xx with this text)."""

    def __init__(self, message: str, status: int = 422) -> None:
        super().__init__(message)
        self.status = status


def wire_num(x: float, decimals: int = 8) -> str:
    """A float as HL writes numbers: a decimal string without trailing zeros."""
    text = f"{round(float(x), decimals):.{decimals}f}"
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return "0.0" if text in ("", "-0", "0") else text


def round_px(px: float, sz_decimals: int) -> float:
    """A price as the venue accepts it: 5 significant figures, at most 6 - szDecimals decimals."""
    if px >= 100_000:
        return float(round(px))
    return round(float(f"{px:.5g}"), max(0, HL_PERPS_DECIMALS - sz_decimals))


def as_decimal(text: Any) -> Decimal | None:
    try:
        value = Decimal(str(text))
    except (InvalidOperation, ValueError):
        return None
    return value if value.is_finite() else None


def price_ok(value: Decimal, sz_decimals: int) -> bool:
    """HL's price rule: an integer, or <= 5 significant figures and <= 6 - szDecimals decimals."""
    if value <= 0:
        return False
    if value == value.to_integral_value():
        return True
    norm = value.normalize().as_tuple()
    decimals = -int(norm.exponent)
    return decimals <= HL_PERPS_DECIMALS - sz_decimals and len(norm.digits) <= 5


def size_ok(value: Decimal, sz_decimals: int) -> bool:
    """A size is positive with at most szDecimals decimals."""
    if value <= 0:
        return False
    return -int(value.normalize().as_tuple().exponent) <= sz_decimals


class Clock:
    """The venue's clock in epoch ms: GO_TRADER_NOW (read at start) or wall time, plus steps."""

    def __init__(self, pinned_ms: int | None = None) -> None:
        if pinned_ms is None:
            raw = os.environ.get(ENV_NOW, "").strip()
            if raw:
                pinned_ms = int(parse_now(raw).timestamp() * 1000)
        self._pinned = pinned_ms
        self._offset = 0
        self._lock = threading.Lock()

    def now_ms(self) -> int:
        with self._lock:
            base = self._pinned if self._pinned is not None else int(time.time() * 1000)
            return base + self._offset

    def step(self, seconds: float) -> int:
        """Move the clock forward by ``seconds`` (tests); returns the new time."""
        if seconds < 0:
            raise ValueError("the venue clock only moves forward")
        with self._lock:
            self._offset += int(seconds * 1000)
        return self.now_ms()

    def set_ms(self, ms: int) -> int:
        """Pin the clock at ``ms`` (never backwards from now)."""
        if ms < self.now_ms():
            raise ValueError("the venue clock only moves forward")
        with self._lock:
            self._pinned, self._offset = int(ms), 0
        return int(ms)


@dataclass
class Order:
    """A resting (or finished) order: its ids, side, sizes, limit, trigger and status."""

    oid: int
    account: str
    coin: str
    asset: int
    is_buy: bool
    sz: float  # remaining
    orig_sz: float
    limit_px: float
    tif: str | None  # Gtc / Alo / Ioc; None for a trigger not yet fired
    reduce_only: bool
    timestamp: int
    cloid: str | None = None
    trigger_px: float | None = None
    is_market: bool = False
    tpsl: str | None = None
    status: str = "open"
    status_ts: int = 0
    filled_sz: float = 0.0
    avg_px: float = 0.0

    def wire(self) -> dict[str, Any]:
        """The ``openOrders`` shape (plus the trigger fields of ``frontendOpenOrders``)."""
        out: dict[str, Any] = {
            "coin": self.coin,
            "side": "B" if self.is_buy else "A",
            "limitPx": wire_num(self.limit_px),
            "sz": wire_num(self.sz),
            "oid": self.oid,
            "timestamp": self.timestamp,
            "origSz": wire_num(self.orig_sz),
            "reduceOnly": self.reduce_only,
            "isTrigger": self.trigger_px is not None and self.tif is None,
            "triggerPx": wire_num(self.trigger_px or 0.0),
            "orderType": self._order_type(),
            "tif": self.tif,
        }
        if self.cloid:
            out["cloid"] = self.cloid
        return out

    def _order_type(self) -> str:
        if self.tpsl is None:
            return "Limit"
        kind = "Stop" if self.tpsl == "sl" else "Take Profit"
        return f"{kind} {'Market' if self.is_market else 'Limit'}"


@dataclass
class Position:
    """One coin's position: signed size, average entry, funding paid since it opened."""

    szi: float = 0.0
    entry_px: float = 0.0
    funding_since_open: float = 0.0
    funding_all_time: float = 0.0


@dataclass
class Account:
    """One address: USDC balance, positions, leverage settings, fills and ledgers."""

    address: str
    usdc: float
    positions: dict[str, Position] = field(default_factory=dict)
    leverage: dict[str, tuple[int, bool]] = field(default_factory=dict)  # coin -> (lev, cross)
    fills: list[dict[str, Any]] = field(default_factory=list)  # with a private "_visible_at"
    funding: list[dict[str, Any]] = field(default_factory=list)
    ledger: list[dict[str, Any]] = field(default_factory=list)


def fill_hash(*parts: Any) -> str:
    return "0x" + hashlib.sha256(repr(parts).encode()).hexdigest()


class Refused(Exception):
    """A signed action refused in the venue's style (HTTP 200, ``status: err``)."""


def ok(kind: str, statuses: list[Any]) -> dict[str, Any]:
    return {"status": "ok", "response": {"type": kind, "data": {"statuses": statuses}}}


def direction(start: float, new: float) -> str:
    if start >= 0 and new >= 0:
        return "Open Long" if new > start else "Close Long"
    if start <= 0 and new <= 0:
        return "Open Short" if new < start else "Close Short"
    return "Long > Short" if start > 0 else "Short > Long"
