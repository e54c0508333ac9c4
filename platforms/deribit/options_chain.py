"""Deribit options through its public REST API (no key): listing, marks, settlement, DVOL.

Upstream-options reference §5.1, with its Obs fixed:

* instrument names come from ``public/get_instruments`` (``instrument_name``), never formatted
  (upstream zero-padded the day and missed every expiry on days 1-9);
* expiries: ``expiration_timestamp`` is the real instant (08:00 UTC); the nearest listed expiry
  within 7 days of the target, else the synthetic ``today + target`` (the shared rule in
  :mod:`platforms.options_base`); strikes of that expiry and type, else BTC 1000 / others 50;
* marks: ``public/ticker``'s ``mark_price`` (coin per unit) x ``index_price`` (USD), its
  ``mark_iv`` (percent -> fraction) and its greeks, which Deribit publishes in our units (delta
  per unit, gamma per $1, theta USD/day, vega USD per vol point); a missing or zero mark falls
  back to Black-Scholes at the realized vol;
* spot is Deribit's own index (``public/get_index_price``), the price its options settle
  against, not BinanceUS's last trade;
* settlement: ``public/get_delivery_prices`` (the index's delivery price for that date), read
  only after the expiry instant; ``None`` until Deribit publishes it;
* ``implied_vol_history``: DVOL daily closes (``public/get_volatility_index_data``,
  resolution 1D), percent -> fraction.

Base URL: ``DERIBIT_BASE_URL`` (default https://www.deribit.com/api/v2); tests point it at a
local fake server. Multiplier 1 (one option is one coin).
"""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from typing import Any

from platforms.options_base import Expiry, ListedChain
from shared_tools.options_chain import OptionQuote, OptionsChainError

__all__ = ["BASE_URL_ENV", "DEFAULT_BASE_URL", "DeribitOptionsChain"]

BASE_URL_ENV = "DERIBIT_BASE_URL"
DEFAULT_BASE_URL = "https://www.deribit.com/api/v2"
TIMEOUT_S = 10.0


class DeribitOptionsChain(ListedChain):
    """Deribit's chain (module notes); ``session`` is any object with ``requests``' ``get``."""

    name = "deribit"
    min_dte = 1
    expiry_tolerance_days = 7

    def __init__(
        self,
        *,
        source: str | None = None,
        now: datetime | None = None,
        session: Any = None,
        base_url: str | None = None,
    ) -> None:
        super().__init__(source=source, now=now)
        self.base_url = (base_url or os.environ.get(BASE_URL_ENV) or DEFAULT_BASE_URL).rstrip("/")
        self._session = session

    def fallback_step(self, underlying: str, target: float) -> float:
        return 1000.0 if underlying == "BTC" else 50.0

    # ---- REST -----------------------------------------------------------------------------

    def _get(self, method: str, **params: Any) -> Any:
        if self._session is None:
            import requests

            self._session = requests.Session()
        url = f"{self.base_url}/public/{method}"
        try:
            resp = self._session.get(url, params=params, timeout=TIMEOUT_S)
            doc = resp.json()
        except Exception as exc:  # noqa: BLE001 - network, TLS, bad JSON: one line
            raise OptionsChainError(
                f"deribit: {method} failed ({type(exc).__name__}: {exc})"
            ) from exc
        if not isinstance(doc, dict) or "result" not in doc:
            err = doc.get("error") if isinstance(doc, dict) else doc
            raise OptionsChainError(f"deribit: {method} answered no result ({err})")
        return doc["result"]

    # ---- hooks ----------------------------------------------------------------------------

    def _venue_listing(self, underlying: str) -> list[Expiry]:
        rows = self._get("get_instruments", currency=underlying, kind="option", expired="false")
        by_ts: dict[int, Expiry] = {}
        for row in rows if isinstance(rows, list) else []:
            try:
                ts = int(row["expiration_timestamp"])
                kind = str(row["option_type"]).lower()
                strike = float(row["strike"])
                name = str(row["instrument_name"])
            except (KeyError, TypeError, ValueError):
                continue
            if kind not in ("call", "put") or row.get("is_active") is False:
                continue
            at = datetime.fromtimestamp(ts / 1000.0, tz=UTC)
            exp = by_ts.setdefault(ts, Expiry(at.date().isoformat(), at))
            exp.strikes[kind][strike] = name
        return sorted(by_ts.values(), key=lambda e: e.expires_at)

    def _venue_spot(self, underlying: str) -> float | None:
        try:
            res = self._get("get_index_price", index_name=f"{underlying.lower()}_usd")
            return float(res["index_price"])
        except (OptionsChainError, KeyError, TypeError, ValueError):
            return None

    def _venue_quote(
        self, underlying: str, exp: Expiry, kind: str, strike: float, instrument: str
    ) -> OptionQuote | None:
        if not instrument:
            return None  # not listed: Black-Scholes (upstream's fallback, with a warning upstream)
        try:
            t = self._get("ticker", instrument_name=instrument)
            mark = float(t.get("mark_price") or 0.0)
            spot = float(t.get("index_price") or t.get("underlying_price") or 0.0)
        except (OptionsChainError, AttributeError, TypeError, ValueError):
            return None
        if mark <= 0 or spot <= 0:
            return None
        raw = t.get("greeks") or {}
        greeks = {g: float(raw.get(g) or 0.0) for g in ("delta", "gamma", "theta", "vega")}
        iv = t.get("mark_iv")
        iv_f = float(iv) / 100.0 if isinstance(iv, (int, float)) and iv > 0 else None
        return self._make_quote(
            underlying,
            kind,
            strike,
            exp.expiry,
            exp.expires_at,
            spot,
            mark * spot,
            greeks,
            iv_f,
            "venue",
            instrument,
        )

    def _venue_settlement(self, underlying: str, expiry: str, expires_at: datetime) -> float | None:
        age_days = max((self.now() - expires_at).days, 0)
        try:
            res = self._get(
                "get_delivery_prices",
                index_name=f"{underlying.lower()}_usd",
                offset=0,
                count=min(age_days + 5, 1000),
            )
        except OptionsChainError:
            return None
        for row in res.get("data", []) if isinstance(res, dict) else []:
            if isinstance(row, dict) and row.get("date") == expiry:
                try:
                    price = float(row["delivery_price"])
                except (KeyError, TypeError, ValueError):
                    return None
                return price if price > 0 else None
        return None

    def _venue_iv_history(self, underlying: str, days: int) -> list[float]:
        if days <= 0:
            return []
        end = self.now()
        start = end - timedelta(days=days + 2)
        try:
            res = self._get(
                "get_volatility_index_data",
                currency=underlying,
                start_timestamp=int(start.timestamp() * 1000),
                end_timestamp=int(end.timestamp() * 1000),
                resolution="1D",
            )
        except OptionsChainError:
            return []
        rows = res.get("data", []) if isinstance(res, dict) else []
        closes = [
            float(r[4]) / 100.0
            for r in sorted(rows, key=lambda r: r[0])
            if isinstance(r, list) and len(r) >= 5
        ]
        return closes[-days:]
