"""The local venue's read-only API (``POST /info``), answered from the exchange's accounts.

A mixin of :class:`.exchange.LocalExchange`: each ``_info_<type>`` handler reads the accounts,
orders, fills and ledgers the matching engine keeps, in the shapes the SDK's ``Info`` expects.
"""

from __future__ import annotations

import itertools
import math
from typing import Any

from platforms.hyperliquid.localvenue.model import (
    HOUR_MS,
    MAX_ANSWER,
    Account,
    Order,
    VenueError,
    wire_num,
)
from shared_tools.book.instruments import HL_ASSETS
from shared_tools.market import sim_model
from shared_tools.market.common import TIMEFRAMES

__all__ = ["InfoMixin"]


class InfoMixin:
    """``POST /info`` handlers; the state they read is :class:`.exchange.LocalExchange`'s."""

    _lock: Any
    accounts: dict[str, Account]

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
            mid = wire_num(self.mid(coin, now))
            ctxs.append(
                {
                    "funding": wire_num(self.funding_rate(coin, now), 10),
                    "openInterest": "0.0",
                    "prevDayPx": wire_num(self.mid(coin, now - 24 * HOUR_MS)),
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
        return {coin: wire_num(self.mid(coin, now)) for coin in self.coins}

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
                        "szi": wire_num(pos.szi),
                        "entryPx": wire_num(pos.entry_px),
                        "positionValue": wire_num(value, 6),
                        "unrealizedPnl": wire_num(upnl, 6),
                        "returnOnEquity": wire_num(upnl / margin if margin else 0.0, 6),
                        "liquidationPx": None,
                        "marginUsed": wire_num(margin, 6),
                        "maxLeverage": int(self.max_leverage(coin)),
                        "leverage": {"type": "cross" if cross else "isolated", "value": lev},
                        "cumFunding": {
                            "allTime": wire_num(-pos.funding_all_time, 6),
                            "sinceOpen": wire_num(-pos.funding_since_open, 6),
                            "sinceChange": wire_num(-pos.funding_since_open, 6),
                        },
                    },
                }
            )
        summary = {
            "accountValue": wire_num(s["value"], 6),
            "totalNtlPos": wire_num(s["ntl"], 6),
            "totalRawUsd": wire_num(acct.usdc, 6),
            "totalMarginUsed": wire_num(s["margin"], 6),
        }
        return {
            "marginSummary": summary,
            "crossMarginSummary": dict(summary),
            "crossMaintenanceMarginUsed": wire_num(s["maint"], 6),
            "withdrawable": wire_num(max(0.0, s["value"] - s["margin"]), 6),
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
                "fundingRate": wire_num(self.funding_rate(coin, t), 10),
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
                    "o": wire_num(o, 6),
                    "c": wire_num(c, 6),
                    "h": wire_num(h, 6),
                    "l": wire_num(lo, 6),
                    "v": wire_num(v, 4),
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


_INFO = {
    "meta": InfoMixin._info_meta,
    "spotMeta": InfoMixin._info_spot_meta,
    "metaAndAssetCtxs": InfoMixin._info_meta_ctxs,
    "allMids": InfoMixin._info_all_mids,
    "clearinghouseState": InfoMixin._info_clearinghouse,
    "openOrders": InfoMixin._info_open_orders,
    "frontendOpenOrders": InfoMixin._info_open_orders,
    "userFills": InfoMixin._info_user_fills,
    "userFillsByTime": InfoMixin._info_user_fills_by_time,
    "userFunding": InfoMixin._info_user_funding,
    "userNonFundingLedgerUpdates": InfoMixin._info_ledger,
    "candleSnapshot": InfoMixin._info_candles,
    "fundingHistory": InfoMixin._info_funding_history,
    "orderStatus": InfoMixin._info_order_status,
}
