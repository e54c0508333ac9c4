"""``go-trader inspect`` (issue 10 item 2) against a book made by real offline cycles.

The book: examples/offline-perps.json venues plus a tight-drawdown strategy (its circuit breaker
latches) and a BinanceUS spot pair, run for four hourly ``--once`` cycles on the simulated
market. Every test reads it while the supervisor's lock is held (or a daemon runs on a copy):
inspect must not need the lock and must never write the DB.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import sqlite3
import time
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from conftest import REPO, base_env, run_cli

from supervisor.service.lock import acquire_lock
from supervisor.state.models import parse_iso

HOURS = ["2026-11-19T17:00:00Z", "2026-11-19T18:00:00Z", "2026-11-19T19:00:00Z"]
HOURS.append("2026-11-19T20:00:00Z")
NOW = HOURS[-1]
TP = [
    {
        "name": "tiered_tp_atr",
        "params": {
            "tp_tiers": [
                {"atr_multiple": 3.0, "close_fraction": 0.5},
                {"atr_multiple": 6.0, "close_fraction": 1.0},
            ]
        },
    }
]
_BUILT: dict[str, tuple[Path, Path]] = {}


def book_config(db_file: Path) -> dict:
    cfg = json.loads((REPO / "examples" / "offline-perps.json").read_text())
    by_id = {s["id"]: s for s in cfg["strategies"]}
    keep = [by_id[i] for i in ("hl-ema-btc-inverted", "okx-ema-btc-perp", "hl-ema-sol-both")]
    keep += [by_id["rh-ema-btc"], by_id["luno-sma-xbt"]]
    keep[0]["close_strategies"] = TP
    keep[2]["close_strategies"] = TP
    tight = dict(by_id["hl-sma-btc-long"])
    tight.update(id="hl-sma-btc-tight", direction="both", max_drawdown_pct=1, stop_loss_atr_mult=0)
    spot = {
        "id": "sma-btc-spot",
        "type": "spot",
        "script": "shared_scripts/check_strategy.py",
        "args": ["sma_crossover", "BTC/USDT", "1h"],
        "open_strategy": {"name": "sma_crossover", "params": {"fast_period": 2, "slow_period": 5}},
        "capital": 1000,
        "allow_deprecated": True,
    }
    cfg["strategies"] = [*keep, tight, spot]
    cfg["db_file"] = str(db_file)
    return cfg


def offline_book(tmp_path_factory) -> tuple[Path, Path]:
    """(config, db) after four real offline cycles; built once per session, never modified."""
    if "book" not in _BUILT:
        root = tmp_path_factory.mktemp("book")
        config = root / "book.json"
        config.write_text(json.dumps(book_config(root / "book.db"), indent=2))
        for hour in HOURS:
            env = base_env(root, GO_TRADER_NOW=hour)
            env.pop("GO_TRADER_MARKET_DATA")  # the config's simulated market reaches the workers
            proc = run_cli(["--config", str(config), "--once"], env)
            assert proc.returncode == 0, proc.stderr + proc.stdout
        _BUILT["book"] = (config, root / "book.db")
    return _BUILT["book"]


def cli_env(tmp_path: Path, now: str = NOW) -> dict:
    return base_env(tmp_path, GO_TRADER_NOW=now)


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture
def book(tmp_path_factory):
    config, db = offline_book(tmp_path_factory)
    before = digest(db)
    with acquire_lock(db) as lock:  # the supervisor's lock is held throughout
        yield config, db
        assert lock.held
    assert digest(db) == before  # read-only: not a byte changed


def rows(db: Path, sql: str, *args) -> list[dict]:
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    conn.row_factory = sqlite3.Row
    try:
        return [dict(r) for r in conn.execute(sql, args)]
    finally:
        conn.close()


def inspect_json(config: Path, tmp_path: Path, *args: str) -> dict:
    proc = run_cli(["inspect", "--config", str(config), "--json", *args], cli_env(tmp_path))
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


# -- state, read beside the lock ----------------------------------------------------------------


def test_json_state_matches_the_db_while_the_lock_is_held(book, tmp_path):
    config, db = book
    doc = inspect_json(config, tmp_path, "--all", "--trades", "3")
    assert doc["state_error"] is None and doc["cycle_count"] == len(HOURS)
    got = {s["id"]: s for s in doc["strategies"]}
    stored = {r["id"]: r for r in rows(db, "SELECT * FROM strategies")}
    assert set(got) == set(stored)
    for sid, row in stored.items():
        st = got[sid]["state"]
        assert st["cash"] == row["cash"] and st["initial_capital"] == row["initial_capital"]
        assert st["last_signal"] == row["last_signal"] and st["last_error"] == row["last_error"]
        risk = st["latches"]
        assert risk["consecutive_losses"]["count"] == row["risk_consecutive_losses"]
        assert risk["circuit_breaker"]["latched"] == bool(row["risk_circuit_breaker"])
        assert risk["circuit_breaker"]["until"] == row["risk_circuit_breaker_until"]
        assert risk["drawdown"]["current_pct"] == row["risk_current_drawdown_pct"]
        positions = rows(db, "SELECT * FROM positions WHERE strategy_id=?", sid)
        assert set(st["positions"]) == {p["symbol"] for p in positions}
        for p in positions:
            view, guard = st["positions"][p["symbol"]], json.loads(p["guard_json"])
            assert (view["side"], view["quantity"]) == (p["side"], p["quantity"])
            assert view["avg_cost"] == p["avg_cost"]
            assert view["stop"] == (guard["stop"] or None)
            assert [[t["price"], t["close_fraction"]] for t in view["targets"]] == guard["targets"]
        trades = rows(
            db,
            "SELECT rowid FROM trades WHERE strategy_id=? ORDER BY timestamp DESC, rowid DESC",
            sid,
        )
        assert st["trades_stored"] == len(trades)
        assert [t["id"] for t in st["recent_trades"]] == [t["rowid"] for t in trades[:3]]
    # the book has what the report is for: stops, take-profit targets, a latched breaker
    targets = [p for s in got.values() for p in s["state"]["positions"].values() if p["targets"]]
    assert targets and all(p["stop"] for p in targets)


def test_a_latched_breaker_says_when_it_ends(book, tmp_path):
    config, db = book
    (row,) = rows(db, "SELECT * FROM strategies WHERE id='hl-sma-btc-tight'")
    assert row["risk_circuit_breaker"]  # the book's tight strategy tripped during the run
    cb = inspect_json(config, tmp_path, "hl-sma-btc-tight")["strategies"][0]["state"]["latches"]
    cb = cb["circuit_breaker"]
    until = parse_iso(row["risk_circuit_breaker_until"])
    assert cb["active"] and cb["reason"] == row["risk_circuit_breaker_reason"]
    assert cb["ends_in_s"] == round((until - parse_iso(NOW)).total_seconds()) > 0
    # after the cooldown the same row reads as released at the next check
    later = (until + timedelta(minutes=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    proc = run_cli(
        ["inspect", "--config", str(config), "--json", "hl-sma-btc-tight"],
        cli_env(tmp_path, later),
    )
    cb = json.loads(proc.stdout)["strategies"][0]["state"]["latches"]["circuit_breaker"]
    assert cb["latched"] and not cb["active"] and "next check" in cb["note"]


def test_effective_config_sits_beside_the_raw_entry_with_provenance(book, tmp_path):
    config, _db = book
    doc = inspect_json(config, tmp_path, "hl-ema-btc-inverted")
    (entry,) = doc["strategies"]
    raw = next(s for s in json.loads(config.read_text())["strategies"] if s["id"] == entry["id"])
    assert entry["raw"] == raw
    eff = entry["effective"]
    assert (
        eff["leverage"] == 3 and eff["invert_signal"] is True and eff["platform"] == "hyperliquid"
    )
    assert {"leverage", "invert_signal", "close_strategies"} <= set(entry["explicit"])
    # no stop key in the file: the config's default_stop_loss_atr_mult won, as a default
    assert "stop_loss_atr_mult" not in raw and eff["stop_loss_atr_mult"] == 1.0
    assert {"stop_loss_atr_mult", "platform", "circuit_breaker"} <= set(entry["defaulted"])
    assert set(entry["explicit"]).isdisjoint(entry["defaulted"])
    tiers = eff["derived"]["protection"]["tp_atr_tiers"]
    assert tiers == [[3.0, 0.5], [6.0, 1.0]] and eff["derived"]["symbol"] == "BTC"


def test_text_report_for_people(book, tmp_path):
    config, db = book
    proc = run_cli(["inspect", "--config", str(config), "--all"], cli_env(tmp_path))
    assert proc.returncode == 0 and proc.stderr == "", proc.stderr
    out = proc.stdout
    for sid in json.loads(config.read_text())["strategies"]:
        assert f"== {sid['id']} (" in out
    (row,) = rows(
        db, "SELECT risk_circuit_breaker_until AS u FROM strategies WHERE id=?", "hl-sma-btc-tight"
    )
    assert f"circuit breaker: LATCHED until {row['u']}" in out
    assert "  * leverage: 3.0" in out and "raw entry in the file:" in out
    assert "(stop_loss); targets " in out and "-> 50%, " in out and "-> 100%" in out
    assert "recent trades (" in out and "[circuit_breaker]" in out


# -- errors ----------------------------------------------------------------------------------------


def test_unknown_id_is_a_usage_error_listing_the_known_ids(book, tmp_path):
    config, _ = book
    env = cli_env(tmp_path)
    proc = run_cli(["inspect", "--config", str(config), "hl-nope"], env)
    assert proc.returncode == 2 and proc.stdout == ""
    (line,) = proc.stderr.splitlines()
    assert "unknown strategy 'hl-nope'" in line and "hl-ema-btc-inverted" in line
    assert "sma-btc-spot" in line
    for args in ([], ["hl-ema-btc-inverted", "--all"]):
        proc = run_cli(["inspect", "--config", str(config), *args], env)
        assert proc.returncode == 2 and len(proc.stderr.splitlines()) == 1, proc.stderr


def test_without_a_db_the_config_is_shown_and_no_db_is_created(tmp_path):
    cfg = book_config(tmp_path / "never" / "state.db")
    (tmp_path / "c.json").write_text(json.dumps(cfg))
    proc = run_cli(
        ["inspect", "--config", str(tmp_path / "c.json"), "--json", "--all"], cli_env(tmp_path)
    )
    assert proc.returncode == 0, proc.stderr
    (line,) = proc.stderr.splitlines()
    assert str(tmp_path / "never" / "state.db") in line and "does not exist" in line
    doc = json.loads(proc.stdout)
    assert doc["state_error"] and all(s["state"] is None for s in doc["strategies"])
    assert len(doc["strategies"]) == len(cfg["strategies"])
    assert not (tmp_path / "never").exists()


def test_an_unreadable_db_is_one_line_and_exit_1(tmp_path):
    db = tmp_path / "state.db"
    db.write_bytes(b"this is not a sqlite database, just text" * 100)
    cfg = book_config(db)
    (tmp_path / "c.json").write_text(json.dumps(cfg))
    proc = run_cli(
        ["inspect", "--config", str(tmp_path / "c.json"), "sma-btc-spot"], cli_env(tmp_path)
    )
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    (line,) = proc.stderr.splitlines()
    assert str(db) in line and "cannot read" in line
    assert "== sma-btc-spot" in proc.stdout  # the config part is still shown


def test_open_readonly_refuses_other_schema_versions_and_never_creates(tmp_path):
    from supervisor.state.db import StateDB, StateError
    from supervisor.state.migrations import SCHEMA_VERSION

    with pytest.raises(StateError, match="does not exist"):
        StateDB.open_readonly(tmp_path / "missing.db")
    assert not (tmp_path / "missing.db").exists()
    db = StateDB(tmp_path / "s.db")
    with db.engine.begin() as conn:
        conn.exec_driver_sql(
            f"UPDATE meta SET value='{SCHEMA_VERSION + 1}' WHERE key='schema_version'"
        )
    db.close()
    with pytest.raises(StateError, match=f"schema version {SCHEMA_VERSION + 1}"):
        StateDB.open_readonly(tmp_path / "s.db")
    ro = StateDB(tmp_path / "ok.db")
    ro.close()
    reader = StateDB.open_readonly(tmp_path / "ok.db")
    from sqlalchemy.exc import OperationalError

    with pytest.raises(OperationalError, match="readonly"), reader.engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE x (a INTEGER)")
    reader.close()


# -- beside a running daemon -----------------------------------------------------------------------


def test_inspect_and_export_work_while_the_daemon_runs(tmp_path_factory, tmp_path, daemons):
    config, db = offline_book(tmp_path_factory)
    cfg = json.loads(config.read_text())
    cfg["db_file"] = str(tmp_path / "live.db")
    cfg["tradingview_export"] = {
        "symbol_overrides": {"rh:BTC": "COINBASE:BTCUSD", "luno:XBT/ZAR": "LUNO:XBTZAR"}
    }
    shutil.copy(db, tmp_path / "live.db")
    live = tmp_path / "live.json"
    live.write_text(json.dumps(cfg))
    after = (datetime.fromisoformat(NOW.replace("Z", "+00:00")) + timedelta(hours=1)).strftime(
        "%Y-%m-%dT%H:%M:%SZ"
    )
    env = cli_env(tmp_path, after)
    env.pop("GO_TRADER_MARKET_DATA")
    d = daemons(live, env)
    d.wait_status(lambda s: s["cycle_count"] > len(HOURS))
    deadline = time.monotonic() + 60
    while True:  # the daemon's commit may land just after its status shows the cycle
        proc = run_cli(["inspect", "--config", str(live), "--json", "--all"], env)
        assert proc.returncode == 0, proc.stderr
        doc = json.loads(proc.stdout)
        assert doc["state_error"] is None
        if doc["cycle_count"] > len(HOURS) or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    assert doc["cycle_count"] > len(HOURS), d.log()
    out = tmp_path / "tv.csv"
    proc = run_cli(
        ["export", "tradingview", "--config", str(live), "--all", "--output", str(out)], env
    )
    assert proc.returncode == 0, proc.stderr
    assert out.read_text().startswith("Symbol,Side,Qty,Status,Fill Price,Commission,Closing Time\n")
    code, status = d.get("/status")
    assert code == 200 and d.proc.poll() is None  # the daemon never noticed the readers
    assert status["cycle_count"] >= doc["cycle_count"]
    assert d.stop() == 0
