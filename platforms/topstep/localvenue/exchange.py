"""The local TopStep venue's accounts and matching (no sockets: :mod:`.server` serves it).

Prices follow the simulated market (:func:`shared_tools.market.sim_model.price`, the same path
paper checks read), rounded to the contract's tick; the clock is the Hyperliquid local venue's
(``GO_TRADER_NOW`` when set, else wall time, plus test steps). Market orders fill at once at
that price (taker fee per contract per side), unless a fault (:mod:`.faults`) makes them fill
partly or only after some reads. Orders are refused outside CME Globex hours, like the real
venue, unless ``enforce_hours`` is off. A custom tag is unique per account (a second order with
the same tag is refused): the guard behind the scripts' "never twice" rule.
"""

from __future__ import annotations

import threading
from typing import Any

from platforms.cme import cme_globex_open
from platforms.hyperliquid.localvenue.model import Clock
from platforms.topstep.localvenue import model as m
from platforms.topstep.localvenue.faults import ORDER_MODES, Faults
from shared_tools.market import sim_model

__all__ = ["LocalTopStep"]

DAY_MS = 86_400_000
MAX_ROWS = 1000  # the most orders / trades one search answers


def _answer(**fields: Any) -> dict[str, Any]:
    return {**fields, "success": True, "errorCode": 0, "errorMessage": None}


def _refuse(code: int, message: str, **fields: Any) -> dict[str, Any]:
    return {**fields, "success": False, "errorCode": code, "errorMessage": message}


