"""The local Robinhood venue's state: one login, its cash and holdings, crypto pairs, orders.

No sockets here (:mod:`.server` serves it). Prices follow the simulated market
(:mod:`shared_tools.market.sim_model`) at the venue clock (Hyperliquid's local-venue
:class:`~platforms.hyperliquid.localvenue.model.Clock`: ``GO_TRADER_NOW`` or wall time, plus
steps); a quote is the mid -/+ a half spread of 5 bp. Market orders fill at once at the ask
(buy) or bid (sell), unless a fault (:mod:`.faults`) says otherwise. The create answer carries
no fill (``unconfirmed``), as Robinhood's does: clients read the order afterwards.

The login checks the username, the password and a TOTP code of the secret at wall time (an
authenticator's clock), one 30 s window either side.
"""

from __future__ import annotations

import math
import secrets
import threading
import time
import uuid
from datetime import UTC, datetime
from typing import Any

from platforms.hyperliquid.localvenue.model import Clock
from platforms.robinhood.execution import totp
from platforms.robinhood.localvenue.faults import ORDER_MODES, Faults
from shared_tools.market import sim_model

__all__ = ["COINS", "DEFAULT_TOTP_SECRET", "LocalRobinhood", "VenueError"]

DEFAULT_USERNAME = "test-user"
DEFAULT_PASSWORD = "test-pass"
DEFAULT_TOTP_SECRET = "JBSWY3DPEHPK3PXP"  # a fixed test secret (base32)
COINS = ("BTC", "ETH", "SOL", "DOGE", "LTC", "AVAX", "LINK", "XRP", "ADA", "BCH")
HALF_SPREAD = 0.0005
QTY_DECIMALS = 8
PAGE_SIZE = 50


