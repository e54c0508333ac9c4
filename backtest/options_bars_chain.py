"""An options chain made of a backtest's own daily bars, so the backtest runs the live
strategies and scoring (shared_strategies/options/) unchanged.

The market it models: spot = the bar's close; the only vol is the 14-day realized vol at that
bar (Black-Scholes at it is the "venue mark", as upstream's research scripts priced); no
listings, so every expiry is synthetic (``today + target`` whole days, expiring at the expiry
day's close, where the backtest settles) and strikes sit on the venue's fallback grid
(upstream-options reference §5.5). No implied-vol history: the rank is the realized one.

The fallback grids repeat the venues' (platforms/<venue>/ owns the live ones; the backtest may
not import platforms).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta

from shared_tools.book.options import option_venue
from shared_tools.options_chain import OptionQuote, OptionsChainError
from shared_tools.pricing import RISK_FREE_RATE, bs_price_and_greeks

__all__ = ["BarsChain", "fallback_step"]

DEFAULT_VOL = 0.5  # before 14 returns exist (the research script's default)


def fallback_step(platform: str, underlying: str, target: float) -> float:
    """The venue's strike grid without listings (reference §5.5)."""
    und = underlying.upper()
    if platform == "robinhood":
        return 1.0 if target < 100 else 5.0 if target < 500 else 10.0
    if und == "BTC":
        return 1000.0
    if platform == "ibkr":
        return 50.0 if und == "ETH" else 100.0
    if platform == "okx":
        return 100.0 if und == "ETH" else 50.0
    return 50.0


class BarsChain:
    """``OptionsChain`` over daily closes; :meth:`at` moves it to a bar."""

    def __init__(
        self,
        platform: str,
        underlying: str,
        closes: Sequence[float],
        dates: Sequence[str],
        vols: Sequence[float | None],
        risk_free: float = RISK_FREE_RATE,
    ) -> None:
        self.name = platform
        self.underlying = underlying.upper()
        self.closes, self.dates, self.vols = closes, dates, vols
        self.close_on = dict(zip(dates, closes, strict=True))
        self.risk_free = risk_free
        self.venue = option_venue(platform)
        self.i = 0

    def at(self, i: int) -> BarsChain:
        self.i = i
        return self

    @property
    def today(self) -> str:
        return self.dates[self.i]

    @property
    def vol(self) -> float:
        v = self.vols[self.i]
        return v if v is not None else DEFAULT_VOL

    def _check(self, underlying: str) -> None:
        if underlying.upper() != self.underlying:
            raise OptionsChainError(f"backtest chain: only {self.underlying}, not {underlying}")

    def spot(self, underlying: str) -> float:
        self._check(underlying)
        return float(self.closes[self.i])

    def daily_closes(self, underlying: str, count: int) -> list[float]:
        self._check(underlying)
        return [float(c) for c in self.closes[max(0, self.i + 1 - count) : self.i + 1]]

    def implied_vol_history(self, underlying: str, days: int) -> list[float]:
        return []

    def multiplier(self, underlying: str) -> float:
        return self.venue.multiplier(underlying)

    def real_expiry(self, underlying: str, target_dte: int) -> tuple[str, int]:
        day = date.fromisoformat(self.today) + timedelta(days=int(target_dte))
        return day.isoformat(), int(target_dte)

    def real_strike(self, underlying: str, expiry: str, option_type: str, target: float) -> float:
        step = fallback_step(self.name, underlying, target)
        return max(round(target / step) * step, step)

    def expires_at(self, underlying: str, expiry: str) -> datetime:
        return datetime.fromisoformat(expiry).replace(tzinfo=UTC)

    def dte(self, expiry: str) -> float:
        return float((date.fromisoformat(expiry) - date.fromisoformat(self.today)).days)

    def quote(
        self,
        underlying: str,
        option_type: str,
        strike: float,
        expiry: str,
        *,
        vol: float | None = None,
    ) -> OptionQuote:
        """Black-Scholes at the bar's realized vol (``vol`` is ignored: this market has one)."""
        spot = self.spot(underlying)
        dte = self.dte(expiry)
        price, greeks = bs_price_and_greeks(
            spot, strike, dte, self.vol, self.risk_free, option_type
        )
        return OptionQuote(
            underlying=self.underlying,
            option_type=option_type,
            strike=float(strike),
            expiry=expiry,
            expires_at=self.expires_at(underlying, expiry),
            dte=dte,
            spot=spot,
            premium_usd=price,
            premium=price / spot,
            multiplier=self.multiplier(underlying),
            greeks=greeks,
            iv=self.vol,
            source="black_scholes",
        )

    def settlement_price(self, underlying: str, expiry: str) -> float | None:
        return self.close_on.get(expiry) if expiry <= self.today else None
