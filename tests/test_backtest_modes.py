"""The backtester's issue-20 modes: bar_close stops, the HTF filter, the regime gate's window,
margin_per_trade_usd sizing and the close-stack sweep (backtest/). Each test runs the same
candles with and without the option and shows the trade that changes."""

from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from backtest import close_stacks, htf_bars, optimizer, regime_bars
from backtest.backtester import BacktestSettings, run_signals
from shared_tools import htf_filter
from shared_tools import regime as rg

T0 = pd.Timestamp("2024-01-01", tz="UTC")
FREE = dict(fee_pct=0.0, slippage_bps=0.0)


def frame(opens, highs=None, lows=None, closes=None, freq="1h", start=T0) -> pd.DataFrame:
    o = np.asarray(opens, float)
    c = np.asarray(closes if closes is not None else opens, float)
    h = np.asarray(highs, float) if highs is not None else np.maximum(o, c) + 1.0
    lo = np.asarray(lows, float) if lows is not None else np.minimum(o, c) - 1.0
    return pd.DataFrame(
        {"open": o, "high": h, "low": lo, "close": c, "volume": 1.0},
        index=pd.date_range(start, periods=len(o), freq=freq),
    )


def walk(n: int, seed: int, start: float = 100.0, step: float = 0.01, freq="1h") -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    close = start * np.exp(np.cumsum(rng.normal(0, step, n)))
    opens = np.r_[start, close[:-1]]
    spread = np.abs(rng.normal(0, step, n)) * close
    return frame(
        opens, np.maximum(opens, close) + spread, np.minimum(opens, close) - spread, close, freq
    )


def sig(n: int, events: dict[int, int]) -> pd.Series:
    s = np.zeros(n, dtype=np.int64)
    for i, v in events.items():
        s[i] = v
    return pd.Series(s)


# ------------------------------------------------------------------ intrabar_resolution


def test_bar_close_ignores_a_wick_through_the_stop_that_ohlc_walk_fills():
    # long from bar 1's open at 100 with a 5% stop (95); bar 2 wicks to 90 and closes at 99;
    # bar 4 closes at 94 (below the stop); bar 5 opens at 93
    df = frame(
        [100, 100, 100, 99, 97, 93, 92],
        highs=[101, 101, 101, 100, 98, 94, 93],
        lows=[99, 99, 90, 98, 93, 92, 91],
        closes=[100, 100, 99, 97, 94, 92, 92],
    )
    signals = sig(len(df), {0: 1})
    walked = run_signals(df, signals, BacktestSettings(stop_loss_pct=5.0, **FREE))
    closed = run_signals(
        df, signals, BacktestSettings(stop_loss_pct=5.0, intrabar_resolution="bar_close", **FREE)
    )
    (w,) = walked.trades
    assert (w.reason, w.exit_time, w.exit_price) == ("stop_loss", df.index[2], 95.0)
    (c,) = closed.trades
    # seen on bar 4's close (94 <= 95), filled at bar 5's open (93)
    assert (c.reason, c.exit_time, c.exit_price) == ("stop_loss", df.index[5], 93.0)


def test_bar_close_takes_profit_on_the_close_and_fills_next_open():
    df = frame(
        [100, 100, 103, 106, 104],
        highs=[101, 101, 111, 107, 105],
        lows=[99, 99, 102, 105, 103],
        closes=[100, 103, 106, 104, 104],
    )
    tp = {
        "name": "tiered_tp_pct",
        "params": {"tp_tiers": [{"profit_pct": 0.05, "close_fraction": 1}]},
    }
    base = dict(close_strategies=(tp,), **FREE)
    (w,) = run_signals(df, sig(len(df), {0: 1}), BacktestSettings(**base)).trades
    assert (w.reason, w.exit_time, w.exit_price) == ("take_profit", df.index[2], 105.0)
    closed = BacktestSettings(intrabar_resolution="bar_close", **base)
    (c,) = run_signals(df, sig(len(df), {0: 1}), closed).trades
    assert (c.reason, c.exit_time, c.exit_price) == ("take_profit", df.index[3], 106.0)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 10_000), pct=st.floats(0.5, 4.0), trailing=st.booleans())
