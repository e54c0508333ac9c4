"""run_backtest.py's upstream flags (issue 20) on the simulated market: each one changes a trade,
and upstream's rejections exit 2 with one line."""

from __future__ import annotations

import json

import pytest
from conftest import PINNED_NOW

from backtest import backtester, htf_bars, run_backtest
from backtest.cli_settings import from_config
from shared_strategies.open import registry
from shared_tools import market

SEED = "7"
SINGLE = ("--mode", "single", "--strategy", "momentum", "--timeframe", "1h", "--since", "60")


@pytest.fixture(autouse=True)
def offline(monkeypatch, tmp_path):
    monkeypatch.setenv("GO_TRADER_MARKET_DATA", "simulated")
    monkeypatch.setenv("GO_TRADER_NOW", PINNED_NOW)
    monkeypatch.setenv("GO_TRADER_SIM_SEED", SEED)
    monkeypatch.setenv("GO_TRADER_OHLCV_CACHE", str(tmp_path / "ohlcv.db"))
    market.clear_memo()
    yield
    market.clear_memo()


def cli(capsys, *argv: str) -> tuple[int, str, str]:
    code = run_backtest.main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def doc(capsys, *argv: str) -> dict:
    code, out, err = cli(capsys, *argv, "--json")
    assert code == 0, err
    return json.loads(out)


def trades(d: dict) -> list[tuple]:
    return [(t["entry_time"], t["exit_time"], t["reason"], t["exit_price"]) for t in d["trades"]]


def test_intrabar_resolution_bar_close_changes_a_stop_fill(capsys):
    walked = doc(capsys, *SINGLE, "--stop-loss-pct", "2")
    closed = doc(capsys, *SINGLE, "--stop-loss-pct", "2", "--intrabar-resolution", "bar_close")
    assert walked["settings"]["intrabar_resolution"] == "ohlc_walk"
    assert closed["settings"]["intrabar_resolution"] == "bar_close"
    assert trades(walked) != trades(closed)
    stops = [t for t in closed["trades"] if t["reason"] == "stop_loss"]
    assert stops and all(t["exit_time"].endswith(":00:00Z") for t in stops)


def test_htf_filter_flag_drops_counter_trend_entries(capsys):
    plain = doc(capsys, *SINGLE)
    filtered = doc(capsys, *SINGLE, "--htf-filter")
    assert filtered["settings"]["htf_filter"] is True
    entries = {t["entry_time"] for t in plain["trades"]}
    kept = {t["entry_time"] for t in filtered["trades"]}
    assert kept != entries
    # every long the filtered run opens was decided on a bar whose HTF trend was not down
    df = htf_candles(capsys, *SINGLE, "--htf-filter")
    trend = df[htf_bars.COLUMN]
    stamps = [t.strftime("%Y-%m-%dT%H:%M:%SZ") for t in df.index]
    for entry in kept:
        assert trend.iloc[stamps.index(entry) - 1] >= 0, entry
    assert (trend == -1).any() and (trend == 1).any()
    dropped = entries - kept  # a plain entry the filter refused was decided in a downtrend
    assert any(trend.iloc[stamps.index(e) - 1] == -1 for e in dropped)


def htf_candles(capsys, *argv: str):
    """The candles the CLI backtests (with the HTF trend column), as its Runner loads them."""
    args = run_backtest.build_parser().parse_args(list(argv))
    run_backtest._check_args(args)
    runner = run_backtest.Runner(args, run_backtest.build_job(args))
    return runner.candles(runner.job.settings.symbol).df


def test_registry_futures_runs_and_iterates_the_futures_strategies(capsys):
    argv = ("--mode", "single", "--strategy", "breakout", "--timeframe", "1h", "--since", "30")
    code, _out, err = cli(capsys, *argv)
    assert code == 2 and "unknown strategy 'breakout' for platform spot" in err
    d = doc(capsys, *argv, "--registry", "futures")
    assert d["settings"]["registry"] == "futures" and d["strategy"] == "breakout"
    futures = run_backtest._strategy_names("", "futures")
    assert futures == [r["id"] for r in registry.list_json("futures")]
    assert "breakout" in futures and "breakout" not in run_backtest._strategy_names("", "spot")


def test_atr_method_reaches_the_atr_stops(capsys):
    simple = doc(capsys, *SINGLE, "--stop-loss-atr-mult", "1")
    wilder = doc(capsys, *SINGLE, "--stop-loss-atr-mult", "1", "--atr-method", "wilder")
    assert wilder["settings"]["atr_method"] == "wilder"
    assert trades(simple) != trades(wilder)


def test_defaults_user_without_a_config_says_nothing_is_applied(capsys):
    code, out, err = cli(capsys, *SINGLE, "--defaults", "user", "--json")
    assert code == 0
    assert json.loads(out)["settings"]["defaults"] == "user"
    assert "--defaults user: no user_defaults apply to this strategy" in err
    code, out, err = cli(capsys, *SINGLE, "--defaults", "system", "--json")
    assert code == 0 and err == ""


