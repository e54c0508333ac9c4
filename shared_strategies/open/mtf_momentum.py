"""Open strategies: mtf_confluence and vol_momentum (catalogue §3.46-3.47).

Ported rule by rule from the upstream catalogue (own implementation), with the conventions of
:mod:`adaptive` (NaN indicator warm-up, no warm-up signals, upstream's ATR rounding).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from shared_strategies.open.common import (
    SHORT_ON_FUTURES,
    atr_rounded,
    frame,
    htf_buckets,
    path_efficiency,
    prior_any,
    project,
    ratio_or_zero,
    signal_from_position,
)
from shared_strategies.open.specs import register
from shared_tools import indicators as ind

# ------------------------------------------------------------- mtf_confluence (§3.46)


@register(
    "mtf_confluence",
    short="mtf",
    description="Higher-timeframe EMA trend plus a native EMA pullback-and-reclaim trigger.",
    defaults={
        "htf_factor": 4,
        "htf_ema_fast": 20,
        "htf_ema_slow": 40,
        "htf_sep_pct": 0.001,
        "ltf_ema": 20,
        "pullback_window": 6,
        "pullback_touch_buffer_pct": 0.0,
        "allow_short": False,
    },
    ranges={
        "htf_factor": [3, 4, 6],
        "htf_ema_fast": [10, 20, 26],
        "htf_ema_slow": [40, 50],
        "ltf_ema": [13, 20],
        "pullback_window": [4, 6, 8],
    },
    can_short=True,
    variants=SHORT_ON_FUTURES,
    constraints=(
        "htf_factor > 0",
        "htf_ema_fast > 0",
        "ltf_ema > 0",
        "pullback_window > 0",
        "htf_ema_fast < htf_ema_slow",
    ),
)
def mtf_confluence(
    df: pd.DataFrame,
    *,
    htf_factor: int,
    htf_ema_fast: int,
    htf_ema_slow: int,
    htf_sep_pct: float,
    ltf_ema: int,
    pullback_window: int,
    pullback_touch_buffer_pct: float,
    allow_short: bool,
) -> pd.DataFrame:
    """Enter with the HTF trend after a native pullback through the EMA is reclaimed."""
    n = len(df)
    close = df["close"]
    e = ind.ema(close, ltf_ema)
    factor = max(int(htf_factor), 1)
    trend = np.zeros(n)
    fast_col = np.full(n, np.nan)
    slow_col = np.full(n, np.nan)
    pos = np.zeros(n, dtype="int64")
    buckets, visible = htf_buckets(df, factor) if n >= factor + 2 else (pd.DataFrame(), None)
    if len(buckets) and visible is not None:
        f = ind.ema(buckets["close"], htf_ema_fast)
        s = ind.ema(buckets["close"], htf_ema_slow)
        # Ordinal gate (upstream: ordinal >= htf_ema_slow) also keeps our NaN EMA warm-up out.
        warm = pd.Series(np.arange(len(buckets)) >= htf_ema_slow, index=buckets.index)
        rising, falling = f > f.shift(1), f < f.shift(1)
        up = (f > s * (1.0 + htf_sep_pct)) & rising & warm
        down = (f < s * (1.0 - htf_sep_pct)) & falling & warm
        htf_trend = up.astype("int64") - down.astype("int64")
        trend = project(htf_trend.to_numpy(dtype="float64"), visible, 0.0)
        hold_up = project(((f > s) & warm).to_numpy(), visible, False)
        hold_down = project(((f < s) & warm).to_numpy(), visible, False)
        fast_col = project(f.to_numpy(dtype="float64"), visible, np.nan)
        slow_col = project(s.to_numpy(dtype="float64"), visible, np.nan)

        buf = pullback_touch_buffer_pct
        long_pb = prior_any(df["low"] < e * (1.0 - buf), pullback_window).to_numpy()
        short_pb = prior_any(df["high"] > e * (1.0 + buf), pullback_window).to_numpy()
        long_trig = ((close > e) & (close > df["high"].shift(1))).to_numpy() & long_pb
        short_trig = ((close < e) & (close < df["low"].shift(1))).to_numpy() & short_pb
        state = 0
        for i in range(n):
            if (state == 1 and not hold_up[i]) or (state == -1 and not hold_down[i]):
                state = 0
            if state == 0:
                if long_trig[i] and trend[i] == 1:
                    state = 1
                elif allow_short and short_trig[i] and trend[i] == -1:
                    state = -1
            pos[i] = state
    return frame(
        df,
        signal_from_position(pos),
        htf_trend=trend,
        htf_ema_fast=fast_col,
        htf_ema_slow=slow_col,
        ltf_ema=e,
    )


# --------------------------------------------------------------- vol_momentum (§3.47)


@register(
    "vol_momentum",
    short="vmom",
    description="ATR-normalised momentum with a path-efficiency filter; exits when either fades.",
    defaults={
        "mom_window": 24,
        "atr_period": 14,
        "entry_threshold": 0.30,
        "exit_threshold": 0.05,
        "eff_entry": 0.35,
        "eff_exit": 0.15,
        "allow_short": False,
    },
    ranges={
        "mom_window": [16, 24, 48],
        "entry_threshold": [0.2, 0.3, 0.4],
        "exit_threshold": [0.0, 0.05, 0.1],
        "eff_entry": [0.25, 0.35, 0.45],
    },
    can_short=True,
    variants=SHORT_ON_FUTURES,
    constraints=("mom_window > 0", "atr_period > 0"),
)
def vol_momentum(
    df: pd.DataFrame,
    *,
    mom_window: int,
    atr_period: int,
    entry_threshold: float,
    exit_threshold: float,
    eff_entry: float,
    eff_exit: float,
    allow_short: bool,
) -> pd.DataFrame:
    """Ride moves that are large in ATR terms and made along an efficient path."""
    close = df["close"]
    atr = atr_rounded(df, atr_period)
    net = close - close.shift(mom_window)
    vol_mom = ratio_or_zero(net, atr * mom_window).where(net.notna())
    efficiency = path_efficiency(close, net, mom_window).where(net.notna())
    vm, eff = vol_mom.to_numpy(dtype="float64"), efficiency.to_numpy(dtype="float64")
    n = len(df)
    pos = np.zeros(n, dtype="int64")
    for i in range(1, n):
        cur = pos[i - 1]
        exit_long = cur == 1 and (vm[i] < exit_threshold or eff[i] < eff_exit)
        exit_short = cur == -1 and (vm[i] > -exit_threshold or eff[i] < eff_exit)
        if exit_long or exit_short:
            cur = 0
        if eff[i] >= eff_entry:  # direct flips allowed, as upstream
            if vm[i] > entry_threshold:
                cur = 1
            elif allow_short and vm[i] < -entry_threshold:
                cur = -1
        pos[i] = cur
    return frame(df, signal_from_position(pos), atr=atr, vol_mom=vol_mom, efficiency=efficiency)
