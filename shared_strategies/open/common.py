"""Pure helpers shared by the open-strategy modules (no strategy is registered here).

One implementation of each upstream convention the strategies rely on:

* :func:`frame` builds a result (int ``signal`` plus float indicator columns);
* :func:`buy_sell` combines buy/sell masks ("-1 wins ties" or "+1 else -1");
* :func:`cross_above` / :func:`cross_below` (catalogue §0: NaN on either bar is no cross),
  :func:`prior_any` (a condition held on one of the previous ``window`` bars) and
  :func:`signal_from_position` (clipped change of a carried position);
* :func:`warm_rows`: upstream's "whole frame shorter than N -> all zeros" guard, applied per
  row (row ``i`` counts as a frame of ``i + 1`` bars) so it stays causal;
* :func:`round_large_atr` / :func:`atr_rounded`: upstream's ATR >= 100 rounding (§2.2);
* :func:`htf_buckets` / :func:`project`: closed higher-timeframe buckets read on native bars;
* :func:`squeeze_momentum_parts`: the squeeze-momentum rule (§3.18) that squeeze_momentum and
  sweep_squeeze_combo both use.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from shared_strategies.open.specs import FUTURES_LIKE
from shared_tools import indicators as ind

Level = float | pd.Series

# Variants for strategies whose ``allow_short`` defaults on where shorting exists.
SHORT_ON_FUTURES: dict[str, dict[str, Any]] = {p: {"allow_short": True} for p in FUTURES_LIKE}


# ------------------------------------------------------------------- result + signal


def frame(df: pd.DataFrame, signal: Any, **columns: Any) -> pd.DataFrame:
    """The strategy result: int ``signal`` plus float indicator columns, indexed like ``df``."""
    out = pd.DataFrame({"signal": np.asarray(signal, dtype="int64")}, index=df.index)
    for key, col in columns.items():
        out[key] = np.asarray(col, dtype="float64")
    return out


def _mask(x: Any) -> np.ndarray:
    if isinstance(x, pd.Series):
        x = x.fillna(False)
    return np.asarray(x, dtype=bool)


def buy_sell(buy: Any, sell: Any, *, short_wins: bool = True) -> np.ndarray:
    """+1 on buy bars, -1 on sell bars (NaN counts as false).

    ``short_wins`` is upstream's "-1 wins ties" (it writes the short last); without it a bar
    that is both is +1 (upstream evaluates the short only when the long fails).
    """
    buy_, sell_ = _mask(buy), _mask(sell)
    if short_wins:
        return np.where(sell_, -1, np.where(buy_, 1, 0)).astype("int64")
    return np.where(buy_, 1, np.where(sell_, -1, 0)).astype("int64")


def signal_from_position(pos: Any) -> np.ndarray:
    """Clipped bar-to-bar change of a carried position (bar 0 against a flat start)."""
    return np.clip(np.diff(np.asarray(pos, dtype="int64"), prepend=0), -1, 1)


# ------------------------------------------------------------- crosses and windows


def _prev(level: Level) -> Level:
    return level.shift(1) if isinstance(level, pd.Series) else level


def cross_above(x: pd.Series, level: Level) -> pd.Series:
    """``x > level`` now and ``x <= level`` on the previous bar (NaN anywhere -> False)."""
    return ((x > level) & (x.shift(1) <= _prev(level))).fillna(False).astype(bool)


def cross_below(x: pd.Series, level: Level) -> pd.Series:
    """``x < level`` now and ``x >= level`` on the previous bar (NaN anywhere -> False)."""
    return ((x < level) & (x.shift(1) >= _prev(level))).fillna(False).astype(bool)


def prior_any(cond: pd.Series, window: int) -> pd.Series:
    """True at bar i iff ``cond`` held on one of bars ``i-window .. i-1`` (false for i < window)."""
    if window <= 0:
        return pd.Series(False, index=cond.index)
    held = cond.fillna(False).astype(float).shift(1).rolling(window, min_periods=window).max()
    return held > 0.0


def warm_rows(n: int, min_len: int) -> np.ndarray:
    """Rows ``i`` with ``i + 1 < min_len``: upstream's short-frame guard, applied per row."""
    return np.arange(n) + 1 < min_len


# ------------------------------------------------------------------------------ ATR


def round_large_atr(atr: pd.Series) -> pd.Series:
    """Upstream's ATR >= 100 rule: round to an integer (half-to-even), smaller values kept."""
    return atr.where(~(atr >= 100.0), np.round(atr))


def atr_rounded(df: pd.DataFrame, period: int) -> pd.Series:
    """Simple ATR with upstream's >= 100 rounding."""
    return round_large_atr(ind.atr(df, period, "simple"))


def ratio_or_zero(num: pd.Series, denom: pd.Series) -> pd.Series:
    """``num / denom`` where ``denom > 0``, else 0.0 (upstream's guarded ratios)."""
    safe = denom.where(denom > 0)
    return (num / safe).where(denom > 0, 0.0)


# ------------------------------------------------------------- HTF resampling (§2.5)

_OHLC = ("open", "high", "low", "close")
_AGG = {"open": "first", "high": "max", "low": "min", "close": "last"}


