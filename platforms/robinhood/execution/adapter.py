"""The Robinhood crypto account behind a few primitives: buy by USD, sell by quantity, look up
an order by our client order id, holdings, buying power, close (sell the held quantity).

Guarantees (docs/architecture.md, "Live venues"):

- every order carries our client order id as Robinhood's ``ref_id``. Robinhood wants a UUID
  there, so the ref_id is the UUID-5 of our id (:func:`ref_id`): the same id always maps to the
  same ref_id, across processes and restarts;
- never twice: after a transport failure on the order POST the adapter lists the account's
  orders for that ref_id before anything else; only when the venue answers that it has none is
  the order sent once more, with the same ref_id (a venue that already took it refuses the
  duplicate, and the adapter then reads that order);
- the fill is read after placement (``GET /orders/{id}/`` until it is final: the create answer
  carries no fill yet); an order still working after the reads is cancelled so what the book
  records is final;
- no reduce-only exists on Robinhood: a close sells the held quantity (``quantity_available``).
"""

from __future__ import annotations

import math
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from platforms.robinhood.execution import credentials
from platforms.robinhood.execution.client import RobinhoodClient, TransportError, VenueRefused
from shared_tools.book.instruments import Instrument, instrument

__all__ = [
    "Order",
    "RobinhoodExecution",
    "account_balance",
    "coin_of",
    "fetch_balance",
    "new_client_order_id",
    "ref_id",
]

REF_NAMESPACE = uuid.UUID("6f1d7a52-3c0e-4b8e-9a57-2d4c8e1f0b93")  # ours; fixed forever
QTY_DECIMALS = 8
FILL_DELAYS_S = (0.0, 0.2, 0.4, 0.8, 1.0, 1.5, 2.0)  # order reads until final (~6 s)
RESOLVE_DELAYS_S = (0.0, 0.5, 1.0, 2.0)  # order-listing tries after a lost order answer
FINAL_STATES = frozenset({"filled", "canceled", "cancelled", "rejected", "failed"})


def ref_id(client_order_id: str) -> str:
    """Robinhood's ``ref_id`` (a UUID) for our client order id: deterministic."""
    return str(uuid.uuid5(REF_NAMESPACE, str(client_order_id)))


def new_client_order_id() -> str:
    """An id in our format (``gt`` + 24 hex) for a close started without one."""
    return "gt" + uuid.uuid4().hex[:24]


def coin_of(symbol: str) -> str:
    """``BTC``, ``BTC/USD``, ``BTC-USD``, ``btc`` -> ``BTC``."""
    text = str(symbol).strip().upper()
    for sep in ("/", "-", ":"):
        text = text.split(sep)[0]
    if not text.isalnum():
        raise ValueError(f"not a crypto symbol: {symbol!r} (e.g. BTC or BTC/USD)")
    return text


def _num(value: Any) -> float:
    try:
        out = float(value)
    except (TypeError, ValueError):
        return 0.0
    return out if math.isfinite(out) else 0.0


@dataclass
class Order:
    """One order as the scripts report it: status filled|partial|open|canceled|rejected."""

    status: str
    oid: str
    client_order_id: str
    quantity: float  # filled, coins
    avg_px: float
    fee: float
    state: str  # the venue's own word

    def fill(self) -> dict[str, Any] | None:
        """The contract's ``fill`` block (upstream's keys + ``qty`` in the book's unit)."""
        if self.quantity <= 0:
            return None
        return {
            "avg_px": self.avg_px,
            "quantity": self.quantity,
            "fee": self.fee,
            "oid": self.oid,
            "qty": self.quantity,
        }


def read_order(raw: dict[str, Any], client_order_id: str) -> Order:
    """A venue order as an :class:`Order` (average from executions when the field is empty)."""
    state = str(raw.get("state") or "").lower()
    qty = _num(raw.get("cumulative_quantity"))
    avg = _num(raw.get("average_price"))
    execs = raw.get("executions") if isinstance(raw.get("executions"), list) else []
    if qty > 0 and avg <= 0 and execs:
        total = sum(_num(e.get("quantity")) for e in execs)
        if total > 0:
            avg = sum(_num(e.get("quantity")) * _num(e.get("effective_price")) for e in execs)
            avg /= total
    if state == "filled":
        status = "filled"
    elif state in ("rejected", "failed"):
        status = "partial" if qty > 0 else "rejected"
    elif state in ("canceled", "cancelled"):
        status = "partial" if qty > 0 else "canceled"
    else:  # unconfirmed, confirmed, queued, partially_filled: still working
        status = "partial" if qty > 0 else "open"
    fee = _num(raw.get("fees")) if raw.get("fees") is not None else 0.0
    return Order(status, str(raw.get("id") or ""), client_order_id, qty, avg, fee, state)


def _sleep(seconds: float) -> None:
    if seconds > 0:
        time.sleep(seconds)


