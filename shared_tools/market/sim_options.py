"""The offline market's options: per-venue expiry calendars, strike grids and an IV smile.

The simulated market (:mod:`shared_tools.market.sim_model`) moves every underlying as a pure
function of (seed, symbol, time); this module lists options on it the way each venue does, so
``chain_for(venue, source="simulated")`` behaves like the venue offline (docs/architecture.md,
"Options chains"):

* **calendars** (:func:`expiry_instants`): Deribit and OKX list dailies (the next 3 days),
  Friday weeklies (the next 4), last-Friday monthlies (this month's and the next 3) and quarterlies
  (last Friday of Mar/Jun/Sep/Dec, a year out), all at 08:00 UTC; CME micro options (IBKR)
  Friday weeklies (next 4) and last-Friday monthlies (this month's and the next 3) at the CME close, 16:00
  America/Chicago (daylight saving included by the zone database; exchange holidays are not
  modelled); Robinhood equity options Friday weeklies (next 8) and third-Friday monthlies
  (six months) at 16:00 America/New_York.
* **strike grids** (:func:`strike_step`): Deribit BTC 1000 (500 within 10 % of spot), ETH 50,
  others 1 % of spot rounded to a 1-2-5 step; OKX BTC 1000, ETH 50; CME MBT 1000 (500 when
  spot <= 50k), MET 50 (25 when spot <= 1000); equities $1 / $5 / $10 by price as upstream.
  Listed from 1/4 to 4x the spot on the listing day (400 days before the expiry).
* **the smile** (:func:`smile_vol`): the at-the-money vol is the underlying's 30-day realized
  vol (sqrt 365, simulated daily closes) times a deterministic implied-over-realized premium
  (1.00 .. 1.20, a hashed function of seed, underlying and day); the wings add a skew and a
  curvature in log-moneyness per sqrt(year) (puts richer than calls, stronger on equities).
* **marks** (:func:`sim_quote`): Black-Scholes (:mod:`shared_tools.pricing`) at the smile vol
  of the strike; a call and a put at one strike share one vol, so put-call parity holds
  exactly. Settlement: the simulated price at the expiry instant.

Plain Python (no numpy/pandas): marks run in the light worker path.
"""

from __future__ import annotations

import calendar
import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from shared_tools import pricing
from shared_tools.market import sim_model as _sim
from shared_tools.market.common import as_utc

__all__ = [
    "DAY_S",
    "EQUITIES",
    "SimListing",
    "atm_vol",
    "daily_closes",
    "expiry_instant",
    "expiry_instants",
    "implied_vol_history",
    "listing",
    "realized_vol",
    "settlement_price",
    "sim_quote",
    "smile_vol",
    "strike_step",
]

DAY_S = 86400
RV_WINDOW = 30  # days of returns behind the simulated ATM vol
LISTING_LEAD_DAYS = 400  # an expiry is listed this long before it (longer than any horizon)
EQUITIES = frozenset({"SPY", "QQQ", "IWM", "AAPL", "MSFT", "NVDA", "TSLA", "AMZN", "META", "GOOG"})
_UTC8 = time(8, 0)
_CME_TZ = ZoneInfo("America/Chicago")
_NY_TZ = ZoneInfo("America/New_York")
_CLOSE_16 = time(16, 0)
VENUES = ("deribit", "okx", "ibkr", "robinhood")


def realized_vol(closes: Sequence[float], window: int = 14, annual_days: float = 365.0) -> float:
    """Annualised population std of the last ``window`` log returns (upstream's definition).

    The same formula as ``backtest/options_common.realized_vol``; ``nan`` with too few closes
    (the caller picks its default). ``annual_days`` 365 everywhere, equities included: our
    Black-Scholes time is calendar days / 365, so the vol must be per calendar year too
    (upstream's Robinhood used sqrt(252) against /365 time, ~17 % low).
    """
    if len(closes) < window + 1:
        return math.nan
    tail = [float(c) for c in closes[-(window + 1) :]]
    if any(not math.isfinite(c) or c <= 0 for c in tail):
        return math.nan
    rets = [math.log(tail[i] / tail[i - 1]) for i in range(1, len(tail))]
    mean = sum(rets) / window
    return math.sqrt(sum((r - mean) ** 2 for r in rets) / window * annual_days)


