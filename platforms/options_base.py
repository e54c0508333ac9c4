"""What the four options venues share: the nearest-expiry/strike rules, the Black-Scholes
fallback, settlement and the simulated market behind each of them.

A venue's chain (``platforms/<venue>/options_chain.py``) says only what is its own: its listing
on the real venue (expiries, strikes, instrument names), its marks, its settlement price, its
expiry-time rule, fallback strike grid and expiry tolerance. Everything else is here, once:

* :meth:`ListedChain.real_expiry`: whole days ``floor((expires_at - now) / 1 day)`` between the
  venue's minimum and 365, nearest to the target, ties to the shorter; a gap beyond the venue's
  tolerance (Deribit 7 days) or an empty listing gives the synthetic ``today + target``;
* :meth:`ListedChain.real_strike`: the nearest listed strike of that expiry and type (ties to
  the lower), else the venue's fallback grid;
* :meth:`ListedChain.quote`: the venue's mark when it has one, else Black-Scholes at the given
  vol (default: the 14-day realized vol of the daily closes, sqrt 365), always against the
  venue's real expiry instant (``dte`` is fractional days to ``expires_at``);
* the ``simulated`` source lists and marks through :mod:`shared_tools.market.sim_options`
  with the venue's calendar, grid and smile; ``replay:<dir>`` has no listing (synthetic
  expiries, fallback grid, Black-Scholes at realized vol) and settles at the replayed price.

Spot and daily closes come through the market door (:mod:`shared_tools.market`), so every
source works the same way for every venue (docs/architecture.md, "Options chains").
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from shared_tools import pricing
from shared_tools.book.options import option_venue
from shared_tools.market import common as _common
from shared_tools.market import sim_model as _sim_model
from shared_tools.market import sim_options as _sim
from shared_tools.options_chain import OptionQuote, OptionsChainError

__all__ = ["Expiry", "ListedChain", "deribit_style_name"]

CLOSES_FOR_VOL = 90  # upstream's get_vol_metrics reads about 90 daily closes
_MONTHS = ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")


def deribit_style_name(underlying: str, expiry: date, strike: float, option_type: str) -> str:
    """``BTC-7MAR26-100000-C``: the day NOT zero-padded, as Deribit lists it (upstream padded
    it and missed every day 1-9). Used only to name simulated instruments: real names are
    taken from the venue's listing."""
    k = int(strike) if float(strike).is_integer() else strike
    kind = "C" if option_type == "call" else "P"
    return f"{underlying.upper()}-{expiry.day}{_MONTHS[expiry.month - 1]}{expiry:%y}-{k}-{kind}"


@dataclass
class Expiry:
    """One listed expiry: its date, real instant and strikes per type (strike -> instrument)."""

    expiry: str  # "YYYY-MM-DD"
    expires_at: datetime
    strikes: dict[str, dict[float, str]] = field(default_factory=lambda: {"call": {}, "put": {}})


def _kind(option_type: str) -> str:
    kind = str(option_type).strip().lower()
    if kind not in ("call", "put"):
        raise OptionsChainError(f"option_type must be 'call' or 'put', not {option_type!r}")
    return kind


