"""type options in the supervisor's cycle, against stand-in workers speaking the contract.

``fakes/fake_options.py`` plays check_options.py (answers a test wrote) and mark_options.py
(marks from a table a test wrote), so each test drives open -> mark -> harvest -> expiry
through the real cycle and state DB.
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from supervisor import cycle_options

FAKES = Path(__file__).resolve().parent / "fakes"
FAKE = str(FAKES / "fake_options.py")
EXPIRY = "2026-12-18"


@pytest.fixture
def opt_for(sup_for, monkeypatch, tmp_path):
    monkeypatch.setattr(cycle_options, "MARK_SCRIPT", FAKE)
    monkeypatch.setenv("GO_TRADER_NOW", "2026-12-07T12:00:00Z")

    def make(*entries: dict, **top):
        return sup_for(list(entries), **top)

    return make


def opt(sid: str, strategy: str, und: str = "BTC", platform: str = "deribit", **extra) -> dict:
    entry = {
        "id": sid,
        "type": "options",
        "script": FAKE,
        "allow_external_script": True,
        "args": [strategy, und, f"--platform={platform}"],
        "capital": 100000,
    }
    entry.update(extra)
    return entry


def action(kind: str, otype: str, strike: float, premium: float, **extra) -> dict:
    return {
        "action": kind,
        "option_type": otype,
        "strike": strike,
        "expiry": EXPIRY,
        "dte": 11,
        "premium": premium / 100000,
        "premium_usd": premium,
        "greeks": {
            "delta": 0.3 if otype == "call" else -0.3,
            "gamma": 1e-5,
            "theta": -20.0,
            "vega": 50.0,
        },
        "expires_at": EXPIRY + "T08:00:00Z",
        **extra,
    }


def answer(tmp: Path, strategy: str, actions: list[dict], signal: int = 1, **extra) -> None:
    doc = {
        "strategy": strategy,
        "underlying": "BTC",
        "signal": signal,
        "spot_price": 100000.0,
        "actions": actions,
        "iv_rank": 55.0,
        "platform": "deribit",
        **extra,
    }
    (tmp / f"options-{strategy}.json").write_text(json.dumps(doc))


def marks(tmp: Path, spot: float, legs: dict[str, dict]) -> None:
    (tmp / "option-marks.json").write_text(json.dumps({"spots": {"BTC": spot}, "legs": legs}))


def leg_mark(premium: float, expired: bool = False, settlement: float | None = None) -> dict:
    return {
        "premium_usd": premium,
        "greeks": {"delta": 0.2, "gamma": 0, "theta": -5, "vega": 9},
        "dte": 0.0 if expired else 10.5,
        "expires_at": EXPIRY + "T08:00:00Z",
        "expired": expired,
        "settlement_price": settlement,
    }


def identity(strat) -> None:
    """cash + leg values + spot = value; sum of trade P&L = value - capital."""
    value = strat.cash + sum(leg.value() for leg in strat.legs.values())
    value += sum(p.quantity * p.avg_cost for p in strat.positions.values())  # at cost here
    assert strat.value({}) == pytest.approx(value)


def ledger(tmp: Path, sid: str) -> float:
    con = sqlite3.connect(tmp / "state.db")
    rows = con.execute(
        "SELECT SUM(realized_pnl - fee) FROM trades WHERE strategy_id=?", (sid,)
    ).fetchone()
    return float(rows[0] or 0.0)


def test_open_mark_expire_itm_long_call_on_ibkr_multiplier(opt_for, tmp_path, monkeypatch):
    answer(tmp_path, "momentum_options", [action("buy", "call", 100000, 2000.0, multiplier=0.1)])
    sup = opt_for(opt("ibkr-momentum-btc", "momentum_options", platform="ibkr"))
    sup.run_cycle(sup.config.strategies)
    strat = sup.app.strategies["ibkr-momentum-btc"]
    (leg,) = strat.legs.values()
    assert leg.multiplier == 0.1 and leg.key == f"BTC-call-buy-100000-{EXPIRY}"
    assert strat.cash == pytest.approx(100000 - 0.1 * 2000 - 0.25)  # premium + $0.25/contract
    # a later mark, then expiry: settles only once the settlement price is known
    answer(tmp_path, "momentum_options", [], signal=0)
    marks(tmp_path, 103000, {f"BTC-call-100000-{EXPIRY}": leg_mark(3100.0)})
    sup.run_cycle(sup.config.strategies)
    assert leg.mark == 3100.0 and strat.value({}) == pytest.approx(strat.cash + 310.0)
    monkeypatch.setenv("GO_TRADER_NOW", EXPIRY + "T09:00:00Z")
    marks(tmp_path, 104000, {f"BTC-call-100000-{EXPIRY}": leg_mark(0.0, True, None)})
    sup.run_cycle(sup.config.strategies)
    assert strat.legs, "no settlement while the settlement price is unknown"
    marks(tmp_path, 104000, {f"BTC-call-100000-{EXPIRY}": leg_mark(0.0, True, 105000.0)})
    sup.run_cycle(sup.config.strategies)
    assert not strat.legs
    # long ITM credited: intrinsic 5000 x 0.1 (upstream never credited it)
    assert strat.cash == pytest.approx(100000 - 200.25 + 500.0)
    assert ledger(tmp_path, "ibkr-momentum-btc") == pytest.approx(strat.cash - 100000)
    con = sqlite3.connect(tmp_path / "state.db")
    (reason,) = con.execute("SELECT close_reason FROM closed_option_positions").fetchone()
    assert reason == "expired_itm"


def test_sold_call_itm_without_spot_debits_s_minus_k(opt_for, tmp_path, monkeypatch):
    answer(tmp_path, "covered_calls", [action("sell", "call", 100000, 1500.0)])
    sup = opt_for(opt("deribit-calls-btc", "covered_calls", theta_harvest=False))
    sup.run_cycle(sup.config.strategies)
    strat = sup.app.strategies["deribit-calls-btc"]
    cash0 = strat.cash
    assert cash0 == pytest.approx(100000 + 1500 - 1500 * 0.0003)
    answer(tmp_path, "covered_calls", [], signal=0)
    monkeypatch.setenv("GO_TRADER_NOW", EXPIRY + "T08:30:00Z")
    marks(tmp_path, 110000, {f"BTC-call-100000-{EXPIRY}": leg_mark(0.0, True, 110000.0)})
    sup.run_cycle(sup.config.strategies)
    assert not strat.legs and not strat.positions
    assert strat.cash == pytest.approx(cash0 - 10000.0)  # S - K, not upstream's +K windfall
    assert ledger(tmp_path, "deribit-calls-btc") == pytest.approx(strat.cash - 100000)


def test_wheel_put_assigned_itm_becomes_spot_long_at_the_strike(opt_for, tmp_path, monkeypatch):
    answer(tmp_path, "wheel", [action("sell", "put", 94000, 1200.0)])
    sup = opt_for(opt("deribit-wheel-btc", "wheel", theta_harvest=False))
    sup.run_cycle(sup.config.strategies)
    strat = sup.app.strategies["deribit-wheel-btc"]
    cash0 = strat.cash
    answer(tmp_path, "wheel", [], signal=0)
    monkeypatch.setenv("GO_TRADER_NOW", EXPIRY + "T08:30:00Z")
    marks(tmp_path, 90000, {f"BTC-put-94000-{EXPIRY}": leg_mark(0.0, True, 90000.0)})
    sup.run_cycle(sup.config.strategies)
    assert not strat.legs
    pos = strat.positions["BTC"]
    assert pos.quantity == 1.0 and pos.avg_cost == 94000.0
    assert strat.cash == pytest.approx(cash0 - 94000.0)
    # the assigned spot is marked every cycle from mark_options' spots
    monkeypatch.setenv("GO_TRADER_NOW", EXPIRY + "T12:00:00Z")
    marks(tmp_path, 91000, {})
    sup.run_cycle(sup.config.strategies)
    assert sup.app.marks[("deribit", "BTC")].price == 91000
    assert strat.value(sup.app.prices_for("deribit")) == pytest.approx(strat.cash + 91000)
    sent = json.loads((tmp_path / "options-wheel-stdin.json").read_text())
    assert sent == [
        {
            "position_type": "spot",
            "symbol": "BTC",
            "quantity": 1.0,
            "avg_cost": 94000.0,
            "side": "long",
        }
    ]
    realized = ledger(tmp_path, "deribit-wheel-btc")
    assert realized == pytest.approx(1200 - 1200 * 0.0003)  # the premium kept
    value = strat.value(sup.app.prices_for("deribit"))
    assert value - 100000 == pytest.approx(realized + (91000 - 94000))  # + unrealized spot


def test_theta_harvest_runs_when_the_check_fails(opt_for, tmp_path):
    answer(tmp_path, "vol_mean_reversion", [action("sell", "put", 90000, 1000.0)])
    sup = opt_for(opt("deribit-vol-btc", "vol_mean_reversion"))
    sup.run_cycle(sup.config.strategies)
    strat = sup.app.strategies["deribit-vol-btc"]
    assert len(strat.legs) == 1
    (tmp_path / "options-vol_mean_reversion.json").write_text('{"error": "Could not fetch spot"}')
    marks(tmp_path, 100000, {f"BTC-put-90000-{EXPIRY}": leg_mark(300.0)})  # 70% captured
    sup.run_cycle(sup.config.strategies)
    assert not strat.legs and "Could not fetch spot" in strat.last_error
    trade = sup.report.trades[-1] if hasattr(sup, "report") else None
    con = sqlite3.connect(tmp_path / "state.db")
    rows = con.execute("SELECT details, reason FROM trades WHERE reason='theta_harvest'").fetchall()
    assert rows and "Theta harvest: 70% profit captured" in rows[0][0]
    del trade


def test_gates_drop_opens_and_a_fifth_is_refused(opt_for, tmp_path):
    acts = [action("sell", "put", 80000 + 2000 * i, 500.0) for i in range(5)]
    answer(tmp_path, "vol_mean_reversion", acts)
    sup = opt_for(
        opt("deribit-vol-btc", "vol_mean_reversion", paused=True),
        opt("deribit-vol2-btc", "vol_mean_reversion", capital=500000),
    )
    sup.run_cycle(sup.config.strategies)
    assert not sup.app.strategies["deribit-vol-btc"].legs  # paused drops opens (buy and sell)
    book = sup.app.strategies["deribit-vol2-btc"]
    assert len(book.legs) == 4  # the 5th refused
    # the check's cap answer (a skip) opens nothing, and the supervisor never re-opens it
    answer(tmp_path, "vol_mean_reversion", acts[4:], skip_reason="Max positions reached (4/4)")
    sup.run_cycle(sup.config.strategies)
    assert len(book.legs) == 4


@pytest.mark.parametrize("book_limit, reason", [(25, "kill_switch"), (90, "circuit_breaker")])
def test_breaker_and_kill_switch_close_legs_at_their_last_mark(
    opt_for, tmp_path, book_limit, reason
):
    answer(tmp_path, "covered_calls", [action("sell", "call", 100000, 1500.0)])
    entry = opt("deribit-calls-btc", "covered_calls", capital=10000, max_drawdown_pct=20)
    sup = opt_for(
        {**entry, "theta_harvest": False}, portfolio_risk={"max_drawdown_pct": book_limit}
    )
    sup.run_cycle(sup.config.strategies)
    strat = sup.app.strategies["deribit-calls-btc"]
    assert len(strat.legs) == 1
    answer(tmp_path, "covered_calls", [], signal=0)
    marks(tmp_path, 106000, {f"BTC-call-100000-{EXPIRY}": leg_mark(4000.0)})  # value 7500
    cash = strat.cash
    sup.run_cycle(sup.config.strategies)
    assert not strat.legs and strat.risk.circuit_breaker == (reason == "circuit_breaker")
    assert strat.cash == pytest.approx(cash - 4000.0 - 4000.0 * 0.0003)  # short debited
    con = sqlite3.connect(tmp_path / "state.db")
    (why,) = con.execute("SELECT close_reason FROM closed_option_positions").fetchone()
    assert why == reason


def test_the_notional_cap_drops_opens_but_harvest_still_runs(opt_for, tmp_path):
    answer(tmp_path, "vol_mean_reversion", [action("sell", "put", 90000, 1000.0)])
    sup = opt_for(
        opt("deribit-vol-btc", "vol_mean_reversion"), portfolio_risk={"max_notional_usd": 50000}
    )
    sup.run_cycle(sup.config.strategies)
    strat = sup.app.strategies["deribit-vol-btc"]
    assert len(strat.legs) == 1  # the book's notional was 0 before this open
    answer(tmp_path, "vol_mean_reversion", [action("sell", "put", 88000, 900.0)])
    marks(tmp_path, 100000, {f"BTC-put-90000-{EXPIRY}": leg_mark(300.0)})
    report = sup.run_cycle(sup.config.strategies)
    assert not strat.legs  # harvested (70%), and the new sale was held by the cap
    text = " ".join(o.action for o in report.outcomes)
    assert "held (notional $90,000.00 > $50,000.00)" in text and "Theta harvest" in text


def test_legs_survive_a_restart(opt_for, tmp_path):
    from supervisor.state.db import StateDB

    answer(tmp_path, "wheel", [action("sell", "put", 94000, 1200.0, multiplier=1.0)])
    sup = opt_for(opt("deribit-wheel-btc", "wheel"))
    sup.run_cycle(sup.config.strategies)
    (before,) = sup.app.strategies["deribit-wheel-btc"].legs.values()
    loaded = StateDB(tmp_path / "state.db").load()
    (after,) = loaded.strategies["deribit-wheel-btc"].legs.values()
    assert after == before and after.key == f"BTC-put-sell-94000-{EXPIRY}"


def test_a_harvest_only_cycle_sends_a_trade_dm(opt_for, tmp_path, monkeypatch):
    """Upstream sent no owner trade DM when a cycle's only trades were theta-harvest closes."""
    from datetime import UTC, datetime

    from shared_tools.config.notify import ChatSettings, NotifySettings
    from supervisor.notify.messages import messages_for_cycle

    answer(tmp_path, "vol_mean_reversion", [action("sell", "put", 90000, 1000.0)])
    sup = opt_for(opt("deribit-vol-btc", "vol_mean_reversion"))
    sup.run_cycle(sup.config.strategies)
    answer(tmp_path, "vol_mean_reversion", [], signal=0)
    marks(tmp_path, 100000, {f"BTC-put-90000-{EXPIRY}": leg_mark(300.0)})
    report = sup.run_cycle(sup.config.strategies)
    monkeypatch.setenv("DISCORD_BOT_TOKEN", "tok")
    sup.config.notify = NotifySettings(
        discord=ChatSettings(enabled=True, channels={"deribit": "100"})
    )
    msgs = messages_for_cycle(report, sup.app, sup.config, datetime(2026, 12, 7, tzinfo=UTC))
    alert = next(m for m in msgs if m.category == "trade")
    assert alert.body.startswith("🔴 **TRADE CLOSED - PAPER**")
    assert "SHORT" in alert.body and "theta_harvest" in alert.body
    summary = next(m for m in msgs if m.category == "summary")
    assert "🎯" in summary.body


