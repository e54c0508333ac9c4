"""A fixed options chain for the strategy, scoring and check_options tests.

It implements shared_tools.options_chain.OptionsChain over fixed tables: a spot per
underlying, a listed strike grid, listed expiries (Deribit's rule for the nearest one, 08:00 UTC
expiry instants), daily closes and Black-Scholes quotes at a fixed vol (so the tests can
recompute every premium). Nothing here reads the network or the clock.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

from shared_tools.options_chain import OptionQuote, OptionsChainError
from shared_tools.pricing import bs_price_and_greeks

TODAY = date(2026, 1, 5)
NOW = datetime(2026, 1, 5, 12, 0, tzinfo=UTC)


def nearest(values: list[float], target: float) -> float:
    return min(values, key=lambda v: (abs(v - target), v))


@dataclass
class FakeChain:
    name: str = "deribit"
    spots: dict[str, float] = field(default_factory=lambda: {"BTC": 100_000.0, "ETH": 3_000.0})
    # listed strikes per underlying: every 1000 for BTC, every 50 for ETH
    strikes: dict[str, list[float]] = field(
        default_factory=lambda: {
            "BTC": [float(k) for k in range(50_000, 150_001, 1000)],
            "ETH": [float(k) for k in range(1_500, 4_501, 50)],
        }
    )
    # listed expiries: days from TODAY
    expiry_days: list[int] = field(default_factory=lambda: [1, 7, 14, 21, 28, 35, 49, 63, 91])
    mult: float = 1.0
    vol: float = 0.6
    closes: dict[str, list[float]] = field(default_factory=dict)
    iv_history: dict[str, list[float]] = field(default_factory=dict)
    calls: list[str] = field(default_factory=list)
    fail_spot: bool = False

    def spot(self, underlying: str) -> float:
        self.calls.append("spot")
        if self.fail_spot or underlying not in self.spots:
            raise OptionsChainError(f"{self.name}: no spot for {underlying}")
        return self.spots[underlying]

    def daily_closes(self, underlying: str, count: int) -> list[float]:
        return list(self.closes.get(underlying, []))[-count:]

    def implied_vol_history(self, underlying: str, days: int) -> list[float]:
        return list(self.iv_history.get(underlying, []))[-days:]

    def multiplier(self, underlying: str) -> float:
        return self.mult

    def real_expiry(self, underlying: str, target_dte: int) -> tuple[str, int]:
        """Deribit's rule: nearest listed (ties to the shorter), none beyond 7 days -> today +
        target."""
        best = min(self.expiry_days, key=lambda d: (abs(d - target_dte), d))
        if abs(best - target_dte) > 7:
            best = target_dte
        return (TODAY + timedelta(days=best)).isoformat(), best

    def real_strike(self, underlying: str, expiry: str, option_type: str, target: float) -> float:
        return nearest(self.strikes[underlying], target)

    def expires_at(self, underlying: str, expiry: str) -> datetime:
        return datetime.fromisoformat(expiry).replace(hour=8, tzinfo=UTC)

    def dte(self, expiry: str) -> float:
        return (self.expires_at("", expiry) - NOW).total_seconds() / 86400.0

    def quote(
        self, underlying: str, option_type: str, strike: float, expiry: str, *, vol=None
    ) -> OptionQuote:
        spot = self.spots[underlying]
        dte = self.dte(expiry)
        price, greeks = bs_price_and_greeks(spot, strike, dte, self.vol, 0.05, option_type)
        return OptionQuote(
            underlying=underlying,
            option_type=option_type,
            strike=strike,
            expiry=expiry,
            expires_at=self.expires_at(underlying, expiry),
            dte=dte,
            spot=spot,
            premium_usd=price,
            premium=price / spot,
            multiplier=self.mult,
            greeks=greeks,
            iv=self.vol,
            source="venue",
            instrument=f"{underlying}-{expiry}-{strike:.0f}-{option_type[0].upper()}",
        )

    def settlement_price(self, underlying: str, expiry: str) -> float | None:
        return None
