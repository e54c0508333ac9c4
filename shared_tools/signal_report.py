"""Turn a strategy's frame into the last-bar payload every signal check prints.

One place decides which indicator values are reported, how ATR is computed and how the regime
label is derived, so spot, perps and futures checks (and the backtester's diagnostics) agree.
"""

from __future__ import annotations

import math

import pandas as pd

from shared_strategies.open import registry
from shared_tools import indicators

_OHLCV = {"open", "high", "low", "close", "volume", "close_b", "signal"}
ADX_TREND_THRESHOLD = 20.0


def regime_label(df: pd.DataFrame, period: int = 14) -> str:
    """ADX regime of the last bar: trending_up / trending_down when ADX > 20, else ranging."""
    if len(df) < 2 * period + 1:
        return ""
    frame = indicators.adx(df, period)
    last = frame.iloc[-1]
    if not all(math.isfinite(float(last[c])) for c in ("adx", "plus_di", "minus_di")):
        return ""
    if last["adx"] <= ADX_TREND_THRESHOLD:
        return "ranging"
    return "trending_up" if last["plus_di"] >= last["minus_di"] else "trending_down"


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
