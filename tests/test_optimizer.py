"""backtest.optimizer: parameter grids from the registry, sweeps (in-process, local pool, Dask)
and walk-forward folds. Generated data only."""

from __future__ import annotations

import math
import statistics
import sys

import numpy as np
import pandas as pd
import pytest

from backtest import backtester, optimizer
from backtest.backtester import BacktestSettings
from backtest.metrics import metrics
from backtest.optimizer import OptimizerError
from shared_strategies.open import registry
from shared_strategies.open.common import frame as strategy_frame
from shared_strategies.open.specs import SPECS, VARIANTS, register

SETTINGS = BacktestSettings(timeframe="4h", fee_pct=0.1)
NO_COST = BacktestSettings(timeframe="4h", fee_pct=0.0)
SMA_GRID = [{"fast_period": f, "slow_period": s} for f in (5, 10, 20) for s in (30, 60)]


def market(n: int = 600, seed: int = 7, freq: str = "4h") -> pd.DataFrame:
    """A random walk with drift; a funding rate and a paired close for the strategies that read them."""
    rs = np.random.RandomState(seed)
    close = 100.0 * np.exp(np.cumsum(rs.normal(0.0004, 0.012, n)))
    return ohlcv(close, rs, freq)


def ohlcv(close: np.ndarray, rs: np.random.RandomState, freq: str = "4h") -> pd.DataFrame:
    n = len(close)
    open_ = np.r_[close[0], close[:-1]]
    wick = np.abs(rs.normal(0.0, 0.003, n))
    return pd.DataFrame(
        {
            "open": open_,
            "high": np.maximum(open_, close) * (1.0 + wick),
            "low": np.minimum(open_, close) * (1.0 - wick),
            "close": close,
            "volume": rs.lognormal(8.0, 0.6, n),
            "funding_rate": rs.normal(0.0001, 0.0001, n),
            "close_b": close * np.exp(rs.normal(0.0, 0.01, n)),
        },
        index=pd.date_range("2024-01-01", periods=n, freq=freq, tz="UTC"),
    )


@pytest.fixture(scope="module")
def df() -> pd.DataFrame:
    return market()


@pytest.fixture
def temp_strategy():
    """Register throwaway strategies; removed from the registry afterwards."""
    added: list[str] = []

    def add(name: str, fn, **kwargs) -> str:
        register(name, short=name, description="test", **kwargs)(fn)
        added.append(name)
        return name

    yield add
    for name in added:
        SPECS.pop(name, None)
        VARIANTS.pop(name, None)


def _never(df: pd.DataFrame, **_params) -> pd.DataFrame:
    return strategy_frame(df, np.zeros(len(df)))


def _fails_on_two(df: pd.DataFrame, *, x: int) -> pd.DataFrame:
    if x == 2:
        raise ZeroDivisionError("x=2 is broken")
    return strategy_frame(df, np.zeros(len(df)))


def _clean(rows):
    """(params, metrics) rows, asserting no combo failed."""
    for _params, m in rows:
        assert "error" not in m, m["error"]
    return rows


# ------------------------------------------------------------------ grids


@pytest.mark.parametrize("name", list(SPECS))
def test_every_strategy_grid_is_valid_and_runs(name: str) -> None:
    spec = SPECS[name]
    platform = spec.platforms[0]
    grid = optimizer.param_grid(name, platform)
    assert grid, name
    keys = [tuple(sorted(combo)) for combo in grid]
    assert len(set(map(repr, grid))) == len(grid), "duplicate combos"
    if spec.ranges:
        assert set(keys) == {tuple(sorted(spec.ranges))}
        assert len(grid) <= math.prod(len(v) for v in spec.ranges.values())
        for key, values in spec.ranges.items():
            used = {combo[key] for combo in grid}
            assert used == set(values), f"{name}.{key}: values {set(values) - used} never valid"
    else:
        assert grid == [registry.get(name, platform).default_params]
    for combo in grid:
        registry.merged_params(name, combo, platform)  # raises on a broken constraint
    bars = market(400, seed=3, freq="1h")
    for combo in (grid[0], grid[-1]):  # the smallest and the largest settings
        sig = registry.signals(name, bars, combo, platform)
        assert len(sig) == 400 and set(sig.unique()) <= {-1, 0, 1}


