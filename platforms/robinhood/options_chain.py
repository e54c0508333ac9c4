"""Robinhood equity options (SPY, QQQ, ...): 100 shares per contract.

Upstream-options reference §5.4, with its Obs fixed:

* the contract multiplier (100) is the book's and applies to premium, marks, settlement and
  assignment alike; premiums here are per share (upstream multiplied only the premium);
* marks by Black-Scholes at the realized vol of the daily closes, annualised with sqrt(365)
  because the Black-Scholes time is calendar days / 365 (upstream used sqrt(252) against /365
  time, a vol ~17 % low). Upstream marked these through Deribit, which cannot price SPY;
* expiries: Friday weeklies (the next 8) and the third-Friday monthlies (six months), expiring
  at 16:00 America/New_York (exchange holidays are not modelled); strikes $1 below $100,
  $5 below $500, else $10, by the target as upstream.

Out of scope: Robinhood's own chain and marks with credentials (robin_stocks). On the exchange
source the market door has no Robinhood equity data (``robinhood-equities``: Robinhood's crypto
candles come from Binance US, which lists no SPY) and says so; run on ``simulated`` or a replay.
"""

from __future__ import annotations

from platforms.options_base import Expiry, ListedChain
from shared_tools.market import sim_options as _sim

__all__ = ["RobinhoodOptionsChain"]


class RobinhoodOptionsChain(ListedChain):
    """US equity options on Robinhood (module notes)."""

    name = "robinhood"
    min_dte = 0
    expiry_tolerance_days = None
    default_vol = 0.30  # upstream's equity default with too few closes
    spot_venue = "robinhood-equities"  # not the crypto feed (platforms/robinhood/market_data.py)

    def spot_symbol(self, underlying: str) -> str:
        return underlying.upper()

    def fallback_step(self, underlying: str, target: float) -> float:
        return _sim.strike_step("robinhood", underlying, target)

    def _venue_listing(self, underlying: str) -> list[Expiry]:
        """The modelled equity calendar; strikes from the $1/$5/$10 grid."""
        return [
            Expiry(t.date().isoformat(), t) for t in _sim.expiry_instants("robinhood", self.now())
        ]

    _offline_listing = _venue_listing  # a replayed market follows the same calendar
