"""Regime classification and the HTF filter (catalogue §6), pinned at their edges."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest

from shared_tools import htf_filter, regime, regime_labels


def frame(closes, spread: float = 1.0, start: str = "2025-01-01") -> pd.DataFrame:
    closes = np.asarray(closes, dtype=float)
    idx = pd.date_range(start, periods=len(closes), freq="1h", tz="UTC")
    return pd.DataFrame(
        {
            "open": closes,
            "high": closes + spread,
            "low": closes - spread,
            "close": closes,
            "volume": 1.0,
        },
        index=idx,
    )


def trend(n: int, step: float, base: float = 100.0) -> pd.DataFrame:
    return frame(base + step * np.arange(n))


# --------------------------------------------------------------------------- ATR rounding


def test_round_atr_large_rounds_half_to_even_only_from_100():
    s = pd.Series([99.5, 99.99, 100.0, 100.5, 101.5, 250.4, float("nan")])
    out = regime.round_atr_large(s)
    assert out.iloc[:6].tolist() == [99.5, 99.99, 100.0, 100.0, 102.0, 250.0]
    assert math.isnan(out.iloc[6])


def test_standard_atr_rounds_simple_but_not_wilder():
    df = frame(1000 + np.arange(60), spread=50.25)  # TR 100.5 every bar
    assert regime.latest_atr(df, 14, "simple") == 100.0
    assert regime.latest_atr(df, 14, "wilder") == pytest.approx(100.5)
    assert regime.latest_atr(df.iloc[:5], 14) == 0.0  # not warmed up -> 0
    with pytest.raises(ValueError):
        regime.latest_atr(df, 14, "ema")


# --------------------------------------------------------------------------- ADX classifier


@pytest.mark.parametrize(
    "adx, plus, minus, label",
    [
        (19.999, 40, 10, "ranging"),
        (20.0, 40, 10, "trending_up"),  # ADX < threshold is ranging; 20 itself trends
        (20.0, 10, 40, "trending_down"),
        (35.0, 25, 25, "ranging"),  # equal DIs: ranging
        (0.0, 0, 0, "ranging"),  # warm-up zeros
    ],
)
def test_adx_label_edges(adx, plus, minus, label):
    assert regime.adx_label(adx, plus, minus, 20.0) == label


def test_latest_regime_shape_and_warm_up():
    short = trend(14, 1.0)  # n <= period: ranging, zeros
    snap = regime.latest_regime(short)
    assert snap["regime"] == "ranging" and snap["score"] == 0.0
    assert set(snap["metrics"]) == {"adx", "plus_di", "minus_di", "atr_pct"}
    assert snap["metrics"]["adx"] == 0.0
    assert regime.latest_regime(short.iloc[:0])["regime"] == "ranging"

    up = regime.latest_regime(trend(80, 2.0))
    assert up["regime"] == "trending_up"
    assert up["score"] == pytest.approx(min(up["metrics"]["adx"] / 100, 1))
    assert up["metrics"]["plus_di"] > up["metrics"]["minus_di"]
    assert up["metrics"]["atr_pct"] == round(up["metrics"]["atr_pct"], 4)
    assert regime.latest_regime(trend(80, -2.0, base=500))["regime"] == "trending_down"
    # a threshold above the reachable ADX makes the same trend ranging
    assert regime.latest_regime(trend(80, 2.0), adx_threshold=101)["regime"] == "ranging"


# --------------------------------------------------------------------------- composite


@pytest.mark.parametrize(
    "ret, adx, rng, eff, label",
    [
        (0.05, 25.0, 0.0, 0.5, "trending_up_clean"),  # every threshold inclusive
        (0.05, 24.99, 0.0, 0.9, "trending_up_choppy"),  # clean needs the ADX too
        (-0.05, 30.0, 0.0, 0.49, "trending_down_choppy"),
        (-0.2, 30.0, 0.0, 0.8, "trending_down_clean"),
        (0.049, 25.0, 0.5, 0.9, "ranging_directional_up"),
        (-0.01, 25.0, 0.5, 0.9, "ranging_directional_down"),
        (0.0, 25.0, 0.5, 0.9, "ranging_directional"),  # exactly zero drift: bare label
        (0.0, 10.0, 0.03, 0.0, "ranging_volatile"),
        (0.0, 10.0, 0.0299, 0.0, "ranging_quiet"),
    ],
)
def test_map_composite_label_edges(ret, adx, rng, eff, label):
    assert regime.map_composite_label(ret, adx, rng, eff) == label
    assert label in regime_labels.LABELS_COMPOSITE


def test_composite_thresholds_aliases_and_unknown_keys():
    th = regime.normalize_thresholds({"return_pct": 0.1, "range_pct": 0.2, "range_eff": 0.3})
    assert th == {"return_eff": 0.1, "range_eff": 0.3, "adx": 25.0, "efficiency": 0.5}
    with pytest.raises(ValueError, match="bogus"):
        regime.normalize_thresholds({"bogus": 1})


def test_latest_regime_composite_flat_and_trending():
    flat = frame(np.full(60, 100.0), spread=0.0)  # ATR 0 -> ranging_quiet, score 0
    snap = regime.latest_regime_composite(flat, 20)
    assert snap == {
        "regime": "ranging_quiet",
        "score": 0.0,
        "metrics": {"adx": 0.0, "plus_di": 0.0, "minus_di": 0.0, "atr_pct": 0.0},
        "classifier": "composite",
    }
    up = regime.latest_regime_composite(trend(80, 2.0), 20)
    assert up["regime"] == "trending_up_clean" and up["classifier"] == "composite"
    m = up["metrics"]
    assert set(m) == {"adx", "return_eff", "range_eff", "efficiency", "atr_pct"}  # < 100: no hurst
    # 20 closes rising 2 per bar: net 38; TR = high - prev close = 3 every bar, denom 3*20
    assert m["return_eff"] == round(38 / 60, 4) and m["efficiency"] == 1.0
    assert m["range_eff"] == round((38 + 2) / 60, 4)
    rng = np.random.default_rng(1)
    walk = frame(1000 + np.cumsum(rng.normal(0, 1, 300)))
    assert "hurst" in regime.latest_regime_composite(walk, 20)["metrics"]


def test_hurst_needs_100_returns_and_reads_a_random_walk_near_half():
    rng = np.random.default_rng(7)
    prices = pd.Series(np.exp(np.cumsum(rng.normal(0, 0.01, 3000))))
    assert math.isnan(regime.hurst_exponent(prices.iloc[:100]))  # 99 returns
    assert not math.isnan(regime.hurst_exponent(prices.iloc[:101]))
    assert 0.35 < regime.hurst_exponent(prices) < 0.65


# --------------------------------------------------------------------------- windows spec


def test_parse_windows_spec_json():
    assert regime.parse_windows_spec_json(None) is None
    assert regime.parse_windows_spec_json("  ") is None
    spec = regime.parse_windows_spec_json(
        '{"short": 7, "medium": {"classifier": "composite", "period": 20}, '
        '"long": {"period": 50, "adx_threshold": 0}}'
    )
    assert spec["short"] == {"classifier": "adx", "period": 7, "adx_threshold": 20.0}
    assert spec["medium"]["thresholds"] == regime.DEFAULT_COMPOSITE_THRESHOLDS
    assert spec["long"]["adx_threshold"] == 20.0  # 0 / missing -> 20
    for bad, needle in (
        ('{"regime": 14}', "reserved"),
        ('{"x": 1}', "period must be an int >= 2"),
        ('{"x": true}', "int or an object"),
        ('{"x": {"classifier": "hmm", "period": 5}}', "unsupported classifier"),
        ('{"x": {"period": 5.0}}', "period must be an int"),
        ("{}", "non-empty object"),
        ('{" ": 5}', "non-empty"),
    ):
        with pytest.raises(ValueError, match=needle):
            regime.parse_windows_spec_json(bad)


def test_required_ohlcv_limit():
    assert regime.required_ohlcv_limit() == 200
    assert regime.required_ohlcv_limit(14, {"a": 100}) == 2 * 100 - 1 + 10
    assert regime.required_ohlcv_limit(14, {"a": {"period": 120}, "b": 5}) == 249


def test_entry_gate_family_rule():
    allows = regime.regime_label_allows_entry
    assert allows([], "anything") and allows(None, "")
    assert allows(["ranging_quiet"], "") and not allows(["ranging_quiet"], "", "closed")
    assert allows(["ranging_directional"], "ranging_directional_up")
    assert not allows(["ranging_directional_up"], "ranging_directional_down")
    assert not allows(["ranging_directional_up"], "ranging_directional")  # never subs -> bare


# --------------------------------------------------------------------------- check wiring


def test_prepare_check_regime_shapes():
    df = trend(120, 2.0)
    off = regime.prepare_check_regime(df, enabled=False, windows_spec_json='{"a": 7}')
    assert (off.output, off.live_label, off.primary["regime"]) == ("", "", "")

    legacy = regime.prepare_check_regime(df, enabled=True)
    assert legacy.output == legacy.live_label == "trending_up"
    assert legacy.primary["classifier"] == "adx"

    spec = '{"short": 7, "medium": {"classifier": "composite", "period": 20}, "alpha": 30}'
    multi = regime.prepare_check_regime(df, enabled=True, windows_spec_json=spec)
    assert list(multi.output) == ["alpha", "medium", "short"]
    for snap in multi.output.values():
        assert set(snap) == {"regime", "score", "metrics", "classifier"}
    assert multi.primary is multi.output["medium"]  # medium is primary when present
    assert multi.live_label == multi.output["medium"]["regime"] == "trending_up_clean"
    short = regime.prepare_check_regime(
        df, enabled=True, windows_spec_json=spec, atr_window="short"
    )
    assert short.live_label == "trending_up"
    missing = regime.prepare_check_regime(df, enabled=True, windows_spec_json=spec, atr_window="x")
    assert missing.live_label == "trending_up_clean"  # unknown ATR window -> primary
    no_medium = regime.prepare_check_regime(df, enabled=True, windows_spec_json='{"b": 7, "a": 9}')
    assert no_medium.primary is no_medium.output["a"]  # else the first name


def test_injected_payload_is_never_recomputed():
    df = trend(120, 2.0)
    for raw in ("", "   ", "{not json", "[]", "{}", '{"a": 3}', "null"):
        got = regime.prepare_check_regime(df, enabled=True, payload_json=raw)
        assert (got.output, got.live_label) == ("", ""), raw  # fail open
    label = regime.prepare_check_regime(df, enabled=True, payload_json='"ranging"')
    assert (label.output, label.live_label, label.primary["regime"]) == ("ranging",) * 3
    bundle = {
        "short": {"regime": "trending_down", "score": 0.3, "metrics": {}},
        "medium": {"regime": "ranging_quiet", "score": 0.1, "metrics": {}},
    }
    got = regime.prepare_check_regime(
        df,
        enabled=True,
        payload_json=json.dumps(bundle),
        windows_spec_json='{"medium": 14}',
        atr_window="short",
    )
    assert got.output == bundle and got.live_label == "trending_down"
    assert got.primary == bundle["medium"]


# --------------------------------------------------------------------------- HTF filter


@pytest.mark.parametrize(
    "tf, htf",
    [("1m", "15m"), ("5m", "1h"), ("15m", "1h"), ("30m", "4h"), ("1h", "4h"), ("4h", "1d")]
    + [("1d", "1w"), ("1w", "1M"), ("2h", "4h"), ("12h", "4h")],
)
def test_htf_timeframe_map(tf, htf):
    assert htf_filter.htf_timeframe(tf) == htf


def _fetcher(df, calls=None):
    def fetch(symbol, timeframe, limit):
        if calls is not None:
            calls.append((symbol, timeframe, limit))
        return df.iloc[-limit:]

    return fetch


def test_htf_trend_up_down_flat_short_and_failing():
    calls: list = []
    up = htf_filter.htf_trend("BTC/USDT", "1h", _fetcher(trend(100, 1.0), calls))
    assert calls == [("BTC/USDT", "4h", htf_filter.HTF_CANDLES)]
    assert up["htf_trend"] == 1 and up["htf_timeframe"] == "4h"
    assert up["htf_close"] == 199.0 and up["htf_ema"] < 199.0
    assert htf_filter.htf_trend("X", "1h", _fetcher(trend(100, -1.0, 500)))["htf_trend"] == -1
    assert htf_filter.htf_trend("X", "1h", _fetcher(frame(np.full(60, 5.0))))["htf_trend"] == 0
    short = htf_filter.htf_trend("X", "1h", _fetcher(trend(49, 1.0)))
    assert short == {"htf_trend": 0, "htf_timeframe": "4h"}
    assert htf_filter.htf_trend("X", "1h", _fetcher(trend(50, 1.0)))["htf_trend"] == 1

    def broken(*_a):
        raise RuntimeError("venue down")

    assert htf_filter.htf_trend("X", "1h", broken)["htf_trend"] == 0


def test_htf_ema_is_seeded_with_the_first_close():
    closes = 100 + np.arange(60) ** 1.5
    got = htf_filter.htf_trend("X", "1h", _fetcher(frame(closes)))
    ema = closes[0]
    for c in closes[1:]:
        ema += 2 / 51 * (c - ema)
    assert got["htf_ema"] == pytest.approx(ema, abs=1e-6)


@pytest.mark.parametrize(
    "signal, trend_, out",
    [(1, 1, 1), (1, -1, 0), (-1, -1, -1), (-1, 1, 0), (0, 1, 0), (1, 0, 1), (-1, 0, -1)],
)
def test_apply_htf_filter(signal, trend_, out):
    assert htf_filter.apply_htf_filter(signal, trend_) == out


def test_htf_numeric_indicators_drop_strings():
    info = {"htf_trend": 1, "htf_ema": 2.5, "htf_close": 3.0, "htf_timeframe": "4h"}
    assert htf_filter.numeric_indicators(info) == {"htf_trend": 1, "htf_ema": 2.5, "htf_close": 3.0}
