"""Turn a strategy's frame into the last-bar payload every signal check prints.

One place decides which indicator values are reported, how ATR is computed and how the regime
label is derived, so spot, perps and futures checks (and the backtester's diagnostics) agree.
It lives beside the strategies, not in ``shared_tools``: it calls the strategy registry, and
the tools are leaves that import nothing of the strategies.
"""

from __future__ import annotations

import hashlib
import math
from collections import OrderedDict

import numpy as np
import pandas as pd

from shared_strategies.open import registry
from shared_tools import indicators

_OHLCV = {"open", "high", "low", "close", "volume", "close_b", "signal"}
ADX_TREND_THRESHOLD = 20.0
REGIME_MEMO_MAX = 128
_regimes: OrderedDict[tuple, str] = OrderedDict()


def _frame_key(df: pd.DataFrame, period: int) -> tuple:
    """What the regime label depends on: the period and the bars' times, highs, lows, closes.

    ADX smooths recursively from the first bar, so the key covers the whole frame, not only its
    last bar: the same symbol fetched with another limit is another frame. A digest of the
    three columns costs microseconds; the ADX it saves costs milliseconds.
    """
    digest = hashlib.blake2b(digest_size=16)
    index = df.index
    if isinstance(index, pd.DatetimeIndex):
        times = index.asi8
    else:  # content hash; tobytes() of an object array would hash pointers
        times = pd.util.hash_pandas_object(index, index=False).to_numpy()
    digest.update(str(getattr(index, "unit", "")).encode())
    digest.update(np.ascontiguousarray(times).tobytes())
    for col in ("high", "low", "close"):
        digest.update(np.ascontiguousarray(df[col].to_numpy(dtype="float64")).tobytes())
    return (int(period), len(df), digest.digest())


def _compute_regime(df: pd.DataFrame, period: int) -> str:
    frame = indicators.adx(df, period)
    last = frame.iloc[-1]
    if not all(math.isfinite(float(last[c])) for c in ("adx", "plus_di", "minus_di")):
        return ""
    if last["adx"] <= ADX_TREND_THRESHOLD:
        return "ranging"
    return "trending_up" if last["plus_di"] >= last["minus_di"] else "trending_down"


def regime_label(df: pd.DataFrame, period: int = 14) -> str:
    """ADX regime of the last bar: trending_up / trending_down when ADX > 20, else ranging.

    Memoized per process (bounded), keyed by the frame's content: a ``--batch`` of many
    strategies on one symbol and timeframe computes the ADX once per closed bar.
    """
    if len(df) < 2 * period + 1:
        return ""
    key = _frame_key(df, period)
    label = _regimes.get(key)
    if label is None:
        label = _compute_regime(df, period)
        _regimes[key] = label
        while len(_regimes) > REGIME_MEMO_MAX:
            _regimes.popitem(last=False)
    else:
        _regimes.move_to_end(key)
    return label


def clear_memo() -> None:
    """Forget memoized regime labels (tests)."""
    _regimes.clear()


def last_indicators(frame: pd.DataFrame) -> dict[str, float]:
    """Finite numeric last-row values, rounded to 6 dp (non-finite values are dropped)."""
    out: dict[str, float] = {}
    last = frame.iloc[-1]
    for col in frame.columns:
        if col in _OHLCV:
            continue
        try:
            value = float(last[col])
        except (TypeError, ValueError):
            continue
        if math.isfinite(value):
            out[str(col)] = round(value, 6)
    return out


def evaluate_last_bar(
    name: str,
    df: pd.DataFrame,
    params: dict | None = None,
    *,
    platform: str = "spot",
    atr_method: str = "simple",
    atr_period: int = 14,
) -> dict:
    """Signal, price, indicators (always with ``atr``), regime and bar time of the last bar."""
    frame = registry.evaluate(name, df, params, platform)
    indicators_out = last_indicators(frame)
    atr = indicators.atr(df, atr_period, method=atr_method).iloc[-1]
    indicators_out["atr"] = round(float(atr), 6) if math.isfinite(float(atr)) else 0.0
    price = float(df["close"].iloc[-1])
    return {
        "signal": int(frame["signal"].iloc[-1]),
        "price": round(price, 8),
        "indicators": indicators_out,
        "regime": regime_label(df),
        "bar_time": pd.Timestamp(df.index[-1]).strftime("%Y-%m-%dT%H:%M:%SZ"),
    }
