"""Causal technical indicators on pandas objects.

Conventions (shared by every function here):

* Inputs are float Series, or OHLCV frames with ``open/high/low/close/volume``
  columns indexed by bar *open* time (UTC). Outputs keep the input index.
* Every indicator is causal: the value at row ``i`` depends only on rows
  ``<= i``.  Only trailing ``rolling`` windows, ``ewm(adjust=False)`` and
  forward recursions are used, so computing on ``df.iloc[:k]`` reproduces the
  first ``k`` rows of the full computation exactly.  This is what lets
  strategies honour the closed-bar contract (appending a bar never changes an
  earlier signal).
* Warm-up rows are NaN rather than padded or back-filled; callers treat NaN as
  "no opinion".
* Formulas follow TA-Lib's definitions so values agree with ``talib`` once the
  (differently seeded) recursive averages have converged.  Wilder averages are
  seeded exactly like TA-Lib, so RSI, Wilder ATR and ADX/DI match it from
  the first output bar; EMA-based ones (EMA, MACD) converge after warm-up.

Where upstream go-trader's strategies use other conventions (see the upstream
catalogue, section 2), these are the deliberate differences, kept on purpose:

* EMA / MACD: upstream's EMA has no warm-up (a value from bar 0); ours is NaN
  for the first ``period-1`` bars, so an EMA cross cannot fire on bar 1.
* RSI: upstream seeds Wilder's averages with the first delta; ours seeds them
  with the SMA of the first ``period`` deltas (TA-Lib).  Same first valid bar
  (``period``), values converge.  A flat window is 50 here, NaN upstream.
* Bollinger std: TA-Lib's population std by default, ``ddof=1`` gives upstream's
  sample std (the ``bollinger_bands`` strategy uses that).  :func:`zscore` is
  sample std like upstream.
* ROC is evaluated in upstream's order (see :func:`roc`).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

__all__ = [
    "adx",
    "atr",
    "bollinger",
    "donchian",
    "ema",
    "macd",
    "roc",
    "rsi",
    "sma",
    "stoch_rsi",
    "true_range",
    "vwap",
    "wilder_rma",
    "zscore",
]


def _check_period(period: int, name: str = "period") -> int:
    """Reject non-positive / non-integral windows early with a clear message."""
    if isinstance(period, bool) or int(period) != period or period < 1:
        raise ValueError(f"{name} must be a positive integer, got {period!r}")
    return int(period)


def sma(s: pd.Series, period: int) -> pd.Series:
    """Simple moving average; NaN until ``period`` bars are available."""
    period = _check_period(period)
    return s.rolling(period, min_periods=period).mean()


def ema(s: pd.Series, period: int) -> pd.Series:
    """Exponential moving average with alpha = 2/(period+1).

    ``adjust=False`` makes it the plain recursion ``y[i] = a*x[i] + (1-a)*y[i-1]``
    seeded with the first value (TA-Lib seeds with an SMA instead; the two
    converge after warm-up).  The first ``period-1`` valid rows are NaN so the
    not-yet-meaningful seed phase never drives a signal.
    """
    period = _check_period(period)
    return s.ewm(span=period, adjust=False, min_periods=period).mean()


def _rma(values: np.ndarray, seed_at: int, seed: float, period: int) -> np.ndarray:
    """Wilder recursion ``y[i] = y[i-1] + (x[i] - y[i-1]) / period`` from ``seed_at``."""
    out = np.full(len(values), np.nan)
    if seed_at < len(values):
        tail = values[seed_at:].copy()
        tail[0] = seed
        out[seed_at:] = pd.Series(tail).ewm(alpha=1.0 / period, adjust=False).mean().to_numpy()
    return out


def wilder_rma(s: pd.Series, period: int) -> pd.Series:
    """Wilder's running moving average (alpha = 1/period), TA-Lib seeded.

    The first output sits on the ``period``-th valid value and equals the simple
    mean of those ``period`` values; afterwards
    ``y[i] = y[i-1] + (x[i] - y[i-1]) / period``.  Leading NaNs are skipped;
    the series is assumed to have no interior gaps.
    """
    period = _check_period(period)
    values = s.to_numpy(dtype=float, na_value=np.nan)
    out = np.full(len(values), np.nan)
    valid = np.flatnonzero(~np.isnan(values))
    if len(valid) >= period:
        start = int(valid[0])
        seed_at = start + period - 1
        out = _rma(values, seed_at, values[start : seed_at + 1].mean(), period)
    return pd.Series(out, index=s.index, name=s.name)


def _wilder_sum_seeded(s: pd.Series, period: int) -> np.ndarray:
    """Wilder RMA seeded the way TA-Lib seeds the DM/TR sums behind +DI/-DI.

    TA-Lib starts from the *sum* of the first ``period-1`` values and then
    applies ``S = S - S/period + x``; dividing by ``period`` turns that into an
    RMA whose seed is ``sum(first period-1)/period``.  Output starts at the
    ``period``-th valid value (the seed row itself is hidden), so DI ratios
    match TA-Lib from its first output bar.
    """
    values = s.to_numpy(dtype=float, na_value=np.nan)
    valid = np.flatnonzero(~np.isnan(values))
    if len(valid) < period:
        return np.full(len(values), np.nan)
    start = int(valid[0])
    seed_at = start + period - 2
    out = _rma(values, seed_at, values[start : seed_at + 1].sum() / period, period)
    out[seed_at] = np.nan
    return out


def rsi(s: pd.Series, period: int = 14) -> pd.Series:
    """Wilder RSI in [0, 100]; first value at row ``period`` (as TA-Lib).

    RSI = 100 * avg_gain / (avg_gain + avg_loss).  A completely flat window
    (no gains and no losses) is reported as the neutral 50 (TA-Lib says 0),
    so flat data never looks "oversold".
    """
    period = _check_period(period)
    delta = s.diff()
    gain = wilder_rma(delta.clip(lower=0.0), period)
    loss = wilder_rma(-delta.clip(upper=0.0), period)
    total = gain + loss
    out = (100.0 * gain / total.where(total != 0)).where(total != 0, 50.0)
    return out.where(gain.notna()).rename(s.name)


def stoch_rsi(
    s: pd.Series,
    rsi_period: int = 14,
    stoch_period: int = 14,
    k_smooth: int = 3,
    d_smooth: int = 3,
) -> pd.DataFrame:
    """Stochastic RSI: columns ``rsi``, ``k`` and ``d`` (upstream's definition).

    ``raw = 100 * (RSI - min) / (max - min)`` over the last ``stoch_period`` RSI
    values (a flat window, max == min, is NaN), ``k = SMA(raw, k_smooth)``,
    ``d = SMA(k, d_smooth)``.  RSI is :func:`rsi` (TA-Lib seeded).
    """
    stoch_period = _check_period(stoch_period, "stoch_period")
    r = rsi(s, rsi_period)
    roll = r.rolling(stoch_period, min_periods=stoch_period)
    low, high = roll.min(), roll.max()
    span = high - low
    raw = 100.0 * (r - low) / span.where(span != 0)
    k = sma(raw, _check_period(k_smooth, "k_smooth"))
    d = sma(k, _check_period(d_smooth, "d_smooth"))
    return pd.DataFrame({"rsi": r, "k": k, "d": d}, index=s.index)


def macd(s: pd.Series, fast: int = 12, slow: int = 26, signal: int = 9) -> pd.DataFrame:
    """MACD line (EMA fast - EMA slow), its EMA signal line and the histogram."""
    line = ema(s, fast) - ema(s, slow)
    sig = ema(line, signal)
    return pd.DataFrame({"macd": line, "signal": sig, "hist": line - sig}, index=s.index)


def bollinger(s: pd.Series, period: int = 20, num_std: float = 2.0, ddof: int = 0) -> pd.DataFrame:
    """Bollinger bands: SMA +/- num_std * rolling std over ``period`` bars.

    ``ddof=0`` (the default) is the population std TA-Lib's BBANDS uses.
    Upstream go-trader's ``bollinger_bands`` strategy uses the pandas default,
    the *sample* std (``ddof=1``), whose bands are sqrt(N/(N-1)) wider; that
    strategy passes ``ddof=1`` explicitly.
    """
    period = _check_period(period)
    if ddof not in (0, 1):
        raise ValueError(f"ddof must be 0 (population, TA-Lib) or 1 (sample), got {ddof!r}")
    roll = s.rolling(period, min_periods=period)
    middle = roll.mean()
    width = num_std * roll.std(ddof=ddof)
    return pd.DataFrame(
        {"upper": middle + width, "middle": middle, "lower": middle - width}, index=s.index
    )


def true_range(df: pd.DataFrame) -> pd.Series:
    """max(high-low, |high-prev_close|, |low-prev_close|); NaN on the first bar.

    The first bar has no previous close, so (like TA-Lib's TRANGE) it has no
    true range; this also makes Wilder ATR seeding identical to TA-Lib's.
    """
    prev_close = df["close"].shift(1)
    ranges = pd.concat(
        [
            df["high"] - df["low"],
            (df["high"] - prev_close).abs(),
            (df["low"] - prev_close).abs(),
        ],
        axis=1,
    )
    return ranges.max(axis=1, skipna=False).rename("true_range")


def atr(df: pd.DataFrame, period: int = 14, method: str = "simple") -> pd.Series:
    """Average true range: ``simple`` rolling mean or ``wilder`` RMA (talib.ATR)."""
    tr = true_range(df)
    if method == "simple":
        out = sma(tr, period)
    elif method == "wilder":
        out = wilder_rma(tr, period)
    else:
        raise ValueError(f"atr method must be 'simple' or 'wilder', got {method!r}")
    return out.rename("atr")


def adx(df: pd.DataFrame, period: int = 14) -> pd.DataFrame:
    """Wilder ADX with +DI / -DI, seeded exactly like TA-Lib (``period >= 2``).

    +DM = up-move if it exceeds the down-move and is positive (mirror for -DM);
    DI = 100 * smoothed(DM) / smoothed(TR); DX = 100 * |+DI - -DI| / (+DI + -DI);
    ADX = Wilder RMA of DX.  DI starts at row ``period``, ADX at ``2*period-1``.
    DI is 0 when the smoothed true range is 0, and DX is 0 when there is no
    directional movement at all (TA-Lib's conventions for flat data).
    """
    period = _check_period(period)
    if period < 2:
        raise ValueError(f"adx period must be >= 2, got {period}")
    up = df["high"].diff()
    down = -df["low"].diff()
    valid = up.notna() & down.notna()
    plus_dm = up.where((up > down) & (up > 0), 0.0).where(valid)
    minus_dm = down.where((down > up) & (down > 0), 0.0).where(valid)
    tr = _wilder_sum_seeded(true_range(df), period)
    safe_tr = np.where(tr != 0, tr, np.nan)
    plus = np.where(tr != 0, 100.0 * _wilder_sum_seeded(plus_dm, period) / safe_tr, 0.0)
    minus = np.where(tr != 0, 100.0 * _wilder_sum_seeded(minus_dm, period) / safe_tr, 0.0)
    plus[np.isnan(tr)] = np.nan
    minus[np.isnan(tr)] = np.nan
    di_sum = plus + minus
    safe_sum = np.where(di_sum != 0, di_sum, np.nan)
    dx = np.where(di_sum != 0, 100.0 * np.abs(plus - minus) / safe_sum, 0.0)
    dx[np.isnan(di_sum)] = np.nan
    return pd.DataFrame(
        {
            "adx": wilder_rma(pd.Series(dx, index=df.index), period),
            "plus_di": plus,
            "minus_di": minus,
        },
        index=df.index,
    )


def roc(s: pd.Series, period: int) -> pd.Series:
    """Rate of change in percent: ``100 * (s - s[i-period]) / s[i-period]``.

    Same value as talib.ROC (``(s/s0 - 1) * 100``) up to float rounding, but
    evaluated in upstream go-trader's order so exact ties agree with upstream
    (e.g. 100 -> 105 gives exactly 5.0 here; ``105/100 - 1`` gives 5.0000000000000044).
    """
    period = _check_period(period)
    prev = s.shift(period)
    return 100.0 * (s - prev) / prev


def donchian(df: pd.DataFrame, period: int = 20) -> pd.DataFrame:
    """Donchian channel over the last ``period`` bars *including* the current one.

    Breakout rules that must compare against the prior channel should shift it.
    """
    period = _check_period(period)
    upper = df["high"].rolling(period, min_periods=period).max()
    lower = df["low"].rolling(period, min_periods=period).min()
    return pd.DataFrame(
        {"upper": upper, "lower": lower, "middle": (upper + lower) / 2.0}, index=df.index
    )


def vwap(df: pd.DataFrame, period: int | None = None) -> pd.Series:
    """Volume-weighted typical price ((h+l+c)/3).

    ``period=None`` accumulates from the first bar of ``df`` (anchored VWAP);
    otherwise it is a rolling VWAP over the last ``period`` bars.  Windows with
    zero total volume are NaN.
    """
    typical = (df["high"] + df["low"] + df["close"]) / 3.0
    volume = df["volume"]
    if period is None:
        pv, vol = (typical * volume).cumsum(), volume.cumsum()
    else:
        period = _check_period(period)
        pv = (typical * volume).rolling(period, min_periods=period).sum()
        vol = volume.rolling(period, min_periods=period).sum()
    return (pv / vol.where(vol != 0)).rename("vwap")


def zscore(s: pd.Series, lookback: int) -> pd.Series:
    """(s - rolling mean) / rolling sample std (ddof=1) over ``lookback`` bars.

    Sample std matches pandas' default used by the upstream strategies.  A
    zero-variance window gives NaN (no opinion) instead of +/-inf.
    """
    lookback = _check_period(lookback, "lookback")
    roll = s.rolling(lookback, min_periods=lookback)
    std = roll.std()
    return (s - roll.mean()) / std.where(std > 0)
