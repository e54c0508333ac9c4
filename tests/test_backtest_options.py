"""The options research backtests (backtest/backtest_options.py, backtest_theta.py).

Constructed daily series make the numbers known: a quiet stretch, then a burst of +-5% days
(the realized-vol rank hits 100 and a strangle is sold), then a flat price until expiry.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from datetime import date, timedelta
from pathlib import Path

import pytest

from backtest import backtest_options as bo
from backtest import backtest_theta as bt
from shared_tools.pricing import bs_price

REPO = Path(__file__).resolve().parent.parent
START = 89  # the day the burst ends (index); 90 bars of warm-up before it
SPOT = 100_000.0
BURST_VOL = math.log(1.05) * math.sqrt(365)  # 14 alternating +-ln(1.05) returns, mean 0
QUIET_VOL = math.log(1.005) * math.sqrt(365)
DERIBIT_FEE = 0.0003


def dates(n: int) -> list[str]:
    d0 = date(2025, 1, 1)
    return [(d0 + timedelta(days=k)).isoformat() for k in range(n)]


def series(burst: range, after: float, n: int = 120) -> list[float]:
    """Quiet +-0.5% days, +-5% days over ``burst``, ``after`` from START + 1 on."""
    out = []
    for k in range(n):
        if k > START:
            out.append(after)
        elif k in burst:
            out.append(105_000.0 if k % 2 == 0 else SPOT)
        else:
            out.append(100_500.0 if k % 2 == 0 else SPOT)
    return out


def run(closes, **kw) -> dict:
    return bo.simulate(closes, dates(len(closes)), bo.Settings(**kw), START)


def strangle_premium() -> tuple[float, float]:
    call = bs_price(SPOT, 110_000, 30, BURST_VOL, 0.05, "call")
    put = bs_price(SPOT, 90_000, 30, BURST_VOL, 0.05, "put")
    return call, put


def test_sold_strangle_expiring_worthless_counts_the_premium_once():
    rep = run(series(range(76, 90), after=SPOT))
    call, put = strangle_premium()
    sold = [t for t in rep["trades"] if t["side"] == "short"]
    assert [(t["type"], t["strike"]) for t in sold] == [("call", 110_000), ("put", 90_000)]
    assert rep["premium_collected"] == pytest.approx(call + put, rel=1e-9)
    assert [t["reason"] for t in rep["trades"]] == ["expiry_otm", "expiry_otm"]
    assert rep["trades"][0]["opened"] == "2025-03-31"
    assert rep["trades"][0]["closed"] == rep["trades"][0]["expiry"] == "2025-04-30"
    expected = 10_000 + (call + put) * (1 - DERIBIT_FEE)
    assert rep["final_equity"] == pytest.approx(expected, rel=1e-12)
    # upstream's script would have added the premium again at expiry
    assert rep["final_equity"] < 10_000 + 1.5 * (call + put)
    assert rep["return_pct"] == pytest.approx((expected / 10_000 - 1) * 100)


def test_in_the_money_short_call_settles_at_intrinsic():
    rep = run(series(range(76, 90), after=120_000.0))
    call, put = strangle_premium()
    by_type = {t["type"]: t for t in rep["trades"]}
    assert by_type["call"]["reason"] == "expiry_itm"
    assert by_type["call"]["exit_premium"] == pytest.approx(10_000.0)
    assert by_type["put"]["reason"] == "expiry_otm"
    assert rep["settlement_paid"] == pytest.approx(10_000.0)
    expected = 10_000 + (call + put) * (1 - DERIBIT_FEE) - 10_000.0
    assert rep["final_equity"] == pytest.approx(expected, rel=1e-12)
    assert by_type["call"]["pnl"] == pytest.approx(call * (1 - DERIBIT_FEE) - 10_000.0)


def test_multiplier_and_per_contract_fee_on_cme():
    rep = run(series(range(76, 90), after=120_000.0), platform="ibkr", quantity=3.0)
    call, put = strangle_premium()
    # 3 MBT contracts = 0.3 BTC; $0.25 per contract per fill, nothing at expiry
    expected = 10_000 + 0.3 * (call + put) - 2 * 3 * 0.25 - 0.3 * 10_000.0
    assert rep["final_equity"] == pytest.approx(expected, rel=1e-12)
    assert rep["fees"] == pytest.approx(1.5)


def test_straddle_is_bought_only_when_it_costs_at_most_half_the_cash():
    quiet_now = series(range(40, 60), after=SPOT)  # the burst is history: rank 0
    call = bs_price(SPOT, SPOT, 30, QUIET_VOL, 0.05, "call")
    put = bs_price(SPOT, SPOT, 30, QUIET_VOL, 0.05, "put")
    cost = (call + put) * (1 + DERIBIT_FEE)
    rich = run(quiet_now, capital=2.2 * cost)
    assert [(t["side"], t["type"], t["strike"]) for t in rich["trades"]] == [
        ("long", "call", SPOT),
        ("long", "put", SPOT),
    ]
    assert rich["premium_paid"] == pytest.approx(call + put)
    assert rich["final_equity"] == pytest.approx(2.2 * cost - cost)  # both expire at the money
    poor = run(quiet_now, capital=1.9 * cost)
    assert rich["trades"][0]["opened"] == "2025-03-31"
    # too dear on that day; (later, as the flat price drains the vol, a cheaper one may fit)
    assert all(t["opened"] != "2025-03-31" for t in poor["trades"])


def test_max_positions_counts_legs():
    rep = run(series(range(76, 90), after=SPOT), max_positions=3)
    assert len(rep["trades"]) == 2  # a second strangle never fits in one free slot


def test_equity_identity_and_report_fields_on_the_simulated_market(monkeypatch):
    monkeypatch.setenv("GO_TRADER_MARKET_DATA", "simulated")
    monkeypatch.setenv("GO_TRADER_NOW", "2025-06-01T00:00:00Z")
    args = bo.parse(["--since", "365", "--quantity", "0.1"])
    closes, ds, first = bo.daily_closes(args)
    assert len(closes) >= 365 + bo.WARMUP_DAYS - 2 and first >= bo.WARMUP_DAYS
    rep = bo.simulate(closes, ds, bo.settings_from(args), first)
    assert rep["legs"] > 0
    closed = [t for t in rep["trades"] if "closed" in t]
    assert len(closed) == rep["legs"]  # everything is closed by the end
    assert rep["final_equity"] == pytest.approx(10_000 + sum(t["pnl"] for t in closed))
    assert rep["equity"][-1][1] == pytest.approx(rep["final_equity"])
    assert rep["buy_hold_pct"] == pytest.approx((closes[-1] / closes[first] - 1) * 100)
    assert rep["max_drawdown_pct"] <= 0


def test_theta_variants_buy_back_sold_options_early():
    closes = series(range(76, 90), after=SPOT)
    args = bo.parse(["--since", "30"])
    reports = bt.compare(closes, dates(len(closes)), args, START)
    assert [r["variant"] for r in reports] == ["No Harvest", "Conservative", "Aggressive"]
    assert reports[0]["early_closes"] == 0
    for r in reports[1:]:
        early = [t for t in r["trades"] if t["reason"] == "profit_target"]
        assert early, r["variant"]
        for t in early:  # bought back after capturing the target share of the premium
            target = r["harvest"]["profit_target_pct"] / 100
            assert t["exit_premium"] <= t["entry_premium"] * (1 - target) + 1e-9
        assert r["final_equity"] == pytest.approx(10_000 + sum(t["pnl"] for t in r["trades"]))


def test_theta_min_dte_close():
    h = bo.Harvest("dte only", min_dte_close=3.0)
    rep = run(series(range(76, 90), after=SPOT), harvest=h)
    assert {t["reason"] for t in rep["trades"]} == {"min_dte"}
    assert {t["closed"] for t in rep["trades"]} == {"2025-04-27"}  # 3 days before expiry


def cli(script: str, *args: str, tmp_path: Path) -> subprocess.CompletedProcess:
    env = dict(os.environ)
    env.update(
        GO_TRADER_MARKET_DATA="simulated",
        GO_TRADER_NOW="2025-06-01T00:00:00Z",
        GO_TRADER_OHLCV_CACHE=str(tmp_path / "ohlcv.db"),
    )
    return subprocess.run(
        [sys.executable, f"backtest/{script}", *args],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_cli_json_shape(tmp_path):
    out = cli(
        "backtest_options.py", "--since", "120", "--underlying", "ETH", "--json", tmp_path=tmp_path
    )
    assert out.returncode == 0, out.stderr
    doc = json.loads(out.stdout)
    for key in (
        "return_pct",
        "annualized_pct",
        "buy_hold_pct",
        "max_drawdown_pct",
        "win_rate_pct",
        "premium_collected",
        "premium_paid",
        "sharpe",
        "fees",
        "trades",
        "equity",
    ):
        assert key in doc
    assert doc["underlying"] == "ETH" and doc["platform"] == "deribit"
    assert all(t["strike"] % 50 == 0 for t in doc["trades"])
    out = cli("backtest_theta.py", "--since", "120", "--json", tmp_path=tmp_path)
    assert out.returncode == 0, out.stderr
    doc = json.loads(out.stdout)
    assert [v["variant"] for v in doc["variants"]] == ["No Harvest", "Conservative", "Aggressive"]
    assert all(v["trades"] is not None for v in doc["variants"])


def test_cli_text_and_errors(tmp_path):
    out = cli("backtest_options.py", "--since", "2025-03-01", tmp_path=tmp_path)
    assert out.returncode == 0, out.stderr
    assert "vol_mean_reversion BTC on deribit: 2025-03-01" in out.stdout
    for bad in (
        ["--max-positions", "1"],
        ["--since", "yesterday"],
        ["--platform", "binance"],
        ["--data", "nowhere"],
        ["--platform", "ibkr", "--quantity", "0.5"],
        ["--capital", "-5"],
    ):
        out = cli("backtest_theta.py", *bad, tmp_path=tmp_path)
        assert out.returncode == 2, bad
        assert out.stdout == "" and len(out.stderr.strip().splitlines()) == 1, out.stderr
    out = cli("backtest_options.py", "--data", f"replay:{tmp_path}", tmp_path=tmp_path)
    assert out.returncode == 1
    assert len(out.stderr.strip().splitlines()) == 1 and "Traceback" not in out.stderr


def test_the_backtest_opens_what_the_live_check_proposes():
    """One implementation: the legs opened are check.run's scored actions on the bars chain."""
    from backtest.options_bars_chain import BarsChain
    from shared_strategies.options import check

    closes = series(range(76, 90), after=SPOT)
    rep = run(closes)
    chain = BarsChain("deribit", "BTC", closes, dates(len(closes)), bo.oc.vol_series(closes))
    doc = check.run(
        check.Request("vol_mean_reversion", "BTC"), lambda: chain.at(START), now_iso="t"
    ).doc
    assert doc["iv_rank"] == 100.0 and doc["signal"] == -1
    opened = [
        (t["type"], t["strike"], t["expiry"], t["entry_premium"], t["score"]) for t in rep["trades"]
    ]
    assert opened == [
        (a["option_type"], a["strike"], a["expiry"], a["premium_usd"], a["score"])
        for a in doc["actions"]
    ]


