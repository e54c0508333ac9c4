"""Cycle mechanics in-process: a failing state save pauses trading and loses nothing."""

from __future__ import annotations

import io
import sqlite3

from conftest import fake_strategy, write_config
from sqlalchemy.exc import OperationalError

from shared_tools.config.load import load_config
from supervisor.daemon import Supervisor
from supervisor.state.db import StateDB


def test_failed_save_pauses_trading_then_recovers(tmp_path, monkeypatch):
    monkeypatch.setenv("GO_TRADER_FAKE_STATE_DIR", str(tmp_path))
    cfg = write_config(
        tmp_path, [fake_strategy("a", "flip", "AAA/USDT"), fake_strategy("b", "flip", "BBB/USDT")]
    )
    sup = Supervisor(load_config(cfg), once=True, out=io.StringIO())
    assert sup.start() == 0
    real_save = StateDB.save
    failing = {"on": True}

    def save(self, app, trades=(), messages=()):
        if failing["on"]:
            raise OperationalError("INSERT", {}, Exception("disk I/O error"))
        return real_save(self, app, trades, messages)

    monkeypatch.setattr(StateDB, "save", save)
    first = sup.run_cycle(sup.config.strategies)
    assert len(first.trades) == 2 and len(sup.app.unsaved_trades) == 2
    code, body = sup.health_view()
    assert code == 503 and "disk I/O error" in body["reason"]

    paused = sup.run_cycle(sup.config.strategies)  # still failing: nothing runs, nothing trades
    assert paused.trades == [] and all("not trading" in o.error for o in paused.outcomes)
    assert sup.app.cycle_count == 1
    assert sorted(p.name for p in tmp_path.glob("counter-*")) == [
        "counter-AAA_USDT-1h",
        "counter-BBB_USDT-1h",
    ]
    assert (tmp_path / "counter-AAA_USDT-1h").read_text() == "1"

    failing["on"] = False
    sup.retry_save_at = 0.0  # the save back-off has passed
    third = sup.run_cycle(sup.config.strategies)  # saves cycle 1 first, then trades again
    assert len(third.trades) == 2 and all(t.is_close for t in third.trades)
    assert sup.app.unsaved_trades == [] and sup.health_view()[0] == 200
    sup.shutdown()

    con = sqlite3.connect(tmp_path / "state.db")
    assert con.execute("SELECT count(*) FROM trades").fetchone()[0] == 4
    assert con.execute("SELECT count(*) FROM positions").fetchone()[0] == 0
    assert con.execute("SELECT cycle_count FROM app_state").fetchone()[0] == 2
    for sid, cash, initial in con.execute("SELECT id, cash, initial_capital FROM strategies"):
        realized = con.execute(
            "SELECT sum(realized_pnl - fee) FROM trades WHERE strategy_id=?", (sid,)
        ).fetchone()[0]
        assert abs(cash - (initial + realized)) < 1e-6


def test_unwritable_db_path_is_a_one_line_config_error(tmp_path):
    from conftest import base_env, run_cli

    blocker = tmp_path / "not-a-dir"
    blocker.write_text("x")
    cfg = write_config(tmp_path, [fake_strategy("a", "hold")], db_file=str(blocker / "state.db"))
    proc = run_cli(["--config", str(cfg), "--once"], base_env(tmp_path))
    assert proc.returncode == 78
    assert "state DB" in proc.stderr and "Traceback" not in proc.stderr


def test_malformed_results_cost_only_their_strategy(tmp_path, monkeypatch):
    monkeypatch.setenv("GO_TRADER_FAKE_STATE_DIR", str(tmp_path))
    strategies = [
        fake_strategy("good", "buy", "AAA/USDT"),
        fake_strategy("ind", "badindicators", "BBB/USDT"),
        fake_strategy("nan", "nanprice", "CCC/USDT"),
        fake_strategy("frac", "badfraction", "DDD/USDT"),
        fake_strategy("zero", "zeroclose", "EEE/USDT"),
    ]
    sup = Supervisor(load_config(write_config(tmp_path, strategies)), once=True, out=io.StringIO())
    assert sup.start() == 0
    sup.run_cycle(sup.config.strategies)
    sup.run_cycle(sup.config.strategies)
    book = sup.app.strategies
    assert "indicators must be an object" in book["ind"].last_error
    assert "price must be a finite number" in book["nan"].last_error
    assert "close_fraction must be a finite number" in book["frac"].last_error
    assert book["good"].positions and book["good"].last_error == ""
    # close_fraction 0 means "close nothing", not "close everything"
    assert book["zero"].positions and book["zero"].trade_count == 1
    for sid in ("ind", "nan", "frac"):
        assert not book[sid].positions and book[sid].consecutive_failures == 2
    sup.shutdown()
    con = sqlite3.connect(tmp_path / "state.db")
    assert con.execute("SELECT count(*) FROM trades").fetchone()[0] == 2


def test_once_with_failing_save_exits_1_and_says_so(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("GO_TRADER_FAKE_STATE_DIR", str(tmp_path))
    cfg = write_config(tmp_path, [fake_strategy("a", "buy")])
    out = io.StringIO()
    sup = Supervisor(load_config(cfg), once=True, out=out)

    def save(self, app, trades=(), messages=()):
        raise OperationalError("INSERT", {}, Exception("database or disk is full"))

    monkeypatch.setattr(StateDB, "save", save)
    assert sup.run() == 1
    assert "NOT saved" in out.getvalue() and "disk is full" in out.getvalue()
    assert "exiting with unsaved state" in capsys.readouterr().err
