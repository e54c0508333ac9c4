"""The tuning worker's pure parts (backtest/tune_live.py): the survivor rule, the grid narrowed
by a run's overrides (through backtest.optimizer.param_grid), and the patch a row carries."""

from __future__ import annotations

import types

import pytest
from hypothesis import given
from hypothesis import strategies as st

from backtest import tune_live
from backtest.optimizer import OptimizerError, param_grid


def figures(returns, trades=10, dd=-5.0) -> dict:
    return {
        "folds": len(returns),
        "oos_mean_return_pct": sum(returns) / len(returns),
        "oos_fold_returns_pct": list(returns),
        "oos_total_trades": trades,
        "oos_worst_drawdown_pct": dd,
    }


BASE = figures([1.0, 1.0, 1.0])


def test_a_survivor_beats_the_baseline_out_of_sample_with_enough_trades():
    assert tune_live.verdict(figures([2.0, 2.0, 0.5]), BASE, 3, 5.0) == []


@pytest.mark.parametrize(
    ("cand", "needle"),
    [
        (figures([1.0, 1.0, 1.0]), "not above the baseline"),
        (figures([9.0, 0.0, 0.0]), "beats the baseline in 1 of 3 folds (needs at least half)"),
        (figures([2.0, 2.0, 2.0], trades=2), "2 out-of-sample trades (needs 3)"),
        (figures([2.0, 2.0, 2.0], dd=-10.5), "worse than the baseline's -5.00% by more than 5"),
    ],
)
def test_each_broken_rule_is_a_reason(cand, needle):
    reasons = tune_live.verdict(cand, BASE, 3, 5.0)
    assert any(needle in r for r in reasons), reasons


@given(st.lists(st.floats(-50, 50), min_size=1, max_size=6))
def test_the_baseline_never_survives_against_itself(returns):
    base = figures(returns)
    assert tune_live.verdict(base, base, 0, 0.0)


def test_overrides_narrow_the_registry_grid():
    assert len(param_grid("sma_crossover")) == 16
    narrowed = param_grid("sma_crossover", "spot", {"fast_period": [10, 45], "slow_period": [40]})
    assert narrowed == [{"fast_period": 10, "slow_period": 40}]  # 45 < 40 fails the constraint
    with pytest.raises(OptimizerError, match="no param 'nope'"):
        param_grid("sma_crossover", "spot", {"nope": [1]})
    with pytest.raises(OptimizerError, match="at least one value"):
        param_grid("sma_crossover", "spot", {"fast_period": []})


def test_freeze_takes_the_live_value():
    spec = types.SimpleNamespace(name="s", ranges={"a": [1, 2], "b": [3, 4]})
    live = {"a": 2, "b": 4, "c": 7}
    got = tune_live.narrowed(spec, live, {"params": {"a": [5]}, "freeze": ["b"]})
    assert got == {"a": [5], "b": [4], "c": [7]}  # c has no range: it keeps its live value
    with pytest.raises(ValueError, match="freeze"):
        tune_live.narrowed(spec, live, {"freeze": ["z"]})


def test_a_rows_patch_adds_only_the_changed_params_to_the_open_strategy_block():
    raw = {
        "strategies": [
            {"id": "g", "open_strategy": {"name": "sma_crossover", "params": {"slow_period": 60}}}
        ]
    }
    live = {"fast_period": 20, "slow_period": 60}
    row = tune_live._row(
        "p-x", {"fast_period": 10, "slow_period": 60}, figures([1.0]), [], raw, "g", live
    )
    assert row["verdict"] == "survivor"
    assert row["patch"] == {
        "open_strategy": {"name": "sma_crossover", "params": {"slow_period": 60, "fast_period": 10}}
    }
    assert tune_live.row_key({"a": 1, "b": 2}) == tune_live.row_key({"b": 2, "a": 1})


def test_rows_rank_survivors_first_then_by_return():
    def r(key, verdict, ret):
        return {"key": key, "verdict": verdict, "metrics": {"oos_mean_return_pct": ret}}

    rows = [r("a", "rejected", 5.0), r("b", "survivor", 0.0), r("c", "rejected", None)]
    rows += [r("d", "survivor", 2.0), r("e", "rejected", 0.0)]
    assert [x["key"] for x in sorted(rows, key=tune_live._rank)] == ["d", "b", "a", "e", "c"]


def test_the_cli_tunes_what_it_can_and_reports_the_rest(tmp_path, monkeypatch):
    """By hand on the simulated market: an HTF-filtered perps strategy is tuned (its candles get
    the higher-timeframe column), a custom-script one cannot be and says why; exit 0."""
    import json

    from conftest import fake_strategy, write_config

    from backtest import htf_bars

    monkeypatch.setenv("GO_TRADER_OHLCV_CACHE", str(tmp_path / "ohlcv.db"))
    attached = []
    real = htf_bars.attach
    monkeypatch.setattr(
        htf_bars, "attach", lambda df, tf, htf: attached.append(len(htf)) or real(df, tf, htf)
    )
    perp = {
        "id": "hl",
        "type": "perps",
        "platform": "hyperliquid",
        "script": "shared_scripts/check_hyperliquid.py",
        "args": ["sma_crossover", "BTC", "1h", "--mode=paper"],
        "capital": 1000,
        "htf_filter": True,
        "allow_deprecated": True,
    }
    cfg = write_config(tmp_path, [perp, fake_strategy("m", "flip")])
    ov = tmp_path / "ov.json"
    ov.write_text(
        json.dumps({"hl": {"params": {"fast_period": [10, 20]}, "freeze": ["slow_period"]}})
    )
    out = tmp_path / "run"
    argv = ["--config", str(cfg), "--strategy", "hl", "m", "--out-dir", str(out)]
    argv += ["--json", str(out / "results.json"), "--overrides", str(ov), "--bars=300"]
    assert tune_live.main([*argv, "--splits=2"]) == 0
    doc = json.loads((out / "results.json").read_text())
    hl, m = doc["strategies"]
    assert hl["strategy_id"] == "hl" and hl["grid_size"] == 2 and "error" not in hl
    assert len(attached) == 1 and attached[0] > 0  # the 4h trend, from the same market
    assert m["strategy_id"] == "m" and "flip" in m["error"] and m["ranked"] == []
    progress = json.loads((out / tune_live.PROGRESS_FILE).read_text())["strategies"]
    assert progress["hl"]["status"] == "completed" and progress["m"]["status"] == "failed"
    # told by the optimizer as backtests finish: 2 combos x 2 folds + 2 tests, the baseline's
    # and each winner's one-combo walk-forward (2 folds x train and test)
    assert progress["hl"]["backtests_done"] == progress["hl"]["backtests"] >= 2 * 2 + 2 + 4