def test_upstream_ranges_are_used_where_upstream_names_the_strategy() -> None:
    sma = optimizer.param_grid("sma_crossover")
    assert len(sma) == 16 and sma[0] == {"fast_period": 10, "slow_period": 40}
    assert sma[-1] == {"fast_period": 25, "slow_period": 80}
    assert len(optimizer.param_grid("macd")) == 27
    assert len(optimizer.param_grid("momentum_pro")) == 243
    assert optimizer.param_grid("hold") == [{}]


def test_grid_skips_combos_the_constraints_reject(temp_strategy) -> None:
    name = temp_strategy(
        "t_cross",
        _never,
        defaults={"fast": 5, "slow": 20},
        constraints=("fast < slow",),
        ranges={"fast": [5, 10, 20], "slow": [10, 20]},
    )
    assert optimizer.param_grid(name) == [
        {"fast": 5, "slow": 10},
        {"fast": 5, "slow": 20},
        {"fast": 10, "slow": 20},
    ]


def test_strategy_without_ranges_gets_its_defaults_per_platform(temp_strategy) -> None:
    name = temp_strategy(
        "t_plain", _never, defaults={"a": 1, "b": 2.0}, variants={"perps": {"b": 3.0}}
    )
    assert optimizer.param_grid(name) == [{"a": 1, "b": 2.0}]
    assert optimizer.param_grid(name, "perps") == [{"a": 1, "b": 3.0}]


def test_ranges_are_checked_at_registration(temp_strategy) -> None:
    with pytest.raises(ValueError, match="unknown params"):
        temp_strategy("t_bad1", _never, defaults={"a": 1}, ranges={"b": [1, 2]})
    with pytest.raises(ValueError, match="not of type int"):
        temp_strategy("t_bad2", _never, defaults={"a": 1}, ranges={"a": [1, "2"]})
    with pytest.raises(ValueError, match="non-empty"):
        temp_strategy("t_bad3", _never, defaults={"a": 1}, ranges={"a": []})
    with pytest.raises(ValueError, match="repeats"):
        temp_strategy("t_bad4", _never, defaults={"a": 1}, ranges={"a": [1, 1]})
    name = temp_strategy("t_widen", _never, defaults={"k": 1.5}, ranges={"k": [1, 2.5]})
    assert SPECS[name].ranges == {"k": (1.0, 2.5)}
    assert all(type(c["k"]) is float for c in optimizer.param_grid(name))


def test_unknown_strategy_or_platform_is_refused() -> None:
    with pytest.raises(registry.UnknownStrategyError):
        optimizer.param_grid("no_such_strategy")
    with pytest.raises(registry.UnknownStrategyError):
        optimizer.param_grid("pairs_spread", "perps")


def test_list_json_carries_the_ranges() -> None:
    rows = {r["id"]: r for r in registry.list_json(include_all=True)}
    assert rows["sma_crossover"]["ranges"] == {
        "fast_period": [10, 15, 20, 25],
        "slow_period": [40, 50, 60, 80],
    }
    assert rows["hold"]["ranges"] == {}


# ------------------------------------------------------------------ scoring


def test_score_and_tie_breaking() -> None:
    a = {"sharpe": 1.0, "total_return_pct": 10.0, "max_drawdown_pct": -5.0, "final_equity": 1100}
    b = {"sharpe": None, "total_return_pct": 3.0, "max_drawdown_pct": -0.2, "final_equity": 1030}
    liq = {"sharpe": -100.0, "total_return_pct": -100.0, "max_drawdown_pct": -100.0}
    assert optimizer.score(a, "sharpe") == 1.0
    assert optimizer.score(b, "sharpe") == -math.inf
    assert optimizer.score(a, "dd_adjusted_return") == 2.0
    assert optimizer.score(b, "dd_adjusted_return") == 3.0  # |DD| floored at 1 point
    assert optimizer.score(liq, "dd_adjusted_return") == -100.0
    assert optimizer.score({"error": "boom", "sharpe": 9.0}) == -math.inf
    assert optimizer.best_index([b, a, dict(a), b], "sharpe") == 1  # tie -> earliest
    assert optimizer.best_index([b, b], "sharpe") == 0
    with pytest.raises(OptimizerError, match="unknown metric"):
        optimizer.score(a, "profit")


