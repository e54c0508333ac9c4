"""The portfolio kill switch, its warning band and the book-wide entry holds, through the cycle.

Scripted answers (fakes/fake_answer.py) and marks (fakes/fake_marks.py): trigger and flatten,
latch, a restart while latched, operator and automatic reset (peak re-based), the warning
band's throttle, one alert when the kill switch and a strategy breaker fire together, the
daily loss limit, the notional cap and the correlation snapshot.
"""

from __future__ import annotations

import pytest
from test_cycle import answer, buy, marks, strat

from supervisor.http.views import build_status
from supervisor.risk import portfolio as risk_portfolio

HOLD = {"symbol": "BTC/USDT", "signal": 0, "price": 100.0}


def _two(**risk) -> tuple[list[dict], dict]:
    strategies = [strat("a", "a"), strat("b", "b")]
    return strategies, {"portfolio_risk": {"max_drawdown_pct": 25, **risk}}


@pytest.fixture
def owner(monkeypatch):
    monkeypatch.setenv("DISCORD_OWNER_ID", "42")  # an owner resets by hand: no auto-reset


def _open_both(tmp_path, sup_for, **risk):
    strategies, top = _two(**risk)
    sup = sup_for(strategies, **top)
    marks(tmp_path, BTC_USDT=100.0)
    answer(tmp_path, "a", buy())
    answer(tmp_path, "b", buy())
    sup.run_cycle(sup.config.strategies)
    answer(tmp_path, "a", HOLD)
    answer(tmp_path, "b", HOLD)
    return sup


def test_kill_switch_flattens_latches_and_survives_a_restart(tmp_path, sup_for, owner):
    sup = _open_both(tmp_path, sup_for)
    marks(tmp_path, BTC_USDT=70.0)  # -30% on the whole book
    report = sup.run_cycle(sup.config.strategies)
    assert [e.kind for e in report.events] == ["kill_switch"]
    assert {t.reason for t in report.trades} == {"kill_switch"} and len(report.trades) == 2
    assert all(not s.positions for s in sup.app.strategies.values())
    view = build_status(sup.app)["portfolio_risk"]
    assert view["kill_switch"] and "30.1%" in view["reason"]
    answer(tmp_path, "a", buy(price=70.0))
    report = sup.run_cycle(sup.config.strategies)  # latched: no check runs, nothing opens
    assert report.trades == [] and all(o.action == "kill switch active" for o in report.outcomes)
    sup.shutdown()
    strategies, top = _two()
    again = sup_for(strategies, **top)  # a restart on the same DB
    assert risk_portfolio.latched(again.app)
    assert again.run_cycle(again.config.strategies).trades == []


def test_operator_reset_rebases_the_peak_and_trading_resumes(tmp_path, sup_for, owner):
    sup = _open_both(tmp_path, sup_for)
    marks(tmp_path, BTC_USDT=70.0)
    sup.run_cycle(sup.config.strategies)
    risk_portfolio.request_path(sup.config.db_file).write_text("now\n")
    answer(tmp_path, "a", buy(price=70.0))
    report = sup.run_cycle(sup.config.strategies)
    assert [e.kind for e in report.events] == ["reset"]
    assert not risk_portfolio.latched(sup.app) and sup.app.strategies["a"].positions
    s = risk_portfolio.state(sup.app)
    assert s["peak"] == pytest.approx(1397.2, abs=0.1)  # the flat book at reset, not 2,000
    assert [e["type"] for e in s["events"]] == ["triggered", "reset"]


def test_without_an_owner_a_flat_book_resets_itself(tmp_path, sup_for, monkeypatch):
    monkeypatch.delenv("DISCORD_OWNER_ID", raising=False)
    sup = _open_both(tmp_path, sup_for)
    marks(tmp_path, BTC_USDT=70.0)
    sup.run_cycle(sup.config.strategies)
    report = sup.run_cycle(sup.config.strategies)
    assert [e.kind for e in report.events] == ["reset"] and "automatic" in report.events[0].text


def test_one_alert_when_the_kill_switch_and_a_breaker_fire_together(tmp_path, sup_for, owner):
    strategies = [strat("a", "a", max_drawdown_pct=20), strat("b", "b", max_drawdown_pct=20)]
    sup = sup_for(strategies, portfolio_risk={"max_drawdown_pct": 25})
    marks(tmp_path, BTC_USDT=100.0)
    answer(tmp_path, "a", buy())
    answer(tmp_path, "b", buy())
    sup.run_cycle(sup.config.strategies)
    marks(tmp_path, BTC_USDT=70.0)  # -30%: past both the breakers' 20% and the book's 25%
    report = sup.run_cycle(sup.config.strategies)
    assert [e.kind for e in report.events] == ["kill_switch"]
    assert not any(s.risk.circuit_breaker for s in sup.app.strategies.values())