def test_bar_close_stop_is_the_first_close_past_it_filled_next_open(seed, pct, trailing):
    """Against a plain loop: the fill is the open after the first close beyond the stop."""
    n = 120
    df = walk(n, seed)
    key = "trailing_stop_pct" if trailing else "stop_loss_pct"
    s = BacktestSettings(intrabar_resolution="bar_close", **{key: pct}, **FREE)
    r = run_signals(df, sig(n, {0: 1}), s)
    entry = float(df["open"].iloc[1])
    best, want = entry, None
    stop = entry * (1 - pct / 100.0)
    for t in range(1, n - 1):
        close = float(df["close"].iloc[t])
        if close <= stop:
            want = t + 1
            break
        if trailing and close > best:  # the trail moves by at least 0.5% of the stop (default)
            best = close
            if close * (1 - pct / 100.0) - stop >= 0.005 * stop:
                stop = close * (1 - pct / 100.0)
    first = r.trades[0]
    if want is None:
        assert first.reason == "end"
    else:
        assert first.exit_time == df.index[want]
        assert first.exit_price == pytest.approx(float(df["open"].iloc[want]))


def test_unknown_intrabar_resolution_is_refused():
    with pytest.raises(ValueError, match="intrabar_resolution"):
        run_signals(frame([1, 2, 3]), sig(3, {}), BacktestSettings(intrabar_resolution="tick"))


# ------------------------------------------------------------------ HTF filter


def htf_frame(n: int, seed: int) -> pd.DataFrame:
    return walk(n, seed, step=0.03, freq="4h")


def test_htf_trend_per_bar_equals_the_live_filter_at_every_close():
    """The live ``htf_trend`` fed the 4h bars closed by each 1h close gives the same trend."""
    htf = htf_frame(150, 3)  # < HTF_CANDLES: the live fetch sees the same seed as the backtest
    times = pd.date_range(T0, periods=150 * 4, freq="1h")
    got = htf_bars.trend_per_bar(times, "1h", htf)
    htf_close = htf.index + pd.Timedelta(hours=4)
    for t in range(0, len(times), 3):
        now = times[t] + pd.Timedelta(hours=1)

        def fetch(_s: str, _tf: str, limit: int, now=now) -> pd.DataFrame:
            return htf[htf_close <= now].iloc[-limit:]

        assert got[t] == htf_filter.htf_trend("BTC/USDT", "1h", fetch)["htf_trend"], times[t]
    assert {1, -1} <= set(got.tolist())


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 10_000), cut=st.integers(1, 599), noise=st.integers(0, 10_000))
def test_htf_trend_never_reads_an_htf_bar_before_it_closed(seed, cut, noise):
    """Rewrite every HTF bar that has not closed by bar ``cut``'s close: the trend of every bar
    up to ``cut`` stays the same (no look-ahead)."""
    htf = htf_frame(150, seed)
    times = pd.date_range(T0, periods=600, freq="1h")
    full = htf_bars.trend_per_bar(times, "1h", htf)
    decided = times[cut] + pd.Timedelta(hours=1)
    future = (htf.index + pd.Timedelta(hours=4)) > decided
    changed = htf.copy()
    changed.loc[future, "close"] = htf_frame(150, noise)["close"].to_numpy()[future] * 3
    again = htf_bars.trend_per_bar(times, "1h", changed)
    assert (again[: cut + 1] == full[: cut + 1]).all()