# ---- calendars ------------------------------------------------------------------------------


def _last_friday(year: int, month: int) -> date:
    last = date(year, month, calendar.monthrange(year, month)[1])
    return last - timedelta(days=(last.weekday() - 4) % 7)


def _third_friday(year: int, month: int) -> date:
    first = date(year, month, 1)
    return first + timedelta(days=(4 - first.weekday()) % 7 + 14)


def _months_ahead(d: date, n: int) -> list[tuple[int, int]]:
    out, y, m = [], d.year, d.month
    for _ in range(n):
        out.append((y, m))
        y, m = (y + 1, 1) if m == 12 else (y, m + 1)
    return out


def expiry_instant(venue: str, day: date) -> datetime:
    """The venue's expiry instant on ``day`` (UTC): 08:00 UTC for Deribit/OKX, the session
    close for CME (16:00 Chicago) and US equities (16:00 New York)."""
    v = venue.lower()
    if v in ("deribit", "okx"):
        return datetime.combine(day, _UTC8, tzinfo=UTC)
    zone = _CME_TZ if v in ("ibkr", "cme") else _NY_TZ
    return datetime.combine(day, _CLOSE_16, tzinfo=zone).astimezone(UTC)


def _candidate_days(venue: str, today: date) -> set[date]:
    fridays = [today + timedelta(days=(4 - today.weekday()) % 7 + 7 * i) for i in range(9)]
    v = venue.lower()
    if v in ("deribit", "okx"):
        days = {today + timedelta(days=i) for i in range(4)}
        days |= set(fridays[:4])
        days |= {_last_friday(y, m) for y, m in _months_ahead(today, 4)}
        days |= {_last_friday(y, m) for y, m in _months_ahead(today, 13) if m % 3 == 0}
    elif v in ("ibkr", "cme"):
        days = set(fridays[:4]) | {_last_friday(y, m) for y, m in _months_ahead(today, 4)}
    else:  # robinhood: US equity options
        days = set(fridays[:8]) | {_third_friday(y, m) for y, m in _months_ahead(today, 7)}
    return days


def expiry_instants(venue: str, now: datetime) -> list[datetime]:
    """Listed expiry instants after ``now`` on the venue's calendar, soonest first."""
    now = as_utc(now)
    days = _candidate_days(venue, now.date())
    return sorted(t for t in (expiry_instant(venue, d) for d in days) if t > now)


# ---- strikes --------------------------------------------------------------------------------


def _nice_step(x: float) -> float:
    """A 1-2-5 step near ``x`` (x > 0)."""
    mag = 10.0 ** math.floor(math.log10(x))
    for m in (1.0, 2.0, 5.0, 10.0):
        if x <= m * mag * 1.5:
            return m * mag
    return 10.0 * mag


def strike_step(venue: str, underlying: str, spot: float) -> float:
    """The listed strike spacing for an underlying at ``spot`` on a venue (module notes)."""
    und, v = underlying.upper(), venue.lower()
    if v == "robinhood" or und in EQUITIES:
        return 1.0 if spot < 100 else 5.0 if spot < 500 else 10.0
    if und == "BTC":
        return 500.0 if v in ("ibkr", "cme") and spot <= 50_000 else 1000.0
    if und == "ETH":
        return 25.0 if v in ("ibkr", "cme") and spot <= 1000 else 50.0
    return _nice_step(spot * 0.01)


@dataclass(frozen=True)
class SimListing:
    """One listed expiry of the simulated venue: its date, instant and strikes (both types)."""

    expiry: str
    expires_at: datetime
    strikes: tuple[float, ...]


