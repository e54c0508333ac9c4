"""Open strategies: the market-structure family (upstream catalogue §3.23-§3.36).

Liquidity sweeps, order blocks, the sweep/squeeze/stoch-RSI vote, the range scalper and the
session-VWAP rules (vwap_reversion, vwap_rejection_st). Chart patterns live in
:mod:`chart_pattern` and the AMD/IFVG session model in :mod:`amd_ifvg`. Rules follow the
catalogue to the letter (inclusive/exclusive comparisons, "-1 wins ties", level vs edge
triggering).

Deliberate differences from upstream, shared by the whole port:

* Indicators come from :mod:`shared_tools.indicators`: EMA is NaN for its first ``period-1``
  bars, RSI is TA-Lib seeded (a flat window reads 50, not NaN), the true range of bar 0 is NaN
  (so a simple ATR(N) is first valid on bar N, one bar after upstream's). No rule fires from a
  NaN operand.
* Upstream returns all zeros when the *whole frame* is shorter than a minimum length. That would
  make bar i's signal depend on how many bars follow it, so we zero the signal on every *row*
  ``i`` with ``i + 1 <`` that minimum instead (identical on the last bar, the live decision).
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
    squeeze_momentum_parts,
    stoch_rsi_parts,
    warm_rows,
)
from shared_strategies.open.specs import FUTURES_LIKE, register
from shared_tools import indicators as ind

# ----------------------------------------------------------------------------- helpers


def _session_vwap(df: pd.DataFrame, *, fallback_tp: bool) -> pd.Series:
    """VWAP of typical price accumulated within each calendar date of the index.

    Zero cumulative volume: typical price when ``fallback_tp`` (vwap_rejection_st), else NaN
    (vwap_reversion) - both as upstream.
    """
    tp = (df["high"] + df["low"] + df["close"]) / 3.0
    day = pd.DatetimeIndex(df.index).normalize()
    pv = (tp * df["volume"]).groupby(day).cumsum()
    vol = df["volume"].groupby(day).cumsum()
    out = pv / vol.where(vol != 0)
    if fallback_tp:
        out = out.where(vol != 0, tp)
    return out.rename("vwap")


# ------------------------------------------------------------------ liquidity sweeps


def _ls_swings(high: np.ndarray, low: np.ndarray, lb: int) -> tuple[np.ndarray, np.ndarray]:
    """Bar p in [lb, n-lb-1] is a swing high when H[p] is the max of H[p-lb..p+lb] (ties allowed)."""
    n = len(high)
    sh = np.zeros(n, dtype=bool)
    sl = np.zeros(n, dtype=bool)
    if n >= 2 * lb + 1:
        hmax = pd.Series(high).rolling(2 * lb + 1).max().shift(-lb).to_numpy()
        lmin = pd.Series(low).rolling(2 * lb + 1).min().shift(-lb).to_numpy()
        sh = high == hmax
        sl = low == lmin
    return sh, sl


def _liquidity_sweep_core(
    high: np.ndarray, low: np.ndarray, close: np.ndarray, lb: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Signal plus the pools as they stand after each bar (pools set ``lb+1`` bars after a swing)."""
    n = len(close)
    sig = np.zeros(n, dtype="int64")
    pools_h = np.full(n, np.nan)
    pools_l = np.full(n, np.nan)
    sh, sl = _ls_swings(high, low, lb)
    pool_h = np.nan
    pool_l = np.nan
    for i in range(n):
        prev = sig[i - 1] if i > 0 else 0
        if pool_h == pool_h and high[i] > pool_h and close[i] < pool_h and prev != -1:
            sig[i] = -1
            pool_h = np.nan
        if pool_l == pool_l and low[i] < pool_l and close[i] > pool_l and prev != 1:
            sig[i] = 1  # overwrites a -1 from the pool-high check, as upstream
            pool_l = np.nan
        q = i - lb - 1
        if q >= 0:
            if sh[q]:
                pool_h = high[q]
            if sl[q]:
                pool_l = low[q]
        pools_h[i], pools_l[i] = pool_h, pool_l
    return sig, pools_h, pools_l


