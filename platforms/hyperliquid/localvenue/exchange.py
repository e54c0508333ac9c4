"""The local venue's matching engine and accounts (no sockets here: :mod:`.server` serves it).

Prices follow the simulated market (:mod:`shared_tools.market.sim_model`, a pure function of
seed, coin and time); the venue's clock is ``GO_TRADER_NOW`` when set, else wall time, plus
whatever tests stepped it by. Every request first *advances* the venue to the clock's time:
minute by minute it pays hourly funding and fills resting limits and triggers the mid crossed.

Orders fill at the mid (IOC or a marketable GTC: taker) or at their limit when the mid crosses
a resting one (maker). Rounding and refusals follow Hyperliquid (size to szDecimals, price to 5
significant figures and 6 - szDecimals decimals, $10 minimum) with its error texts where known.
"""

from __future__ import annotations

import hashlib
import itertools
import math
import os
import threading
import time
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from platforms.hyperliquid.localvenue.faults import Faults
from shared_tools.book.instruments import HL_ASSETS, HL_MIN_NOTIONAL, HL_PERPS_DECIMALS
from shared_tools.book.venues import taker_fee
from shared_tools.clock import ENV_NOW, parse_now
from shared_tools.market import sim_model
from shared_tools.market.common import TIMEFRAMES

__all__ = [
    "MAKER_FEE",
    "TAKER_FEE",
    "Account",
    "Clock",
    "LocalExchange",
    "Order",
    "VenueError",
    "round_px",
]

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


def _num(x: float, decimals: int = 8) -> str:
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


def _decimal(text: Any) -> Decimal | None:
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
            "limitPx": _num(self.limit_px),
            "sz": _num(self.sz),
            "oid": self.oid,
            "timestamp": self.timestamp,
            "origSz": _num(self.orig_sz),
            "reduceOnly": self.reduce_only,
            "isTrigger": self.trigger_px is not None and self.tif is None,
            "triggerPx": _num(self.trigger_px or 0.0),
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


def _hash(*parts: Any) -> str:
    return "0x" + hashlib.sha256(repr(parts).encode()).hexdigest()


