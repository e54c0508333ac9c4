"""The execution adapter: hyperliquid-python-sdk's ``Info``/``Exchange`` behind a few primitives.

Why it exists rather than calling the SDK directly (docs/architecture.md, "platforms"):

- one rounding rule: sizes and prices go through the instrument table built from ``meta``
  (:func:`shared_tools.book.instruments.from_hl_asset`): sizes floored to szDecimals (a size
  that floors to zero is an error), prices to 5 significant figures and <= 6 - szDecimals
  decimals. ``meta`` is read once per process;
- one answer rule (:mod:`.outcome`): only ``filled``/``resting`` count as success;
- never twice: when an order carrying a cloid meets a transport failure (timeout, dropped
  connection, HTTP 5xx or 429) the adapter asks ``orderStatus`` by cloid before anything else
  and uses what the venue knows; only an explicit "unknown" leads to one resend with the same
  cloid (the venue refuses a duplicate cloid, a second guard). An order without a cloid is never
  resent.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from platforms.hyperliquid import endpoint
from platforms.hyperliquid.execution import credentials
from platforms.hyperliquid.execution.outcome import Outcome, classify, num, summarize_fills

__all__ = ["HyperliquidExecution", "TransportError", "is_transport_error"]

TIMEOUT_S = 10.0
STATUS_BACKOFF_S = (0.0, 0.25, 0.5, 1.0)  # orderStatus tries after a lost order answer
FILL_TRIES, FILL_DELAY_S = 4, 0.5  # userFillsByTime lag tolerance
STOP_LIMIT_SLIPPAGE = 0.05
_EMPTY_SPOT = {"universe": [], "tokens": []}
_META_CACHE: dict[str, dict] = {}  # base URL -> meta, per process


class TransportError(RuntimeError):
    """The venue could not be asked (or its answer was lost); the text has the cause."""


def is_transport_error(exc: BaseException) -> bool:
    """A failure after which an order's fate is unknown: timeout, drop, HTTP 5xx or 429."""
    import requests
    from hyperliquid.utils.error import ClientError, ServerError

    if isinstance(exc, (requests.RequestException, ServerError, TransportError)):
        return True
    return isinstance(exc, ClientError) and exc.status_code == 429


def is_rate_limited(exc: BaseException) -> bool:
    from hyperliquid.utils.error import ClientError

    return isinstance(exc, ClientError) and exc.status_code == 429


def cause(exc: BaseException) -> str:
    """One line naming a transport failure (never request bodies: they carry signatures)."""
    from hyperliquid.utils.error import ClientError, ServerError

    if isinstance(exc, ClientError):
        return f"HTTP {exc.status_code}: {str(exc.error_message)[:120]}"
    if isinstance(exc, ServerError):
        return f"HTTP {exc.status_code}: {str(exc.message)[:120]}"
    return type(exc).__name__


def _sleep(seconds: float) -> None:
    if seconds > 0:
        time.sleep(seconds)


