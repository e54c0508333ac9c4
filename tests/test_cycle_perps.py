"""Perps and futures through the supervisor's cycle, on scripted answers and marks.

The book's rules are proven in test_book*.py; these prove the cycle wires them: stops and
targets fire on marks whether or not the strategy is due (targets at their own price, stops at
the worse of their trigger and the mark that crossed them); a larger
close from the check outranks them; invert_signal and direction shape entries; the regime gate
holds entries only; funding is booked across hours; /status shows the protection.
"""

from __future__ import annotations

import json
import math

import pytest
from test_cycle import ANSWER, answer, marks, saved_trades

from supervisor.http.views import build_status

HOUR = 3600


def perp(sid: str, name: str, symbol: str = "BTC", **extra) -> dict:
    entry = {
        "id": sid,
        "type": "perps",
        "platform": "hyperliquid",
        "script": ANSWER,
        "allow_external_script": True,
        "args": [name, symbol, "1h"],
        "capital": 1000,
        "max_drawdown_pct": 90,
        "stop_loss_atr_mult": 0,  # no automatic HL stop unless a test asks for one
    }
    entry.update(extra)
    return entry


def say(tmp, name: str, signal: int, price: float, atr: float = 2.0, **extra) -> None:
    doc = {"symbol": "BTC", "signal": signal, "price": price, "indicators": {"atr": atr}}
    answer(tmp, name, {**doc, **extra})


def mark(tmp, price: float, funding: float | None = None) -> None:
    marks(tmp, BTC=price)
    if funding is not None:
        data = json.loads((tmp / "marks.json").read_text())
        data["_funding"] = {"BTC": funding}
        (tmp / "marks.json").write_text(json.dumps(data))


@pytest.fixture
def clock(monkeypatch):
    """Pin GO_TRADER_NOW (the book's clock) and move it forward by hours."""
    state = {"t": 1_763_683_200}  # 2025-11-21T00:00:00Z

    def at(hours: float = 0.0) -> None:
        state["t"] += hours * HOUR
        monkeypatch.setenv("GO_TRADER_NOW", str(state["t"]))

    at()
    return at


def test_tiered_tp_atr_closes_half_at_one_atr_and_the_rest_at_two(tmp_path, sup_for, clock):
    tiers = [{"atr_multiple": 1, "close_fraction": 0.5}, {"atr_multiple": 2, "close_fraction": 1.0}]
    sc = perp(
        "tp", "tp", close_strategies=[{"name": "tiered_tp_atr", "params": {"tp_tiers": tiers}}]
    )
    sup = sup_for([sc])
    mark(tmp_path, 100.0)
    say(tmp_path, "tp", 1, 100.0)
    sup.run_cycle(sup.config.strategies)
    pos = sup.app.strategies["tp"].positions["BTC"]
    assert pos.entry_atr == 2.0 and [t[0] for t in pos.guard.targets] == [102.0, 104.0]
    say(tmp_path, "tp", 0, 100.0)
    for price in (101.0, 102.6, 103.0, 104.3):
        clock(1)
        mark(tmp_path, price)
        sup.run_cycle([])  # not due: the targets are watched anyway
    closes = [t for t in saved_trades(tmp_path) if t[1] == "sell"]
    assert [(c[2], c[3]) for c in closes] == [(102.0, 102.6), (104.0, 104.3)]  # trigger, mark
    assert not sup.app.strategies["tp"].positions


def test_atr_stop_and_trailing_stop_fire_once_at_the_mark_past_them(tmp_path, sup_for, clock):
    sup = sup_for(
        [
            perp("sl", "sl", stop_loss_atr_mult=1.5),
            perp(
                "tr", "tr", stop_loss_atr_mult=0, trailing_stop_pct=5, trailing_stop_min_move_pct=0
            ),
        ]
    )
    mark(tmp_path, 100.0)
    say(tmp_path, "sl", 1, 100.0)
    say(tmp_path, "tr", 1, 100.0)
    sup.run_cycle(sup.config.strategies)
    say(tmp_path, "sl", 0, 100.0)
    say(tmp_path, "tr", 0, 100.0)
    for price in (110.0, 104.0, 96.0, 90.0):
        clock(1)
        mark(tmp_path, price)
        sup.run_cycle(sup.config.strategies)
    rows = [(t[0], t[2]) for t in saved_trades(tmp_path) if t[1] == "sell"]
    # each once, at the worse of its trigger (104.5, 97) and the mark that crossed it
    assert rows == [("tr", 104.0), ("sl", 96.0)]


def test_invert_signal_flips_entries_and_direction_long_never_shorts(tmp_path, sup_for, clock):
    sup = sup_for(
        [
            perp("inv", "inv", direction="both", invert_signal=True),
            perp("lng", "lng", direction="long"),
        ]
    )
    mark(tmp_path, 100.0)
    say(tmp_path, "inv", 1, 100.0)
    say(tmp_path, "lng", -1, 100.0)
    sup.run_cycle(sup.config.strategies)
    book = sup.app.strategies
    assert book["inv"].positions["BTC"].side == "short"
    assert not book["lng"].positions


