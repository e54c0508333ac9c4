"""The local venue's signed actions (``POST /exchange``): orders, cancels, leverage.

A mixin of :class:`.exchange.LocalExchange`: each action's signer is recovered and checked
(the account itself or an agent approved for it; nonces increase per signer) before it touches
an account; orders are rounded and refused as Hyperliquid does, then matched by the exchange.
"""

from __future__ import annotations

from typing import Any

from platforms.hyperliquid.localvenue.model import (
    IS_MAINNET,
    Account,
    Order,
    Refused,
    VenueError,
    as_decimal,
    ok,
    price_ok,
    size_ok,
    wire_num,
)
from shared_tools.book.instruments import HL_MIN_NOTIONAL

__all__ = ["ActionsMixin"]


REJECT_TEXT = "Order rejected by the local venue (fault)."


class ActionsMixin:
    """``POST /exchange`` handlers; the state they change is :class:`.exchange.LocalExchange`'s."""

    _lock: Any
    accounts: dict[str, Account]

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
            raise Refused(f"Invalid signature: {exc}") from exc
        account = self.agents.get(signer) or (signer if signer in self.accounts else None)
        if account is None:
            raise Refused(f"User or API Wallet {signer} does not exist.")
        last = self.nonces.get(signer)
        if last is not None and nonce <= last:
            raise Refused(f"Invalid nonce: duplicate nonce {nonce} (last used {last})")
        expires = body.get("expiresAfter")
        if isinstance(expires, int) and expires < self.clock.now_ms():
            raise Refused("Action expired")
        self.nonces[signer] = nonce
        return signer, account

    def exchange(self, body: dict[str, Any]) -> dict[str, Any]:
        """Answer one ``POST /exchange`` request: verify the signature, then act."""
        with self._lock:
            now = self.advance()
            try:
                _, user = self.signer_account(body)
            except Refused as exc:
                return {"status": "err", "response": str(exc)}
            action = body["action"]
            kind = action.get("type")
            acct = self.accounts[user]
            if kind == "order":
                statuses = [self._place(acct, w, now) for w in action.get("orders") or []]
                return ok("order", statuses)
            if kind == "cancel":
                cancels = action.get("cancels") or []
                return ok(
                    "cancel", [self._cancel(acct, c.get("a"), c.get("o"), None) for c in cancels]
                )
            if kind == "cancelByCloid":
                cancels = action.get("cancels") or []
                return ok(
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
        size, limit = as_decimal(wire.get("s")), as_decimal(wire.get("p"))
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
            tpx = as_decimal(trigger.get("triggerPx"))
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
        refused = self.faults.take("order", frozenset({"reject"}))
        if refused is not None:
            return {"error": str(refused.params.get("error") or REJECT_TEXT)}
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
        order = self._new_order(
            acct,
            coin,
            is_buy,
            sz,
            px,
            tif,
            now,
            store=False,
            reduce_only=reduce_only,
            cloid=cloid,
            trigger_px=trigger_px,
            is_market=bool(trigger and trigger.get("isMarket")),
            tpsl=trigger.get("tpsl") if trigger else None,
        )
        if tif == "Alo" and self._marketable(order, mid):
            return {
                "error": "Post only order would have immediately matched, "
                f"bbo was {wire_num(mid)}@{wire_num(mid)}. asset={asset}"
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
            "filled": {"totalSz": wire_num(filled), "avgPx": wire_num(mid), "oid": order.oid}
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
                "totalSz": wire_num(order.filled_sz),
                "avgPx": wire_num(order.avg_px),
                "oid": order.oid,
            }
            return {"filled": filled}
        resting: dict[str, Any] = {"oid": order.oid}
        if order.cloid:
            resting["cloid"] = order.cloid
        return {"resting": resting}
