"""The pairs research backtest (backtest/backtest_pairs.py) on constructed and simulated bars."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from backtest import backtest_pairs as bp

REPO = Path(__file__).resolve().parent.parent
LOOKBACK = 10
NOISE = [0.0, 0.001, 0.0, -0.001]  # zero every other bar, so |z| falls to ~0 there


def frame(closes: list[float], highs: dict[int, float] | None = None) -> pd.DataFrame:
    """Bars whose open is the previous close; ``highs`` overrides a bar's high."""
    idx = pd.date_range("2025-01-01", periods=len(closes), freq="1h", tz="UTC")
    opens = [closes[0], *closes[:-1]]
    high = [max(o, c) for o, c in zip(opens, closes, strict=True)]
    low = [min(o, c) for o, c in zip(opens, closes, strict=True)]
    for i, h in (highs or {}).items():
        high[i] = h
    return pd.DataFrame(
        {"open": opens, "high": high, "low": low, "close": closes, "volume": 1.0}, index=idx
    )


def scenario(spike_high: float | None = None, n: int = 40):
    """A jumps 3% at bar 20 (z >> 2: short A / long B fills at bar 21's open) and comes back
    to its old level at bar 26. B is flat at 50."""
    a = [100.0 * (1 + NOISE[k % 4]) for k in range(n)]
    for k in range(20, 26):
        a[k] = 103.0
    highs = {21: spike_high} if spike_high else None
    return frame(a, highs), frame([50.0] * n)


def settings(**kw) -> bp.PairsSettings:
    base = dict(capital=1000.0, base_notional=1000.0, beta=1.2, leverage=20.0, lookback=LOOKBACK)
    base.update(kw)
    return bp.PairsSettings(**base)


def test_entry_fills_at_next_open_and_exit_on_small_z():
    a, b = scenario()
    rep = bp.simulate(a, b, settings(), LOOKBACK)
    first = rep["trade_list"][0]
    assert first["side"] == "short_a"
    assert first["entry_time"] == a.index[21].isoformat()  # the signal bar was 20
    leg_a, leg_b = first["legs"]
    assert leg_a["side"] == "short" and leg_a["entry"] == pytest.approx(103.0)
    assert leg_b["side"] == "long" and leg_b["notional"] == pytest.approx(1200.0)
    assert first["reason"] == "exit_signal"
    assert leg_a["exit"] < 103.0 and leg_a["pnl"] > 0  # A came back down: the short made money
    assert rep["liquidations"] == 0


def test_liquidation_uses_the_books_margin_model_and_closes_the_hedge():
    # 20x, 2% maintenance: short A (qty 1000/103, margin $50) goes where its equity
    # 50 - qty (P - 103) meets 2% of qty P: P = (103 + 50 / qty) / 1.02, about 2.9% up
    a, b = scenario(spike_high=103.0 * 1.04)
    rep = bp.simulate(a, b, settings(), LOOKBACK)
    assert rep["liquidations"] == 1
    t = rep["trade_list"][0]
    assert t["reason"] == "liquidation_a" and t["exit_time"] == a.index[21].isoformat()
    leg_a, leg_b = t["legs"]
    qty = 1000.0 / 103.0
    trigger = (103.0 + 50.0 / qty) / 1.02
    assert leg_a["liquidated"] and leg_a["exit"] == pytest.approx(trigger)  # bar opened at 103
    assert leg_a["pnl"] == pytest.approx(-qty * (trigger - 103.0))  # less than its margin
    assert -leg_a["pnl"] < leg_a["margin"]
    assert not leg_b["liquidated"] and leg_b["exit"] == pytest.approx(50.0)
    fees = (1000 + 1200 + qty * trigger + 1200) * bp.TAKER_FEE  # open both, close A and B
    assert t["fees"] == pytest.approx(fees)
    assert t["pnl"] == pytest.approx(leg_a["pnl"] - fees)


def test_a_leg_gapping_past_its_bankruptcy_loses_its_margin_and_never_more():
    a, b = scenario(n=40)
    a.loc[a.index[22], ["open", "high", "close"]] = 120.0  # A opens 16% up: past 108.15
    rep = bp.simulate(a, b, settings(), LOOKBACK)
    t = rep["trade_list"][0]
    leg_a = t["legs"][0]
    assert t["reason"] == "liquidation_a" and leg_a["liquidated"]
    fee_a = leg_a["qty"] * leg_a["exit"] * bp.TAKER_FEE
    assert -leg_a["pnl"] + fee_a == pytest.approx(leg_a["margin"])  # capped at its margin
    assert leg_a["exit"] < 120.0


