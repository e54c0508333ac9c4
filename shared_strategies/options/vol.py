"""Volatility inputs of the options strategies: upstream's "IV rank" under its true name.

Upstream's ``get_vol_metrics`` (upstream-options reference §2.5) is a *realized*-volatility
rank, not an implied one: the population std of the last 14 daily log returns, annualized,
ranked min-max among every 14-return window of about 90 daily closes. We port it exactly as
:func:`realized_vol_rank` and keep ``iv_rank`` as the wire/config name (configs and the output
document say ``iv_rank``). A real IV rank over the venue's at-the-money implied vols
(:func:`implied_vol_rank`, from ``OptionsChain.implied_vol_history``) is offered as a choice
(``check_options.py --iv-rank-source=implied``); the output says which one was used.

Annualization (a deliberate decision, docs/options.md): crypto venues trade every calendar
day, so sqrt(365). Robinhood keeps upstream's sqrt(252): its closes are equity sessions, one
return per trading day, so 252 of them make a year, and that is consistent with the
calendar-day time base of Black-Scholes (T = days / 365). The reference's Obs calling it
"~17% low" assumed a daily return per calendar day; it is not one on an equity tape.

Stdlib only.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

__all__ = [
    "DEFAULT_RANK",
    "RANK_CLOSES",
    "VOL_WINDOW",
    "fallback_vol",
    "implied_vol_rank",
    "min_max_rank",
    "periods_per_year",
    "realized_vol",
    "realized_vol_rank",
    "vol_metrics",
]

VOL_WINDOW = 14  # daily log returns per vol estimate (upstream §2.5)
RANK_CLOSES = 90  # daily closes fetched for the rank (upstream's limit=90)
DEFAULT_RANK = 50.0  # the rank when it cannot be computed (short history, flat range)
IMPLIED_MIN_SAMPLES = 5  # fewer daily IVs than this: no implied rank (upstream's class layer)
_FALLBACK_VOL = {"robinhood": 0.30}  # upstream: 0.60 for every other venue
_PERIODS = {"robinhood": 252.0}  # upstream: sqrt(365) elsewhere


def periods_per_year(platform: str) -> float:
    """Daily returns per year on ``platform``'s tape (365 crypto, 252 equities)."""
    return _PERIODS.get(platform, 365.0)


def fallback_vol(platform: str) -> float:
    """Upstream's vol when the closes are unusable (0.60, Robinhood 0.30)."""
    return _FALLBACK_VOL.get(platform, 0.60)


def _log_returns(closes: Sequence[float]) -> list[float]:
    return [math.log(closes[i] / closes[i - 1]) for i in range(1, len(closes))]


def _pop_std(xs: Sequence[float]) -> float:
    mean = sum(xs) / len(xs)
    return math.sqrt(sum((x - mean) ** 2 for x in xs) / len(xs))


def realized_vol(
    closes: Sequence[float], periods: float = 365.0, window: int = VOL_WINDOW
) -> float:
    """Annualized population std of the last ``window`` log returns (raises on short input)."""
    rets = _log_returns(closes)
    if len(rets) < window:
        raise ValueError(f"need {window} returns, have {len(rets)}")
    return _pop_std(rets[-window:]) * math.sqrt(periods)


def min_max_rank(current: float, history: Sequence[float]) -> float:
    """``(current - min) / (max - min) * 100`` clamped to [0, 100], 1 dp; flat range -> 50."""
    lo, hi = min(history), max(history)
    if hi == lo:
        return DEFAULT_RANK
    return round(min(max((current - lo) / (hi - lo) * 100.0, 0.0), 100.0), 1)


def realized_vol_rank(
    closes: Sequence[float], platform: str = "deribit", window: int = VOL_WINDOW
) -> tuple[float, float]:
    """Upstream's ``get_vol_metrics``: ``(vol rounded to 4 dp, rank 0..100 at 1 dp)``.

    Every ``window``-return window of ``closes`` (about 76 of them over 90 closes) is a vol
    in percent; the newest is ranked among them. Fewer than ``window + 1`` usable closes ->
    upstream's fallback ``(0.60, 50.0)`` (Robinhood ``(0.30, 50.0)``).
    """
    fallback = (fallback_vol(platform), DEFAULT_RANK)
    try:
        xs = [float(c) for c in closes]
        if len(xs) < window + 1 or any(not (math.isfinite(c) and c > 0) for c in xs):
            return fallback
        rets = _log_returns(xs)
        scale = math.sqrt(periods_per_year(platform)) * 100.0
        vols = [_pop_std(rets[i - window : i]) * scale for i in range(window, len(rets) + 1)]
    except (TypeError, ValueError, ZeroDivisionError):
        return fallback
    return round(vols[-1] / 100.0, 4), min_max_rank(vols[-1], vols)


def implied_vol_rank(history: Sequence[float]) -> float | None:
    """Min-max rank of the newest at-the-money implied vol among ``history`` (oldest first);
    None with fewer than 5 usable samples (the caller then falls back to the realized rank)."""
    xs = [float(v) for v in history if isinstance(v, (int, float)) and math.isfinite(v) and v > 0]
    if len(xs) < IMPLIED_MIN_SAMPLES:
        return None
    return min_max_rank(xs[-1], xs)


def vol_metrics(
    closes: Sequence[float],
    platform: str,
    *,
    source: str = "realized",
    implied_history: Sequence[float] = (),
) -> tuple[float, float, str]:
    """``(vol_annual, iv_rank, iv_rank_source)``: the vol is always the realized one (the
    Black-Scholes fallback's sigma, as upstream); the rank is realized unless ``source`` is
    ``"implied"`` and the venue has enough implied history."""
    vol, rank = realized_vol_rank(closes, platform)
    if source == "implied":
        implied = implied_vol_rank(implied_history)
        if implied is not None:
            return vol, implied, "implied_vol"
    return vol, rank, "realized_vol"
