"""Capital changes are cashflows (issue 17 item 1): no drawdown reading moves, no kill switch.

The real supervisor, in process, on scripted answers (fakes/fake_answer.py) and marks
(fakes/fake_marks.py): positions are opened and put in drawdown, then the capital changes by a
SIGHUP reload (applied as the daemon applies it), by a restart with a strategy added, or by a
restart with one pruned. Each strategy's drawdown after the next cycle, the portfolio drawdown
and the kill switch must not notice; the journal holds the rows in the DB, /status and inspect.
"""

from __future__ import annotations

import io
import json
import sqlite3

import pytest
from conftest import write_config
from test_cycle import ANSWER, answer, buy, marks, strat

from shared_tools.config.load import load_config
from supervisor.daemon import Supervisor
from supervisor.http.views import build_status
from supervisor.ops import inspect as inspect_cmd
from supervisor.risk import portfolio as risk_portfolio
from supervisor.state import capital
from supervisor.state.models import AppState, StrategyState

TOP = {"portfolio_risk": {"max_drawdown_pct": 20}}


def perp(sid: str, symbol: str, direction: str, **extra) -> dict:
    entry = {
        "id": sid,
        "type": "perps",
        "platform": "hyperliquid",
        "script": ANSWER,
        "allow_external_script": True,
        "args": [sid, symbol, "1h"],
        "capital": 1000,
        "leverage": 1,
        "direction": direction,
        "max_drawdown_pct": 90,
        "stop_loss_atr_mult": 0,
    }
    entry.update(extra)
    return entry


def roster(**capitals: float) -> list[dict]:
    """Two perps (a BTC long, an ETH short) and a spot strategy; ``capitals`` by id."""
    out = [
        perp("long", "BTC", "long"),
        perp("short", "ETH", "short"),
        strat("spot", "spot", "SOL/USDT", max_drawdown_pct=90),
    ]
    for entry in out:
        entry["capital"] = capitals.get(entry["id"], entry["capital"])
    return out


def say(tmp, sid: str, symbol: str, signal: int, price: float) -> None:
    answer(tmp, sid, {"symbol": symbol, "signal": signal, "price": price, "indicators": {}})


def in_drawdown(tmp_path, sup_for) -> Supervisor:
    """Open all three at 100, then mark every one of them 8% against its position."""
    sup = sup_for(roster(), **TOP)
    marks(tmp_path, BTC=100.0, ETH=100.0, SOL_USDT=100.0)
    say(tmp_path, "long", "BTC", 1, 100.0)
    say(tmp_path, "short", "ETH", -1, 100.0)
    answer(tmp_path, "spot", buy("SOL/USDT"))
    sup.run_cycle(sup.config.strategies)
    assert all(s.positions for s in sup.app.strategies.values())
    for sid, sym in (("long", "BTC"), ("short", "ETH"), ("spot", "SOL/USDT")):
        say(tmp_path, sid, sym, 0, 100.0)
    move_against(tmp_path)
    assert_no_kill(sup.run_cycle(sup.config.strategies))
    return sup


def move_against(tmp_path) -> None:
    marks(tmp_path, BTC=92.0, ETH=108.0, SOL_USDT=92.0)


def readings(sup: Supervisor) -> dict[str, float]:
    out = {sid: s.risk.current_drawdown_pct for sid, s in sup.app.strategies.items()}
    out["portfolio"] = risk_portfolio.state(sup.app)["drawdown_pct"]
    return out


def assert_no_kill(report) -> None:
    assert not [e for e in report.events if e.kind == "kill_switch"], report.events
    assert not [t for t in report.trades if t.reason == "kill_switch"]


def reload_with(sup: Supervisor, strategies: list[dict]) -> bool:
    """Rewrite the config file and apply it as the daemon does on SIGHUP."""
    write_config(sup.config.path.parent, strategies, **TOP)
    return sup.reload()


def journal(tmp_path) -> list[tuple]:
    con = sqlite3.connect(tmp_path / "state.db")
    try:
        return con.execute(
            "SELECT strategy_id, amount, reason FROM cashflows ORDER BY id"
        ).fetchall()
    finally:
        con.close()