class ListedChain:
    """The shared half of every venue chain (see the module notes); subclasses set the class
    attributes and override the ``_venue_*`` hooks for the exchange source."""

    name = "?"
    min_dte = 1  # whole days: Deribit lists nothing expiring today as a target
    expiry_tolerance_days: int | None = 7  # None: no cap (OKX)
    default_vol = 0.60  # upstream's realized-vol default with too few closes
    spot_venue = "binanceus"  # the market door's venue for spot and daily closes

    def __init__(self, *, source: str | None = None, now: datetime | None = None) -> None:
        self.source = (
            _common.source_from_env()
            if source is None
            else _common.parse_source(source, what="source")
        )
        self._now = None if now is None else _common.as_utc(now)
        self._listings: dict[str, list[Expiry]] = {}
        self._vols: dict[str, float] = {}
        self._spots: dict[str, float] = {}

    # ---- the clock and the source ----------------------------------------------------------

    def now(self) -> datetime:
        """The chain's clock: pinned at construction (tests) or the market's (GO_TRADER_NOW)."""
        return self._now if self._now is not None else _common.now_utc()

    @property
    def simulated(self) -> bool:
        return self.source == "simulated"

    @property
    def exchange(self) -> bool:
        return self.source == "exchange"

    # ---- venue rules (overridden per venue) ------------------------------------------------

    def expiry_instant(self, day: date) -> datetime:
        """The venue's expiry instant on ``day`` (08:00 UTC unless the venue says otherwise)."""
        return _sim.expiry_instant(self.name, day)

    def fallback_step(self, underlying: str, target: float) -> float:
        """The strike grid used when nothing is listed for the expiry."""
        return 1000.0 if underlying.upper() == "BTC" else 50.0

    def spot_symbol(self, underlying: str) -> str:
        """The symbol the market door reads the underlying under."""
        und = underlying.upper()
        return und if und in _sim.EQUITIES else f"{und}/USDT"

    # ---- venue hooks for the exchange source ----------------------------------------------

    def _venue_listing(self, underlying: str) -> list[Expiry]:
        """The venue's open expiries (exchange source); [] -> synthetic expiry, fallback grid."""
        return []

    def _venue_quote(
        self, underlying: str, exp: Expiry, kind: str, strike: float, instrument: str
    ) -> OptionQuote | None:
        """The venue's own mark of a listed instrument; None -> Black-Scholes."""
        return None

    def _offline_listing(self, underlying: str) -> list[Expiry]:
        """The listing on a replayed market: none (synthetic expiries) unless the venue's
        calendar is a model anyway (CME, Robinhood)."""
        return []

    def _venue_spot(self, underlying: str) -> float | None:
        """The venue's own spot/index (exchange source); None -> the market door."""
        return None

    def _venue_settlement(self, underlying: str, expiry: str, expires_at: datetime) -> float | None:
        """The venue's settlement price of an expiry (exchange source); None while unknown."""
        return self._door_price_at(underlying, expires_at)

    def _venue_iv_history(self, underlying: str, days: int) -> list[float]:
        return []

    # ---- the listing -----------------------------------------------------------------------

    def listing(self, underlying: str) -> list[Expiry]:
        """Open expiries with strikes, read once per chain object (one worker run)."""
        und = underlying.upper()
        if und not in self._listings:
            if self.simulated:
                self._listings[und] = self._sim_listing(und)
            elif self.exchange:
                self._listings[und] = self._venue_listing(und)
            else:
                self._listings[und] = self._offline_listing(und)
        return self._listings[und]

    def _sim_listing(self, und: str) -> list[Expiry]:
        out = []
        for item in _sim.listing(self.name, und, self.now(), _sim_model.seed_from_env()):
            day = date.fromisoformat(item.expiry)
            exp = Expiry(item.expiry, item.expires_at)
            for kind in ("call", "put"):
                exp.strikes[kind] = {k: deribit_style_name(und, day, k, kind) for k in item.strikes}
            out.append(exp)
        return out

    def _find(self, underlying: str, expiry: str) -> Expiry | None:
        return next((e for e in self.listing(underlying) if e.expiry == expiry), None)

    # ---- the protocol ----------------------------------------------------------------------

    def multiplier(self, underlying: str) -> float:
        """Units of underlying per contract (the book's OPTION_VENUES table)."""
        return option_venue(self.name).multiplier(underlying)

    def spot(self, underlying: str) -> float:
        """The underlying's price, read once per chain object (one worker run)."""
        und = underlying.upper()
        if und not in self._spots:
            self._spots[und] = self._read_spot(und)
        return self._spots[und]

    def _read_spot(self, und: str) -> float:
        if self.exchange:
            venue_spot = self._venue_spot(und)
            if venue_spot is not None and venue_spot > 0:
                return float(venue_spot)
        from shared_tools.market import prices

        sym = self.spot_symbol(und)
        try:
            got = prices.fetch_prices(
                [sym], source=self.source, venue=self.spot_venue, now=self.now()
            )
        except (_common.MarketDataError, ValueError) as exc:
            raise OptionsChainError(f"{self.name}: no spot for {und} ({exc})") from exc
        return float(got[sym])

    def daily_closes(self, underlying: str, count: int) -> list[float]:
        und = underlying.upper()
        if count <= 0:
            return []
        if self.simulated:  # the door's 1d closes, computed without pandas
            return _sim.daily_closes(und, self.now(), count, _sim_model.seed_from_env())
        from shared_tools import market

        try:
            frame = market.fetch_ohlcv(
                self.spot_symbol(und),
                "1d",
                count,
                source=self.source,
                venue=self.spot_venue,
                now=self.now(),
            )
        except (_common.MarketDataError, ValueError) as exc:
            raise OptionsChainError(f"{self.name}: no daily closes for {und} ({exc})") from exc
        return [float(x) for x in frame["close"].tolist()]

    def realized_vol(self, underlying: str) -> float:
        """The 14-day realized vol (sqrt 365) of ~90 daily closes; the venue default without."""
        und = underlying.upper()
        if und not in self._vols:
            try:
                vol = _sim.realized_vol(self.daily_closes(und, CLOSES_FOR_VOL))
            except OptionsChainError:
                vol = math.nan
            self._vols[und] = vol if math.isfinite(vol) and vol > 0 else self.default_vol
        return self._vols[und]

    def implied_vol_history(self, underlying: str, days: int) -> list[float]:
        und = underlying.upper()
        if self.simulated:
            return _sim.implied_vol_history(und, self.now(), days, _sim_model.seed_from_env())
        if self.exchange:
            return self._venue_iv_history(und, days)
        return []

    def real_expiry(self, underlying: str, target_dte: int) -> tuple[str, int]:
        now = self.now()
        best: tuple[int, int, str] | None = None
        for exp in self.listing(underlying):
            days = math.floor((exp.expires_at - now).total_seconds() / 86400)
            if not self.min_dte <= days <= 365:
                continue
            key = (abs(days - target_dte), days, exp.expiry)
            if best is None or key < best:
                best = key
        tol = self.expiry_tolerance_days
        if best is None or (tol is not None and best[0] > tol):
            return (now.date() + timedelta(days=int(target_dte))).isoformat(), int(target_dte)
        return best[2], best[1]

    def real_strike(self, underlying: str, expiry: str, option_type: str, target: float) -> float:
        kind = _kind(option_type)
        exp = self._find(underlying, expiry)
        listed = sorted(exp.strikes[kind]) if exp is not None else []
        if listed:
            return min(listed, key=lambda k: (abs(k - target), k))
        step = self.fallback_step(underlying.upper(), target)
        return float(max(round(target / step), 1) * step)

    def expires_at(self, underlying: str, expiry: str) -> datetime:
        exp = self._find(underlying, expiry)
        if exp is not None:
            return exp.expires_at
        try:
            day = date.fromisoformat(str(expiry))
        except ValueError:
            raise OptionsChainError(f"{self.name}: expiry {expiry!r} is not YYYY-MM-DD") from None
        return self.expiry_instant(day)

    def quote(
        self,
        underlying: str,
        option_type: str,
        strike: float,
        expiry: str,
        *,
        vol: float | None = None,
    ) -> OptionQuote:
        und, kind, strike = underlying.upper(), _kind(option_type), float(strike)
        exp_at = self.expires_at(und, expiry)
        exp = self._find(und, expiry)
        instrument = _listed_name(exp, kind, strike)
        if instrument and self.simulated:
            return self._sim_quote(und, kind, strike, expiry, exp_at, instrument)
        if self.exchange:
            venue_exp = exp or Expiry(str(expiry), exp_at)
            got = self._venue_quote(und, venue_exp, kind, strike, instrument)
            if got is not None and got.premium_usd > 0:
                return got
        return self._bs_quote(und, kind, strike, str(expiry), exp_at, vol, instrument)

    def settlement_price(self, underlying: str, expiry: str) -> float | None:
        und = underlying.upper()
        exp_at = self.expires_at(und, expiry)
        if self.now() < exp_at:
            return None
        if self.simulated:
            return _sim.settlement_price(und, exp_at, self.now(), _sim_model.seed_from_env())
        if self.exchange:
            return self._venue_settlement(und, str(expiry), exp_at)
        return self._door_price_at(und, exp_at)

    # ---- helpers ---------------------------------------------------------------------------

    def _door_price_at(self, underlying: str, at: datetime) -> float | None:
        """The underlying's price at an instant through the door (the 1m close ending there on
        a real venue); None when it cannot be read (the caller retries next cycle)."""
        sym = self.spot_symbol(underlying)
        try:
            if self.exchange:
                from shared_tools import market

                frame = market.fetch_ohlcv(
                    sym, "1m", 1, source=self.source, venue=self.spot_venue, now=at
                )
                return float(frame["close"].iloc[-1]) if len(frame) else None
            from shared_tools.market import prices

            return float(
                prices.fetch_prices([sym], source=self.source, venue=self.spot_venue, now=at)[sym]
            )
        except Exception:  # noqa: BLE001 - unknown settlement is None, never 0
            return None

    def _dte(self, expires_at: datetime) -> float:
        return (expires_at - self.now()).total_seconds() / 86400.0

    def _make_quote(
        self,
        und: str,
        kind: str,
        strike: float,
        expiry: str,
        exp_at: datetime,
        spot: float,
        premium_usd: float,
        greeks: dict[str, float],
        iv: float | None,
        source: str,
        instrument: str,
    ) -> OptionQuote:
        return OptionQuote(
            underlying=und,
            option_type=kind,
            strike=strike,
            expiry=expiry,
            expires_at=exp_at,
            dte=self._dte(exp_at),
            spot=spot,
            premium_usd=premium_usd,
            premium=premium_usd / spot if spot > 0 else 0.0,
            multiplier=self.multiplier(und),
            greeks=dict(greeks),
            iv=iv,
            source=source,
            instrument=instrument,
        )

    def _sim_quote(
        self, und: str, kind: str, strike: float, expiry: str, exp_at: datetime, instrument: str
    ) -> OptionQuote:
        spot = self.spot(und)
        dte = self._dte(exp_at)
        atm = _sim.atm_vol(und, self.now(), _sim_model.seed_from_env())
        price, greeks, vol = _sim.sim_quote(und, kind, strike, spot, max(dte, 0.0), atm)
        return self._make_quote(
            und, kind, strike, expiry, exp_at, spot, price, greeks, vol, "venue", instrument
        )

    def _bs_quote(
        self,
        und: str,
        kind: str,
        strike: float,
        expiry: str,
        exp_at: datetime,
        vol: float | None,
        instrument: str,
    ) -> OptionQuote:
        spot = self.spot(und)
        sigma = (
            vol if vol is not None and math.isfinite(vol) and vol > 0 else self.realized_vol(und)
        )
        dte = self._dte(exp_at)
        price, greeks = pricing.bs_price_and_greeks(
            spot, strike, max(dte, 0.0), sigma, option_type=kind
        )
        return self._make_quote(
            und,
            kind,
            strike,
            expiry,
            exp_at,
            spot,
            price,
            greeks,
            sigma,
            "black_scholes",
            instrument,
        )


def _listed_name(exp: Expiry | None, kind: str, strike: float) -> str:
    if exp is None:
        return ""
    for k, name in exp.strikes[kind].items():
        if abs(k - strike) <= 1e-9 * max(1.0, abs(strike)):
            return name
    return ""