@register(
    "liquidity_sweeps",
    short="ls",
    description="Fade a wick through a confirmed swing-high/low liquidity pool that closes back inside.",
    defaults={"swing_lookback": 20, "confirmation": 1},
    ranges={"swing_lookback": [10, 20, 30]},
    can_short=True,
    constraints=("swing_lookback > 0",),
)
def liquidity_sweeps(df: pd.DataFrame, *, swing_lookback: int, confirmation: int) -> pd.DataFrame:
    """Stateful pool sweep (§3.26). ``confirmation`` is accepted and unused, as upstream.

    Upstream emits no indicator columns; ``pool_high``/``pool_low`` (the active pools after the
    bar, NaN when none) are ours, for display.
    """
    del confirmation  # upstream reserves it; the rule does not read it
    sig, ph, pl = _liquidity_sweep_core(
        df["high"].to_numpy(float),
        df["low"].to_numpy(float),
        df["close"].to_numpy(float),
        int(swing_lookback),
    )
    return frame(df, sig, pool_high=ph, pool_low=pl)


# ------------------------------------------------------------------ vwap_rejection_st


@register(
    "vwap_rejection_st",
    short="vwaprej",
    description="Short a bearish rejection candle below session VWAP and EMAs after a rally into them, in a downtrend.",
    defaults={
        "ema_short": 20,
        "ema_mid": 50,
        "ema_long": 200,
        "rsi_period": 14,
        "rsi_max_reclaim": 50.0,
        "rally_window": 5,
        "rally_touch_buffer_pct": 0.001,
    },
    ranges={
        "ema_short": [13, 20],
        "ema_long": [100, 200],
        "rsi_max_reclaim": [45.0, 50.0, 55.0],
        "rally_window": [3, 5, 8],
    },
    platforms=FUTURES_LIKE,
    can_short=True,
    constraints=(
        "ema_short > 0",
        "rsi_period > 0",
        "rally_window > 0",
        "ema_short < ema_mid",
        "ema_mid < ema_long",
    ),
)
def vwap_rejection_st(
    df: pd.DataFrame,
    *,
    ema_short: int,
    ema_mid: int,
    ema_long: int,
    rsi_period: int,
    rsi_max_reclaim: float,
    rally_window: int,
    rally_touch_buffer_pct: float,
) -> pd.DataFrame:
    """Short-only (§3.36): level-triggered -1 on every bar all conditions hold."""
    close, high, open_ = df["close"], df["high"], df["open"]
    e_s = ind.ema(close, ema_short)
    e_m = ind.ema(close, ema_mid)
    e_l = ind.ema(close, ema_long)
    vwap = _session_vwap(df, fallback_tp=True)
    r = ind.rsi(close, rsi_period)
    buf = 1.0 + rally_touch_buffer_pct
    rally = (high > vwap * buf) | (high > e_s * buf) | (high > e_m * buf)
    short = (
        (e_m < e_l)
        & prior_any(rally, int(rally_window))
        & (r <= rsi_max_reclaim)
        & (close < open_)
        & (close < vwap)
        & (close < e_s)
        & (close < e_m)
    )
    sig = -short.fillna(False).astype("int64").to_numpy()
    sig[warm_rows(len(df), max(ema_long, rsi_period) + rally_window + 2)] = 0
    return frame(df, sig, ema_short=e_s, ema_mid=e_m, ema_long=e_l, vwap=vwap, rsi=r)


# ------------------------------------------------------------------ vwap_reversion


