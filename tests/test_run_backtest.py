"""backtest/run_backtest.py end to end on the simulated market (offline, clock pinned)."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pandas as pd
import pytest
from conftest import PINNED_NOW, REPO

from backtest import backtester, run_backtest
from backtest.cli_settings import from_config
from backtest.data import load_candles, parse_when
from backtest.metrics import KEYS, metrics
from shared_strategies.open import registry
from shared_tools import market

ISO_Z = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
SEED = "7"


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


SINGLE = ("--mode", "single", "--strategy", "momentum", "--timeframe", "1h", "--since", "60")


def test_single_json_document(capsys):
    code, out, err = cli(capsys, *SINGLE, "--json")
    assert code == 0, err
    doc = json.loads(out)
    assert {"metrics", "trades", "final_equity"} <= set(doc)
    assert set(doc["metrics"]) == set(KEYS)
    assert doc["metrics"]["trade_count"] == len(doc["trades"]) > 0
    assert doc["final_equity"] == doc["metrics"]["final_equity"]
    since = parse_when("60", flag="--since")
    assert pd.Timestamp(doc["start"]) >= pd.Timestamp(since)  # no bar before --since trades
    assert doc["bars"] == 60 * 24
    for t in doc["trades"]:
        assert ISO_Z.match(t["entry_time"]) and ISO_Z.match(t["exit_time"])
        assert t["entry_time"] >= doc["start"] and t["exit_time"] <= doc["end"]
        assert {"side", "entry_price", "exit_price", "quantity", "fee", "pnl"} <= set(t)
    assert doc["end"] == "2025-06-01T11:00:00Z"  # the last bar closed at the pinned clock


def test_single_text_report_has_the_metrics_table(capsys):
    code, out, _ = cli(capsys, *SINGLE, "--params", '{"roc_period": 10, "threshold": 3}')
    assert code == 0
    assert "momentum (roc_period=10, threshold=3.0)" in out
    assert re.search(r"^Sharpe\s+(-?\d+\.\d\d|n/a)$", out, re.M)
    assert re.search(r"^Max drawdown\s+-?\d+\.\d\d%$", out, re.M)


def test_compare_prints_every_visible_strategy_sorted_by_sharpe(capsys):
    code, out, err = cli(capsys, "--timeframe", "4h", "--since", "60")
    assert code == 0, err
    visible = [row["id"] for row in registry.list_json("spot")]
    lines = out.splitlines()
    assert lines[0].startswith("Comparison: BTC/USDT 4h")
    body = [line for line in lines[3:] if line.split() and line.split()[0] in visible]
    assert {line.split()[0] for line in body} == set(visible)
    sharpes = [line.split()[3] for line in body]
    numbers = [float(x) for x in sharpes if x != "n/a"]
    assert numbers == sorted(numbers, reverse=True)
    assert sharpes[len(numbers) :] == ["n/a"] * (len(sharpes) - len(numbers))  # n/a last
    assert "mean Sharpe" in out


def test_multi_prints_one_row_per_strategy_and_symbol(capsys):
    code, out, err = cli(
        capsys,
        *("--mode", "multi", "--strategy", "momentum,rsi", "--timeframe", "4h", "--since", "60"),
        *("--symbols", "BTC/USDT", "ETH/USDT"),
    )
    assert code == 0, err
    rows = {tuple(line.split()[:2]) for line in out.splitlines()[3:] if line.split()}
    for strategy in ("momentum", "rsi"):
        for symbol in ("BTC/USDT", "ETH/USDT"):
            assert (strategy, symbol) in rows


def test_config_strategy_matches_a_direct_run(capsys):
    config = str(REPO / "examples" / "offline.json")
    code, out, err = cli(
        capsys, "--config", config, "--strategy-id", "momentum-btc", "--since", "30", "--json"
    )
    assert code == 0, err
    via_config = json.loads(out)
    # the same strategy by flags
    code, out, _ = cli(
        capsys,
        *("--mode", "single", "--strategy", "momentum", "--symbol", "BTC/USDT"),
        *("--timeframe", "1h", "--since", "30", "--json"),
        *("--params", '{"roc_period": 14, "threshold": 5.0}'),
    )
    assert code == 0
    assert json.loads(out) == via_config
    # upstream's spelling: --config C --strategy <id>
    code, out, _ = cli(
        capsys, "--config", config, "--strategy", "momentum-btc", "--since", "30", "--json"
    )
    assert code == 0 and json.loads(out) == via_config
    # and straight through the engine
    candles = load_candles("BTC/USDT", "1h", parse_when("30", flag="--since"), source="simulated")
    settings = backtester.BacktestSettings(capital=1000.0, symbol="BTC/USDT", timeframe="1h")
    direct = backtester.run(
        candles.df, "momentum", {"roc_period": 14, "threshold": 5.0}, settings, candles.since
    )
    assert via_config["metrics"] == pytest.approx(metrics(direct))
    assert via_config["metrics"]["trade_count"] == len(direct.trades)


def test_config_maps_perps_fields():
    job = from_config(
        str(REPO / "examples" / "offline-perps.json"), "hl-sma-eth-tp", backtester.BacktestSettings
    )
    s = job.settings
    assert job.strategy == "sma_crossover" and job.params == {"fast_period": 2, "slow_period": 5}
    assert (s.instrument, s.platform, s.direction, s.leverage) == (
        "perps",
        "hyperliquid",
        "both",
        2,
    )
    assert (s.symbol, s.timeframe) == ("ETH", "1h")
    assert [c["name"] for c in s.close_strategies] == ["tiered_tp_atr"]
    assert s.close_strategies[0]["params"]["tp_tiers"][1]["close_fraction"] == 1.0
    assert s.leverage == 2 and s.stop_loss_atr_mult == 1.0  # the config's default stop
    sol = from_config(
        str(REPO / "examples" / "offline-perps.json"),
        "hl-ema-sol-both",
        backtester.BacktestSettings,
    )
    assert sol.settings.leverage == 1.0  # sizing_leverage 1 sizes the book, not leverage 2
    okx = from_config(
        str(REPO / "examples" / "offline-perps.json"),
        "okx-ema-btc-perp",
        backtester.BacktestSettings,
    )
    assert okx.settings.stop_loss_pct == 3.0 and okx.settings.platform == "okx"


def test_config_perps_strategy_runs(capsys):
    config = str(REPO / "examples" / "offline-perps.json")
    code, out, err = cli(
        capsys, "--config", config, "--strategy-id", "hl-sma-eth-tp", "--since", "20", "--json"
    )
    assert code == 0, err
    doc = json.loads(out)
    assert doc["settings"]["instrument"] == "perps" and doc["settings"]["leverage"] == 2
    assert doc["strategy"] == "sma_crossover" and doc["metrics"]["trade_count"] > 0


def test_close_refs_stops_regime_and_until_reach_the_engine(capsys):
    tiers = '{"name": "tiered_tp_atr", "params": {"tp_tiers": [{"atr_multiple": 1, "close_fraction": 1.0}]}}'
    code, out, err = cli(
        capsys,
        *SINGLE,
        *("--close-strategy", "tp_at_pct", "--close-strategy", tiers, "--stop-loss-pct", "3"),
        *("--regime-enabled", "--allowed-regimes", "trending_up", "ranging"),
        *("--until", "2025-05-15", "--fee-pct", "0.2", "--slippage-bps", "5", "--json"),
    )
    assert code == 0, err
    doc = json.loads(out)
    s = doc["settings"]
    assert [c["name"] for c in s["close_strategies"]] == ["tp_at_pct", "tiered_tp_atr"]
    assert s["close_strategies"][1]["params"]["tp_tiers"][0]["atr_multiple"] == 1
    assert s["stop_loss_pct"] == 3.0 and s["fee_pct"] == 0.2 and s["slippage_bps"] == 5.0
    assert s["regime_enabled"] is True and s["allowed_regimes"] == ["trending_up", "ranging"]
    assert doc["end"] == "2025-05-14T23:00:00Z"  # the last bar closed by --until
    reasons = {t["reason"] for t in doc["trades"]}
    assert reasons & {"stop_loss", "take_profit"}  # the exits are in play
    code, out, err = cli(capsys, *SINGLE, "--allowed-regimes", "ranging")
    assert code == 2 and "--regime-enabled" in err


def test_a_stop_flag_replaces_the_configured_stop(capsys):
    config = str(REPO / "examples" / "offline-perps.json")
    argv = ("--config", config, "--strategy-id", "hl-sma-eth-tp", "--since", "20", "--json")
    code, out, err = cli(capsys, *argv, "--trailing-stop-pct", "2.5")
    assert code == 0, err
    s = json.loads(out)["settings"]
    assert s["trailing_stop_pct"] == 2.5 and s["stop_loss_atr_mult"] is None
    code, out, err = cli(capsys, *argv, "--stop-loss-pct", "2", "--trailing-stop-pct", "3")
    assert code == 2 and "at most one stop" in err


def test_html_report_file(capsys, tmp_path):
    page = tmp_path / "report.html"
    code, out, err = cli(capsys, *SINGLE, "--html", str(page))
    assert code == 0, err
    assert f"HTML report written to {page}" in out
    text = page.read_text(encoding="utf-8")
    assert "http" not in text.lower() and "<script" not in text.lower()
    root = ET.fromstring(text.split("\n", 1)[1])
    assert len(root.findall(".//svg")) == 2
    assert root.find(".//title").text.startswith("Backtest: momentum BTC/USDT 1h")


@pytest.mark.parametrize(
    ("argv", "flag"),
    [
        (["--mode", "bogus"], "--mode"),
        (["--mode", "single"], "--strategy"),
        (["--mode", "single", "--strategy", "nope"], "--strategy"),
        (["--strategy", "momentum", "--mode", "single", "--params", "{bad"], "--params"),
        (["--strategy", "momentum", "--mode", "single", "--params", '{"x": 1}'], "--params"),
        (["--strategy", "momentum", "--mode", "single", "--close-strategy", "nope"], "--close"),
        (["--strategy", "momentum", "--mode", "single", "--since", "soon"], "--since"),
        (["--strategy", "momentum", "--mode", "single", "--since", "2030-01-01"], "--since"),
        (["--strategy", "momentum", "--mode", "single", "--data", "ftp"], "--data"),
        (["--strategy", "momentum", "--mode", "single", "--direction", "both"], "--direction"),
        (["--strategy", "momentum", "--html", "x.html"], "--html"),
        (["--config", "examples/offline.json"], "--strategy-id"),
        (
            ["--config", "examples/offline.json", "--strategy-id", "x", "--mode", "multi"],
            "--config",
        ),
        (["--config", "examples/offline.json", "--strategy-id", "nope"], "--strategy-id"),
        (["--config", "missing.json", "--strategy-id", "x"], "--config"),
        (["--capital", "lots"], "--capital"),
    ],
)
def test_bad_flags_exit_2_with_one_line(capsys, argv, flag):
    code, out, err = cli(capsys, *argv)
    assert code == 2
    assert out == ""
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("run_backtest: error:") and flag in lines[0]


def test_no_data_exits_1_with_one_line(capsys, tmp_path):
    code, out, err = cli(capsys, *SINGLE, "--data", f"replay:{tmp_path}")
    assert code == 1 and out == ""
    assert len(err.strip().splitlines()) == 1 and "BTC_USDT-1h" in err


def test_optimize_prints_the_out_of_sample_table(capsys):
    code, out, err = cli(
        capsys,
        *("--mode", "optimize", "--strategy", "momentum", "--timeframe", "1h", "--since", "90"),
        *("--splits", "3", "--workers", "1"),
    )
    assert code == 0, err
    assert "OOS return" in out and "IS return" in out
    fold_rows = [line for line in out.splitlines() if re.match(r"^[123]\s+\d{4}-", line)]
    assert len(fold_rows) == 3
    assert "Out-of-sample summary (3 folds)" in out
    assert "momentum: train 3 folds" in err  # progress goes to stderr
    code, out, err = cli(
        capsys,
        *("--mode", "optimize", "--strategy", "momentum", "--timeframe", "1h", "--since", "90"),
        *("--splits", "3", "--workers", "1", "--json"),
    )
    assert code == 0, err
    result = json.loads(out)["results"][0]
    assert result["strategy"] == "momentum" and len(result["folds"]) == 3
    fold = result["folds"][0]
    assert all(ISO_Z.match(t) for t in fold["train"] + fold["test"])
    assert fold["out_of_sample"]["trade_count"] is not None
    assert result["summary"]["folds"] == 3


def test_runs_as_a_script_from_the_repo_root(tmp_path):
    env = {
        **{k: v for k, v in __import__("os").environ.items() if not k.startswith("GO_TRADER")},
        "GO_TRADER_MARKET_DATA": "simulated",
        "GO_TRADER_NOW": PINNED_NOW,
        "GO_TRADER_SIM_SEED": SEED,
        "GO_TRADER_OHLCV_CACHE": str(tmp_path / "ohlcv.db"),
    }
    argv = [sys.executable, "backtest/run_backtest.py", *SINGLE, "--json"]
    proc = subprocess.run(argv, cwd=REPO, env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    assert set(doc["metrics"]) == set(KEYS)
    bad = subprocess.run(
        [sys.executable, "-m", "backtest.run_backtest", "--mode", "nope"],
        cwd=Path(REPO),
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert bad.returncode == 2 and len(bad.stderr.strip().splitlines()) == 1
    assert "Traceback" not in bad.stderr
