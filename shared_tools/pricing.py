"""Black-Scholes prices, greeks and implied volatility for European options (pure Python).

Upstream's conventions (so figures agree with go-trader's check scripts and reports):

* time in years is ``dte_days / 365`` (crypto trades every calendar day);
* ``delta`` per unit of underlying (a put's is ``N(d1) - 1``), ``gamma`` per $1 of spot,
  ``theta`` in USD per calendar day (the annual figure / 365), ``vega`` in USD per one vol
  point (the per-1.0 figure / 100);
* :func:`bs_greeks` rounds like upstream (delta 4 dp, gamma 6 dp, theta and vega 2 dp);
  ``rounded=False`` gives the exact figures;
* an expired option or unusable input (non-positive or non-finite spot, strike, days or vol)
  is worth its intrinsic value and has zero greeks.

Only the standard library is imported at module level (the normal CDF is ``math.erf``), so
the supervisor may import this module; :func:`implied_volatility` imports scipy lazily and
falls back to bisection without it.
"""

from __future__ import annotations

import math

__all__ = [
    "DAYS_PER_YEAR",
    "RISK_FREE_RATE",
    "bs_greeks",
    "bs_price",
    "bs_price_and_greeks",
    "implied_volatility",
    "intrinsic",
]

DAYS_PER_YEAR = 365.0
RISK_FREE_RATE = 0.05
IV_BOUNDS = (0.01, 10.0)  # the vol range implied_volatility searches (1% .. 1000%)
_SQRT_2PI = math.sqrt(2.0 * math.pi)
_ZERO_GREEKS = {"delta": 0.0, "gamma": 0.0, "theta": 0.0, "vega": 0.0}


def _ncdf(x: float) -> float:
    return 0.5 * (1.0 + math.erf(x / math.sqrt(2.0)))


def _npdf(x: float) -> float:
    return math.exp(-0.5 * x * x) / _SQRT_2PI


def _kind(option_type: str) -> str:
    kind = str(option_type).strip().lower()
    if kind not in ("call", "put"):
        raise ValueError(f"option_type must be 'call' or 'put', not {option_type!r}")
    return kind


def _finite_pos(*xs: float) -> bool:
    return all(
        isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x) and x > 0
        for x in xs
    )


def intrinsic(spot: float, strike: float, option_type: str = "call") -> float:
    """What the option pays at expiry: ``max(S - K, 0)`` for a call, ``max(K - S, 0)`` a put."""
    kind = _kind(option_type)
    if not _finite_pos(spot, strike):
        return 0.0
    return max(spot - strike, 0.0) if kind == "call" else max(strike - spot, 0.0)


def _priceable(spot: float, strike: float, dte_days: float, vol: float, r: float) -> bool:
    return (
        _finite_pos(spot, strike, dte_days, vol)
        and isinstance(r, (int, float))
        and (math.isfinite(r))
    )


def _core(
    spot: float, strike: float, dte_days: float, vol: float, r: float, kind: str
) -> tuple[float, dict[str, float]]:
    """Price and exact greeks of a priceable option."""
    t = dte_days / DAYS_PER_YEAR
    sq = vol * math.sqrt(t)
    d1 = (math.log(spot / strike) + (r + 0.5 * vol * vol) * t) / sq
    d2 = d1 - sq
    disc = strike * math.exp(-r * t)
    pdf = _npdf(d1)
    gamma = pdf / (spot * sq)
    vega = spot * pdf * math.sqrt(t) / 100.0
    decay = -spot * pdf * vol / (2.0 * math.sqrt(t))
    if kind == "call":
        price = spot * _ncdf(d1) - disc * _ncdf(d2)
        delta = _ncdf(d1)
        theta_year = decay - r * disc * _ncdf(d2)
    else:
        price = disc * _ncdf(-d2) - spot * _ncdf(-d1)
        delta = _ncdf(d1) - 1.0
        theta_year = decay + r * disc * _ncdf(-d2)
    greeks = {"delta": delta, "gamma": gamma, "theta": theta_year / DAYS_PER_YEAR, "vega": vega}
    return max(price, 0.0), greeks


def _round(greeks: dict[str, float]) -> dict[str, float]:
    return {
        "delta": round(greeks["delta"], 4),
        "gamma": round(greeks["gamma"], 6),
        "theta": round(greeks["theta"], 2),
        "vega": round(greeks["vega"], 2),
    }


def bs_price_and_greeks(
    spot: float,
    strike: float,
    dte_days: float,
    vol: float,
    risk_free: float = RISK_FREE_RATE,
    option_type: str = "call",
    *,
    rounded: bool = True,
) -> tuple[float, dict[str, float]]:
    """``(price in USD per unit of underlying, greeks)``; see the module notes for units."""
    kind = _kind(option_type)
    if not _priceable(spot, strike, dte_days, vol, risk_free):
        return intrinsic(spot, strike, kind), dict(_ZERO_GREEKS)
    price, greeks = _core(float(spot), float(strike), float(dte_days), float(vol), risk_free, kind)
    return price, (_round(greeks) if rounded else greeks)


def bs_price(
    spot: float,
    strike: float,
    dte_days: float,
    vol: float,
    risk_free: float = RISK_FREE_RATE,
    option_type: str = "call",
) -> float:
    """Black-Scholes value in USD per unit of underlying."""
    return bs_price_and_greeks(spot, strike, dte_days, vol, risk_free, option_type)[0]


def bs_greeks(
    spot: float,
    strike: float,
    dte_days: float,
    vol: float,
    risk_free: float = RISK_FREE_RATE,
    option_type: str = "call",
    *,
    rounded: bool = True,
) -> dict[str, float]:
    """``{delta, gamma, theta, vega}`` in upstream's units (rounded unless ``rounded=False``)."""
    return bs_price_and_greeks(
        spot, strike, dte_days, vol, risk_free, option_type, rounded=rounded
    )[1]


def implied_volatility(
    price: float,
    spot: float,
    strike: float,
    dte_days: float,
    risk_free: float = RISK_FREE_RATE,
    option_type: str = "call",
    *,
    tol: float = 1e-8,
) -> float | None:
    """The vol in [0.01, 10] whose Black-Scholes price is ``price``; None when none is.

    The price rises with vol, so a root exists only between the prices at the two bounds;
    a price outside them (below intrinsic-plus-carry, above the spot, or bad input) has no
    implied vol here. Brent's method (scipy, imported on first use) brackets the root;
    without scipy the same bracket is bisected.
    """
    kind = _kind(option_type)
    if not (_finite_pos(price, spot, strike, dte_days) and math.isfinite(risk_free)):
        return None
    lo, hi = IV_BOUNDS

    def gap(v: float) -> float:
        return _core(spot, strike, dte_days, v, risk_free, kind)[0] - price

    g_lo, g_hi = gap(lo), gap(hi)
    if g_lo > 0 or g_hi < 0:
        return None
    if g_lo == 0:
        return lo
    if g_hi == 0:
        return hi
    try:
        from scipy.optimize import brentq
    except ImportError:  # pragma: no cover - scipy is a dependency of the workers
        return _bisect(gap, lo, hi, tol)
    return float(brentq(gap, lo, hi, xtol=tol, maxiter=200))


def _bisect(gap, lo: float, hi: float, tol: float) -> float:
    for _ in range(200):
        mid = 0.5 * (lo + hi)
        if gap(mid) > 0:
            hi = mid
        else:
            lo = mid
        if hi - lo < tol:
            break
    return 0.5 * (lo + hi)