# ------------------------------------------------------------------ sweeps


def test_sweep_in_process_matches_a_direct_backtest(df) -> None:
    rows = _clean(optimizer.sweep(df, "sma_crossover", SMA_GRID, SETTINGS, workers=1))
    assert [p for p, _ in rows] == SMA_GRID
    direct = metrics(backtester.run(df, "sma_crossover", SMA_GRID[2], SETTINGS))
    assert {k: rows[2][1][k] for k in direct} == direct
    assert rows[2][1]["score"] == optimizer.score(direct, "sharpe")
    assert len({m["total_return_pct"] for _, m in rows}) > 1  # the combos really differ


def test_sweep_local_pool_equals_in_process(df) -> None:
    grid = optimizer.param_grid("sma_crossover")
    since = df.index[100]
    one = _clean(optimizer.sweep(df, "sma_crossover", grid, SETTINGS, since=since, workers=1))
    two = optimizer.sweep(df, "sma_crossover", grid, SETTINGS, since=since, workers=2)
    assert two == one
    backwards = optimizer.sweep(df, "sma_crossover", grid[::-1], SETTINGS, since=since, workers=2)
    assert backwards == one[::-1]  # grid order whatever order the workers finish in


def test_sweep_records_a_failing_combo_and_refuses_an_all_failed_one(df, temp_strategy) -> None:
    name = temp_strategy("t_fragile", _fails_on_two, defaults={"x": 1})
    rows = optimizer.sweep(df, name, [{"x": 1}, {"x": 2}, {"x": 3}], NO_COST, workers=1)
    assert "ZeroDivisionError" in rows[1][1]["error"] and rows[1][1]["score"] is None
    assert "error" not in rows[0][1] and "error" not in rows[2][1]
    with pytest.raises(OptimizerError, match="every backtest failed"):
        optimizer.sweep(df, name, [{"x": 2}], NO_COST, workers=1)


def test_sweep_argument_errors(df) -> None:
    with pytest.raises(OptimizerError, match="workers"):
        optimizer.sweep(df, "sma_crossover", SMA_GRID, SETTINGS, workers=0)
    with pytest.raises(OptimizerError, match="unknown metric"):
        optimizer.sweep(df, "sma_crossover", SMA_GRID, SETTINGS, metric="sortino_ratio")
    assert optimizer.sweep(df, "sma_crossover", [], SETTINGS) == []


def test_progress_goes_to_stderr_only_when_asked(df, capsys) -> None:
    optimizer.sweep(df, "sma_crossover", SMA_GRID[:2], SETTINGS, workers=1, progress=False)
    quiet = capsys.readouterr()
    assert quiet.err == "" and quiet.out == ""
    optimizer.sweep(df, "sma_crossover", SMA_GRID[:2], SETTINGS, workers=1, progress=True)
    shown = capsys.readouterr()
    assert "sma_crossover: 2 combos" in shown.err and "2 backtests in" in shown.err
    assert shown.out == ""


def test_dask_missing_gives_one_line(df, monkeypatch) -> None:
    monkeypatch.setitem(sys.modules, "distributed", None)  # import distributed -> ImportError
    with pytest.raises(OptimizerError, match=r"go-trader\[dask\]") as info:
        optimizer.sweep(df, "sma_crossover", SMA_GRID, SETTINGS, dask_address="tcp://127.0.0.1:1")
    assert "\n" not in str(info.value)


# ------------------------------------------------------------------ walk-forward


