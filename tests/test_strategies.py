"""shared_strategies.open.registry and the classic spot strategies."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
from expectations import LONG_ONLY_ON_SPOT, RARELY_OR_NEVER
from hypothesis import given, settings
from hypothesis import strategies as st

from shared_strategies.open import registry
from shared_strategies.open.registry import UnknownStrategyError

EXPECTED = [
    "sma_crossover",
    "ema_crossover",
    "rsi",
    "bollinger_bands",
    "macd",
    "mean_reversion",
    "momentum",
    "volume_weighted",
    "triple_ema",
    "tema_cross",
    "rsi_macd_combo",
    "stoch_rsi",
    "pairs_spread",
]  # the classic family (spot_classic.py), in registration order
FUTURES_CLASSIC = [
    *EXPECTED[:9],
    "triple_ema_bidir",
    "tema_cross",
    "tema_cross_bd",
    *EXPECTED[10:12],
]
ALL = registry.names("spot")


def _classic(names: list[str]) -> list[str]:
    """``names`` restricted to the classic family (other modules register more)."""
    family = set(EXPECTED) | set(FUTURES_CLASSIC)
    return [n for n in names if n in family]


def _index(n: int) -> pd.DatetimeIndex:
    return pd.date_range("2024-01-01", periods=n, freq="h", tz="UTC")


def _ohlcv_from_log_close(log_close: np.ndarray, rs: np.random.RandomState) -> pd.DataFrame:
    n = len(log_close)
    close = 100.0 * np.exp(log_close)
    open_ = np.r_[100.0, close[:-1]]
    high = np.maximum(open_, close) * (1.0 + np.abs(rs.normal(0.0, 0.003, n)))
    low = np.minimum(open_, close) * (1.0 - np.abs(rs.normal(0.0, 0.003, n)))
    volume = rs.lognormal(8.0, 0.6, n)
    spread = np.zeros(n)  # mean-reverting log spread to the paired symbol
    for i in range(1, n):
        spread[i] = 0.9 * spread[i - 1] + rs.normal(0.0, 0.01)
    return pd.DataFrame(
        {
            "open": open_,
            "high": high,
            "low": low,
            "close": close,
            "volume": volume,
            "close_b": close * np.exp(-spread),
        },
        index=_index(n),
    )


def random_walk(seed: int, n: int = 360) -> pd.DataFrame:
    rs = np.random.RandomState(seed)
    return _ohlcv_from_log_close(np.cumsum(rs.normal(0.0, 0.012, n)), rs)


def trending_and_ranging(seed: int = 11, seg: int = 400) -> pd.DataFrame:
    """Alternating up-trend / range / down-trend / range segments (3200 bars)."""
    rs = np.random.RandomState(seed)
    level, parts = 0.0, []
    for drift in (0.004, 0.0, -0.004, 0.0, 0.006, 0.0, -0.006, 0.0):
        if drift:
            x = level + np.cumsum(drift + rs.normal(0.0, 0.008, seg))
        else:  # Ornstein-Uhlenbeck around the current level
            x, cur = np.empty(seg), level
            for i in range(seg):
                cur += -0.05 * (cur - level) + rs.normal(0.0, 0.008)
                x[i] = cur
        parts.append(x)
        level = x[-1]
    return _ohlcv_from_log_close(np.concatenate(parts), rs)


def frame(close, volume=None, close_b=None) -> pd.DataFrame:
    """Tiny hand-made frame: only the columns the strategies read."""
    close = np.asarray(close, dtype=float)
    data = {"close": close, "volume": np.ones(len(close)) if volume is None else volume}
    if close_b is not None:
        data["close_b"] = close_b
    return pd.DataFrame(data, index=_index(len(close))).astype(float)


def where(sig: pd.Series) -> tuple[list[int], list[int]]:
    values = sig.to_numpy()
    return np.flatnonzero(values == 1).tolist(), np.flatnonzero(values == -1).tolist()


MARKET = trending_and_ranging()


# --------------------------------------------------------------------- registry


def test_all_eleven_registered_in_order() -> None:
    assert _classic(ALL) == EXPECTED
    assert _classic(registry.names("perps")) == FUTURES_CLASSIC
    assert _classic(registry.names("futures")) == FUTURES_CLASSIC
    assert registry.names("options") == []


def test_spec_fields() -> None:
    spec = registry.get("pairs_spread")
    assert isinstance(spec, registry.StrategySpec)
    assert spec.short_name == "ps" and spec.needs_pair and spec.platforms == ("spot",)
    assert spec.default_params == {"lookback": 30, "entry_z": 2.0, "exit_z": 0.5}
    combo = registry.get("rsi_macd_combo").default_params
    assert combo["rsi_oversold"] == 35 and combo["rsi_overbought"] == 65  # upstream's dead params
    short_names = [registry.get(n).short_name for n in ALL]
    assert len(set(short_names)) == len(short_names)


def test_platform_variant_defaults() -> None:
    assert registry.get("momentum").default_params == {"roc_period": 14, "threshold": 5.0}
    for platform in ("perps", "futures"):
        assert registry.get("momentum", platform).default_params["threshold"] == 3.0
        assert registry.merged_params("momentum", platform=platform)["threshold"] == 3.0
    assert registry.merged_params("momentum", {"threshold": 4}, "perps")["threshold"] == 4.0
    # get() hands out copies: mutating one cannot corrupt the registry
    registry.get("momentum").default_params["threshold"] = 99.0
    assert registry.get("momentum").default_params["threshold"] == 5.0


def test_unknown_strategy() -> None:
    with pytest.raises(UnknownStrategyError, match="unknown strategy 'foo' for platform spot") as e:
        registry.get("foo")
    assert "(known: " in str(e.value) and "sma_crossover, ema_crossover, rsi," in str(e.value)
    assert isinstance(e.value, ValueError)
    with pytest.raises(UnknownStrategyError, match="'pairs_spread' for platform perps"):
        registry.signals("pairs_spread", MARKET, platform="perps")


def test_merged_params() -> None:
    merged = registry.merged_params("sma_crossover", {"fast_period": 5})
    assert merged == {"fast_period": 5, "slow_period": 50}
    # JSON-style numbers are coerced to the default's type
    merged = registry.merged_params("rsi", {"period": 10.0, "oversold": 25})
    assert merged == {"period": 10, "overbought": 70.0, "oversold": 25.0}
    assert isinstance(merged["period"], int) and isinstance(merged["oversold"], float)
    with pytest.raises(ValueError, match="must be an integer"):
        registry.merged_params("rsi", {"period": 10.5})


def test_merged_params_rejects_unknown_key() -> None:
    with pytest.raises(ValueError, match="'oversold'") as e:
        registry.merged_params("rsi_macd_combo", {"oversold": 30})
    assert "rsi_long_max" in str(e.value)  # lists the valid keys
    with pytest.raises(ValueError, match="'bogus'"):
        registry.signals("sma_crossover", MARKET, {"bogus": 1})


def test_duplicate_registration_rejected() -> None:
    with pytest.raises(ValueError, match="already registered"):
        registry.register("rsi", short="x", description="x", defaults={})
    assert registry.names() == ALL


def test_variant_cannot_invent_params() -> None:
    with pytest.raises(ValueError, match="unknown params"):
        registry.register(
            "never_registered",
            short="nr",
            description="x",
            defaults={"a": 1},
            variants={"perps": {"b": 2}},
        )
    assert "never_registered" not in registry.names()


def test_list_json_function() -> None:
    rows = registry.list_json(include_all=True)
    assert _classic([r["id"] for r in rows]) == [*FUTURES_CLASSIC, "pairs_spread"]
    keys = {"id", "short_name", "description", "platforms", "default_params"}
    assert all(
        set(r) == keys | {"can_short", "needs_pair", "constraints", "status", "ranges"}
        for r in rows
    )
    perps = {r["id"]: r for r in registry.list_json("perps", include_all=True)}
    assert "pairs_spread" not in perps and perps["momentum"]["default_params"]["threshold"] == 3.0


def test_list_json_cli() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "shared_strategies.open.registry", "--list-json", "--all"],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    rows = json.loads(proc.stdout)  # the whole stdout is one JSON document
    assert isinstance(rows, list) and _classic([r["id"] for r in rows]) == [
        *FUTURES_CLASSIC,
        "pairs_spread",
    ]
    by_id = {r["id"]: r for r in rows}
    assert by_id["sma_crossover"]["default_params"] == {"fast_period": 20, "slow_period": 50}
    assert by_id["momentum"]["default_params"] == {"roc_period": 14, "threshold": 5.0}
    assert by_id["pairs_spread"]["needs_pair"] is True
    for row in rows:
        if "spot" in row["platforms"]:
            assert row["default_params"] == registry.get(row["id"]).default_params

    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "shared_strategies.open.registry",
            "--list-json",
            "--platform",
            "perps",
            "--all",
        ],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    rows = json.loads(proc.stdout)
    assert _classic([r["id"] for r in rows]) == FUTURES_CLASSIC


# ------------------------------------------------------------ output contract


@pytest.mark.parametrize("name", ALL)
def test_output_shape_and_types(name: str) -> None:
    df = MARKET.copy()
    out = registry.evaluate(name, df)
    pd.testing.assert_frame_equal(df, MARKET)  # input not mutated
    assert out.index.equals(MARKET.index)
    assert out["signal"].dtype == np.int64
    assert set(out["signal"].unique()) <= {-1, 0, 1}
    indicators = [c for c in out.columns if c != "signal"]
    assert indicators or name == "hold"  # hold reports nothing, as upstream
    assert all(out[c].dtype == np.float64 for c in indicators)
    sig = registry.signals(name, df)
    assert sig.dtype == np.int64
    pd.testing.assert_series_equal(sig, out["signal"])


@pytest.mark.parametrize("name", ALL)
def test_emits_both_directions_on_trending_and_ranging_market(name: str) -> None:
    sig = registry.signals(name, MARKET)
    if name == "hold":
        assert not sig.any()
    elif name in RARELY_OR_NEVER:
        pytest.skip(f"{name}: {RARELY_OR_NEVER[name]} (rules pinned in its family's tests)")
    elif name in LONG_ONLY_ON_SPOT:
        assert (sig == 1).any() and not (sig == -1).any()
    else:
        assert (sig == 1).any() and (sig == -1).any()


@pytest.mark.parametrize("name", ALL)
def test_warmup_rows_are_flat(name: str) -> None:
    """Fewer bars than any indicator needs -> all NaN indicators and no signal."""
    out = registry.evaluate(name, MARKET.iloc[:3])
    assert (out["signal"] == 0).all()


@pytest.mark.parametrize("name", ALL)
@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**31 - 1), k=st.integers(1, 360))
def test_closed_bar_contract(name: str, seed: int, k: int) -> None:
    """Appending bars never changes an earlier signal."""
    df = random_walk(seed)
    full = registry.signals(name, df)
    pd.testing.assert_series_equal(registry.signals(name, df.iloc[:k]), full.iloc[:k])


# ---------------------------------------------------- hand-checked examples


def test_sma_crossover_hand_example() -> None:
    # idx:    0  1  2  3  4  5  6  7  8  9 10 11 12
    close = [5, 4, 3, 2, 1, 2, 3, 4, 5, 4, 3, 2, 1]
    # SMA2 at 5,6 = 1.5, 2.5 vs SMA3 = 1.67, 2.0 -> crosses up at 6;
    # SMA2 at 9,10 = 4.5, 3.5 vs SMA3 = 4.33, 4.0 -> crosses down at 10.
    sig = registry.signals("sma_crossover", frame(close), {"fast_period": 2, "slow_period": 3})
    assert where(sig) == ([6], [10])


TREND_JUMP_DROP = np.r_[np.arange(20.0, 10.0, -1.0), [30.0] * 5, [5.0] * 5]


def test_ema_family_hand_example() -> None:
    # Down-trend (fast below slow), jump at bar 10, crash at bar 15.
    df = frame(TREND_JUMP_DROP)
    assert where(registry.signals("ema_crossover", df, {"fast_period": 2, "slow_period": 4})) == (
        [10],
        [15],
    )
    tema = registry.signals(
        "triple_ema", df, {"short_period": 2, "mid_period": 3, "long_period": 4}
    )
    assert where(tema) == ([10], [15])
    # MACD line jumps above its lagging signal at 10, decays below it at 12 while
    # price is flat, and after the crash recovers above it at 17.
    macd = registry.signals("macd", df, {"fast_period": 2, "slow_period": 4, "signal_period": 2})
    assert where(macd) == ([10, 17], [12])


def test_rsi_macd_combo_filters_macd_crosses_by_rsi() -> None:
    df = frame(TREND_JUMP_DROP)
    params = {"rsi_period": 2, "macd_fast": 2, "macd_slow": 4, "macd_signal": 2}
    # RSI is 100 after the jump (bar 10: bullish cross blocked, bar 12: bearish cross
    # allowed) and 0 after the crash (bar 17: bullish cross allowed).
    assert where(registry.signals("rsi_macd_combo", df, params)) == ([17], [12])
    unfiltered = {**params, "rsi_long_max": 101, "rsi_short_min": -1}
    assert where(registry.signals("rsi_macd_combo", df, unfiltered)) == ([10, 17], [12])


def test_rsi_macd_combo_consistent_with_parts() -> None:
    out = registry.evaluate("rsi_macd_combo", MARKET)
    cross = registry.signals("macd", MARKET)
    expected = ((cross == 1) & (out["rsi"] < 50)).astype(int) - (
        (cross == -1) & (out["rsi"] > 50)
    ).astype(int)
    np.testing.assert_array_equal(out["signal"].to_numpy(), expected.to_numpy())


def test_rsi_hand_example() -> None:
    # period 2: RSI = 0, 0 on bars 2-3, then gains/losses 0.5/0.5 -> 50 on bar 4
    # (up through 30), 75 and 87.5 on bars 5-6, 43.75 on bar 7 (down through 70).
    df = frame([10, 9, 8, 7, 8, 9, 10, 9])
    out = registry.evaluate("rsi", df, {"period": 2})
    np.testing.assert_allclose(out["rsi"].iloc[2:], [0, 0, 50, 75, 87.5, 43.75])
    assert where(out["signal"]) == ([4], [7])


def test_bollinger_hand_example() -> None:
    # period 3, 1 sample std (ddof=1, as upstream).  Bars 2-3: flat window, the
    # bands collapse onto close 10, so bar 4 (close 7 < upper) is a cross below the
    # upper band from "close >= upper" (-1).  Bar 5 closes 10 back above lower
    # 9 - sqrt(3) (+1).  Bar 6 closes 13 exactly on upper 10 + 3; bar 7 closes 10
    # below upper 11 + sqrt(3): the inclusive ">= upper" on the previous bar fires -1.
    df = frame([10, 10, 10, 10, 7, 10, 13, 10])
    out = registry.evaluate("bollinger_bands", df, {"period": 3, "num_std": 1.0})
    assert out["bb_lower"].iloc[5] == pytest.approx(9 - np.sqrt(3))
    assert out["bb_upper"].iloc[6] == 13.0
    assert where(out["signal"]) == ([5], [4, 7])


def test_mean_reversion_and_pairs_hand_example() -> None:
    # lookback 3, sample std: z = -1.155 (bar 4), 0.577 (5), 1.0 (6), -0.577 (7)
    x = np.array([10, 10, 10, 10, 7, 10, 13, 10], dtype=float)
    out = registry.evaluate(
        "mean_reversion", frame(x), {"lookback": 3, "entry_std": 1.0, "exit_std": 0.5}
    )
    np.testing.assert_allclose(
        out["z_score"].iloc[4:], [-2 / np.sqrt(3), 1 / np.sqrt(3), 1, -1 / np.sqrt(3)]
    )
    assert out["z_score"].iloc[:4].isna().all()  # flat window: no z, no signal
    assert where(out["signal"]) == ([5], [7])

    # Same pattern in the price ratio close / close_b (second leg constant).
    pair = frame(2 * x, close_b=np.full(len(x), 2.0))
    params = {"lookback": 3, "entry_z": 1.0, "exit_z": 0.5}
    ps = registry.evaluate("pairs_spread", pair, params)
    np.testing.assert_allclose(ps["spread"], x, atol=1e-12)
    assert where(ps["signal"]) == ([5], [7])
    # No second leg: the spread is close alone.
    alone = registry.evaluate("pairs_spread", frame(x), params)
    assert where(alone["signal"]) == ([5], [7])


def test_pairs_spread_ignores_common_moves() -> None:
    """Multiplying both legs by the same path leaves the spread (and signals) unchanged."""
    common = np.exp(np.cumsum(np.random.RandomState(3).normal(0.0, 0.02, len(MARKET))))
    moved = MARKET.assign(close=MARKET["close"] * common, close_b=MARKET["close_b"] * common)
    base = registry.evaluate("pairs_spread", MARKET)
    out = registry.evaluate("pairs_spread", moved)
    np.testing.assert_allclose(out["z_score"], base["z_score"], rtol=1e-9, atol=1e-9)
    pd.testing.assert_series_equal(out["signal"], base["signal"])


def test_momentum_hand_example_and_variant() -> None:
    # roc(1) = 1%, 5.94% (up through 5 -> +1 at 2), 0.93%, -6.48% (-1 at 4), -5.94%
    df = frame([100, 101, 107, 108, 101, 95])
    out = registry.evaluate("momentum", df, {"roc_period": 1})
    assert out["roc"].iloc[2] == pytest.approx(100 * (107 / 101 - 1))
    assert where(out["signal"]) == ([2], [4])
    # A 3.96% move fires only with the perps/futures threshold of 3.
    df = frame([100, 101, 105, 105])
    assert where(registry.signals("momentum", df, {"roc_period": 1})) == ([], [])
    for platform in ("perps", "futures"):
        sig = registry.signals("momentum", df, {"roc_period": 1}, platform)
        assert where(sig) == ([2], [])


def test_volume_weighted_hand_example() -> None:
    # SMA2 of close: close crosses above at bar 3 (9 > 8.5), below at bar 6 (10 < 10.5).
    close = [10, 9, 8, 9, 10, 11, 10, 9]
    params = {"sma_period": 2, "vol_multiplier": 1.5}
    quiet = np.full(8, 10.0)
    assert where(registry.signals("volume_weighted", frame(close, quiet), params)) == ([], [])
    heavy_up = quiet.copy()
    heavy_up[3] = 100.0  # 100 > 1.5 * mean(10, 100)
    assert where(registry.signals("volume_weighted", frame(close, heavy_up), params)) == ([3], [])
    heavy_down = quiet.copy()
    heavy_down[6] = 100.0
    assert where(registry.signals("volume_weighted", frame(close, heavy_down), params)) == (
        [],
        [6],
    )


# ------------------------------------------------------------ signal report


def test_regime_label_is_computed_once_per_frame(monkeypatch) -> None:
    """A batch of strategies on one symbol and bar pays for the ADX regime once."""
    from shared_strategies import signal_report
    from shared_tools import indicators

    signal_report.clear_memo()
    calls: list[int] = []
    real_adx = indicators.adx

    def counting_adx(df, period=14):
        calls.append(len(df))
        return real_adx(df, period)

    monkeypatch.setattr(indicators, "adx", counting_adx)
    market = trending_and_ranging()
    df = market.iloc[:300]
    first = signal_report.regime_label(df)
    assert first in ("ranging", "trending_up", "trending_down") and calls == [300]
    for name in ("sma_crossover", "rsi", "macd"):  # what a --batch does with a fresh copy
        out = signal_report.evaluate_last_bar(name, df.copy())
        assert out["regime"] == first
    assert calls == [300]

    later = market.iloc[1:301]  # the next closed bar
    signal_report.regime_label(later)
    assert len(calls) == 2
    signal_report.regime_label(market.iloc[:300].iloc[-200:])  # same last bar, other limit
    assert len(calls) == 3
    edited = df.copy()
    edited.iloc[-1, edited.columns.get_loc("close")] *= 1.01  # same times, other prices
    signal_report.regime_label(edited)
    assert len(calls) == 4
    signal_report.regime_label(df, period=10)  # other period
    assert len(calls) == 5
    signal_report.regime_label(df)
    assert len(calls) == 5


def test_regime_memo_is_bounded_and_agrees_with_a_fresh_computation() -> None:
    from shared_strategies import signal_report

    signal_report.clear_memo()
    market = random_walk(3, 400)
    labels = {}
    for end in range(60, 60 + signal_report.REGIME_MEMO_MAX + 20):
        labels[end] = signal_report.regime_label(market.iloc[:end])
    assert len(signal_report._regimes) == signal_report.REGIME_MEMO_MAX
    signal_report.clear_memo()
    for end in (60, 100, 60 + signal_report.REGIME_MEMO_MAX + 19):
        assert signal_report.regime_label(market.iloc[:end]) == labels[end]
