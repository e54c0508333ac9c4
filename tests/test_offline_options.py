"""examples/offline-options.json: the seed's 20 options strategies (5 x BTC/ETH x Deribit and
IBKR) on the simulated market, run through the real check_options.py and mark_options.py.

Over a few cycles with the clock advanced by days, both venues open legs at their own
multipliers (Deribit 1, CME micro BTC 0.1 / ETH 0.5), /status carries the legs and the
signed book greeks, legs expire at the venues' settlement prices, a wheel gets assigned, and
after every cycle the book reconciles: value = cash + legs at their marks + spot at its mark,
and the trade rows' net P&L explains the cash.
"""

from __future__ import annotations

import io
import json
import math
import sqlite3
from datetime import UTC, datetime, timedelta

import pytest
from conftest import REPO

from shared_tools.config.load import load_config
from supervisor.daemon import Supervisor
from supervisor.http.views import build_status

START = datetime(2026, 12, 7, 12, tzinfo=UTC)
DAYS = (0, 1, 8, 19, 26, 40)
MULTIPLIERS = {
    ("deribit", "BTC"): 1.0,
    ("deribit", "ETH"): 1.0,
    ("ibkr", "BTC"): 0.1,
    ("ibkr", "ETH"): 0.5,
}


def _config(tmp_path):
    cfg = json.loads((REPO / "examples" / "offline-options.json").read_text())
    cfg["db_file"] = str(tmp_path / "options.db")
    path = tmp_path / "options.json"
    path.write_text(json.dumps(cfg))
    return load_config(path)


@pytest.fixture
def at(tmp_path, monkeypatch):
    monkeypatch.setenv("GO_TRADER_OHLCV_CACHE", str(tmp_path / "ohlcv.db"))
    monkeypatch.delenv("GO_TRADER_MARKET_DATA", raising=False)  # the config's must reach them
    monkeypatch.delenv("GO_TRADER_SIM_SEED", raising=False)

    def set_now(when: datetime) -> None:
        monkeypatch.setenv("GO_TRADER_NOW", when.strftime("%Y-%m-%dT%H:%M:%SZ"))

    return set_now


def _reconciles(sup: Supervisor, db: sqlite3.Connection) -> None:
    status = build_status(sup.app)["strategies"]
    for sc in sup.config.strategies:
        strat = sup.app.strategies[sc.id]
        view = status[sc.id]
        legs = sum(o["current_value_usd"] for o in view["option_positions"].values())
        spot = sum(p["quantity"] * (p["mark"] or p["avg_cost"]) for p in view["positions"].values())
        assert math.isclose(view["portfolio_value"], strat.cash + legs + spot, abs_tol=1e-6)
        net = db.execute(
            "SELECT COALESCE(SUM(realized_pnl - fee), 0) FROM trades WHERE strategy_id=?", (sc.id,)
        ).fetchone()[0]
        basis = sum(p.cost_basis for p in strat.positions.values())
        premiums = sum(-leg.sign * leg.units * leg.entry_premium for leg in strat.legs.values())
        # cash = capital + net P&L of every row - spot bought + premiums of the open legs
        assert math.isclose(strat.cash, sc.capital + net - basis + premiums, abs_tol=1e-6), sc.id
        for leg in strat.legs.values():
            assert leg.multiplier == MULTIPLIERS[(sc.platform, leg.underlying)]


def test_the_seeds_twenty_options_strategies_trade_on_both_venues(tmp_path, at):
    at(START)
    sup = Supervisor(_config(tmp_path), once=True, out=io.StringIO())
    assert sup.start() == 0
    db = sqlite3.connect(tmp_path / "options.db")
    opened: set[tuple[str, float]] = set()
    reasons: set[str] = set()
    greeks_seen = False
    try:
        assert len(sup.config.strategies) == 20
        for day in DAYS:
            at(START + timedelta(days=day))
            report = sup.run_cycle(sup.config.strategies)
            assert not [o for o in report.outcomes if o.error], report.outcomes
            assert sup.save_error == ""
            _reconciles(sup, db)
            for t in report.trades:
                if t.trade_type == "options" and not t.is_close:
                    sc = sup.config.strategy(t.strategy_id)
                    opened.add((sc.platform, t.value / t.quantity / t.price))
                    fee = 0.25 * t.quantity if sc.platform == "ibkr" else 0.0003 * t.value
                    assert math.isclose(t.fee, fee, rel_tol=1e-9)
            status = build_status(sup.app)["strategies"]
            greeks_seen |= any(
                v["portfolio_greeks"]["theta"] != 0 and v["option_positions"]
                for v in status.values()
            )
        reasons = {r[0] for r in db.execute("SELECT close_reason FROM closed_option_positions")}
    finally:
        sup.shutdown()
    platforms = {p for p, _m in opened}
    mults = {round(m, 9) for _p, m in opened}
    assert platforms == {"deribit", "ibkr"} and {1.0, 0.1, 0.5} <= mults
    assert greeks_seen
    assert {"theta_harvest", "expired_worthless"} <= reasons


def test_the_example_runs_once_from_the_cli(tmp_path):
    from conftest import base_env, run_cli

    _config(tmp_path)
    env = base_env(tmp_path, GO_TRADER_NOW="2026-12-07T12:00:00Z")
    env.pop("GO_TRADER_MARKET_DATA", None)  # the config's market_data must reach the workers
    proc = run_cli(["--config", str(tmp_path / "options.json"), "--once"], env)
    assert proc.returncode == 0, proc.stderr
    assert "cycle 1:" in proc.stdout
    assert "ibkr-wheel-btc" in proc.stdout and "deribit-calls-eth" in proc.stdout
    con = sqlite3.connect(tmp_path / "options.db")
    rows = con.execute("SELECT strategy_id, multiplier FROM option_positions").fetchall()
    assert {m for _s, m in rows} >= {1.0, 0.1, 0.5}


def test_the_probe_checks_mark_options_per_platform_not_check_price(tmp_path):
    from supervisor.run.probe import probe_requests

    scripts = {(r.script, tuple(r.argv)) for r in probe_requests(_config(tmp_path))}
    marks = {s for s in scripts if s[0].endswith("mark_options.py")}
    assert marks == {
        ("shared_scripts/mark_options.py", ("--platform=deribit",)),
        ("shared_scripts/mark_options.py", ("--platform=ibkr",)),
    }
    assert not [s for s in scripts if "check_price" in s[0]]
    assert ("shared_scripts/check_options.py", ("wheel", "ETH", "--platform=ibkr")) in scripts