def test_the_warning_band_is_throttled(tmp_path, sup_for, owner):
    sup = _open_both(tmp_path, sup_for)  # band from 15% (60% of 25%)
    kinds = []
    for price in (84.0, 83.7, 82.5, 90.0, 84.0):
        marks(tmp_path, BTC_USDT=price)
        kinds.append([e.kind for e in sup.run_cycle(sup.config.strategies).events])
    # enter (16%), +0.3pp (quiet), +1.5pp (again), leave the band, enter again
    assert kinds == [["warning"], [], ["warning"], [], ["warning"]]
    assert not risk_portfolio.latched(sup.app)


def test_daily_loss_limit_holds_entries_and_alerts_once(tmp_path, sup_for, owner):
    sup = _open_both(tmp_path, sup_for, daily_max_loss_usd=50)
    marks(tmp_path, BTC_USDT=95.0)
    answer(tmp_path, "a", {**HOLD, "signal": -1, "price": 95.0})  # close: -$50 and fees
    sup.run_cycle(sup.config.strategies)
    answer(tmp_path, "a", buy(price=95.0))
    report = sup.run_cycle(sup.config.strategies)
    assert not sup.app.strategies["a"].positions
    assert [e.kind for e in report.events] == ["daily_loss"]
    assert any("(daily_loss: $" in o.action for o in report.outcomes)
    assert sup.run_cycle(sup.config.strategies).events == []  # once a day


def test_notional_cap_holds_entries(tmp_path, sup_for, owner):
    strategies, top = _two(max_notional_usd=1500)
    sup = sup_for(strategies, **top)
    marks(tmp_path, BTC_USDT=100.0)
    answer(tmp_path, "a", buy())
    sup.run_cycle(sup.config.strategies)
    marks(tmp_path, BTC_USDT=160.0)  # a's notional alone is now ~$1,600
    answer(tmp_path, "b", buy(price=160.0))
    report = sup.run_cycle(sup.config.strategies)
    assert not sup.app.strategies["b"].positions
    assert [e.kind for e in report.events] == ["notional_cap"]


def test_correlation_snapshot_in_status(tmp_path, sup_for, owner):
    sup = _open_both(tmp_path, sup_for)
    snap = build_status(sup.app)["correlation"]
    btc = snap["assets"]["BTC"]
    assert btc["long"] == 2 and btc["same_direction_pct"] == 100.0
    assert snap["warnings"]  # two strategies long the same asset


def test_base_asset_names():
    names = ["BTC/USDT", "BTC", "XBT/ZAR", "BTC/USDC:USDC", "BTCUSDT", "ES", "MES", "ETH-USD"]
    assert [risk_portfolio.base_asset(n) for n in names] == [
        "BTC",
        "BTC",
        "BTC",
        "BTC",
        "BTC",
        "ES",
        "ES",
        "ETH",
    ]


def test_reset_kill_switch_cli_applies_when_no_supervisor_runs(tmp_path, sup_for, owner):
    from conftest import base_env, run_cli

    sup = _open_both(tmp_path, sup_for)
    marks(tmp_path, BTC_USDT=70.0)
    sup.run_cycle(sup.config.strategies)
    sup.shutdown()
    cfg = str(tmp_path / "config.json")
    env = base_env(tmp_path, DISCORD_OWNER_ID="42")
    proc = run_cli(["--config", cfg, "reset-kill-switch"], env)
    assert proc.returncode == 0 and "kill switch reset (operator (CLI))" in proc.stdout
    proc = run_cli(["--config", cfg, "reset-kill-switch"], env)
    assert proc.returncode == 0 and "not latched" in proc.stdout


