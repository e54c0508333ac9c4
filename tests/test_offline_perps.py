"""examples/offline-perps.json over many cycles on the simulated market, clock advanced.

After every cycle the book must reconcile: value = cash + positions at the cycle's marks
(margin-style for perps and futures), the trade rows' net P&L explains the cash, every fee is
the venue table's, and no position stands against its strategy's direction. Over the run every
venue opens and closes longs, and the perps/futures venues shorts too.
"""

from __future__ import annotations

import io
import json
import math
import sqlite3
from collections import defaultdict
from datetime import UTC, datetime, timedelta

import pytest
from conftest import REPO

from shared_tools.book.venues import taker_fee
from shared_tools.config.load import load_config
from supervisor.daemon import Supervisor
from supervisor.http.views import build_status

START = datetime(2026, 11, 19, 17, tzinfo=UTC)  # a Thursday: CME open but for its daily halt
CYCLES = 14
VENUE_NEEDS = {
    "hl": {"open-buy", "open-sell", "close-buy", "close-sell"},
    "okx": {"open-buy", "open-sell", "close-buy", "close-sell"},
    "ts": {"open-buy", "open-sell", "close-buy", "close-sell"},
    "rh": {"open-buy", "close-sell"},
    "luno": {"open-buy", "close-sell"},
}


def _config(tmp_path, only: list[str] | None = None):
    cfg = json.loads((REPO / "examples" / "offline-perps.json").read_text())
    cfg["db_file"] = str(tmp_path / "perps.db")
    if only is not None:
        cfg["strategies"] = [s for s in cfg["strategies"] if s["id"] in only]
    path = tmp_path / "perps.json"
    path.write_text(json.dumps(cfg))
    return cfg, load_config(path)


@pytest.fixture
def market_env(tmp_path, monkeypatch):
    monkeypatch.setenv("GO_TRADER_OHLCV_CACHE", str(tmp_path / "ohlcv.db"))
    monkeypatch.delenv("GO_TRADER_MARKET_DATA", raising=False)  # the config's must reach them
    monkeypatch.delenv("GO_TRADER_SIM_SEED", raising=False)

    def at(when: datetime) -> None:
        monkeypatch.setenv("GO_TRADER_NOW", when.strftime("%Y-%m-%dT%H:%M:%SZ"))

    return at


def _expected_fee(sc, row) -> float:
    if row["trade_type"] == "funding":
        return 0.0
    if sc.type == "futures":
        return row["quantity"] * sc.futures_fee_per_contract
    return row["value"] * taker_fee(sc.platform, sc.type if sc.type == "perps" else "spot")


def _check_book(sup: Supervisor, db: sqlite3.Connection) -> None:
    status = build_status(sup.app)["strategies"]
    for sc in sup.config.strategies:
        strat = sup.app.strategies[sc.id]
        rows = [
            dict(r)
            for r in db.execute("SELECT * FROM trades WHERE strategy_id=? ORDER BY rowid", (sc.id,))
        ]
        net = sum(r["realized_pnl"] - r["fee"] for r in rows)
        held = 0.0
        for sym, pos in strat.positions.items():
            hedge = bool(pos.hedge_for)  # a hedge leg stands opposite its primary
            assert sc.direction == "both" or pos.side == sc.direction or hedge, (sc.id, pos.side)
            assert sc.type != "spot" or pos.side == "long"
            mark = status[sc.id]["positions"][sym]["mark"] or pos.avg_cost
            sign = 1 if pos.side == "long" else -1
            if sc.type == "spot":
                held += pos.quantity * mark
            else:
                held += sign * pos.quantity * pos.multiplier * (mark - pos.avg_cost)
        value = status[sc.id]["portfolio_value"]
        assert math.isclose(value, strat.cash + held, rel_tol=1e-9, abs_tol=1e-6), sc.id
        basis = sum(p.cost_basis for p in strat.positions.values()) if sc.type == "spot" else 0
        assert math.isclose(strat.cash + basis, sc.capital + net, rel_tol=1e-9, abs_tol=1e-6)
        if not strat.positions:
            assert math.isclose(net, value - sc.initial_capital, rel_tol=1e-9, abs_tol=1e-6)
        for r in rows:
            assert math.isclose(r["fee"], _expected_fee(sc, r), rel_tol=1e-9, abs_tol=1e-12)


def test_every_venue_trades_both_ways_and_the_book_reconciles_every_cycle(tmp_path, market_env):
    _, config = _config(tmp_path)
    market_env(START)
    sup = Supervisor(config, once=True, out=io.StringIO())
    assert sup.start() == 0
    db = sqlite3.connect(tmp_path / "perps.db")
    db.row_factory = sqlite3.Row
    seen: dict[str, set[str]] = defaultdict(set)
    try:
        for i in range(CYCLES):
            market_env(START + timedelta(hours=i))
            report = sup.run_cycle(sup.config.strategies)
            assert not [o for o in report.outcomes if o.error], report.outcomes
            assert sup.save_error == ""
            _check_book(sup, db)
            for t in report.trades:
                kind = (
                    "funding" if t.trade_type == "funding" else ("close" if t.is_close else "open")
                )
                seen[t.strategy_id.split("-")[0]].add(f"{kind}-{t.side}")
    finally:
        sup.shutdown()
    for venue, needs in VENUE_NEEDS.items():
        assert needs <= seen[venue], (venue, seen[venue])
    assert "funding-funding" in seen["hl"] and "funding-funding" in seen["okx"]


def test_topstep_on_a_saturday_trades_nothing_and_says_the_market_is_closed(tmp_path, market_env):
    _, config = _config(tmp_path, only=["ts-sma-es", "ts-ema-mes"])
    market_env(datetime(2026, 11, 21, 15, tzinfo=UTC))  # Saturday
    sup = Supervisor(config, once=True, out=io.StringIO())
    assert sup.start() == 0
    try:
        results = sup.executor.run(sup_jobs(sup))
        for sid in ("ts-sma-es", "ts-ema-mes"):
            assert results[sid].ok and results[sid].data["market_open"] is False
            assert results[sid].data["signal"] == 0 and "error" not in results[sid].data
        report = sup.run_cycle(sup.config.strategies)
    finally:
        sup.shutdown()
    assert report.trades == [] and not [o for o in report.outcomes if o.error]


def sup_jobs(sup: Supervisor):
    from supervisor.cycle import Cycle
    from supervisor.cycle_report import new_report

    return Cycle(sup.app, sup.config, datetime.now(UTC), new_report(0), log=print).plan(
        sup.config.strategies
    )


def test_the_example_runs_once_from_the_cli(tmp_path):
    from conftest import base_env, run_cli

    cfg, _ = _config(tmp_path)
    env = base_env(tmp_path, GO_TRADER_NOW="2026-11-19T17:00:00Z")
    env.pop("GO_TRADER_MARKET_DATA")  # the config's market_data must reach the workers
    proc = run_cli(["--config", str(tmp_path / "perps.json"), "--once"], env)
    assert proc.returncode == 0, proc.stderr
    rows = [
        line.split()[0] for line in proc.stdout.splitlines() if line[:3] in ("hl-", "okx", "ts-")
    ]
    assert len(rows) == 8 and "cycle 1:" in proc.stdout
    assert "rh-ema-btc" in proc.stdout and "luno-sma-xbt" in proc.stdout
