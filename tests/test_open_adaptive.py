"""Adaptive / multi-timeframe / funding family (catalogue §3.31-3.32, 3.46-3.50), on hand-made frames."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from test_strategies import random_walk, trending_and_ranging

from shared_strategies.open import adaptive, common, funding, registry

MINE = [
    "hold",
    "regime_adaptive",
    "regime_adaptive_htf",
    "mtf_confluence",
    "vol_momentum",
    "delta_neutral_funding",
    "funding_skew",
]


def ohlc(close, high=None, low=None, freq: str = "h", start: str = "2024-01-01") -> pd.DataFrame:
    """Frame with high/low = close unless given (so true range = |close change|)."""
    close = np.asarray(close, dtype=float)
    n = len(close)
    return pd.DataFrame(
        {
            "open": close,
            "high": close if high is None else np.asarray(high, dtype=float),
            "low": close if low is None else np.asarray(low, dtype=float),
            "close": close,
            "volume": np.ones(n),
        },
        index=pd.date_range(start, periods=n, freq=freq, tz="UTC"),
    )


def where(sig: pd.Series) -> tuple[list[int], list[int]]:
    values = sig.to_numpy()
    return np.flatnonzero(values == 1).tolist(), np.flatnonzero(values == -1).tolist()


def sim_funding(df: pd.DataFrame, symbol: str = "BTC/USDT") -> pd.DataFrame:
    from shared_tools.market import simulated_funding_rate

    rates = [simulated_funding_rate(symbol, t.to_pydatetime()) for t in df.index]
    return df.assign(funding_rate=rates)


# --------------------------------------------------------------------- registration


def test_platforms_status_and_shorting() -> None:
    for name in MINE[:5]:
        assert name in registry.names("spot") and name in registry.names("perps")
        assert name in registry.names("futures")
    for name in ("delta_neutral_funding", "funding_skew"):
        assert name not in registry.names("spot")
        assert name in registry.names("perps") and name in registry.names("futures")
    status = {n: registry.get(n, "perps").status for n in MINE}
    assert status == {
        "hold": "visible",
        "regime_adaptive": "deprecated",
        "regime_adaptive_htf": "visible",
        "mtf_confluence": "deprecated",
        "vol_momentum": "deprecated",
        "delta_neutral_funding": "visible",
        "funding_skew": "deprecated",
    }
    shorts = {n for n in MINE if registry.get(n, "perps").can_short}
    assert shorts == {"regime_adaptive", "mtf_confluence", "vol_momentum", "funding_skew"}


def test_defaults_and_futures_variants() -> None:
    assert registry.get("hold").default_params == {}
    for name in ("regime_adaptive", "mtf_confluence", "vol_momentum"):
        assert registry.get(name).default_params["allow_short"] is False
        for platform in ("perps", "futures"):
            assert registry.get(name, platform).default_params["allow_short"] is True
    for platform in ("spot", "perps", "futures"):  # long/flat everywhere
        assert registry.get("regime_adaptive_htf", platform).default_params["allow_short"] is False
    htf = registry.get("regime_adaptive_htf").default_params
    assert htf["htf_factor"] == 6 and htf["period"] == 14 and htf["confirm_buckets"] == 2
    assert htf["trend_entry"] == "off" and htf["fade_labels"] == "ranging"
    assert registry.get("vol_momentum").default_params == {
        "mom_window": 24,
        "atr_period": 14,
        "entry_threshold": 0.30,
        "exit_threshold": 0.05,
        "eff_entry": 0.35,
        "eff_exit": 0.15,
        "allow_short": False,
    }
    assert registry.get("funding_skew", "perps").default_params == {
        "funding_window": 168,
        "z_entry": 2.0,
        "z_exit": 0.5,
        "confirm_ema": 40,
        "min_abs_rate": 0.00001,
        "allow_short": True,
    }
    assert registry.get("delta_neutral_funding", "futures").default_params == {
        "entry_threshold": 0.0001,
        "exit_threshold": 0.00005,
        "drift_threshold": 2.0,
        "current_funding_rate": 0.0,
        "avg_funding_rate_7d": 0.0,
    }


def test_constraints() -> None:
    with pytest.raises(ValueError, match=r"constraint 'htf_ema_fast < htf_ema_slow' violated"):
        registry.merged_params("mtf_confluence", {"htf_ema_fast": 40})
    with pytest.raises(ValueError, match=r"'z_exit < z_entry' violated \(z_exit=2.0, z_entry=2.0"):
        registry.merged_params("funding_skew", {"z_exit": 2.0}, "perps")
    with pytest.raises(ValueError, match=r"'mr_lookback > 0' violated \(mr_lookback=0\)"):
        registry.merged_params("regime_adaptive_htf", {"mr_lookback": 0})
    with pytest.raises(ValueError, match="'period > 0'"):
        registry.merged_params("regime_adaptive", {"period": 0})
    with pytest.raises(ValueError, match="'atr_period > 0'"):
        registry.merged_params("vol_momentum", {"atr_period": 0})
    with pytest.raises(ValueError, match="unknown param"):
        registry.merged_params("hold", {"period": 3})
    # position context is stripped, so hold accepts it
    assert registry.merged_params("hold", {"side": "long", "regime": {}}) == {}


# ------------------------------------------------------------------------- helpers


def test_atr_rounding_at_100() -> None:
    # H = L = C, so TR = |close change| and ATR(1) = that change; rounding half to even.
    moves = [100.5, 101.5, 99.5, 100.0, 150.25]
    atr = common.atr_rounded(ohlc(np.cumsum([1000.0, *moves])), 1)
    assert np.isnan(atr.iloc[0])
    np.testing.assert_array_equal(atr.iloc[1:], [100.0, 102.0, 99.5, 100.0, 150.0])


def test_htf_buckets_epoch_aligned_and_read_when_closed() -> None:
    # Starts at 02:00: the first 4h bucket [00:00, 04:00) holds only 02:00 and 03:00.
    df = ohlc(np.arange(1.0, 11.0), start="2024-01-01 02:00")
    buckets, visible = common.htf_buckets(df, 4)
    assert buckets["open"].tolist() == [1.0, 3.0, 7.0]
    assert buckets["close"].tolist() == [2.0, 6.0, 10.0]
    # bucket 0 readable from the 03:00 bar, bucket 1 from 07:00, bucket 2 from 11:00
    assert visible.tolist() == [-1, 0, 0, 0, 0, 1, 1, 1, 1, 2]
    # one bar less: bucket 2 (08:00-10:00 so far) is still forming and is never read
    buckets, visible = common.htf_buckets(df.iloc[:9], 4)
    assert len(buckets) == 3 and visible.tolist() == [-1, 0, 0, 0, 0, 1, 1, 1, 1]


def test_htf_buckets_gap_and_positional_fallback() -> None:
    idx = pd.DatetimeIndex(
        ["2024-01-01 00:00", "2024-01-01 01:00", "2024-01-01 03:00", "2024-01-01 04:00"], tz="UTC"
    )
    df = ohlc([1.0, 2.0, 3.0, 4.0]).set_axis(idx)
    buckets, visible = common.htf_buckets(df, 2)
    # [00,02) complete at 01:00; [02,04) lacks 02:00 but is readable from its 03:00 close
    assert buckets["close"].tolist() == [2.0, 3.0, 4.0] and visible.tolist() == [-1, 0, 1, 1]
    plain = df.reset_index(drop=True)  # no DatetimeIndex: 2-row buckets from the start
    buckets, visible = common.htf_buckets(plain.iloc[:3], 2)
    assert buckets["close"].tolist() == [2.0] and visible.tolist() == [-1, 0, 0]


def test_confirmation_hysteresis() -> None:
    w, a, b = adaptive._WARM, adaptive._UP_CLEAN, adaptive._RANGING_QUIET
    raw = np.array([w, w, a, a, b, a, a, w, b, b])
    assert adaptive._confirm(raw, 2).tolist() == [w, w, w, a, a, a, a, a, a, b]
    assert adaptive._confirm(raw, 1).tolist() == raw.tolist()
    assert adaptive._confirm(raw, 3).tolist() == [w] * 10


def test_funding_column_as_of_backward() -> None:
    idx = pd.date_range("2024-01-01", periods=4, freq="h")  # naive: read as UTC
    t0 = int(pd.Timestamp("2024-01-01", tz="UTC").timestamp() * 1000)
    records = [{"rate": 0.2, "time": t0 + 3_600_000}, {"rate": 0.1, "time": t0 + 1}]
    col = funding.funding_column(idx, records)
    # bar 0 precedes both records; 01:00 equals the second record's time (<= is inclusive)
    np.testing.assert_array_equal(col.to_numpy(), [np.nan, 0.2, 0.2, 0.2])
    assert funding.funding_column(idx, []).isna().all()


# ------------------------------------------------------------------------------ hold


def test_hold_never_enters() -> None:
    out = registry.evaluate("hold", trending_and_ranging(), platform="perps")
    assert list(out.columns) == ["signal"] and (out["signal"] == 0).all()
    assert registry.evaluate("hold", ohlc([])).empty


# --------------------------------------------------------------------- vol_momentum

VM_CLOSE = [10, 10, 10, 11, 12, 13, 13, 13, 12, 11, 10]


def test_vol_momentum_hand_example() -> None:
    # mom_window 2, ATR(2): bars 3-6 move on an efficient path (vol_mom 1, efficiency 1);
    # bar 7 has no net move (vol_mom 0, efficiency 0 -> exit); bars 8-10 fall (vol_mom -1).
    params = {"mom_window": 2, "atr_period": 2}
    out = registry.evaluate("vol_momentum", ohlc(VM_CLOSE), params)
    np.testing.assert_allclose(out["vol_mom"].iloc[2:], [0, 1, 1, 1, 1, 0, -1, -1, -1])
    np.testing.assert_allclose(out["efficiency"].iloc[2:], [0, 1, 1, 1, 1, 0, 1, 1, 1])
    assert out["vol_mom"].iloc[:2].isna().all()
    assert where(out["signal"]) == ([3], [7])
    perps = registry.signals("vol_momentum", ohlc(VM_CLOSE), params, "perps")
    assert where(perps) == ([3], [7, 8])  # exit, then the short entry on the next bar


def test_vol_momentum_thresholds_are_strict_and_flips_direct() -> None:
    params = {"mom_window": 2, "atr_period": 2, "entry_threshold": 1.0}
    assert where(registry.signals("vol_momentum", ohlc(VM_CLOSE), params)) == ([], [])
    # exits that never trigger: the long flips straight to short (clipped to one -1)
    flip = {"mom_window": 2, "atr_period": 2, "exit_threshold": -5.0, "eff_exit": 0.0}
    sig = registry.evaluate("vol_momentum", ohlc(VM_CLOSE), flip, "perps")["signal"]
    assert where(sig) == ([3], [8])


# ------------------------------------------------------------------ regime_adaptive

UP = np.r_[np.arange(10.0, 18.0), [17.0] * 3]
TREND = {"period": 3, "adx_threshold": 0.0, "breakout_lookback": 2, "slow_trend_lookback": 0}


def test_regime_adaptive_trend_breakout() -> None:
    # ATR(3) exists from bar 3 (labels warm before); ADX(3) from bar 5, so bars 3-4 are
    # trending_up_choppy and bar 5 is the first trending_up_clean with a breakout -> +1.
    # Bar 9 has no net move over 2 diffs: ranging_directional -> the trend long exits.
    out = registry.evaluate("regime_adaptive", ohlc(UP), TREND)
    assert where(out["signal"]) == ([5], [9])
    np.testing.assert_allclose(out["ra_return_eff"].iloc[3:10], [2 / 3] * 5 + [0.5, 0.0])
    down = registry.signals("regime_adaptive", ohlc(-UP + 100), TREND, "perps")
    assert where(down) == ([9], [5])
    assert where(registry.signals("regime_adaptive", ohlc(-UP + 100), TREND)) == ([], [])
    # ADX can never reach 101: no clean label, no trend entry
    never = {**TREND, "adx_threshold": 101.0}
    assert where(registry.signals("regime_adaptive", ohlc(UP), never)) == ([], [])


# mr_lookback 2: z is +-1/sqrt(2) on a move and NaN on a flat pair.
FADE_CLOSE = [10, 10, 10, 10, 9, 10, 11, 10, 9, 9.5]
FADE = {
    "period": 3,
    "adx_threshold": 101.0,  # never "high ADX"
    "return_eff_threshold": 100.0,  # never "big": every warm label is a ranging one
    "mr_lookback": 2,
    "mr_entry_z": 0.5,
    "slow_trend_lookback": 0,
}


def test_regime_adaptive_mean_reversion_fades() -> None:
    # z crosses up through -0.5 at bars 5 and 9 (long fade); exit at 6 where z >= 0.
    out = registry.evaluate("regime_adaptive", ohlc(FADE_CLOSE), FADE)
    assert out["ra_z"].iloc[:4].isna().all()
    assert where(out["signal"]) == ([5, 9], [6])
    # allow_short: z crosses down through +0.5 at 7 (short fade), covered at 8 (z <= 0)
    perps = registry.signals("regime_adaptive", ohlc(FADE_CLOSE), FADE, "perps")
    assert where(perps) == ([5, 8, 9], [6, 7])


def test_regime_adaptive_slow_veto_is_inclusive() -> None:
    # slow_eff over 2 bars is 0 at bar 5 and negative at 9: threshold 0 vetoes both (<=).
    vetoed = {**FADE, "slow_trend_lookback": 2, "slow_veto_threshold": 0.0}
    out = registry.evaluate("regime_adaptive", ohlc(FADE_CLOSE), vetoed)
    assert out["ra_slow_eff"].iloc[5] == 0.0 and out["ra_slow_eff"].iloc[9] < 0
    assert where(out["signal"]) == ([], [])
    loose = {**FADE, "slow_trend_lookback": 2, "slow_veto_threshold": 0.5}
    assert where(registry.signals("regime_adaptive", ohlc(FADE_CLOSE), loose)) == ([5, 9], [6])


def test_regime_adaptive_short_frame_is_flat() -> None:
    out = registry.evaluate("regime_adaptive", ohlc(UP[:3]), TREND)
    assert (out["signal"] == 0).all()


# -------------------------------------------------------------- regime_adaptive_htf

HTF_TREND = {"htf_factor": 1, "confirm_buckets": 1, **TREND}


def test_regime_adaptive_htf_trend_modes() -> None:
    df = ohlc(UP)
    assert where(registry.signals("regime_adaptive_htf", df, HTF_TREND)) == ([], [])  # "off"
    breakout = {**HTF_TREND, "trend_entry": "breakout"}
    assert where(registry.signals("regime_adaptive_htf", df, breakout)) == ([5], [9])
    # the label flips to trending_up_clean at bar 5: a 1-bar transition window enters there
    transition = {**HTF_TREND, "trend_entry": "transition", "transition_window": 1}
    assert where(registry.signals("regime_adaptive_htf", df, transition)) == ([5], [9])
    # a pullback trigger never happens on a straight line
    pullback = {**HTF_TREND, "trend_entry": "pullback"}
    assert where(registry.signals("regime_adaptive_htf", df, pullback)) == ([], [])


def test_regime_adaptive_htf_drift_confirmation() -> None:
    # the drift ATR uses mr_lookback (3 here): slow_eff at bar 5 = (15 - 13) / (1 * 2) = 1
    base = {**HTF_TREND, "trend_entry": "breakout", "slow_trend_lookback": 2, "mr_lookback": 3}
    ok = registry.evaluate("regime_adaptive_htf", ohlc(UP), {**base, "trend_drift_confirm": 1.0})
    assert ok["rah_slow_eff"].iloc[5] == pytest.approx(1.0)  # >= is inclusive
    assert where(ok["signal"]) == ([5], [9])
    strict = {**base, "trend_drift_confirm": 1.01}
    sig = registry.signals("regime_adaptive_htf", ohlc(UP), strict)
    assert where(sig) == ([], [])


def test_regime_adaptive_htf_fade_labels() -> None:
    params = {**FADE, "htf_factor": 1, "confirm_buckets": 1}
    assert where(registry.signals("regime_adaptive_htf", ohlc(FADE_CLOSE), params)) == (
        [5, 9],
        [6],
    )
    # a choppy up-trend label fades only with fade_labels="all_mr"
    choppy = {**params, "return_eff_threshold": 0.0}  # every bar "big": choppy trends
    assert where(registry.signals("regime_adaptive_htf", ohlc(FADE_CLOSE), choppy)) == ([], [])
    all_mr = {**choppy, "fade_labels": "all_mr"}
    sig = registry.signals("regime_adaptive_htf", ohlc(FADE_CLOSE), all_mr)
    assert where(sig)[0] != []


def test_regime_adaptive_htf_with_factor_one_matches_regime_adaptive() -> None:
    """Factor 1 without hysteresis or drift: the HTF variant is regime_adaptive (all_mr fades)."""
    market = trending_and_ranging()
    common = {"period": 14, "slow_trend_lookback": 0, "allow_short": True}
    ra = registry.signals("regime_adaptive", market, common)
    htf = {**common, "htf_factor": 1, "confirm_buckets": 1, "trend_entry": "breakout"}
    htf["fade_labels"] = "all_mr"
    out = registry.signals("regime_adaptive_htf", market, htf)
    assert (ra != 0).sum() > 20
    pd.testing.assert_series_equal(out, ra)


def test_regime_adaptive_htf_reads_only_closed_buckets() -> None:
    market = trending_and_ranging()
    params = {"htf_factor": 4, "period": 6, "confirm_buckets": 1, "trend_entry": "breakout"}
    full = registry.signals("regime_adaptive_htf", market, params)
    assert (full != 0).sum() > 4
    for k in (97, 98, 99, 100, 1001, 2403):
        pd.testing.assert_series_equal(
            registry.signals("regime_adaptive_htf", market.iloc[:k], params), full.iloc[:k]
        )


# ------------------------------------------------------------------- mtf_confluence

# factor 1: each bar is its own HTF bucket. F = EMA1 = close, S = EMA2 (alpha 2/3),
# ltf EMA2 = S as well. S = 10, 10.667, 11.556, 12.519, 12.506, 12.835, ...
MTF = {
    "htf_factor": 1,
    "htf_ema_fast": 1,
    "htf_ema_slow": 2,
    "htf_sep_pct": 0.0,
    "ltf_ema": 2,
    "pullback_window": 2,
}
MTF_CLOSE = [10, 11, 12, 13, 12.5, 13, 15, 14, 10]
MTF_HIGH = np.add(MTF_CLOSE, 0.5)
MTF_LOW = np.subtract(MTF_CLOSE, 0.5)
MTF_LOW[3] = 12.6  # bar 4 closes below bar 3's low: a short trigger


def test_mtf_confluence_hand_example() -> None:
    df = ohlc(MTF_CLOSE, MTF_HIGH, MTF_LOW)
    out = registry.evaluate("mtf_confluence", df, MTF)
    # HTF trend warm from bucket 2: up at 2, 3, 5, 6; down at 4 (12.5 < 12.506), 7, 8
    np.testing.assert_array_equal(out["htf_trend"], [0, 0, 1, 1, -1, 1, 1, -1, -1])
    assert np.isnan(out["ltf_ema"].iloc[0]) and np.isnan(out["htf_ema_slow"].iloc[0])
    # long at 2 (close above EMA and bar 1's high); out at 4 (F < S); bar 5 closes 13,
    # equal to bar 4's high: no long (strict); long at 6; out at 7 when F < S.
    assert where(out["signal"]) == ([2, 6], [4, 7])
    # perps: bar 4 also opens a short (close 12.5 < bar 3's low 12.6, below EMA, pullback
    # above EMA before), covered at 5 when F > S again; bar 7 shorts after the long exit.
    perps = registry.signals("mtf_confluence", df, MTF, "perps")
    assert where(perps) == ([2, 5, 6], [4, 7])
    shorted = registry.evaluate("mtf_confluence", df.iloc[:9], MTF, "perps")
    assert shorted["htf_trend"].iloc[8] == -1 and shorted["signal"].iloc[8] == 0  # held


def test_mtf_confluence_needs_warm_htf_and_enough_bars() -> None:
    df = ohlc(MTF_CLOSE, MTF_HIGH, MTF_LOW)
    late = {**MTF, "htf_ema_slow": 5}  # trend only from bucket 5
    out = registry.evaluate("mtf_confluence", df, late)
    assert (out["htf_trend"].iloc[:5] == 0).all()
    # the slower S (EMA5) stays below 14 at bar 7, so the long exits only at 8
    assert where(out["signal"]) == ([6], [8])
    assert (registry.signals("mtf_confluence", df.iloc[:2], MTF) == 0).all()


def test_mtf_confluence_htf_lag() -> None:
    """With factor 4 the HTF trend changes only on bars that close a 4h bucket."""
    market = trending_and_ranging()
    out = registry.evaluate("mtf_confluence", market)
    changed = out["htf_trend"].diff().fillna(0) != 0
    assert changed.any()
    assert (market.index[changed].hour % 4 == 3).all()
    assert (registry.signals("mtf_confluence", market) != 0).sum() > 2


# ----------------------------------------------------------------------- funding


def test_delta_neutral_funding_series_path() -> None:
    # daily bars: the 7-day window is 7 bars; level-triggered on the rolling mean
    rates = [0.5] * 7 + [1.0] * 7 + [0.0] * 7
    df = ohlc(np.full(21, 100.0), freq="D").assign(funding_rate=rates)
    params = {"entry_threshold": 0.5, "exit_threshold": 0.25}
    out = registry.evaluate("delta_neutral_funding", df, params, "perps")
    sig = out["signal"].to_numpy()
    assert (sig[:7] == 0).all()  # warm-up, then mean exactly 0.5: not > entry (tie)
    assert (sig[7:17] == -1).all()  # mean > 0.5 from bar 7 through 4/7 at bar 16
    assert (sig[17:19] == 0).all()  # 3/7 and 2/7: between the thresholds
    assert (sig[19:] == 1).all()  # 1/7 and 0: below exit_threshold
    assert out["avg_funding_7d"].iloc[19] == pytest.approx(1 / 7)
    assert out["funding_apy"].iloc[7] == pytest.approx(out["avg_funding_7d"].iloc[7] * 876000)
    assert (out["delta_drift_pct"] == 0).all() and (out["rebalance_needed"] == 0).all()


def test_delta_neutral_funding_scalar_path_last_bar_only() -> None:
    df = ohlc(np.full(5, 100.0))
    rich = {"current_funding_rate": 0.0003, "avg_funding_rate_7d": 0.0002}
    out = registry.evaluate("delta_neutral_funding", df, rich, "perps")
    assert out["signal"].tolist() == [0, 0, 0, 0, -1]
    assert out["funding_apy"].iloc[-1] == pytest.approx(0.0002 * 3 * 365 * 100)
    assert out["funding_rate"].iloc[-1] == 0.0003
    thin = registry.signals("delta_neutral_funding", df, {"avg_funding_rate_7d": 1e-5}, "perps")
    assert thin.tolist() == [0, 0, 0, 0, 1]
    # exactly zero means "no data": no exit even though 0 < exit_threshold
    assert (registry.signals("delta_neutral_funding", df, platform="perps") == 0).all()
    # an all-NaN funding column also falls back to the scalars
    nan_col = df.assign(funding_rate=np.nan)
    assert registry.signals("delta_neutral_funding", nan_col, rich, "perps").iloc[-1] == -1


FS = {"funding_window": 2, "z_entry": 0.7, "z_exit": 0.5, "confirm_ema": 2}


def test_funding_skew_hand_example() -> None:
    # rising price: close > EMA2 from bar 1. window 2: z = -0.707 on a drop in funding,
    # +0.707 on a rise, NaN on a flat pair.
    close = np.arange(100.0, 108.0)
    funding = [0, 0, 0, -0.001, -0.001, -0.002, -0.001, -0.001]
    out = registry.evaluate("funding_skew", ohlc(close).assign(funding_rate=funding), FS, "perps")
    # long at 3 (z <= -0.7, rate < -min_abs, above EMA); flat funding at 4 -> z NaN -> exit;
    # long at 5; exit at 6 (z >= -0.5); bar 6's z >= 0.7 but funding is negative: no short
    assert where(out["signal"]) == ([3, 5], [4, 6])
    assert np.isnan(out["funding_z"].iloc[4])
    tie = {**FS, "min_abs_rate": 0.001}  # -0.001 is not < -0.001; -0.002 is
    df = ohlc(close).assign(funding_rate=funding)
    assert where(registry.signals("funding_skew", df, tie, "perps")) == ([5], [6])


def test_funding_skew_short_side_and_missing_funding() -> None:
    close = np.arange(108.0, 100.0, -1.0)  # falling: close < EMA2
    funding = [0, 0, 0, 0.001, 0.002, 0.002, 0.001, 0.003]
    df = ohlc(close).assign(funding_rate=funding)
    # short at 3 (held at 4: z still > z_exit), flat funding at 5 -> z NaN -> cover; short at 7
    assert where(registry.signals("funding_skew", df, FS, "perps")) == ([5], [3, 7])
    no_short = {**FS, "allow_short": False}
    assert where(registry.signals("funding_skew", df, no_short, "perps")) == ([], [])
    assert (registry.signals("funding_skew", ohlc(close), FS, "perps") == 0).all()


def test_funding_strategies_trade_on_simulated_funding() -> None:
    df = sim_funding(trending_and_ranging())
    for name in ("delta_neutral_funding", "funding_skew"):
        sig = registry.signals(name, df, platform="perps")
        assert (sig == 1).any() and (sig == -1).any()


# ------------------------------------------------------------- closed-bar contract


@pytest.mark.parametrize("name", MINE)
@pytest.mark.parametrize("platform", ["perps", "futures"])
def test_closed_bar_contract_futures_variants(name: str, platform: str) -> None:
    """Appending bars never changes an earlier signal (perps/futures defaults, with funding)."""
    for seed in (1, 7, 42):
        df = sim_funding(random_walk(seed, 500))
        full = registry.signals(name, df, platform=platform)
        for k in (1, 2, 3, 30, 97, 168, 169, 250, 499):
            part = registry.signals(name, df.iloc[:k], platform=platform)
            pd.testing.assert_series_equal(part, full.iloc[:k])
