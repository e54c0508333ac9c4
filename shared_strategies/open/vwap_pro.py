"""Open strategies: the anchored-VWAP family and the "pro" family (upstream catalogue §3.37-§3.45).

These are the strategies upstream operators actually run (visible in discovery), so the rules
follow the catalogue to the letter: comparisons inclusive/exclusive as written, "+1 else -1"
where upstream evaluates the short only when the long fails, "-1 wins ties" where upstream
writes the short last, level- vs edge-triggering as upstream has it.

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

import math

import numpy as np
import pandas as pd
from numpy.lib.stride_tricks import sliding_window_view

from shared_strategies.open.specs import DEFAULT_PLATFORMS, FUTURES_LIKE, register
from shared_tools import indicators as ind

# ----------------------------------------------------------------------------- helpers


def _atr_rounded(df: pd.DataFrame, period: int) -> pd.Series:
    """Simple ATR with upstream's >=100 rule: values of 100 and above round half-to-even."""
    a = ind.atr(df, period, "simple")
    return a.where(~(a >= 100.0), np.round(a))


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


def _prior_any(cond: pd.Series, window: int) -> pd.Series:
    """True at i iff ``cond`` held on one of bars i-window..i-1; False for i < window."""
    if window <= 0:
        return pd.Series(False, index=cond.index)
    prior = cond.astype(float).shift(1).rolling(window, min_periods=window).max()
    return prior.gt(0)


def _warm_rows(index: pd.Index, min_len: int) -> np.ndarray:
    """Rows i with i + 1 < min_len: upstream's short-frame guard, applied per row."""
    return np.arange(len(index)) + 1 < min_len


def _signal(up: pd.Series, down: pd.Series, *, short_wins: bool) -> pd.Series:
    """+1/-1 from masks; ``short_wins`` is upstream's "-1 wins ties", else "+1 else -1"."""
    up = up.fillna(False).astype(bool)
    down = down.fillna(False).astype(bool)
    if short_wins:
        sig = np.where(down, -1, np.where(up, 1, 0))
    else:
        sig = np.where(up, 1, np.where(down, -1, 0))
    return pd.Series(sig.astype("int64"), index=up.index)