def test_sweep_close_reports_the_chosen_stack(capsys):
    stacks = '[[], {"label": "sl2", "stop_loss_atr_mult": 2}]'
    argv = ("--mode", "optimize", "--strategy", "momentum", "--timeframe", "1h", "--since", "90")
    code, out, err = cli(
        capsys, *argv, "--splits", "2", "--workers", "1", "--close-stacks-json", stacks, "--json"
    )
    assert code == 0, err
    result = json.loads(out)["results"][0]
    assert {f["close_stack"] for f in result["folds"]} <= {"baseline", "sl2"}
    assert result["summary"]["most_common_close_stack"] in {"baseline", "sl2"}
    code, out, err = cli(
        capsys, *argv, "--splits", "2", "--workers", "1", "--close-stacks-json", stacks
    )
    assert code == 0 and "most common close stack:" in out


@pytest.mark.parametrize(
    ("argv", "flag"),
    [
        (["--mode", "optimize", "--intrabar-resolution", "bar_close"], "--intrabar-resolution"),
        (["--mode", "optimize", "--atr-method", "wilder"], "--atr-method"),
        (
            ["--config", "examples/offline.json", "--strategy-id", "momentum-btc"]
            + ["--atr-method", "wilder"],
            "--atr-method",
        ),
        (["--mode", "single", "--strategy", "momentum", "--sweep-close"], "--sweep-close"),
        (["--mode", "compare", "--close-stacks-json", "[[]]"], "--sweep-close"),
        (["--mode", "optimize", "--sweep-close", "--stop-loss-pct", "2"], "--stop-loss-pct"),
        (["--mode", "optimize", "--close-stacks-json", "[1]"], "--close-stacks-json"),
        (["--mode", "optimize", "--close-stacks-json", '[["nope"]]'], "--close-stacks-json"),
        (["--registry", "options"], "--registry"),
        (["--intrabar-resolution", "tick"], "--intrabar-resolution"),
        (["--defaults", "mine"], "--defaults"),
    ],
)
def test_upstream_rejections_exit_2_with_one_line(capsys, argv, flag):
    code, out, err = cli(capsys, *argv)
    assert code == 2 and out == ""
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("run_backtest: error:") and flag in lines[0], lines[0]


# ------------------------------------------------------------------ --config keys


def perps_config(tmp_path, **keys) -> str:
    strategy = {
        "id": "hl-mom-btc",
        "type": "perps",
        "script": "shared_scripts/check_hyperliquid.py",
        "args": ["momentum", "BTC", "1h", "--mode=paper"],
        "open_strategy": {"name": "momentum", "params": {}},
        "capital": 1000,
        "leverage": 3,
        "direction": "long",
        "stop_loss_pct": 3.0,
        **keys,
    }
    cfg = {
        "config_version": 17,
        "interval_seconds": 300,
        "db_file": str(tmp_path / "state.db"),
        "market_data": "simulated",
        "regime": {
            "enabled": True,
            "windows": {
                "fast": {"classifier": "adx", "period": 5, "adx_threshold": 25},
                "medium": {"classifier": "adx", "period": 14},
            },
        },
        "strategies": [strategy],
    }
    path = tmp_path / f"config-{len(list(tmp_path.iterdir()))}.json"
    path.write_text(json.dumps(cfg), encoding="utf-8")
    return str(path)


def run_config(capsys, path: str) -> tuple[dict, str]:
    code, out, err = cli(capsys, "--config", path, "--strategy-id", "hl-mom-btc", "--since", "60")
    assert code == 0, err
    code, out, err = cli(
        capsys, "--config", path, "--strategy-id", "hl-mom-btc", "--since", "60", "--json"
    )
    return json.loads(out), err


def test_config_keys_are_modelled_not_noted(capsys, tmp_path):
    keys = dict(
        htf_filter=True,
        margin_per_trade_usd=100,
        regime_gate_window="fast",
        allowed_regimes=["trending_up"],
    )
    job = from_config(perps_config(tmp_path, **keys), "hl-mom-btc", backtester.BacktestSettings)
    s = job.settings
    assert s.htf_filter is True and s.margin_per_trade_usd == 100.0 and s.leverage == 3.0
    assert s.regime_gate_window == "fast" and json.loads(s.regime_windows)["fast"]["period"] == 5
    _doc, err = run_config(capsys, perps_config(tmp_path, **keys))
    assert "not modelled" not in err


def test_config_margin_per_trade_usd_sizes_each_entry(capsys, tmp_path):
    plain, _ = run_config(capsys, perps_config(tmp_path))
    sized, _ = run_config(capsys, perps_config(tmp_path, margin_per_trade_usd=100))
    first, small = plain["trades"][0], sized["trades"][0]
    assert first["entry_time"] == small["entry_time"]
    assert first["quantity"] * first["entry_price"] == pytest.approx(3000.0, rel=0.01)
    assert small["quantity"] * small["entry_price"] == pytest.approx(300.0, rel=1e-6)


def test_config_htf_filter_and_gate_window_change_the_entries(capsys, tmp_path):
    plain, _ = run_config(capsys, perps_config(tmp_path))
    htf, _ = run_config(capsys, perps_config(tmp_path, htf_filter=True))
    assert {t["entry_time"] for t in htf["trades"]} != {t["entry_time"] for t in plain["trades"]}
    assert htf["settings"]["htf_filter"] is True and plain["settings"]["htf_filter"] is False
    gated = dict(allowed_regimes=["trending_up"])
    primary, _ = run_config(capsys, perps_config(tmp_path, **gated))
    fast, _ = run_config(capsys, perps_config(tmp_path, regime_gate_window="fast", **gated))
    assert {t["entry_time"] for t in primary["trades"]} != {t["entry_time"] for t in fast["trades"]}