def test_htf_filter_drops_a_counter_trend_entry():
    n = 400
    df = walk(n, 11, step=0.005)
    htf = htf_frame(120, 5)
    htf.index = pd.date_range(T0 - pd.Timedelta(hours=4 * 60), periods=120, freq="4h")
    df = htf_bars.attach(df, "1h", htf)
    trend = df[htf_bars.COLUMN].to_numpy()
    down = int(np.flatnonzero(trend == -1)[0])
    up = int(np.flatnonzero(trend == 1)[0])
    signals = sig(n, {down: 1, down + 2: -1, up: 1, up + 2: -1})
    plain = run_signals(df, signals, BacktestSettings(**FREE))
    filtered = run_signals(df, signals, BacktestSettings(htf_filter=True, **FREE))
    assert {t.entry_time for t in plain.trades} == {df.index[down + 1], df.index[up + 1]}
    assert [t.entry_time for t in filtered.trades] == [df.index[up + 1]]
    with pytest.raises(ValueError, match="htf_filter_trend"):
        run_signals(df.drop(columns=[htf_bars.COLUMN]), signals, BacktestSettings(htf_filter=True))
    # delta_neutral_funding is never filtered, as live
    kept = htf_bars.filter_signals(signals.to_numpy(), df, "delta_neutral_funding")
    assert (kept == signals.to_numpy()).all()


def test_no_htf_candles_pass_every_signal():
    times = pd.date_range(T0, periods=5, freq="1D")
    assert not htf_bars.trend_per_bar(times, "1d", None).any()  # 1d -> 1w: not served


# ------------------------------------------------------------------ regime_gate_window

SPEC = {
    "fast": {"classifier": "adx", "period": 5, "adx_threshold": 30},
    "medium": {"classifier": "composite", "period": 20},
}


@pytest.mark.parametrize("name", list(SPEC))
def test_window_labels_equal_the_live_classifier_bar_by_bar(name):
    df = walk(260, 21, step=0.012)
    labels = regime_bars.window_labels(df, SPEC[name])
    for t in range(0, len(df), 7):
        live = rg.classify_window(df.iloc[: t + 1], SPEC[name])["regime"]
        assert labels[t] == live, (name, t)
    assert len(set(labels.tolist())) > 1


def test_regime_gate_window_picks_the_label_the_gate_reads():
    n = 300
    df = walk(n, 21, step=0.012)
    spec = json.dumps(SPEC)
    fast = regime_bars.gate_labels(df, spec, "fast")
    medium = regime_bars.gate_labels(df, spec, "")  # the primary window: medium
    assert (medium == regime_bars.window_labels(df, SPEC["medium"])).all()
    # a bar where the fast window trends up and the medium window does not
    bar = next(
        t for t in range(60, n - 3) if fast[t] == "trending_up" and medium[t] != "trending_up"
    )
    signals = sig(n, {bar: 1, bar + 1: -1})
    gate = dict(regime_enabled=True, allowed_regimes=("trending_up",), regime_windows=spec, **FREE)
    by_fast = run_signals(df, signals, BacktestSettings(regime_gate_window="fast", **gate))
    by_primary = run_signals(df, signals, BacktestSettings(**gate))
    assert [t.entry_time for t in by_fast.trades] == [df.index[bar + 1]]
    assert by_primary.trades == []
    with pytest.raises(ValueError, match="regime_gate_window 'slow'"):
        run_signals(df, signals, BacktestSettings(regime_gate_window="slow", **gate))


# ------------------------------------------------------------------ margin_per_trade_usd


def test_margin_per_trade_usd_sizes_the_perps_notional():
    df = frame([100, 100, 100, 102, 104])
    signals = sig(len(df), {0: 1, 3: -1})
    perps = dict(instrument="perps", leverage=3.0, **FREE)
    (default,) = run_signals(df, signals, BacktestSettings(**perps)).trades
    (margin,) = run_signals(
        df, signals, BacktestSettings(margin_per_trade_usd=100.0, **perps)
    ).trades
    assert default.quantity * 100.0 == pytest.approx(3000.0)  # cash * leverage
    assert margin.quantity * 100.0 == pytest.approx(300.0)  # min(100, cash) * leverage
    assert margin.pnl == pytest.approx(3.0 * 4.0)
    with pytest.raises(ValueError, match="margin_per_trade_usd"):
        run_signals(df, signals, BacktestSettings(margin_per_trade_usd=100.0))  # spot


