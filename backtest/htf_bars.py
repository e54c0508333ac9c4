"""The higher-timeframe trend at every bar of a backtest (``--htf-filter``, ``htf_filter``).

The live check (``shared_tools.htf_filter``) reads the last *closed* higher-timeframe bar when
it decides on a closed bar; the backtest gives every bar that same trend, with no look-ahead:

* the trend of each HTF bar is the live rule (``trend_sign`` of its close against the EMA(50)
  of the HTF closes, 0 during the EMA's warm-up);
* it is shifted one HTF bar: bar k's trend is known from bar k's close (= bar k+1's open) on;
* it is forward-filled onto the backtest's bars at the time each one decides, its close.

Deliberate difference from upstream's backtester, which forward-fills onto the bars' *open*
times: a decision taken at a bar's close may already see an HTF bar that closed with it (as
our live check does, and as upstream's live check does with the forming HTF bar), so we align
to the close; upstream's backtest is one bar later at each HTF boundary. Neither looks ahead.

The trend travels as a column (:data:`COLUMN`) of the candle frame, so the optimizer's workers
and sliced folds get it with the candles.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from shared_tools import htf_filter, indicators
from shared_tools.market.common import TIMEFRAMES, timeframe_seconds

__all__ = ["COLUMN", "attach", "filter_signals", "trend_per_bar"]

COLUMN = "htf_filter_trend"


def _seconds(index: pd.Index) -> np.ndarray:
    return pd.DatetimeIndex(index).as_unit("s").asi8


def trend_per_bar(times: pd.Index, timeframe: str, htf: pd.DataFrame | None) -> np.ndarray:
    """The HTF trend (-1/0/+1) the live check sees at the close of each bar of ``times``.

    ``htf`` holds the candles of ``htf_filter.htf_timeframe(timeframe)`` indexed by open time;
    None or empty (a timeframe the market does not serve, as 1w) reads as trend 0 everywhere,
    which is what the live filter does (it fails open).
    """
    out = np.zeros(len(times), dtype=np.int64)
    htf_s = TIMEFRAMES.get(htf_filter.htf_timeframe(timeframe))
    if htf is None or len(htf) == 0 or htf_s is None or len(times) == 0:
        return out
    close = htf["close"].astype(float)
    ema = indicators.ema(close, htf_filter.EMA_PERIOD).to_numpy(float)
    trends = np.array(
        [htf_filter.trend_sign(c, e) for c, e in zip(close.to_numpy(float), ema, strict=True)],
        dtype=np.int64,
    )
    known_from = _seconds(htf.index) + htf_s  # shifted one HTF bar: known from its close
    decided_at = _seconds(times) + timeframe_seconds(timeframe)  # each bar decides at its close
    at = np.searchsorted(known_from, decided_at, side="right") - 1
    seen = at >= 0
    out[seen] = trends[at[seen]]
    return out


def attach(df: pd.DataFrame, timeframe: str, htf: pd.DataFrame | None) -> pd.DataFrame:
    """``df`` with the HTF trend column the engine's ``htf_filter`` reads."""
    return df.assign(**{COLUMN: trend_per_bar(df.index, timeframe, htf)})


def filter_signals(signal: np.ndarray, df: pd.DataFrame, strategy: str) -> np.ndarray:
    """The open signals the live filter keeps (``apply_htf_filter`` bar by bar)."""
    if strategy in htf_filter.SKIP_STRATEGIES:
        return signal
    if COLUMN not in df.columns:
        raise ValueError(
            f"htf_filter: the candles carry no {COLUMN} column "
            "(backtest.htf_bars.attach adds it from the higher-timeframe candles)"
        )
    trend = df[COLUMN].to_numpy(np.int64)
    kept = [htf_filter.apply_htf_filter(int(s), int(t)) for s, t in zip(signal, trend, strict=True)]
    return np.asarray(kept, dtype=np.int64)
