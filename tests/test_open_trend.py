"""Trend and breakout open strategies (shared_strategies/open/trend.py, catalogue §3.15-§3.35)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shared_strategies.open import common, registry, trend
from shared_tools import indicators as ind

MINE = {
    "breakout": "futures",
    "bear_pullback_st": "futures",
    "supertrend": "spot",
    "ichimoku_cloud": "spot",
    "squeeze_momentum": "spot",
    "atr_breakout": "spot",
    "heikin_ashi_ema": "spot",
    "parabolic_sar": "spot",
    "adx_trend": "spot",
    "donchian_breakout": "spot",
    "session_breakout": "futures",
}


def _index(n: int, start: str = "2024-01-01") -> pd.DatetimeIndex:
    return pd.date_range(start, periods=n, freq="h", tz="UTC")


def bars(close, spread: float = 0.5, volume=None, high=None, low=None) -> pd.DataFrame:
    """Bars with open = close and high/low = close +/- spread unless given."""
    close = np.asarray(close, dtype=float)
    n = len(close)
    return pd.DataFrame(
        {
            "open": close,
            "high": close + spread if high is None else np.asarray(high, float),
            "low": close - spread if low is None else np.asarray(low, float),
            "close": close,
            "volume": np.ones(n) if volume is None else np.asarray(volume, float),
        },
        index=_index(n),
    )


def _ohlcv(log_close: np.ndarray, rs: np.random.RandomState) -> pd.DataFrame:
    n = len(log_close)
    close = 100.0 * np.exp(log_close)
    open_ = np.r_[100.0, close[:-1]]
    high = np.maximum(open_, close) * (1.0 + np.abs(rs.normal(0.0, 0.003, n)))
    low = np.minimum(open_, close) * (1.0 - np.abs(rs.normal(0.0, 0.003, n)))
    volume = rs.lognormal(8.0, 0.6, n)
    return pd.DataFrame(
        {"open": open_, "high": high, "low": low, "close": close, "volume": volume},
        index=_index(n),
    )


def random_walk(seed: int, n: int = 360) -> pd.DataFrame:
    rs = np.random.RandomState(seed)
    return _ohlcv(np.cumsum(rs.normal(0.0, 0.012, n)), rs)


def trending_and_ranging(seed: int = 11, seg: int = 400) -> pd.DataFrame:
    """Up-trend / range / down-trend / range segments (3200 1h bars), as test_strategies."""
    rs = np.random.RandomState(seed)
    level, parts = 0.0, []
    for drift in (0.004, 0.0, -0.004, 0.0, 0.006, 0.0, -0.006, 0.0):
        if drift:
            x = level + np.cumsum(drift + rs.normal(0.0, 0.008, seg))
        else:
            x, cur = np.empty(seg), level
            for i in range(seg):
                cur += -0.05 * (cur - level) + rs.normal(0.0, 0.008)
                x[i] = cur
        parts.append(x)
        level = x[-1]
    return _ohlcv(np.concatenate(parts), rs)


MARKET = trending_and_ranging()


def where(sig: pd.Series) -> tuple[list[int], list[int]]:
    values = np.asarray(sig)
    return np.flatnonzero(values == 1).tolist(), np.flatnonzero(values == -1).tolist()


def run(name: str, df: pd.DataFrame, params: dict | None = None) -> pd.DataFrame:
    return registry.evaluate(name, df, params, MINE[name])


# ------------------------------------------------------------------ registration


def test_specs_match_catalogue() -> None:
    futures_only = ("perps", "futures")
    both = ("spot", "perps", "futures")
    expected = {
        "breakout": (
            {"lookback": 20, "atr_period": 14, "atr_multiplier": 1.5},
            futures_only,
            False,
            ["lookback > 0", "atr_period > 0"],
            "visible",
        ),
        "bear_pullback_st": (
            {
                "ema_short": 20,
                "ema_mid": 50,
                "ema_long": 200,
                "adx_period": 14,
                "adx_threshold": 20.0,
                "rsi_period": 14,
                "rsi_lower": 55.0,
                "rsi_upper": 65.0,
                "pullback_window": 5,
                "pullback_touch_buffer_pct": 0.001,
            },
            futures_only,
            True,
            [
                "ema_short > 0",
                "adx_period > 0",
                "rsi_period > 0",
                "pullback_window > 0",
                "ema_short < ema_mid",
                "ema_mid < ema_long",
                "rsi_lower < rsi_upper",
            ],
            "visible",
        ),
        "supertrend": (
            {"atr_period": 10, "multiplier": 3.0},
            both,
            False,
            ["atr_period > 0"],
            "deprecated",
        ),
        "ichimoku_cloud": (
            {"tenkan_period": 9, "kijun_period": 26, "senkou_b_period": 52},
            both,
            False,
            ["tenkan_period > 0", "kijun_period > 0", "senkou_b_period > 0"],
            "deprecated",
        ),
        "squeeze_momentum": (
            {"bb_period": 20, "bb_std": 2.0, "kc_period": 20, "kc_mult": 1.5, "mom_lookback": 12},
            both,
            False,
            ["bb_period > 0", "kc_period > 0", "mom_lookback > 0"],
            "deprecated",
        ),
        "atr_breakout": (
            {"atr_period": 14, "multiplier": 1.5},
            both,
            False,
            ["atr_period > 0"],
            "deprecated",
        ),
        "heikin_ashi_ema": (
            {"ema_period": 21, "confirmation": 2},
            both,
            False,
            ["ema_period > 0"],
            "deprecated",
        ),
        "parabolic_sar": (
            {"iaf": 0.02, "af_step": 0.02, "max_af": 0.2},
            both,
            False,
            [],
            "deprecated",
        ),
        "adx_trend": (
            {"adx_period": 14, "adx_threshold": 25},
            both,
            False,
            ["adx_period > 0"],
            "deprecated",
        ),
        "donchian_breakout": (
            {"entry_period": 20, "exit_period": 10},
            both,
            True,
            ["entry_period > 0", "exit_period > 0"],
            "hidden",
        ),
        "session_breakout": (
            {
                "session": "asian",
                "lookback": 1,
                "volume_threshold": 1.5,
                "vol_period": 20,
                "atr_period": 14,
                "atr_multiplier": 0.0,
            },
            futures_only,
            True,
            ["lookback > 0", "vol_period > 0", "atr_period > 0"],
            "hidden",
        ),
    }
    assert set(expected) == set(MINE)
    for name, (defaults, platforms, can_short, constraints, status) in expected.items():
        spec = registry.get(name, MINE[name])
        assert spec.default_params == defaults, name
        assert spec.platforms == platforms, name
        assert spec.can_short is can_short, name
        assert [c.expr for c in spec.constraints] == constraints, name
        assert spec.status == status, name
        assert not spec.needs_pair
    for name in ("breakout", "bear_pullback_st", "session_breakout"):
        assert name not in registry.names("spot")


def test_constraints_enforced() -> None:
    with pytest.raises(ValueError, match="constraint 'ema_mid < ema_long' violated"):
        run("bear_pullback_st", MARKET, {"ema_mid": 200})
    with pytest.raises(ValueError, match="constraint 'lookback > 0' violated"):
        run("breakout", MARKET, {"lookback": 0})
    with pytest.raises(ValueError, match="unknown session 'london'"):
        run("session_breakout", MARKET, {"session": "london"})


# ---------------------------------------------------------------- output contract


@pytest.mark.parametrize("name", sorted(MINE))
def test_output_contract_and_trades_on_market(name: str) -> None:
    out = run(name, MARKET)
    assert out["signal"].dtype == np.int64
    buys, sells = where(out["signal"])
    assert sells, name
    if name == "bear_pullback_st":
        assert not buys  # short-only
    else:
        assert buys, name


@pytest.mark.parametrize("name", sorted(MINE))
def test_tiny_frames_are_flat(name: str) -> None:
    for n in (1, 2, 3):
        assert (run(name, MARKET.iloc[:n])["signal"] == 0).all()


CLOSED_BAR_CASES = [(name, None) for name in sorted(MINE)] + [
    ("session_breakout", {"session": "us_open", "lookback": 3, "vol_period": 5}),
    ("session_breakout", {"session": "us_close", "atr_multiplier": 1.0, "vol_period": 5}),
    ("breakout", {"lookback": 3, "atr_period": 2, "atr_multiplier": 0.5}),
    (
        "bear_pullback_st",
        {"ema_short": 3, "ema_mid": 5, "ema_long": 8, "adx_period": 3, "rsi_period": 3},
    ),
    ("heikin_ashi_ema", {"ema_period": 3, "confirmation": 1}),
    ("squeeze_momentum", {"bb_period": 5, "kc_period": 5, "mom_lookback": 3}),
]


@pytest.mark.parametrize(("name", "params"), CLOSED_BAR_CASES)
@settings(max_examples=20, deadline=None)
@given(seed=st.integers(0, 2**31 - 1), k=st.integers(1, 360))
def test_closed_bar_contract(name: str, params: dict | None, seed: int, k: int) -> None:
    df = random_walk(seed)
    full = run(name, df, params)
    part = run(name, df.iloc[:k], params)
    pd.testing.assert_series_equal(part["signal"], full["signal"].iloc[:k])
    # Indicator columns are causal too (session levels included).
    pd.testing.assert_frame_equal(part, full.iloc[:k])


# ----------------------------------------------------------------------- breakout


def test_breakout_hand_example() -> None:
    #        0   1   2   3   4   5   6   7  8  9
    close = [10, 10, 10, 10, 10, 15, 16, 10, 4, 4]
    # TR: -, 1, 1, 1, 1, 5.5, 1.5, 6.5, 6.5, 1; ATR(2): -, -, 1, 1, 1, 3.25, 3.5, 4, 6.5, 3.75
    # high_roll(3) at 4 = 10.5 -> bar 5 breaks up on TR 5.5 > 3.25.
    # low_roll(3) at 7 = 9.5 -> bar 8 breaks down but TR 6.5 == ATR 6.5 (strict: no signal).
    params = {"lookback": 3, "atr_period": 2, "atr_multiplier": 1.0}
    out = run("breakout", bars(close), params)
    assert out["atr"].iloc[8] == 6.5 and out["low_roll"].iloc[7] == 9.5
    assert where(out["signal"]) == ([5], [])
    looser = run("breakout", bars(close), {**params, "atr_multiplier": 0.99})
    assert where(looser["signal"]) == ([5], [8])


def test_breakout_is_edge_triggered() -> None:
    # Bars 5 and 6 both break out with a wide bar (6.5 > 6.0 at bar 6): one signal.
    out = run(
        "breakout",
        bars([10, 10, 10, 10, 10, 15, 21]),
        {"lookback": 3, "atr_period": 2, "atr_multiplier": 1.0},
    )
    assert where(out["signal"]) == ([5], [])


def test_breakout_no_signal_from_warmup_bar() -> None:
    # Bar 3 is the first bar with high_roll[i-1] and ATR: upstream would fire there
    # (the previous bar counts as false); we need the previous bar valid too.
    out = run("breakout", bars([10, 10, 10, 20]), {"lookback": 3, "atr_period": 2})
    assert out["atr"].notna().iloc[3] and where(out["signal"]) == ([], [])


def test_atr_rounding_rule() -> None:
    atr = pd.Series([99.5, 100.5, 101.5, 250.25, np.nan])
    np.testing.assert_array_equal(common.round_large_atr(atr), [99.5, 100.0, 102.0, 250.0, np.nan])
    big = bars(np.linspace(10_000, 12_000, 40), spread=60.3)
    out = run("breakout", big)
    raw = ind.atr(big, 14, "simple")
    assert out["atr"].iloc[-1] == np.round(raw.iloc[-1]) != raw.iloc[-1]
    assert run("atr_breakout", big)["atr"].iloc[-1] == out["atr"].iloc[-1]


# ------------------------------------------------------------------- atr_breakout


def test_atr_breakout_hand_example() -> None:
    # TR: -, 1, 1, 1, 3.5, 1, 6.5; ATR(2): -, -, 1, 1, 2.25, 2.25, 3.75
    # upper = prev close + ATR: 11, 11, 12.25 (bar 4: 13 > 12.25, prev 10 <= 11 -> +1)
    # lower at 6 = 13 - 3.75 = 9.25 (7 < 9.25, prev 13 >= 10.75 -> -1)
    out = run("atr_breakout", bars([10, 10, 10, 10, 13, 13, 7]), {"atr_period": 2, "multiplier": 1})
    np.testing.assert_allclose(out["atr"].iloc[2:], [1, 1, 2.25, 2.25, 3.75])
    assert where(out["signal"]) == ([4], [6])


# -------------------------------------------------------------- donchian_breakout


def test_donchian_hand_example() -> None:
    #        0   1   2   3   4   5  6  7
    close = [10, 10, 10, 10, 11, 12, 9, 8]
    # upper(3) excl. current: bar 4 = 10.5 (11 crosses), bar 5 = 11.5 (12 > 11.5 but prev
    # 11 > 10.5 already above: no cross). lower at 6 = 9.5 (9 crosses); at 7 = 8.5, prev 9
    # was already below 9.5: no cross.
    out = run("donchian_breakout", bars(close), {"entry_period": 3, "exit_period": 2})
    assert where(out["signal"]) == ([4], [6])
    assert out["donchian_upper"].iloc[:3].isna().all() and out["donchian_upper"].iloc[3] == 10.5
    assert out["donchian_exit_upper"].iloc[2] == 10.5  # display-only exit channel
    # Close exactly on the channel is not a break.
    assert where(
        run("donchian_breakout", bars([10, 10, 10, 10, 10.5]), {"entry_period": 3})["signal"]
    ) == ([], [])


# --------------------------------------------------------------------- supertrend


THREE_LEGS = np.concatenate(
    [np.linspace(100, 200, 100), np.linspace(200, 120, 100), np.linspace(120, 220, 100)]
)


def test_supertrend_upstream_example(monkeypatch: pytest.MonkeyPatch) -> None:
    """Upstream's own test path: buys 14 and 204, sell 106, 9 NaN warm-up bars.

    With upstream's ATR (TR[0] = H-L, so ATR starts a bar earlier) we reproduce that
    exactly; with ours the first flip comes one bar later.
    """
    df = bars(THREE_LEGS)
    out = run("supertrend", df)
    assert where(out["signal"]) == ([15, 204], [106])
    assert out["supertrend"].isna().sum() == 10

    def upstream_atr(frame: pd.DataFrame, period: int, method: str = "simple") -> pd.Series:
        tr = ind.true_range(frame).fillna(frame["high"] - frame["low"])
        return tr.rolling(period).mean()

    monkeypatch.setattr(trend.ind, "atr", upstream_atr)
    out = run("supertrend", df)
    assert where(out["signal"]) == ([14, 204], [106])
    assert out["supertrend"].isna().sum() == 9
    assert set(out["st_direction"].iloc[:10]) == {0.0}


def test_supertrend_line_is_the_active_band() -> None:
    out = run("supertrend", bars(THREE_LEGS))
    up = out["st_direction"] == 1
    assert (out["supertrend"][up] < THREE_LEGS[up.to_numpy()]).all()
    down = out["st_direction"] == -1
    assert (out["supertrend"][down] > THREE_LEGS[down.to_numpy()]).all()


# ------------------------------------------------------------------ parabolic_sar


def test_parabolic_sar_hand_example() -> None:
    high = [10, 11, 12, 11, 13, 13.5]
    low = [9, 10, 11, 8.5, 10, 12]
    df = bars(np.array(low) + 0.5, high=high, low=low)
    out = run("parabolic_sar", df)
    # bar 3: cand 9.18 (< lows 11, 10) and low 8.5 < 9.18 -> reverse down, sar = ep 12
    # bar 4: cand 11.93 raised to max(highs 11, 12) = 12; high 13 > 12 -> reverse up, sar 8.5
    np.testing.assert_allclose(out["sar"], [9, 9, 9, 12, 8.5, 8.5])
    assert where(out["signal"]) == ([4], [3])
    one = run("parabolic_sar", df.iloc[:1])
    # Upstream reports NaN for a one-bar frame; we keep sar[0] = low[0] (causal column).
    assert one["sar"].tolist() == [9.0] and where(one["signal"]) == ([], [])


def test_parabolic_sar_af_caps_at_max() -> None:
    df = bars(np.arange(1.0, 40.0))  # new high every bar, never reverses
    out = run("parabolic_sar", df, {"iaf": 0.1, "af_step": 0.1, "max_af": 0.3})
    assert where(out["signal"]) == ([], [])
    sar, high = out["sar"].to_numpy(), df["high"].to_numpy()
    # once af is capped: sar[i] = sar[i-1] + 0.3 * (high[i-1] - sar[i-1]) (below the lows)
    for i in range(8, len(df)):
        expected = min(sar[i - 1] + 0.3 * (high[i - 1] - sar[i - 1]), df["low"].iloc[i - 1])
        assert sar[i] == pytest.approx(expected)


# ----------------------------------------------------------------- ichimoku_cloud


def test_ichimoku_hand_example() -> None:
    close = [14, 13, 12, 11, 12, 13]
    params = {"tenkan_period": 2, "kijun_period": 3, "senkou_b_period": 4}
    out = run("ichimoku_cloud", bars(close), params)
    # tenkan/kijun: bar 3 11.5 < 12, bar 4 11.5 == 11.5 (tie: not above), bar 5 12.5 > 12.
    np.testing.assert_allclose(out["tenkan"].iloc[3:], [11.5, 11.5, 12.5])
    np.testing.assert_allclose(out["kijun"].iloc[3:], [12, 11.5, 12])
    # bar 5: senkou_a 12.25, senkou_b 12 -> close 13 above the cloud, and 13 > close[2] 12
    assert out["senkou_a"].iloc[5] == 12.25 and out["senkou_b"].iloc[5] == 12
    assert where(out["signal"]) == ([5], [])
    # Mirror image sells on the same bar.
    mirrored = run("ichimoku_cloud", bars(30 - np.array(close, float)), params)
    assert where(mirrored["signal"]) == ([], [5])


def _mid(h: np.ndarray, lo: np.ndarray, i: int, n: int) -> float:
    return np.nan if i < n - 1 else (h[i - n + 1 : i + 1].max() + lo[i - n + 1 : i + 1].min()) / 2


def test_ichimoku_matches_reference_loop() -> None:
    h, lo, c = MARKET["high"].to_numpy(), MARKET["low"].to_numpy(), MARKET["close"].to_numpy()

    def mid(i: int, n: int) -> float:
        return _mid(h, lo, i, n)

    for params in ({}, {"tenkan_period": 3, "kijun_period": 7, "senkou_b_period": 12}):
        out = run("ichimoku_cloud", MARKET, params)
        p = {**registry.get("ichimoku_cloud").default_params, **params}
        expected = np.zeros(len(c), dtype=int)
        kp = p["kijun_period"]
        for i in range(kp, len(c)):
            t, k = mid(i, p["tenkan_period"]), mid(i, kp)
            t0, k0 = mid(i - 1, p["tenkan_period"]), mid(i - 1, kp)
            a, b = (t + k) / 2, mid(i, p["senkou_b_period"])
            if np.isnan(a) or np.isnan(b) or np.isnan(k0):
                continue
            if c[i] > max(a, b) and t > k and t0 <= k0 and c[i] > c[i - kp]:
                expected[i] = 1
            if c[i] < min(a, b) and t < k and t0 >= k0 and c[i] < c[i - kp]:
                expected[i] = -1
        np.testing.assert_array_equal(out["signal"].to_numpy(), expected)
        assert (expected != 0).any()


# --------------------------------------------------------------- squeeze_momentum


SQUEEZE = {"bb_period": 3, "kc_period": 3, "mom_lookback": 2}


def test_squeeze_release_hand_example() -> None:
    # Close flat at 10 with H/L = C +/- 1: BB width 0 inside Keltner 10 +/- 3 -> squeeze on
    # (from bar 3, the first bar with ATR). A jump to 20 at bar 8: BB upper 24.88 > KC
    # upper 22.5 -> squeeze off; momentum 5.83 > 0 and rising from 0 -> +1.
    flat = [10.0] * 8
    out = run("squeeze_momentum", bars([*flat, 20], spread=1.0), SQUEEZE)
    assert out["squeeze_on"].tolist() == [0, 0, 0, 1, 1, 1, 1, 1, 0]
    assert out["squeeze_mom"].iloc[8] == pytest.approx(20 - (15 + 40 / 3) / 2)
    assert where(out["signal"]) == ([8], [])
    # Mirror image: -1.
    assert where(run("squeeze_momentum", bars([*flat, 0], spread=1.0), SQUEEZE)["signal"]) == (
        [],
        [8],
    )
    # A jump to 12 keeps the bands inside Keltner: no release, no signal.
    small = run("squeeze_momentum", bars([*flat, 12], spread=1.0), SQUEEZE)
    assert small["squeeze_on"].iloc[8] == 1 and where(small["signal"]) == ([], [])


def test_squeeze_uses_sample_std(monkeypatch: pytest.MonkeyPatch) -> None:
    seen = []
    real = ind.bollinger

    def spy(*args: object, **kwargs: object) -> pd.DataFrame:
        seen.append(kwargs.get("ddof"))
        return real(*args, **kwargs)

    monkeypatch.setattr(trend.ind, "bollinger", spy)
    run("squeeze_momentum", MARKET.iloc[:50])
    assert seen == [1]


def test_linreg_end_matches_polyfit() -> None:
    x = MARKET["close"].iloc[:60].diff()
    got = common.linreg_end(x, 12)
    assert got.iloc[:12].isna().all()  # the window containing bar 0's NaN delta
    for i in range(12, 60):
        window = x.iloc[i - 11 : i + 1].to_numpy()
        slope, intercept = np.polyfit(np.arange(12), window, 1)
        assert got.iloc[i] == pytest.approx(slope * 11 + intercept, rel=1e-9, abs=1e-9)


# ---------------------------------------------------------------- heikin_ashi_ema


def test_heikin_ashi_candles() -> None:
    df = bars([10, 11, 12], spread=1.0)
    df["open"] = [9.0, 10.0, 11.0]
    ha_open, ha_close, ha_high, ha_low = trend._heikin_ashi(df)
    np.testing.assert_allclose(ha_close, [9.75, 10.75, 11.75])
    np.testing.assert_allclose(ha_open, [9.75, 9.75, 10.25])  # ha_open[0] = ha_close[0]
    np.testing.assert_allclose(ha_high, [11, 12, 13])
    np.testing.assert_allclose(ha_low, [9, 9.75, 10.25])


def test_heikin_ashi_ema_hand_example() -> None:
    # Steady climb of 1 per bar with H/L = C +/- 0.5: from bar 2 ha_open sits below the
    # low, so ha_low == ha_open (no lower shadow) and the candles are bullish.
    close = np.r_[np.arange(10.0, 20.0), np.arange(19.0, 9.0, -1.0)]
    params = {"ema_period": 3, "confirmation": 2}
    out = run("heikin_ashi_ema", bars(close), params)
    bull = out["ha_bullish"].to_numpy()
    assert bull[0] == 0 and bull[2:10].all()
    # ha_ema first exists at bar 2; buy is already true there, so the first edge we can
    # see is not at bar 2 (warm-up) -- upstream (EMA without warm-up) fires at bar 2.
    buys, sells = where(out["signal"])
    assert buys == [] and sells
    first_bear = int(np.flatnonzero(out["ha_bearish"].to_numpy())[0])
    assert sells[0] == first_bear + 1  # two bearish candles in a row, below the EMA
    # With confirmation 1 the sell comes one bar earlier.
    one = run("heikin_ashi_ema", bars(close), {"ema_period": 3, "confirmation": 1})
    assert where(one["signal"])[1][0] == first_bear


def test_heikin_ashi_ema_matches_reference_loop() -> None:
    out = run("heikin_ashi_ema", MARKET)
    o, c = out["ha_open"].to_numpy(), out["ha_close"].to_numpy()
    hi, lo, e = out["ha_high"].to_numpy(), out["ha_low"].to_numpy(), out["ha_ema"].to_numpy()
    bull = (c > o) & (lo == o)
    bear = (c < o) & (hi == o)
    buy = np.zeros(len(c), bool)
    sell = np.zeros(len(c), bool)
    for i in range(1, len(c)):
        buy[i] = bull[i] and bull[i - 1] and c[i] > e[i]
        sell[i] = bear[i] and bear[i - 1] and c[i] < e[i]
    expected = np.zeros(len(c), int)
    for i in range(1, len(c)):
        if np.isnan(e[i - 1]):
            continue
        if buy[i] and not buy[i - 1]:
            expected[i] = 1
        if sell[i] and not sell[i - 1]:
            expected[i] = -1
    np.testing.assert_array_equal(out["signal"].to_numpy(), expected)


# ---------------------------------------------------------------------- adx_trend


def _adx_reference(df: pd.DataFrame, p: int, threshold: float) -> np.ndarray:
    a = ind.adx(df, p)
    plus, minus, adx = a["plus_di"].to_numpy(), a["minus_di"].to_numpy(), a["adx"].to_numpy()
    out = np.zeros(len(df), int)
    if len(df) < 2 * p + 1:
        return out
    for i in range(2 * p, len(df)):
        if not adx[i] > threshold:
            continue
        bull, was = plus[i] > minus[i], plus[i - 1] > minus[i - 1]
        out[i] = 1 if bull and not was else (-1 if was and not bull else 0)
    return out


def test_adx_trend_matches_reference_loop() -> None:
    for params in ({}, {"adx_period": 5, "adx_threshold": 20}):
        p = {**registry.get("adx_trend").default_params, **params}
        for df in (MARKET, random_walk(5)):
            out = run("adx_trend", df, params)
            expected = _adx_reference(df, p["adx_period"], p["adx_threshold"])
            np.testing.assert_array_equal(out["signal"].to_numpy(), expected)
    assert (run("adx_trend", MARKET)["signal"] != 0).sum() > 5


def test_adx_trend_equal_di_is_not_bull() -> None:
    # Flat bars: +DI == -DI == 0, never bull, never a flip.
    out = run("adx_trend", bars([10.0] * 40), {"adx_period": 3, "adx_threshold": -1})
    assert where(out["signal"]) == ([], [])
    # Fall (to bar 10), rise (to bar 20), fall: the first up bar is 11 (+DI 22.4 < -DI
    # 44.3), +DI takes over on bar 12 (37.3 > 29.4); the first down bar is 21 (43.7 >
    # 23.0), -DI takes over on bar 22 (29.1 < 37.6).
    close = np.r_[np.arange(20.0, 10.0, -1), np.arange(10.0, 20.0), np.arange(20.0, 10.0, -1)]
    out = run("adx_trend", bars(close), {"adx_period": 3, "adx_threshold": -1})
    assert where(out["signal"]) == ([12], [22])
    # ADX (55.6 on bar 12, 50.7 on bar 22) must exceed the threshold.
    gated = run("adx_trend", bars(close), {"adx_period": 3, "adx_threshold": 52})
    assert where(gated["signal"]) == ([12], [])


# ------------------------------------------------------------------- bear_pullback_st


SMALL_BEAR = {
    "ema_short": 3,
    "ema_mid": 5,
    "ema_long": 8,
    "adx_period": 3,
    "adx_threshold": 10.0,
    "rsi_period": 3,
    "rsi_lower": 40.0,
    "rsi_upper": 70.0,
    "pullback_window": 3,
}


def _bear_reference(df: pd.DataFrame, p: dict) -> np.ndarray:
    c, h, lo = df["close"].to_numpy(), df["high"].to_numpy(), df["low"].to_numpy()
    es = ind.ema(df["close"], p["ema_short"]).to_numpy()
    em = ind.ema(df["close"], p["ema_mid"]).to_numpy()
    el = ind.ema(df["close"], p["ema_long"]).to_numpy()
    adx = ind.adx(df, p["adx_period"])["adx"].to_numpy()
    rsi = ind.rsi(df["close"], p["rsi_period"]).to_numpy()
    buf = 1 + p["pullback_touch_buffer_pct"]
    w = p["pullback_window"]
    min_len = max(p["ema_long"], 2 * p["adx_period"], p["rsi_period"]) + w + 2
    out = np.zeros(len(c), int)
    for i in range(max(min_len - 1, w), len(c)):
        touched = any(h[j] > es[j] * buf or h[j] > em[j] * buf for j in range(i - w, i))
        in_band = any(p["rsi_lower"] <= rsi[j] <= p["rsi_upper"] for j in range(i - w, i))
        trigger = (c[i] < es[i] and c[i - 1] >= es[i - 1]) or c[i] < lo[i - 1]
        if (
            em[i] < el[i]
            and adx[i] > p["adx_threshold"]
            and touched
            and in_band
            and trigger
            and c[i] < es[i]
        ):
            out[i] = -1
    return out


def test_bear_pullback_matches_reference_loop() -> None:
    cases = [({}, MARKET), (SMALL_BEAR, MARKET)] + [(SMALL_BEAR, random_walk(s)) for s in range(4)]
    total = 0
    for params, df in cases:
        p = {**registry.get("bear_pullback_st", "futures").default_params, **params}
        got = run("bear_pullback_st", df, params)["signal"].to_numpy()
        np.testing.assert_array_equal(got, _bear_reference(df, p))
        total += (got == -1).sum()
    assert total > 20


def test_bear_pullback_minimum_length_per_bar() -> None:
    # min length = max(8, 6, 3) + 3 + 2 = 13 -> no signal before bar 12, even where the
    # conditions already hold (upstream returns all zeros for a frame shorter than 13).
    df = random_walk(1)
    full = run("bear_pullback_st", df, SMALL_BEAR)
    loose = _bear_reference(df, {**SMALL_BEAR, "pullback_touch_buffer_pct": 0.001, "ema_long": 8})
    np.testing.assert_array_equal(full["signal"].to_numpy(), loose)
    assert (full["signal"].iloc[:12] == 0).all()
    assert run("bear_pullback_st", df.iloc[:200])["signal"].eq(0).all()  # defaults: 207


def test_bear_pullback_hand_scenario() -> None:
    # Down-trend to 100, a bounce (103, 106) that pokes above EMA(short) with RSI 59-78 in
    # band, then 103.5 closes under the previous low (105.7) and under EMA(short) 103.76
    # while EMA(mid) 103.56 < EMA(long) 103.92 and ADX 47 > 10: -1 on bar 32, and again on
    # 33 and 34 (level-triggered: each closes under the previous low).
    close = np.r_[np.linspace(130, 100, 30), [103, 106, 103.5, 99, 97]]
    df = bars(close, spread=0.3)
    params = {**SMALL_BEAR, "rsi_lower": 30.0, "rsi_upper": 80.0}
    out = run("bear_pullback_st", df, params)
    p = {**registry.get("bear_pullback_st", "futures").default_params, **params}
    np.testing.assert_array_equal(out["signal"].to_numpy(), _bear_reference(df, p))
    assert where(out["signal"]) == ([], [32, 33, 34])
    assert out["ema_short"].iloc[32] == pytest.approx(103.76, abs=0.01)
    # No touch of the EMAs in the prior window (huge buffer) -> nothing.
    far = run("bear_pullback_st", df, {**params, "pullback_touch_buffer_pct": 0.5})
    assert where(far["signal"]) == ([], [])
    # ADX threshold above the ADX -> nothing.
    weak = run("bear_pullback_st", df, {**params, "adx_threshold": 80.0})
    assert where(weak["signal"]) == ([], [])


# ---------------------------------------------------------------- session_breakout


def _session_day(n_days: int = 2) -> pd.DataFrame:
    n = 24 * n_days
    close = np.full(n, 10.0)
    return pd.DataFrame(
        {"open": close, "high": close + 0.5, "low": close - 0.5, "close": close, "volume": 1.0},
        index=_index(n),
    )


SESSION = {"vol_period": 3, "volume_threshold": 1.5}


def test_session_breakout_hand_example() -> None:
    df = _session_day()
    df.loc[df.index[9], ["close", "high", "volume"]] = [11.0, 11.5, 10.0]  # day 1, 09:00
    df.loc[df.index[10], ["close", "high"]] = [11.0, 11.5]  # still above, quiet volume
    df.loc[df.index[34], ["close", "low", "volume"]] = [9.0, 8.5, 10.0]  # day 2, 10:00
    out = run("session_breakout", df, SESSION)
    assert where(out["signal"]) == ([9], [34])
    assert out["session_high"].iloc[9] == 10.5 and out["session_low"].iloc[34] == 9.5
    # Volume exactly at the threshold is not "high" (strict >): SMA(3) = 4/3, 1.5 * 4/3 = 2.
    df.loc[df.index[9], "volume"] = 2.0
    assert where(run("session_breakout", df, SESSION)["signal"]) == ([], [34])


def test_session_breakout_waits_for_session_end() -> None:
    df = _session_day()
    # us_open is 13:00-15:00: a high-volume break at 14:00 (inside) would raise the session
    # high anyway; at 15:00 (first bar after) it fires.
    df.loc[df.index[15], ["close", "high", "volume"]] = [11.0, 11.5, 10.0]
    out = run("session_breakout", df, {**SESSION, "session": "us_open"})
    assert where(out["signal"]) == ([15], [])
    assert out["session_high"].iloc[:13].isna().all()  # causal: no session bar yet today
    assert out["session_high"].iloc[13] == 10.5


def test_session_breakout_lookback_spans_session_dates() -> None:
    df = _session_day(3)
    df.loc[df.index[3], "high"] = 12.0  # day 1 session high 12
    df.loc[df.index[33], ["close", "high", "volume"]] = [11.0, 11.5, 10.0]  # day 2, 09:00
    one = run("session_breakout", df, SESSION)
    two = run("session_breakout", df, {**SESSION, "lookback": 2})
    assert where(one["signal"]) == ([33], [])
    assert where(two["signal"]) == ([], [])  # 11 is not above the 2-day high 12
    assert two["session_high"].iloc[33] == 12.0 and two["session_high"].iloc[57] == 10.5


def test_session_breakout_atr_filter_and_plain_index() -> None:
    df = _session_day()
    df.loc[df.index[9], ["close", "high", "volume"]] = [11.0, 11.5, 10.0]
    # TR at bar 9 = 1.5, ATR(3) = (1 + 1 + 1.5) / 3; 1.5 > 1.1667 * 1 but not > * 2.
    loose = {**SESSION, "atr_period": 3, "atr_multiplier": 1.0}
    assert where(run("session_breakout", df, loose)["signal"]) == ([9], [])
    tight = {**loose, "atr_multiplier": 2.0}
    assert where(run("session_breakout", df, tight)["signal"]) == ([], [])
    plain = df.reset_index(drop=True)
    out = registry.evaluate("session_breakout", plain, SESSION, "futures")
    assert (out["signal"] == 0).all() and out["session_high"].isna().all()