def test_a_move_short_of_the_threshold_does_not_liquidate():
    a, b = scenario(spike_high=103.0 * 1.029)  # $29 < $30
    rep = bp.simulate(a, b, settings(), LOOKBACK)
    assert rep["liquidations"] == 0
    assert rep["trade_list"][0]["reason"] == "exit_signal"


def test_lower_leverage_survives_the_same_spike():
    a, b = scenario(spike_high=103.0 * 1.04)
    rep = bp.simulate(a, b, settings(leverage=10.0), LOOKBACK)  # threshold 8%
    assert rep["liquidations"] == 0


def test_equity_adds_up_with_fees_and_funding():
    a, b = scenario()
    s = settings(funding_a_per_hour=0.0001, funding_b_per_hour=0.0001)
    rep = bp.simulate(a, b, s, LOOKBACK)
    assert rep["trades"] >= 1
    assert rep["funding"] != 0
    total = sum(t["pnl"] for t in rep["trade_list"])
    assert rep["final_equity"] == pytest.approx(1000.0 + total)
    # short A receives funding (+), long B pays it (-); B's notional is larger
    legs = rep["trade_list"][0]["legs"]
    assert legs[0]["funding"] > 0 > legs[1]["funding"]


def run_cli(*args: str, tmp_path: Path) -> subprocess.CompletedProcess:
    env = dict(os.environ)
    env.update(
        GO_TRADER_MARKET_DATA="simulated",
        GO_TRADER_NOW="2025-06-01T00:00:00Z",
        GO_TRADER_OHLCV_CACHE=str(tmp_path / "ohlcv.db"),
    )
    return subprocess.run(
        [sys.executable, "backtest/backtest_pairs.py", *args],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_cli_json_on_the_simulated_market(tmp_path):
    out = run_cli("--since", "20", "--timeframe", "1h", "--json", tmp_path=tmp_path)
    assert out.returncode == 0, out.stderr
    doc = json.loads(out.stdout)
    for key in (
        "return_pct",
        "sharpe",
        "max_drawdown_pct",
        "win_rate_pct",
        "avg_hold_bars",
        "fees",
        "funding",
        "liquidations",
        "trade_list",
    ):
        assert key in doc
    assert doc["bars"] == pytest.approx(20 * 24, abs=2)
    total = sum(t["pnl"] for t in doc["trade_list"])
    assert doc["final_equity"] == pytest.approx(doc["capital"] + total, abs=1e-4)
    for t in doc["trade_list"]:
        assert t["entry_time"] <= t["exit_time"]


@pytest.mark.parametrize(
    "bad",
    [
        ["--exit-z", "3"],
        ["--leverage", "50"],  # 2% maintenance >= 1/50
        ["--timeframe", "7m"],
        ["--a", "BTC/USDT", "--b", "BTC/USDT"],
        ["--lookback", "0"],
    ],
)
def test_cli_bad_flags_exit_2_with_one_line(bad, tmp_path):
    out = run_cli(*bad, tmp_path=tmp_path)
    assert out.returncode == 2
    assert out.stdout == "" and len(out.stderr.strip().splitlines()) == 1, out.stderr


def test_upstream_flag_names_and_the_short_aliases_parse_alike():
    """Operators' scripts written for upstream use --symbol-a/--symbol-b/--initial-capital."""
    upstream = bp.parse(
        ["--symbol-a", "SOL/USDT", "--symbol-b", "ETH/USDT", "--initial-capital", "2500"]
        + ["--use-maker"]
    )
    short = bp.parse(["--a", "SOL/USDT", "--b", "ETH/USDT", "--capital", "2500", "--use-maker"])
    assert vars(upstream) == vars(short)
    assert (upstream.a, upstream.b, upstream.capital) == ("SOL/USDT", "ETH/USDT", 2500.0)
    s = bp.settings_from(upstream)
    assert s.capital == 2500.0 and s.fee_rate == bp.MAKER_FEE
    defaults = bp.parse([])
    assert (defaults.a, defaults.b, defaults.capital) == ("ETH/USDT", "BTC/USDT", 1000.0)


def test_help_lists_upstream_names_first():
    text = " ".join(bp.build_parser().format_help().split())
    for primary, alias in (("--symbol-a", "--a"), ("--symbol-b", "--b")):
        assert f"{primary} SYMBOL, {alias} SYMBOL" in text
    assert "--initial-capital CAPITAL, --capital CAPITAL" in text
    assert "--use-maker" in text


def test_cli_same_legs_by_upstream_names_exit_2_naming_them(tmp_path):
    out = run_cli("--symbol-a", "BTC/USDT", "--symbol-b", "BTC/USDT", tmp_path=tmp_path)
    assert out.returncode == 2 and out.stdout == ""
    assert "--symbol-a and --symbol-b" in out.stderr
