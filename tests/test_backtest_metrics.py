"""backtest.metrics against numbers worked out by hand on tiny equity curves."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from backtest.backtester import BacktestResult, BacktestSettings, BacktestTrade
from backtest.metrics import KEYS, LIQUIDATED_FLOOR, metrics, periods_per_year


def make_result(
    equity, *, timeframe="1d", capital=1000.0, pnls=(), position=None, closes=None, trades=None
):
    """A BacktestResult built by hand from an equity curve (and optionally trades).

    ``trades`` are (entry_time, exit_time, side, entry_price, exit_price, quantity, fee, pnl,
    reason) tuples; ``pnls`` is the short form when only the pnl matters.
    """
    freq = {"1d": "1D", "1h": "1h", "4h": "4h"}[timeframe]
    index = pd.date_range("2024-01-01", periods=len(equity), freq=freq, tz="UTC")
    equity = pd.Series(equity, index=index, dtype="float64")
    position = pd.Series(position if position is not None else [0.0] * len(index), index=index)
    closes = pd.Series(closes if closes is not None else [100.0] * len(index), index=index)
    t0 = pd.Timestamp("2024-01-01", tz="UTC")
    rows = trades or [(t0, t0, "long", 100.0, 100.0, 1.0, 0.0, float(p), "signal") for p in pnls]
    return BacktestResult(
        strategy="hand",
        params={"roc_period": 14},
        settings=BacktestSettings(capital=capital, timeframe=timeframe),
        equity=equity,
        closes=closes,
        position=position,
        trades=[BacktestTrade(*row) for row in rows],
        final_equity=float(equity.iloc[-1]) if len(equity) else capital,
    )


# returns +10%, -10%, +10%, 0, +10% against a 1000 start
CURVE = [1100.0, 990.0, 1089.0, 1089.0, 1197.9]


def test_every_metric_on_a_hand_computed_daily_curve():
    r = make_result(
        CURVE,
        pnls=[100.0, -50.0, 30.0],
        position=[1.0, 1.0, 0.0, 0.0, 1.0],
        closes=[100.0, 90.0, 99.0, 99.0, 108.9],
    )
    m = metrics(r)
    assert set(m) == set(KEYS)
    assert m["final_equity"] == pytest.approx(1197.9)
    assert m["total_return_pct"] == pytest.approx(19.79)
    # mean 0.04, sample variance 0.032 / 4 = 0.008
    assert m["sharpe"] == pytest.approx(0.04 / math.sqrt(0.008) * math.sqrt(365))
    # one negative return of -0.1 over 5 bars: downside RMS sqrt(0.01 / 5)
    assert m["sortino"] == pytest.approx(0.04 / math.sqrt(0.002) * math.sqrt(365))
    # 5 daily bars span 5 days
    cagr = (1.1979 ** (365.25 / 5) - 1) * 100
    assert m["cagr_pct"] == pytest.approx(cagr)
    assert m["max_drawdown_pct"] == pytest.approx(-10.0)
    assert m["max_drawdown_bars"] == 3  # 990, 1089, 1089 are below the 1100 peak
    assert m["max_drawdown_days"] == pytest.approx(3.0)
    assert m["calmar"] == pytest.approx(cagr / 10.0)
    assert m["profit_factor"] == pytest.approx(130.0 / 50.0)
    assert m["win_rate_pct"] == pytest.approx(200.0 / 3.0)
    assert m["trade_count"] == 3
    assert m["exposure_pct"] == pytest.approx(60.0)
    assert m["buy_hold_return_pct"] == pytest.approx(8.9)


def test_hourly_annualization_and_drawdown_days():
    # returns +1%, -2%, +1% on 1h bars; drawdown 2 bars = 2/24 day
    eq = [1010.0, 989.8, 999.698]
    m = metrics(make_result(eq, timeframe="1h"))
    rets = [0.01, -0.02, 0.01]
    mean = sum(rets) / 3
    std = math.sqrt(sum((x - mean) ** 2 for x in rets) / 2)
    assert m["sharpe"] == pytest.approx(mean / std * math.sqrt(8760))
    assert m["max_drawdown_pct"] == pytest.approx(-2.0)
    assert m["max_drawdown_bars"] == 2  # not recovered by the end: counts to the last bar
    assert m["max_drawdown_days"] == pytest.approx(2 / 24)


def test_peak_is_floored_at_starting_capital():
    m = metrics(make_result([900.0, 950.0, 1000.0, 1020.0]))
    assert m["max_drawdown_pct"] == pytest.approx(-10.0)
    assert m["max_drawdown_bars"] == 2


def test_undefined_values_are_none():
    flat = metrics(make_result([1000.0, 1000.0, 1000.0]))
    assert flat["sharpe"] is None and flat["sortino"] is None
    assert flat["max_drawdown_pct"] == 0.0 and flat["max_drawdown_bars"] == 0
    assert flat["calmar"] is None
    assert flat["profit_factor"] is None and flat["win_rate_pct"] is None
    assert flat["trade_count"] == 0
    assert flat["total_return_pct"] == 0.0 and flat["cagr_pct"] == 0.0
    only_up = metrics(make_result([1010.0, 1030.0, 1040.0], pnls=[40.0]))
    assert only_up["sortino"] is None  # no downside
    assert only_up["profit_factor"] is None  # no losses
    assert only_up["win_rate_pct"] == 100.0
    assert only_up["sharpe"] is not None and only_up["sharpe"] > 0


def test_empty_equity_keeps_defined_values_only():
    m = metrics(make_result([]))
    assert m["final_equity"] == 1000.0 and m["total_return_pct"] == 0.0
    for key in ("sharpe", "cagr_pct", "max_drawdown_pct", "exposure_pct", "buy_hold_return_pct"):
        assert m[key] is None


def test_liquidation_floors_sharpe_and_sortino():
    m = metrics(make_result([600.0, 0.0, 0.0], pnls=[-1000.0]))
    assert m["sharpe"] == LIQUIDATED_FLOOR and m["sortino"] == LIQUIDATED_FLOOR
    assert m["max_drawdown_pct"] == pytest.approx(-100.0)
    assert m["cagr_pct"] == -100.0
    assert m["total_return_pct"] == pytest.approx(-100.0)


@pytest.mark.parametrize(
    ("tf", "ppy"), [("1h", 8760), ("4h", 2190), ("1d", 365), ("15m", 35040), ("1w", 52)]
)
def test_periods_per_year(tf, ppy):
    assert periods_per_year(tf) == pytest.approx(ppy)


def test_unknown_timeframe_is_refused():
    with pytest.raises(ValueError, match="timeframe"):
        periods_per_year("7x")
