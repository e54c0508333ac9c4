"""The HTF filter's EMA against the full-history reference, on real BTC/USDT daily candles.

tests/data/btc_usdt_1d_2021_2023.csv: 640 Binance BTC/USDT 1d candles, 2021-11-01 .. 2023-08-02
(a bear market, its bottom and the recovery, so the trend flips both ways).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from shared_tools import htf_filter

DATA = Path(__file__).resolve().parent / "data" / "btc_usdt_1d_2021_2023.csv"
PERIOD = htf_filter.EMA_PERIOD


def candles() -> pd.DataFrame:
    df = pd.read_csv(DATA)
    df.index = pd.to_datetime(df.pop("time"), unit="ms", utc=True)
    return df


def reference_ema(close: pd.Series) -> pd.Series:
    """Upstream's EMA: pandas ewm(span=50, adjust=False), seeded with the first close of the
    whole fetch (here: every candle in the file)."""
    return close.ewm(span=PERIOD, adjust=False).mean()


def closed_bars_up_to(df: pd.DataFrame, t: int, calls: list[int]):
    """A fetch as the market serves it at bar ``t``: the last ``limit`` closed bars."""

    def fetch(_symbol: str, _timeframe: str, limit: int) -> pd.DataFrame:
        calls.append(limit)
        return df.iloc[: t + 1].iloc[-limit:]

    return fetch


def test_fetches_enough_candles_that_the_seed_no_longer_matters():
    calls: list[int] = []
    htf_filter.htf_trend("BTC/USDT", "4h", closed_bars_up_to(candles(), 639, calls))
    assert calls == [htf_filter.HTF_CANDLES]
    assert htf_filter.HTF_CANDLES >= 4 * PERIOD
    assert (1 - 2 / (PERIOD + 1)) ** (htf_filter.HTF_CANDLES - 1) < 1e-6


def test_ema_and_trend_match_the_full_history_reference_at_every_bar():
    df = candles()
    ref = reference_ema(df["close"])
    evaluated = 0
    for t in range(PERIOD - 1, len(df)):  # from the first bar with a full period of history
        got = htf_filter.htf_trend("BTC/USDT", "4h", closed_bars_up_to(df, t, []))
        close, want = float(df["close"].iloc[t]), float(ref.iloc[t])
        assert got["htf_timeframe"] == "1d"
        assert got["htf_close"] == close
        assert got["htf_ema"] == pytest.approx(want, rel=2e-7, abs=1e-6), df.index[t]
        assert abs(close - want) > 1e-6 * want  # no tie: the trend below is well defined
        assert got["htf_trend"] == (1 if close > want else -1), df.index[t]
        evaluated += 1
    assert evaluated == len(df) - PERIOD + 1
    trends = [
        np.sign(df["close"].iloc[t] - ref.iloc[t]) for t in range(htf_filter.HTF_CANDLES, len(df))
    ]
    assert {1, -1} <= set(trends)  # bars with a full-length fetch see both trends


def test_the_old_60_candle_seed_was_far_from_the_reference():
    """Why the fetch grew: seeding on 60 candles leaves the seed ~10% of the value, enough to
    move the EMA by percent and flip the trend on some bars."""
    df = candles()
    close, ref = df["close"], reference_ema(df["close"])
    errors, flips = [], 0
    for t in range(htf_filter.HTF_CANDLES, len(df)):
        short = reference_ema(close.iloc[t - 59 : t + 1]).iloc[-1]
        errors.append(abs(short / ref.iloc[t] - 1))
        flips += np.sign(close.iloc[t] - short) != np.sign(close.iloc[t] - ref.iloc[t])
    assert max(errors) > 0.01 and flips > 0
