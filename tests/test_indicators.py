"""shared_tools.indicators: agreement with TA-Lib after warm-up, and causality."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import talib
from hypothesis import given, settings
from hypothesis import strategies as st

from shared_tools import indicators as ind

N_BARS = 2000
RTOL = 1e-6


def make_ohlcv(n: int = N_BARS, seed: int = 7) -> pd.DataFrame:
    """Deterministic geometric random walk with consistent OHLC and positive volume."""
    rs = np.random.RandomState(seed)
    close = 100.0 * np.exp(np.cumsum(rs.normal(0.0, 0.01, n)))
    open_ = np.r_[100.0, close[:-1]] * np.exp(rs.normal(0.0, 0.001, n))
    high = np.maximum(open_, close) * (1.0 + np.abs(rs.normal(0.0, 0.004, n)))
    low = np.minimum(open_, close) * (1.0 - np.abs(rs.normal(0.0, 0.004, n)))
    volume = rs.lognormal(10.0, 0.5, n)
    index = pd.date_range("2024-01-01", periods=n, freq="h", tz="UTC")
    return pd.DataFrame(
        {"open": open_, "high": high, "low": low, "close": close, "volume": volume}, index=index
    )


DF = make_ohlcv()
C, H, L, V = (DF[c].to_numpy() for c in ("close", "high", "low", "volume"))


def close_after(ours: pd.Series, ref: np.ndarray, start: int, atol: float = 0.0) -> None:
    """Ours is defined and within RTOL of the reference from row ``start`` on.

    ``start`` is where the reference has its first value (same seeding) or
    where differently seeded recursions have converged (EMA family).
    """
    ours_arr = ours.to_numpy(dtype=float)
    assert not np.isnan(ours_arr[start:]).any()
    np.testing.assert_allclose(ours_arr[start:], ref[start:], rtol=RTOL, atol=atol)


def test_synthetic_frame_is_consistent() -> None:
    assert (DF["high"] >= DF[["open", "close"]].max(axis=1)).all()
    assert (DF["low"] <= DF[["open", "close"]].min(axis=1)).all()
    assert (DF["volume"] > 0).all()


@pytest.mark.parametrize("period", [5, 20, 50])
def test_sma(period: int) -> None:
    out = ind.sma(DF["close"], period)
    assert out.iloc[: period - 1].isna().all()
    close_after(out, talib.SMA(C, period), period - 1)


@pytest.mark.parametrize("period", [5, 12, 26])
def test_ema_after_warmup(period: int) -> None:
    # TA-Lib seeds with an SMA, we seed with the first close; the gap decays as
    # (1 - 2/(p+1))^n, i.e. ~e^-20 after 10*p bars.
    out = ind.ema(DF["close"], period)
    assert out.iloc[: period - 1].isna().all() and out.iloc[period - 1 :].notna().all()
    close_after(out, talib.EMA(C, period), 10 * period)


@pytest.mark.parametrize("period", [2, 7, 14])
def test_rsi_matches_talib_from_first_value(period: int) -> None:
    out = ind.rsi(DF["close"], period)
    ref = talib.RSI(C, period)
    np.testing.assert_array_equal(out.isna().to_numpy(), np.isnan(ref))
    close_after(out, ref, period)


def test_rsi_flat_and_monotonic() -> None:
    flat = pd.Series(np.full(30, 5.0))
    assert (ind.rsi(flat, 14).dropna() == 50.0).all()
    up = pd.Series(np.arange(30, dtype=float))
    assert (ind.rsi(up, 14).dropna() == 100.0).all()


def test_macd_after_warmup() -> None:
    out = ind.macd(DF["close"], 12, 26, 9)
    assert list(out.columns) == ["macd", "signal", "hist"]
    # Lookback identical to TA-Lib's (first full row at 33).
    assert out.iloc[:33].isna().any(axis=1).all() and out.iloc[33:].notna().all().all()
    macd, signal, hist = talib.MACD(C, 12, 26, 9)
    # MACD oscillates around zero, so relative error is meaningless at the
    # crossings; a tiny absolute tolerance (prices ~100) covers those bars.
    start = 500
    close_after(out["macd"], macd, start, atol=1e-8)
    close_after(out["signal"], signal, start, atol=1e-8)
    close_after(out["hist"], hist, start, atol=1e-8)


@pytest.mark.parametrize(("period", "num_std"), [(20, 2.0), (10, 1.5)])
def test_bollinger(period: int, num_std: float) -> None:
    out = ind.bollinger(DF["close"], period, num_std)
    assert list(out.columns) == ["upper", "middle", "lower"]
    upper, middle, lower = talib.BBANDS(C, period, num_std, num_std)
    close_after(out["upper"], upper, period - 1)
    close_after(out["middle"], middle, period - 1)
    close_after(out["lower"], lower, period - 1)


@pytest.mark.parametrize("period", [5, 20])
def test_bollinger_sample_std(period: int) -> None:
    """ddof=1 is upstream's sample std: bands wider by sqrt(N/(N-1)) than TA-Lib's."""
    pop = ind.bollinger(DF["close"], period, 2.0)
    sample = ind.bollinger(DF["close"], period, 2.0, ddof=1)
    pd.testing.assert_series_equal(sample["middle"], pop["middle"])
    ratio = (sample["upper"] - sample["middle"]) / (pop["upper"] - pop["middle"])
    np.testing.assert_allclose(ratio.iloc[period - 1 :], np.sqrt(period / (period - 1)))
    std = DF["close"].iloc[:period].std(ddof=1)
    assert sample["lower"].iloc[period - 1] == pytest.approx(
        sample["middle"].iloc[period - 1] - 2 * std
    )


def test_bollinger_rejects_other_ddof() -> None:
    with pytest.raises(ValueError, match="ddof must be 0"):
        ind.bollinger(DF["close"], 20, 2.0, ddof=2)


def test_true_range() -> None:
    out = ind.true_range(DF)
    assert np.isnan(out.iloc[0])
    close_after(out, talib.TRANGE(H, L, C), 1)


@pytest.mark.parametrize("period", [7, 14])
def test_atr_simple(period: int) -> None:
    out = ind.atr(DF, period, "simple")
    close_after(out, talib.SMA(talib.TRANGE(H, L, C), period), period)


@pytest.mark.parametrize("period", [7, 14])
def test_atr_wilder_matches_talib_from_first_value(period: int) -> None:
    out = ind.atr(DF, period, method="wilder")
    ref = talib.ATR(H, L, C, period)
    np.testing.assert_array_equal(out.isna().to_numpy(), np.isnan(ref))
    close_after(out, ref, period)


def test_atr_rejects_unknown_method() -> None:
    with pytest.raises(ValueError, match="atr method must be 'simple' or 'wilder', got 'ema'"):
        ind.atr(DF, 14, method="ema")


@pytest.mark.parametrize("period", [5, 14])
def test_adx_matches_talib_from_first_value(period: int) -> None:
    out = ind.adx(DF, period)
    assert list(out.columns) == ["adx", "plus_di", "minus_di"]
    for col, ref in (
        ("adx", talib.ADX(H, L, C, period)),
        ("plus_di", talib.PLUS_DI(H, L, C, period)),
        ("minus_di", talib.MINUS_DI(H, L, C, period)),
    ):
        np.testing.assert_array_equal(out[col].isna().to_numpy(), np.isnan(ref), err_msg=col)
        close_after(out[col], ref, int(np.flatnonzero(~np.isnan(ref))[0]))


@pytest.mark.parametrize("period", [1, 10, 14])
def test_roc(period: int) -> None:
    out = ind.roc(DF["close"], period)
    # ROC crosses zero; the absolute tolerance (in percent points) covers those bars.
    close_after(out, talib.ROC(C, period), period, atol=1e-9)


def test_roc_exact_ties_in_upstream_order() -> None:
    """100 -> 105 is exactly 5.0 (``105/100 - 1`` would give 5.0000000000000044)."""
    out = ind.roc(pd.Series([100.0, 105.0, 99.75, 95.0]), 1)
    assert out.iloc[1] == 5.0 and out.iloc[3] == pytest.approx(-4.761904761904762)
    assert ind.roc(pd.Series([100.0, 95.0]), 1).iloc[1] == -5.0


def _stoch_rsi_reference(close: np.ndarray, rp: int, sp: int, k: int, d: int):
    r = ind.rsi(pd.Series(close), rp).to_numpy()
    raw = np.full(len(r), np.nan)
    for i in range(sp - 1, len(r)):
        w = r[i - sp + 1 : i + 1]
        if not np.isnan(w).any() and w.max() != w.min():
            raw[i] = 100 * (r[i] - w.min()) / (w.max() - w.min())
    kk = talib.SMA(raw, k) if not np.isnan(raw).all() else raw
    return r, kk, talib.SMA(kk, d)


@pytest.mark.parametrize(("rp", "sp", "k", "d"), [(14, 14, 3, 3), (5, 7, 2, 4)])
def test_stoch_rsi(rp: int, sp: int, k: int, d: int) -> None:
    out = ind.stoch_rsi(DF["close"], rp, sp, k, d)
    assert list(out.columns) == ["rsi", "k", "d"]
    r, kk, dd = _stoch_rsi_reference(C, rp, sp, k, d)
    first_k = rp + sp - 1 + k - 1
    assert out["k"].iloc[:first_k].isna().all()
    close_after(out["rsi"], r, rp)
    close_after(out["k"], kk, first_k, atol=1e-9)
    close_after(out["d"], dd, first_k + d - 1, atol=1e-9)
    k_valid = out["k"].dropna()  # rolling-sum rounding may overshoot by ~1e-14
    assert k_valid.min() >= -1e-9 and k_valid.max() <= 100 + 1e-9


def test_stoch_rsi_flat_window_is_nan() -> None:
    out = ind.stoch_rsi(pd.Series(np.full(40, 3.0)), 5, 5, 2, 2)
    assert out["k"].isna().all() and out["d"].isna().all()


@pytest.mark.parametrize("period", [5, 20])
def test_donchian(period: int) -> None:
    out = ind.donchian(DF, period)
    assert list(out.columns) == ["upper", "lower", "middle"]
    upper, lower = talib.MAX(H, period), talib.MIN(L, period)
    close_after(out["upper"], upper, period - 1)
    close_after(out["lower"], lower, period - 1)
    close_after(out["middle"], (upper + lower) / 2.0, period - 1)


def _vwap_reference(high, low, close, volume, period):
    typical = (high + low + close) / 3.0
    out = np.full(len(close), np.nan)
    for i in range(len(close)):
        lo = 0 if period is None else i - period + 1
        if lo < 0:
            continue
        out[i] = np.sum(typical[lo : i + 1] * volume[lo : i + 1]) / np.sum(volume[lo : i + 1])
    return out


@pytest.mark.parametrize("period", [None, 1, 24])
def test_vwap_against_loop_reference(period: int | None) -> None:
    out = ind.vwap(DF, period)
    ref = _vwap_reference(H, L, C, V, period)
    np.testing.assert_array_equal(out.isna().to_numpy(), np.isnan(ref))
    start = 0 if period is None else period - 1
    close_after(out, ref, start)


def test_vwap_zero_volume_is_nan() -> None:
    df = DF.iloc[:5].copy()
    df["volume"] = 0.0
    assert ind.vwap(df).isna().all()


@pytest.mark.parametrize("lookback", [20, 30])
def test_zscore(lookback: int) -> None:
    out = ind.zscore(DF["close"], lookback)
    mean = talib.SMA(C, lookback)
    # talib.STDDEV is the population std; rescale to the sample std we use.
    std = talib.STDDEV(C, lookback, 1.0) * np.sqrt(lookback / (lookback - 1))
    close_after(out, (C - mean) / std, lookback - 1, atol=1e-9)  # z crosses zero


def test_zscore_flat_window_is_nan() -> None:
    out = ind.zscore(pd.Series(np.r_[np.full(10, 3.0), 4.0]), 5)
    assert out.iloc[:10].isna().all() and out.iloc[10] > 0


@pytest.mark.parametrize("bad", [0, -3, 2.5])
def test_bad_period_rejected(bad) -> None:
    with pytest.raises(ValueError, match="positive integer"):
        ind.sma(DF["close"], bad)


def test_inputs_not_mutated() -> None:
    df = DF.iloc[:300].copy()
    before = df.copy()
    for fn in ALL_INDICATORS.values():
        fn(df)
    pd.testing.assert_frame_equal(df, before)


ALL_INDICATORS = {
    "sma": lambda d: ind.sma(d["close"], 20),
    "ema": lambda d: ind.ema(d["close"], 20),
    "rsi": lambda d: ind.rsi(d["close"], 14),
    "macd": lambda d: ind.macd(d["close"]),
    "bollinger": lambda d: ind.bollinger(d["close"]),
    "bollinger_sample": lambda d: ind.bollinger(d["close"], ddof=1),
    "stoch_rsi": lambda d: ind.stoch_rsi(d["close"]),
    "true_range": ind.true_range,
    "atr_simple": lambda d: ind.atr(d, 14, "simple"),
    "atr_wilder": lambda d: ind.atr(d, 14, "wilder"),
    "adx": lambda d: ind.adx(d, 14),
    "roc": lambda d: ind.roc(d["close"], 10),
    "donchian": lambda d: ind.donchian(d, 20),
    "vwap": ind.vwap,
    "vwap_rolling": lambda d: ind.vwap(d, 24),
    "zscore": lambda d: ind.zscore(d["close"], 30),
}
CAUSAL_DF = DF.iloc[:400]


@pytest.mark.parametrize("name", sorted(ALL_INDICATORS))
@settings(max_examples=30, deadline=None)
@given(k=st.integers(min_value=1, max_value=len(CAUSAL_DF)))
def test_indicator_is_causal(name: str, k: int) -> None:
    """Computing on a prefix reproduces the full computation's first k rows (NaN-aware)."""
    fn = ALL_INDICATORS[name]
    full = fn(CAUSAL_DF)
    prefix = fn(CAUSAL_DF.iloc[:k])
    expected = full.iloc[:k]
    if isinstance(full, pd.DataFrame):
        pd.testing.assert_frame_equal(prefix, expected, check_exact=True)
    else:
        pd.testing.assert_series_equal(prefix, expected, check_exact=True)