def test_the_regime_gate_holds_entries_only(tmp_path, sup_for, clock):
    sup = sup_for(
        [perp("rg", "rg", direction="both", allowed_regimes=["trending_up"])],
        regime={"enabled": True},
    )
    mark(tmp_path, 100.0)
    say(tmp_path, "rg", 1, 100.0, regime="ranging")
    report = sup.run_cycle(sup.config.strategies)
    assert not sup.app.strategies["rg"].positions
    assert any("regime_gate: " in o.action for o in report.outcomes)
    clock(1)
    say(tmp_path, "rg", 1, 100.0, regime="trending_up")
    sup.run_cycle(sup.config.strategies)
    assert sup.app.strategies["rg"].positions["BTC"].regime == "trending_up"
    clock(1)
    say(tmp_path, "rg", -1, 100.0, regime="ranging", close_fraction=1.0)  # a close: never gated
    sup.run_cycle(sup.config.strategies)
    assert not sup.app.strategies["rg"].positions


def test_funding_is_booked_and_the_ledger_explains_the_cash(tmp_path, sup_for, clock):
    sup = sup_for([perp("f", "f", direction="both")])
    mark(tmp_path, 100.0, funding=1e-4)
    say(tmp_path, "f", -1, 100.0)
    sup.run_cycle(sup.config.strategies)
    say(tmp_path, "f", 0, 100.0)
    for _ in range(3):
        clock(1)
        sup.run_cycle(sup.config.strategies)
    strat = sup.app.strategies["f"]
    pos = strat.positions["BTC"]
    status = build_status(sup.app)["strategies"]["f"]["positions"]["BTC"]
    assert status["side"] == "short" and status["mark"] == 100.0 and status["leverage"] == 1.0
    sup.shutdown()
    import sqlite3

    con = sqlite3.connect(tmp_path / "state.db")
    rows = con.execute(
        "SELECT trade_type, realized_pnl, fee FROM trades WHERE strategy_id='f' ORDER BY rowid"
    ).fetchall()
    funding = [r for r in rows if r[0] == "funding"]
    assert len(funding) == 3 and all(r[1] > 0 for r in funding)  # shorts receive a + rate
    assert math.isclose(sum(r[1] for r in funding), 3 * pos.quantity * 100.0 * 1e-4)
    assert math.isclose(strat.cash, 1000 + sum(r[1] - r[2] for r in rows))


def test_a_stop_hit_in_the_same_cycle_as_a_close_signal_fills_first(tmp_path, sup_for, clock):
    sup = sup_for([perp("tie", "tie", direction="both", stop_loss_pct=2)])
    mark(tmp_path, 100.0)
    say(tmp_path, "tie", 1, 100.0)
    sup.run_cycle(sup.config.strategies)
    clock(1)
    mark(tmp_path, 95.0)
    say(tmp_path, "tie", -1, 95.0)  # the check says close (and, plain, flip) as the stop is hit
    sup.run_cycle(sup.config.strategies)
    closes = [t for t in saved_trades(tmp_path) if t[1] == "sell"]
    # the stop (98) filled first, at the mark that gapped through it
    assert [(c[2], c[3]) for c in closes] == [(95.0, 95.0)]
    assert not sup.app.strategies["tie"].positions  # and nothing reopens in the same cycle


def test_perps_breaker_reads_the_margin_lens(tmp_path, sup_for, clock):
    """$100 margin at 10x: a 6% move loses 60% of the margin but only 6% of the equity."""
    sup = sup_for([perp("m", "m", leverage=10, margin_per_trade_usd=100, max_drawdown_pct=50)])
    mark(tmp_path, 100.0)
    say(tmp_path, "m", 1, 100.0)
    sup.run_cycle(sup.config.strategies)
    say(tmp_path, "m", 0, 100.0)
    clock(1)
    mark(tmp_path, 97.0)  # -30% of the margin: under the limit
    sup.run_cycle(sup.config.strategies)
    risk = sup.app.strategies["m"].risk
    assert not risk.circuit_breaker and risk.current_drawdown_pct == pytest.approx(30.0, abs=0.5)
    clock(1)
    mark(tmp_path, 94.0)
    report = sup.run_cycle(sup.config.strategies)
    assert risk.circuit_breaker and "max drawdown exceeded (60" in risk.circuit_breaker_reason
    assert [t.reason for t in report.trades] == ["circuit_breaker"]
    assert sup.app.strategies["m"].value({}) > 900  # the equity lens alone would not have fired


def test_portfolio_margin_lens_warns_but_never_latches(tmp_path, sup_for, clock, monkeypatch):
    monkeypatch.setenv("DISCORD_OWNER_ID", "42")
    sc = perp("m", "m", leverage=10, margin_per_trade_usd=100, circuit_breaker=False)
    sup = sup_for([sc], portfolio_risk={"max_drawdown_pct": 25})
    mark(tmp_path, 100.0)
    say(tmp_path, "m", 1, 100.0)
    sup.run_cycle(sup.config.strategies)
    say(tmp_path, "m", 0, 100.0)
    clock(1)
    mark(tmp_path, 96.0)  # margin -40% (band from 15%), equity -4%
    report = sup.run_cycle(sup.config.strategies)
    assert [e.kind for e in report.events] == ["warning"] and "margin 4" in report.events[0].text
    view = build_status(sup.app)["portfolio_risk"]
    assert view["margin_drawdown_pct"] == pytest.approx(40.0, abs=0.5) and not view["kill_switch"]
