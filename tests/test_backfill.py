"""``go-trader backfill hl-fees|trade-ledger`` against a state DB built here and a stub worker.

The worker is replaced through GO_TRADER_FETCH_FILLS_CMD by a tiny script that prints the fills
document the test wrote (and records its argv): no network, no SDK.
"""

from __future__ import annotations

import json
import os
import sqlite3
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import run_cli

from shared_tools.book.model import Trade
from supervisor.cli import main
from supervisor.ops.backfill import FETCH_CMD_ENV, LOOKBACK_MS, epoch_ms
from supervisor.service.lock import acquire_lock
from supervisor.state import capital
from supervisor.state.db import StateDB
from supervisor.state.models import AppState, StrategyState

STUB = """
import json, os, sys
open(os.environ["STUB_ARGV"], "w").write(json.dumps(sys.argv[1:]))
print(open(os.environ["STUB_DOC"]).read())
"""
T0 = "2025-06-01T10:00:00.000000Z"
T1 = "2025-06-01T11:00:00.000000Z"
T2 = "2025-06-01T12:00:00.000000Z"


def strategy(sid: str, coin: str, mode: str) -> dict:
    return {
        "id": sid,
        "type": "perps",
        "script": "shared_scripts/check_hyperliquid.py",
        "args": ["sma_crossover", coin, "1h", f"--mode={mode}"],
        "allow_deprecated": True,
        "capital": 1000,
        "leverage": 2,
    }


def trade(sid: str, ts: str, side: str, qty: float, px: float, **kw) -> Trade:
    fields = {
        "strategy_id": sid,
        "timestamp": ts,
        "symbol": "BTC",
        "position_id": f"{sid}:BTC:1",
        "side": side,
        "quantity": qty,
        "price": px,
        "value": qty * px,
        "fee": 0.0,
        "trade_type": "perps",
    }
    fields.update(kw)
    return Trade(**fields)


def fill(fee: float, px: float, qty: float) -> dict:
    return {"coin": "BTC", "fee": fee, "closed_pnl": 0.0, "count": 1, "qty": qty, "px": px}


LIVE_TRADES = [
    trade("hl-live", T0, "buy", 0.1, 50000.0, order_id="101"),
    trade("hl-live", T1, "sell", 0.1, 51000.0, order_id="102", is_close=True, realized_pnl=100.0),
    trade("hl-live", T1, "funding", 0.1, 0.0, value=0.0, trade_type="funding", realized_pnl=-1.5),
]
LIVE_CASH = 1000.0 + 100.0 - 1.5
FILLS = {
    "fills": [{}, {}],
    "by_oid": {"101": fill(2.0, 50010.0, 0.1), "102": fill(2.1, 50990.0, 0.1)},
    "count": 2,
}


@pytest.fixture
def env(tmp_path, monkeypatch):
    """A config (one live HL strategy, one paper), its state DB and the stub worker."""
    cfg = {
        "config_version": 17,
        "interval_seconds": 300,
        "db_file": str(tmp_path / "state.db"),
        "market_data": "simulated",
        "strategies": [strategy("hl-live", "BTC", "live"), strategy("hl-paper", "ETH", "paper")],
    }
    config = tmp_path / "config.json"
    config.write_text(json.dumps(cfg))
    stub = tmp_path / "stub.py"
    stub.write_text(STUB)
    monkeypatch.setenv(FETCH_CMD_ENV, f"{sys.executable} {stub}")
    monkeypatch.setenv("STUB_DOC", str(tmp_path / "fills.json"))
    monkeypatch.setenv("STUB_ARGV", str(tmp_path / "argv.json"))
    write_fills(tmp_path, FILLS)
    return config, tmp_path / "state.db"


def write_fills(tmp_path: Path, doc: dict) -> None:
    (tmp_path / "fills.json").write_text(json.dumps(doc))


def build_db(db_path: Path, trades: list[Trade], cash: dict[str, float] | None = None) -> None:
    """Both strategies deposited as cashflows, the trades saved, cash as the book would hold."""
    app = AppState()
    for sid in ("hl-live", "hl-paper"):
        strat = StrategyState(sid, "perps", "hyperliquid", cash=0.0, initial_capital=0.0)
        capital.add_strategy(app, strat, 1000.0, 1000.0, "initial")
    for t in trades:
        app.strategies[t.strategy_id].cash += t.net_pnl
    for sid, value in (cash or {}).items():
        app.strategies[sid].cash = value
    db = StateDB(db_path)
    db.save(app, trades)
    db.close()