def htf_buckets(
    df: pd.DataFrame, factor: int, columns: tuple[str, ...] = _OHLC
) -> tuple[pd.DataFrame, np.ndarray]:
    """Closed higher-timeframe buckets and, per native bar, the newest readable bucket.

    Buckets are ``factor`` native cadences wide, aligned to the Unix epoch; a bucket becomes
    readable on the native bar whose close completes it (label + width - cadence), so the
    forming bucket is never read. Without a DatetimeIndex of >= 3 rows (or with a zero
    cadence) buckets are ``factor`` consecutive rows from the frame start. Returns the bucket
    frame of ``columns`` (in order) and an int array: bucket ordinal readable at each bar, -1
    if none.
    """
    n = len(df)
    idx = df.index
    agg = {c: _AGG[c] for c in columns}
    if isinstance(idx, pd.DatetimeIndex) and n >= 3:
        stamps = np.asarray(idx.asi8, dtype="int64")
        values, counts = np.unique(np.diff(stamps), return_counts=True)
        cadence = int(values[np.argmax(counts)])  # most common spacing (smallest on ties)
        if cadence > 0:
            width = cadence * factor
            labels = (stamps // width) * width
            buckets = df[list(columns)].groupby(labels, sort=True).agg(agg)
            readable = buckets.index.to_numpy(dtype="int64") + width - cadence
            visible = np.searchsorted(readable, stamps, side="right") - 1
            return buckets.reset_index(drop=True), visible.astype("int64")
    count = n // factor
    rows = np.arange(count * factor) // factor
    part = df[list(columns)].iloc[: count * factor]
    buckets = part.groupby(rows, sort=True).agg(agg)
    visible = (np.arange(n) + 1) // factor - 1
    return buckets.reset_index(drop=True), visible.astype("int64")


def project(values: Any, visible: np.ndarray, fill: Any) -> np.ndarray:
    """Per-bucket ``values`` read on native bars (``fill`` where no bucket is readable yet)."""
    values = np.asarray(values)
    out = np.full(len(visible), fill, dtype=np.result_type(values.dtype, np.asarray(fill).dtype))
    seen = visible >= 0
    out[seen] = values[visible[seen]]
    return out


# ---------------------------------------------------------------- squeeze momentum


def linreg_end(x: pd.Series, length: int) -> pd.Series:
    """Value at the last point of the least-squares line through the last ``length`` values.

    NaN while any value in the window is NaN. ``length == 1`` is the value itself.
    """
    values = x.to_numpy(dtype=float)
    out = np.full(len(values), np.nan)
    if len(values) >= length:
        windows = np.lib.stride_tricks.sliding_window_view(values, length)
        mean = windows.mean(axis=1)
        if length > 1:
            w = np.arange(length) - (length - 1) / 2.0
            slope = (windows @ w) / (w @ w)
            out[length - 1 :] = mean + slope * (length - 1) / 2.0
        else:
            out[length - 1 :] = mean
    return pd.Series(out, index=x.index)


def squeeze_momentum_parts(
    df: pd.DataFrame,
    bb_period: int,
    bb_std: float,
    kc_period: int,
    kc_mult: float,
    mom_lookback: int,
) -> tuple[pd.Series, pd.Series, pd.Series, pd.Series]:
    """Squeeze state, momentum and the buy/sell masks of the §3.18 rule.

    Bollinger on the sample std (as upstream) inside a Keltner channel of EMA(kc_period) +/-
    kc_mult x simple, unrounded ATR(kc_period). Momentum is the end point of the
    least-squares line through the last ``mom_lookback`` deltas of close from the midline
    ``(Donchian mid + Bollinger mid) / 2``. Fires on the bar the squeeze turns off, long with
    positive rising momentum, short with negative falling momentum.
    """
    close = df["close"]
    bb = ind.bollinger(close, bb_period, bb_std, ddof=1)  # upstream: sample std
    bb_upper, bb_mid, bb_lower = bb["upper"], bb["middle"], bb["lower"]
    kc_mid = ind.ema(close, kc_period)
    kc_atr = ind.atr(df, kc_period, "simple")  # unrounded, as upstream
    kc_upper, kc_lower = kc_mid + kc_mult * kc_atr, kc_mid - kc_mult * kc_atr
    valid = bb_upper.notna() & kc_upper.notna()
    squeeze_on = ((bb_lower > kc_lower) & (bb_upper < kc_upper)).fillna(False)
    midline = (ind.donchian(df, kc_period)["middle"] + bb_mid) / 2.0
    mom = linreg_end(close - midline, mom_lookback)
    fired = ~squeeze_on & squeeze_on.shift(1, fill_value=False) & valid
    prev_mom = mom.shift(1)
    buy = fired & (mom > 0) & (mom > prev_mom)
    sell = fired & (mom < 0) & (mom < prev_mom)
    return squeeze_on, mom, buy, sell


def stoch_rsi_parts(
    close: pd.Series,
    rsi_period: int,
    stoch_period: int,
    k_smooth: int,
    d_smooth: int,
    overbought: float,
    oversold: float,
) -> tuple[pd.DataFrame, pd.Series, pd.Series]:
    """Stochastic RSI and the §3.14 masks: %K crossing %D below oversold / above overbought."""
    st = ind.stoch_rsi(close, rsi_period, stoch_period, k_smooth, d_smooth)
    k, d = st["k"], st["d"]
    return st, cross_above(k, d) & (k < oversold), cross_below(k, d) & (k > overbought)


def path_efficiency(close: pd.Series, net: pd.Series, diffs: int) -> pd.Series:
    """Kaufman efficiency ``|net| / sum|dclose|`` over the last ``diffs`` changes; 0 if no path."""
    if diffs < 1:
        return pd.Series(0.0, index=close.index)
    path = close.diff().abs().rolling(diffs, min_periods=diffs).sum()
    return ratio_or_zero(net.abs(), path)