def test_a_sighup_halving_every_capital_moves_no_drawdown(tmp_path, sup_for, capsys):
    sup = in_drawdown(tmp_path, sup_for)
    before = readings(sup)
    assert before["long"] > 7 and before["portfolio"] > 5  # the book is in drawdown
    spot_cash = sup.app.strategies["spot"].cash
    # the spot strategy is all in: its cut is refused, as before, with its reason
    assert not reload_with(sup, roster(long=500, short=500, spot=500))
    assert "capital cut of 500.00 exceeds free cash" in capsys.readouterr().err
    assert sup.app.strategies["long"].initial_capital == 1000  # nothing applied
    assert reload_with(sup, roster(long=500, short=500))
    err = capsys.readouterr().err
    assert "long capital 1000 -> 500 (cashflow -500.00)" in err
    assert sup.app.strategies["long"].cash == pytest.approx(1000 - 500 - 0.45)  # fee paid
    assert sup.app.strategies["spot"].cash == spot_cash
    report = sup.run_cycle(sup.config.strategies)  # the same marks: nothing moved but capital
    assert_no_kill(report)
    assert readings(sup) == pytest.approx(before, abs=1e-9)
    assert not risk_portfolio.latched(sup.app)
    rows = journal(tmp_path)
    assert rows[:3] == [
        ("long", 1000.0, "initial"),
        ("short", 1000.0, "initial"),
        ("spot", 1000.0, "initial"),
    ]
    assert rows[3:] == [("long", -500.0, "reload"), ("short", -500.0, "reload")]
    shown = [
        (c["strategy_id"], c["amount"], c["reason"]) for c in build_status(sup.app)["cashflows"]
    ]
    assert shown == rows
    doc, _ = inspect_doc(sup, "long")
    text = inspect_cmd.render(doc)
    assert "cashflows (2 newest of 2):" in text and "-500.00 (reload, cycle 2)" in text


def test_a_sighup_doubling_one_capital_moves_no_drawdown(tmp_path, sup_for):
    sup = in_drawdown(tmp_path, sup_for)
    before = readings(sup)
    assert reload_with(sup, roster(spot=2000))
    assert sup.app.strategies["spot"].initial_capital == 2000
    assert_no_kill(sup.run_cycle(sup.config.strategies))
    assert readings(sup) == pytest.approx(before, abs=1e-9)
    assert journal(tmp_path)[-1] == ("spot", 1000.0, "reload")
    view = build_status(sup.app)["cashflows"]
    assert view[-1]["strategy_id"] == "spot" and view[-1]["amount"] == 1000.0
    assert view[-1]["reason"] == "reload" and view[-1]["id"] == 4  # committed with the save
    doc, error = inspect_doc(sup, "spot")
    assert not error
    flows = doc["strategies"][0]["state"]["cashflows"]
    assert [(c["amount"], c["reason"]) for c in flows] == [(1000.0, "reload"), (1000.0, "initial")]
    text = inspect_cmd.render(doc)
    assert "cashflows (2 newest of 2):" in text and "+1,000.00 (reload, cycle 2)" in text
    as_json = json.loads(json.dumps(doc, allow_nan=False, default=str))  # what --json prints
    assert as_json["strategies"][0]["state"]["cashflows_stored"] == 2


def inspect_doc(sup: Supervisor, sid: str):
    from shared_tools.clock import now_utc

    return inspect_cmd.build_document(sup.config, [sup.config.strategy(sid)], now_utc(), 5)


def test_a_restart_with_a_strategy_added_moves_no_drawdown(tmp_path, sup_for, capsys):
    sup = in_drawdown(tmp_path, sup_for)
    before = readings(sup)
    sup.shutdown()
    again = sup_for([*roster(), perp("late", "BTC", "long")], **TOP)  # a restart, one more
    assert "late: added to the book (cashflow +1,000.00)" in capsys.readouterr().err
    say(tmp_path, "late", "BTC", 0, 92.0)
    move_against(tmp_path)
    assert_no_kill(again.run_cycle(again.config.strategies))
    after = readings(again)
    assert after.pop("late") == 0.0
    assert after == pytest.approx(before, abs=1e-9)
    assert risk_portfolio.state(again.app)["ids"] == ["late", "long", "short", "spot"]
    assert journal(tmp_path)[-1] == ("late", 1000.0, "added")