def dump(db_path: Path) -> tuple[list[tuple], list[tuple]]:
    con = sqlite3.connect(db_path)
    try:
        rows = con.execute(
            "SELECT rowid, strategy_id, price, value, fee, realized_pnl, pnl_gross "
            "FROM trades ORDER BY rowid"
        ).fetchall()
        cash = con.execute("SELECT id, cash FROM strategies ORDER BY id").fetchall()
    finally:
        con.close()
    return rows, cash


def cash_of(db_path: Path, sid: str) -> float:
    return dict(dump(db_path)[1])[sid]


def cli(*args: str):
    return CliRunner().invoke(main, ["backfill", *args], catch_exceptions=False)


def test_dry_run_prints_the_changes_and_writes_nothing(env, tmp_path):
    config, db = env
    build_db(db, LIVE_TRADES)
    before = dump(db)
    res = cli("hl-fees", "--config", str(config), "--all")
    assert res.exit_code == 0, res.output
    assert dump(db) == before
    assert "hl-paper: skipped (not a live Hyperliquid strategy)" in res.output
    assert "hl-live: 2 row(s) change (2 matched by order id)" in res.output
    assert f"cash {LIVE_CASH:,.2f} -> {LIVE_CASH - 4.1:,.2f}" in res.output
    assert "dry run: nothing written" in res.output
    argv = json.loads((tmp_path / "argv.json").read_text())
    assert argv == [f"--since-ms={epoch_ms(T0) - LOOKBACK_MS}", "--mode=live"]


def test_hl_fees_apply_rewrites_fees_and_cash_and_is_idempotent(env):
    config, db = env
    build_db(db, LIVE_TRADES)
    res = cli("hl-fees", "--config", str(config), "--strategy", "hl-live", "--apply")
    assert res.exit_code == 0, res.output
    rows, _ = dump(db)
    live = [r for r in rows if r[1] == "hl-live"]
    assert [r[4] for r in live] == [2.0, 2.1, 0.0]  # fees; funding untouched
    assert [r[5] for r in live] == [0.0, 100.0, -1.5]  # gross close P&L kept
    assert [r[2] for r in live] == [50000.0, 51000.0, 0.0]  # prices are trade-ledger's
    assert cash_of(db, "hl-live") == pytest.approx(LIVE_CASH - 4.1)
    assert cash_of(db, "hl-paper") == 1000.0
    again = cli("hl-fees", "--config", str(config), "--strategy", "hl-live", "--apply")
    assert again.exit_code == 0 and "hl-live: 0 row(s) change" in again.output


def test_trade_ledger_reprices_fills_and_close_pnl_then_converges(env):
    config, db = env
    build_db(db, LIVE_TRADES)
    res = cli("trade-ledger", "--config", str(config), "--all", "--apply")
    assert res.exit_code == 0, res.output
    live = [r for r in dump(db)[0] if r[1] == "hl-live"]
    assert [r[2] for r in live[:2]] == [50010.0, 50990.0]
    assert live[0][3] == pytest.approx(5001.0)
    assert live[1][5] == pytest.approx(0.1 * (50990.0 - 50010.0))
    assert cash_of(db, "hl-live") == pytest.approx(1000.0 - 2.0 + 98.0 - 2.1 - 1.5)
    before = dump(db)
    again = cli("trade-ledger", "--config", str(config), "--all", "--apply")
    assert again.exit_code == 0 and "hl-live: 0 row(s) change" in again.output
    assert dump(db) == before


def test_trade_ledger_converts_legacy_net_rows_without_moving_cash(env):
    config, db = env
    legacy = [
        trade("hl-live", T0, "buy", 0.1, 50000.0, fee=1.0, pnl_gross=False),
        # net of both fees: gross 50 - 1 (open) - 1 (close)
        trade(
            "hl-live",
            T1,
            "sell",
            0.1,
            50500.0,
            fee=1.0,
            is_close=True,
            realized_pnl=48.0,
            pnl_gross=False,
        ),
    ]
    build_db(db, legacy)
    cash = cash_of(db, "hl-live")
    assert cash == pytest.approx(1048.0)
    write_fills(db.parent, {"fills": [], "by_oid": {}, "count": 0, "warning": "HL returned 0"})
    res = cli("trade-ledger", "--config", str(config), "--all", "--dry-run")
    assert res.exit_code == 0, res.output
    assert "warning: HL returned 0" in res.output
    res = cli("trade-ledger", "--config", str(config), "--all", "--apply")
    assert res.exit_code == 0, res.output
    live = [r for r in dump(db)[0] if r[1] == "hl-live"]
    assert [(r[5], r[6]) for r in live] == [(0.0, 1), (50.0, 1)]
    assert cash_of(db, "hl-live") == pytest.approx(cash)