def test_fold_bounds_are_back_to_back_and_skip_short_blocks() -> None:
    bounds, skipped = optimizer.fold_bounds(1003, 5, 0.7)
    assert skipped == [] and [b[0] for b in bounds] == [1, 2, 3, 4, 5]
    assert bounds[0] == (1, 0, 140, 140, 200)
    assert bounds[-1] == (5, 800, 942, 942, 1003)  # the last block takes the remainder
    for (_, tr_lo, tr_hi, te_lo, te_hi), nxt in zip(bounds, [*bounds[1:], None], strict=True):
        assert tr_lo < tr_hi == te_lo < te_hi
        if nxt is not None:
            assert nxt[1] == te_hi
    bounds, skipped = optimizer.fold_bounds(120, 2, 0.9)  # 60-bar blocks: 54 train / 6 test
    assert bounds == [] and skipped == [
        "fold 1: 54 train / 6 test bars (need 30 / 10)",
        "fold 2: 54 train / 6 test bars (need 30 / 10)",
    ]
    bounds, skipped = optimizer.fold_bounds(248, 5)  # 49-bar blocks, the last has 52
    assert skipped == [f"fold {k}: 49 bars < 50" for k in (1, 2, 3, 4)]
    assert bounds == [(5, 196, 232, 232, 248)]
    with pytest.raises(OptimizerError, match="splits"):
        optimizer.fold_bounds(100, 0)
    with pytest.raises(OptimizerError, match="train_pct"):
        optimizer.fold_bounds(100, 2, 1.0)


def test_walk_forward_folds_do_not_overlap_and_use_warm_up(df) -> None:
    wf = optimizer.walk_forward(df, "sma_crossover", SETTINGS, grid=SMA_GRID, n_splits=3, workers=1)
    assert [f.index for f in wf.folds] == [1, 2, 3] and wf.skipped == []
    idx = df.index
    previous_end = None
    for fold, (_, lo, mid, _, hi) in zip(
        wf.folds, optimizer.fold_bounds(len(df), 3)[0], strict=True
    ):
        assert fold.train == (idx[lo], idx[mid - 1]) and fold.test == (idx[mid], idx[hi - 1])
        assert fold.train[1] < fold.test[0]
        assert previous_end is None or previous_end < fold.train[0]
        previous_end = fold.test[1]
        assert (fold.train_bars, fold.test_bars) == (mid - lo, hi - mid)
        # In-sample: the best combo scored on the train bars, earlier bars only warming up.
        ins = metrics(
            backtester.run(df.iloc[:mid], "sma_crossover", fold.best_params, SETTINGS, idx[lo])
        )
        assert {k: fold.in_sample[k] for k in ins} == ins
        oos = metrics(
            backtester.run(df.iloc[:hi], "sma_crossover", fold.best_params, SETTINGS, idx[mid])
        )
        assert {k: fold.out_of_sample[k] for k in oos} == oos
        train_rows = optimizer.sweep(
            df.iloc[:mid], "sma_crossover", SMA_GRID, SETTINGS, idx[lo], workers=1
        )
        assert fold.best_params == SMA_GRID[optimizer.best_index([m for _, m in train_rows])]


def test_walk_forward_since_keeps_earlier_bars_for_warm_up(df) -> None:
    since = df.index[150]
    wf = optimizer.walk_forward(
        df, "sma_crossover", SETTINGS, grid=SMA_GRID, n_splits=3, workers=1, since=since
    )
    bounds, _ = optimizer.fold_bounds(len(df) - 150, 3)
    assert [f.train[0] for f in wf.folds] == [df.index[150 + b[1]] for b in bounds]
    assert wf.folds[-1].test[1] == df.index[-1]
    first = wf.folds[0]
    stop = 150 + bounds[0][2]
    warm = metrics(
        backtester.run(df.iloc[:stop], "sma_crossover", first.best_params, SETTINGS, since)
    )
    assert {k: first.in_sample[k] for k in warm} == warm
    cold = metrics(backtester.run(df.iloc[150:stop], "sma_crossover", first.best_params, SETTINGS))
    assert cold != warm  # without the earlier bars the slow SMA starts undefined


