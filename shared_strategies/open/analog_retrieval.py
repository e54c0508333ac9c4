"""Open strategy analog_retrieval (backtest only): k-nearest-neighbour analog voting.

Bars whose five scale-free features resemble the current bar, and whose forward return over
``horizon`` bars is already known, vote with the sign of their mean return when it is
significant (t-stat) and large against ATR. Features use our indicators (EMA with a NaN
warm-up, simple ATR with upstream's >= 100 rounding); everything is causal.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from shared_strategies.open.common import atr_rounded, frame, ratio_or_zero
from shared_strategies.open.specs import DEFAULT_PLATFORMS, register
from shared_tools import indicators as ind

# ------------------------------------------------------------- analog_retrieval (backtest)


def _analog_features(df: pd.DataFrame, w: int, atr: pd.Series, vol_baseline: int) -> np.ndarray:
    """The five scale-free features per bar (columns), +/-inf turned into NaN."""
    close = df["close"]
    net = close - close.shift(w)
    path = close.diff().abs().rolling(w, min_periods=w).sum()
    ret_eff = ratio_or_zero(net, path)
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
    ranges={"horizon": [6, 12, 24], "k_neighbors": [15, 25, 40], "min_t_stat": [1.5, 2.0, 2.5]},
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
    atr = atr_rounded(df, atr_period)
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
    return frame(
        df,
        pd.Series(sig, index=df.index),
        analog_mean_fwd=mean_fwd,
        analog_t_stat=t_stat,
        analog_k=k_used,
        atr=atr,
    )
