"""Higher-timeframe trend filter (``--htf-filter``, catalogue §6.5).

The open signal is kept only when it agrees with the trend one timeframe up: close above its
EMA(50) on the higher timeframe -> +1, below -> -1, equal or unknown -> 0. A 0 trend leaves
the signal alone; a disagreeing signal becomes 0. Any failure to read the higher timeframe is a
0 trend (the filter fails open), never a failed check.

Deliberate difference from upstream: the candles come from :mod:`shared_tools.market`, which
serves closed bars only, so the last HTF close is the last *closed* HTF bar (upstream compares
the venue's newest, possibly still-forming, HTF candle). Timeframes our market does not serve
(``1w``, ``1M``) read as a 0 trend, as any upstream fetch error does.

Second difference: upstream fetches ``EMA_PERIOD + 10`` = 60 candles and seeds its EMA with the
first of them, so the seed still weighs (1 - 2/51)^59 ~ 10% in the value it compares against:
the trend then depends on where the fetch window happens to start and disagrees with the EMA
computed over the full history (as a backtest sees it). We fetch ``WARMUP_FACTOR`` x the period
(400 candles), where the seed's weight is ~1e-7, so the value is the full-history EMA.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Callable
from typing import Any

import pandas as pd

from shared_tools import indicators

HTF_MAP: dict[str, str] = {
    "1m": "15m",
    "5m": "1h",
    "15m": "1h",
    "30m": "4h",
    "1h": "4h",
    "4h": "1d",
    "1d": "1w",
    "1w": "1M",
}
DEFAULT_HTF = "4h"
EMA_PERIOD = 50
# Candles fetched per EMA period: (1 - 2/(N+1))^(8N) ~ e^-16, so the seed no longer matters.
WARMUP_FACTOR = 8
HTF_CANDLES = EMA_PERIOD * WARMUP_FACTOR
# Strategies the filter never touches: funding-rate carry trades are not trend entries.
SKIP_STRATEGIES = frozenset({"delta_neutral_funding"})

Fetch = Callable[[str, str, int], pd.DataFrame]


def htf_timeframe(timeframe: str) -> str:
    """The timeframe one step up (anything unmapped -> 4h)."""
    return HTF_MAP.get(timeframe, DEFAULT_HTF)


def htf_trend(symbol: str, timeframe: str, fetch: Fetch, ema_period: int = EMA_PERIOD) -> dict:
    """``{htf_trend, htf_ema, htf_close, htf_timeframe}``; trend 0 on any failure or short data.

    ``fetch(symbol, timeframe, limit)`` returns an OHLCV frame, oldest first.
    """
    tf = htf_timeframe(timeframe)
    info: dict[str, Any] = {"htf_trend": 0, "htf_timeframe": tf}
    try:
        df = fetch(symbol, tf, ema_period * WARMUP_FACTOR)
        if df is None or len(df) < ema_period:
            return info
        close = df["close"].astype(float)
        # EMA seeded with the first close, alpha 2/(N+1) (pandas ewm(span=N, adjust=False), as
        # upstream's); indicators.ema masks only the first N-1 values, and the last of >= N
        # closes is past that mask. With fewer than the full fetch (a young market) the seed
        # is the market's first candle, as in a full-history EMA.
        ema = float(indicators.ema(close, ema_period).iloc[-1])
        last = float(close.iloc[-1])
        if not (math.isfinite(ema) and math.isfinite(last)):
            return info
        trend = trend_sign(last, ema)
        info.update({"htf_trend": trend, "htf_ema": round(ema, 6), "htf_close": last})
    except Exception as exc:  # the filter fails open: a 0 trend, never a failed check
        print(f"HTF filter: no {tf} trend for {symbol}: {exc}", file=sys.stderr)
    return info


def trend_sign(close: float, ema: float) -> int:
    """+1 when the HTF close is above its EMA, -1 below, 0 equal or unknown (live and backtest)."""
    if not (math.isfinite(close) and math.isfinite(ema)):
        return 0
    return 1 if close > ema else -1 if close < ema else 0


def apply_htf_filter(signal: int, trend: int) -> int:
    """Keep ``signal`` only when it agrees with a known ``trend``."""
    if signal == 0 or trend == 0:
        return signal
    if signal > 0:
        return signal if trend > 0 else 0
    return signal if trend < 0 else 0


def numeric_indicators(info: dict) -> dict[str, float]:
    """The HTF keys a check reports beside the strategy's indicators (strings left out)."""
    return {
        k: v
        for k, v in info.items()
        if isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)
    }