def test_risk_events_reach_every_channel_and_the_owner_once(tmp_path, sup_for, fake_chat):
    import sqlite3

    fake_chat.down()  # loopback only, and refusing: the rows stay in the outbox to be read
    strategies = [strat("a", "a", max_drawdown_pct=20), strat("b", "b", max_drawdown_pct=20)]
    discord = {"enabled": True, "owner_id": "42", "channels": {"spot": "c-spot"}}
    sup = sup_for(strategies, portfolio_risk={"max_drawdown_pct": 25}, discord=discord)
    marks(tmp_path, BTC_USDT=100.0)
    answer(tmp_path, "a", buy())
    answer(tmp_path, "b", buy())
    sup.run_cycle(sup.config.strategies)
    marks(tmp_path, BTC_USDT=70.0)  # kill switch and both breakers at once: one alert
    sup.run_cycle(sup.config.strategies)
    rows = sqlite3.connect(tmp_path / "state.db").execute(
        "SELECT target, category, body FROM outbox WHERE body LIKE '%KILL SWITCH%' ORDER BY id"
    )
    assert [(t, c) for t, c, _ in rows] == [("c-spot", "alert"), ("owner", "critical")]
    with sqlite3.connect(tmp_path / "state.db") as con:
        assert not con.execute("SELECT 1 FROM outbox WHERE body LIKE '%BREAKER%'").fetchall()
    assert sup.status_view()["notifications"]["pending"] >= 2


def _clock(monkeypatch, start: int = 1_763_683_200):
    state = {"t": start}

    def at(minutes: float = 0.0) -> None:
        state["t"] += minutes * 60
        monkeypatch.setenv("GO_TRADER_NOW", str(state["t"]))

    at()
    return at


def test_an_over_limit_reading_on_stale_marks_waits_15_minutes(
    tmp_path, sup_for, owner, monkeypatch
):
    at = _clock(monkeypatch)
    top = {"portfolio_risk": {"max_drawdown_pct": 25}}
    pair = [strat("a", "a", max_drawdown_pct=95), strat("b", "b", symbol="ETH/USDT")]
    sup = sup_for(pair, **top)
    marks(tmp_path, BTC_USDT=100.0, ETH_USDT=100.0)
    answer(tmp_path, "a", buy())
    answer(tmp_path, "b", buy(symbol="ETH/USDT"))
    sup.run_cycle(sup.config.strategies)
    answer(tmp_path, "a", HOLD)
    answer(tmp_path, "b", {**HOLD, "symbol": "ETH/USDT"})
    at(60)  # ETH's mark is an hour old and none comes: the total is not trusted
    marks(tmp_path, BTC_USDT=30.0)
    report = sup.run_cycle([])
    assert [e.kind for e in report.events] == ["warning"] and "stale marks" in report.events[0].text
    assert not risk_portfolio.latched(sup.app) and sup.app.strategies["a"].positions
    at(10)
    assert sup.run_cycle([]).events == []  # still deferred, and warned only once
    at(6)  # 16 minutes over the limit
    report = sup.run_cycle([])
    assert [e.kind for e in report.events] == ["kill_switch"]
    assert "on stale marks" in risk_portfolio.state(sup.app)["reason"]
    assert not sup.app.strategies["a"].positions  # closed at its fresh mark
    assert sup.app.strategies["b"].positions  # no fresh ETH mark: never closed at a stale one
    at(5)
    marks(tmp_path, BTC_USDT=30.0, ETH_USDT=99.0)
    report = sup.run_cycle([])  # latched: the leftover closes once its price is back
    assert [t.reason for t in report.trades] == ["kill_switch"]
    assert report.trades[0].price == pytest.approx(99.0)
    assert not sup.app.strategies["b"].positions


def test_a_stale_reading_that_recovers_never_latches(tmp_path, sup_for, owner, monkeypatch):
    at = _clock(monkeypatch)
    top = {"portfolio_risk": {"max_drawdown_pct": 25}}
    pair = [strat("a", "a", max_drawdown_pct=95), strat("b", "b", symbol="ETH/USDT")]
    sup = sup_for(pair, **top)
    marks(tmp_path, BTC_USDT=100.0, ETH_USDT=100.0)
    answer(tmp_path, "a", buy())
    answer(tmp_path, "b", buy(symbol="ETH/USDT"))
    sup.run_cycle(sup.config.strategies)
    at(60)
    marks(tmp_path, BTC_USDT=30.0)
    sup.run_cycle([])
    assert risk_portfolio.state(sup.app)["untrusted_over_since"]
    at(5)
    marks(tmp_path, BTC_USDT=95.0)  # back under the limit, still on a stale ETH mark
    sup.run_cycle([])
    assert risk_portfolio.state(sup.app)["untrusted_over_since"] == ""
    at(20)
    marks(tmp_path, BTC_USDT=30.0)
    report = sup.run_cycle([])  # a new episode starts its own 15 minutes
    assert [e.kind for e in report.events] == ["warning"] and not risk_portfolio.latched(sup.app)