class RobinhoodExecution:
    """The live crypto account: reads and orders share one logged-in client."""

    def __init__(self, client: RobinhoodClient | None = None) -> None:
        if client is None:
            api, nummus = credentials.hosts()
            client = RobinhoodClient(credentials.login(), api, nummus)
        self.client = client
        self.sleep: Callable[[float], None] = _sleep  # tests may replace it
        self.notes: list[str] = []  # how a lost or refused answer was resolved (for the report)
        self._account: str | None = None
        self._pairs: dict[str, dict[str, Any]] | None = None

    # ---- reference data -------------------------------------------------------------------
    def account_id(self) -> str:
        """The crypto account's id (``nummus /accounts/``), read once."""
        if self._account is None:
            rows = self.client.pages(f"{self.client.nummus}/accounts/", max_pages=1)
            if not rows or not rows[0].get("id"):
                raise VenueRefused("this Robinhood login has no crypto account", 200)
            self._account = str(rows[0]["id"])
        return self._account

    def pair(self, coin: str) -> dict[str, Any]:
        """The ``COIN-USD`` currency pair (id, increments), read once per process."""
        if self._pairs is None:
            rows = self.client.pages(f"{self.client.nummus}/currency_pairs/")
            self._pairs = {}
            for row in rows:
                code = str((row.get("asset_currency") or {}).get("code") or "").upper()
                quote = str((row.get("quote_currency") or {}).get("code") or "").upper()
                if code and quote == "USD":
                    self._pairs[code] = row
        found = self._pairs.get(coin)
        if found is None:
            raise ValueError(f"{coin} is not a Robinhood crypto pair against USD")
        return found

    def row(self, coin: str) -> Instrument:
        """The book's Robinhood row ($1 minimum, cent prices) with the pair's own increment."""
        row = instrument("robinhood", coin, "spot")
        inc = _num(self.pair(coin).get("asset_increment"))
        return replace(row, lot_size=inc) if inc > 0 else row

    def quote(self, coin: str) -> dict[str, float]:
        """Bid, ask and mark of ``COIN-USD``."""
        pid = self.pair(coin)["id"]
        raw = self.client.get(f"{self.client.api}/marketdata/forex/quotes/{pid}/")
        out = {k: _num(raw.get(f"{k}_price")) for k in ("bid", "ask", "mark")}
        if min(out.values()) <= 0:
            raise TransportError(f"Robinhood quoted {coin} without a price")
        return out

    # ---- orders ---------------------------------------------------------------------------
    def buy_usd(self, coin: str, amount_usd: float, client_order_id: str) -> Order:
        """Market buy worth ``amount_usd``: quantity = amount / ask, floored to the increment;
        refused before sending what the venue would refuse (the book's row: $1 minimum)."""
        row = self.row(coin)
        if not amount_usd >= row.min_notional:
            raise ValueError(
                f"{row.where}: amount_usd {amount_usd:g} below the venue minimum "
                f"${row.min_notional:g}"
            )
        ask = self.quote(coin)["ask"]
        qty = row.round_qty(amount_usd / ask)
        why = row.order_refusal(qty, ask)
        if why:
            raise ValueError(why)
        return self._place(coin, "buy", qty, ask, client_order_id)

    def sell_qty(
        self, coin: str, quantity: float, client_order_id: str, *, whole: bool = False
    ) -> Order:
        """Market sell of ``quantity`` coins (floored to the increment). ``whole``: the entire
        holding, which the venue sells even below the $1 minimum (a close must reach flat)."""
        row = self.row(coin)
        qty = row.round_qty(quantity)
        bid = self.quote(coin)["bid"]
        why = row.order_refusal(qty, bid)
        if whole and qty > 0:
            why = ""
        if why or qty <= 0:
            raise ValueError(why or f"{row.where}: quantity {quantity:g} rounds to zero")
        return self._place(coin, "sell", qty, bid, client_order_id)

    def _place(self, coin: str, side: str, qty: float, price: float, cid: str) -> Order:
        body = {
            "account_id": self.account_id(),
            "currency_pair_id": self.pair(coin)["id"],
            "price": f"{price:.2f}",
            "quantity": f"{qty:.{QTY_DECIMALS}f}".rstrip("0").rstrip("."),
            "ref_id": ref_id(cid),
            "side": side,
            "time_in_force": "gtc",
            "type": "market",
        }
        created = self._send_once(body, cid)
        return self.await_final(str(created["id"]), cid)

    def _send_once(self, body: dict[str, Any], cid: str) -> dict[str, Any]:
        """POST the order; after a lost answer, ask by ref_id first, resend at most once."""
        url = f"{self.client.nummus}/orders/"
        for attempt in (1, 2):
            try:
                created = self.client.post(url, body)
                if not isinstance(created, dict) or not created.get("id"):
                    raise TransportError("Robinhood's order answer carried no order id")
                return created
            except VenueRefused as exc:
                if "ref_id" not in exc.detail.lower():
                    raise
                found = self.find(cid)  # a duplicate: the venue already has this order
                if found is None:
                    raise
                self.notes.append(f"the venue already had {cid}: that order is reported")
                return found
            except TransportError as exc:
                found = self._resolve(cid, exc)
                if found is not None:
                    self.notes.append(f"resolved by client order id after: {exc}")
                    return found
                if attempt == 1:
                    self.notes.append(f"resent once with the same id after: {exc}")
                if attempt == 2:
                    raise TransportError(
                        f"order {cid} not placed: {exc} (the venue has no order with this id)"
                    ) from None
        raise AssertionError("unreachable")  # pragma: no cover

    def _resolve(self, cid: str, cause: TransportError) -> dict[str, Any] | None:
        """The order by ref_id after a lost answer; raises when the venue cannot be asked."""
        last: Exception = cause
        for delay in RESOLVE_DELAYS_S:
            self.sleep(delay)
            try:
                return self.find(cid)
            except TransportError as exc:
                last = exc
        raise TransportError(
            f"order {cid} fate unknown after {cause}: the order listing failed too ({last}); "
            "ask again with --order-status"
        )

    def find(self, cid: str) -> dict[str, Any] | None:
        """The account's order with our id's ref_id (newest pages first), or None."""
        want = ref_id(cid)
        for row in self.client.pages(f"{self.client.nummus}/orders/"):
            if str(row.get("ref_id")) == want:
                return dict(row)
        return None

    def order(self, oid: str) -> dict[str, Any]:
        raw = self.client.get(f"{self.client.nummus}/orders/{oid}/")
        if not isinstance(raw, dict):
            raise TransportError(f"GET order {oid}: not an order")
        return raw

    def await_final(self, oid: str, cid: str) -> Order:
        """Read the order until it is final; cancel what still works after the last read."""
        raw: dict[str, Any] | None = None
        last: Exception | None = None
        for delay in FILL_DELAYS_S:
            self.sleep(delay)
            try:
                raw = self.order(oid)
            except TransportError as exc:
                last = exc
                continue
            if str(raw.get("state") or "").lower() in FINAL_STATES:
                return read_order(raw, cid)
        if raw is None:
            raise TransportError(
                f"order {cid} (oid {oid}) was placed but its fill could not be read ({last}); "
                "ask again with --order-status"
            )
        self.notes.append(f"order {oid} still working after the reads: cancelled the rest")
        try:
            self.client.post(f"{self.client.nummus}/orders/{oid}/cancel/", {})
            raw = self.order(oid)
        except (TransportError, VenueRefused):
            pass  # report what the last read said: still working
        return read_order(raw, cid)

    def status(self, cid: str) -> Order | None:
        """The order with our client order id as it stands (None: the venue has none)."""
        found = self.find(cid)
        if found is None:
            return None
        return read_order(self.order(str(found["id"])), cid)

    # ---- account ----------------------------------------------------------------------------
    def positions(self) -> list[dict[str, Any]]:
        """Held coins: ``[{coin, size (unsigned), avg_price}]``; a failed read raises."""
        out = []
        for row in self.client.pages(f"{self.client.nummus}/holdings/"):
            coin = str((row.get("currency") or {}).get("code") or "").upper()
            size = _num(row.get("quantity"))
            if not coin or coin == "USD" or size <= 0:
                continue
            bases = row.get("cost_bases") if isinstance(row.get("cost_bases"), list) else []
            cost = sum(_num(b.get("direct_cost_basis")) for b in bases)
            held = sum(_num(b.get("direct_quantity")) for b in bases)
            out.append({"coin": coin, "size": size, "avg_price": cost / held if held > 0 else 0.0})
        return out

    def available(self, coin: str) -> float:
        """The quantity of ``coin`` that can be sold now (``quantity_available``)."""
        for row in self.client.pages(f"{self.client.nummus}/holdings/"):
            if str((row.get("currency") or {}).get("code") or "").upper() == coin:
                return _num(row.get("quantity_available", row.get("quantity")))
        return 0.0

    def balance(self) -> float:
        """Crypto buying power in USD (``crypto_buying_power``, else ``buying_power``)."""
        rows = self.client.pages(f"{self.client.api}/accounts/", max_pages=1)
        if not rows:
            raise VenueRefused("this Robinhood login has no account", 200)
        row = rows[0]
        value = row.get("crypto_buying_power", row.get("buying_power"))
        if value is None:
            raise TransportError("Robinhood's account answer carried no buying power")
        return _num(value)

    def close(self, coin: str, sz: float | None, cid: str) -> Order | None:
        """Sell the held quantity (or min(sz, held)); None when nothing is held (flat)."""
        held = self.row(coin).round_qty(self.available(coin))
        if held <= 0:
            return None
        qty = held if sz is None else min(sz, held)
        return self.sell_qty(coin, qty, cid, whole=qty >= held)


def account_balance() -> float:
    """The crypto buying power in USD (``check_balance.py --platform=robinhood`` calls this)."""
    return RobinhoodExecution().balance()


def fetch_balance() -> dict[str, float]:
    """Upstream's ``check_balance.py --platform=robinhood`` answer: ``{"balance": USD}``."""
    return {"balance": account_balance()}