def test_the_check_gets_its_legs_in_the_contracts_shape(opt_for, tmp_path):
    answer(tmp_path, "momentum_options", [action("buy", "call", 100000, 2000.0, multiplier=0.1)])
    sup = opt_for(opt("ibkr-momentum-btc", "momentum_options", platform="ibkr"))
    sup.run_cycle(sup.config.strategies)
    answer(tmp_path, "momentum_options", [], signal=0)
    sup.run_cycle(sup.config.strategies)
    (sent,) = json.loads((tmp_path / "options-momentum_options-stdin.json").read_text())
    (leg,) = sup.app.strategies["ibkr-momentum-btc"].legs.values()
    assert sent == {
        "id": leg.leg_id,
        "underlying": "BTC",
        "option_type": "call",
        "strike": 100000.0,
        "expiry": EXPIRY,
        "dte": 11,
        "action": "buy",
        "quantity": 1.0,
        "multiplier": 0.1,
        "entry_premium_usd": pytest.approx(200.0),  # qty x multiplier x premium (a buy's cost)
        "entry_premium_unit_usd": 2000.0,
        "delta": 0.3,
        "gamma": 1e-5,
        "theta": -20.0,
        "vega": 50.0,
    }


def test_inspect_shows_legs_greeks_and_closed_rows(opt_for, tmp_path):
    from datetime import UTC, datetime

    from supervisor.ops.inspect import build_document, render

    answer(
        tmp_path,
        "vol_mean_reversion",
        [action("sell", "put", 90000, 1000.0), action("sell", "call", 110000, 800.0)],
    )
    sup = opt_for(opt("deribit-vol-btc", "vol_mean_reversion"))
    sup.run_cycle(sup.config.strategies)
    answer(tmp_path, "vol_mean_reversion", [], signal=0)
    marks(
        tmp_path,
        100000,
        {f"BTC-put-90000-{EXPIRY}": leg_mark(300.0), f"BTC-call-110000-{EXPIRY}": leg_mark(700.0)},
    )
    sup.run_cycle(sup.config.strategies)
    sup.shutdown()
    doc, error = build_document(sup.config, sup.config.strategies, datetime.now(UTC), 10)
    assert not error
    text = render(doc)
    assert f"BTC-call-sell-110000-{EXPIRY}: 1 x1" in text
    assert "portfolio greeks: delta -0.2" in text  # sold call: -(0.2) x 1 x 1
    assert "closed " in text and f"BTC-put-sell-90000-{EXPIRY} @ 300 [theta_harvest]" in text