class LocalTopStep:
    """The venue's whole state behind one lock: contracts, accounts, orders, tokens."""

    def __init__(
        self,
        seed: int | None = None,
        initial_usd: float = 50_000.0,
        api_key: str = "test-key",
        secret: str = "test-secret",
        clock: Clock | None = None,
        faults: Faults | None = None,
        enforce_hours: bool = True,
    ) -> None:
        self.seed = sim_model.seed_from_env() if seed is None else int(seed)
        self.initial_usd = float(initial_usd)
        self.api_key, self.secret = api_key, secret
        self.clock = clock or Clock()
        self.faults = faults or Faults()
        self.enforce_hours = enforce_hours
        self.contracts = m.front_contracts(self.clock.now_ms())
        self.accounts: dict[int, m.Account] = {}
        self.orders: dict[int, m.Order] = {}
        self.tokens: set[str] = set()
        self._ids = {"order": 1000, "trade": 5000, "position": 100, "token": 0}
        self._lock = threading.RLock()

    # ---- helpers -------------------------------------------------------------------------
    def _next(self, kind: str) -> int:
        self._ids[kind] += 1
        return self._ids[kind]

    def contract(self, contract_id: str) -> m.Contract | None:
        for c in self.contracts.values():
            if c.id == contract_id:
                return c
        return None

    def price(self, root: str, ms: int | None = None) -> float:
        """The contract's price now (simulated market), on its tick."""
        t = self.clock.now_ms() if ms is None else ms
        raw = sim_model.price(root, t / 1000.0, self.seed)
        tick = self.contracts[root].spec.tick_size
        return round(round(raw / tick) * tick, 6)

    def add_account(self, account_id: int, usd: float | None = None) -> m.Account:
        with self._lock:
            acct = self.accounts.get(int(account_id))
            if acct is None:
                acct = m.Account(int(account_id), f"LOCAL-{account_id}", self.initial_usd)
                self.accounts[acct.id] = acct
            if usd is not None:
                acct.balance = float(usd)
            return acct

    def _account(self, body: dict[str, Any]) -> m.Account | None:
        try:
            return self.accounts.get(int(body.get("accountId")))  # type: ignore[arg-type]
        except (TypeError, ValueError):
            return None

    # ---- auth ----------------------------------------------------------------------------
    def login(self, body: dict[str, Any]) -> dict[str, Any]:
        if body.get("userName") != self.api_key or body.get("apiKey") != self.secret:
            return _refuse(3, "Invalid credentials", token=None)
        with self._lock:
            token = f"local-token-{self._next('token')}-{self.seed}"
            self.tokens.add(token)
        return _answer(token=token)

    def authorized(self, header: str | None) -> bool:
        text = str(header or "")
        return text.startswith("Bearer ") and text[len("Bearer ") :] in self.tokens

    # ---- reads ---------------------------------------------------------------------------
    def search_accounts(self, body: dict[str, Any]) -> dict[str, Any]:
        with self._lock:
            return _answer(accounts=[a.wire() for a in self.accounts.values()])

    def search_contracts(self, body: dict[str, Any]) -> dict[str, Any]:
        text = str(body.get("searchText") or "").strip().upper()
        found = [c.wire() for c in self.contracts.values() if c.root.startswith(text)]
        return _answer(contracts=found)

    def search_orders(self, body: dict[str, Any], *, open_only: bool = False) -> dict[str, Any]:
        with self._lock:
            acct = self._account(body)
            if acct is None:
                return _refuse(1, "Account not found", orders=[])
            now = self.clock.now_ms()
            start = m.parse_ts(body.get("startTimestamp"), now - DAY_MS)
            end = m.parse_ts(body.get("endTimestamp"), now + DAY_MS)
            rows = []
            for order in self.orders.values():
                if order.account_id != acct.id or not start <= order.created_ms <= end:
                    continue
                self._read(order)
                if open_only and order.status not in (m.OPEN, m.PENDING):
                    continue
                rows.append(order.wire())
            return _answer(orders=rows[-MAX_ROWS:])

    def _read(self, order: m.Order) -> None:
        """An order read: a no-fill-yet order counts down, then fills now."""
        if order.status == m.OPEN and order.reads_left > 0:
            order.reads_left -= 1
            if order.reads_left == 0:
                self._fill(order)

    def search_positions(self, body: dict[str, Any]) -> dict[str, Any]:
        with self._lock:
            acct = self._account(body)
            if acct is None:
                return _refuse(1, "Account not found", positions=[])
            rows = [
                {
                    "id": pos.id,
                    "accountId": acct.id,
                    "contractId": cid,
                    "creationTimestamp": m.iso(pos.opened_ms),
                    "type": m.LONG if pos.size > 0 else m.SHORT,
                    "size": abs(pos.size),
                    "averagePrice": pos.avg,
                }
                for cid, pos in acct.positions.items()
                if pos.size != 0
            ]
            return _answer(positions=rows)

    def search_trades(self, body: dict[str, Any]) -> dict[str, Any]:
        with self._lock:
            acct = self._account(body)
            if acct is None:
                return _refuse(1, "Account not found", trades=[])
            now = self.clock.now_ms()
            start = m.parse_ts(body.get("startTimestamp"), now - DAY_MS)
            end = m.parse_ts(body.get("endTimestamp"), now + DAY_MS)
            rows = [
                {k: v for k, v in t.items() if not k.startswith("_")}
                for t in acct.trades
                if start <= t["_ms"] <= end
            ]
            return _answer(trades=rows[-MAX_ROWS:])

    # ---- orders --------------------------------------------------------------------------
    def place(self, body: dict[str, Any]) -> dict[str, Any]:
        with self._lock:
            acct = self._account(body)
            if acct is None:
                return _refuse(m.PLACE_ACCOUNT_NOT_FOUND, "Account not found", orderId=None)
            contract = self.contract(str(body.get("contractId")))
            if contract is None:
                return _refuse(m.PLACE_CONTRACT_NOT_FOUND, "Contract not found", orderId=None)
            if int(body.get("type", 0)) != m.MARKET:
                return _refuse(m.PLACE_REJECTED, "the local venue takes market orders only")
            size, side = body.get("size"), body.get("side")
            if not isinstance(size, int) or isinstance(size, bool) or size < 1:
                return _refuse(m.PLACE_REJECTED, "Invalid order size (whole contracts >= 1)")
            if side not in (m.BID, m.ASK):
                return _refuse(m.PLACE_REJECTED, "Invalid side (0 bid, 1 ask)")
            tag = body.get("customTag") or None
            if tag is not None and any(
                o.custom_tag == tag and o.account_id == acct.id for o in self.orders.values()
            ):
                return _refuse(m.PLACE_REJECTED, f"customTag {tag!r} was already used")
            now = self.clock.now_ms()
            if self.enforce_hours and not cme_globex_open_ms(now):
                return _refuse(m.PLACE_HOURS, "Outside trading hours (CME Globex closed)")
            order = m.Order(self._next("order"), acct.id, contract.id, side, size, now, tag)
            fault = self.faults.take("Order/place", ORDER_MODES)
            if fault is not None and fault.mode == "no_fill":
                order.reads_left = max(1, int(fault.params.get("reads", 2)))
            elif fault is not None:
                order.fill_fraction = float(fault.params.get("fraction", 0.5))
            self.orders[order.id] = order
            if order.reads_left == 0:
                self._fill(order)
            return _answer(orderId=order.id)

    def _fill(self, order: m.Order) -> None:
        """Fill ``order`` at the current price (its fraction; the rest is cancelled)."""
        acct = self.accounts[order.account_id]
        contract = self.contract(order.contract_id)
        assert contract is not None
        qty = order.size
        if order.fill_fraction < 1.0:
            qty = max(1, int(order.size * order.fill_fraction))
        now = self.clock.now_ms()
        px = self.price(contract.root, now)
        signed = qty if order.side == m.BID else -qty
        pnl = self._book(acct, contract, signed, px, now)
        fee = m.FEE_PER_SIDE.get(contract.root, 1.40) * qty
        acct.balance += (pnl or 0.0) - fee
        acct.trades.append(
            {
                "id": self._next("trade"),
                "accountId": acct.id,
                "contractId": contract.id,
                "creationTimestamp": m.iso(now),
                "price": px,
                "profitAndLoss": None if pnl is None else round(pnl, 2),
                "fees": round(fee, 2),
                "side": order.side,
                "size": qty,
                "voided": False,
                "orderId": order.id,
                "_ms": now,
            }
        )
        order.fill_volume, order.filled_price, order.updated_ms = qty, px, now
        order.status = m.FILLED if qty == order.size else m.CANCELLED

    def _book(
        self, acct: m.Account, contract: m.Contract, signed: int, px: float, now: int
    ) -> float | None:
        """Apply a fill to the position; the realized PnL of the part it closed (None: none)."""
        pos = acct.positions.setdefault(contract.id, m.Position())
        mult = contract.spec.multiplier
        pnl: float | None = None
        if pos.size == 0 or (pos.size > 0) == (signed > 0):
            total = pos.size + signed
            pos.avg = (pos.avg * abs(pos.size) + px * abs(signed)) / abs(total)
            if pos.size == 0:
                pos.opened_ms, pos.id = now, self._next("position")
            pos.size = total
            return None
        closing = min(abs(signed), abs(pos.size))
        direction = 1 if pos.size > 0 else -1
        pnl = (px - pos.avg) * closing * mult * direction
        rest = signed + closing * direction  # what is left after closing, signed
        pos.size += closing * -direction
        if pos.size == 0 and rest != 0:
            pos.size, pos.avg = rest, px
            pos.opened_ms, pos.id = now, self._next("position")
        elif pos.size == 0:
            pos.avg = 0.0
        return pnl

    def close_contract(self, body: dict[str, Any], size: int | None = None) -> dict[str, Any]:
        """Flatten (or reduce by ``size``) the account's position with a market order."""
        with self._lock:
            acct = self._account(body)
            if acct is None:
                return _refuse(m.CLOSE_ACCOUNT_NOT_FOUND, "Account not found")
            contract = self.contract(str(body.get("contractId")))
            if contract is None:
                return _refuse(m.CLOSE_CONTRACT_NOT_FOUND, "Contract not found")
            pos = acct.positions.get(contract.id)
            if pos is None or pos.size == 0:
                return _refuse(m.CLOSE_POSITION_NOT_FOUND, "Position not found")
            now = self.clock.now_ms()
            if self.enforce_hours and not cme_globex_open_ms(now):
                return _refuse(5, "Outside trading hours (CME Globex closed)")
            qty = abs(pos.size) if size is None else min(int(size), abs(pos.size))
            if qty < 1:
                return _refuse(5, "Invalid close size (whole contracts >= 1)")
            side = m.ASK if pos.size > 0 else m.BID
            order = m.Order(self._next("order"), acct.id, contract.id, side, qty, now, None)
            self.orders[order.id] = order
            self._fill(order)
            return _answer()

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            return {
                "now_ms": self.clock.now_ms(),
                "seed": self.seed,
                "enforce_hours": self.enforce_hours,
                "contracts": {r: c.id for r, c in self.contracts.items()},
                "prices": {r: self.price(r) for r in self.contracts},
                "accounts": {
                    a.id: {
                        "balance": round(a.balance, 2),
                        "positions": {
                            cid: {"size": p.size, "avg": p.avg}
                            for cid, p in a.positions.items()
                            if p.size
                        },
                        "trades": len(a.trades),
                    }
                    for a in self.accounts.values()
                },
                "orders": len(self.orders),
                "faults": self.faults.armed(),
            }


def cme_globex_open_ms(ms: int) -> bool:
    from datetime import UTC, datetime

    return cme_globex_open(datetime.fromtimestamp(ms / 1000, UTC))