class HyperliquidExecution:
    """The live account on one API base: reads need the address, orders also the key."""

    def __init__(self, *, trading: bool = True, base_url: str | None = None) -> None:
        from hyperliquid.info import Info

        self.base_url = base_url or endpoint.base_url()
        self.address = credentials.account_address()
        self._wallet = credentials.wallet() if trading else None
        meta = _META_CACHE.get(self.base_url)
        probe = Info(self.base_url, True, meta or {"universe": []}, _EMPTY_SPOT, None, TIMEOUT_S)
        if meta is None:
            meta = probe.meta()
            if not isinstance(meta, dict) or not isinstance(meta.get("universe"), list):
                raise RuntimeError("Hyperliquid answered meta without a universe")
            _META_CACHE[self.base_url] = meta
            probe.set_perp_meta(meta, 0)
        self.meta = meta
        self.info = probe
        self._exchange: Any = None
        self.sleep: Callable[[float], None] = _sleep  # tests may replace it

    # ---- plumbing -------------------------------------------------------------------
    @property
    def exchange(self) -> Any:
        """The signing client, built on first use with the cached meta (no extra requests)."""
        if self._wallet is None:
            raise credentials.CredentialError(
                f"{credentials.ENV_SECRET} is needed for this mode (it places or cancels orders)"
            )
        if self._exchange is None:
            from hyperliquid.exchange import Exchange

            self._exchange = Exchange(
                self._wallet,
                self.base_url,
                meta=self.meta,
                spot_meta=_EMPTY_SPOT,
                account_address=self.address,
                timeout=TIMEOUT_S,
            )
        return self._exchange

    def asset(self, coin: str) -> dict:
        for entry in self.meta["universe"]:
            if entry.get("name") == coin:
                return entry
        raise ValueError(f"unknown coin {coin!r}: not a Hyperliquid perp (e.g. BTC, ETH)")

    def instrument(self, coin: str) -> Any:
        from shared_tools.book.instruments import from_hl_asset

        return from_hl_asset(self.asset(coin))

    def round_size(self, coin: str, sz: float) -> float:
        """``sz`` floored to szDecimals; a size that floors to zero is refused."""
        inst = self.instrument(coin)
        out = inst.round_qty(abs(float(sz)))
        if out <= 0:
            decimals = int(self.asset(coin).get("szDecimals", 0))
            raise ValueError(f"size rounded to zero ({sz:g} {coin} with szDecimals {decimals})")
        return out

    def round_price(self, coin: str, px: float) -> float:
        out = self.instrument(coin).round_price(float(px))
        if out <= 0:
            raise ValueError(f"no valid price for {coin} ({px!r})")
        return out

    @staticmethod
    def cloid(raw: str | None) -> Any:
        if not raw:
            return None
        from hyperliquid.utils.types import Cloid

        text = str(raw).lower()
        if len(text) != 34 or not text.startswith("0x"):
            raise ValueError(f"cloid {raw!r} must be 0x and 32 hex digits")
        int(text[2:], 16)
        return Cloid.from_str(text)

    # ---- reads ----------------------------------------------------------------------
    def mid(self, coin: str) -> float:
        px = num(self.info.all_mids().get(coin))
        if px <= 0:
            raise RuntimeError(f"Hyperliquid has no mid price for {coin}")
        return px

    def user_state(self) -> dict:
        state = self.info.user_state(self.address)
        if not isinstance(state, dict) or "assetPositions" not in state:
            raise RuntimeError("unexpected answer to clearinghouseState")
        return state

    def position(self, coin: str) -> dict | None:
        """The coin's on-chain position entry (None when flat)."""
        for entry in self.user_state()["assetPositions"]:
            pos = entry.get("position") or {}
            if pos.get("coin") == coin and num(pos.get("szi")) != 0:
                return pos
        return None

    def open_orders(self) -> list[dict]:
        """Open orders with their trigger and reduce-only flags (``frontendOpenOrders``)."""
        orders = self.info.frontend_open_orders(self.address)
        if not isinstance(orders, list):
            raise RuntimeError("unexpected answer to frontendOpenOrders")
        return orders

    def fills_since(self, start_ms: int, end_ms: int | None = None) -> list[dict]:
        fills = self.info.user_fills_by_time(self.address, int(start_ms), end_ms)
        if not isinstance(fills, list):
            raise RuntimeError("unexpected answer to userFillsByTime")
        return fills

    def funding_since(self, start_ms: int) -> list[dict]:
        rows = self.info.user_funding_history(self.address, int(start_ms))
        if not isinstance(rows, list):
            raise RuntimeError("unexpected answer to userFunding")
        return rows

    def fill_by_oid(
        self, oid: int, since_ms: int, tries: int = FILL_TRIES
    ) -> tuple[dict | None, str]:
        """The order's fill summary from userFillsByTime (retried for lag; 429 is not retried)."""
        for attempt in range(tries):
            if attempt:
                self.sleep(FILL_DELAY_S)
            try:
                mine = [f for f in self.fills_since(since_ms) if f.get("oid") == oid]
            except Exception as exc:
                if is_rate_limited(exc):
                    return None, "fee lookup rate-limited (HTTP 429); fee missing"
                continue
            if mine:
                return summarize_fills(mine), ""
        return None, f"no userFillsByTime rows for oid {oid} after {tries} tries; fee missing"

    def order_status(self, *, cloid: str | None = None, oid: int | None = None) -> dict:
        """The venue's ``orderStatus`` answer by cloid or oid (raw)."""
        if cloid:
            return self.info.query_order_by_cloid(self.address, self.cloid(cloid))
        return self.info.query_order_by_oid(self.address, int(oid or 0))

    # ---- orders ---------------------------------------------------------------------
    def _order(
        self,
        coin: str,
        is_buy: bool,
        sz: float,
        px: float,
        order_type: dict,
        *,
        reduce_only: bool,
        cloid: str | None,
    ) -> Outcome:
        """Send one order under the never-twice rule; sz and px are already rounded."""
        cl = self.cloid(cloid)

        def send() -> Any:
            return self.exchange.order(coin, is_buy, sz, px, order_type, reduce_only, cl)

        try:
            return classify(send(), cloid)
        except Exception as exc:
            if not is_transport_error(exc):
                raise
            lost = cause(exc)
        if cl is None:
            return Outcome(
                "error",
                error=f"order answer lost ({lost}); not resent (no cloid), check the account",
            )
        known = self.resolve_cloid(str(cloid))
        if known is None:
            return Outcome(
                "error",
                error=f"order answer lost ({lost}) and orderStatus unreachable; not resent",
                cloid=cloid,
            )
        if known.kind != "unknown":
            known.notes.append(f"resolved by cloid after a lost answer ({lost})")
            return known
        try:
            out = classify(send(), cloid)
        except Exception as exc:
            if not is_transport_error(exc):
                raise
            return Outcome(
                "error", error=f"order answer lost twice ({cause(exc)}); not resent", cloid=cloid
            )
        out.notes.append(f"resent once with the same cloid after a lost answer ({lost})")
        return out

    def resolve_cloid(self, cloid: str) -> Outcome | None:
        """What the venue knows about ``cloid``: an Outcome (kind "unknown" when it does not
        know it), or None when it could not be asked."""
        for delay in STATUS_BACKOFF_S:
            self.sleep(delay)
            try:
                answer = self.order_status(cloid=cloid)
            except Exception as exc:
                if is_transport_error(exc):
                    continue
                raise
            return self.status_outcome(answer, cloid)
        return None

    def status_outcome(self, answer: Any, cloid: str | None) -> Outcome:
        """An ``orderStatus`` answer as an Outcome (fills summed from userFillsByTime)."""
        if not isinstance(answer, dict) or answer.get("status") != "order":
            return Outcome("unknown", cloid=cloid)
        block = answer.get("order") or {}
        wire, status = block.get("order") or {}, str(block.get("status") or "")
        oid = int(wire["oid"]) if wire.get("oid") is not None else None
        filled_sz = num(wire.get("origSz")) - num(wire.get("sz"))
        if status == "open" and filled_sz <= 0:
            return Outcome("resting", oid=oid, cloid=cloid)
        if filled_sz > 0 or status == "filled":
            since = int(num(wire.get("timestamp"))) - 1000
            summary, warning = self.fill_by_oid(oid or 0, since)
            out = Outcome("filled", oid=oid, total_sz=filled_sz, cloid=cloid)
            if summary:
                out.total_sz, out.avg_px = summary["qty"], summary["px"]
            if warning:
                out.notes.append(warning)
            return out
        return Outcome("error", oid=oid, error=f"order {status or 'not live'}", cloid=cloid)

    def market_open(
        self, coin: str, is_buy: bool, sz: float, cloid: str | None = None, slippage: float = 0.01
    ) -> tuple[Outcome, float]:
        """IOC limit at mid x (1 +- slippage); returns the outcome and the rounded size sent."""
        return self.ioc(coin, is_buy, sz, cloid=cloid, slippage=slippage, reduce_only=False)

    def ioc(
        self,
        coin: str,
        is_buy: bool,
        sz: float,
        *,
        cloid: str | None,
        slippage: float,
        reduce_only: bool,
    ) -> tuple[Outcome, float]:
        size = self.round_size(coin, sz)
        mid = self.mid(coin)
        px = self.round_price(coin, mid * (1 + slippage if is_buy else 1 - slippage))
        out = self._order(
            coin, is_buy, size, px, {"limit": {"tif": "Ioc"}}, reduce_only=reduce_only, cloid=cloid
        )
        return out, size

    def market_close(
        self, coin: str, sz: float | None = None, cloid: str | None = None, slippage: float = 0.05
    ) -> tuple[Outcome, float] | None:
        """Reduce-only IOC against the on-chain position (whole |szi| when sz is None);
        None when the account holds no position on the coin."""
        pos = self.position(coin)
        if pos is None:
            return None
        szi = num(pos.get("szi"))
        want = abs(szi) if sz is None else min(abs(float(sz)), abs(szi))
        return self.ioc(coin, szi < 0, want, cloid=cloid, slippage=slippage, reduce_only=True)

    def place_stop(
        self, coin: str, is_buy: bool, sz: float, trigger_px: float, cloid: str | None = None
    ) -> tuple[Outcome, float]:
        """Reduce-only stop-market trigger; ``is_buy`` is the triggered order's side."""
        trigger = self.round_price(coin, trigger_px)
        slip = 1 + STOP_LIMIT_SLIPPAGE if is_buy else 1 - STOP_LIMIT_SLIPPAGE
        limit = self.round_price(coin, trigger * slip)
        order_type = {"trigger": {"triggerPx": trigger, "isMarket": True, "tpsl": "sl"}}
        size = self.round_size(coin, sz)
        return self._order(
            coin, is_buy, size, limit, order_type, reduce_only=True, cloid=cloid
        ), trigger

    def place_take_profit(
        self, coin: str, is_buy: bool, sz: float, px: float, cloid: str | None = None
    ) -> tuple[Outcome, float]:
        """Reduce-only resting GTC limit (not a tpsl trigger), like upstream's tiers."""
        price = self.round_price(coin, px)
        size = self.round_size(coin, sz)
        out = self._order(
            coin, is_buy, size, price, {"limit": {"tif": "Gtc"}}, reduce_only=True, cloid=cloid
        )
        return out, price

    def limit_open(
        self,
        coin: str,
        is_buy: bool,
        sz: float,
        px: float,
        tif: str = "Alo",
        cloid: str | None = None,
    ) -> tuple[Outcome, float, float]:
        """A non-reduce-only limit (Alo post-only, Gtc or Ioc); returns outcome, size, price."""
        if tif not in ("Alo", "Gtc", "Ioc"):
            raise ValueError(f"--tif={tif} is not one of Alo, Gtc, Ioc")
        price, size = self.round_price(coin, px), self.round_size(coin, sz)
        out = self._order(
            coin, is_buy, size, price, {"limit": {"tif": tif}}, reduce_only=False, cloid=cloid
        )
        return out, size, price

    def cancel(self, coin: str, oid: int) -> str:
        """Cancel one order by oid; "" on success, else the venue's text."""
        answer = self.exchange.cancel(coin, int(oid))
        if not isinstance(answer, dict) or answer.get("status") != "ok":
            return str(answer.get("response") if isinstance(answer, dict) else answer)[:300]
        try:
            first = answer["response"]["data"]["statuses"][0]
        except (KeyError, IndexError, TypeError):
            return "cancel answer carried no status"
        if first == "success":
            return ""
        return str(first.get("error") if isinstance(first, dict) else first)[:300]

    def update_leverage(self, leverage: int, coin: str, is_cross: bool) -> str:
        """Set the coin's leverage and margin mode; "" on success, else the venue's text."""
        answer = self.exchange.update_leverage(int(leverage), coin, bool(is_cross))
        if isinstance(answer, dict) and answer.get("status") == "ok":
            return ""
        return str(answer.get("response") if isinstance(answer, dict) else answer)[:300]
