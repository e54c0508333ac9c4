"""Open strategies: the anchored-VWAP family (upstream catalogue §3.37-§3.39).

VWAP anchored at the latest confirmed strict swing pivot: reclaim/loss (anchored_vwap), a
support/resistance channel of two anchors (anchored_vwap_channel) and an ATR-band stretch
and snap-back (anchored_vwap_reversion). These are strategies upstream operators actually run
(visible in discovery), so the rules follow the catalogue to the letter: comparisons
inclusive/exclusive as written, "+1 else -1" where upstream evaluates the short only when the
long fails.

Deliberate differences from upstream (shared by the whole port, see shared_tools/indicators.py):

* Indicators come from :mod:`shared_tools.indicators`: EMA is NaN for its first ``period-1``
  bars, RSI/ADX are TA-Lib seeded, the true range of bar 0 is NaN (so a simple ATR(N) is first
  valid on bar N, one bar later than upstream's). A rule never fires from a NaN operand.
* Upstream returns all zeros when the *whole frame* is shorter than a minimum length. That
  breaks the closed-bar contract (bar i's signal would depend on how many bars follow it), so
  we zero the signal on every *row* ``i`` with ``i + 1 <`` that minimum instead. On the last
  bar (the live decision) this is identical, and the guarded rows report the same indicator
  values upstream's short frame reports.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from numpy.lib.stride_tricks import sliding_window_view

from shared_strategies.open.common import atr_rounded, buy_sell, frame, warm_rows
from shared_strategies.open.specs import DEFAULT_PLATFORMS, register
from shared_tools import indicators as ind

# ----------------------------------------------------------------------------- helpers


def _strict_pivots(x: np.ndarray, k: int, highs: bool) -> np.ndarray:
    """Bar p is a pivot when x[p] is the extreme of x[p-k..p+k] and that extreme occurs once.

    Only bars ``k <= p <= n-k-1`` can be pivots; a pivot becomes known at bar ``p + k``.
    A NaN in the window makes the extreme NaN, so no pivot.
    """
    n = len(x)
    out = np.zeros(n, dtype=bool)
    width = 2 * k + 1
    if n < width:
        return out
    win = sliding_window_view(x, width)
    ext = win.max(axis=1) if highs else win.min(axis=1)
    unique = (win == ext[:, None]).sum(axis=1) == 1
    out[k : n - k] = (x[k : n - k] == ext) & unique
    return out


def _anchor_index(pivots: np.ndarray, k: int) -> np.ndarray:
    """Index of the most recent pivot p with ``p + k <= b`` at each bar b, else -1."""
    anchor = np.full(len(pivots), -1, dtype=np.int64)
    where = np.flatnonzero(pivots)
    anchor[where + k] = where  # pivots are at most n-k-1, so p + k is in range
    return np.maximum.accumulate(anchor)  # pivot order == confirmation order: a forward fill


def _anchored_vwap(df: pd.DataFrame, anchor: np.ndarray) -> np.ndarray:
    """Sum(tp*vol)/Sum(vol) over bars anchor..i (prefix sums); zero volume -> tp; NaN unanchored."""
    tp = ((df["high"] + df["low"] + df["close"]) / 3.0).to_numpy(dtype=float)
    vol = df["volume"].to_numpy(dtype=float)
    cum_pv = np.concatenate(([0.0], np.cumsum(np.nan_to_num(tp * vol))))
    cum_v = np.concatenate(([0.0], np.cumsum(np.nan_to_num(vol))))
    n = len(tp)
    valid = anchor >= 0
    start = np.where(valid, anchor, 0)
    rows = np.arange(n)
    num = cum_pv[rows + 1] - cum_pv[start]
    den = cum_v[rows + 1] - cum_v[start]
    safe = np.where(den != 0, den, 1.0)
    out = np.where(den != 0, num / safe, tp)
    out[~valid] = np.nan
    return out


def _pivot_anchor(df: pd.DataFrame, k: int, kind: str) -> np.ndarray:
    """Anchor index from strict pivots: ``kind`` is "any" (high or low), "high" or "low"."""
    high = _strict_pivots(df["high"].to_numpy(dtype=float), k, highs=True)
    low = _strict_pivots(df["low"].to_numpy(dtype=float), k, highs=False)
    pivots = {"any": high | low, "high": high, "low": low}[kind]
    return _anchor_index(pivots, k)


def _hold(mask: pd.Series, bars: int) -> pd.Series:
    """True at N when ``mask`` held on every bar of ``[N-bars+1, N]``."""
    return mask.astype(float).rolling(bars, min_periods=bars).sum().eq(bars)


def _at(s: pd.Series, lag: int, fill: object = np.nan) -> pd.Series:
    """``s`` read ``lag`` bars back (the window-start bar b, or b-1)."""
    return s.shift(lag, fill_value=fill)


# ---------------------------------------------------------------- anchored VWAP family

_AVWAP_CONSTRAINTS = ("pivot_strength > 0", "atr_period > 0")


@register(
    "anchored_vwap",
    short="avwap",
    description=(
        "VWAP anchored at the latest confirmed swing pivot: long when the close reclaims it by "
        "a buffer of ATR and holds for confirm_bars, short on the mirror; optional RSI/EMA gates."
    ),
    defaults={
        "pivot_strength": 5,
        "buffer_atr_mult": 0.25,
        "confirm_bars": 2,
        "atr_period": 14,
        "gate_rsi_period": 0,
        "gate_rsi_level": 50.0,
        "gate_ema_period": 0,
    },
    ranges={
        "pivot_strength": [3, 5, 8],
        "buffer_atr_mult": [0.1, 0.25, 0.5],
        "confirm_bars": [1, 2, 3],
        "gate_rsi_period": [0, 14, 21],
        "gate_ema_period": [0, 100, 200],
    },
    platforms=DEFAULT_PLATFORMS,
    can_short=True,
    constraints=_AVWAP_CONSTRAINTS,
)
def anchored_vwap(
    df: pd.DataFrame,
    *,
    pivot_strength: int,
    buffer_atr_mult: float,
    confirm_bars: int,
    atr_period: int,
    gate_rsi_period: int,
    gate_rsi_level: float,
    gate_ema_period: int,
) -> pd.DataFrame:
    """Reclaim / loss of the pivot-anchored VWAP; ``avwap`` is the line avwap_stop exits on."""
    k, c = int(pivot_strength), int(confirm_bars)
    close = df["close"]
    atr = atr_rounded(df, atr_period)
    anchor = _pivot_anchor(df, k, "any")
    avwap = pd.Series(_anchored_vwap(df, anchor), index=df.index)
    anchor_s = pd.Series(anchor, index=df.index)

    if c >= 1:
        # Window [b, N] with b = N - c + 1; "b-1 >= 0" is the c-bar lag being defined.
        lag = c - 1
        buf_b = buffer_atr_mult * _at(atr, lag)
        ok = (
            (_at(anchor_s, lag, -1) >= 0)
            & _at(avwap, lag + 1).notna()
            & _at(atr, lag).notna()
            & pd.Series(np.arange(len(df)) >= c, index=df.index)
        )
        close_b, avwap_b = _at(close, lag), _at(avwap, lag)
        close_b1, avwap_b1 = _at(close, lag + 1), _at(avwap, lag + 1)
        up = ok & _hold(close >= avwap, c) & (close_b >= avwap_b + buf_b) & (close_b1 < avwap_b1)
        down = ok & _hold(close <= avwap, c) & (close_b <= avwap_b - buf_b) & (close_b1 > avwap_b1)
    else:
        # upstream differs: confirm_bars < 1 puts the window start after the signal bar (a
        # look-ahead); we emit nothing rather than read a future bar.
        up = down = pd.Series(False, index=df.index)

    extra: dict[str, pd.Series] = {}
    if gate_rsi_period > 0:
        rsi = ind.rsi(close, gate_rsi_period)
        up &= ~(rsi < gate_rsi_level)  # NaN RSI never blocks
        down &= ~(rsi > gate_rsi_level)
        extra["gate_rsi"] = rsi
    if gate_ema_period > 0:
        ema = ind.ema(close, gate_ema_period)
        gated = pd.Series(np.arange(len(df)) >= gate_ema_period, index=df.index)
        up &= ~(gated & (close < ema))
        down &= ~(gated & (close > ema))
        extra["gate_ema"] = ema

    sig = buy_sell(up, down, short_wins=False)
    warm = warm_rows(len(df), 2 * k + 1 + c)
    sig[warm] = 0
    avwap[warm] = np.nan
    anchor_s[warm] = -1
    return frame(df, sig, avwap=avwap, anchor_index=anchor_s, atr=atr, **extra)


@register(
    "anchored_vwap_channel",
    short="avwapch",
    description=(
        "Two anchored VWAPs, from the last swing low (support) and the last swing high "
        "(resistance): long a buffered bounce off support, short a rejection off resistance, "
        "only when the channel is at least min_width_atr_mult ATR wide."
    ),
    defaults={
        "pivot_strength": 5,
        "buffer_atr_mult": 0.25,
        "confirm_bars": 2,
        "min_width_atr_mult": 1.5,
        "atr_period": 14,
    },
    ranges={
        "pivot_strength": [3, 5, 8],
        "buffer_atr_mult": [0.1, 0.25, 0.5],
        "min_width_atr_mult": [1.0, 1.5, 2.0],
    },
    platforms=DEFAULT_PLATFORMS,
    can_short=True,
    constraints=_AVWAP_CONSTRAINTS,
)
def anchored_vwap_channel(
    df: pd.DataFrame,
    *,
    pivot_strength: int,
    buffer_atr_mult: float,
    confirm_bars: int,
    min_width_atr_mult: float,
    atr_period: int,
) -> pd.DataFrame:
    """Bounce off the low-anchored VWAP / rejection off the high-anchored VWAP (no ``avwap``)."""
    k, c = int(pivot_strength), int(confirm_bars)
    close, high, low = df["close"], df["high"], df["low"]
    atr = atr_rounded(df, atr_period)
    a_low = _pivot_anchor(df, k, "low")
    a_high = _pivot_anchor(df, k, "high")
    sup = pd.Series(_anchored_vwap(df, a_low), index=df.index)
    res = pd.Series(_anchored_vwap(df, a_high), index=df.index)
    a_low_s = pd.Series(a_low, index=df.index)
    a_high_s = pd.Series(a_high, index=df.index)

    if c >= 1:
        lag = c - 1
        atr_b = _at(atr, lag)
        sup_b, res_b = _at(sup, lag), _at(res, lag)
        sup_b1, res_b1 = _at(sup, lag + 1), _at(res, lag + 1)
        close_b = _at(close, lag)
        buf_b = buffer_atr_mult * atr_b
        # Anchors never disappear once set, so "defined at b-1" implies "defined at b".
        ok = (
            pd.Series(np.arange(len(df)) >= c, index=df.index)
            & (_at(a_low_s, lag + 1, -1) >= 0)
            & (_at(a_high_s, lag + 1, -1) >= 0)
            & (_at(a_low_s, lag, -1) >= 0)
            & (_at(a_high_s, lag, -1) >= 0)
            & atr_b.notna()
            & (sup_b < res_b)
            & (res_b - sup_b >= min_width_atr_mult * atr_b)
        )
        up = (
            ok
            & (_at(low, lag) <= sup_b)
            & (close_b >= sup_b + buf_b)
            & _hold(close >= sup, c)
            & (_at(low, lag + 1) > sup_b1)
        )
        down = (
            ok
            & (_at(high, lag) >= res_b)
            & (close_b <= res_b - buf_b)
            & _hold(close <= res, c)
            & (_at(high, lag + 1) < res_b1)
        )
    else:
        # upstream differs: confirm_bars < 1 would read a future bar; we emit nothing.
        up = down = pd.Series(False, index=df.index)

    sig = buy_sell(up, down, short_wins=False)
    warm = warm_rows(len(df), 2 * k + 1 + c)
    sig[warm] = 0
    for s in (sup, res):
        s[warm] = np.nan
    for s in (a_low_s, a_high_s):
        s[warm] = -1
    return frame(
        df,
        sig,
        avwap_support=sup,
        avwap_resistance=res,
        anchor_low_index=a_low_s,
        anchor_high_index=a_high_s,
        atr=atr,
    )


@register(
    "anchored_vwap_reversion",
    short="avwaprev",
    description=(
        "Stretch beyond the pivot-anchored VWAP by entry_atr_mult ATR, then a buffered snap "
        "back inside the band held for confirm_bars: long from below, short from above."
    ),
    defaults={
        "pivot_strength": 5,
        "entry_atr_mult": 1.5,
        "buffer_atr_mult": 0.25,
        "confirm_bars": 2,
        "atr_period": 14,
    },
    ranges={
        "pivot_strength": [3, 5, 8],
        "entry_atr_mult": [1.0, 1.5, 2.0],
        "buffer_atr_mult": [0.1, 0.25, 0.5],
    },
    platforms=DEFAULT_PLATFORMS,
    can_short=True,
    constraints=_AVWAP_CONSTRAINTS,
)
def anchored_vwap_reversion(
    df: pd.DataFrame,
    *,
    pivot_strength: int,
    entry_atr_mult: float,
    buffer_atr_mult: float,
    confirm_bars: int,
    atr_period: int,
) -> pd.DataFrame:
    """Fade an ATR-band stretch away from the anchored VWAP once the close snaps back."""
    k, c = int(pivot_strength), int(confirm_bars)
    close, high, low = df["close"], df["high"], df["low"]
    atr = atr_rounded(df, atr_period)
    anchor = _pivot_anchor(df, k, "any")
    anchor_s = pd.Series(anchor, index=df.index)
    avwap = pd.Series(_anchored_vwap(df, anchor), index=df.index)
    lower = avwap - entry_atr_mult * atr
    upper = avwap + entry_atr_mult * atr

    if c >= 1:
        lag = c - 1
        atr_b = _at(atr, lag)
        buf_b = buffer_atr_mult * atr_b
        close_b = _at(close, lag)
        lower_b, upper_b = _at(lower, lag), _at(upper, lag)
        ok = (
            pd.Series(np.arange(len(df)) >= c, index=df.index)
            & (_at(anchor_s, lag, -1) >= 0)
            & (_at(anchor_s, lag + 1, -1) >= 0)
            & atr_b.notna()
        )
        up = (
            ok
            & (_at(low, lag) <= lower_b)
            & (close_b >= lower_b + buf_b)
            & _hold((lower <= close) & (close < avwap), c)
            & (_at(low, lag + 1) > _at(lower, lag + 1))
        )
        down = (
            ok
            & (_at(high, lag) >= upper_b)
            & (close_b <= upper_b - buf_b)
            & _hold((avwap < close) & (close <= upper), c)
            & (_at(high, lag + 1) < _at(upper, lag + 1))
        )
    else:
        # upstream differs: confirm_bars < 1 would read a future bar; we emit nothing.
        up = down = pd.Series(False, index=df.index)

    sig = buy_sell(up, down, short_wins=False)
    return frame(df, sig, avwap=avwap, anchor_index=anchor_s, atr=atr)