class VenueError(Exception):
    """A request the venue refuses: HTTP ``status`` with ``{"detail": message}``."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


def _iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _num(text: Any) -> float:
    try:
        out = float(text)
    except (TypeError, ValueError):
        raise VenueError(f"not a number: {text!r}") from None
    if not math.isfinite(out):
        raise VenueError(f"not a number: {text!r}")
    return out


def _dec(x: float, places: int = QTY_DECIMALS) -> str:
    return f"{x:.{places}f}"


def _px(x: float) -> float:
    return round(x, 2) if x >= 1 else float(f"{x:.6g}")


class LocalRobinhood:
    """The whole venue behind one lock."""

    def __init__(
        self,
        *,
        seed: int | None = None,
        initial_usd: float = 10_000.0,
        username: str = DEFAULT_USERNAME,
        password: str = DEFAULT_PASSWORD,
        totp_secret: str = DEFAULT_TOTP_SECRET,
        clock: Clock | None = None,
        faults: Faults | None = None,
    ) -> None:
        self.seed = sim_model.seed_from_env() if seed is None else int(seed)
        self.clock = clock or Clock()
        self.faults = faults or Faults()
        self.username, self.password, self.totp_secret = username, password, totp_secret
        self.cash = float(initial_usd)
        self.holdings: dict[str, list[float]] = {}  # coin -> [quantity, cost basis USD]
        self.orders: list[dict[str, Any]] = []  # oldest first
        self.hidden_reads: dict[str, int] = {}  # order id -> reads still showing no fill
        self.tokens: set[str] = set()
        self.logins = 0
        self.account_id = str(uuid.UUID(int=int(self.seed) & ((1 << 128) - 1) or 1))
        self.pair_ids = {c: str(uuid.uuid5(uuid.NAMESPACE_DNS, f"{c}-USD.local")) for c in COINS}
        self._lock = threading.RLock()

    # ---- market -------------------------------------------------------------------------
    def mid(self, coin: str) -> float:
        return sim_model.price(coin, self.clock.now_ms() / 1000.0, self.seed)

    def quote(self, pair_id: str) -> dict[str, Any]:
        coin = self._coin_of_pair(pair_id)
        mid = self.mid(coin)
        bid, ask = _px(mid * (1 - HALF_SPREAD)), _px(mid * (1 + HALF_SPREAD))
        return {
            "id": pair_id,
            "symbol": f"{coin}USD",
            "bid_price": str(bid),
            "ask_price": str(ask),
            "mark_price": str(_px(mid)),
            "updated_at": _iso(self.clock.now_ms()),
        }

    def _coin_of_pair(self, pair_id: str) -> str:
        for coin, pid in self.pair_ids.items():
            if pid == pair_id:
                return coin
        raise VenueError("Not found.", 404)

    def pairs(self) -> list[dict[str, Any]]:
        return [
            {
                "id": pid,
                "symbol": f"{coin}-USD",
                "asset_currency": {"code": coin, "name": coin, "increment": "0.00000001"},
                "quote_currency": {"code": "USD", "name": "US Dollar", "increment": "0.01"},
                "asset_increment": "0.00000001",
                "min_order_size": "0.000001",
                "tradability": "tradable",
            }
            for coin, pid in self.pair_ids.items()
        ]

    # ---- login --------------------------------------------------------------------------
    def login(self, body: dict[str, Any]) -> dict[str, Any]:
        if body.get("username") != self.username or body.get("password") != self.password:
            raise VenueError("Unable to log in with provided credentials.", 400)
        code = str(body.get("mfa_code") or "")
        if not code:
            raise VenueError("mfa_required: an authenticator code is needed (mfa_code)", 400)
        if not totp.verify(self.totp_secret, code, time.time()):
            raise VenueError("Please enter a valid code.", 400)
        token = secrets.token_hex(20)
        with self._lock:
            self.tokens.add(token)
            self.logins += 1
        return {"access_token": token, "token_type": "Bearer", "expires_in": 86400}

    def authorized(self, header: str | None) -> bool:
        text = str(header or "")
        return text.startswith("Bearer ") and text[7:] in self.tokens

    # ---- account reads ------------------------------------------------------------------
    def api_accounts(self) -> list[dict[str, Any]]:
        cash = _dec(self.cash, 2)
        return [
            {
                "account_number": "5LOCAL000",
                "cash": cash,
                "buying_power": cash,
                "crypto_buying_power": cash,
            }
        ]

    def crypto_accounts(self) -> list[dict[str, Any]]:
        return [{"id": self.account_id, "status": "active", "user_id": self.username}]

    def holding_rows(self) -> list[dict[str, Any]]:
        rows = []
        with self._lock:
            for coin, (qty, cost) in sorted(self.holdings.items()):
                rows.append(
                    {
                        "id": str(uuid.uuid5(uuid.NAMESPACE_DNS, f"holding-{coin}")),
                        "account_id": self.account_id,
                        "currency": {"code": coin, "name": coin},
                        "quantity": _dec(qty),
                        "quantity_available": _dec(qty),
                        "cost_bases": [
                            {"direct_cost_basis": _dec(cost, 8), "direct_quantity": _dec(qty)}
                        ],
                    }
                )
        return rows

    # ---- orders -------------------------------------------------------------------------
    def place(self, body: dict[str, Any]) -> dict[str, Any]:
        """Accept a market order and match it at once; answers it as just created."""
        with self._lock:
            if body.get("account_id") != self.account_id:
                raise VenueError("Invalid account_id.", 400)
            coin = self._coin_of_pair(str(body.get("currency_pair_id")))
            side = body.get("side")
            if side not in ("buy", "sell") or body.get("type") != "market":
                raise VenueError("Only market buy and sell orders are served here.", 400)
            ref = str(body.get("ref_id") or "")
            try:
                uuid.UUID(ref)
            except ValueError:
                raise VenueError("ref_id must be a UUID.", 400) from None
            if any(o["ref_id"] == ref for o in self.orders):
                raise VenueError("An order with this ref_id already exists.", 400)
            qty = round(_num(body.get("quantity")), QTY_DECIMALS)
            if qty <= 0:
                raise VenueError("quantity must be positive.", 400)
            now = self.clock.now_ms()
            order: dict[str, Any] = {
                "id": str(uuid.uuid4()),
                "ref_id": ref,
                "account_id": self.account_id,
                "currency_pair_id": body["currency_pair_id"],
                "side": side,
                "type": "market",
                "time_in_force": body.get("time_in_force", "gtc"),
                "quantity": _dec(qty),
                "price": str(body.get("price")),
                "state": "unconfirmed",
                "cumulative_quantity": _dec(0.0),
                "average_price": None,
                "rounded_executed_notional": "0.00",
                "executions": [],
                "created_at": _iso(now),
                "updated_at": _iso(now),
            }
            created = dict(order)
            self._match(order, coin, qty)
            self.orders.append(order)
            return created

    def _match(self, order: dict[str, Any], coin: str, qty: float) -> None:
        fault = self.faults.take("order", ORDER_MODES)
        mode = fault.mode if fault else None
        quote = self.quote(order["currency_pair_id"])
        buy = order["side"] == "buy"
        px = float(quote["ask_price"] if buy else quote["bid_price"])
        held = self.holdings.get(coin, [0.0, 0.0])
        if buy and qty * px > self.cash + 1e-9:
            order["state"] = "rejected"
            order["reject_reason"] = "Insufficient buying power."
            return
        if not buy and qty > held[0] + 1e-12:
            order["state"] = "rejected"
            order["reject_reason"] = "Insufficient holdings."
            return
        if mode == "reject" and fault is not None:
            order["state"] = "rejected"
            order["reject_reason"] = str(fault.params.get("error", "Rejected (local fault)."))
            return
        filled = qty
        if mode == "partial" and fault is not None:
            frac = float(fault.params.get("fraction", 0.5))
            filled = math.floor(qty * frac * 10**QTY_DECIMALS) / 10**QTY_DECIMALS
        if mode == "no_fill" and fault is not None:
            self.hidden_reads[order["id"]] = int(fault.params.get("reads", 2))
        if filled > 0:
            if buy:
                self.cash -= filled * px
                held = [round(held[0] + filled, QTY_DECIMALS), held[1] + filled * px]
            else:
                self.cash += filled * px
                share = filled / held[0] if held[0] > 0 else 1.0
                held = [round(held[0] - filled, QTY_DECIMALS), held[1] * (1 - share)]
            if held[0] <= 1e-12:
                self.holdings.pop(coin, None)
            else:
                self.holdings[coin] = held
            now = _iso(self.clock.now_ms())
            order["executions"] = [
                {
                    "id": str(uuid.uuid4()),
                    "effective_price": str(px),
                    "quantity": _dec(filled),
                    "timestamp": now,
                }
            ]
        order["cumulative_quantity"] = _dec(filled)
        order["average_price"] = str(px) if filled > 0 else None
        order["rounded_executed_notional"] = _dec(filled * px, 2)
        order["state"] = "filled" if filled >= qty else "canceled"
        order["updated_at"] = _iso(self.clock.now_ms())

    def _view(self, order: dict[str, Any], *, consume: bool) -> dict[str, Any]:
        left = self.hidden_reads.get(order["id"], 0)
        if left <= 0:
            return dict(order)
        if consume:
            self.hidden_reads[order["id"]] = left - 1
        return {
            **order,
            "state": "confirmed",
            "cumulative_quantity": _dec(0.0),
            "average_price": None,
            "rounded_executed_notional": "0.00",
            "executions": [],
        }

    def get_order(self, oid: str) -> dict[str, Any]:
        with self._lock:
            for order in self.orders:
                if order["id"] == oid:
                    return self._view(order, consume=True)
        raise VenueError("Not found.", 404)

    def list_orders(self, cursor: int) -> tuple[list[dict[str, Any]], int | None]:
        """A page of orders, newest first, and the next cursor (None on the last page)."""
        with self._lock:
            newest = list(reversed(self.orders))
            page = newest[cursor : cursor + PAGE_SIZE]
            more = cursor + PAGE_SIZE < len(newest)
            return [
                self._view(o, consume=False) for o in page
            ], cursor + PAGE_SIZE if more else None

    def cancel(self, oid: str) -> dict[str, Any]:
        with self._lock:
            for order in self.orders:
                if order["id"] == oid:
                    self.hidden_reads.pop(oid, None)  # it had filled: the cancel comes late
                    return {}
        raise VenueError("Not found.", 404)

    # ---- control ------------------------------------------------------------------------
    def fund(self, usd: float) -> float:
        with self._lock:
            self.cash += float(usd)
            return self.cash

    def set_holding(self, coin: str, qty: float, cost: float) -> None:
        with self._lock:
            if qty <= 0:
                self.holdings.pop(coin.upper(), None)
            else:
                self.holdings[coin.upper()] = [float(qty), float(cost)]

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            return {
                "now_ms": self.clock.now_ms(),
                "seed": self.seed,
                "cash": self.cash,
                "holdings": {c: {"quantity": q, "cost": k} for c, (q, k) in self.holdings.items()},
                "orders": len(self.orders),
                "logins": self.logins,
                "faults": self.faults.armed(),
            }
