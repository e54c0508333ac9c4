"""State DB: round trip, versioned schema, pruning and all-or-nothing cycle commits."""

from __future__ import annotations

import sqlite3

import pytest
from sqlalchemy.exc import IntegrityError

from supervisor.models import AppState, StrategyState
from supervisor.portfolio import apply_spot_signal
from supervisor.state import SCHEMA_VERSION, StateDB, StateError


def _app() -> AppState:
    app = AppState(cycle_count=3, last_cycle="2025-01-01T00:00:00.000000Z")
    for sid in ("a", "b"):
        s = StrategyState(
            id=sid, type="spot", platform="binanceus", cash=1000, initial_capital=1000
        )
        s.risk.peak_value = 1000
        app.strategies[sid] = s
    return app


def test_round_trip(tmp_path):
    db = StateDB(tmp_path / "s.db")
    app = _app()
    trades, _ = apply_spot_signal(app.strategies["a"], "BTC/USDT", 1, 50.0, "t0", fee_rate=0.001)
    app.strategies["a"].risk.consecutive_losses = 2
    app.strategies["b"].last_error = "timed out after 30s"
    db.save(app, trades)
    db.close()

    again = StateDB(tmp_path / "s.db").load()
    assert again.cycle_count == 3
    a = again.strategies["a"]
    assert a.cash == app.strategies["a"].cash
    assert a.positions["BTC/USDT"] == app.strategies["a"].positions["BTC/USDT"]
    assert a.risk == app.strategies["a"].risk
    assert again.strategies["b"].last_error == "timed out after 30s"
    rows, total = StateDB(tmp_path / "s.db").trade_history(strategy="a")
    assert total == 1 and rows[0]["position_id"] == trades[0].position_id


def test_schema_version_and_newer_db_refused(tmp_path):
    path = tmp_path / "s.db"
    assert StateDB(path).schema_version() == SCHEMA_VERSION
    con = sqlite3.connect(path)
    con.execute("UPDATE meta SET value='99' WHERE key='schema_version'")
    con.commit()
    con.close()
    with pytest.raises(StateError, match="schema version 99, newer than this build"):
        StateDB(path)


def test_pragmas(tmp_path):
    db = StateDB(tmp_path / "s.db")
    with db.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1


def test_prune_keeps_trades(tmp_path):
    db = StateDB(tmp_path / "s.db")
    app = _app()
    trades, _ = apply_spot_signal(app.strategies["b"], "ETH/USDT", 1, 5.0, "t0", fee_rate=0.001)
    db.save(app, trades)
    assert db.prune(["a"]) == ["b"]
    loaded = db.load()
    assert list(loaded.strategies) == ["a"]
    _, total = db.trade_history(strategy="b")
    assert total == 1  # history survives pruning


def test_failed_save_leaves_last_cycle_intact(tmp_path):
    db = StateDB(tmp_path / "s.db")
    app = _app()
    db.save(app)
    app.cycle_count = 4
    trades, _ = apply_spot_signal(app.strategies["a"], "BTC/USDT", 1, 50.0, "t1", fee_rate=0.001)
    bad = trades[0]
    bad.quantity = None  # NOT NULL violation mid-transaction
    with pytest.raises(IntegrityError):
        db.save(app, trades)
    loaded = db.load()
    assert loaded.cycle_count == 3
    assert loaded.strategies["a"].positions == {}
    assert db.trade_history()[1] == 0