def test_walk_forward_never_reads_bars_after_the_fold(df) -> None:
    wf = optimizer.walk_forward(df, "sma_crossover", SETTINGS, grid=SMA_GRID, n_splits=3, workers=1)
    changed = df.copy()
    cut = df.index.get_loc(wf.folds[0].test[1]) + 1  # everything after fold 1's last test bar
    noise = np.exp(np.random.RandomState(9).normal(0.0, 0.01, len(df) - cut))
    changed.iloc[cut:, :4] = changed.iloc[cut:, :4].mul(noise, axis=0)
    again = optimizer.walk_forward(
        changed, "sma_crossover", SETTINGS, grid=SMA_GRID, n_splits=3, workers=1
    )
    assert again.folds[0] == wf.folds[0]
    assert again.folds[2].out_of_sample != wf.folds[2].out_of_sample


def test_out_of_sample_comes_from_test_bars_only() -> None:
    """Train parts swing (the crossovers trade), test parts are flat: zero OOS return."""
    rs = np.random.RandomState(5)
    n, blocks = 600, 2
    bounds, _ = optimizer.fold_bounds(n, blocks, 0.7)
    t = np.arange(n)
    close = 100.0 * np.exp(0.08 * np.sin(t / 9.0) + 0.0005 * t)
    for _, _, _, lo, hi in bounds:
        close[lo:hi] = close[lo - 1]
    df = ohlcv(close, rs)
    flat = np.zeros(n, dtype=bool)
    for _, _, _, lo, hi in bounds:
        flat[lo:hi] = True
    df.loc[flat, ["open", "high", "low"]] = df.loc[flat, "close"].to_numpy()[:, None]
    wf = optimizer.walk_forward(
        df, "sma_crossover", NO_COST, grid=SMA_GRID, n_splits=blocks, workers=1
    )
    assert len(wf.folds) == 2
    for fold in wf.folds:
        assert fold.in_sample["trade_count"] > 0 and abs(fold.in_sample["total_return_pct"]) > 1.0
        assert fold.out_of_sample["total_return_pct"] == pytest.approx(0.0, abs=1e-9)
        assert fold.out_of_sample["max_drawdown_pct"] == pytest.approx(0.0, abs=1e-9)
    assert wf.summary["oos_mean_return_pct"] == pytest.approx(0.0, abs=1e-9)


def test_walk_forward_summary_and_metric(df) -> None:
    wf = optimizer.walk_forward(
        df,
        "sma_crossover",
        SETTINGS,
        grid=SMA_GRID,
        n_splits=4,
        metric="total_return_pct",
        workers=1,
    )
    rets = [f.out_of_sample["total_return_pct"] for f in wf.folds]
    s = wf.summary
    assert s["folds"] == 4 and wf.metric == "total_return_pct"
    assert s["oos_mean_return_pct"] == pytest.approx(statistics.fmean(rets))
    assert s["oos_median_return_pct"] == pytest.approx(statistics.median(rets))
    assert s["oos_worst_drawdown_pct"] == min(f.out_of_sample["max_drawdown_pct"] for f in wf.folds)
    winners = [f.best_params for f in wf.folds]
    assert s["most_common_params"] == max(winners, key=winners.count)
    assert s["most_common_count"] == winners.count(s["most_common_params"])
    for fold in wf.folds:  # ranked by the chosen metric
        assert fold.in_sample["score"] == fold.in_sample["total_return_pct"]
    doc = wf.to_dict()
    assert doc["folds"][0]["train"][0] == df.index[0].isoformat()


def test_walk_forward_ties_pick_the_first_combo() -> None:
    flat = ohlcv(np.full(400, 50.0), np.random.RandomState(1))
    flat[["open", "high", "low"]] = 50.0
    wf = optimizer.walk_forward(
        flat, "sma_crossover", NO_COST, grid=SMA_GRID, n_splits=2, workers=1
    )
    assert [f.best_params for f in wf.folds] == [SMA_GRID[0], SMA_GRID[0]]


def test_walk_forward_too_little_data_says_why() -> None:
    with pytest.raises(OptimizerError, match="no fold is long enough"):
        optimizer.walk_forward(market(120), "sma_crossover", SETTINGS, grid=SMA_GRID, n_splits=3)


