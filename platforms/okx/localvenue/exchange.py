"""The local OKX venue's state and matching: accounts by API key, market orders, reads.

Prices follow the simulated market (:mod:`shared_tools.market.sim_model`, a pure function of
seed, coin and time) on the venue clock (``GO_TRADER_NOW`` when set, else wall time, plus
``/control`` steps). A market order fills at once at the mid (unless a fault says otherwise).
Deliberate simplifications (documented, not OKX's): fees are always charged in USDT, there is
no liquidation and no order book; leverage is a fixed 10x cross. Swap funding is settled every
8 hours on the venue clock, with its bills (:mod:`.funding`).
"""

from __future__ import annotations

import re
import threading
from decimal import Decimal, InvalidOperation
from typing import Any

from platforms.hyperliquid.localvenue.model import Clock  # one venue clock for both venues
from platforms.okx.localvenue import funding
from platforms.okx.localvenue.faults import ORDER_MODES, Faults
from platforms.okx.localvenue.model import (
    LEVERAGE,
    Account,
    Instrument,
    OkxError,
    Order,
    Position,
    floor_to,
    instruments,
    wire,
)
from shared_tools.market import sim_model

__all__ = ["LocalOkx", "DEFAULT_KEY", "DEFAULT_SECRET", "DEFAULT_PASSPHRASE"]

DEFAULT_KEY, DEFAULT_SECRET, DEFAULT_PASSPHRASE = "test-key", "test-secret", "test-passphrase"
_CLORDID = re.compile(r"^[A-Za-z0-9]{1,32}$")
MAX_ROWS = 100  # OKX pages fills and bills by at most 100 rows


def _dec(text: Any, name: str) -> Decimal:
    try:
        value = Decimal(str(text))
    except (InvalidOperation, ValueError):
        raise OkxError("51000", f"Parameter {name} error") from None
    if not value.is_finite() or value <= 0:
        raise OkxError("51000", f"Parameter {name} error")
    return value