@register(
    "vwap_reversion",
    short="vwaprev",
    description="Buy a close that breaks below session VWAP - entry_std sigma, sell one that breaks above + entry_std.",
    defaults={"entry_std": 1.5, "exit_std": 0.2},
    ranges={"entry_std": [1.0, 1.5, 2.0], "exit_std": [0.0, 0.2, 0.5]},
    constraints=("exit_std < entry_std",),
)
def vwap_reversion(df: pd.DataFrame, *, entry_std: float, exit_std: float) -> pd.DataFrame:
    """§3.24; ``exit_std`` is only checked by the constraint, the rule ignores it (as upstream)."""
    del exit_std
    close = df["close"]
    vwap = _session_vwap(df, fallback_tp=False)
    dev = close - vwap
    day = pd.DatetimeIndex(df.index).normalize()
    std = dev.groupby(day).transform(lambda s: s.expanding().std(ddof=1))
    first_of_day = pd.Series(day, index=df.index).duplicated().eq(False)
    std = std.where(~first_of_day.to_numpy(), 0.0)
    lower = vwap - entry_std * std
    upper = vwap + entry_std * std
    buy = cross_below(close, lower)  # buys the break *below* the lower band, as upstream
    sell = cross_above(close, upper)
    sig = buy.fillna(False).astype("int64") - sell.fillna(False).astype("int64")
    return frame(df, sig, vwap=vwap, vwap_std=std)


# ------------------------------------------------------------------ range_scalper


@register(
    "range_scalper",
    short="rscalp",
    description="In a tight, quiet Bollinger range: buy a tag of the lower band with low RSI, sell a tag of the upper.",
    defaults={
        "bb_period": 14,
        "bb_std": 1.5,
        "bw_threshold": 0.008,
        "vol_ratio": 0.8,
        "rsi_period": 7,
        "rsi_ob": 70,
        "rsi_os": 30,
    },
    ranges={
        "bb_period": [14, 20],
        "bb_std": [1.5, 2.0],
        "bw_threshold": [0.005, 0.008, 0.012],
        "rsi_period": [7, 14],
    },
    constraints=("bb_period > 0", "rsi_period > 0", "rsi_os < rsi_ob"),
)
def range_scalper(
    df: pd.DataFrame,
    *,
    bb_period: int,
    bb_std: float,
    bw_threshold: float,
    vol_ratio: float,
    rsi_period: int,
    rsi_ob: float,
    rsi_os: float,
) -> pd.DataFrame:
    """§3.28: band tag (edge) + RSI extreme + narrow bandwidth + below-average volume."""
    close, volume = df["close"], df["volume"]
    bb = ind.bollinger(close, bb_period, bb_std, ddof=1)  # upstream: sample std
    mid = bb["middle"]
    bandwidth = (bb["upper"] - bb["lower"]) / mid.where(mid != 0)
    vol_sma = ind.sma(volume, bb_period)
    low_volume = volume < vol_sma * vol_ratio
    in_range = (bandwidth < bw_threshold) & low_volume
    r = ind.rsi(close, rsi_period)
    buy = (close <= bb["lower"]) & (close.shift(1) > bb["lower"].shift(1)) & (r < rsi_os) & in_range
    sell = (
        (close >= bb["upper"]) & (close.shift(1) < bb["upper"].shift(1)) & (r > rsi_ob) & in_range
    )
    sig = buy_sell(buy, sell)
    return frame(
        df,
        sig,
        bb_mid=mid,
        bb_upper=bb["upper"],
        bb_lower=bb["lower"],
        bb_bandwidth=bandwidth,
        vol_sma=vol_sma,
        low_volume=low_volume,
        in_range=in_range,
        rsi=r,
    )


# ------------------------------------------------------------------ order_blocks


