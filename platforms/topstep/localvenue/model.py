"""The local TopStep venue's vocabulary: the gateway's enums, contracts, fees, accounts.

Plain data and pure rules; :mod:`.exchange` matches orders and keeps the accounts. The enum
values are the ProjectX gateway's (the API behind TopstepX): order status, side, type,
position type and the place / close error codes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from platforms.topstep.contracts import SYMBOL_IDS
from shared_tools.book.venues import CONTRACT_SPECS, ContractSpec

# ProjectX gateway enums
OPEN, FILLED, CANCELLED, EXPIRED, REJECTED, PENDING = 1, 2, 3, 4, 5, 6
BID, ASK = 0, 1  # side: buy, sell
LIMIT, MARKET = 1, 2  # order type
LONG, SHORT = 1, 2  # position type
# /api/Order/place error codes
PLACE_ACCOUNT_NOT_FOUND, PLACE_REJECTED, PLACE_FUNDS, PLACE_HOURS = 1, 2, 3, 5
PLACE_CONTRACT_NOT_FOUND = 8
# /api/Position/closeContract error codes
CLOSE_ACCOUNT_NOT_FOUND, CLOSE_POSITION_NOT_FOUND, CLOSE_CONTRACT_NOT_FOUND = 1, 2, 3

# exchange + clearing + NFA per side, the order of TopStep's published round-turn costs
FEE_PER_SIDE = {"ES": 1.40, "NQ": 1.40, "CL": 1.52, "GC": 1.62, "MES": 0.37, "MNQ": 0.37}

QUARTER_CODES = ((3, "H"), (6, "M"), (9, "U"), (12, "Z"))


class VenueError(Exception):
    """A request the venue refuses as a whole (HTTP status with this text)."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


def iso(ms: int) -> str:
    """The gateway's timestamp form: ISO-8601 with an explicit UTC offset."""
    return datetime.fromtimestamp(ms / 1000, UTC).isoformat(timespec="milliseconds")


def parse_ts(text: Any, default_ms: int) -> int:
    """An ISO timestamp from a request (``Z`` or an offset) in epoch ms; ``default_ms`` if absent."""
    if not text:
        return default_ms
    raw = str(text).replace("Z", "+00:00")
    try:
        parsed = datetime.fromisoformat(raw)
    except ValueError:
        raise VenueError(f"bad timestamp {text!r} (ISO-8601 expected)") from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return int(parsed.timestamp() * 1000)


@dataclass(frozen=True)
class Contract:
    """One listed futures contract (the front quarterly month of a root)."""

    root: str
    id: str
    name: str
    spec: ContractSpec

    def wire(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "description": f"{self.root} front month (local venue)",
            "tickSize": self.spec.tick_size,
            "tickValue": self.spec.tick_value,
            "activeContract": True,
            "symbolId": f"F.US.{SYMBOL_IDS.get(self.root, self.root)}",
        }


def front_contracts(now_ms: int) -> dict[str, Contract]:
    """The front quarterly contract of every root TopStep trades, as of ``now_ms``."""
    now = datetime.fromtimestamp(now_ms / 1000, UTC)
    year, code = now.year, "H"
    for month, letter in QUARTER_CODES:
        if now.month <= month:
            code = letter
            break
    else:  # pragma: no cover - December is the last quarter
        year += 1
    out = {}
    for root, spec in CONTRACT_SPECS.items():
        sym = SYMBOL_IDS.get(root, root)
        out[root] = Contract(
            root, f"CON.F.US.{sym}.{code}{year % 100:02d}", f"{root}{code}{year % 10}", spec
        )
    return out


@dataclass
class Order:
    id: int
    account_id: int
    contract_id: str
    side: int
    size: int
    created_ms: int
    custom_tag: str | None
    status: int = OPEN
    fill_volume: int = 0
    filled_price: float | None = None
    updated_ms: int = 0
    reads_left: int = 0  # no_fill fault: order reads that still show no fill
    fill_fraction: float = 1.0

    def wire(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "accountId": self.account_id,
            "contractId": self.contract_id,
            "creationTimestamp": iso(self.created_ms),
            "updateTimestamp": iso(self.updated_ms or self.created_ms),
            "status": self.status,
            "type": MARKET,
            "side": self.side,
            "size": self.size,
            "limitPrice": None,
            "stopPrice": None,
            "fillVolume": self.fill_volume,
            "filledPrice": self.filled_price,
            "customTag": self.custom_tag,
        }


@dataclass
class Position:
    size: int = 0  # signed contracts
    avg: float = 0.0
    opened_ms: int = 0
    id: int = 0


@dataclass
class Account:
    id: int
    name: str
    balance: float
    positions: dict[str, Position] = field(default_factory=dict)  # contract id -> position
    trades: list[dict[str, Any]] = field(default_factory=list)

    def wire(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "balance": round(self.balance, 2),
            "canTrade": True,
            "isVisible": True,
            "simulated": True,
        }