class LocalOkx:
    """The venue's whole state behind one lock."""

    def __init__(
        self,
        seed: int | None = None,
        initial_usdt: float = 10_000.0,
        clock: Clock | None = None,
        faults: Faults | None = None,
        api_key: str = DEFAULT_KEY,
        secret: str = DEFAULT_SECRET,
        passphrase: str = DEFAULT_PASSPHRASE,
    ) -> None:
        self.seed = sim_model.seed_from_env() if seed is None else int(seed)
        self.initial_usdt = float(initial_usdt)
        self.clock = clock or Clock()
        self.faults = faults or Faults()
        self.instruments = instruments()
        self.accounts: dict[str, Account] = {}
        self.simulated_requests = 0  # requests carrying x-simulated-trading: 1 (OKX demo)
        self._next_id = 600_000_000_000_001
        self._lock = threading.RLock()
        self.add_account(api_key, secret, passphrase)

    # ---- market --------------------------------------------------------------------
    def inst(self, inst_id: Any) -> Instrument:
        found = self.instruments.get(str(inst_id or ""))
        if found is None:
            raise OkxError("51001", f"Instrument ID {inst_id} does not exist")
        return found

    def mid(self, inst: Instrument, ms: int | None = None) -> float:
        """The simulated price of the instrument's coin, on its tick."""
        t = self.clock.now_ms() if ms is None else ms
        raw = Decimal(repr(sim_model.price(inst.coin, t / 1000.0, self.seed)))
        return float((raw / inst.tick).to_integral_value() * inst.tick)

    def public(self, path: str, query: dict[str, str]) -> list[dict[str, Any]]:
        """The public endpoints ccxt's okx driver reads."""
        now = self.clock.now_ms()
        if path == "public/time":
            return [{"ts": str(now)}]
        if path == "public/instruments":
            kind = query.get("instType", "")
            rows = [i for i in self.instruments.values() if i.inst_type == kind]
            if query.get("instId"):
                rows = [i for i in rows if i.inst_id == query["instId"]]
            return [i.public(now) for i in rows]
        if path in ("market/ticker", "market/tickers", "public/mark-price"):
            if query.get("instId"):
                rows = [self.inst(query["instId"])]
            else:
                rows = [
                    i for i in self.instruments.values() if i.inst_type == query.get("instType")
                ]
            return [self._ticker(i, now, mark=path == "public/mark-price") for i in rows]
        raise OkxError("50000", f"no such public endpoint {path!r} on the local venue", 404)

    def _ticker(self, inst: Instrument, now: int, *, mark: bool) -> dict[str, Any]:
        px = wire(self.mid(inst, now))
        if mark:
            return {
                "instType": inst.inst_type,
                "instId": inst.inst_id,
                "markPx": px,
                "ts": str(now),
            }
        base = {"instType": inst.inst_type, "instId": inst.inst_id, "last": px, "lastSz": "1"}
        return {
            **base,
            **{"askPx": px, "askSz": "1", "bidPx": px, "bidSz": "1", "open24h": px},
            **{"high24h": px, "low24h": px, "vol24h": "0", "volCcy24h": "0", "ts": str(now)},
            **{"sodUtc0": px, "sodUtc8": px},
        }

    # ---- accounts ------------------------------------------------------------------
    def add_account(
        self, api_key: str, secret: str, passphrase: str, usdt: float | None = None
    ) -> Account:
        """Create (or top up) the account of ``api_key``."""
        with self._lock:
            acct = self.accounts.get(api_key)
            if acct is None:
                acct = self.accounts[api_key] = Account(api_key, secret, passphrase)
                acct.funded_ms = self.clock.now_ms()  # funding from the account's creation
            acct.usdt += self.initial_usdt if usdt is None else float(usdt)
            return acct

    def account(self, api_key: str) -> Account | None:
        return self.accounts.get(api_key)

    def settle_funding(self, acct: Account) -> None:
        """Swap funding for every 8-hour funding time passed (before the request is served)."""
        with self._lock:
            funding.settle(acct, self.clock.now_ms(), self.seed, self.inst, self.mid, self._new_id)

    def _new_id(self) -> str:
        self._next_id += 1
        return str(self._next_id)

    # ---- orders --------------------------------------------------------------------
    def place(
        self, acct: Account, body: dict[str, Any], fault_mode: dict[str, Any] | None
    ) -> dict[str, Any]:
        """``POST /trade/order``: one market order, filled at once (OKX's answer row)."""
        with self._lock:
            order = self._accept(acct, body)
            if fault_mode and fault_mode.get("mode") == "reject":
                code = str(fault_mode.get("scode", "51008"))
                raise OkxError(code, "Order failed: rejected by the local venue (fault)")
            self._fill(acct, order, fault_mode or {})  # refuses before any state changes
            acct.orders[order.ord_id] = order
            if order.cl_ord_id:
                acct.by_cl[order.cl_ord_id] = order.ord_id
            return {
                "ordId": order.ord_id,
                "clOrdId": order.cl_ord_id,
                "tag": "",
                "ts": str(order.c_time),
                "sCode": "0",
                "sMsg": "Order placed",
            }

    def _accept(self, acct: Account, body: dict[str, Any]) -> Order:
        inst = self.inst(body.get("instId"))
        if body.get("ordType") != "market":
            raise OkxError("51000", "Parameter ordType error (the local venue takes market only)")
        side = body.get("side")
        if side not in ("buy", "sell"):
            raise OkxError("51000", "Parameter side error")
        td = body.get("tdMode")
        if (inst.inst_type == "SWAP" and td not in ("cross", "isolated")) or (
            inst.inst_type == "SPOT" and td != "cash"
        ):
            raise OkxError("51000", "Parameter tdMode error")
        cl = str(body.get("clOrdId") or "")
        if cl and not _CLORDID.match(cl):
            raise OkxError("51000", "Parameter clOrdId error")
        if cl and cl in acct.by_cl:
            raise OkxError("51016", "Duplicated clOrdId")
        sz = _dec(body.get("sz"), "sz")
        reduce = str(body.get("reduceOnly", "false")).lower() == "true"
        tgt = str(body.get("tgtCcy") or "")
        if inst.inst_type == "SPOT" and side == "buy" and tgt != "base_ccy":
            sz = floor_to(sz / Decimal(repr(self.mid(inst))), inst.lot)  # sz was USDT
        elif sz != floor_to(sz, inst.lot):
            raise OkxError("51121", f"Order quantity must be a multiple of the lot size {inst.lot}")
        if sz < inst.min_sz:
            raise OkxError("51020", f"Order amount should be greater than the min {inst.min_sz}")
        if reduce:
            if inst.inst_type != "SWAP":
                raise OkxError("51000", "Parameter reduceOnly error (spot has no reduce-only)")
            pos = acct.positions.get(inst.inst_id, Position()).pos
            if pos == 0 or (pos > 0) == (side == "buy"):
                raise OkxError("51169", "Order failed: no position in this direction to reduce")
            sz = min(sz, abs(pos))
        now = self.clock.now_ms()
        return Order(self._new_id(), cl, inst, side, sz, str(td), reduce, now, tgt, u_time=now)

    def _fill(self, acct: Account, order: Order, fault: dict[str, Any]) -> None:
        inst = order.inst
        qty = order.sz
        if fault.get("mode") == "partial":
            qty = floor_to(qty * Decimal(str(fault.get("fraction", 0.5))), inst.lot)
        px = self.mid(inst)
        coins = float(qty * inst.ct_val)
        notional = coins * px
        fee = notional * inst.fee_rate
        sign = 1 if order.side == "buy" else -1
        if qty > 0:
            if inst.inst_type == "SPOT":
                self._spot(acct, inst, sign, qty, notional, fee)
                pnl = 0.0
            else:
                pnl = self._swap(acct, inst, sign * qty, px, notional, fee)
            self._record(acct, order, qty, px, fee, pnl)
        order.acc_fill_sz, order.avg_px, order.fee, order.u_time = qty, px, -fee, order.c_time
        order.state = "filled" if qty == order.sz else "canceled"
        if fault.get("mode") == "no_fill":
            order.hidden_reads = int(fault.get("reads", 2))

    def _spot(
        self, acct: Account, inst: Instrument, sign: int, qty: Decimal, notional: float, fee: float
    ) -> None:
        held = acct.coins.get(inst.coin, Decimal(0))
        if sign > 0 and acct.usdt < notional + fee:
            raise OkxError("51008", "Order failed: insufficient USDT balance")
        if sign < 0 and held < qty:
            raise OkxError("51008", f"Order failed: insufficient {inst.coin} balance")
        acct.usdt -= sign * notional + fee
        acct.coins[inst.coin] = held + sign * qty

    def _swap(
        self,
        acct: Account,
        inst: Instrument,
        delta: Decimal,
        px: float,
        notional: float,
        fee: float,
    ) -> float:
        """Apply a fill of ``delta`` contracts; returns the realized PnL (gross of fees)."""
        pos = acct.positions.setdefault(inst.inst_id, Position())
        new = pos.pos + delta
        if abs(new) > abs(pos.pos):  # adds exposure: cross margin must cover it
            need = float(abs(new) * inst.ct_val) * px / LEVERAGE
            if need > self._equity(acct) - self._used_margin(acct, exclude=inst.inst_id):
                raise OkxError("51008", "Order failed: insufficient USDT margin")
        pnl = 0.0
        if pos.pos != 0 and (pos.pos > 0) != (delta > 0):  # reduces (maybe flips)
            closed = min(abs(delta), abs(pos.pos))
            pnl = float(closed * inst.ct_val) * (px - pos.avg_px) * (1 if pos.pos > 0 else -1)
        if new == 0:
            pos.avg_px = 0.0
        elif pos.pos == 0 or (pos.pos > 0) != (new > 0):
            pos.avg_px, pos.c_time = px, self.clock.now_ms()
        elif abs(new) > abs(pos.pos):
            pos.avg_px = (float(abs(pos.pos)) * pos.avg_px + float(abs(delta)) * px) / float(
                abs(new)
            )
        pos.pos = new
        acct.usdt += pnl - fee
        return pnl

    def _record(
        self, acct: Account, order: Order, qty: Decimal, px: float, fee: float, pnl: float
    ) -> None:
        inst, now = order.inst, order.c_time
        trade_id, bill_id = self._new_id(), self._new_id()
        acct.fills.append(
            {
                "instType": inst.inst_type,
                "instId": inst.inst_id,
                "tradeId": trade_id,
                "ordId": order.ord_id,
                "clOrdId": order.cl_ord_id,
                "billId": bill_id,
                "fillPx": wire(px),
                "fillSz": str(qty),
                "fillPnl": wire(pnl),
                "side": order.side,
                "posSide": "net",
                "execType": "T",
                "feeCcy": "USDT",
                "fee": wire(-fee),
                "ts": str(now),
            }
        )
        if inst.inst_type == "SPOT":
            sub = "1" if order.side == "buy" else "2"
            bal_chg = -(float(qty) * px) - fee if order.side == "buy" else float(qty) * px - fee
        else:
            opening = not order.reduce_only and pnl == 0.0
            sub = (
                ("3" if order.side == "buy" else "4")
                if opening
                else ("6" if order.side == "buy" else "5")
            )
            bal_chg = pnl - fee
        acct.bills.append(
            {
                "billId": bill_id,
                "ts": str(now),
                "ccy": "USDT",
                "type": "2",
                "subType": sub,
                "balChg": wire(bal_chg),
                "bal": wire(acct.usdt),
                "pnl": wire(pnl),
                "fee": wire(-fee),
                "instId": inst.inst_id,
                "instType": inst.inst_type,
                "tradeId": trade_id,
                "ordId": order.ord_id,
                "sz": str(qty),
                "px": wire(px),
                "mgnMode": order.td_mode,
            }
        )

    # ---- private reads -------------------------------------------------------------
    def get_order(self, acct: Account, query: dict[str, str]) -> list[dict[str, Any]]:
        """``GET /trade/order`` by ordId or clOrdId (51603 when the venue has no such order)."""
        with self._lock:
            inst = self.inst(query.get("instId"))
            oid = query.get("ordId") or acct.by_cl.get(query.get("clOrdId", ""), "")
            order = acct.orders.get(oid)
            if order is None or order.inst.inst_id != inst.inst_id:
                raise OkxError("51603", "Order does not exist")
            hide = order.hidden_reads > 0
            if hide:
                order.hidden_reads -= 1
            return [order.wire(hide=hide)]

    def positions(self, acct: Account, query: dict[str, str]) -> list[dict[str, Any]]:
        with self._lock:
            wanted = set(filter(None, query.get("instId", "").split(",")))
            now = self.clock.now_ms()
            rows = []
            for inst_id, pos in acct.positions.items():
                if pos.pos == 0 or (wanted and inst_id not in wanted):
                    continue
                rows.append(self._position_row(self.inst(inst_id), pos, now))
            return rows

    def _position_row(self, inst: Instrument, pos: Position, now: int) -> dict[str, Any]:
        mark = self.mid(inst, now)
        coins = float(pos.pos * inst.ct_val)
        notional = abs(coins) * mark
        upl = coins * (mark - pos.avg_px)
        return {
            "instType": "SWAP",
            "instId": inst.inst_id,
            "posId": f"pos-{inst.inst_id}",
            "posSide": "net",
            "pos": str(pos.pos),
            "availPos": str(abs(pos.pos)),
            "avgPx": wire(pos.avg_px),
            "markPx": wire(mark),
            "upl": wire(upl),
            "uplRatio": wire(upl / (notional / LEVERAGE)) if notional else "0",
            "lever": str(LEVERAGE),
            "mgnMode": "cross",
            "ccy": "USDT",
            "notionalUsd": wire(notional),
            "imr": wire(notional / LEVERAGE),
            "mmr": wire(notional * 0.004),
            "liqPx": "",
            "adl": "1",
            "cTime": str(pos.c_time),
            "uTime": str(now),
        }

    def _upl(self, acct: Account) -> float:
        total = 0.0
        for inst_id, pos in acct.positions.items():
            if pos.pos != 0:
                inst = self.inst(inst_id)
                total += float(pos.pos * inst.ct_val) * (self.mid(inst) - pos.avg_px)
        return total

    def _equity(self, acct: Account) -> float:
        return acct.usdt + self._upl(acct)

    def _used_margin(self, acct: Account, exclude: str = "") -> float:
        used = 0.0
        for inst_id, pos in acct.positions.items():
            if pos.pos != 0 and inst_id != exclude:
                inst = self.inst(inst_id)
                used += float(abs(pos.pos) * inst.ct_val) * self.mid(inst) / LEVERAGE
        return used

    def balance(self, acct: Account) -> list[dict[str, Any]]:
        """``GET /account/balance``: USDT (cash + swap PnL) and each spot coin held."""
        with self._lock:
            now = str(self.clock.now_ms())
            upl = self._upl(acct)
            eq = acct.usdt + upl
            avail = eq - self._used_margin(acct)
            details = [self._detail("USDT", eq, acct.usdt, avail, upl, eq, now)]
            total = eq
            for coin, qty in sorted(acct.coins.items()):
                if qty > 0:
                    usd = float(qty) * self.mid(self.inst(f"{coin}-USDT"))
                    details.append(
                        self._detail(coin, float(qty), float(qty), float(qty), 0, usd, now)
                    )
                    total += usd
            return [{"totalEq": wire(total), "uTime": now, "details": details}]

    @staticmethod
    def _detail(
        ccy: str, eq: float, cash: float, avail: float, upl: float, usd: float, now: str
    ) -> dict[str, Any]:
        return {
            "ccy": ccy,
            "eq": wire(eq),
            "cashBal": wire(cash),
            "availBal": wire(avail),
            "availEq": wire(avail),
            "frozenBal": "0",
            "ordFrozen": "0",
            "upl": wire(upl),
            "eqUsd": wire(usd),
            "disEq": wire(usd),
            "uTime": now,
        }

    def history(
        self, rows: list[dict[str, Any]], key: str, query: dict[str, str]
    ) -> list[dict[str, Any]]:
        """Fills or bills newest first, OKX's filters: instType, instId, begin/end (ms), after
        (older than this id), limit (<= 100)."""
        with self._lock:
            out = sorted(rows, key=lambda r: int(r[key]), reverse=True)
        for name, field in (("instType", "instType"), ("instId", "instId")):
            if query.get(name):
                out = [r for r in out if r[field] == query[name]]
        if query.get("begin"):
            out = [r for r in out if int(r["ts"]) >= int(query["begin"])]
        if query.get("end"):
            out = [r for r in out if int(r["ts"]) <= int(query["end"])]
        if query.get("after"):
            out = [r for r in out if int(r[key]) < int(query["after"])]
        limit = min(MAX_ROWS, int(query.get("limit") or MAX_ROWS))
        return out[:limit]

    def control_state(self) -> dict[str, Any]:
        """What ``/control {"op": "state"}`` shows (never a secret)."""
        with self._lock:
            accounts = {}
            for key, a in self.accounts.items():
                accounts[key] = {
                    "usdt": a.usdt,
                    "coins": {c: str(q) for c, q in a.coins.items() if q != 0},
                    "positions": {i: str(p.pos) for i, p in a.positions.items() if p.pos != 0},
                    "orders": len(a.orders),
                }
            return {
                "now_ms": self.clock.now_ms(),
                "seed": self.seed,
                "accounts": accounts,
                "faults": self.faults.armed(),
                "simulated_requests": self.simulated_requests,
            }

    @staticmethod
    def order_modes() -> frozenset[str]:
        return ORDER_MODES
