"""Anchored-VWAP and "pro" open strategies (upstream catalogue §3.37-§3.45).

Hand-made frames pin each rule at its edges; plain-loop reference implementations written
from the catalogue text are compared bar for bar on random frames; indicator stubs isolate
the rule logic of the strategies built on RSI/ADX/z-score.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shared_strategies.open import anchored_vwap, common, pro, registry

AVWAP = ("anchored_vwap", "anchored_vwap_channel", "anchored_vwap_reversion")
PRO = ("momentum_pro", "mean_reversion_pro", "rsi_bb_combo", "atr_band_revert")


def _index(n: int) -> pd.DatetimeIndex:
    return pd.date_range("2024-01-01", periods=n, freq="h", tz="UTC")


def bars(close, high=None, low=None, volume=None) -> pd.DataFrame:
    """Frame from closes; high/low default to the close (typical price == close)."""
    close = np.asarray(close, dtype=float)
    n = len(close)
    return pd.DataFrame(
        {
            "open": close,
            "high": close if high is None else np.asarray(high, dtype=float),
            "low": close if low is None else np.asarray(low, dtype=float),
            "close": close,
            "volume": np.ones(n) if volume is None else np.asarray(volume, dtype=float),
        },
        index=_index(n),
    )


def noisy(seed: int, n: int = 600, wick: float = 0.01) -> pd.DataFrame:
    """Random walk with wide wicks so pivots, bands and AVWAP crossings are frequent."""
    rs = np.random.RandomState(seed)
    close = 100.0 * np.exp(np.cumsum(rs.normal(0.0, 0.01, n)))
    open_ = np.r_[close[0], close[:-1]]
    high = np.maximum(open_, close) * (1.0 + np.abs(rs.normal(0.0, wick, n)))
    low = np.minimum(open_, close) * (1.0 - np.abs(rs.normal(0.0, wick, n)))
    volume = rs.lognormal(5.0, 0.8, n)
    volume[rs.rand(n) < 0.05] = 0.0  # zero-volume bars exercise the tp fallback
    return pd.DataFrame(
        {"open": open_, "high": high, "low": low, "close": close, "volume": volume},
        index=_index(n),
    )


def where(sig: pd.Series) -> tuple[list[int], list[int]]:
    v = sig.to_numpy()
    return np.flatnonzero(v == 1).tolist(), np.flatnonzero(v == -1).tolist()


# ------------------------------------------------------------------- plain references


def ref_atr(df: pd.DataFrame, period: int) -> list[float]:
    """Simple ATR (bar-0 TR undefined, as our indicators) with the >=100 rounding rule."""
    h, lo, c = df["high"].tolist(), df["low"].tolist(), df["close"].tolist()
    tr = [math.nan] + [
        max(h[i] - lo[i], abs(h[i] - c[i - 1]), abs(lo[i] - c[i - 1])) for i in range(1, len(c))
    ]
    out = []
    for i in range(len(c)):
        win = tr[i - period + 1 : i + 1] if i >= period - 1 else []
        a = sum(win) / period if len(win) == period and not any(map(math.isnan, win)) else math.nan
        out.append(float(np.round(a)) if a >= 100 else a)
    return out


def ref_pivots(x: list[float], k: int, highs: bool) -> list[bool]:
    n = len(x)
    out = [False] * n
    for p in range(k, n - k):
        win = x[p - k : p + k + 1]
        ext = max(win) if highs else min(win)
        out[p] = x[p] == ext and win.count(ext) == 1
    return out


def ref_anchor(piv: list[bool], k: int) -> list[int]:
    out = []
    for b in range(len(piv)):
        ps = [p for p in range(len(piv)) if piv[p] and p + k <= b]
        out.append(ps[-1] if ps else -1)
    return out


def ref_avwap(df: pd.DataFrame, anchor: list[int]) -> list[float]:
    tp = ((df["high"] + df["low"] + df["close"]) / 3.0).tolist()
    vol = df["volume"].tolist()
    out = []
    for i, a in enumerate(anchor):
        if a < 0:
            out.append(math.nan)
            continue
        v = sum(vol[a : i + 1])
        out.append(
            sum(t * w for t, w in zip(tp[a : i + 1], vol[a : i + 1], strict=True)) / v
            if v
            else tp[i]
        )
    return out


def ref_anchored_vwap(df, pivot_strength, buffer_atr_mult, confirm_bars, atr_period, **_):
    k, c = pivot_strength, confirm_bars
    close = df["close"].tolist()
    n = len(close)
    ph = ref_pivots(df["high"].tolist(), k, True)
    pl = ref_pivots(df["low"].tolist(), k, False)
    anchor = ref_anchor([a or b for a, b in zip(ph, pl, strict=True)], k)
    av, atr = ref_avwap(df, anchor), ref_atr(df, atr_period)
    sig = [0] * n
    if n < 2 * k + 1 + c:
        return sig
    for N in range(n):
        b = N - c + 1
        if b - 1 < 0 or anchor[b] < 0 or math.isnan(av[b - 1]) or math.isnan(atr[b]):
            continue
        buf = buffer_atr_mult * atr[b]
        win = range(b, N + 1)
        if (
            all(close[j] >= av[j] for j in win)
            and close[b] >= av[b] + buf
            and close[b - 1] < av[b - 1]
        ):
            sig[N] = 1
        elif (
            all(close[j] <= av[j] for j in win)
            and close[b] <= av[b] - buf
            and close[b - 1] > av[b - 1]
        ):
            sig[N] = -1
    return sig


def ref_channel(df, pivot_strength, buffer_atr_mult, confirm_bars, min_width_atr_mult, atr_period):
    k, c = pivot_strength, confirm_bars
    close, hi, lo = df["close"].tolist(), df["high"].tolist(), df["low"].tolist()
    n = len(close)
    a_lo = ref_anchor(ref_pivots(lo, k, False), k)
    a_hi = ref_anchor(ref_pivots(hi, k, True), k)
    sup, res, atr = ref_avwap(df, a_lo), ref_avwap(df, a_hi), ref_atr(df, atr_period)
    sig = [0] * n
    if n < 2 * k + 1 + c:
        return sig
    for N in range(n):
        b = N - c + 1
        if b - 1 < 0 or min(a_lo[b], a_hi[b], a_lo[b - 1], a_hi[b - 1]) < 0:
            continue
        if math.isnan(atr[b]) or not sup[b] < res[b]:
            continue
        if not res[b] - sup[b] >= min_width_atr_mult * atr[b]:
            continue
        buf = buffer_atr_mult * atr[b]
        win = range(b, N + 1)
        if (
            lo[b] <= sup[b]
            and close[b] >= sup[b] + buf
            and all(close[j] >= sup[j] for j in win)
            and lo[b - 1] > sup[b - 1]
        ):
            sig[N] = 1
        elif (
            hi[b] >= res[b]
            and close[b] <= res[b] - buf
            and all(close[j] <= res[j] for j in win)
            and hi[b - 1] < res[b - 1]
        ):
            sig[N] = -1
    return sig


def ref_reversion(df, pivot_strength, entry_atr_mult, buffer_atr_mult, confirm_bars, atr_period):
    k, c = pivot_strength, confirm_bars
    close, hi, lo = df["close"].tolist(), df["high"].tolist(), df["low"].tolist()
    n = len(close)
    ph, pl = ref_pivots(hi, k, True), ref_pivots(lo, k, False)
    anchor = ref_anchor([a or b for a, b in zip(ph, pl, strict=True)], k)
    av, atr = ref_avwap(df, anchor), ref_atr(df, atr_period)
    lower = [a - entry_atr_mult * t for a, t in zip(av, atr, strict=True)]
    upper = [a + entry_atr_mult * t for a, t in zip(av, atr, strict=True)]
    sig = [0] * n
    for N in range(n):
        b = N - c + 1
        if b - 1 < 0 or anchor[b] < 0 or anchor[b - 1] < 0 or math.isnan(atr[b]):
            continue
        buf = buffer_atr_mult * atr[b]
        win = range(b, N + 1)
        if (
            lo[b] <= lower[b]
            and close[b] >= lower[b] + buf
            and all(lower[j] <= close[j] < av[j] for j in win)
            and lo[b - 1] > lower[b - 1]
        ):
            sig[N] = 1
        elif (
            hi[b] >= upper[b]
            and close[b] <= upper[b] - buf
            and all(av[j] < close[j] <= upper[j] for j in win)
            and hi[b - 1] < upper[b - 1]
        ):
            sig[N] = -1
    return sig


REFS = {
    "anchored_vwap": ref_anchored_vwap,
    "anchored_vwap_channel": ref_channel,
    "anchored_vwap_reversion": ref_reversion,
}


# --------------------------------------------------------------------------- registry


def test_registration_matches_catalogue() -> None:
    spot, fut = registry.names("spot"), registry.names("futures")
    for name in AVWAP + PRO:
        assert name in spot and name in fut and registry.get(name).can_short
    assert "consolidation_range" in fut and "consolidation_range" in registry.names("perps")
    assert "consolidation_range" not in spot
    assert registry.get("anchored_vwap").default_params == {
        "pivot_strength": 5,
        "buffer_atr_mult": 0.25,
        "confirm_bars": 2,
        "atr_period": 14,
        "gate_rsi_period": 0,
        "gate_rsi_level": 50.0,
        "gate_ema_period": 0,
    }
    assert registry.get("anchored_vwap_reversion").default_params["entry_atr_mult"] == 1.5
    assert registry.get("anchored_vwap_channel").default_params["min_width_atr_mult"] == 1.5
    assert registry.get("momentum_pro").default_params == {
        "ema_fast": 20,
        "ema_mid": 50,
        "ema_long": 200,
        "adx_period": 14,
        "adx_threshold": 20.0,
        "pullback_window": 6,
        "pullback_touch_buffer_pct": 0.0,
        "vol_period": 20,
        "vol_mult": 1.2,
    }
    mr = registry.get("mean_reversion_pro").default_params
    assert mr["touch_entry"] == 0 and mr["turn_entry"] == 0 and mr["confirm_window"] == 3
    assert registry.get("atr_band_revert").default_params["allow_short"] is False
    for p in ("perps", "futures"):
        assert registry.get("atr_band_revert", p).default_params["allow_short"] is True
    assert registry.get("consolidation_range", "perps").default_params == {
        "box_width_pct": 0.05,
        "min_bars": 16,
        "edge_entry_frac": 0.2,
    }
    shorts = {registry.get(n, "futures").short_name for n in AVWAP + PRO}
    assert shorts == {"avwap", "avwapch", "avwaprev", "mompro", "mrpro", "rsibb", "abr"}


@pytest.mark.parametrize(
    ("name", "params", "message"),
    [
        ("anchored_vwap", {"pivot_strength": 0}, "constraint 'pivot_strength > 0' violated"),
        ("anchored_vwap_channel", {"atr_period": 0}, "'atr_period > 0'"),
        ("momentum_pro", {"ema_fast": 50}, "'ema_fast < ema_mid' violated (ema_fast=50"),
        ("momentum_pro", {"ema_long": 50}, "'ema_mid < ema_long'"),
        ("mean_reversion_pro", {"rsi_oversold": 70.0}, "'rsi_oversold < rsi_overbought'"),
        ("rsi_bb_combo", {"confirm_window": 0}, "'confirm_window > 0'"),
        ("atr_band_revert", {"period": 0}, "'period > 0'"),
    ],
)
def test_constraints(name: str, params: dict, message: str) -> None:
    with pytest.raises(ValueError, match="invalid parameters") as err:
        registry.merged_params(name, params, "futures")
    assert message in str(err.value) and str(err.value).startswith(name)


def test_consolidation_range_constraint() -> None:
    with pytest.raises(ValueError, match="'min_bars > 0'"):
        registry.merged_params("consolidation_range", {"min_bars": 0}, "perps")


@pytest.mark.parametrize("name", (*AVWAP, *PRO, "consolidation_range"))
@settings(max_examples=15, deadline=None)
@given(seed=st.integers(0, 2**31 - 1), k=st.integers(1, 300))
def test_closed_bar_contract_perps(name: str, seed: int, k: int) -> None:
    """Perps defaults (allow_short on) and the futures-only strategy also honour the contract."""
    df = noisy(seed, 300)
    full = registry.signals(name, df, platform="perps")
    part = registry.signals(name, df.iloc[:k], platform="perps")
    pd.testing.assert_series_equal(part, full.iloc[:k])


# ------------------------------------------------------------------ anchored VWAP: pieces


def test_strict_pivots_need_a_unique_extreme() -> None:
    x = np.array([1.0, 5.0, 5.0, 2.0, 1.0, 3.0, 1.0, 1.0])
    # k=1: the 5,5 tie makes neither a pivot high; 3 at bar 5 is; 1.0 at bar 4 is a pivot low
    # (window [2, 1, 3]), 1.0 at bar 6 is not (bar 7 ties it).
    assert anchored_vwap._strict_pivots(x, 1, highs=True).tolist() == [
        False, False, False, False, False, True, False, False,
    ]  # fmt: skip
    assert anchored_vwap._strict_pivots(x, 1, highs=False).tolist() == [
        False, False, False, False, True, False, False, False,
    ]  # fmt: skip
    assert not anchored_vwap._strict_pivots(x, 2, highs=False).any()  # 1.0 at 4 and 6 tie
    assert not anchored_vwap._strict_pivots(x[:2], 1, highs=True).any()  # shorter than 2k+1


def test_anchor_is_known_k_bars_after_the_pivot_and_avwap_resets() -> None:
    close = [1.0, 5.0, 2.0, 1.5, 2.5, 4.0]
    df = bars(close, volume=[1, 1, 1, 1, 3, 1])
    out = registry.evaluate(
        "anchored_vwap", df, {"pivot_strength": 1, "confirm_bars": 1, "atr_period": 1}
    )
    # pivot high at 1 (known at 2), pivot low at 3 (known at 4); rows < 2k+c = 3 are guarded
    assert out["anchor_index"].tolist() == [-1, -1, -1, 1, 3, 3]
    assert np.isnan(out["avwap"].iloc[:3]).all()
    assert out["avwap"].iloc[3] == pytest.approx((5 + 2 + 1.5) / 3)
    assert out["avwap"].iloc[4] == pytest.approx((1.5 + 2.5 * 3) / 4)
    assert out["avwap"].iloc[5] == pytest.approx((1.5 + 7.5 + 4.0) / 5)


def test_zero_volume_window_falls_back_to_typical_price() -> None:
    df = bars([1.0, 5.0, 2.0, 1.5, 2.5], high=[1, 6, 3, 2, 3], low=[1, 4, 1, 1, 2], volume=[0] * 5)
    out = anchored_vwap._anchored_vwap(df, np.array([-1, -1, 1, 1, 1]))
    assert np.isnan(out[:2]).all()
    assert out[2:].tolist() == pytest.approx([2.0, 1.5, 2.5])  # (h+l+c)/3 of each bar


def test_atr_rounding_rule() -> None:
    # TR: bar0 NaN, then 100.5, 101.5, 99.5 -> ATR(1) rounds half to even above 100 only
    close = [1000.0, 1000.0, 1000.0, 1000.0]
    df = bars(close, high=[1000, 1100.5, 1101.5, 1099.5], low=[1000, 1000, 1000, 1000])
    atr = common.atr_rounded(df, 1)
    assert np.isnan(atr.iloc[0])
    assert atr.iloc[1:].tolist() == [100.0, 102.0, 99.5]


# ----------------------------------------------------------------- anchored_vwap: rules

RECLAIM = [1.0, 5.0, 2.0, 1.5, 2.5, 4.0]  # avwap re-anchors at bar 4 onto the pivot low at 3
P1 = {"pivot_strength": 1, "confirm_bars": 1, "atr_period": 1}


def test_anchored_vwap_reclaim_uses_the_line_in_effect_on_the_prior_bar() -> None:
    # bar 4: close 2.5 >= new line 2.0 + 0.5*ATR(1.0); bar 3 close 1.5 < old line 2.83
    sig = registry.signals("anchored_vwap", bars(RECLAIM), {**P1, "buffer_atr_mult": 0.5})
    assert where(sig) == ([4], [])
    # the buffer is inclusive: 0.75 * 1.0 puts the bar a quarter point short
    sig = registry.signals("anchored_vwap", bars(RECLAIM), {**P1, "buffer_atr_mult": 0.75})
    assert where(sig) == ([], [])


def test_anchored_vwap_mirror_short() -> None:
    mirrored = [10.0 - c for c in RECLAIM]
    sig = registry.signals("anchored_vwap", bars(mirrored), {**P1, "buffer_atr_mult": 0.5})
    assert where(sig) == ([], [4])


def test_anchored_vwap_confirm_bars_must_all_hold() -> None:
    params = {**P1, "confirm_bars": 2, "buffer_atr_mult": 0.5}
    assert where(registry.signals("anchored_vwap", bars(RECLAIM), params)) == ([5], [])
    # bar 5 closes back under the line (1.9 < (1.5+2.5+1.9)/3): no confirmation
    failed = RECLAIM[:5] + [1.9]
    assert where(registry.signals("anchored_vwap", bars(failed), params)) == ([], [])


def test_anchored_vwap_short_frame_guard_is_per_row() -> None:
    # With k=1, c=1 the guard is n >= 4: the reclaim on bar 4 is allowed, and a frame cut at
    # bar 4 gives the same signal there (upstream's whole-frame guard, applied per row).
    params = {**P1, "buffer_atr_mult": 0.5}
    cut = registry.signals("anchored_vwap", bars(RECLAIM[:5]), params)
    assert where(cut) == ([4], [])


def test_anchored_vwap_gates(monkeypatch: pytest.MonkeyPatch) -> None:
    params = {**P1, "buffer_atr_mult": 0.5}
    out = registry.evaluate("anchored_vwap", bars(RECLAIM), {**params, "gate_ema_period": 2})
    assert where(out["signal"]) == ([4], []) and "gate_ema" in out and "gate_rsi" not in out
    level = {"v": 3.0}
    _stub(monkeypatch, "ema", lambda s, p: pd.Series(level["v"], index=s.index))
    # close 2.5 < EMA 3.0 on bar 4 >= gate_ema_period: blocked
    gated = {**params, "gate_ema_period": 4}
    assert where(registry.signals("anchored_vwap", bars(RECLAIM), gated)) == ([], [])
    # bars before index gate_ema_period pass the gate
    early = {**params, "gate_ema_period": 5}
    assert where(registry.signals("anchored_vwap", bars(RECLAIM), early)) == ([4], [])
    # close == EMA is not "below": passes
    level["v"] = 2.5
    assert where(registry.signals("anchored_vwap", bars(RECLAIM), gated)) == ([4], [])
    monkeypatch.undo()
    # RSI gate: RSI >= level passes (inclusive), just above blocks
    out = registry.evaluate("anchored_vwap", bars(RECLAIM), {**params, "gate_rsi_period": 2})
    rsi4 = out["gate_rsi"].iloc[4]
    assert not np.isnan(rsi4)
    at = {**params, "gate_rsi_period": 2, "gate_rsi_level": rsi4}
    assert where(registry.signals("anchored_vwap", bars(RECLAIM), at)) == ([4], [])
    above = {**at, "gate_rsi_level": rsi4 + 1e-9}
    assert where(registry.signals("anchored_vwap", bars(RECLAIM), above)) == ([], [])


def test_anchored_vwap_nan_rsi_never_blocks() -> None:
    params = {**P1, "buffer_atr_mult": 0.5, "gate_rsi_period": 10, "gate_rsi_level": 99.0}
    assert where(registry.signals("anchored_vwap", bars(RECLAIM), params)) == ([4], [])


def test_confirm_bars_zero_emits_nothing() -> None:
    for name in AVWAP:
        sig = registry.signals(name, noisy(1, 300), {"confirm_bars": 0})
        assert (sig == 0).all()


# ------------------------------------------------- anchored VWAP family vs the reference


CASES = [
    {},
    {"pivot_strength": 2, "confirm_bars": 1, "buffer_atr_mult": 0.1},
    {"pivot_strength": 3, "confirm_bars": 3, "atr_period": 5},
    {"pivot_strength": 2, "confirm_bars": 2, "buffer_atr_mult": 0.0},
]


@pytest.mark.parametrize("name", AVWAP)
@pytest.mark.parametrize("case", range(len(CASES)))
def test_avwap_family_matches_plain_reference(name: str, case: int) -> None:
    extra = dict(CASES[case])
    if name == "anchored_vwap_channel":
        extra["min_width_atr_mult"] = 0.5 if case % 2 else 1.0
    if name == "anchored_vwap_reversion" and case % 2:
        extra["entry_atr_mult"] = 0.75
    params = registry.merged_params(name, extra, "futures")
    total = 0
    for seed in range(4):
        df = noisy(seed, 400, wick=0.004 * (1 + seed))
        got = registry.signals(name, df, params, platform="futures").tolist()
        want = REFS[name](df, **params)
        assert got == want, (
            seed,
            [i for i, (a, b) in enumerate(zip(got, want, strict=True)) if a != b],
        )
        total += sum(map(abs, got))
    assert total > 0  # the comparison exercised real signals


def test_avwap_columns() -> None:
    df = noisy(3, 300)
    out = registry.evaluate("anchored_vwap", df)
    assert list(out.columns) == ["signal", "avwap", "anchor_index", "atr"]
    ph = ref_pivots(df["high"].tolist(), 5, True)
    pl = ref_pivots(df["low"].tolist(), 5, False)
    ref = ref_avwap(df, ref_anchor([a or b for a, b in zip(ph, pl, strict=True)], 5))
    np.testing.assert_allclose(out["avwap"].iloc[11:], ref[11:], rtol=1e-9)
    assert out["atr"].tolist() == pytest.approx(ref_atr(df, 14), nan_ok=True)
    chan = registry.evaluate("anchored_vwap_channel", df)
    assert list(chan.columns) == [
        "signal",
        "avwap_support",
        "avwap_resistance",
        "anchor_low_index",
        "anchor_high_index",
        "atr",
    ]
    rev = registry.evaluate("anchored_vwap_reversion", df)
    assert list(rev.columns) == ["signal", "avwap", "anchor_index", "atr"]


def test_channel_hand_example() -> None:
    # k=1: pivot high at 1 (high 8, known at 2), pivot low at 3 (low 1, known at 4).
    high = [5, 8, 6, 5, 6, 6.5]
    low = [4, 5, 2, 1, 3.8, 3]
    close = [4.5, 6, 3, 2, 4, 5]
    df = bars(close, high=high, low=low)
    params = {"pivot_strength": 1, "confirm_bars": 1, "atr_period": 1, "min_width_atr_mult": 0}
    out = registry.evaluate("anchored_vwap_channel", df, params)
    sup, res, atr = out["avwap_support"], out["avwap_resistance"], out["atr"]
    assert out["anchor_low_index"].tolist() == [-1, -1, -1, -1, 3, 3]
    assert out["anchor_high_index"].tolist() == [-1, -1, -1, 1, 1, 1]  # rows < 3 guarded
    tp = [(h + lo + c) / 3 for h, lo, c in zip(high, low, close, strict=True)]
    assert sup.iloc[4] == pytest.approx((tp[3] + tp[4]) / 2)
    assert res.iloc[5] == pytest.approx(sum(tp[1:6]) / 5)
    # bar 5: low 3 <= support 4.03, close 5 holds above it, bar 4's low 3.8 > support 3.63
    slack = (close[5] - sup.iloc[5]) / atr.iloc[5]
    ok = {**params, "buffer_atr_mult": slack}
    assert where(registry.signals("anchored_vwap_channel", df, ok)) == ([5], [])
    late = {**params, "buffer_atr_mult": slack + 1e-6}
    assert where(registry.signals("anchored_vwap_channel", df, late)) == ([], [])
    # a channel narrower than min_width_atr_mult * ATR is skipped (>= is inclusive)
    width = (res.iloc[5] - sup.iloc[5]) / atr.iloc[5]
    wide = {**ok, "min_width_atr_mult": width}
    assert where(registry.signals("anchored_vwap_channel", df, wide)) == ([5], [])
    narrow = {**ok, "min_width_atr_mult": width + 1e-6}
    assert where(registry.signals("anchored_vwap_channel", df, narrow)) == ([], [])
    # the previous bar must not already sit on support
    touched = bars(close, high=high, low=[4, 5, 2, 1, 3.0, 3])
    assert where(registry.signals("anchored_vwap_channel", touched, ok))[0] == []


# ------------------------------------------------------------------------ momentum_pro


def _stub(monkeypatch: pytest.MonkeyPatch, name: str, value) -> None:
    monkeypatch.setattr(pro.ind, name, value)


MOM = {
    "ema_fast": 2,
    "ema_mid": 3,
    "ema_long": 4,
    "adx_period": 2,
    "adx_threshold": 20.0,
    "pullback_window": 5,
    "vol_period": 3,
    "vol_mult": 1.2,
}  # minimum length max(4, 4, 3) + 5 + 2 = 11: rows >= 10


def _mom_stubs(monkeypatch, emas: dict, adx: float) -> None:
    _stub(monkeypatch, "ema", lambda s, p: pd.Series(emas[p], index=s.index))
    _stub(
        monkeypatch,
        "adx",
        lambda d, p: pd.DataFrame({"adx": pd.Series(adx, index=d.index)}, index=d.index),
    )


def _mom_long() -> pd.DataFrame:
    n = 12
    close, high, low = np.full(n, 102.0), np.full(n, 103.0), np.full(n, 101.5)
    low[5] = 100.5  # the pullback tag below EMA fast 101
    close[10], high[10] = 104.0, 104.5  # close > EMA fast and > prior high 103
    volume = np.full(n, 10.0)
    volume[10] = 14.0  # > SMA3 (11.33) * 1.2 = 13.6
    return bars(close, high=high, low=low, volume=volume)


def test_momentum_pro_long_rule(monkeypatch: pytest.MonkeyPatch) -> None:
    _mom_stubs(monkeypatch, {2: 101.0, 3: 100.0, 4: 99.0}, 25.0)
    df = _mom_long()
    sig = lambda d, **kw: where(registry.signals("momentum_pro", d, {**MOM, **kw}))  # noqa: E731
    assert sig(df) == ([10], [])
    assert sig(df, pullback_window=6) == ([], [])  # minimum length 12: bar 10 is guarded
    assert sig(df, adx_threshold=25.0) == ([], [])  # ADX must be strictly above
    flat_vol = df.assign(volume=10.0)
    assert sig(flat_vol) == ([], [])
    assert sig(flat_vol, vol_mult=0.0) == ([10], [])  # vol_mult <= 0 disables the check
    # the window is bars 5..9 (current bar excluded): a tag on bar 4 is too old
    old = df.copy()
    old.iloc[5, old.columns.get_loc("low")] = 101.5
    old.iloc[4, old.columns.get_loc("low")] = 100.5
    assert sig(old) == ([], [])
    # the touch buffer: 100.5 < 101 * (1 - 0.004) = 100.596, not < 101 * 0.995 = 100.495
    assert sig(df, pullback_touch_buffer_pct=0.004) == ([10], [])
    assert sig(df, pullback_touch_buffer_pct=0.005) == ([], [])
    # EMAs not stacked (fast == mid): no long
    monkeypatch.undo()
    _mom_stubs(monkeypatch, {2: 101.0, 3: 101.0, 4: 99.0}, 25.0)
    assert sig(df) == ([], [])


def test_momentum_pro_mirror_short(monkeypatch: pytest.MonkeyPatch) -> None:
    _mom_stubs(monkeypatch, {2: 99.0, 3: 100.0, 4: 101.0}, 30.0)
    n = 12
    close, high, low = np.full(n, 98.0), np.full(n, 98.5), np.full(n, 97.0)
    high[5] = 99.5
    close[10], low[10] = 96.0, 95.5
    volume = np.full(n, 10.0)
    volume[10] = 14.0
    df = bars(close, high=high, low=low, volume=volume)
    out = registry.evaluate("momentum_pro", df, MOM, platform="perps")
    assert where(out["signal"]) == ([], [10])
    assert list(out.columns) == ["signal", "ema_fast", "ema_mid", "ema_long", "adx", "vol_sma"]
    assert out["adx"].iloc[9] == 0.0 and np.isnan(out["vol_sma"].iloc[9])  # guarded rows
    assert out["adx"].iloc[10] == 30.0 and out["vol_sma"].iloc[10] == pytest.approx(34 / 3)


def test_momentum_pro_entry_fraction_when_vol_targeting_is_asked() -> None:
    df = noisy(2, 300)
    base = pro.momentum_pro(df, **registry.merged_params("momentum_pro"))
    assert "entry_fraction" not in base
    sized = pro.momentum_pro(df, **registry.merged_params("momentum_pro"), vol_target_atr_pct=0.005)
    pd.testing.assert_series_equal(sized["signal"], base["signal"])
    atr_pct = np.asarray(ref_atr(df, 14)) / df["close"].to_numpy()
    want = np.clip(0.005 / atr_pct, 0.10, 1.0)
    np.testing.assert_allclose(sized["entry_fraction"], want, equal_nan=True)
    # the registry accepts the keyword as upstream does (the function takes it by name)
    via_registry = registry.evaluate("momentum_pro", df, {"vol_target_atr_pct": 0.005})
    np.testing.assert_allclose(via_registry["entry_fraction"], want, equal_nan=True)
    with pytest.raises(ValueError, match="unknown param"):
        registry.merged_params("momentum_pro", {"vol_target_atr": 0.01})


# ------------------------------------------------------------------ mean_reversion_pro


def _mr_stubs(monkeypatch, z, rsi, adx) -> pd.DataFrame:
    n = len(z)
    df = bars(np.full(n, 100.0))
    _stub(monkeypatch, "zscore", lambda s, lb: pd.Series(z, index=s.index, dtype=float))
    _stub(monkeypatch, "rsi", lambda s, p: pd.Series(rsi, index=s.index, dtype=float))
    _stub(
        monkeypatch,
        "adx",
        lambda d, p: pd.DataFrame({"adx": pd.Series(adx, index=d.index, dtype=float)}),
    )
    return df


MR = {"lookback": 2, "adx_period": 2, "rsi_period": 2, "confirm_window": 2}  # guard: rows >= 7


def test_mean_reversion_pro_base_cross(monkeypatch: pytest.MonkeyPatch) -> None:
    nan = np.nan
    z = [0, 0, 0, 0, 0, -2.5, -2.0, -1.9, 0, 2.0, 1.9, 0]
    rsi = [50, 50, 50, 50, 50, 25, 50, 50, 50, 75, 50, 50]
    adx = [nan, nan, 10, 10, 10, 10, 10, 10, 10, 10, 10, 10]
    df = _mr_stubs(monkeypatch, z, rsi, adx)
    # +1 at 7: z crosses above -2 (prev -2.0 <= -2), RSI < 30 at 5 within bars 5..6
    # -1 at 10: z < 2 with prev 2.0 >= 2, RSI > 70 at 9
    out = registry.evaluate("mean_reversion_pro", df, MR)
    assert where(out["signal"]) == ([7], [10])
    assert list(out.columns) == ["signal", "z_score", "adx", "rsi"]
    # was_os excludes the current bar and looks back exactly confirm_window bars
    df = _mr_stubs(monkeypatch, z, [50, 50, 50, 50, 25, 50, 50, 50, 50, 75, 50, 50], adx)
    assert where(registry.signals("mean_reversion_pro", df, MR)) == ([], [10])
    # ADX gate is strict: adx == adx_max blocks
    df = _mr_stubs(monkeypatch, z, rsi, [25.0] * 12)
    assert where(registry.signals("mean_reversion_pro", df, MR)) == ([], [])
    # the row guard: with lookback 5 the minimum length is 9, so bar 7 is silenced
    df = _mr_stubs(monkeypatch, z, rsi, adx)
    assert where(registry.signals("mean_reversion_pro", df, {**MR, "lookback": 5})) == ([], [10])


def test_mean_reversion_pro_touch_and_turn(monkeypatch: pytest.MonkeyPatch) -> None:
    z = [0, 0, 0, 0, 0, 0, 0, -1.0, -2.0, -2.5, -2.2, -1.0, 1.0, 2.0, 2.5, 2.2, 1.0]
    rsi = [50] * 8 + [25, 50, 50, 50, 50, 75, 50, 50, 50]
    df = _mr_stubs(monkeypatch, z, rsi, [10.0] * len(z))
    mr3 = {**MR, "confirm_window": 3}  # rows >= 8
    assert where(registry.signals("mean_reversion_pro", df, mr3)) == ([11], [16])
    # touch: z <= -2 with prev > -2 (bar 8, RSI < 30 now counts as evidence); short at 13
    touch = registry.signals("mean_reversion_pro", df, {**mr3, "touch_entry": 1})
    assert where(touch) == ([8, 11], [13, 16])
    # turn: z <= -2 and rising (bar 10 via was_os); short: z >= 2 and falling (bar 15)
    turn = registry.signals("mean_reversion_pro", df, {**mr3, "turn_entry": 1})
    assert where(turn) == ([10, 11], [15, 16])


def test_mean_reversion_pro_short_wins_ties(monkeypatch: pytest.MonkeyPatch) -> None:
    # entry_std 0, z from +1 to -1 on bar 8, RSI both oversold (6) and overbought (7) in the
    # prior window: the long touch and the short base cross both fire -> -1 wins
    z = [0, 0, 0, 0, 0, 0, 1.0, 1.0, -1.0, -0.5]
    rsi = [50] * 6 + [25, 75, 50, 50]
    df = _mr_stubs(monkeypatch, z, rsi, [10.0] * 10)
    params = {**MR, "entry_std": 0.0}
    assert where(registry.signals("mean_reversion_pro", df, params)) == ([], [8])
    assert where(registry.signals("mean_reversion_pro", df, {**params, "touch_entry": 1})) == (
        [],
        [8],
    )
    # without the overbought bar only the long touch remains
    df = _mr_stubs(monkeypatch, z, [50] * 6 + [25, 50, 50, 50], [10.0] * 10)
    assert where(registry.signals("mean_reversion_pro", df, {**params, "touch_entry": 1})) == (
        [8],
        [],
    )


# ------------------------------------------------------------------------ rsi_bb_combo


def test_rsi_bb_combo_rule(monkeypatch: pytest.MonkeyPatch) -> None:
    rsi = [50.0] * 14
    rsi[8], rsi[11] = 25.0, 75.0
    box = {"rsi": rsi}
    _stub(monkeypatch, "rsi", lambda s, p: pd.Series(box["rsi"], index=s.index, dtype=float))
    close = [10.0] * 8 + [7.0, 10.0, 10.0, 13.0, 10.0, 10.0]
    df = bars(close)
    params = {"bb_period": 3, "rsi_period": 2, "confirm_window": 3}  # guard: rows >= 7
    out = registry.evaluate("rsi_bb_combo", df, params)
    assert list(out.columns) == ["signal", "bb_middle", "bb_upper", "bb_lower", "rsi"]
    # sample std of [10, 10, 7] is sqrt(3): lower = 9 - 2*sqrt(3) = 5.54 < 7, no break
    assert out["bb_lower"].iloc[8] == pytest.approx(9 - 2 * math.sqrt(3))
    assert np.isnan(out["bb_lower"].iloc[6])  # guarded row
    assert where(out["signal"]) == ([], [])
    # bb_std 0.5: lower 8.13 -> close 7 breaks it on 8, re-enters on 9 (RSI 25 on 8 is in
    # the window 6..8); upper 11.87 -> close 13 on 11, back inside on 12 (RSI 75 on 11).
    # The flat start has zero-width bands: close == band is neither above nor below.
    tight = {**params, "bb_std": 0.5}
    assert where(registry.signals("rsi_bb_combo", df, tight)) == ([9], [12])
    rsi[8] = 50.0
    rsi[5] = 25.0  # outside the prior window of bar 9
    assert where(registry.signals("rsi_bb_combo", df, tight)) == ([], [12])
    rsi[5], rsi[9] = 50.0, 25.0  # the current bar does not count either
    assert where(registry.signals("rsi_bb_combo", df, tight)) == ([], [12])


def test_rsi_bb_combo_guard_columns_are_nan() -> None:
    out = registry.evaluate("rsi_bb_combo", noisy(0, 24))
    assert (out["signal"] == 0).all() and out.drop(columns="signal").isna().all().all()


# ---------------------------------------------------------------- consolidation_range


def test_consolidation_range_level_triggered() -> None:
    high = [101, 101, 101, 101, 101, 101]
    low = [99, 99, 99, 99, 99, 99]
    close = [100, 99.4, 100.6, 99.2, 100.8, 100]
    df = bars(close, high=high, low=low)
    p = {"min_bars": 3, "box_width_pct": 0.02, "edge_entry_frac": 0.2}
    out = registry.evaluate("consolidation_range", df, p, platform="perps")
    # height 2, mid 100 -> width 0.02 <= 0.02 (inclusive); pos 0.2 / 0.8 are inclusive edges
    assert where(out["signal"]) == ([3], [4])
    assert out["in_range"].tolist() == [0, 0, 1, 1, 1, 1]
    assert out["box_mid"].iloc[2] == 100.0
    p["box_width_pct"] = 0.0199
    assert where(registry.signals("consolidation_range", df, p, platform="perps")) == ([], [])
    # flat box: height 0 -> pos NaN -> no signal even though width 0 is "in range"
    flat = bars([100.0] * 5)
    out = registry.evaluate("consolidation_range", flat, {"min_bars": 2}, platform="perps")
    assert (out["signal"] == 0).all() and out["in_range"].iloc[1:].eq(1).all()
    # edge_entry_frac 0.5: the midpoint is both edges, -1 wins
    mid = bars([100.0, 100.0, 100.0], high=[101] * 3, low=[99] * 3)
    sig = registry.signals(
        "consolidation_range", mid, {"min_bars": 2, "edge_entry_frac": 0.5}, platform="futures"
    )
    assert sig.tolist() == [0, -1, -1]


# -------------------------------------------------------------------- atr_band_revert


def test_atr_band_revert_levels_and_variant() -> None:
    close = [100.0, 100.0, 94.0, 100.0, 106.0, 112.0]
    high = [100, 100, 98, 100, 106, 112]
    low = [100, 100, 94, 94, 100, 106]
    df = bars(close, high=high, low=low)
    p = {"period": 2, "atr_period": 1, "k_entry": 0.5}
    out = registry.evaluate("atr_band_revert", df, p)
    assert list(out.columns) == ["signal", "atr", "band_mid", "band_lower", "band_upper"]
    # ATR(1) = TR (NaN on bar 0); SMA(2). Bar 1: TR 0, both bands at 100 == close.
    # Bar 2: mid 97, TR 6 -> lower 94 == close (inclusive). Bar 3: mid 97, upper 100 == close.
    # Bars 4, 5: upper 106 and 112 == close (level-triggered, every bar).
    assert out["band_lower"].iloc[2] == 94.0 and out["band_upper"].iloc[4] == 106.0
    assert where(out["signal"]) == ([1, 2], [])  # spot: allow_short False
    # perps/futures variant allow_short True; bar 1 touches both bands and -1 wins
    assert where(registry.signals("atr_band_revert", df, p, platform="perps")) == (
        [2],
        [1, 3, 4, 5],
    )
    assert where(
        registry.signals("atr_band_revert", df, {**p, "allow_short": False}, platform="futures")
    ) == ([1, 2], [])


def test_atr_band_revert_rounds_large_atr() -> None:
    close = [1000.0, 1000.0, 1000.0]
    df = bars(close, high=[1000, 1100.5, 1000], low=[1000, 1000, 1000])
    out = registry.evaluate("atr_band_revert", df, {"period": 1, "atr_period": 1, "k_entry": 1.0})
    assert out["atr"].iloc[1] == 100.0 and out["band_lower"].iloc[1] == 900.0


# ------------------------------------------------------------------- analog_retrieval


def ref_analog(df, feat_window, atr_period, vol_baseline, horizon, k_neighbors, min_index,
               max_index, min_t_stat, min_edge_atr):  # fmt: skip
    """Plain-loop analog retrieval from the catalogue text (our EMA/ATR as the inputs)."""
    from shared_tools import indicators as ind

    w, c = feat_window, df["close"].tolist()
    n = len(c)
    atr = ref_atr(df, atr_period)
    ema_w, ema_4w = ind.ema(df["close"], w).tolist(), ind.ema(df["close"], 4 * w).tolist()
    atr_pct = [a / x for a, x in zip(atr, c, strict=True)]
    feats = []
    for t in range(n):
        net = c[t] - c[t - w] if t >= w else math.nan
        path = sum(abs(c[i] - c[i - 1]) for i in range(t - w + 1, t + 1)) if t >= w else math.nan
        ret_eff = net / path if path > 0 else 0.0
        mom = net / (atr[t] * math.sqrt(w)) if atr[t] else math.nan
        base = atr_pct[t - vol_baseline + 1 : t + 1] if t >= vol_baseline - 1 else []
        sma = sum(base) / vol_baseline if len(base) == vol_baseline else math.nan
        vol_ratio = atr_pct[t] / sma if sma else math.nan
        trend = (ema_w[t] - ema_4w[t]) / atr[t] if atr[t] else math.nan
        row = [ret_eff, mom, atr_pct[t], vol_ratio, trend]
        feats.append([v if math.isfinite(v) else math.nan for v in row])
    sig, out_m = [0] * n, [math.nan] * n
    for t in range(n):
        if not all(math.isfinite(v) for v in feats[t]):
            continue
        elig = [j for j in range(t - horizon + 1) if all(math.isfinite(v) for v in feats[j])]
        if not elig or len(elig) < max(min_index, 1):
            continue
        mu, sd = [], []
        for f in range(5):
            vals = [feats[j][f] for j in range(t + 1) if not math.isnan(feats[j][f])]
            m = sum(vals) / len(vals)
            s = math.sqrt(sum((v - m) ** 2 for v in vals) / (len(vals) - 1))
            mu.append(m)
            sd.append(s if s != 0 else 1.0)
        if max_index > 0:
            elig = elig[-max_index:]
        q = [(feats[t][f] - mu[f]) / sd[f] for f in range(5)]
        dist = {
            j: math.sqrt(sum(((feats[j][f] - mu[f]) / sd[f] - q[f]) ** 2 for f in range(5)))
            for j in elig
        }
        near = sorted(elig, key=lambda j: dist[j])[:k_neighbors]
        fwd = [c[j + horizon] / c[j] - 1 for j in near]
        if len(fwd) < 2:
            continue
        m = sum(fwd) / len(fwd)
        s = math.sqrt(sum((v - m) ** 2 for v in fwd) / (len(fwd) - 1))
        ts = m / (s / math.sqrt(len(fwd))) if s > 0 else math.copysign(math.inf, m)
        out_m[t] = m
        if abs(m) >= min_edge_atr * atr_pct[t] * math.sqrt(horizon) and abs(ts) >= min_t_stat:
            sig[t] = 1 if m > 0 else -1
    return sig, out_m


def test_analog_retrieval_matches_plain_reference() -> None:
    params = {
        "feat_window": 4,
        "atr_period": 3,
        "vol_baseline": 5,
        "horizon": 3,
        "k_neighbors": 5,
        "min_index": 10,
        "max_index": 30,
        "min_t_stat": 1.0,
        "min_edge_atr": 0.1,
    }
    df = noisy(7, 120)
    out = registry.evaluate("analog_retrieval", df, params)
    sig, mean_fwd = ref_analog(df, **params)
    assert out["signal"].tolist() == sig
    assert (out["signal"] != 0).sum() > 5
    np.testing.assert_allclose(out["analog_mean_fwd"], mean_fwd, rtol=1e-9, equal_nan=True)
    # min_index bounds the history: first analog row is the one with 10 eligible rows
    first = int(np.flatnonzero(out["analog_k"].notna())[0])
    assert out["analog_k"].iloc[first] == 5
    assert list(out.columns) == ["signal", "analog_mean_fwd", "analog_t_stat", "analog_k", "atr"]


def test_analog_retrieval_is_backtest_only() -> None:
    spec = registry.get("analog_retrieval")
    assert spec.status == "backtest_only" and not spec.can_short and spec.short_name == "ar"
    with pytest.raises(ValueError, match="backtest-only"):
        registry.ensure_live("analog_retrieval")
    with pytest.raises(ValueError, match="'horizon > 0'"):
        registry.merged_params("analog_retrieval", {"horizon": 0})


def test_analog_retrieval_zero_spread_t_stat_is_infinite() -> None:
    # A steady doubling: every analog has the same forward return, so s == 0 -> t = +inf
    close = 2.0 ** np.arange(150.0)  # exact ratios: every forward return is 2**3 - 1
    df = bars(close, high=close * 1.001, low=close * 0.999)
    params = {"feat_window": 4, "atr_period": 3, "vol_baseline": 5, "min_index": 5, "horizon": 3}
    out = registry.evaluate("analog_retrieval", df, params)
    done = out["analog_t_stat"].dropna()
    assert len(done) and np.isinf(done).all() and (done > 0).all()
    assert (out["signal"][out["analog_t_stat"].notna()] == 1).all()
