"""Open strategies: the "pro" family (upstream catalogue §3.40-§3.44).

momentum_pro, mean_reversion_pro, rsi_bb_combo, consolidation_range and atr_band_revert. These
are strategies upstream operators actually run (visible in discovery), so the rules follow the
catalogue to the letter: comparisons inclusive/exclusive as written, "-1 wins ties" where
upstream writes the short last, level- vs edge-triggering as upstream has it.

Deliberate differences from upstream are the port's usual ones (see :mod:`anchored_vwap`): our
indicators' NaN warm-ups (a rule never fires from a NaN operand), and upstream's short-frame
guard applied per row (:func:`~shared_strategies.open.common.warm_rows`); the guarded rows
report the indicator values upstream's short frame reports.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from shared_strategies.open.common import (
    SHORT_ON_FUTURES,
    atr_rounded,
    buy_sell,
    cross_above,
    cross_below,
    frame,
    prior_any,
    warm_rows,
)
from shared_strategies.open.specs import DEFAULT_PLATFORMS, FUTURES_LIKE, register
from shared_tools import indicators as ind

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
    ranges={
        "ema_fast": [13, 20, 26],
        "ema_mid": [34, 50, 80],
        "ema_long": [200],
        "adx_threshold": [18.0, 20.0, 25.0],
        "pullback_window": [4, 6, 8],
        "vol_mult": [0.0, 1.2, 1.5],
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
        & prior_any(low < e_fast * (1.0 - buf), pullback_window)
        & (close > e_fast)
        & (close > high.shift(1))
        & vol_ok
    )
    down = (
        (e_fast < e_mid)
        & (e_mid < e_long)
        & trending
        & prior_any(high > e_fast * (1.0 + buf), pullback_window)
        & (close < e_fast)
        & (close < low.shift(1))
        & vol_ok
    )
    sig = buy_sell(up, down, short_wins=True)  # the stacks exclude each other: no tie exists
    warm = warm_rows(len(df), max(ema_long, 2 * adx_period, vol_period) + pullback_window + 2)
    sig[warm] = 0
    adx = adx.copy()
    adx[warm] = 0.0  # upstream's short frame reports adx 0.0 and no vol_sma
    vol_sma = vol_sma.copy()
    vol_sma[warm] = np.nan
    extra: dict[str, pd.Series] = {}
    if vol_target_atr_pct > 0:
        atr_pct = atr_rounded(df, vol_target_atr_period) / close
        frac = (vol_target_atr_pct / atr_pct.where(atr_pct > 0)).clip(vol_target_min_fraction, 1.0)
        extra["entry_fraction"] = frac
    return frame(
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
    ranges={
        "lookback": [20, 30, 40],
        "entry_std": [1.5, 2.0, 2.5],
        "adx_max": [20.0, 25.0, 30.0],
        "rsi_oversold": [25.0, 30.0, 35.0],
        "rsi_overbought": [65.0, 70.0, 75.0],
        "touch_entry": [0, 1],
        "turn_entry": [0, 1],
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
    was_os = prior_any(oversold, confirm_window)
    was_ob = prior_any(overbought, confirm_window)
    prev_z = z.shift(1)
    lo, hi = -entry_std, entry_std

    up = no_trend & cross_above(z, lo) & was_os
    down = no_trend & cross_below(z, hi) & was_ob
    if touch_entry or turn_entry:
        ev_long = oversold | was_os
        ev_short = overbought | was_ob
        if touch_entry:
            up |= no_trend & ev_long & (z <= lo) & (prev_z > lo)
            down |= no_trend & ev_short & (z >= hi) & (prev_z < hi)
        if turn_entry:
            up |= no_trend & ev_long & (z <= lo) & (z > prev_z)
            down |= no_trend & ev_short & (z >= hi) & (z < prev_z)
    sig = buy_sell(up, down, short_wins=True)
    warm = warm_rows(len(df), max(lookback, 2 * adx_period, rsi_period) + confirm_window + 2)
    sig[warm] = 0
    z, adx, rsi = z.copy(), adx.copy(), rsi.copy()
    z[warm], adx[warm], rsi[warm] = np.nan, 0.0, np.nan  # upstream's short-frame columns
    return frame(df, sig, z_score=z, adx=adx, rsi=rsi)


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
    ranges={
        "bb_period": [14, 20, 30],
        "bb_std": [1.5, 2.0, 2.5],
        "rsi_oversold": [25.0, 30.0, 35.0],
        "rsi_overbought": [65.0, 70.0, 75.0],
        "confirm_window": [2, 3, 5],
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
    up = cross_above(close, lower) & prior_any(rsi < rsi_oversold, confirm_window)
    down = cross_below(close, upper) & prior_any(rsi > rsi_overbought, confirm_window)
    sig = buy_sell(up, down, short_wins=True)
    warm = warm_rows(len(df), max(bb_period, rsi_period) + confirm_window + 2)
    sig[warm] = 0
    cols = {"bb_middle": mid, "bb_upper": upper, "bb_lower": lower, "rsi": rsi}
    for key, col in cols.items():
        col = col.copy()
        col[warm] = np.nan  # upstream's short frame: NaN columns
        cols[key] = col
    return frame(df, sig, **cols)


@register(
    "consolidation_range",
    short="cr",
    description=(
        "Inside a tight min_bars box (height <= box_width_pct of its mid): long on every bar in "
        "the bottom edge_entry_frac of the box, short on every bar in the top one."
    ),
    defaults={"box_width_pct": 0.05, "min_bars": 16, "edge_entry_frac": 0.2},
    ranges={
        "box_width_pct": [0.03, 0.05, 0.08],
        "min_bars": [12, 16, 24],
        "edge_entry_frac": [0.1, 0.2, 0.3],
    },
    platforms=FUTURES_LIKE,
    can_short=True,
    constraints=("min_bars > 0",),
)
def consolidation_range(
    df: pd.DataFrame, *, box_width_pct: float, min_bars: int, edge_entry_frac: float
) -> pd.DataFrame:
    """Level-triggered range-edge entries; exits are left to close evaluators and stops."""
    close = df["close"]
    box = ind.donchian(df, min_bars)
    top, bottom, mid = box["upper"], box["lower"], box["middle"]
    height = top - bottom
    width = height / mid.where(mid != 0)
    pos = (close - bottom) / height.where(height != 0)
    in_range = width <= box_width_pct
    up = in_range & (pos <= edge_entry_frac)
    down = in_range & (pos >= 1.0 - edge_entry_frac)
    sig = buy_sell(up, down, short_wins=True)
    return frame(
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
    ranges={"period": [14, 20, 30], "atr_period": [10, 14, 20], "k_entry": [1.0, 1.5, 2.0]},
    platforms=DEFAULT_PLATFORMS,
    can_short=True,
    variants=SHORT_ON_FUTURES,
    constraints=("period > 0", "atr_period > 0"),
)
def atr_band_revert(
    df: pd.DataFrame, *, period: int, atr_period: int, k_entry: float, allow_short: bool
) -> pd.DataFrame:
    """Level-triggered ATR-band fade around the SMA; -1 wins a tie (zero ATR at the mid)."""
    close = df["close"]
    mid = ind.sma(close, period)
    atr = atr_rounded(df, atr_period)
    lower = mid - k_entry * atr
    upper = mid + k_entry * atr
    up = close <= lower
    down = (close >= upper) if allow_short else pd.Series(False, index=df.index)
    sig = buy_sell(up, down, short_wins=True)
    return frame(df, sig, atr=atr, band_mid=mid, band_lower=lower, band_upper=upper)