# ------------------------------------------------------------------ close stacks


def test_default_close_stacks_are_upstreams_25():
    stacks = close_stacks.default_stacks()
    assert len(stacks) == 25 and len({s.label for s in stacks}) == 25
    assert stacks[0].label == "baseline" and stacks[0].overrides()["close_strategies"] == ()
    assert sum(1 for s in stacks if not s.close_strategies and s.stop_key) == 6
    ladders = [s for s in stacks if s.close_strategies]
    assert len(ladders) == 18
    assert {s.stop_key for s in ladders} == {"", "stop_loss_atr_mult", "trailing_stop_atr_mult"}
    tight = next(s for s in ladders if s.label == "tp_tight")
    tiers = tight.close_strategies[0]["params"]["tp_tiers"]
    assert [(t["atr_multiple"], t["close_fraction"]) for t in tiers] == [(1, 0.5), (2, 0.8), (3, 1)]


def test_close_stacks_json_checks_each_stack():
    def ref(text: str) -> dict:
        return json.loads(text) if text.startswith("{") else {"name": text, "params": {}}

    got = close_stacks.parse_stacks_json(
        '[["tp_at_pct"], {"label": "wide", "stop_loss_atr_mult": 4}]', ref
    )
    assert [g.label for g in got] == ["tp_at_pct", "wide"]
    assert got[1].overrides()["stop_loss_atr_mult"] == 4.0
    for bad, why in [
        ("{}", "non-empty JSON array"),
        ("[1]", "array of close refs or an object"),
        ('[{"stop_loss_pct": 1, "trailing_stop_pct": 2}]', "one stop per stack"),
        ('[{"stop": 1}]', "unknown key"),
        ("[", "invalid JSON"),
    ]:
        with pytest.raises(ValueError, match=why):
            close_stacks.parse_stacks_json(bad, ref)


def test_sweep_close_picks_the_best_stack_of_each_fold():
    df = walk(900, 9, step=0.01)
    stacks = close_stacks.default_stacks()[:4]  # baseline and the three ATR stop-losses
    settings_ = BacktestSettings(symbol="X", timeframe="1h", **FREE)
    grid = [{"fast_period": 5, "slow_period": 20}]
    wf = optimizer.walk_forward(
        df, "sma_crossover", settings_, grid=grid, n_splits=2, workers=1, close_stacks=stacks
    )
    labels = {s.label for s in stacks}
    for fold in wf.folds:
        assert fold.close_stack in labels
        # the fold's winner scores at least as well on its training bars as every other stack
        train_hi = df.index.get_loc(fold.train[1]) + 1
        scores = {
            s.label: optimizer.score(
                optimizer.sweep(
                    df.iloc[:train_hi],
                    "sma_crossover",
                    grid,
                    replace(settings_, **s.overrides()),
                    since=fold.train[0],
                    workers=1,
                )[0][1]
            )
            for s in stacks
        }
        assert scores[fold.close_stack] == max(scores.values())
    # on these candles a 2-ATR stop beats the open-as-close baseline in both folds, and the
    # out-of-sample run trades with it
    assert [f.close_stack for f in wf.folds] == ["sl_atr_2", "sl_atr_2"]
    assert wf.summary["most_common_close_stack"] == "sl_atr_2"
    plain = optimizer.walk_forward(df, "sma_crossover", settings_, grid=grid, n_splits=2, workers=1)
    assert all(f.close_stack == "" for f in plain.folds)
    assert [f.out_of_sample["total_return_pct"] for f in plain.folds] != [
        f.out_of_sample["total_return_pct"] for f in wf.folds
    ]