def test_walk_forward_local_pool_equals_in_process(df) -> None:
    one = optimizer.walk_forward(
        df, "sma_crossover", SETTINGS, grid=SMA_GRID, n_splits=3, workers=1
    )
    two = optimizer.walk_forward(
        df, "sma_crossover", SETTINGS, grid=SMA_GRID, n_splits=3, workers=2
    )
    assert two == one


# ------------------------------------------------------------------ Dask (last: it starts threads)


@pytest.fixture(scope="module")
def dask_address():
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(
        n_workers=1,
        processes=False,
        threads_per_worker=1,
        dashboard_address=None,
        host="127.0.0.1",
        protocol="tcp",
    ) as cluster:
        assert cluster.scheduler_address.startswith("tcp://127.0.0.1:")
        yield cluster.scheduler_address


def test_dask_sweep_equals_in_process(df, dask_address) -> None:
    grid = optimizer.param_grid("sma_crossover")
    one = _clean(optimizer.sweep(df, "sma_crossover", grid, SETTINGS, workers=1))
    assert optimizer.sweep(df, "sma_crossover", grid, SETTINGS, dask_address=dask_address) == one


def test_dask_walk_forward_equals_in_process(df, dask_address) -> None:
    one = optimizer.walk_forward(
        df, "sma_crossover", SETTINGS, grid=SMA_GRID, n_splits=3, workers=1
    )
    on_dask = optimizer.walk_forward(
        df, "sma_crossover", SETTINGS, grid=SMA_GRID, n_splits=3, dask_address=dask_address
    )
    assert on_dask == one


def _walk(frame: pd.DataFrame, since: pd.Timestamp) -> optimizer.WalkForwardResult:
    return optimizer.walk_forward(
        frame, "sma_crossover", SETTINGS, grid=SMA_GRID, n_splits=3, workers=1, since=since
    )


def test_walk_forward_on_an_aware_utc_index_keeps_aware_bounds_and_results(df) -> None:
    """Candles carry an aware UTC index: the folds' bounds stay aware, a naive ``since`` reads
    as UTC (it used to raise TypeError), and every figure equals the one the same bars give on
    a naive index (what tz-stripped windows produced)."""
    assert str(df.index.tz) == "UTC"
    since = df.index[150]
    aware = _walk(df, since)
    assert len(aware.folds) == 3
    for fold in aware.folds:
        for t in (*fold.train, *fold.test):
            assert str(t.tz) == "UTC"
        doc = fold.to_dict()
        assert all(t.endswith("+00:00") for t in doc["train"] + doc["test"])
    assert aware.folds[0].train[0] == since
    assert _walk(df, since.tz_localize(None)) == aware

    naive = _walk(df.tz_localize(None), since.tz_localize(None))
    assert naive.summary == aware.summary
    for a, n in zip(aware.folds, naive.folds, strict=True):
        assert [t.tz_localize(None) for t in (*a.train, *a.test)] == [*n.train, *n.test]
        assert (a.best_params, a.in_sample, a.out_of_sample) == (
            n.best_params,
            n.in_sample,
            n.out_of_sample,
        )
    assert _walk(df.tz_localize(None), since) == naive  # an aware since on a naive index


def test_walk_forward_on_loaded_candles_end_to_end(monkeypatch, tmp_path) -> None:
    """The loader's frame and its ``since`` (both aware UTC) go straight into the folds."""
    from backtest.data import load_candles
    from shared_tools import market as market_data

    monkeypatch.setenv("GO_TRADER_OHLCV_CACHE", str(tmp_path / "ohlcv.db"))
    market_data.clear_memo()
    until = pd.Timestamp("2025-06-01T00:00:00Z").to_pydatetime()
    since = pd.Timestamp("2025-03-01T00:00:00Z").to_pydatetime()
    candles = load_candles("BTC/USDT", "4h", since, until, source="simulated", warmup=100)
    assert str(candles.df.index.tz) == "UTC" and candles.since.tz is not None
    wf = _walk(candles.df, candles.since)
    assert wf.folds[0].train[0] == candles.since
    assert all(str(t.tz) == "UTC" for f in wf.folds for t in (*f.train, *f.test))
    market_data.clear_memo()