class LocalExchange:
    """The venue's whole state behind one lock: market, accounts, orders, agents, nonces."""

    def __init__(
        self,
        seed: int | None = None,
        initial_usd: float = 10_000.0,
        clock: Clock | None = None,
        faults: Faults | None = None,
    ) -> None:
        self.seed = sim_model.seed_from_env() if seed is None else int(seed)
        self.initial_usd = float(initial_usd)
        self.clock = clock or Clock()
        self.faults = faults or Faults()
        self.coins: list[str] = list(HL_ASSETS)
        self.accounts: dict[str, Account] = {}
        self.agents: dict[str, str] = {}  # agent address -> account address
        self.nonces: dict[str, int] = {}  # signer -> last accepted nonce
        self.orders: dict[int, Order] = {}
        self._next_oid = 1
        self._next_tid = 1
        self._lock = threading.RLock()
        self._last_ms = self.clock.now_ms()

    # ---- market ------------------------------------------------------------------------
    def sz_decimals(self, coin: str) -> int:
        return HL_ASSETS[coin][0]

    def max_leverage(self, coin: str) -> float:
        return HL_ASSETS[coin][1]

    def mid(self, coin: str, ms: int | None = None) -> float:
        """The simulated mid at ``ms`` (default now), rounded as a venue price."""
        t = self.clock.now_ms() if ms is None else ms
        raw = sim_model.price(coin, t / 1000.0, self.seed)
        return round_px(raw, self.sz_decimals(coin))

    def funding_rate(self, coin: str, ms: int) -> float:
        return sim_model.funding_rate(coin, ms / 1000.0, self.seed)

    # ---- accounts ----------------------------------------------------------------------
    def add_account(self, address: str, usd: float | None = None) -> Account:
        """Create (or top up) an account with a USDC deposit, as a ledger entry."""
        addr = address.lower()
        amount = self.initial_usd if usd is None else float(usd)
        with self._lock:
            acct = self.accounts.get(addr)
            if acct is None:
                acct = self.accounts[addr] = Account(addr, 0.0)
            acct.usdc += amount
            now = self.clock.now_ms()
            acct.ledger.append(
                {
                    "time": now,
                    "hash": _hash("deposit", addr, now, len(acct.ledger)),
                    "delta": {"type": "deposit", "usdc": _num(amount, 6)},
                }
            )
            return acct

    def add_agent(self, account: str, agent: str) -> None:
        """Approve ``agent`` (an API wallet) to sign for ``account``."""
        acct = account.lower()
        with self._lock:
            if acct not in self.accounts:
                raise VenueError(f"unknown account {account}", 400)
            self.agents[agent.lower()] = acct

    def _account(self, user: Any) -> Account | None:
        return self.accounts.get(str(user or "").lower())

    def _leverage(self, acct: Account, coin: str) -> tuple[int, bool]:
        default = int(min(DEFAULT_LEVERAGE, self.max_leverage(coin)))
        return acct.leverage.get(coin, (default, True))

    def _summary(self, acct: Account, now: int) -> dict[str, float]:
        upnl = ntl = margin = maint = 0.0
        for coin, pos in acct.positions.items():
            if pos.szi == 0:
                continue
            mark = self.mid(coin, now)
            upnl += pos.szi * (mark - pos.entry_px)
            value = abs(pos.szi) * mark
            ntl += value
            margin += value / self._leverage(acct, coin)[0]
            maint += value / (2.0 * self.max_leverage(coin))
        value = acct.usdc + upnl
        return {"value": value, "ntl": ntl, "margin": margin, "maint": maint}

    # ---- clock-driven events -----------------------------------------------------------
    def advance(self) -> int:
        """Bring the venue up to the clock: funding hours and resting orders crossed."""
        with self._lock:
            now = self.clock.now_ms()
            last = self._last_ms
            if now <= last:
                return now
            first = max(last, now - MAX_STEPS * STEP_MS)
            points = list(range((first // STEP_MS + 1) * STEP_MS, now, STEP_MS)) + [now]
            prev = last
            for t in points:
                for hour in range((prev // HOUR_MS + 1) * HOUR_MS, t + 1, HOUR_MS):
                    self._pay_funding(hour)
                self._check_resting(t)
                self._liquidate(t)
                prev = t
            self._last_ms = now
            return now

    def _pay_funding(self, hour_ms: int) -> None:
        for acct in self.accounts.values():
            for coin, pos in acct.positions.items():
                if pos.szi == 0:
                    continue
                rate = self.funding_rate(coin, hour_ms)
                px = self.mid(coin, hour_ms)
                usdc = -pos.szi * px * rate  # a positive rate: longs pay shorts
                acct.usdc += usdc
                pos.funding_since_open += usdc
                pos.funding_all_time += usdc
                acct.funding.append(
                    {
                        "time": hour_ms,
                        "hash": "0x" + "0" * 64,
                        "delta": {
                            "type": "funding",
                            "coin": coin,
                            "usdc": _num(usdc, 6),
                            "szi": _num(pos.szi),
                            "fundingRate": _num(rate, 10),
                            "nSamples": None,
                        },
                    }
                )

    def _check_resting(self, t: int) -> None:
        for order in sorted(self.orders.values(), key=lambda o: o.oid):
            if order.status != "open":
                continue
            mid = self.mid(order.coin, t)
            acct = self.accounts[order.account]
            if order.tif is None:  # a trigger not yet fired
                if not self._triggered(order, mid):
                    continue
                order.status_ts = t
                if order.is_market:
                    self._fill_order(acct, order, order.sz, mid, t, crossed=True)
                    if order.status == "open":
                        order.status = "triggered"
                    continue
                order.tif = "Gtc"  # a limit trigger becomes a resting limit
                if self._marketable(order, mid):
                    self._fill_order(acct, order, order.sz, mid, t, crossed=True)
                continue
            if (order.is_buy and mid <= order.limit_px) or (
                not order.is_buy and mid >= order.limit_px
            ):
                if not order.reduce_only and not self._margin_ok(acct, order, t):
                    order.status, order.status_ts = "marginCanceled", t
                    continue
                self._fill_order(acct, order, order.sz, order.limit_px, t, crossed=False)

    def _margin_ok(self, acct: Account, order: Order, t: int) -> bool:
        """Whether the account's free margin covers the part of ``order`` that opens."""
        s = self._summary(acct, t)
        opening = max(0.0, order.sz - self._reducible(acct, order.coin, order.is_buy))
        need = opening * self.mid(order.coin, t) / self._leverage(acct, order.coin)[0]
        return need <= s["value"] - s["margin"] + 1e-9

    def _liquidate(self, t: int) -> None:
        """Close every position of an account at or below maintenance margin, at the mid."""
        for acct in self.accounts.values():
            held = [(c, p) for c, p in acct.positions.items() if p.szi != 0]
            if not held:
                continue
            s = self._summary(acct, t)
            if s["value"] > s["maint"]:
                continue
            for coin, pos in held:
                mark = self.mid(coin, t)
                order = self._new_order(acct, coin, pos.szi < 0, abs(pos.szi), mark, "Ioc", t)
                order.reduce_only = True
                self._fill_order(acct, order, order.sz, mark, t, crossed=True)
                acct.fills[-1]["liquidation"] = {
                    "liquidatedUser": acct.address,
                    "markPx": _num(mark),
                    "method": "market",
                }
            for order in self.orders.values():  # a liquidated account's orders go too
                if order.account == acct.address and order.status == "open":
                    order.status, order.status_ts = "canceled", t

    def _new_order(
        self, acct: Account, coin: str, is_buy: bool, sz: float, px: float, tif: str, t: int
    ) -> Order:
        order = Order(
            oid=self._next_oid,
            account=acct.address,
            coin=coin,
            asset=self.coins.index(coin),
            is_buy=is_buy,
            sz=sz,
            orig_sz=sz,
            limit_px=px,
            tif=tif,
            reduce_only=False,
            timestamp=t,
            status_ts=t,
        )
        self._next_oid += 1
        self.orders[order.oid] = order
        return order

    @staticmethod
    def _triggered(order: Order, mid: float) -> bool:
        trig = float(order.trigger_px or 0.0)
        # a stop sells when the mid falls to it (buys when it rises); a take-profit the reverse
        falls = (order.tpsl == "sl") != order.is_buy
        return mid <= trig if falls else mid >= trig

    @staticmethod
    def _marketable(order: Order, mid: float) -> bool:
        return order.limit_px >= mid if order.is_buy else order.limit_px <= mid

    # ---- fills -------------------------------------------------------------------------
    def _reducible(self, acct: Account, coin: str, is_buy: bool) -> float:
        pos = acct.positions.get(coin)
        szi = pos.szi if pos else 0.0
        if (is_buy and szi < 0) or (not is_buy and szi > 0):
            return abs(szi)
        return 0.0

    def _fill_order(
        self,
        acct: Account,
        order: Order,
        sz: float,
        px: float,
        t: int,
        *,
        crossed: bool,
        late_s: float = 0.0,
    ) -> float:
        """Fill up to ``sz`` of ``order`` at ``px``; returns the size filled (0: cancelled)."""
        if order.reduce_only:
            sz = min(sz, self._reducible(acct, order.coin, order.is_buy))
            if sz <= 0:
                order.status, order.status_ts = "reduceOnlyCanceled", t
                return 0.0
        sz = round(sz, self.sz_decimals(order.coin))
        if sz <= 0:
            return 0.0
        self._book_fill(acct, order, sz, px, t, crossed=crossed, late_s=late_s)
        total = order.filled_sz + sz
        order.avg_px = (order.avg_px * order.filled_sz + px * sz) / total
        order.filled_sz = total
        order.sz = round(order.sz - sz, self.sz_decimals(order.coin))
        if order.sz <= 0:
            order.sz = 0.0
            order.status, order.status_ts = "filled", t
        return sz

    def _book_fill(
        self,
        acct: Account,
        order: Order,
        sz: float,
        px: float,
        t: int,
        *,
        crossed: bool,
        late_s: float,
    ) -> None:
        pos = acct.positions.setdefault(order.coin, Position())
        start = pos.szi
        signed = sz if order.is_buy else -sz
        closing = min(abs(start), sz) if start * signed < 0 else 0.0
        closed_pnl = closing * (px - pos.entry_px) * (1.0 if start > 0 else -1.0)
        new = round(start + signed, self.sz_decimals(order.coin))
        if start == 0 or start * signed > 0:  # open or add: weighted entry
            pos.entry_px = (abs(start) * pos.entry_px + sz * px) / abs(new)
        elif new * start < 0:  # flipped: the rest opens at this price
            pos.entry_px = px
            pos.funding_since_open = 0.0
        if new == 0:
            pos.entry_px = 0.0
            pos.funding_since_open = 0.0
        pos.szi = new
        fee = sz * px * (TAKER_FEE if crossed else MAKER_FEE)
        acct.usdc += closed_pnl - fee
        tid = self._next_tid
        self._next_tid += 1
        fill: dict[str, Any] = {
            "coin": order.coin,
            "px": _num(px),
            "sz": _num(sz),
            "side": "B" if order.is_buy else "A",
            "time": t,
            "startPosition": _num(start),
            "dir": _direction(start, new),
            "closedPnl": _num(closed_pnl, 6),
            "hash": _hash("fill", order.oid, tid),
            "oid": order.oid,
            "crossed": crossed,
            "fee": _num(fee, 6),
            "tid": tid,
            "feeToken": "USDC",
            "_visible_at": t + int(late_s * 1000),
        }
        if order.cloid:
            fill["cloid"] = order.cloid
        acct.fills.append(fill)

    # ---- /info -------------------------------------------------------------------------
    def info(self, body: dict[str, Any]) -> Any:
        """Answer one ``POST /info`` request (after advancing the venue)."""
        kind = body.get("type")
        handler = _INFO.get(str(kind))
        if handler is None:
            raise VenueError(
                "Failed to deserialize the JSON body into the target type: unknown variant "
                f"`{kind}` (the local venue answers: {', '.join(sorted(_INFO))})"
            )
        with self._lock:
            now = self.advance()
            return handler(self, body, now)

    def _meta(self) -> dict[str, Any]:
        return {
            "universe": [
                {"name": c, "szDecimals": sz, "maxLeverage": int(lev), "marginTableId": int(lev)}
                for c, (sz, lev) in HL_ASSETS.items()
            ]
        }

    def _info_meta(self, body: dict[str, Any], now: int) -> Any:
        return self._meta()

    def _info_spot_meta(self, body: dict[str, Any], now: int) -> Any:
        usdc = {"name": "USDC", "szDecimals": 8, "weiDecimals": 8, "index": 0, "isCanonical": True}
        return {"universe": [], "tokens": [usdc]}

    def _info_meta_ctxs(self, body: dict[str, Any], now: int) -> Any:
        ctxs = []
        for coin in self.coins:
            mid = _num(self.mid(coin, now))
            ctxs.append(
                {
                    "funding": _num(self.funding_rate(coin, now), 10),
                    "openInterest": "0.0",
                    "prevDayPx": _num(self.mid(coin, now - 24 * HOUR_MS)),
                    "dayNtlVlm": "0.0",
                    "premium": "0.0",
                    "oraclePx": mid,
                    "markPx": mid,
                    "midPx": mid,
                    "impactPxs": [mid, mid],
                }
            )
        return [self._meta(), ctxs]

    def _info_all_mids(self, body: dict[str, Any], now: int) -> Any:
        return {coin: _num(self.mid(coin, now)) for coin in self.coins}

    def _info_clearinghouse(self, body: dict[str, Any], now: int) -> Any:
        acct = self._account(body.get("user"))
        if acct is None:
            acct = Account("", 0.0)
        s = self._summary(acct, now)
        positions = []
        for coin, pos in acct.positions.items():
            if pos.szi == 0:
                continue
            mark = self.mid(coin, now)
            lev, cross = self._leverage(acct, coin)
            value = abs(pos.szi) * mark
            upnl = pos.szi * (mark - pos.entry_px)
            margin = value / lev
            positions.append(
                {
                    "type": "oneWay",
                    "position": {
                        "coin": coin,
                        "szi": _num(pos.szi),
                        "entryPx": _num(pos.entry_px),
                        "positionValue": _num(value, 6),
                        "unrealizedPnl": _num(upnl, 6),
                        "returnOnEquity": _num(upnl / margin if margin else 0.0, 6),
                        "liquidationPx": None,
                        "marginUsed": _num(margin, 6),
                        "maxLeverage": int(self.max_leverage(coin)),
                        "leverage": {"type": "cross" if cross else "isolated", "value": lev},
                        "cumFunding": {
                            "allTime": _num(-pos.funding_all_time, 6),
                            "sinceOpen": _num(-pos.funding_since_open, 6),
                            "sinceChange": _num(-pos.funding_since_open, 6),
                        },
                    },
                }
            )
        summary = {
            "accountValue": _num(s["value"], 6),
            "totalNtlPos": _num(s["ntl"], 6),
            "totalRawUsd": _num(acct.usdc, 6),
            "totalMarginUsed": _num(s["margin"], 6),
        }
        return {
            "marginSummary": summary,
            "crossMarginSummary": dict(summary),
            "crossMaintenanceMarginUsed": _num(s["maint"], 6),
            "withdrawable": _num(max(0.0, s["value"] - s["margin"]), 6),
            "assetPositions": positions,
            "time": now,
        }

    def _open_orders(self, body: dict[str, Any]) -> list[Order]:
        user = str(body.get("user") or "").lower()
        return [o for o in self.orders.values() if o.account == user and o.status == "open"]

    def _info_open_orders(self, body: dict[str, Any], now: int) -> Any:
        return [o.wire() for o in sorted(self._open_orders(body), key=lambda o: -o.oid)]

    def _visible_fills(self, body: dict[str, Any], now: int) -> list[dict[str, Any]]:
        acct = self._account(body.get("user"))
        if acct is None:
            return []
        return [
            {k: v for k, v in f.items() if k != "_visible_at"}
            for f in acct.fills
            if f["_visible_at"] <= now
        ]

    def _info_user_fills(self, body: dict[str, Any], now: int) -> Any:
        return list(reversed(self._visible_fills(body, now)))[:MAX_ANSWER]

    @staticmethod
    def _window(rows: list[dict[str, Any]], body: dict[str, Any], now: int) -> list[dict[str, Any]]:
        start = int(body.get("startTime") or 0)
        end = body.get("endTime")
        stop = now if end is None else int(end)
        return [r for r in rows if start <= int(r["time"]) <= stop][:MAX_ANSWER]

    def _info_user_fills_by_time(self, body: dict[str, Any], now: int) -> Any:
        return self._window(self._visible_fills(body, now), body, now)

    def _info_user_funding(self, body: dict[str, Any], now: int) -> Any:
        acct = self._account(body.get("user"))
        return self._window(acct.funding if acct else [], body, now)

    def _info_ledger(self, body: dict[str, Any], now: int) -> Any:
        acct = self._account(body.get("user"))
        return self._window(acct.ledger if acct else [], body, now)

    def _coin(self, body: dict[str, Any], key: str = "coin") -> str:
        coin = str(body.get(key) or "")
        if coin not in HL_ASSETS:
            raise VenueError(f"unknown coin {coin!r} (listed: {', '.join(self.coins)})")
        return coin

    def _info_funding_history(self, body: dict[str, Any], now: int) -> Any:
        coin = self._coin(body)
        start = int(body.get("startTime") or 0)
        end = min(int(body.get("endTime") or now), now)
        first = -(-start // HOUR_MS) * HOUR_MS  # the first funding hour at or after start
        hours = itertools.islice(range(first, end + 1, HOUR_MS), 500)
        return [
            {
                "coin": coin,
                "fundingRate": _num(self.funding_rate(coin, t), 10),
                "premium": "0.0",
                "time": t,
            }
            for t in hours
        ]

    def _info_candles(self, body: dict[str, Any], now: int) -> Any:
        req = body.get("req") or {}
        coin = self._coin(req)
        interval = str(req.get("interval"))
        if interval not in TIMEFRAMES:
            raise VenueError(f"unknown candle interval {interval!r}")
        tf_ms = TIMEFRAMES[interval] * 1000
        start = int(req.get("startTime") or 0)
        end = min(int(req.get("endTime") or now), now)
        last_open = end // tf_ms * tf_ms
        first_open = max(start // tf_ms * tf_ms, last_open - 4999 * tf_ms)
        if last_open < first_open:
            return []
        from shared_tools.market.simulated import bars  # lazy: numpy/pandas only for candles

        n = (last_open - first_open) // tf_ms + 1
        frame = bars(coin, tf_ms // 1000, last_open // 1000, n, self.seed)
        out = []
        for i, (o, h, lo, c, v) in enumerate(
            frame[["open", "high", "low", "close", "volume"]].itertuples(index=False)
        ):
            t = first_open + i * tf_ms
            if t + tf_ms > now:  # the bar in progress: only the path up to now
                c = sim_model.price(coin, now / 1000.0, self.seed)
                h, lo = max(o, c), min(o, c)
                v = v * (now - t) / tf_ms
            out.append(
                {
                    "t": t,
                    "T": t + tf_ms - 1,
                    "s": coin,
                    "i": interval,
                    "o": _num(o, 6),
                    "c": _num(c, 6),
                    "h": _num(h, 6),
                    "l": _num(lo, 6),
                    "v": _num(v, 4),
                    "n": max(1, int(math.sqrt(max(v, 0.0)) * 10)),
                }
            )
        return out

    def _info_order_status(self, body: dict[str, Any], now: int) -> Any:
        user = str(body.get("user") or "").lower()
        ref = body.get("oid")
        for order in self.orders.values():
            if order.account != user:
                continue
            if order.oid == ref or (isinstance(ref, str) and order.cloid == ref.lower()):
                return {
                    "status": "order",
                    "order": {
                        "order": order.wire(),
                        "status": order.status,
                        "statusTimestamp": order.status_ts or order.timestamp,
                    },
                }
        return {"status": "unknownOid"}

    # ---- /exchange ---------------------------------------------------------------------
    def signer_account(self, body: dict[str, Any]) -> tuple[str, str]:
        """(signer, account) of a signed action, or VenueError in the venue's words."""
        from hyperliquid.utils.signing import recover_agent_or_user_from_l1_action

        action, sig, nonce = body.get("action"), body.get("signature"), body.get("nonce")
        if not isinstance(action, dict) or not isinstance(sig, dict) or not isinstance(nonce, int):
            raise VenueError("Failed to deserialize the JSON body: action, nonce, signature")
        vault = body.get("vaultAddress")
        if vault is not None:
            raise VenueError("Vault trading is not supported by the local venue", 422)
        try:
            signer = recover_agent_or_user_from_l1_action(
                action, sig, vault, nonce, body.get("expiresAfter"), IS_MAINNET
            ).lower()
        except Exception as exc:  # a malformed signature recovers nothing
            raise _Refused(f"Invalid signature: {exc}") from exc
        account = self.agents.get(signer) or (signer if signer in self.accounts else None)
        if account is None:
            raise _Refused(f"User or API Wallet {signer} does not exist.")
        last = self.nonces.get(signer)
        if last is not None and nonce <= last:
            raise _Refused(f"Invalid nonce: duplicate nonce {nonce} (last used {last})")
        expires = body.get("expiresAfter")
        if isinstance(expires, int) and expires < self.clock.now_ms():
            raise _Refused("Action expired")
        self.nonces[signer] = nonce
        return signer, account

    def exchange(self, body: dict[str, Any]) -> dict[str, Any]:
        """Answer one ``POST /exchange`` request: verify the signature, then act."""
        with self._lock:
            now = self.advance()
            try:
                _, user = self.signer_account(body)
            except _Refused as exc:
                return {"status": "err", "response": str(exc)}
            action = body["action"]
            kind = action.get("type")
            acct = self.accounts[user]
            if kind == "order":
                statuses = [self._place(acct, w, now) for w in action.get("orders") or []]
                return _ok("order", statuses)
            if kind == "cancel":
                cancels = action.get("cancels") or []
                return _ok(
                    "cancel", [self._cancel(acct, c.get("a"), c.get("o"), None) for c in cancels]
                )
            if kind == "cancelByCloid":
                cancels = action.get("cancels") or []
                return _ok(
                    "cancel",
                    [self._cancel(acct, c.get("asset"), None, c.get("cloid")) for c in cancels],
                )
            if kind == "updateLeverage":
                return self._update_leverage(acct, action)
            return {"status": "err", "response": f"Unsupported action type {kind!r} (local venue)"}

    def _asset_coin(self, asset: Any) -> str | None:
        if isinstance(asset, int) and 0 <= asset < len(self.coins):
            return self.coins[asset]
        return None

    def _update_leverage(self, acct: Account, action: dict[str, Any]) -> dict[str, Any]:
        coin = self._asset_coin(action.get("asset"))
        lev = action.get("leverage")
        if coin is None:
            return {"status": "err", "response": f"Unknown asset {action.get('asset')}"}
        if not isinstance(lev, int) or lev < 1 or lev > self.max_leverage(coin):
            return {"status": "err", "response": "Invalid leverage value"}
        acct.leverage[coin] = (lev, bool(action.get("isCross", True)))
        return {"status": "ok", "response": {"type": "default"}}

    def _cancel(self, acct: Account, asset: Any, oid: Any, cloid: Any) -> Any:
        for order in self.orders.values():
            if order.account != acct.address or order.asset != asset or order.status != "open":
                continue
            if (oid is not None and order.oid == oid) or (
                cloid is not None and order.cloid == str(cloid).lower()
            ):
                order.status, order.status_ts = "canceled", self.clock.now_ms()
                return "success"
        return {"error": f"Order was never placed, already canceled, or filled. asset={asset}"}

    def _place(self, acct: Account, wire: dict[str, Any], now: int) -> dict[str, Any]:
        asset = wire.get("a")
        coin = self._asset_coin(asset)
        if coin is None:
            return {"error": f"Order has invalid asset. asset={asset}"}
        szd = self.sz_decimals(coin)
        size, limit = _decimal(wire.get("s")), _decimal(wire.get("p"))
        if size is None or not size_ok(size, szd):
            return {"error": f"Order has invalid size. asset={asset}"}
        if limit is None or not price_ok(limit, szd):
            return {"error": f"Order has invalid price. asset={asset}"}
        is_buy, reduce_only = bool(wire.get("b")), bool(wire.get("r"))
        cloid = str(wire["c"]).lower() if wire.get("c") else None
        if cloid and any(
            o.cloid == cloid and o.account == acct.address for o in self.orders.values()
        ):
            return {"error": f"Duplicate cloid. asset={asset}"}
        otype = wire.get("t") or {}
        trigger = otype.get("trigger") if isinstance(otype, dict) else None
        tif = None
        trigger_px = None
        if trigger:
            tpx = _decimal(trigger.get("triggerPx"))
            if tpx is None or not price_ok(tpx, szd):
                return {"error": f"Order has invalid trigger price. asset={asset}"}
            trigger_px = float(tpx)
            if trigger.get("tpsl") not in ("tp", "sl"):
                return {"error": f"Order has invalid tpsl. asset={asset}"}
        else:
            tif = str((otype.get("limit") or {}).get("tif", "")) if isinstance(otype, dict) else ""
            if tif not in ("Gtc", "Alo", "Ioc"):
                return {"error": f"Order has invalid tif. asset={asset}"}
        sz, px = float(size), float(limit)
        mid = self.mid(coin, now)
        if self.faults.take("order", frozenset({"reject"})) is not None:
            return {"error": "Order rejected by the local venue (fault)."}
        if not reduce_only and sz * px < HL_MIN_NOTIONAL:
            return {
                "error": f"Order must have minimum value of ${HL_MIN_NOTIONAL:g}. asset={asset}"
            }
        if reduce_only and not trigger and self._reducible(acct, coin, is_buy) <= 0:
            return {"error": f"Reduce only order would increase position. asset={asset}"}
        if not reduce_only:
            s = self._summary(acct, now)
            opening = max(0.0, sz - self._reducible(acct, coin, is_buy))
            need = opening * mid / self._leverage(acct, coin)[0]
            if need > s["value"] - s["margin"] + 1e-9:
                return {"error": f"Insufficient margin to place order. asset={asset}"}
        order = Order(
            oid=self._next_oid,
            account=acct.address,
            coin=coin,
            asset=self.coins.index(coin),
            is_buy=is_buy,
            sz=sz,
            orig_sz=sz,
            limit_px=px,
            tif=tif,
            reduce_only=reduce_only,
            timestamp=now,
            cloid=cloid,
            trigger_px=trigger_px,
            is_market=bool(trigger and trigger.get("isMarket")),
            tpsl=trigger.get("tpsl") if trigger else None,
            status_ts=now,
        )
        self._next_oid += 1
        if tif == "Alo" and self._marketable(order, mid):
            return {
                "error": "Post only order would have immediately matched, "
                f"bbo was {_num(mid)}@{_num(mid)}. asset={asset}"
            }
        self.orders[order.oid] = order
        if tif is None:  # a trigger rests until the mid crosses it
            self._check_one_trigger(acct, order, mid, now)
            return self._status(order)
        if not self._marketable(order, mid):
            if tif == "Ioc":
                order.status = "canceled"
                return {
                    "error": "Order could not immediately match against any resting orders. "
                    f"asset={asset}"
                }
            return self._status(order)
        partial = self.faults.take("order", frozenset({"partial"}))
        late = self.faults.take("order", frozenset({"late_fill"}))
        want = sz * float(partial.params.get("fraction", 0.5)) if partial else sz
        late_s = float(late.params.get("delay_s", 10.0)) if late else 0.0
        filled = self._fill_order(acct, order, want, mid, now, crossed=True, late_s=late_s)
        if tif == "Ioc" and order.status == "open":  # an IOC's unfilled rest is cancelled
            order.status = "canceled"
        if filled <= 0:
            return {"error": f"Reduce only order would increase position. asset={asset}"}
        out: dict[str, Any] = {
            "filled": {"totalSz": _num(filled), "avgPx": _num(mid), "oid": order.oid}
        }
        if cloid:
            out["filled"]["cloid"] = cloid
        return out

    def _check_one_trigger(self, acct: Account, order: Order, mid: float, now: int) -> None:
        if self._triggered(order, mid):
            self._check_resting(now)

    @staticmethod
    def _status(order: Order) -> dict[str, Any]:
        if order.status not in ("open", "filled", "triggered"):
            return {"error": f"Order was {order.status}. asset={order.asset}"}
        if order.status == "filled":
            filled = {
                "totalSz": _num(order.filled_sz),
                "avgPx": _num(order.avg_px),
                "oid": order.oid,
            }
            return {"filled": filled}
        resting: dict[str, Any] = {"oid": order.oid}
        if order.cloid:
            resting["cloid"] = order.cloid
        return {"resting": resting}

    def snapshot(self) -> dict[str, Any]:
        """Venue-wide state for ``/control`` (debugging and tests)."""
        with self._lock:
            now = self.advance()
            return {
                "now_ms": now,
                "seed": self.seed,
                "accounts": sorted(self.accounts),
                "agents": dict(self.agents),
                "mids": self._info_all_mids({}, now),
                "faults": self.faults.armed(),
            }


class _Refused(Exception):
    """A signed action refused in the venue's style (HTTP 200, ``status: err``)."""


def _ok(kind: str, statuses: list[Any]) -> dict[str, Any]:
    return {"status": "ok", "response": {"type": kind, "data": {"statuses": statuses}}}


def _direction(start: float, new: float) -> str:
    if start >= 0 and new >= 0:
        return "Open Long" if new > start else "Close Long"
    if start <= 0 and new <= 0:
        return "Open Short" if new < start else "Close Short"
    return "Long > Short" if start > 0 else "Short > Long"


_INFO = {
    "meta": LocalExchange._info_meta,
    "spotMeta": LocalExchange._info_spot_meta,
    "metaAndAssetCtxs": LocalExchange._info_meta_ctxs,
    "allMids": LocalExchange._info_all_mids,
    "clearinghouseState": LocalExchange._info_clearinghouse,
    "openOrders": LocalExchange._info_open_orders,
    "frontendOpenOrders": LocalExchange._info_open_orders,
    "userFills": LocalExchange._info_user_fills,
    "userFillsByTime": LocalExchange._info_user_fills_by_time,
    "userFunding": LocalExchange._info_user_funding,
    "userNonFundingLedgerUpdates": LocalExchange._info_ledger,
    "candleSnapshot": LocalExchange._info_candles,
    "fundingHistory": LocalExchange._info_funding_history,
    "orderStatus": LocalExchange._info_order_status,
}
