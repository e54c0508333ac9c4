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

import threading
from typing import Any

from platforms.hyperliquid.localvenue.actions import ActionsMixin
from platforms.hyperliquid.localvenue.faults import Faults
from platforms.hyperliquid.localvenue.info import InfoMixin
from platforms.hyperliquid.localvenue.model import (
    DEFAULT_LEVERAGE,
    HOUR_MS,
    MAKER_FEE,
    MAX_STEPS,
    STEP_MS,
    TAKER_FEE,
    Account,
    Clock,
    Order,
    Position,
    VenueError,
    direction,
    fill_hash,
    round_px,
    wire_num,
)
from shared_tools.book.instruments import HL_ASSETS
from shared_tools.market import sim_model

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


class LocalExchange(InfoMixin, ActionsMixin):
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
                    "hash": fill_hash("deposit", addr, now, len(acct.ledger)),
                    "delta": {"type": "deposit", "usdc": wire_num(amount, 6)},
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
                            "usdc": wire_num(usdc, 6),
                            "szi": wire_num(pos.szi),
                            "fundingRate": wire_num(rate, 10),
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
                order = self._new_order(
                    acct, coin, pos.szi < 0, abs(pos.szi), mark, "Ioc", t, reduce_only=False
                )
                order.reduce_only = True
                self._fill_order(acct, order, order.sz, mark, t, crossed=True)
                acct.fills[-1]["liquidation"] = {
                    "liquidatedUser": acct.address,
                    "markPx": wire_num(mark),
                    "method": "market",
                }
            for order in self.orders.values():  # a liquidated account's orders go too
                if order.account == acct.address and order.status == "open":
                    order.status, order.status_ts = "canceled", t

    def _new_order(
        self,
        acct: Account,
        coin: str,
        is_buy: bool,
        sz: float,
        px: float,
        tif: str | None,
        t: int,
        *,
        store: bool = True,
        **extra: Any,
    ) -> Order:
        """A new order with the next oid (``store`` False: the caller books it once accepted)."""
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
            timestamp=t,
            status_ts=t,
            **extra,
        )
        self._next_oid += 1
        if store:
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
            "px": wire_num(px),
            "sz": wire_num(sz),
            "side": "B" if order.is_buy else "A",
            "time": t,
            "startPosition": wire_num(start),
            "dir": direction(start, new),
            "closedPnl": wire_num(closed_pnl, 6),
            "hash": fill_hash("fill", order.oid, tid),
            "oid": order.oid,
            "crossed": crossed,
            "fee": wire_num(fee, 6),
            "tid": tid,
            "feeToken": "USDC",
            "_visible_at": t + int(late_s * 1000),
        }
        if order.cloid:
            fill["cloid"] = order.cloid
        acct.fills.append(fill)

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
