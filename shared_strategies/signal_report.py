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
from shared_tools import regime as regime_tools

# Never reported (upstream's exclusion list, §7.3); every other numeric column is.
_OHLCV = {
    "open",
    "high",
    "low",
    "close",
    "volume",
    "close_b",
    "signal",
    "timestamp",
    "position",
    "datetime",
}
ADX_TREND_THRESHOLD = regime_tools.DEFAULT_ADX_THRESHOLD
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
    return str(regime_tools.latest_regime(df, period, ADX_TREND_THRESHOLD)["regime"])


def regime_label(df: pd.DataFrame, period: int = 14) -> str:
    """ADX regime of the last bar by upstream's rule (§6.1): ADX < 20 -> ranging, else the
    larger DI's trend (equal DIs -> ranging); "" while the ADX is still warming up.

    Printed when ``--regime-enabled`` is off (upstream prints "" there; a label costs nothing
    once memoized and tells an operator more).

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


def report_indicators(
    frame: pd.DataFrame, df: pd.DataFrame, *, atr_method: str = "simple", atr_period: int = 14
) -> dict[str, float]:
    """The ``indicators`` map: the strategy's own columns under upstream's names, plus ``atr``.

    A strategy that draws its own ``atr`` keeps it (upstream: it defines the position's entry
    ATR); otherwise the standard ATR (§2.3, ``>= 100`` rounded on the simple method) is added.
    Ours differs in one place: a strategy ``atr`` that is NaN on the last bar is replaced by the
    standard one instead of leaving ``atr`` out, so the entry ATR is never missing.
    """
    out = last_indicators(frame)
    if "atr" not in out:
        out["atr"] = round(standard_atr(df, atr_method=atr_method, atr_period=atr_period), 6)
    return out


def standard_atr(df: pd.DataFrame, *, atr_method: str = "simple", atr_period: int = 14) -> float:
    """Standard ATR of the last bar (0.0 when not finite or not positive)."""
    return regime_tools.latest_atr(df, atr_period, atr_method)


def bar_time(df: pd.DataFrame) -> str:
    return pd.Timestamp(df.index[-1]).strftime("%Y-%m-%dT%H:%M:%SZ")


def evaluate_last_bar(
    name: str,
    df: pd.DataFrame,
    params: dict | None = None,
    *,
    platform: str = "spot",
    atr_method: str = "simple",
    atr_period: int = 14,
    frame: pd.DataFrame | None = None,
) -> dict:
    """Signal, price, indicators (always with ``atr``), regime and bar time of the last bar.

    ``frame`` is the strategy's result when the caller has already run it.
    """
    if frame is None:
        frame = registry.evaluate(name, df, params, platform)
    price = float(df["close"].iloc[-1])
    return {
        "signal": int(frame["signal"].iloc[-1]),
        "price": round(price, 8),
        "indicators": report_indicators(frame, df, atr_method=atr_method, atr_period=atr_period),
        "regime": regime_label(df),
        "bar_time": bar_time(df),
    }
