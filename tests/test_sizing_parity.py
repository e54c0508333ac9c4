"""Parity: risk_per_trade_pct sizes every backtest trade on real candles exactly as upstream's
formula says (reference §1.4/C.3), recomputed here from the candles alone (issue 20).

tests/data/btc_usdt_4h_2022.csv: 1638 real Binance BTC/USDT 4h candles, 2022-01-01 .. 2022-09-30
(no real 1h candles ship with the repo; the formula does not depend on the bar size).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from backtest.backtester import BacktestSettings, run_signals

DATA = Path(__file__).resolve().parent / "data" / "btc_usdt_4h_2022.csv"
CAPITAL, LEVERAGE, PCT, ATR_MULT, STOP_PCT = 1000.0, 1.5, 1.0, 0.5, 1.5


def candles() -> pd.DataFrame:
    df = pd.read_csv(DATA)
    df.index = pd.to_datetime(df.pop("time"), unit="ms", utc=True)
    return df


def upstream_atr(df: pd.DataFrame) -> pd.Series:
    """ATR(14), upstream's `simple` method: mean true range, values >= 100 rounded half-even."""
    prev = df["close"].shift(1)
    tr = pd.concat(
        [df["high"] - df["low"], (df["high"] - prev).abs(), (df["low"] - prev).abs()], axis=1
    ).max(axis=1)
    tr.iloc[0] = df["high"].iloc[0] - df["low"].iloc[0]
    atr = tr.rolling(14).mean()
    return atr.where(atr < 100, np.round(atr))


def crossings(df: pd.DataFrame) -> pd.Series:
    """+1 where SMA(8) crosses above SMA(21), -1 where it crosses below, else 0."""
    above = (df["close"].rolling(8).mean() > df["close"].rolling(21).mean()).astype(int)
    return above.diff().fillna(0).astype(int)


def _replay(df: pd.DataFrame, stop: dict) -> list:
    settings = BacktestSettings(
        instrument="perps",
        platform="hyperliquid",
        symbol="BTC",
        capital=CAPITAL,
        leverage=LEVERAGE,
        direction="both",
        risk_per_trade_pct=PCT,
        **stop,
    )
    return run_signals(df, crossings(df), settings).trades


@pytest.mark.parametrize(
    "stop", [{"stop_loss_atr_mult": ATR_MULT}, {"stop_loss_pct": STOP_PCT}], ids=["atr", "pct"]
)
def test_every_trade_is_sized_by_upstreams_risk_formula(stop):
    df = candles()
    trades = _replay(df, stop)
    assert len(trades) >= 20, len(trades)
    atr = upstream_atr(df)
    cash, capped = CAPITAL, 0
    for t in trades:
        j = df.index.get_loc(t.entry_time)  # filled at bar j's open from bar j-1's decision
        price = float(df["open"].iloc[j])
        assert t.entry_price == pytest.approx(price, rel=1e-12)
        if "stop_loss_atr_mult" in stop:
            distance = ATR_MULT * float(atr.iloc[j - 1])  # the entry ATR: the signal bar's
        else:
            distance = price * STOP_PCT / 100.0
        qty = cash * PCT / 100.0 / distance  # risk$ / stop distance (upstream C.3)
        if qty * price > cash * LEVERAGE:  # capped at cash x leverage
            qty, capped = cash * LEVERAGE / price, capped + 1
        assert t.quantity == pytest.approx(qty, rel=1e-9), (t.entry_time, cash)
        cash += t.pnl  # whole-position legs: cash moves by the net P&L only (margin-style)
    if "stop_loss_atr_mult" in stop:  # a half-ATR stop: both branches of the cap are exercised
        assert 0 < capped < len(trades), capped
