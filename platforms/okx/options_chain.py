"""OKX options through ccxt's public endpoints: listing, contract size, marks, settlement.

Upstream-options reference §5.3, with its Obs fixed:

* the contract size is the market's own, OKX's ``ctVal`` x ``ctMult`` (0.01 BTC, 0.1 ETH),
  not an assumed one coin: ccxt's ``contractSize`` is ``ctVal`` alone, which is 1 on options
  (the multiplier is in ``ctMult``); without a listing the book's OPTION_VENUES row;
* marks: OKX's mark price (``/public/mark-price``, coin per unit) x spot, and the mark vol of
  ``/public/opt-summary``; greeks are Black-Scholes at that mark vol in our units (OKX's own
  greeks come in several coin/USD conventions). Upstream used the last trade;
* the Black-Scholes fallback works (upstream passed the option type as the rate: always 0);
* expiries: the nearest listed one with dte >= 0, no tolerance cap (upstream's rule), at the
  market's real expiry instant (08:00 UTC); strikes of that expiry and type, else BTC 1000,
  ETH 100, others 50;
* settlement: ``/public/delivery-exercise-history``'s price for that expiry, after the instant.

Spot: OKX's index (``/market/index-tickers``) on the exchange source, else the market door's
``okx`` venue (``<UND>/USDT``); daily closes through the door, so every source works.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from platforms.options_base import Expiry, ListedChain
from shared_tools import pricing
from shared_tools.options_chain import OptionQuote

__all__ = ["OkxOptionsChain"]


class OkxOptionsChain(ListedChain):
    """OKX's chain (module notes); ``exchange`` injects a ccxt ``okx``-like object."""

    name = "okx"
    min_dte = 0
    expiry_tolerance_days = None
    spot_venue = "okx"

    def __init__(
        self, *, source: str | None = None, now: datetime | None = None, exchange: Any = None
    ) -> None:
        super().__init__(source=source, now=now)
        self._exchange = exchange
        self._sizes: dict[str, float] = {}
        self._summary: dict[str, dict[str, Any]] = {}

    def fallback_step(self, underlying: str, target: float) -> float:
        return {"BTC": 1000.0, "ETH": 100.0}.get(underlying, 50.0)

    def _ccxt(self) -> Any:
        if self._exchange is None:
            import ccxt  # type: ignore[import-untyped]

            self._exchange = ccxt.okx({"enableRateLimit": True, "timeout": 10000})
        return self._exchange

    @staticmethod
    def _family(underlying: str) -> str:
        return f"{underlying}-USD"

    def multiplier(self, underlying: str) -> float:
        """The listed markets' contract size (ctVal x ctMult) when read, else the book's row."""
        und = underlying.upper()
        if self.exchange:
            self.listing(und)
            if und in self._sizes:
                return self._sizes[und]
        return super().multiplier(und)

    def _venue_spot(self, underlying: str) -> float | None:
        """OKX's own index (``/market/index-tickers``), the price its options settle against."""
        try:
            rows = self._rows(
                "public_get_market_index_tickers", {"instId": self._family(underlying)}
            )
            price = float(rows[0]["idxPx"])
        except Exception:  # noqa: BLE001 - no index: the market door's spot instead
            return None
        return price if price > 0 else None

    def _venue_listing(self, underlying: str) -> list[Expiry]:
        markets = self._ccxt().load_markets()
        by_ts: dict[int, Expiry] = {}
        for m in markets.values() if isinstance(markets, dict) else []:
            if m.get("type") != "option" or m.get("base") != underlying or m.get("active") is False:
                continue
            try:
                ts = int(m["expiry"])
                kind = str(m["optionType"]).lower()
                strike = float(m["strike"])  # a string strike on some ccxt versions (upstream #94)
            except (KeyError, TypeError, ValueError):
                continue
            size = _contract_size(m)
            if size is not None:
                self._sizes[underlying] = size
            at = datetime.fromtimestamp(ts / 1000.0, tz=UTC)
            exp = by_ts.setdefault(ts, Expiry(at.date().isoformat(), at))
            if kind in ("call", "put"):
                exp.strikes[kind][strike] = str(m.get("id") or m.get("symbol"))
        return sorted(by_ts.values(), key=lambda e: e.expires_at)

    def _rows(self, method: str, params: dict[str, Any]) -> list[dict[str, Any]]:
        doc = getattr(self._ccxt(), method)(params)
        rows = doc.get("data", []) if isinstance(doc, dict) else []
        return [r for r in rows if isinstance(r, dict)]

    def _mark_vol(self, underlying: str, inst_id: str) -> float | None:
        if underlying not in self._summary:
            try:
                rows = self._rows(
                    "public_get_public_opt_summary", {"instFamily": self._family(underlying)}
                )
            except Exception:  # noqa: BLE001 - the vol is extra: realized vol instead
                rows = []
            self._summary[underlying] = {str(r.get("instId")): r for r in rows}
        try:
            vol = float(self._summary[underlying][inst_id]["markVol"])
        except (KeyError, TypeError, ValueError):
            return None
        return vol if vol > 0 else None

    def _venue_quote(
        self, underlying: str, exp: Expiry, kind: str, strike: float, instrument: str
    ) -> OptionQuote | None:
        if not instrument:
            return None
        try:
            rows = self._rows(
                "public_get_public_mark_price", {"instType": "OPTION", "instId": instrument}
            )
            mark = float(rows[0]["markPx"])
        except Exception:  # noqa: BLE001 - no mark: Black-Scholes at realized vol
            return None
        if mark <= 0:
            return None
        spot = self.spot(underlying)
        vol = self._mark_vol(underlying, instrument)
        dte = max(self._dte(exp.expires_at), 0.0)
        _, greeks = pricing.bs_price_and_greeks(
            spot, strike, dte, vol or self.realized_vol(underlying), option_type=kind
        )
        return self._make_quote(
            underlying,
            kind,
            strike,
            exp.expiry,
            exp.expires_at,
            spot,
            mark * spot,
            greeks,
            vol,
            "venue",
            instrument,
        )

    def _venue_settlement(self, underlying: str, expiry: str, expires_at: datetime) -> float | None:
        try:
            rows = self._rows(
                "public_get_public_delivery_exercise_history",
                {"instType": "OPTION", "instFamily": self._family(underlying)},
            )
        except Exception:  # noqa: BLE001 - unknown for now: the supervisor retries next cycle
            return None
        target_ms = int(expires_at.timestamp() * 1000)
        for row in rows:
            try:
                if abs(int(row["ts"]) - target_ms) > 3600_000:
                    continue
                prices = [
                    float(d["px"]) for d in row.get("details", []) if float(d.get("px") or 0) > 0
                ]
            except (KeyError, TypeError, ValueError):
                continue
            if prices:
                return prices[0]
        return None


def _contract_size(market: dict[str, Any]) -> float | None:
    """Units of underlying per contract: OKX's ``ctVal`` x ``ctMult`` from the raw instrument
    (ccxt's ``contractSize`` is ``ctVal`` only, 1 on options), else ccxt's ``contractSize``."""
    info = market.get("info") if isinstance(market.get("info"), dict) else {}
    try:
        size = float(info.get("ctVal") or 0) * float(info.get("ctMult") or 0)
    except (TypeError, ValueError):
        size = 0.0
    if size > 0:
        return size
    raw = market.get("contractSize")
    return float(raw) if isinstance(raw, (int, float)) and raw > 0 else None
