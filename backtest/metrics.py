"""Performance metrics of one backtest run: the numbers every report and the optimizer rank by.

Conventions (upstream go-trader's ``_calculate_metrics``, section 5.1 of the notes):

* Per-bar returns are the changes of mark-to-market equity from bar to bar; the first bar is
  measured against the starting capital, so a loss on the very first bar counts.
* Sharpe = mean / sample std of those returns x sqrt(bars per year), risk-free rate 0.
  Sortino uses the root-mean-square of the negative returns about 0 (None with no downside).
* Drawdown is measured from a running peak that never sits below the starting capital.
* CAGR spans the calendar time the bars cover (last bar open - first bar open + one bar).
* A run whose equity reaches 0 is liquidated: Sharpe and Sortino are floored at -100.
* Anything undefined (no trades, no losses, flat equity, ...) is None, printed "n/a".
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import pandas as pd

from shared_tools.market.common import TIMEFRAMES

__all__ = [
    "KEYS",
    "LIQUIDATED_FLOOR",
    "curve_max_drawdown_pct",
    "curve_sharpe",
    "metrics",
    "periods_per_year",
]

KEYS = (
    "total_return_pct",
    "cagr_pct",
    "sharpe",
    "sortino",
    "calmar",
    "max_drawdown_pct",
    "max_drawdown_bars",
    "max_drawdown_days",
    "profit_factor",
    "win_rate_pct",
    "trade_count",
    "exposure_pct",
    "buy_hold_return_pct",
    "final_equity",
)

LIQUIDATED_FLOOR = -100.0
SECONDS_PER_YEAR = 365 * 86400
DAYS_PER_YEAR = 365.25
_EXTRA_TIMEFRAMES = {"1w": 7 * 86400, "1M": 30 * 86400}


def _bar_seconds(timeframe: str) -> int:
    seconds = TIMEFRAMES.get(timeframe) or _EXTRA_TIMEFRAMES.get(timeframe)
    if seconds is None:
        raise ValueError(f"unknown timeframe {timeframe!r} (use one of {', '.join(TIMEFRAMES)})")
    return seconds


def periods_per_year(timeframe: str) -> float:
    """Bars in a 365-day year: 1h 8760, 4h 2190, 1d 365, 1w 52."""
    if timeframe == "1w":
        return 52.0
    return SECONDS_PER_YEAR / _bar_seconds(timeframe)


def _finite(value: float | None) -> float | None:
    if value is None:
        return None
    value = float(value)
    return value if math.isfinite(value) else None


def _bar_returns(equity: pd.Series, capital: float) -> pd.Series:
    prev = equity.shift(1)
    prev.iloc[0] = capital
    rets = equity / prev - 1.0
    return rets.where(prev > 0, 0.0)  # a wiped-out account stays at 0: no further return


def _sharpe_sortino(rets: pd.Series, ppy: float) -> tuple[float | None, float | None]:
    if len(rets) < 2:
        return None, None
    scale = math.sqrt(ppy)
    std = float(rets.std(ddof=1))
    mean = float(rets.mean())
    sharpe = mean / std * scale if std > 1e-15 else None
    downside = rets[rets < 0]
    sortino = None
    if len(downside):
        rms = math.sqrt(float((downside**2).sum()) / len(rets))
        sortino = mean / rms * scale if rms > 0 else None
    return _finite(sharpe), _finite(sortino)


def _drawdown(equity: pd.Series, capital: float) -> tuple[float, int]:
    """Deepest drawdown (percent, <= 0) and how many bars that episode spent under water."""
    peak = equity.cummax().clip(lower=capital)
    dd = (equity / peak - 1.0).to_numpy()
    if len(dd) == 0 or dd.min() >= 0:
        return 0.0, 0
    trough = int(dd.argmin())
    start = trough
    while start > 0 and dd[start - 1] < 0:
        start -= 1
    end = trough
    while end + 1 < len(dd) and dd[end + 1] < 0:
        end += 1
    return float(dd[trough]) * 100.0, end - start + 1


def curve_sharpe(values: Sequence[float], ppy: float) -> float | None:
    """Sharpe of an equity curve's period-to-period returns (the research backtests' curves)."""
    curve = pd.Series(values, dtype="float64")
    if len(curve) < 3 or float(curve.min()) <= 0:
        return None if len(curve) < 3 else LIQUIDATED_FLOOR
    return _sharpe_sortino(curve.pct_change().iloc[1:], ppy)[0]


def curve_max_drawdown_pct(values: Sequence[float], capital: float) -> float:
    """Deepest fall of an equity curve from its running peak (floored at ``capital``), <= 0."""
    return _drawdown(pd.Series(values, dtype="float64"), capital)[0]


def _trade_stats(trades: list[Any]) -> tuple[float | None, float | None]:
    pnls = [float(t.pnl) for t in trades]
    if not pnls:
        return None, None
    wins = sum(p for p in pnls if p > 0)
    losses = -sum(p for p in pnls if p < 0)
    profit_factor = wins / losses if losses > 0 else None
    win_rate = 100.0 * sum(1 for p in pnls if p > 0) / len(pnls)
    return profit_factor, win_rate


def metrics(result: Any) -> dict[str, float | int | None]:
    """The contract's metric keys for a BacktestResult; undefined values are None."""
    settings = result.settings
    capital = float(settings.capital)
    equity = result.equity.astype("float64")
    final = float(result.final_equity)
    out: dict[str, float | int | None] = dict.fromkeys(KEYS)
    out["final_equity"] = final
    out["trade_count"] = len(result.trades)
    out["total_return_pct"] = _finite((final / capital - 1.0) * 100.0) if capital > 0 else None
    out["profit_factor"], out["win_rate_pct"] = _trade_stats(result.trades)
    if equity.empty or capital <= 0:
        return out

    bar_s = _bar_seconds(settings.timeframe)
    ppy = periods_per_year(settings.timeframe)
    span_days = ((equity.index[-1] - equity.index[0]).total_seconds() + bar_s) / 86400.0
    years = span_days / DAYS_PER_YEAR
    growth = final / capital
    if years > 0:
        out["cagr_pct"] = -100.0 if growth <= 0 else _finite((growth ** (1.0 / years) - 1) * 100)

    if float(equity.min()) <= 0:
        out["sharpe"] = out["sortino"] = LIQUIDATED_FLOOR
    else:
        out["sharpe"], out["sortino"] = _sharpe_sortino(_bar_returns(equity, capital), ppy)

    dd_pct, dd_bars = _drawdown(equity, capital)
    out["max_drawdown_pct"] = dd_pct
    out["max_drawdown_bars"] = dd_bars
    out["max_drawdown_days"] = dd_bars * bar_s / 86400.0
    if dd_pct < 0 and out["cagr_pct"] is not None:
        out["calmar"] = _finite(out["cagr_pct"] / abs(dd_pct))

    position = result.position.astype("float64")
    if len(position):
        out["exposure_pct"] = 100.0 * float((position != 0).sum()) / len(position)
    closes = result.closes.astype("float64")
    if len(closes) and float(closes.iloc[0]) > 0:
        out["buy_hold_return_pct"] = (float(closes.iloc[-1]) / float(closes.iloc[0]) - 1) * 100
    return out
