"""CME micro crypto options (IBKR): MBT (0.1 BTC) and MET (0.5 ETH).

Upstream-options reference §5.2, with its Obs fixed:

* expiries follow the CME calendar we model: Friday weeklies (the next 4) and the monthly on
  the last Friday (this month's and the next 3), expiring at the CME close, 16:00 America/Chicago
  (15:00 or 16:00... no: 21:00 UTC in winter, 22:00 UTC... the zone database converts, DST
  included). Exchange holidays and CME's exact last-trade rules (the monthly's London-time
  fixing) are not modelled; upstream used ``today + target`` at 00:00 UTC;
* strikes: BTC 1000 (500 when the target is <= 50k), ETH 50 (25 when <= 1000), other 100;
* marks: Black-Scholes at the realized vol of the daily closes (upstream marked at a fixed
  0.80), or the IB gateway's model price and greeks when one is configured (``IBKR_HOST``,
  ``IBKR_PORT`` default 4002, ``IBKR_CLIENT_ID`` default 1; ib_async imported only then);
* the contract multiplier (0.1 / 0.5) comes from the book's OPTION_VENUES and is applied by the
  book to premium, marks and settlement alike (upstream booked one coin per contract).

Spot and closes: the market door (BinanceUS ``<UND>/USDT`` like upstream, any source).
Settlement: the underlying's price at the expiry instant through the door.
"""

from __future__ import annotations

import os
from datetime import datetime
from typing import Any

from platforms.options_base import Expiry, ListedChain
from shared_tools.market import sim_options as _sim
from shared_tools.options_chain import OptionQuote

__all__ = ["CME_SYMBOLS", "IbkrOptionsChain"]

CME_SYMBOLS = {"BTC": "MBT", "ETH": "MET"}


class IbkrOptionsChain(ListedChain):
    """CME micro options (module notes); ``ib`` injects an ib_async ``IB``-like object."""

    name = "ibkr"
    min_dte = 0
    expiry_tolerance_days = None
    default_vol = 0.60

    def __init__(
        self, *, source: str | None = None, now: datetime | None = None, ib: Any = None
    ) -> None:
        super().__init__(source=source, now=now)
        self._ib = ib

    def fallback_step(self, underlying: str, target: float) -> float:
        if underlying in ("BTC", "ETH"):
            return _sim.strike_step("ibkr", underlying, target)
        return 100.0

    def _venue_listing(self, underlying: str) -> list[Expiry]:
        """The modelled CME calendar; strikes from the grid (no listing read from CME)."""
        return [Expiry(t.date().isoformat(), t) for t in _sim.expiry_instants("ibkr", self.now())]

    _offline_listing = _venue_listing  # a replayed market follows the same calendar

    def _gateway(self) -> Any:
        if self._ib is None and os.environ.get("IBKR_HOST"):
            from ib_async import IB  # lazily: only with a configured gateway

            ib = IB()
            ib.connect(
                os.environ["IBKR_HOST"],
                int(os.environ.get("IBKR_PORT", "4002")),
                clientId=int(os.environ.get("IBKR_CLIENT_ID", "1")),
                timeout=10,
                readonly=True,
            )
            self._ib = ib
        return self._ib

    def _venue_quote(
        self, underlying: str, exp: Expiry, kind: str, strike: float, instrument: str
    ) -> OptionQuote | None:
        symbol = CME_SYMBOLS.get(underlying)
        ib = self._gateway() if symbol else None
        if ib is None or symbol is None:
            return None
        try:
            from ib_async import FuturesOption

            contract = FuturesOption(
                symbol,
                exp.expiry.replace("-", ""),
                strike,
                "C" if kind == "call" else "P",
                "CME",
                currency="USD",
            )
            ib.qualifyContracts(contract)
            ticker = ib.reqTickers(contract)[0]
            model = ticker.modelGreeks
            price = float(model.optPrice)
            spot = float(model.undPrice)
            greeks = {
                "delta": float(model.delta),
                "gamma": float(model.gamma),
                "theta": float(model.theta),
                "vega": float(model.vega),
            }
            iv = float(model.impliedVol)
        except Exception:  # noqa: BLE001 - any gateway trouble: Black-Scholes instead
            return None
        if not price > 0 or not spot > 0:
            return None
        name = getattr(contract, "localSymbol", "") or f"{symbol} {exp.expiry} {strike:g} {kind}"
        return self._make_quote(
            underlying,
            kind,
            strike,
            exp.expiry,
            exp.expires_at,
            spot,
            price,
            greeks,
            iv,
            "venue",
            name,
        )
