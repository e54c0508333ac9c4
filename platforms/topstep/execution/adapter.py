"""The TopStep execution adapter: market orders by custom tag, their fills, positions, closes.

Why it exists rather than each script calling the gateway (docs/architecture.md, the venue
packages):

- whole contracts only: a size is floored to a whole number, and one that floors to zero is an
  error before anything is sent;
- never twice: an order carries our client order id as its ``customTag`` (the gateway keeps it
  unique per account, a second guard). When the answer to ``/api/Order/place`` is lost
  (timeout, dropped connection, 429, 5xx) the adapter first looks the order up by tag; only an
  answer that the venue has no such order allows one re-send with the same tag;
- the fill is read after placement, from the order and its trades (``/api/Trade/search`` by
  order id: real average price, quantity and fee), never from the place answer (upstream read
  the fill before the venue had populated it).

Where upstream and the real API differ we follow the real gateway (ProjectX, behind TopstepX):
upstream's ``POST /v1/order/market`` and ``/v1/order/close`` are ``/api/Order/place`` (type 2,
market) and ``/api/Position/closeContract`` there.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from platforms.topstep.contracts import name_matches, root_of_contract_id
from platforms.topstep.execution import credentials
from platforms.topstep.execution.gateway import Gateway, GatewayError, TransportError
from shared_tools.clock import now_utc

__all__ = [
    "Fill",
    "Placed",
    "TopStepExecution",
    "status_of",
    "whole_contracts",
]

# ProjectX enums (order status, side, type, position type)
OPEN, FILLED, CANCELLED, EXPIRED, REJECTED, PENDING = 1, 2, 3, 4, 5, 6
BID, ASK, MARKET, LONG = 0, 1, 2, 1
CLOSE_POSITION_NOT_FOUND = 2
LOOKBACK = timedelta(days=7)  # order lookups by tag search this far back
LOOKUP_BACKOFF_S = (0.0, 0.25, 0.5, 1.0)  # tag lookups after a lost answer
FILL_BACKOFF_S = (0.0, 0.2, 0.4, 0.8, 1.0)  # order reads until the order is final
_EPS = 1e-9


def whole_contracts(qty: float) -> int:
    """``qty`` floored to whole contracts; ValueError when that is below one."""
    if not math.isfinite(qty) or qty <= 0:
        raise ValueError(f"contracts must be a positive number (got {qty!r})")
    out = int(math.floor(qty + _EPS))
    if out < 1:
        raise ValueError(f"{qty:g} contracts rounds down to zero whole contracts")
    return out


def status_of(order: dict[str, Any] | None) -> str:
    """The contract's status word for a gateway order: filled | partial | open | canceled |
    rejected | unknown."""
    if not order:
        return "unknown"
    status, filled = int(order.get("status") or 0), int(order.get("fillVolume") or 0)
    if status == FILLED:
        return "filled"
    if status in (CANCELLED, EXPIRED):
        return "partial" if filled > 0 else "canceled"
    if status == REJECTED:
        return "rejected"
    return "open"


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def ts_ms(text: Any) -> int:
    try:
        parsed = datetime.fromisoformat(str(text).replace("Z", "+00:00"))
    except ValueError:
        return 0
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return int(parsed.timestamp() * 1000)


@dataclass
class Fill:
    """One order's fill: whole contracts, average price, fee, the order id."""

    qty: int
    avg_px: float
    fee: float | None
    oid: str

    def as_json(self) -> dict[str, Any]:
        """Upstream's keys (avg_px, total_contracts, fee, oid) plus ``qty`` in book units."""
        return {
            "avg_px": self.avg_px,
            "total_contracts": self.qty,
            "fee": self.fee,
            "oid": self.oid,
            "qty": float(self.qty),
        }


@dataclass
class Placed:
    """What placing an order came to: the order id (None on failure), notes, the error."""

    order_id: int | None
    error: str = ""
    notes: list[str] = field(default_factory=list)


def _sleep(seconds: float) -> None:
    if seconds > 0:
        time.sleep(seconds)


