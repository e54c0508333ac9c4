"""The dashboard's read API against a daemon on the simulated market: upstream's paths and JSON
shapes (reference part A.3), the caps, markers that are exactly the book's trades, the token
the daemon makes on first start, and /metrics."""

from __future__ import annotations

import os
import stat
import urllib.request
from datetime import datetime

import pytest
from conftest import base_env, http_get, run_cli
from dashboard_rig import IDS, book_trades, start_still_daemon


@pytest.fixture(scope="module")
def rig(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("dash")
    d, db = start_still_daemon(tmp)
    yield d, db, tmp
    d.stop()


def test_the_daemon_makes_a_0600_token_prints_it_once_and_cli_shows_it(rig):
    d, _db, tmp = rig
    path = tmp / "status_token"
    secret = path.read_text().strip()
    assert len(secret) == 64 and stat.S_IMODE(os.stat(path).st_mode) == 0o600
    # --once runs serve nothing and make no token: the daemon made it and printed it, once
    assert d.log().count(secret) == 1 and "new API token" in d.log()
    out = run_cli(["token", "--config", str(tmp / "config.json")], base_env(tmp))
    assert out.returncode == 0 and out.stdout.strip() == secret
    assert str(path) in out.stderr
    assert http_get(d.port, "/api/strategies")[0] == 401
    assert http_get(d.port, "/api/strategies", "0" * 64)[0] == 401


def test_strategies_list_shape_and_order(rig):
    d, _db, _tmp = rig
    code, body = d.get("/api/strategies")
    assert code == 200
    assert body == {
        "strategies": [
            {
                "id": sid,
                "type": "spot",
                "platform": "binanceus",
                "strategy": "flip",
                "symbol": sym,
                "timeframe": "1h",
            }
            for sid, sym in zip(IDS, ("BTC/USDT", "ETH/USDT"), strict=True)
        ]
    }


def test_overview_and_status_shapes(rig):
    d, _db, _tmp = rig
    code, body = d.get("/api/strategies/overview")
    assert code == 200 and [r["id"] for r in body["strategies"]] == list(IDS)
    required = {"id", "platform", "symbol", "pnl_pct", "pnl", "portfolio_value", "initial_capital"}
    optional = {"win_rate", "sharpe", "regime", "direction", "paused"}
    for row in body["strategies"]:
        assert required <= set(row) <= required | optional
        assert row["initial_capital"] == 1000
        assert 0 <= row["win_rate"] <= 100  # flip closes once in three cycles
    _, status = d.get("/status")
    code, detail = d.get(f"/api/strategies/{IDS[0]}/status")
    assert code == 200
    assert {"type", "timeframe", "cash", "trade_count", "lifetime_stats", "risk_state"} <= set(
        detail
    )
    assert {"positions", "option_positions"} <= set(detail)
    same = status["strategies"][IDS[0]]
    for key in ("cash", "portfolio_value", "pnl", "trade_count"):
        assert detail[key] == same[key], key  # one implementation of value and P&L


def test_markers_are_exactly_the_books_trades(rig):
    d, db, _tmp = rig
    for sid in IDS:
        book = book_trades(db, sid)
        assert book, "the rig made no trades"
        code, doc = d.get(f"/api/strategies/{sid}/trades")
        assert code == 200 and set(doc) == {"strategy_id", "markers", "trades", "total"}
        got = [(m["side"], int(m["is_close"]), m["price"]) for m in doc["markers"]]
        assert got == [(side, close, price) for _ts, side, close, price in book]
        assert doc["trades"] == doc["markers"] and doc["total"] == len(book)
        times = [m["time"] for m in doc["markers"]]
        assert times == sorted(times)


def test_trade_limit_and_window(rig):
    d, db, _tmp = rig
    sid = IDS[0]
    book = book_trades(db, sid)
    _, one = d.get(f"/api/strategies/{sid}/trades?limit=1")
    assert [m["price"] for m in one["markers"]] == [book[-1][3]]  # the newest
    _, capped = d.get(f"/api/strategies/{sid}/trades?limit=999999")
    assert len(capped["markers"]) == len(book)
    _, later = d.get(f"/api/strategies/{sid}/trades?from={book[-1][0]}")
    assert [m["price"] for m in later["markers"]] == [book[-1][3]]
    _, none = d.get(f"/api/strategies/{sid}/trades?to=1000")
    assert none["markers"] == [] and none["total"] == 0


def test_equity_points_and_caps(rig):
    d, db, _tmp = rig
    sid = IDS[0]
    code, doc = d.get(f"/api/strategies/{sid}/equity")
    assert code == 200 and set(doc) == {"strategy_id", "points"}
    points = doc["points"]
    assert 2 <= len(points) <= 40 and all(set(p) == {"t", "v"} for p in points)
    assert points[0]["v"] == 1000  # initial capital at the first closed position's open
    first_open = datetime.fromisoformat(book_trades(db, sid)[0][0].replace("Z", "+00:00"))
    assert points[0]["t"] == int(first_open.timestamp())
    _, status = d.get(f"/api/strategies/{sid}/status")
    assert points[-1]["v"] == pytest.approx(
        status["cash"] + sum(p["avg_cost"] * p["quantity"] for p in status["positions"].values())
    )  # cost basis now, no mark fetch (upstream #813)
    assert len(d.get(f"/api/strategies/{sid}/equity?limit=1")[1]["points"]) == 1
    assert len(d.get(f"/api/strategies/{sid}/equity?limit=100000")[1]["points"]) <= 500


def test_candles_shape_caps_and_cache(rig):
    d, _db, _tmp = rig
    sid = IDS[1]
    code, doc = d.get(f"/api/strategies/{sid}/candles")
    assert code == 200 and set(doc) == {"strategy_id", "source", "candles"}
    assert doc["source"] == "simulated" and len(doc["candles"]) == 300
    bar = doc["candles"][-1]
    assert set(bar) == {"time", "open", "high", "low", "close", "volume"}
    assert bar["low"] <= min(bar["open"], bar["close"]) <= max(bar["open"], bar["close"])
    assert [c["time"] for c in doc["candles"]] == sorted(c["time"] for c in doc["candles"])
    again = d.get(f"/api/strategies/{sid}/candles")[1]
    assert again["source"] == "simulated:cached" and again["candles"] == doc["candles"]
    big = d.get(f"/api/strategies/{sid}/candles?limit=5000")[1]
    assert len(big["candles"]) == 1000  # clamped to upstream's max
    end = doc["candles"][-10]["time"]
    window = d.get(f"/api/strategies/{sid}/candles?from={end - 3 * 3600}&to={end}&limit=50")[1]
    assert [c["time"] for c in window["candles"]] == [end - 3 * 3600 + i * 3600 for i in range(4)]


@pytest.mark.parametrize(
    "path",
    [
        "/api/strategies/nope/trades",
        f"/api/strategies/{IDS[0]}/bogus",
        f"/api/strategies/{IDS[0]}/trades/extra",
        "/api/nothing",
    ],
)
def test_unknown_paths_are_404(rig, path):
    d, _db, _tmp = rig
    assert d.get(path)[0] == 404


def test_metrics_over_the_book(rig):
    d, _db, _tmp = rig
    req = urllib.request.Request(
        f"http://127.0.0.1:{d.port}/metrics", headers={"Authorization": f"Bearer {d.token}"}
    )
    with urllib.request.urlopen(req, timeout=10) as resp:
        text = resp.read().decode()
    for name in (
        "go_trader_cycle_duration_seconds",
        "go_trader_worker_failures_total",
        "go_trader_outbox_depth",
        "go_trader_kill_switch 0.0",
    ):
        assert name in text, name
    for sid in IDS:
        for metric in ("strategy_equity", "strategy_drawdown_pct", "strategy_open_positions"):
            assert f'go_trader_{metric}{{strategy="{sid}"}}' in text