def test_the_exposure_cap_holds_a_leg_by_its_signed_delta(opt_for, tmp_path):
    """Upstream's direction of a leg: sign(action) x delta; a sold put is long exposure."""
    answer(tmp_path, "wheel", [action("sell", "put", 90000, 1000.0)])  # delta -0.3 sold: long
    sup = opt_for(
        opt("deribit-wheel-btc", "wheel"),
        portfolio_risk={"max_same_direction_notional_usd": 20000},
    )
    sup.run_cycle(sup.config.strategies)
    strat = sup.app.strategies["deribit-wheel-btc"]
    assert len(strat.legs) == 1
    answer(
        tmp_path,
        "wheel",
        [
            action("sell", "put", 85000, 900.0),  # long again: held
            action("buy", "put", 80000, 500.0),
        ],
    )  # short exposure: opens
    marks(tmp_path, 100000, {f"BTC-put-90000-{EXPIRY}": leg_mark(950.0)})
    marks_doc = json.loads((tmp_path / "option-marks.json").read_text())
    marks_doc["legs"][f"BTC-put-90000-{EXPIRY}"]["greeks"]["delta"] = -0.3
    (tmp_path / "option-marks.json").write_text(json.dumps(marks_doc))
    report = sup.run_cycle(sup.config.strategies)
    # the held leg's long exposure: 0.3 x 1 x 100000 = $30,000 > $20,000
    assert "held (long exposure $30,000 > $20,000)" in report.outcomes[0].action
    assert {leg.key for leg in strat.legs.values()} == {
        f"BTC-put-sell-90000-{EXPIRY}",
        f"BTC-put-buy-80000-{EXPIRY}",
    }