def test_a_restart_with_a_new_capital_applies_it_as_a_cashflow(tmp_path, sup_for, capsys):
    sup = in_drawdown(tmp_path, sup_for)
    before = readings(sup)
    sup.shutdown()
    again = sup_for(roster(short=400), **TOP)
    assert "short: capital 1000 -> 400 from the config (cashflow -600.00)" in (
        capsys.readouterr().err
    )
    assert_no_kill(again.run_cycle(again.config.strategies))
    assert readings(again) == pytest.approx(before, abs=1e-9)
    assert journal(tmp_path)[-1] == ("short", -600.0, "restart")


def test_a_restart_with_a_strategy_pruned_moves_no_drawdown(tmp_path, sup_for, capsys):
    sup = in_drawdown(tmp_path, sup_for)
    before = readings(sup)
    value = sup.app.strategies["short"].value(sup.app.prices_for("hyperliquid"))
    sup.shutdown()
    kept = [e for e in roster() if e["id"] != "short"]
    config = load_config(write_config(tmp_path, kept, **TOP))
    again = Supervisor(config, once=True, prune_open=True, out=io.StringIO())
    assert again.start() == 0
    try:
        assert "pruned strategy 'short'" in capsys.readouterr().err
        assert journal(tmp_path)[-1] == ("short", pytest.approx(-value), "pruned")  # committed
        assert_no_kill(again.run_cycle(again.config.strategies))
        before.pop("short")
        assert readings(again) == pytest.approx(before, abs=1e-9)
    finally:
        again.shutdown()


# -- the function itself ----------------------------------------------------------------------


def _book() -> AppState:
    app = AppState()
    s = StrategyState(id="a", type="spot", platform="binanceus", cash=900, initial_capital=1000)
    s.risk.peak_value = 1000  # value 900: 10% below its peak
    app.strategies["a"] = s
    risk_portfolio.rebase(app, 1000.0, ["a"])
    return app


@pytest.mark.parametrize("amount", [-450.0, 900.0, 1e-12])
def test_a_cashflow_keeps_every_drawdown_percentage(amount):
    app = _book()
    a = app.strategies["a"]
    row = capital.cashflow(app, a, amount, "test")
    if amount == 1e-12:
        assert row is None and capital.recent(app) == []
        return
    value = 900 + amount
    assert a.cash == value and a.initial_capital == 1000 + amount
    assert (a.risk.peak_value - value) / a.risk.peak_value == pytest.approx(0.10)
    peak = risk_portfolio.state(app)["peak"]
    assert (peak - value) / peak == pytest.approx(0.10)
    assert capital.pending(app) == [row] and row["amount"] == amount and row["cycle"] == 0


def test_a_wiped_book_takes_a_deposit_at_face_value():
    assert capital.scaled_peak(1000.0, 0.0, 500.0) == 1500.0
    assert capital.scaled_peak(0.0, 0.0, 500.0) == 500.0  # a new strategy: peak = capital
    assert capital.scaled_peak(0.0, 800.0, 500.0) == 0.0  # unset stays unset
    assert capital.scaled_peak(1000.0, 500.0, -600.0) == 0.0  # never negative


def test_an_unset_portfolio_peak_stays_for_first_start():
    app = AppState()
    s = StrategyState(id="n", type="spot", platform="binanceus", cash=0, initial_capital=0)
    capital.add_strategy(app, s, 1000.0, 1000.0, "initial")
    assert risk_portfolio.state(app)["peak"] == 0.0  # the first trusted reading sets it
    assert s.cash == 1000 and s.risk.peak_value == 1000 and app.strategies["n"] is s


def test_pending_rows_survive_trimming():
    app = AppState()
    app.extra[capital.KEY] = [{"id": i + 1} for i in range(capital.RECENT_KEPT)]
    rows = [{"id": 0, "n": i} for i in range(capital.RECENT_KEPT + 5)]
    kept = capital.trim([*capital.recent(app), *rows])
    assert kept == rows  # every unsaved row stays until it is on disk