@register(
    "order_blocks",
    short="ob",
    description="After a displacement candle, mark the last opposite candle as an order block; trade the first retest.",
    defaults={"atr_period": 14, "displacement_mult": 1.5, "ob_lookback": 20, "max_ob_age": 50},
    ranges={
        "displacement_mult": [1.2, 1.5, 2.0],
        "ob_lookback": [10, 20, 30],
        "max_ob_age": [30, 50, 100],
    },
    constraints=("atr_period > 0", "ob_lookback > 0"),
)
def order_blocks(
    df: pd.DataFrame,
    *,
    atr_period: int,
    displacement_mult: float,
    ob_lookback: int,
    max_ob_age: int,
) -> pd.DataFrame:
    """Stateful order-block list (§3.23).

    Upstream emits no indicator columns; ``bull_obs``/``bear_obs`` (active blocks after the
    bar) are ours, for display.
    """
    o = df["open"].to_numpy(float)
    h = df["high"].to_numpy(float)
    lo = df["low"].to_numpy(float)
    c = df["close"].to_numpy(float)
    a = ind.atr(df, atr_period, "simple").to_numpy(float)  # unrounded, as upstream
    n = len(c)
    sig = np.zeros(n, dtype="int64")
    bulls = np.zeros(n)
    bears = np.zeros(n)
    # each block: [is_bull, zone_low, zone_high, birth, touched]
    blocks: list[list] = []
    for i in range(1, n):
        if np.isnan(a[i]):
            continue  # bars without ATR are skipped entirely, as upstream
        body = c[i] - o[i]
        if abs(body) > displacement_mult * a[i]:
            bull = c[i] > o[i]
            for j in range(i - 1, max(i - ob_lookback - 1, 0) - 1, -1):
                if (bull and c[j] < o[j]) or (not bull and c[j] > o[j]):
                    blocks.append([bull, lo[j], h[j], i, False])
                    break
        kept: list[list] = []
        for ob in blocks:
            bull, z_lo, z_hi, birth, touched = ob
            if i - birth > max_ob_age:
                continue
            if bull:
                if c[i] < z_lo:
                    continue
                if lo[i] <= z_hi and not touched:
                    sig[i] = 1
                    ob[4] = True
            else:
                if c[i] > z_hi:
                    continue
                if h[i] >= z_lo and not touched:
                    sig[i] = -1
                    ob[4] = True
            kept.append(ob)
        blocks = kept
        bulls[i] = sum(1 for ob in blocks if ob[0])
        bears[i] = len(blocks) - bulls[i]
    return frame(df, sig, bull_obs=bulls, bear_obs=bears)


# ------------------------------------------------------------------ sweep_squeeze_combo


@register(
    "sweep_squeeze_combo",
    short="ssc",
    description="Vote of liquidity sweep, squeeze-momentum release and stochastic-RSI cross; trade on min_agree votes.",
    defaults={"swing_lookback": 10, "min_agree": 2},
    ranges={"swing_lookback": [5, 10, 20], "min_agree": [1, 2, 3]},
    constraints=("swing_lookback > 0",),
)
def sweep_squeeze_combo(
    df: pd.DataFrame,
    *,
    swing_lookback: int,
    min_agree: int,
    bb_period: int = 20,
    bb_std: float = 2.0,
    kc_period: int = 20,
    kc_mult: float = 1.5,
    mom_lookback: int = 12,
    rsi_period: int = 14,
    stoch_period: int = 14,
    k_smooth: int = 3,
    d_smooth: int = 3,
    overbought: float = 80,
    oversold: float = 20,
) -> pd.DataFrame:
    """§3.29. Upstream also accepts the component params as unregistered overrides; our
    registry only passes registered params, so those keep their core defaults here."""
    ls, _, _ = _liquidity_sweep_core(
        df["high"].to_numpy(float),
        df["low"].to_numpy(float),
        df["close"].to_numpy(float),
        int(swing_lookback),
    )
    _, _, sq_buy, sq_sell = squeeze_momentum_parts(
        df, bb_period, bb_std, kc_period, kc_mult, mom_lookback
    )
    sq = buy_sell(sq_buy, sq_sell)
    _, sr_buy, sr_sell = stoch_rsi_parts(
        df["close"], rsi_period, stoch_period, k_smooth, d_smooth, overbought, oversold
    )
    sr = buy_sell(sr_buy, sr_sell)
    votes = np.vstack([ls, sq, sr])
    buy_votes = (votes == 1).sum(axis=0)
    sell_votes = (votes == -1).sum(axis=0)
    sig = np.where(sell_votes >= min_agree, -1, np.where(buy_votes >= min_agree, 1, 0))
    return frame(
        df,
        sig,
        ls_signal=ls,
        sq_signal=sq,
        sr_signal=sr,
        buy_votes=buy_votes,
        sell_votes=sell_votes,
    )
