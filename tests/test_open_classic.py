"""The classic family (catalogue §3.1-§3.14, §3.17): registration and rules at their edges.

Hand-made frames pin each rule at its edges (ties at thresholds, first valid bar,
flat data, NaN); a loop reference written from the catalogue's wording checks every
rule bar by bar on random walks, given the strategy's own indicator columns.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shared_strategies.open import registry

BOTH = ("spot", "perps", "futures")
FUT = ("perps", "futures")

# name -> (defaults, constraints, platforms, can_short), as the catalogue lists them.
CATALOGUE = {
    "sma_crossover": (
        {"fast_period": 20, "slow_period": 50},
        ["fast_period > 0", "fast_period < slow_period"],
        BOTH,
        False,
    ),
    "ema_crossover": (
        {"fast_period": 12, "slow_period": 26},
        ["fast_period > 0", "fast_period < slow_period"],
        BOTH,
        False,
    ),
    "rsi": (
        {"period": 14, "overbought": 70, "oversold": 30},
        ["period > 0", "oversold < overbought"],
        BOTH,
        False,
    ),
    "bollinger_bands": ({"period": 20, "num_std": 2.0}, ["period > 0"], BOTH, False),
    "macd": (
        {"fast_period": 12, "slow_period": 26, "signal_period": 9},
        ["fast_period > 0", "signal_period > 0", "fast_period < slow_period"],
        BOTH,
        False,
    ),
    "mean_reversion": (
        {"lookback": 30, "entry_std": 1.5, "exit_std": 0.5},
        ["lookback > 0", "exit_std < entry_std"],
        BOTH,
        False,
    ),
    "momentum": ({"roc_period": 14, "threshold": 5.0}, ["roc_period > 0"], BOTH, False),
    "volume_weighted": (
        {"sma_period": 20, "vol_multiplier": 1.5},
        ["sma_period > 0"],
        BOTH,
        False,
    ),
    "triple_ema": (
        {"short_period": 8, "mid_period": 21, "long_period": 55},
        ["short_period > 0", "short_period < mid_period", "mid_period < long_period"],
        BOTH,
        False,
    ),
    "triple_ema_bidir": (
        {"short_period": 8, "mid_period": 21, "long_period": 55},
        ["short_period > 0", "short_period < mid_period", "mid_period < long_period"],
        FUT,
        True,
    ),
    "tema_cross": (
        {"short_period": 5, "mid_period": 13, "long_period": 34},
        ["short_period > 0", "short_period < mid_period", "mid_period < long_period"],
        BOTH,
        False,
    ),
    "tema_cross_bd": (
        {"short_period": 5, "mid_period": 13, "long_period": 34},
        ["short_period > 0", "short_period < mid_period", "mid_period < long_period"],
        FUT,
        True,
    ),
    "rsi_macd_combo": (
        {
            "rsi_period": 14,
            "rsi_oversold": 35,
            "rsi_overbought": 65,
            "macd_fast": 12,
            "macd_slow": 26,
            "macd_signal": 9,
            "rsi_short_min": 50,
            "rsi_long_max": 50,
        },
        [
            "rsi_period > 0",
            "macd_fast > 0",
            "macd_signal > 0",
            "macd_fast < macd_slow",
            "rsi_oversold < rsi_overbought",
        ],
        BOTH,
        False,
    ),
    "stoch_rsi": (
        {
            "rsi_period": 14,
            "stoch_period": 14,
            "k_smooth": 3,
            "d_smooth": 3,
            "overbought": 80,
            "oversold": 20,
        },
        [
            "rsi_period > 0",
            "stoch_period > 0",
            "k_smooth > 0",
            "d_smooth > 0",
            "oversold < overbought",
        ],
        BOTH,
        False,
    ),
    "pairs_spread": (
        {"lookback": 30, "entry_z": 2.0, "exit_z": 0.5},
        ["lookback > 0", "exit_z < entry_z"],
        ("spot",),
        False,
    ),
}
COLUMNS = {
    "sma_crossover": ["sma_fast", "sma_slow"],
    "ema_crossover": ["ema_fast", "ema_slow"],
    "rsi": ["rsi"],
    "bollinger_bands": ["bb_middle", "bb_upper", "bb_lower"],
    "macd": ["macd_line", "macd_signal", "macd_hist"],
    "mean_reversion": ["rolling_mean", "rolling_std", "z_score"],
    "momentum": ["roc"],
    "volume_weighted": ["price_sma", "vol_sma", "high_volume"],
    "triple_ema": ["ema_short", "ema_mid", "ema_long"],
    "triple_ema_bidir": ["ema_short", "ema_mid", "ema_long"],
    "tema_cross": ["ema_short", "ema_mid", "ema_long"],
    "tema_cross_bd": ["ema_short", "ema_mid", "ema_long"],
    "rsi_macd_combo": ["rsi", "macd_line", "macd_signal_line"],
    "stoch_rsi": ["rsi", "stoch_k", "stoch_d"],
    "pairs_spread": ["spread", "spread_mean", "spread_std", "z_score"],
}


def _platform(name: str) -> str:
    return CATALOGUE[name][2][0]


def _index(n: int) -> pd.DatetimeIndex:
    return pd.date_range("2024-01-01", periods=n, freq="h", tz="UTC")


def frame(close, volume=None, close_b=None) -> pd.DataFrame:
    close = np.asarray(close, dtype=float)
    data = {
        "open": close,
        "high": close,
        "low": close,
        "close": close,
        "volume": np.ones(len(close)) if volume is None else np.asarray(volume, dtype=float),
    }
    if close_b is not None:
        data["close_b"] = np.asarray(close_b, dtype=float)
    return pd.DataFrame(data, index=_index(len(close)))


def random_walk(seed: int, n: int = 400) -> pd.DataFrame:
    rs = np.random.RandomState(seed)
    close = 100.0 * np.exp(np.cumsum(rs.normal(0.0, 0.015, n)))
    df = frame(close, rs.lognormal(8.0, 0.6, n), close * np.exp(rs.normal(0.0, 0.02, n)))
    df["high"] = close * 1.002
    df["low"] = close * 0.998
    return df


def where(sig: pd.Series) -> tuple[list[int], list[int]]:
    v = sig.to_numpy()
    return np.flatnonzero(v == 1).tolist(), np.flatnonzero(v == -1).tolist()


def run(name: str, df: pd.DataFrame, params: dict | None = None) -> pd.DataFrame:
    return registry.evaluate(name, df, params, _platform(name))


# ------------------------------------------------------------------ registration


@pytest.mark.parametrize("name", sorted(CATALOGUE))
def test_registration_matches_catalogue(name: str) -> None:
    defaults, constraints, platforms, can_short = CATALOGUE[name]
    spec = registry.get(name, platforms[0])
    assert spec.default_params == defaults
    assert [c.expr for c in spec.constraints] == constraints
    assert spec.platforms == platforms and spec.can_short is can_short
    assert spec.needs_pair is (name == "pairs_spread")
    assert spec.status == "deprecated"  # all of them are on upstream's M5 roster


def test_momentum_futures_variant() -> None:
    for platform in FUT:
        assert registry.get("momentum", platform).default_params["threshold"] == 3.0
    assert registry.get("momentum", "spot").default_params["threshold"] == 5.0


def test_futures_only_names_are_not_on_spot() -> None:
    for name in ("triple_ema_bidir", "tema_cross_bd"):
        assert name not in registry.names("spot")
    assert "pairs_spread" not in registry.names("perps")


@pytest.mark.parametrize(
    ("name", "params", "message"),
    [
        (
            "sma_crossover",
            {"fast_period": 50, "slow_period": 20},
            "sma_crossover: invalid parameters: constraint 'fast_period < slow_period' "
            "violated (fast_period=50, slow_period=20)",
        ),
        (
            "ema_crossover",
            {"fast_period": 0},
            "ema_crossover: invalid parameters: constraint 'fast_period > 0' violated (fast_period=0)",
        ),
        ("rsi", {"oversold": 70}, "constraint 'oversold < overbought' violated"),
        ("macd", {"signal_period": 0}, "constraint 'signal_period > 0' violated"),
        ("mean_reversion", {"exit_std": 1.5}, "constraint 'exit_std < entry_std' violated"),
        ("triple_ema", {"mid_period": 60}, "constraint 'mid_period < long_period' violated"),
        ("tema_cross", {"short_period": 13}, "constraint 'short_period < mid_period' violated"),
        # dead params still carry their constraint (as upstream)
        ("rsi_macd_combo", {"rsi_oversold": 65}, "'rsi_oversold < rsi_overbought' violated"),
        ("stoch_rsi", {"k_smooth": 0}, "constraint 'k_smooth > 0' violated"),
        ("pairs_spread", {"exit_z": 2.0}, "constraint 'exit_z < entry_z' violated"),
    ],
)
def test_constraint_violations(name: str, params: dict, message: str) -> None:
    with pytest.raises(ValueError, match=None) as e:
        run(name, random_walk(0, 60), params)
    assert message in str(e.value)


@pytest.mark.parametrize("name", sorted(CATALOGUE))
def test_output_columns_are_upstreams(name: str) -> None:
    out = run(name, random_walk(1))
    assert list(out.columns) == ["signal", *COLUMNS[name]]


# --------------------------------------------------------------- hand examples


def test_sma_crossover_first_valid_bar_and_tie() -> None:
    # SMA2 vs SMA3: bar 2 is the first valid bar, already fast > slow: upstream fires +1
    # there (warm-up artefact), we do not.  Bar 6: 3 < 3.67 -> -1.  Bar 7: 4 == 4 is
    # not "above" (state stays 0, no signal).  Bar 8: 6.5 > 5 -> +1.
    close = [1, 2, 3, 4, 5, 4, 2, 6, 7]
    out = run("sma_crossover", frame(close), {"fast_period": 2, "slow_period": 3})
    assert out["sma_fast"].iloc[7] == out["sma_slow"].iloc[7] == 4.0
    assert where(out["signal"]) == ([8], [6])


def test_ema_crossover_no_signal_from_warmup() -> None:
    # Upstream's EMAs exist from bar 0, so it fires +1 on bar 1 of a rising series.
    out = run("ema_crossover", frame(np.arange(1.0, 30.0)), {"fast_period": 2, "slow_period": 3})
    assert out["ema_slow"].iloc[:2].isna().all() and out["ema_slow"].iloc[2:].notna().all()
    assert where(out["signal"]) == ([], [])


def test_rsi_inclusive_previous_bar_strict_current_bar() -> None:
    # period 2: RSI = 0, 0, 50, 75, 87.5, 43.75 on bars 2..7.
    df = frame([10, 9, 8, 7, 8, 9, 10, 9])
    out = run("rsi", df, {"period": 2, "oversold": 50, "overbought": 87.5})
    np.testing.assert_array_equal(out["rsi"].iloc[2:], [0, 0, 50, 75, 87.5, 43.75])
    # bar 4 sits exactly on 50 (not above); bar 5 rises from it (prev <= 50) -> +1.
    # bar 7 drops from exactly 87.5 (prev >= 87.5) -> -1.
    assert where(out["signal"]) == ([5], [7])
    # oversold 0: bar 4 leaves RSI 0 (prev <= 0, now 50 > 0).
    assert where(run("rsi", df, {"period": 2, "oversold": 0})["signal"]) == ([4], [7])


def test_rsi_flat_data_is_neutral_and_silent() -> None:
    out = run("rsi", frame(np.full(40, 5.0)), {"period": 14})
    assert (out["rsi"].dropna() == 50.0).all()  # ours: 50; upstream: NaN (0/0)
    assert (out["signal"] == 0).all()


def test_bollinger_uses_sample_std() -> None:
    df = random_walk(4, 120)
    out = run("bollinger_bands", df, {"period": 20, "num_std": 2.0})
    window = df["close"].iloc[80:100].to_numpy()
    assert out["bb_middle"].iloc[99] == pytest.approx(window.mean())
    assert out["bb_upper"].iloc[99] == pytest.approx(window.mean() + 2 * window.std(ddof=1))
    assert out["bb_lower"].iloc[99] == pytest.approx(window.mean() - 2 * window.std(ddof=1))


def test_bollinger_minus_one_wins_ties() -> None:
    # A flat window collapses the bands onto close 10; bar 3 (10.1) is then both above
    # the lower band from "close <= lower" (+1) and below the upper from "close >= upper"
    # (-1).  Upstream writes -1 last: -1 wins.
    out = run("bollinger_bands", frame([10, 10, 10, 10.1]), {"period": 3})
    assert out["bb_upper"].iloc[2] == out["bb_lower"].iloc[2] == 10.0
    assert where(out["signal"]) == ([], [3])


def test_macd_is_a_state_diff_of_line_over_signal() -> None:
    out = run("macd", random_walk(5))
    state = (out["macd_line"] > out["macd_signal"]).astype(int)
    both = out["macd_signal"].notna() & out["macd_signal"].shift(1).notna()
    expected = state.diff().where(both, 0).fillna(0).astype(int)
    pd.testing.assert_series_equal(out["signal"], expected, check_names=False)
    first = int(np.flatnonzero(out["macd_signal"].notna())[0])
    assert first == 26 + 9 - 2  # TA-Lib's lookback; no signal on that bar
    assert out["signal"].iloc[first] == 0


def test_mean_reversion_ties_and_flat_window() -> None:
    # lookback 3, sample std: z = -1.155 (bar 4), 0.577, 1.0 (exactly), -0.577.
    x = [10, 10, 10, 10, 7, 10, 13, 10]
    out = run("mean_reversion", frame(x), {"lookback": 3, "entry_std": 1.1, "exit_std": 1.0})
    assert out["z_score"].iloc[:4].isna().all()  # flat window: 0/0, no opinion
    assert out["z_score"].iloc[6] == 1.0
    assert out["rolling_std"].iloc[6] == 3.0 and out["rolling_mean"].iloc[6] == 10.0
    # +1 at 5 (from -1.155 <= -1.1 to above); -1 at 7 (from exactly 1.0 >= exit 1.0).
    assert where(out["signal"]) == ([5], [7])


def test_momentum_exact_threshold_is_not_a_cross() -> None:
    # roc(1): 5.0 exactly at bar 1 (not > 5; with c/c0 - 1 it would be 5.0000000000000044),
    # 5.71 at bar 2 -> +1; -5.0 exactly at bar 4, then -5.26 -> -1 at 5.
    out = run("momentum", frame([100, 105, 111]), {"roc_period": 1})
    assert out["roc"].iloc[1] == 5.0
    assert where(out["signal"]) == ([2], [])
    close = [100, 100, 95, 90]
    out = run("momentum", frame(close), {"roc_period": 1})
    assert out["roc"].iloc[2] == -5.0
    assert where(out["signal"]) == ([], [3])


def test_momentum_threshold_variant_per_platform() -> None:
    df = frame([100, 101, 105, 105])  # 3.96% on bar 2
    assert where(registry.signals("momentum", df, {"roc_period": 1}))[0] == []
    for platform in FUT:
        assert where(registry.signals("momentum", df, {"roc_period": 1}, platform))[0] == [2]


def test_volume_weighted_needs_strictly_high_volume() -> None:
    # SMA2 of close: close crosses above at bar 3 (9 > 8.5).  With volume 10 elsewhere,
    # 30 on bar 3 is exactly 1.5 x mean(10, 30): not high; 31 is.
    close = [10, 9, 8, 9, 10, 11, 10, 9]
    params = {"sma_period": 2, "vol_multiplier": 1.5}
    vol = np.full(8, 10.0)
    vol[3] = 30.0
    out = run("volume_weighted", frame(close, vol), params)
    assert out["high_volume"].iloc[3] == 0.0 and where(out["signal"]) == ([], [])
    vol[3] = 31.0
    out = run("volume_weighted", frame(close, vol), params)
    assert out["high_volume"].iloc[3] == 1.0 and where(out["signal"]) == ([3], [])
    vol[3], vol[6] = 10.0, 31.0  # the bar-6 cross below (10 < 10.5)
    assert where(run("volume_weighted", frame(close, vol), params)["signal"]) == ([], [6])


EMA123 = {"short_period": 1, "mid_period": 2, "long_period": 3}


def test_triple_ema_and_bidir_stack_changes() -> None:
    # EMA(1) is close.  Bars 2-4 rising: bull stack from the first valid bar (no signal);
    # bar 5 crashes to 0: bear stack (close 0 < 1.50 < 2.03); bar 6 jumps to 10: bull again.
    close = [1, 2, 3, 4, 5, 0, 10]
    long_only = run("triple_ema", frame(close), EMA123)
    assert where(long_only["signal"]) == ([6], [5])
    bidir = run("triple_ema_bidir", frame(close), EMA123)
    # +1 -> -1 in one bar is a single clipped -1; -1 -> +1 a single +1.
    assert where(bidir["signal"]) == ([6], [5])
    # bear -> neither is +1 for bidir and nothing for the long-only one.
    close = [5, 4, 3, 2, 1, 1.5]  # bar 5: close 1.5 > ema2 1.17, ema2 < ema3 1.56: mixed
    assert where(run("triple_ema_bidir", frame(close), EMA123)["signal"]) == ([5], [])
    assert where(run("triple_ema", frame(close), EMA123)["signal"]) == ([], [])


TEMA_CLOSE = [10, 9, 8, 7, 8, 9, 10, 11, 12, 11, 10, 12, 13, 9, 8, 7, 6, 8, 5, 4]


def test_tema_cross_carried_position() -> None:
    out = run("tema_cross", frame(TEMA_CLOSE), EMA123)
    m, lg = out["ema_mid"], out["ema_long"]
    # bar 4: bull cross but mid 7.83 < long 7.94 -> ignored.  bar 9: bear cross while
    # flat -> nothing.  bar 11: bull cross in an uptrend -> +1.  bar 13: bear cross -> -1.
    # bar 17: bull cross, no uptrend -> ignored.
    assert m.iloc[4] < lg.iloc[4] and m.iloc[11] > lg.iloc[11]
    assert where(out["signal"]) == ([11], [13])


def test_tema_cross_bd_events() -> None:
    out = run("tema_cross_bd", frame(TEMA_CLOSE), EMA123)
    # bar 9: bear cross not in a downtrend -> 0 (already flat).  bar 11 -> long (+1);
    # bar 13: bear cross in a downtrend, long -> short = clipped -1; bar 17: bull cross
    # without uptrend flattens the short (+1); bar 18: bear cross in a downtrend -> -1.
    assert where(out["signal"]) == ([11, 17], [13, 18])


def test_rsi_macd_combo_strict_rsi_filter_and_dead_params() -> None:
    df = random_walk(8)
    base = run("rsi_macd_combo", df)
    dead = run("rsi_macd_combo", df, {"rsi_oversold": 1, "rsi_overbought": 99})
    pd.testing.assert_frame_equal(base, dead)  # only the constraint reads them
    line, sig, r = base["macd_line"], base["macd_signal_line"], base["rsi"]
    up = (line > sig) & (line.shift(1) <= sig.shift(1))
    assert up.any()
    bar = int(np.flatnonzero(up)[0])
    # rsi_long_max equal to this bar's RSI blocks the buy (strict <); a hair above lets it through.
    at = run("rsi_macd_combo", df, {"rsi_long_max": float(r.iloc[bar])})
    assert at["signal"].iloc[bar] == 0
    above = run("rsi_macd_combo", df, {"rsi_long_max": math.nextafter(r.iloc[bar], 200)})
    assert above["signal"].iloc[bar] == 1


def test_stoch_rsi_flat_window_is_nan() -> None:
    out = run("stoch_rsi", frame(np.r_[np.full(40, 5.0), 5.0 + np.arange(1, 11)]))
    assert out["stoch_k"].iloc[:40].isna().all() and (out["signal"].iloc[:41] == 0).all()


def test_pairs_spread_is_the_price_ratio() -> None:
    df = random_walk(9)
    out = run("pairs_spread", df, {"lookback": 10})
    ratio = df["close"] / df["close_b"]
    np.testing.assert_allclose(out["spread"], ratio)
    w = ratio.iloc[40:50].to_numpy()
    assert out["spread_std"].iloc[49] == pytest.approx(w.std(ddof=1))
    assert out["z_score"].iloc[49] == pytest.approx((w[-1] - w.mean()) / w.std(ddof=1))
    alone = run("pairs_spread", df.drop(columns="close_b"), {"lookback": 10})
    np.testing.assert_allclose(alone["spread"], df["close"])  # self mean-reversion


# ----------------------------------------------------- loop references (catalogue)


def _above(x, lv, i):
    return x[i] > lv[i] and x[i - 1] <= lv[i - 1]


def _below(x, lv, i):
    return x[i] < lv[i] and x[i - 1] >= lv[i - 1]


def _ev(buy: bool, sell: bool) -> int:
    return -1 if sell else (1 if buy else 0)


def _const(v: float, n: int) -> np.ndarray:
    return np.full(n, float(v))


def reference(name: str, df: pd.DataFrame, out: pd.DataFrame, p: dict) -> list[int]:
    """Signal per bar from the catalogue's wording, using the strategy's own columns."""
    n = len(df)
    c = {k: out[k].to_numpy() for k in out.columns}
    close = df["close"].to_numpy()
    sig = [0] * n
    if name in ("sma_crossover", "ema_crossover", "macd", "triple_ema", "triple_ema_bidir"):
        ops = {
            "sma_crossover": ("sma_fast", "sma_slow"),
            "ema_crossover": ("ema_fast", "ema_slow"),
            "macd": ("macd_line", "macd_signal"),
        }
        cols = ops.get(name, ("ema_short", "ema_mid", "ema_long"))

        def state(i):
            v = [c[k][i] for k in cols]
            if any(math.isnan(x) for x in v):
                return None
            if len(v) == 2:
                return int(v[0] > v[1])
            bull = v[0] > v[1] > v[2]
            bear = v[0] < v[1] < v[2]
            return int(bull) - (int(bear) if name == "triple_ema_bidir" else 0)

        for i in range(1, n):
            a, b = state(i - 1), state(i)
            if a is not None and b is not None:
                sig[i] = max(-1, min(1, b - a))
        return sig
    if name in ("tema_cross", "tema_cross_bd"):
        s, m, lg = c["ema_short"], c["ema_mid"], c["ema_long"]
        pos = 0
        prev = 0
        for i in range(1, n):
            ok = not any(math.isnan(v) for v in (s[i], m[i], lg[i], s[i - 1], m[i - 1]))
            if ok and _above(s, m, i):
                pos = 1 if m[i] > lg[i] else (pos if name == "tema_cross" else 0)
            elif ok and _below(s, m, i):
                pos = 0 if name == "tema_cross" else (-1 if m[i] < lg[i] else 0)
            sig[i] = max(-1, min(1, pos - prev))
            prev = pos
        return sig
    for i in range(1, n):
        if name == "rsi":
            r = c["rsi"]
            lo, hi = _const(p["oversold"], n), _const(p["overbought"], n)
            sig[i] = _ev(_above(r, lo, i), _below(r, hi, i))
        elif name == "bollinger_bands":
            sig[i] = _ev(_above(close, c["bb_lower"], i), _below(close, c["bb_upper"], i))
        elif name in ("mean_reversion", "pairs_spread"):
            z = c["z_score"]
            e, x = ("entry_std", "exit_std") if name == "mean_reversion" else ("entry_z", "exit_z")
            sig[i] = _ev(_above(z, _const(-p[e], n), i), _below(z, _const(p[x], n), i))
        elif name == "momentum":
            r, t = c["roc"], p["threshold"]
            sig[i] = _ev(_above(r, _const(t, n), i), _below(r, _const(-t, n), i))
        elif name == "volume_weighted":
            vol = df["volume"].to_numpy()
            high = vol[i] > c["vol_sma"][i] * p["vol_multiplier"]
            sma = c["price_sma"]
            sig[i] = _ev(high and _above(close, sma, i), high and _below(close, sma, i))
        elif name == "rsi_macd_combo":
            line, sl, r = c["macd_line"], c["macd_signal_line"], c["rsi"]
            sig[i] = _ev(
                _above(line, sl, i) and r[i] < p["rsi_long_max"],
                _below(line, sl, i) and r[i] > p["rsi_short_min"],
            )
        elif name == "stoch_rsi":
            k, d = c["stoch_k"], c["stoch_d"]
            sig[i] = _ev(
                _above(k, d, i) and k[i] < p["oversold"],
                _below(k, d, i) and k[i] > p["overbought"],
            )
    return sig


SMALL = {
    "sma_crossover": {"fast_period": 3, "slow_period": 8},
    "ema_crossover": {"fast_period": 3, "slow_period": 8},
    "rsi": {"period": 5, "oversold": 40, "overbought": 60},
    "bollinger_bands": {"period": 8, "num_std": 1.0},
    "macd": {"fast_period": 3, "slow_period": 8, "signal_period": 3},
    "mean_reversion": {"lookback": 8, "entry_std": 1.0, "exit_std": 0.2},
    "momentum": {"roc_period": 3, "threshold": 1.0},
    "volume_weighted": {"sma_period": 5, "vol_multiplier": 1.0},
    "triple_ema": {"short_period": 2, "mid_period": 5, "long_period": 9},
    "triple_ema_bidir": {"short_period": 2, "mid_period": 5, "long_period": 9},
    "tema_cross": {"short_period": 2, "mid_period": 5, "long_period": 9},
    "tema_cross_bd": {"short_period": 2, "mid_period": 5, "long_period": 9},
    "rsi_macd_combo": {"rsi_period": 5, "macd_fast": 3, "macd_slow": 8, "macd_signal": 3},
    "stoch_rsi": {"rsi_period": 5, "stoch_period": 5, "oversold": 30, "overbought": 70},
    "pairs_spread": {"lookback": 8, "entry_z": 1.0, "exit_z": 0.2},
}


@pytest.mark.parametrize("name", sorted(CATALOGUE))
@pytest.mark.parametrize("small", [False, True])
def test_rule_matches_loop_reference(name: str, small: bool) -> None:
    df = random_walk(11, 600)
    params = SMALL[name] if small else {}
    out = run(name, df, params)
    p = registry.merged_params(name, params, _platform(name))
    expected = reference(name, df, out, p)
    assert out["signal"].tolist() == expected
    assert (out["signal"] != 0).sum() > 0 or not small


@pytest.mark.parametrize("name", ["triple_ema_bidir", "tema_cross_bd"])
@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**31 - 1), k=st.integers(1, 360))
def test_closed_bar_contract_futures_only(name: str, seed: int, k: int) -> None:
    """test_strategies.py walks the spot names; these two exist only on perps/futures."""
    df = random_walk(seed, 360)
    full = run(name, df, SMALL[name])["signal"]
    pd.testing.assert_series_equal(run(name, df.iloc[:k], SMALL[name])["signal"], full.iloc[:k])


@pytest.mark.parametrize("name", sorted(CATALOGUE))
def test_nan_gap_gives_no_signal_from_it(name: str) -> None:
    """A NaN close poisons the windows over it: no signal on the gap bar or the next."""
    df = random_walk(12, 200)
    df.iloc[100, df.columns.get_loc("close")] = np.nan
    out = run(name, df, SMALL[name])
    assert out["signal"].iloc[100] == 0 and out["signal"].iloc[101] == 0
