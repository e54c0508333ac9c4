"""State DB: round trip, versioned schema, pruning and all-or-nothing cycle commits."""

from __future__ import annotations

import sqlite3

import pytest
from books import spot_signal as apply_spot_signal
from sqlalchemy.exc import IntegrityError

from supervisor.state.db import StateDB, StateError
from supervisor.state.migrations import SCHEMA_VERSION
from supervisor.state.models import AppState, StrategyState


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


def test_a_failing_migration_leaves_nothing_behind(tmp_path, monkeypatch):
    from supervisor.state import db as state_mod

    path = tmp_path / "s.db"

    def broken(conn):
        conn.exec_driver_sql("CREATE TABLE half_done (x INTEGER)")
        conn.exec_driver_sql("ALTER TABLE trades ADD COLUMN also_half FLOAT")
        raise RuntimeError("migration bug")

    monkeypatch.setattr(state_mod, "MIGRATIONS", [state_mod.MIGRATIONS[0], broken])
    with pytest.raises(RuntimeError, match="migration bug"):
        StateDB(path)
    con = sqlite3.connect(path)
    tables = {r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    columns = {r[1] for r in con.execute("PRAGMA table_info(trades)")}
    version = con.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()[0]
    con.close()
    assert "half_done" not in tables and "also_half" not in columns
    assert version == "1"  # step 1 committed on its own; step 2 rolled back whole
    monkeypatch.undo()
    assert StateDB(path).schema_version() == SCHEMA_VERSION


def test_a_version_1_db_upgrades_and_keeps_its_trades(tmp_path):
    path = tmp_path / "v1.db"
    con = sqlite3.connect(path)
    con.executescript(
        """
        CREATE TABLE meta (key VARCHAR PRIMARY KEY, value TEXT NOT NULL);
        INSERT INTO meta VALUES ('schema_version', '1');
        CREATE TABLE trades (rowid INTEGER PRIMARY KEY, strategy_id VARCHAR NOT NULL,
            timestamp VARCHAR NOT NULL, symbol VARCHAR NOT NULL, position_id VARCHAR NOT NULL,
            side VARCHAR NOT NULL, quantity FLOAT NOT NULL, price FLOAT NOT NULL,
            value FLOAT NOT NULL, fee FLOAT NOT NULL, trade_type VARCHAR NOT NULL,
            is_close BOOLEAN NOT NULL, realized_pnl FLOAT NOT NULL, details TEXT NOT NULL,
            cycle INTEGER NOT NULL);
        INSERT INTO trades VALUES (1, 'a', 't', 'BTC/USDT', 'p', 'buy', 1, 100, 100, 0.1,
            'spot', 0, 0, '', 1);
        """
    )
    con.commit()
    con.close()
    db = StateDB(path)
    assert db.schema_version() == SCHEMA_VERSION
    rows, total = db.trade_history()
    assert total == 1 and rows[0]["mark_price"] == 0.0 and rows[0]["bar_price"] == 0.0


def test_a_perps_position_with_its_guard_round_trips(tmp_path):
    from shared_tools import book
    from shared_tools.book import Protection, Rules

    db = StateDB(tmp_path / "s.db")
    app = _app()
    strat = app.strategies["a"]
    rules = Rules(
        kind="perps",
        direction="short",
        leverage=3,
        protection=Protection(trailing_stop_atr_mult=2, tp_atr_tiers=((1.0, 0.5), (2.0, 1.0))),
    )
    trades, _ = book.apply_signal(
        strat, rules, "BTC", -1, 100.0, "t0", entry_atr=2.0, regime="trending_down", now_s=7.0
    )
    db.save(app, trades)
    db.close()
    pos = StateDB(tmp_path / "s.db").load().strategies["a"].positions["BTC"]
    assert pos == strat.positions["BTC"]
    assert pos.kind == "perps" and pos.side == "short" and pos.leverage == 3.0
    assert pos.guard.stop == 104.0 and pos.guard.targets == [[98.0, 0.5], [96.0, 1.0]]
    assert pos.regime == "trending_down" and pos.funded_at == 7.0


def test_rows_from_before_v3_keep_their_net_pnl(tmp_path):
    """A v2 close row stored P&L net of both fees; its open row's fee is inside it."""
    path = tmp_path / "s.db"
    db = StateDB(path)
    app = _app()
    db.save(app)
    db.close()
    con = sqlite3.connect(path)
    con.execute("UPDATE meta SET value='2' WHERE key='schema_version'")
    con.execute("ALTER TABLE trades DROP COLUMN pnl_gross")
    con.execute("ALTER TABLE trades DROP COLUMN reason")
    con.execute("ALTER TABLE trades DROP COLUMN order_id")
    cols = (
        "strategy_id, timestamp, symbol, position_id, side, quantity, price, value, fee, "
        "trade_type, is_close, realized_pnl, details, cycle, mark_price, bar_price"
    )
    for row in (
        "'a','t0','X','p','buy',1,100,100,0.1,'spot',0,0,'',1,0,0",
        "'a','t1','X','p','sell',1,110,110,0.11,'spot',1,9.79,'',2,0,0",
    ):
        con.execute(f"INSERT INTO trades ({cols}) VALUES ({row})")
    con.commit()
    con.close()
    db = StateDB(path)
    assert db.schema_version() == SCHEMA_VERSION
    assert db.realized_pnl() == {"a": pytest.approx(9.79)}


def test_cashflows_commit_with_the_book_and_only_once(tmp_path):
    from supervisor.state import capital

    db = StateDB(tmp_path / "s.db")
    app = _app()
    capital.cashflow(app, app.strategies["a"], -400.0, "reload")
    trades, _ = apply_spot_signal(app.strategies["b"], "BTC/USDT", 1, 50.0, "t1", fee_rate=0.001)
    trades[0].quantity = None  # the save fails: the cashflow row stays pending with the book
    with pytest.raises(IntegrityError):
        db.save(app, trades)
    assert db.cashflow_journal() == ([], 0) and len(capital.pending(app)) == 1
    db.save(app)
    db.save(app)  # committed rows are never inserted twice
    rows, total = db.cashflow_journal(strategy="a")
    assert total == 1 and (rows[0]["amount"], rows[0]["reason"], rows[0]["cycle"]) == (
        -400.0,
        "reload",
        3,
    )
    assert capital.pending(app) == [] and capital.recent(app)[0]["id"] == rows[0]["id"]
    again = db.load()
    assert capital.recent(again) == rows  # /status reads them back after a restart
    with db.engine.connect() as conn:
        extra = conn.exec_driver_sql("SELECT extra_json FROM app_state").scalar()
    assert "cashflows" not in extra  # the table is their only home on disk


def test_prune_with_the_book_commits_the_withdrawal_together(tmp_path):
    from supervisor.state import capital

    db = StateDB(tmp_path / "s.db")
    app = _app()
    db.save(app)
    capital.remove_strategy(app, "b", "pruned")
    assert db.prune(["a"], app) == ["b"]
    assert [(r["strategy_id"], r["amount"]) for r in db.cashflow_journal()[0]] == [("b", -1000.0)]
    assert list(db.load().strategies) == ["a"]


def test_a_version_4_db_gains_the_cashflow_journal(tmp_path):
    path = tmp_path / "s.db"
    db = StateDB(path)
    db.save(_app())
    db.close()
    con = sqlite3.connect(path)
    con.execute("DROP TABLE cashflows")
    con.execute("DROP TABLE order_intents")
    con.execute("ALTER TABLE trades DROP COLUMN order_id")
    con.execute("UPDATE meta SET value='4' WHERE key='schema_version'")
    con.commit()
    con.close()
    db = StateDB(path)
    assert db.schema_version() == SCHEMA_VERSION >= 10
    assert db.cashflow_journal() == ([], 0) and list(db.load().strategies) == ["a", "b"]