def test_an_order_shared_by_rows_splits_its_fee_by_quantity(env):
    config, db = env
    build_db(
        db,
        [
            trade("hl-live", T0, "buy", 0.3, 50000.0, order_id="7"),
            trade("hl-live", T0, "buy", 0.1, 50000.0, order_id="7", position_id="p2"),
        ],
    )
    write_fills(db.parent, {"fills": [{}], "by_oid": {"7": fill(4.0, 50000.0, 0.4)}, "count": 1})
    assert cli("hl-fees", "--config", str(config), "--all", "--apply").exit_code == 0
    fees = [r[4] for r in dump(db)[0]]
    assert fees == [pytest.approx(3.0), pytest.approx(1.0)]


def test_apply_is_refused_while_the_supervisor_holds_the_lock(env):
    config, db = env
    build_db(db, LIVE_TRADES)
    before = dump(db)
    with acquire_lock(db):
        res = CliRunner().invoke(
            main, ["backfill", "hl-fees", "--config", str(config), "--all", "--apply"]
        )
        assert res.exit_code == 1
        assert "the supervisor is running (it holds" in res.output
        assert "state.db.lock); stop it first" in res.output
        dry = cli("hl-fees", "--config", str(config), "--all")  # a dry run reads beside it
        assert dry.exit_code == 0, dry.output
    assert dump(db) == before


def test_cash_drift_over_a_dollar_is_refused_unless_reset_cash(env):
    config, db = env
    build_db(db, LIVE_TRADES, cash={"hl-live": LIVE_CASH + 5.0})
    before = dump(db)
    res = cli("hl-fees", "--config", str(config), "--all", "--apply")
    assert res.exit_code == 1
    assert "off by +5.00" in res.output and "--reset-cash" in res.output
    assert dump(db) == before
    res = cli("hl-fees", "--config", str(config), "--all", "--apply", "--reset-cash")
    assert res.exit_code == 0, res.output
    assert cash_of(db, "hl-live") == pytest.approx(LIVE_CASH - 4.1)


def test_drift_within_a_dollar_is_accepted(env):
    config, db = env
    build_db(db, LIVE_TRADES, cash={"hl-live": LIVE_CASH + 0.5})
    res = cli("hl-fees", "--config", str(config), "--all", "--apply")
    assert res.exit_code == 0, res.output
    assert cash_of(db, "hl-live") == pytest.approx(LIVE_CASH - 4.1)


def test_a_named_paper_strategy_is_refused(env):
    config, db = env
    build_db(db, LIVE_TRADES)
    res = cli("hl-fees", "--config", str(config), "--strategy", "hl-paper")
    assert res.exit_code == 2
    assert "hl-paper is not a live Hyperliquid strategy" in res.output


def test_a_failing_worker_is_one_line_exit_1(env, monkeypatch):
    config, db = env
    build_db(db, LIVE_TRADES)
    bad = db.parent / "bad.py"
    bad.write_text('print(\'{"error": "boom"}\')\nraise SystemExit(1)\n')
    monkeypatch.setenv(FETCH_CMD_ENV, f"{sys.executable} {bad}")
    res = cli("hl-fees", "--config", str(config), "--all")
    assert res.exit_code == 1
    assert "fetch_hl_user_fills.py: boom" in res.output


@pytest.mark.parametrize(
    "args",
    [
        ["backfill", "nope", "--all"],
        ["backfill"],
        ["backfill", "hl-fees"],
        ["backfill", "hl-fees", "--all", "--strategy", "hl-live"],
        ["backfill", "trade-ledger", "--all", "--apply", "--dry-run"],
    ],
)
def test_usage_errors_exit_2(env, args):
    config, _db = env
    argv = [*args, "--config", str(config)] if len(args) > 1 else args
    proc = run_cli(argv, dict(os.environ))
    assert proc.returncode == 2, proc.stdout + proc.stderr


def test_cash_start_without_an_opening_deposit_is_the_capital_before_the_journal():
    from supervisor.ops.backfill_plan import cash_start

    assert cash_start(1500.0, [1000.0, 500.0], ["initial", "reload"]) == 0.0
    # a book older than the journal: capital 1000 before a +500 reload
    assert cash_start(1500.0, [500.0], ["reload"]) == 1000.0
    assert cash_start(1000.0, [], []) == 1000.0