def test_butterfly_backtest_books_the_two_lot_body():
    """A mid-range rank (a past burst, a moderate present) opens the live butterfly: 0.95x /
    2 x 1.00x / 1.05x calls at 30 days on Deribit's BTC grid."""
    closes = []
    for k in range(120):
        step = 1.05 if 20 <= k < 40 else 1.02 if 76 <= k <= START else 1.005
        closes.append(SPOT * step if k % 2 == 0 and k <= START else SPOT)
    rep = run(closes, strategy="butterfly", max_positions=3)
    legs = [(t["side"], t["strike"], t["quantity"]) for t in rep["trades"][:3]]
    assert legs == [("long", 95_000.0, 1.0), ("short", 100_000.0, 2.0), ("long", 105_000.0, 1.0)]
    assert 30 <= rep["trades"][0]["iv_rank"] <= 70
    assert rep["final_equity"] == pytest.approx(10_000 + sum(t["pnl"] for t in rep["trades"]))


def test_the_bars_chain_is_an_options_chain_on_the_venue_grid():
    from backtest.options_bars_chain import BarsChain, fallback_step
    from shared_tools.options_chain import OptionsChain

    closes = series(range(76, 90), after=SPOT)
    chain = BarsChain("ibkr", "ETH", closes, dates(len(closes)), bo.oc.vol_series(closes)).at(START)
    assert isinstance(chain, OptionsChain)
    assert chain.multiplier("ETH") == 0.5 and chain.real_expiry("ETH", 30) == ("2025-04-30", 30)
    assert chain.daily_closes("ETH", 90) == closes[: START + 1]
    assert [fallback_step(p, "ETH", 3000) for p in ("deribit", "ibkr", "okx")] == [50, 50, 100]
    assert [fallback_step("robinhood", "SPY", t) for t in (50, 300, 600)] == [1, 5, 10]
    assert chain.settlement_price("ETH", "2025-04-30") is None  # not yet reached
