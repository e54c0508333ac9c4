"""Open strategies: trend and breakout family (upstream catalogue §3.15-§3.35).

Each rule follows the upstream catalogue signal for signal, with our house differences:

* Indicators come from :mod:`shared_tools.indicators` where it has them: TA-Lib-seeded
  EMA/RSI (NaN warm-up instead of upstream's seed-from-first-value), Wilder ADX/DI seeded
  like TA-Lib (NaN warm-up instead of upstream's zeros), and a true range that is NaN on
  bar 0 (upstream uses ``H-L`` there), so every "simple" ATR starts one bar later than
  upstream's and is identical afterwards.
* No signal is ever taken from a bar whose operands are NaN, and an edge/cross also needs
  the operands of the previous bar: upstream's warm-up artefacts (an edge "from" a NaN bar)
  are deliberately not emitted.
* Everything else (ties, inclusive/exclusive comparisons, "-1 wins ties", level versus edge
  triggering, the ATR >= 100 rounding where upstream rounds) is upstream's rule.

All helpers are causal, so each strategy honours the closed-bar contract.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from shared_strategies.open.common import (
    buy_sell,
    cross_above,
    cross_below,
    frame,
    prior_any,
    round_large_atr,
    squeeze_momentum_parts,
    warm_rows,
)
from shared_strategies.open.specs import FUTURES_LIKE, register
from shared_tools import indicators as ind

# ---------------------------------------------------------------------------- helpers


def _prev(s: pd.Series, fill: object = False) -> pd.Series:
    return s.shift(1, fill_value=fill)


def _edge(cond: pd.Series, valid: pd.Series) -> pd.Series:
    """``cond`` true now and false on the previous bar, with operands valid on both bars.

    Upstream counts a NaN previous bar as "false", so it fires on the first bar its
    indicators exist; requiring ``valid`` on the previous bar drops that warm-up artefact.
    """
    cond = cond.fillna(False).astype(bool)
    valid = valid.fillna(False).astype(bool)
    return cond & ~_prev(cond) & valid & _prev(valid)


def _heikin_ashi(df: pd.DataFrame) -> tuple[np.ndarray, ...]:
    """Heikin-Ashi per upstream: ``ha_open[0] = ha_close[0]`` (not (O+C)/2)."""
    o, h, lo, c = (df[k].to_numpy(dtype=float) for k in ("open", "high", "low", "close"))
    ha_close = (o + h + lo + c) / 4.0
    ha_open = np.empty_like(ha_close)
    if len(ha_close):
        ha_open[0] = ha_close[0]
        for i in range(1, len(ha_close)):
            ha_open[i] = (ha_open[i - 1] + ha_close[i - 1]) / 2.0
    ha_high = np.maximum(h, np.maximum(ha_open, ha_close))
    ha_low = np.minimum(lo, np.minimum(ha_open, ha_close))
    return ha_open, ha_close, ha_high, ha_low


# ---------------------------------------------------------------------- strategies


@register(
    "breakout",
    short="brk",
    description="Close breaks the prior lookback high/low on a bar whose true range exceeds atr_multiplier x ATR.",
    defaults={"lookback": 20, "atr_period": 14, "atr_multiplier": 1.5},
    ranges={
        "lookback": [10, 20, 30],
        "atr_period": [10, 14, 20],
        "atr_multiplier": [1.0, 1.5, 2.0],
    },
    platforms=FUTURES_LIKE,
    constraints=("lookback > 0", "atr_period > 0"),
)
def breakout(
    df: pd.DataFrame, *, lookback: int, atr_period: int, atr_multiplier: float
) -> pd.DataFrame:
    """§3.19: edge-triggered range breakout confirmed by an expanded true range."""
    close = df["close"]
    channel = ind.donchian(df, lookback)
    high_roll, low_roll = channel["upper"], channel["lower"]
    tr = ind.true_range(df)
    atr = round_large_atr(ind.atr(df, atr_period, "simple"))
    wide = tr > atr * atr_multiplier
    up = (close > high_roll.shift(1)) & wide
    down = (close < low_roll.shift(1)) & wide
    valid = high_roll.shift(1).notna() & low_roll.shift(1).notna() & atr.notna() & tr.notna()
    sig = buy_sell(_edge(up, valid), _edge(down, valid))
    return frame(df, sig, high_roll=high_roll, low_roll=low_roll, atr=atr)


@register(
    "bear_pullback_st",
    short="bearpb",
    description="Short-only: in a bear trend (EMA mid < long, ADX strong) sell the failure of a recent pullback to the short/mid EMA.",
    defaults={
        "ema_short": 20,
        "ema_mid": 50,
        "ema_long": 200,
        "adx_period": 14,
        "adx_threshold": 20.0,
        "rsi_period": 14,
        "rsi_lower": 55.0,
        "rsi_upper": 65.0,
        "pullback_window": 5,
        "pullback_touch_buffer_pct": 0.001,
    },
    ranges={
        "adx_threshold": [15.0, 20.0, 25.0],
        "rsi_lower": [50.0, 55.0],
        "rsi_upper": [65.0, 70.0],
        "pullback_window": [3, 5, 8],
    },
    platforms=FUTURES_LIKE,
    can_short=True,
    constraints=(
        "ema_short > 0",
        "adx_period > 0",
        "rsi_period > 0",
        "pullback_window > 0",
        "ema_short < ema_mid",
        "ema_mid < ema_long",
        "rsi_lower < rsi_upper",
    ),
)
def bear_pullback_st(
    df: pd.DataFrame,
    *,
    ema_short: int,
    ema_mid: int,
    ema_long: int,
    adx_period: int,
    adx_threshold: float,
    rsi_period: int,
    rsi_lower: float,
    rsi_upper: float,
    pullback_window: int,
    pullback_touch_buffer_pct: float,
) -> pd.DataFrame:
    """§3.34: level-triggered -1 only; never emits +1."""
    close, high, low = df["close"], df["high"], df["low"]
    e_short = ind.ema(close, ema_short)
    e_mid = ind.ema(close, ema_mid)
    e_long = ind.ema(close, ema_long)
    adx = ind.adx(df, adx_period)["adx"]
    rsi = ind.rsi(close, rsi_period)
    buf = 1.0 + pullback_touch_buffer_pct
    touch = (high > e_short * buf) | (high > e_mid * buf)
    rsi_band = (rsi >= rsi_lower) & (rsi <= rsi_upper)
    trigger = cross_below(close, e_short) | (close < low.shift(1))
    short = (
        (e_mid < e_long)
        & (adx > adx_threshold)
        & prior_any(touch, pullback_window)
        & prior_any(rsi_band, pullback_window)
        & trigger
        & (close < e_short)
    )
    # Upstream returns all zeros when the whole frame is shorter than this; applying the
    # same bound per bar (bar i counts as a frame of i+1 bars) keeps it causal.
    min_len = max(ema_long, 2 * adx_period, rsi_period) + pullback_window + 2
    sig = buy_sell(pd.Series(False, index=df.index), short & ~warm_rows(len(df), min_len))
    return frame(df, sig, ema_short=e_short, ema_mid=e_mid, ema_long=e_long, adx=adx, rsi=rsi)


@register(
    "supertrend",
    short="st",
    description="Supertrend (hl2 +/- multiplier x ATR) direction flips: +1 when it turns up, -1 when it turns down.",
    defaults={"atr_period": 10, "multiplier": 3.0},
    ranges={"atr_period": [7, 10, 14], "multiplier": [2.0, 3.0, 4.0]},
    constraints=("atr_period > 0",),
)
def supertrend(df: pd.DataFrame, *, atr_period: int, multiplier: float) -> pd.DataFrame:
    """§3.15: simple unrounded ATR bands, ratcheting final bands, signal on -1 <-> +1 flips."""
    close = df["close"].to_numpy(dtype=float)
    atr = ind.atr(df, atr_period, "simple").to_numpy()
    hl2 = ((df["high"] + df["low"]) / 2.0).to_numpy(dtype=float)
    upper, lower = hl2 + multiplier * atr, hl2 - multiplier * atr
    n = len(close)
    direction = np.zeros(n, dtype="int64")
    line = np.full(n, np.nan)
    started = np.flatnonzero(~np.isnan(atr))
    if started.size:
        s = int(started[0])
        fu, fl = upper.copy(), lower.copy()
        for i in range(s + 1, n):
            if upper[i] < fu[i - 1] or close[i - 1] > fu[i - 1]:
                fu[i] = upper[i]
            else:
                fu[i] = fu[i - 1]
            if lower[i] > fl[i - 1] or close[i - 1] < fl[i - 1]:
                fl[i] = lower[i]
            else:
                fl[i] = fl[i - 1]
            if direction[i - 1] <= 0:
                direction[i] = 1 if close[i] > fu[i] else -1
            else:
                direction[i] = -1 if close[i] < fl[i] else 1
        line[s:] = np.where(direction[s:] == 1, fl[s:], fu[s:])
    prev = np.r_[0, direction[:-1]]
    sig = np.where((prev == -1) & (direction == 1), 1, 0)
    sig = np.where((prev == 1) & (direction == -1), -1, sig)
    return frame(df, sig, supertrend=line, st_direction=direction)


@register(
    "ichimoku_cloud",
    short="ichi",
    description="Tenkan/kijun cross on the matching side of the (undisplaced) cloud with close beyond its kijun_period-ago value.",
    defaults={"tenkan_period": 9, "kijun_period": 26, "senkou_b_period": 52},
    ranges={
        "tenkan_period": [7, 9, 12],
        "kijun_period": [22, 26, 30],
        "senkou_b_period": [44, 52, 60],
    },
    constraints=("tenkan_period > 0", "kijun_period > 0", "senkou_b_period > 0"),
)
def ichimoku_cloud(
    df: pd.DataFrame, *, tenkan_period: int, kijun_period: int, senkou_b_period: int
) -> pd.DataFrame:
    """§3.16: all lines at the current bar (no forward displacement, as upstream)."""
    close = df["close"]
    tenkan = ind.donchian(df, tenkan_period)["middle"]
    kijun = ind.donchian(df, kijun_period)["middle"]
    senkou_a = (tenkan + kijun) / 2.0
    senkou_b = ind.donchian(df, senkou_b_period)["middle"]
    both = senkou_a.notna() & senkou_b.notna()
    top = np.maximum(senkou_a, senkou_b).where(both)
    bottom = np.minimum(senkou_a, senkou_b).where(both)
    ago = close.shift(kijun_period)
    buy = (close > top) & cross_above(tenkan, kijun) & (close > ago)
    sell = (close < bottom) & cross_below(tenkan, kijun) & (close < ago)
    return frame(
        df, buy_sell(buy, sell), tenkan=tenkan, kijun=kijun, senkou_a=senkou_a, senkou_b=senkou_b
    )


@register(
    "squeeze_momentum",
    short="sqz",
    description="Bollinger-inside-Keltner squeeze release: +1 with positive rising momentum, -1 with negative falling momentum.",
    defaults={"bb_period": 20, "bb_std": 2.0, "kc_period": 20, "kc_mult": 1.5, "mom_lookback": 12},
    ranges={
        "bb_period": [15, 20, 25],
        "kc_period": [15, 20, 25],
        "kc_mult": [1.0, 1.5, 2.0],
        "mom_lookback": [8, 12, 16],
    },
    constraints=("bb_period > 0", "kc_period > 0", "mom_lookback > 0"),
)
def squeeze_momentum(
    df: pd.DataFrame,
    *,
    bb_period: int,
    bb_std: float,
    kc_period: int,
    kc_mult: float,
    mom_lookback: int,
) -> pd.DataFrame:
    """§3.18: fires on the bar the squeeze turns off (rule in ``common.squeeze_momentum_parts``)."""
    squeeze_on, mom, buy, sell = squeeze_momentum_parts(
        df, bb_period, bb_std, kc_period, kc_mult, mom_lookback
    )
    return frame(df, buy_sell(buy, sell), squeeze_on=squeeze_on, squeeze_mom=mom)


@register(
    "atr_breakout",
    short="atrbrk",
    description="Close crosses prior close +/- multiplier x ATR.",
    defaults={"atr_period": 14, "multiplier": 1.5},
    ranges={"atr_period": [10, 14, 20], "multiplier": [1.0, 1.5, 2.0]},
    constraints=("atr_period > 0",),
)
def atr_breakout(df: pd.DataFrame, *, atr_period: int, multiplier: float) -> pd.DataFrame:
    """§3.20: ATR simple and rounded (>= 100 rule), band anchored on the previous close."""
    close = df["close"]
    atr = round_large_atr(ind.atr(df, atr_period, "simple"))
    upper = close.shift(1) + multiplier * atr
    lower = close.shift(1) - multiplier * atr
    sig = buy_sell(cross_above(close, upper), cross_below(close, lower))
    return frame(df, sig, atr=atr)


@register(
    "heikin_ashi_ema",
    short="haema",
    description="Streak of shadowless Heikin-Ashi candles on the matching side of the EMA of ha_close.",
    defaults={"ema_period": 21, "confirmation": 2},
    ranges={"ema_period": [13, 21, 34], "confirmation": [1, 2, 3]},
    constraints=("ema_period > 0",),
)
def heikin_ashi_ema(df: pd.DataFrame, *, ema_period: int, confirmation: int) -> pd.DataFrame:
    """§3.22: edge-triggered; bullish = no lower shadow (exact equality), bearish mirrored."""
    ha_open, ha_close, ha_high, ha_low = (pd.Series(a, index=df.index) for a in _heikin_ashi(df))
    ha_ema = ind.ema(ha_close, ema_period)
    bullish = (ha_close > ha_open) & (ha_low == ha_open)
    bearish = (ha_close < ha_open) & (ha_high == ha_open)
    window = max(int(confirmation), 1)  # upstream's streak of <= 0 bars is undefined
    bull_run = bullish.astype(float).rolling(window, min_periods=window).sum() >= window
    bear_run = bearish.astype(float).rolling(window, min_periods=window).sum() >= window
    valid = ha_ema.notna()
    buy = _edge(bull_run & (ha_close > ha_ema), valid)
    sell = _edge(bear_run & (ha_close < ha_ema), valid)
    return frame(
        df,
        buy_sell(buy, sell),
        ha_open=ha_open,
        ha_close=ha_close,
        ha_high=ha_high,
        ha_low=ha_low,
        ha_ema=ha_ema,
        ha_bullish=bullish,
        ha_bearish=bearish,
    )


@register(
    "parabolic_sar",
    short="psar",
    description="Parabolic SAR trend reversals: +1 when it flips up, -1 when it flips down.",
    defaults={"iaf": 0.02, "af_step": 0.02, "max_af": 0.2},
    ranges={"iaf": [0.01, 0.02, 0.03], "af_step": [0.01, 0.02, 0.03], "max_af": [0.1, 0.2, 0.3]},
)
def parabolic_sar(df: pd.DataFrame, *, iaf: float, af_step: float, max_af: float) -> pd.DataFrame:
    """§3.27: starts in an up-trend at bar 0 (no peeking), signals on trend flips."""
    high = df["high"].to_numpy(dtype=float)
    low = df["low"].to_numpy(dtype=float)
    n = len(high)
    sar = np.full(n, np.nan)
    trend = np.ones(n, dtype="int64")
    if n == 0:
        return frame(df, np.zeros(0), sar=sar)
    # upstream differs: a one-bar frame reports sar NaN there; we keep sar[0] = low[0] so
    # the column is causal (no signal either way).
    sar[0], ep, af = low[0], high[0], iaf
    for i in range(1, n):
        cand = sar[i - 1] + af * (ep - sar[i - 1])
        if trend[i - 1] == 1:
            cand = min(cand, low[i - 1], low[i - 2]) if i >= 2 else min(cand, low[i - 1])
            if low[i] < cand:
                trend[i], sar[i], ep, af = -1, ep, low[i], iaf
                continue
            trend[i], sar[i] = 1, cand
            new_ep = max(ep, high[i])
        else:
            cand = max(cand, high[i - 1], high[i - 2]) if i >= 2 else max(cand, high[i - 1])
            if high[i] > cand:
                trend[i], sar[i], ep, af = 1, ep, high[i], iaf
                continue
            trend[i], sar[i] = -1, cand
            new_ep = min(ep, low[i])
        if new_ep != ep:
            af = min(af + af_step, max_af)
        ep = new_ep
    prev = np.r_[trend[0], trend[:-1]]
    sig = np.where(trend > prev, 1, np.where(trend < prev, -1, 0))
    return frame(df, sig, sar=sar)


@register(
    "adx_trend",
    short="adx",
    description="+DI/-DI crossovers while ADX is above adx_threshold.",
    defaults={"adx_period": 14, "adx_threshold": 25},
    ranges={"adx_period": [10, 14, 20], "adx_threshold": [20, 25, 30]},
    constraints=("adx_period > 0",),
)
def adx_trend(df: pd.DataFrame, *, adx_period: int, adx_threshold: float) -> pd.DataFrame:
    """§3.30: bull = +DI > -DI (equality is not bull); only from bar 2*adx_period on.

    Upstream emits no indicator columns; we report ``adx``, ``plus_di`` and ``minus_di``
    (our contract wants at least one float column).
    """
    a = ind.adx(df, adx_period)
    bull = a["plus_di"] > a["minus_di"]
    valid = a["plus_di"].notna() & a["minus_di"].notna()
    strong = (a["adx"] > adx_threshold) & ~warm_rows(len(df), 2 * adx_period + 1)
    buy = strong & _edge(bull, valid)
    sell = strong & _edge(~bull, valid)
    return frame(
        df, buy_sell(buy, sell), adx=a["adx"], plus_di=a["plus_di"], minus_di=a["minus_di"]
    )


@register(
    "donchian_breakout",
    short="donch",
    description="Close crosses the prior entry_period Donchian high (+1) or low (-1).",
    defaults={"entry_period": 20, "exit_period": 10},
    ranges={"entry_period": [10, 20, 30, 55], "exit_period": [5, 10, 20]},
    can_short=True,
    constraints=("entry_period > 0", "exit_period > 0"),
)
def donchian_breakout(df: pd.DataFrame, *, entry_period: int, exit_period: int) -> pd.DataFrame:
    """§3.33: channels exclude the current bar; exit channels are display only (as upstream)."""
    close = df["close"]
    entry = ind.donchian(df, entry_period).shift(1)
    exit_ = ind.donchian(df, exit_period).shift(1)
    buy = cross_above(close, entry["upper"])
    sell = cross_below(close, entry["lower"])
    return frame(
        df,
        buy_sell(buy, sell),
        donchian_upper=entry["upper"],
        donchian_lower=entry["lower"],
        donchian_exit_upper=exit_["upper"],
        donchian_exit_lower=exit_["lower"],
    )


SESSIONS: dict[str, tuple[int, int]] = {"asian": (0, 8), "us_open": (13, 15), "us_close": (20, 21)}


def _session_levels(
    df: pd.DataFrame, start: int, end: int, lookback: int
) -> tuple[pd.Series, pd.Series]:
    """Causal session high/low levels over the last ``lookback`` session dates.

    Upstream gives every bar its whole date's session range (same-day look-ahead on bars
    inside the session, display only since signals need ``hour >= end``). Here a bar sees
    the in-session bars of its date up to itself, so the columns are causal too; after the
    session end both agree.
    """
    idx = df.index
    hours = idx.hour
    in_session = pd.Series((hours >= start) & (hours < end), index=idx)
    dates = pd.Series(idx.normalize(), index=idx)
    hi = df["high"].where(in_session)
    lo = df["low"].where(in_session)
    run_hi = hi.fillna(-np.inf).groupby(dates).cummax()
    run_lo = lo.fillna(np.inf).groupby(dates).cummin()
    seen = in_session.groupby(dates).cummax().astype(bool)
    run_hi, run_lo = run_hi.where(seen), run_lo.where(seen)
    if lookback <= 1:
        return run_hi, run_lo
    day_hi = hi.groupby(dates).max().dropna()  # dates with >= 1 in-session bar
    day_lo = lo.groupby(dates).min().dropna()
    # Previous lookback-1 session dates (strictly before each bar's date).
    prev_hi = day_hi.rolling(lookback - 1, min_periods=1).max().shift(1)
    prev_lo = day_lo.rolling(lookback - 1, min_periods=1).min().shift(1)
    before_hi = prev_hi.reindex(dates.to_numpy()).to_numpy()
    before_lo = prev_lo.reindex(dates.to_numpy()).to_numpy()
    level_hi = pd.Series(np.fmax(run_hi.to_numpy(), before_hi), index=idx).where(seen)
    level_lo = pd.Series(np.fmin(run_lo.to_numpy(), before_lo), index=idx).where(seen)
    return level_hi, level_lo


@register(
    "session_breakout",
    short="sessbrk",
    description="After a session (asian / us_open / us_close) closes, trade a break of its high/low on high volume.",
    defaults={
        "session": "asian",
        "lookback": 1,
        "volume_threshold": 1.5,
        "vol_period": 20,
        "atr_period": 14,
        "atr_multiplier": 0.0,
    },
    ranges={
        "session": ["asian", "us_open", "us_close"],
        "lookback": [1, 2, 3],
        "volume_threshold": [1.2, 1.5, 2.0],
        "atr_multiplier": [0.0, 0.5, 1.0],
    },
    platforms=FUTURES_LIKE,
    can_short=True,
    constraints=("lookback > 0", "vol_period > 0", "atr_period > 0"),
)
def session_breakout(
    df: pd.DataFrame,
    *,
    session: str,
    lookback: int,
    volume_threshold: float,
    vol_period: int,
    atr_period: int,
    atr_multiplier: float,
) -> pd.DataFrame:
    """§3.35: edge-triggered break of the session range, only at/after the session end hour.

    Hours are read from our index, i.e. bar *open* times in UTC. Upstream's Hyperliquid
    frames are labelled by bar close time, which puts the last in-session bar one hour
    label later; ours classifies a bar by the hour it actually trades in.
    """
    if session not in SESSIONS:
        raise ValueError(f"unknown session {session!r} (valid: {', '.join(SESSIONS)})")
    volume = df["volume"]
    vol_sma = ind.sma(volume, vol_period)
    nan = pd.Series(np.nan, index=df.index)
    if not isinstance(df.index, pd.DatetimeIndex):
        return frame(df, np.zeros(len(df)), session_high=nan, session_low=nan, vol_sma=vol_sma)
    start, end = SESSIONS[session]
    level_hi, level_lo = _session_levels(df, start, end, lookback)
    close = df["close"]
    high_volume = volume > vol_sma * volume_threshold
    valid = vol_sma.notna()
    if atr_multiplier > 0:
        tr = ind.true_range(df)
        atr = ind.atr(df, atr_period, "simple")  # unrounded, as upstream
        atr_ok = tr > atr * atr_multiplier
        valid &= atr.notna() & tr.notna()
    else:
        atr_ok = pd.Series(True, index=df.index)
    after = pd.Series(df.index.hour >= end, index=df.index)
    up = (close > level_hi) & high_volume & atr_ok & after
    down = (close < level_lo) & high_volume & atr_ok & after
    sig = buy_sell(_edge(up, valid), _edge(down, valid))
    return frame(df, sig, session_high=level_hi, session_low=level_lo, vol_sma=vol_sma)