def _frame(df: pd.DataFrame, signal: pd.Series, **columns: object) -> pd.DataFrame:
    out = pd.DataFrame({"signal": signal.astype("int64")}, index=df.index)
    for key, col in columns.items():
        out[key] = pd.Series(np.asarray(col, dtype=float), index=df.index)
    return out


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
    atr = _atr_rounded(df, atr_period)
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

    sig = _signal(up, down, short_wins=False)
    warm = _warm_rows(df.index, 2 * k + 1 + c)
    sig[warm] = 0
    avwap[warm] = np.nan
    anchor_s[warm] = -1
    return _frame(df, sig, avwap=avwap, anchor_index=anchor_s, atr=atr, **extra)


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
    atr = _atr_rounded(df, atr_period)
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

    sig = _signal(up, down, short_wins=False)
    warm = _warm_rows(df.index, 2 * k + 1 + c)
    sig[warm] = 0
    for s in (sup, res):
        s[warm] = np.nan
    for s in (a_low_s, a_high_s):
        s[warm] = -1
    return _frame(
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
    atr = _atr_rounded(df, atr_period)
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

    sig = _signal(up, down, short_wins=False)
    return _frame(df, sig, avwap=avwap, anchor_index=anchor_s, atr=atr)


# ------------------------------------------------------------------------ "pro" family


@register(
    "momentum_pro",
    short="mompro",
    description=(
        "Trend pullback: stacked EMAs, ADX above threshold, a recent tag of the fast EMA, then "
        "a close back beyond it that also breaks the prior bar's extreme, on above-average volume."
    ),
    defaults={
        "ema_fast": 20,
        "ema_mid": 50,
        "ema_long": 200,
        "adx_period": 14,
        "adx_threshold": 20.0,
        "pullback_window": 6,
        "pullback_touch_buffer_pct": 0.0,
        "vol_period": 20,
        "vol_mult": 1.2,
    },
    platforms=DEFAULT_PLATFORMS,
    can_short=True,
    constraints=(
        "ema_fast > 0",
        "adx_period > 0",
        "vol_period > 0",
        "pullback_window > 0",
        "ema_fast < ema_mid",
        "ema_mid < ema_long",
    ),
)
def momentum_pro(
    df: pd.DataFrame,
    *,
    ema_fast: int,
    ema_mid: int,
    ema_long: int,
    adx_period: int,
    adx_threshold: float,
    pullback_window: int,
    pullback_touch_buffer_pct: float,
    vol_period: int,
    vol_mult: float,
    vol_target_atr_pct: float = 0.0,
    vol_target_atr_period: int = 14,
    vol_target_min_fraction: float = 0.10,
) -> pd.DataFrame:
    """Level-triggered pullback continuation; optional ``entry_fraction`` sizing never gates.

    The ``vol_target_*`` keywords are accepted like upstream's (which does not register them
    either); :func:`registry.merged_params` rejects unregistered keys, so they only reach this
    function on a direct call.
    """
    close, high, low, volume = df["close"], df["high"], df["low"], df["volume"]
    e_fast = ind.ema(close, ema_fast)
    e_mid = ind.ema(close, ema_mid)
    e_long = ind.ema(close, ema_long)
    adx = ind.adx(df, adx_period)["adx"]
    vol_sma = ind.sma(volume, vol_period)
    vol_ok = pd.Series(True, index=df.index) if vol_mult <= 0 else volume > vol_sma * vol_mult
    buf = pullback_touch_buffer_pct
    trending = adx > adx_threshold

    up = (
        (e_fast > e_mid)
        & (e_mid > e_long)
        & trending
        & _prior_any(low < e_fast * (1.0 - buf), pullback_window)
        & (close > e_fast)
        & (close > high.shift(1))
        & vol_ok
    )
    down = (
        (e_fast < e_mid)
        & (e_mid < e_long)
        & trending
        & _prior_any(high > e_fast * (1.0 + buf), pullback_window)
        & (close < e_fast)
        & (close < low.shift(1))
        & vol_ok
    )
    sig = _signal(up, down, short_wins=True)  # the stacks exclude each other: no tie exists
    warm = _warm_rows(df.index, max(ema_long, 2 * adx_period, vol_period) + pullback_window + 2)
    sig[warm] = 0
    adx = adx.copy()
    adx[warm] = 0.0  # upstream's short frame reports adx 0.0 and no vol_sma
    vol_sma = vol_sma.copy()
    vol_sma[warm] = np.nan
    extra: dict[str, pd.Series] = {}
    if vol_target_atr_pct > 0:
        atr_pct = _atr_rounded(df, vol_target_atr_period) / close
        frac = (vol_target_atr_pct / atr_pct.where(atr_pct > 0)).clip(vol_target_min_fraction, 1.0)
        extra["entry_fraction"] = frac
    return _frame(
        df,
        sig,
        ema_fast=e_fast,
        ema_mid=e_mid,
        ema_long=e_long,
        adx=adx,
        vol_sma=vol_sma,
        **extra,
    )


@register(
    "mean_reversion_pro",
    short="mrpro",
    description=(
        "Z-score reversion gated by ADX below adx_max and recent RSI extremes: long when z "
        "crosses back up through -entry_std, short through +entry_std; optional touch/turn entries."
    ),
    defaults={
        "lookback": 30,
        "entry_std": 2.0,
        "adx_period": 14,
        "adx_max": 25.0,
        "rsi_period": 14,
        "rsi_oversold": 30.0,
        "rsi_overbought": 70.0,
        "confirm_window": 3,
        "touch_entry": 0,
        "turn_entry": 0,
    },
    platforms=DEFAULT_PLATFORMS,
    can_short=True,
    constraints=(
        "lookback > 0",
        "adx_period > 0",
        "rsi_period > 0",
        "rsi_oversold < rsi_overbought",
    ),
)
def mean_reversion_pro(
    df: pd.DataFrame,
    *,
    lookback: int,
    entry_std: float,
    adx_period: int,
    adx_max: float,
    rsi_period: int,
    rsi_oversold: float,
    rsi_overbought: float,
    confirm_window: int,
    touch_entry: int,
    turn_entry: int,
) -> pd.DataFrame:
    """Ranging-market z-score fade confirmed by an RSI extreme within the prior window."""
    close = df["close"]
    z = ind.zscore(close, lookback)  # sample std; a flat window is NaN (no opinion)
    adx = ind.adx(df, adx_period)["adx"]
    rsi = ind.rsi(close, rsi_period)
    no_trend = adx < adx_max
    oversold, overbought = rsi < rsi_oversold, rsi > rsi_overbought
    was_os = _prior_any(oversold, confirm_window)
    was_ob = _prior_any(overbought, confirm_window)
    prev_z = z.shift(1)
    lo, hi = -entry_std, entry_std

    up = no_trend & (z > lo) & (prev_z <= lo) & was_os
    down = no_trend & (z < hi) & (prev_z >= hi) & was_ob
    if touch_entry or turn_entry:
        ev_long = oversold | was_os
        ev_short = overbought | was_ob
        if touch_entry:
            up |= no_trend & ev_long & (z <= lo) & (prev_z > lo)
            down |= no_trend & ev_short & (z >= hi) & (prev_z < hi)
        if turn_entry:
            up |= no_trend & ev_long & (z <= lo) & (z > prev_z)
            down |= no_trend & ev_short & (z >= hi) & (z < prev_z)
    sig = _signal(up, down, short_wins=True)
    warm = _warm_rows(df.index, max(lookback, 2 * adx_period, rsi_period) + confirm_window + 2)
    sig[warm] = 0
    z, adx, rsi = z.copy(), adx.copy(), rsi.copy()
    z[warm], adx[warm], rsi[warm] = np.nan, 0.0, np.nan  # upstream's short-frame columns
    return _frame(df, sig, z_score=z, adx=adx, rsi=rsi)


@register(
    "rsi_bb_combo",
    short="rsibb",
    description=(
        "Bollinger re-entry confirmed by RSI: long when the close climbs back above the lower "
        "band after RSI was oversold in the prior window, short on the mirror at the upper band."
    ),
    defaults={
        "bb_period": 20,
        "bb_std": 2.0,
        "rsi_period": 14,
        "rsi_oversold": 30.0,
        "rsi_overbought": 70.0,
        "confirm_window": 3,
    },
    platforms=DEFAULT_PLATFORMS,
    can_short=True,
    constraints=(
        "bb_period > 0",
        "rsi_period > 0",
        "confirm_window > 0",
        "rsi_oversold < rsi_overbought",
    ),
)
def rsi_bb_combo(
    df: pd.DataFrame,
    *,
    bb_period: int,
    bb_std: float,
    rsi_period: int,
    rsi_oversold: float,
    rsi_overbought: float,
    confirm_window: int,
) -> pd.DataFrame:
    """Band re-entry (edge) with an RSI-extreme confirmation; -1 wins a tie."""
    close = df["close"]
    bands = ind.bollinger(close, bb_period, bb_std, ddof=1)  # upstream: sample std
    mid, upper, lower = bands["middle"], bands["upper"], bands["lower"]
    rsi = ind.rsi(close, rsi_period)
    prev = close.shift(1)
    up = (close > lower) & (prev <= lower.shift(1)) & _prior_any(rsi < rsi_oversold, confirm_window)
    down = (
        (close < upper)
        & (prev >= upper.shift(1))
        & _prior_any(rsi > rsi_overbought, confirm_window)
    )
    sig = _signal(up, down, short_wins=True)
    warm = _warm_rows(df.index, max(bb_period, rsi_period) + confirm_window + 2)
    sig[warm] = 0
    cols = {"bb_middle": mid, "bb_upper": upper, "bb_lower": lower, "rsi": rsi}
    for key, col in cols.items():
        col = col.copy()
        col[warm] = np.nan  # upstream's short frame: NaN columns
        cols[key] = col
    return _frame(df, sig, **cols)


@register(
    "consolidation_range",
    short="cr",
    description=(
        "Inside a tight min_bars box (height <= box_width_pct of its mid): long on every bar in "
        "the bottom edge_entry_frac of the box, short on every bar in the top one."
    ),
    defaults={"box_width_pct": 0.05, "min_bars": 16, "edge_entry_frac": 0.2},
    platforms=FUTURES_LIKE,
    can_short=True,
    constraints=("min_bars > 0",),
)
def consolidation_range(
    df: pd.DataFrame, *, box_width_pct: float, min_bars: int, edge_entry_frac: float
) -> pd.DataFrame:
    """Level-triggered range-edge entries; exits are left to close evaluators and stops."""
    close = df["close"]
    top = df["high"].rolling(min_bars, min_periods=min_bars).max()
    bottom = df["low"].rolling(min_bars, min_periods=min_bars).min()
    mid = (top + bottom) / 2.0
    height = top - bottom
    width = height / mid.where(mid != 0)
    pos = (close - bottom) / height.where(height != 0)
    in_range = width <= box_width_pct
    up = in_range & (pos <= edge_entry_frac)
    down = in_range & (pos >= 1.0 - edge_entry_frac)
    sig = _signal(up, down, short_wins=True)
    return _frame(
        df, sig, box_top=top, box_bottom=bottom, box_mid=mid, in_range=in_range.astype(float)
    )


@register(
    "atr_band_revert",
    short="abr",
    description=(
        "Long on every bar the close is at or below SMA - k_entry*ATR; with allow_short, short "
        "on every bar at or above SMA + k_entry*ATR. Entries only."
    ),
    defaults={"period": 20, "atr_period": 14, "k_entry": 1.5, "allow_short": False},
    platforms=DEFAULT_PLATFORMS,
    can_short=True,
    variants={"perps": {"allow_short": True}, "futures": {"allow_short": True}},
    constraints=("period > 0", "atr_period > 0"),
)
def atr_band_revert(
    df: pd.DataFrame, *, period: int, atr_period: int, k_entry: float, allow_short: bool
) -> pd.DataFrame:
    """Level-triggered ATR-band fade around the SMA; -1 wins a tie (zero ATR at the mid)."""
    close = df["close"]
    mid = ind.sma(close, period)
    atr = _atr_rounded(df, atr_period)
    lower = mid - k_entry * atr
    upper = mid + k_entry * atr
    up = close <= lower
    down = (close >= upper) if allow_short else pd.Series(False, index=df.index)
    sig = _signal(up, down, short_wins=True)
    return _frame(df, sig, atr=atr, band_mid=mid, band_lower=lower, band_upper=upper)


# ------------------------------------------------------------- analog_retrieval (backtest)


def _analog_features(df: pd.DataFrame, w: int, atr: pd.Series, vol_baseline: int) -> np.ndarray:
    """The five scale-free features per bar (columns), +/-inf turned into NaN."""
    close = df["close"]
    net = close - close.shift(w)
    path = close.diff().abs().rolling(w, min_periods=w).sum()
    ret_eff = (net / path.where(path > 0)).where(path > 0, 0.0)
    mom_atr = net / (atr * np.sqrt(w))
    atr_pct = atr / close
    vol_ratio = atr_pct / ind.sma(atr_pct, vol_baseline)
    # EMA warm-up is NaN here (our EMA), so the first 4W-1 bars carry no trend feature.
    trend_atr = (ind.ema(close, w) - ind.ema(close, 4 * w)) / atr
    feats = np.column_stack(
        [s.to_numpy(dtype=float) for s in (ret_eff, mom_atr, atr_pct, vol_ratio, trend_atr)]
    )
    feats[~np.isfinite(feats)] = np.nan
    return feats


@register(
    "analog_retrieval",
    short="ar",
    description=(
        "k-nearest-neighbour analogs: bars whose five scale-free features resemble the current "
        "bar and whose horizon return is already known vote with the sign of their mean return, "
        "when it is significant (t-stat) and large against ATR. Backtest only."
    ),
    defaults={
        "feat_window": 20,
        "atr_period": 14,
        "vol_baseline": 100,
        "horizon": 12,
        "k_neighbors": 25,
        "min_index": 200,
        "max_index": 5000,
        "min_t_stat": 2.0,
        "min_edge_atr": 0.25,
    },
    platforms=DEFAULT_PLATFORMS,
    can_short=False,
    constraints=("feat_window > 0", "atr_period > 0", "horizon > 0", "k_neighbors > 0"),
)
def analog_retrieval(
    df: pd.DataFrame,
    *,
    feat_window: int,
    atr_period: int,
    vol_baseline: int,
    horizon: int,
    k_neighbors: int,
    min_index: int,
    max_index: int,
    min_t_stat: float,
    min_edge_atr: float,
) -> pd.DataFrame:
    """Sign of the analogs' mean forward return; only rows ``j <= t - horizon`` are neighbours.

    Normalisation uses expanding stats over rows ``<= t`` and forward returns of rows whose
    horizon has already closed, so the rule is causal despite the forward-return column.
    """
    close = df["close"]
    n = len(df)
    atr = _atr_rounded(df, atr_period)
    feats = _analog_features(df, feat_window, atr, vol_baseline)
    stats = pd.DataFrame(feats).expanding(min_periods=2)
    mean = stats.mean().to_numpy(copy=True)
    std = stats.std(ddof=1).to_numpy(copy=True)
    std[std == 0] = 1.0
    fwd = (close.shift(-horizon) / close - 1.0).to_numpy(dtype=float)
    atr_pct = (atr / close).to_numpy(dtype=float)
    finite = np.flatnonzero(np.isfinite(feats).all(axis=1))

    sig = np.zeros(n, dtype=np.int64)
    mean_fwd = np.full(n, np.nan)
    t_stat = np.full(n, np.nan)
    k_used = np.full(n, np.nan)
    need = max(min_index, 1)
    for t in finite:
        hi = int(np.searchsorted(finite, t - horizon, side="right"))
        if hi < need:
            continue
        lo = max(0, hi - max_index) if max_index > 0 else 0
        rows = finite[lo:hi]
        mu, sd = mean[t], std[t]
        z_rows = (feats[rows] - mu) / sd
        z_query = (feats[t] - mu) / sd
        dist = np.sqrt(((z_rows - z_query) ** 2).sum(axis=1))
        nearest = rows[np.argsort(dist, kind="stable")[:k_neighbors]]
        f = fwd[nearest]
        f = f[~np.isnan(f)]
        if len(f) < 2:
            continue
        m, s = float(f.mean()), float(f.std(ddof=1))
        ts = m / (s / np.sqrt(len(f))) if s > 0 else math.copysign(math.inf, m)
        mean_fwd[t], t_stat[t], k_used[t] = m, ts, len(f)
        edge = min_edge_atr * atr_pct[t] * np.sqrt(horizon)
        if abs(m) >= edge and abs(ts) >= min_t_stat:
            sig[t] = int(np.sign(m))
    return _frame(
        df,
        pd.Series(sig, index=df.index),
        analog_mean_fwd=mean_fwd,
        analog_t_stat=t_stat,
        analog_k=k_used,
        atr=atr,
    )