class TopStepExecution:
    """The live account: reads and market orders on one gateway session."""

    def __init__(self, gateway: Gateway | None = None) -> None:
        creds = credentials.load()
        self.account_id = creds.account_id
        self.gw = gateway or Gateway(credentials.base_url(), creds)
        self._contracts: dict[str, dict[str, Any]] = {}
        self.sleep: Callable[[float], None] = _sleep  # tests may replace it

    # ---- contracts ---------------------------------------------------------------------
    def contract(self, root: str) -> dict[str, Any]:
        """The active contract of ``root`` (``/api/Contract/search``), once per process."""
        key = root.upper()
        if key not in self._contracts:
            answer = self.gw.post("/api/Contract/search", {"searchText": key, "live": False})
            found = [
                c
                for c in answer.get("contracts") or []
                if name_matches(key, str(c.get("name", ""))) and c.get("activeContract", True)
            ]
            if not found:
                raise GatewayError(f"no active {key} contract listed on TopStep")
            self._contracts[key] = found[0]
        return self._contracts[key]

    # ---- reads -------------------------------------------------------------------------
    def orders(self, since: datetime | None = None) -> list[dict[str, Any]]:
        start = since or (now_utc() - LOOKBACK)
        body = {"accountId": self.account_id, "startTimestamp": iso(start)}
        rows = self.gw.post("/api/Order/search", body).get("orders")
        if not isinstance(rows, list):
            raise GatewayError("/api/Order/search: no orders list in the answer")
        return rows

    def order_by_tag(self, tag: str) -> dict[str, Any] | None:
        mine = [o for o in self.orders() if o.get("customTag") == tag]
        return mine[-1] if mine else None

    def order_by_id(self, order_id: int) -> dict[str, Any] | None:
        mine = [o for o in self.orders() if int(o.get("id") or 0) == int(order_id)]
        return mine[-1] if mine else None

    def trades(self, since_ms: int) -> list[dict[str, Any]]:
        start = datetime.fromtimestamp(since_ms / 1000, UTC)
        body = {"accountId": self.account_id, "startTimestamp": iso(start)}
        rows = self.gw.post("/api/Trade/search", body).get("trades")
        if not isinstance(rows, list):
            raise GatewayError("/api/Trade/search: no trades list in the answer")
        return [t for t in rows if not t.get("voided")]

    def positions(self) -> list[dict[str, Any]]:
        """Open positions (strict: a failed read raises, never an empty list)."""
        answer = self.gw.post("/api/Position/searchOpen", {"accountId": self.account_id})
        rows = answer.get("positions")
        if not isinstance(rows, list):
            raise GatewayError("/api/Position/searchOpen: no positions list in the answer")
        return rows

    def position(self, root: str) -> int:
        """The signed whole-contract position on ``root`` (0 when flat)."""
        cid = self.contract(root)["id"]
        return sum(signed_size(p) for p in self.positions() if p.get("contractId") == cid)

    def balance(self) -> float:
        answer = self.gw.post("/api/Account/search", {"onlyActiveAccounts": True})
        for acct in answer.get("accounts") or []:
            if int(acct.get("id") or 0) == self.account_id:
                return float(acct.get("balance") or 0.0)
        raise GatewayError(
            f"account {self.account_id} is not among the active accounts: check TOPSTEP_ACCOUNT_ID"
        )

    def fill_of(self, order: dict[str, Any]) -> Fill:
        """The order's fill from its trades (size-weighted price, summed fees); the order's own
        fillVolume/filledPrice when its trades are not listed yet (fee then None)."""
        oid = int(order.get("id") or 0)
        since = ts_ms(order.get("creationTimestamp")) - 60_000
        mine: list[dict[str, Any]] = []
        for delay in FILL_BACKOFF_S[:3]:
            self.sleep(delay)
            try:  # the order is placed: a lost read is retried, never reported as a failure
                mine = [t for t in self.trades(since) if int(t.get("orderId") or 0) == oid]
            except TransportError:
                continue
            if mine:
                break
        if mine:
            qty = sum(int(t.get("size") or 0) for t in mine)
            notional = sum(int(t.get("size") or 0) * float(t.get("price") or 0) for t in mine)
            fee = sum(float(t.get("fees") or 0.0) for t in mine)
            return Fill(qty, notional / qty if qty else 0.0, round(fee, 6), str(oid))
        qty = int(order.get("fillVolume") or 0)
        return Fill(qty, float(order.get("filledPrice") or 0.0), None, str(oid))

    def settle(self, order_id: int) -> dict[str, Any] | None:
        """The order re-read until it is final (filled, cancelled, rejected) or the tries end."""
        order = None
        for delay in FILL_BACKOFF_S:
            self.sleep(delay)
            try:
                order = self.order_by_id(order_id) or order
            except TransportError:
                continue
            if order is not None and status_of(order) not in ("open", "unknown"):
                return order
        return order

    # ---- orders ------------------------------------------------------------------------
    def place_market(self, root: str, side: str, contracts: int, tag: str | None) -> Placed:
        """One market order under the never-twice rule (see the module docstring)."""
        body: dict[str, Any] = {
            "accountId": self.account_id,
            "contractId": self.contract(root)["id"],
            "type": MARKET,
            "side": BID if side == "buy" else ASK,
            "size": int(contracts),
        }
        if tag:
            body["customTag"] = tag
        try:
            return Placed(int(self.gw.post("/api/Order/place", body)["orderId"]))
        except TransportError as exc:
            lost = str(exc)
        except GatewayError as exc:  # a tag already used: that order is this intent's order
            known = self.lookup_tag(tag) if tag else None
            if known:
                note = f"client order id already used ({exc}): reporting that order, not resent"
                return Placed(int(known["id"]), notes=[note])
            raise
        if not tag:
            return Placed(None, f"order answer lost ({lost}); not resent (no client order id)")
        found = self.lookup_tag(tag)
        if found is None:
            return Placed(
                None, f"order answer lost ({lost}) and the lookup by tag failed; not resent"
            )
        if found:
            return Placed(int(found["id"]), notes=[f"resolved by client order id after {lost}"])
        try:
            answer = self.gw.post("/api/Order/place", body)
        except TransportError as exc:
            return Placed(None, f"order answer lost twice ({exc}); not resent")
        except GatewayError as exc:  # e.g. the first copy landed after the lookup: tag in use
            again = self.lookup_tag(tag)
            if again:
                return Placed(int(again["id"]), notes=[f"resolved by client order id ({exc})"])
            raise
        note = f"resent once with the same client order id after {lost}"
        return Placed(int(answer["orderId"]), notes=[note])

    def lookup_tag(self, tag: str) -> dict[str, Any] | None:
        """The order carrying ``tag``; ``{}`` when the venue answers it has none; None when it
        could not be asked."""
        for delay in LOOKUP_BACKOFF_S:
            self.sleep(delay)
            try:
                return self.order_by_tag(tag) or {}
            except TransportError:
                continue
        return None

    def close_contract(self, root: str, size: int | None = None) -> bool:
        """Flatten (or reduce by ``size``) ``root`` with the venue's close; False when the venue
        says there is no position."""
        body: dict[str, Any] = {
            "accountId": self.account_id,
            "contractId": self.contract(root)["id"],
        }
        path = "/api/Position/closeContract"
        if size is not None:
            body["size"], path = int(size), "/api/Position/partialCloseContract"
        try:
            self.gw.post(path, body)
        except GatewayError as exc:
            if exc.code == CLOSE_POSITION_NOT_FOUND:
                return False
            raise
        return True


def signed_size(position: dict[str, Any]) -> int:
    size = int(position.get("size") or 0)
    return size if int(position.get("type") or 0) == LONG else -size


def position_row(position: dict[str, Any]) -> dict[str, Any]:
    """A gateway position in upstream's fetch shape: coin (root), signed size, avg_price, side."""
    size = signed_size(position)
    return {
        "coin": root_of_contract_id(str(position.get("contractId", ""))),
        "size": size,
        "avg_price": float(position.get("averagePrice") or 0.0),
        "side": "long" if size > 0 else "short",
        "contract_id": position.get("contractId"),
    }