def listing(venue: str, underlying: str, now: datetime, seed: int) -> list[SimListing]:
    """The simulated venue's open expiries with their strikes at ``now``.

    An expiry's strikes are fixed when it is listed (:data:`LISTING_LEAD_DAYS` before it, a
    moment always in the past while it trades): the venue's step at that day's price, from a
    quarter to four times it. So a strike never moves from one cycle to the next and the
    listing never reads a future price.
    """
    out = []
    for t in expiry_instants(venue, now):
        ref = _sim.price(
            underlying, _day_start(t - timedelta(days=LISTING_LEAD_DAYS)).timestamp(), seed
        )
        step = strike_step(venue, underlying, ref)
        lo = max(math.ceil(ref * 0.25 / step), 1)
        hi = math.floor(ref * 4.0 / step)
        strikes = tuple(float(k * step) for k in range(lo, hi + 1))
        out.append(SimListing(t.date().isoformat(), t, strikes))
    return out


# ---- vol ------------------------------------------------------------------------------------


def _day_start(t: datetime) -> datetime:
    return datetime.combine(as_utc(t).date(), time(0), tzinfo=UTC)


def daily_closes(underlying: str, now: datetime, count: int, seed: int) -> list[float]:
    """The last ``count`` closed daily closes (UTC days), oldest first: the path at midnight."""
    end = _day_start(now).timestamp()
    return [_sim.price(underlying, end - DAY_S * (count - 1 - i), seed) for i in range(count)]


def _premium(seed: int, underlying: str, day_index: int) -> float:
    key = _sim.mix_int(_sim.model(seed, _sim.sim_base(underlying)).vol_keys[0] ^ 0x1F00)
    return 1.10 + 0.10 * _sim.noise1(float(day_index) * 90.0, key, 6)  # 1.0 .. 1.2, smooth


def _atm_from(closes: Sequence[float], seed: int, underlying: str, day_index: int) -> float:
    rv = realized_vol(closes, RV_WINDOW)
    if not math.isfinite(rv) or rv <= 0:
        rv = 0.5
    return max(0.05, rv * _premium(seed, underlying, day_index))


def atm_vol(underlying: str, now: datetime, seed: int) -> float:
    """The simulated at-the-money implied vol at ``now`` (constant within a UTC day)."""
    closes = daily_closes(underlying, now, RV_WINDOW + 1, seed)
    return _atm_from(closes, seed, underlying, int(_day_start(now).timestamp() // DAY_S))


def implied_vol_history(underlying: str, now: datetime, days: int, seed: int) -> list[float]:
    """The ATM vol of each of the last ``days`` UTC days, oldest first."""
    if days <= 0:
        return []
    closes = daily_closes(underlying, now, days + RV_WINDOW, seed)
    today = int(_day_start(now).timestamp() // DAY_S)
    out = []
    for i in range(days):
        window = closes[i : i + RV_WINDOW + 1]
        out.append(_atm_from(window, seed, underlying, today - (days - 1 - i)))
    return out


def smile_vol(atm: float, spot: float, strike: float, dte_days: float, *, equity: bool) -> float:
    """Vol at ``strike``: ATM plus skew and curvature in log-moneyness per sqrt(year).

    ``z = ln(K/S) / sqrt(T)``; ``vol = atm * (1 + skew*z + curv*z^2)`` with skew -0.10 and
    curvature 0.06 for crypto, -0.25 / 0.05 for equities, clamped to [0.5, 3] x ATM.
    """
    t = max(dte_days, 1.0) / pricing.DAYS_PER_YEAR
    z = math.log(strike / spot) / math.sqrt(t)
    skew, curv = (-0.25, 0.05) if equity else (-0.10, 0.06)
    factor = min(max(1.0 + skew * z + curv * z * z, 0.5), 3.0)
    return atm * factor


def sim_quote(
    underlying: str, option_type: str, strike: float, spot: float, dte_days: float, atm: float
) -> tuple[float, dict[str, float], float]:
    """(premium USD per unit, greeks, vol) of one simulated option at its smile vol."""
    vol = smile_vol(atm, spot, strike, dte_days, equity=underlying.upper() in EQUITIES)
    price, greeks = pricing.bs_price_and_greeks(
        spot, strike, dte_days, vol, option_type=option_type
    )
    return price, greeks, vol


def settlement_price(
    underlying: str, expires_at: datetime, now: datetime, seed: int
) -> float | None:
    """The simulated index at the expiry instant, once ``now`` has passed it; else None."""
    if as_utc(now) < as_utc(expires_at):
        return None
    return _sim.price(underlying, as_utc(expires_at).timestamp(), seed)
