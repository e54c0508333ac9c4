"""Status views: health codes and the P&L the status endpoint and CLI share."""

from __future__ import annotations

import os

from supervisor.models import AppState, StrategyState, utc_iso
from supervisor.portfolio import apply_spot_signal
from supervisor.status import build_status, health


def _app() -> AppState:
    app = AppState(cycle_count=2)
    s = StrategyState(id="a", type="spot", platform="binanceus", cash=1000, initial_capital=1000)
    apply_spot_signal(s, "BTC/USDT", 1, 100.0, "t0", fee_rate=0.001)
    app.strategies["a"] = s
    app.prices = {"BTC/USDT": 110.0}
    return app


def test_health_ok_draining_and_stale():
    app = _app()
    app.last_cycle = utc_iso()
    code, body = health(app, draining=False, started_at=0, stale_after_s=60)
    assert code == 200 and body["status"] == "ok" and body["pid"] == os.getpid()
    assert body["rss_mb"] > 0 and body["version"]
    code, body = health(app, draining=True, started_at=0, stale_after_s=60)
    assert code == 503 and body["status"] == "draining"
    import time

    code, body = health(app, draining=False, started_at=0, stale_after_s=60, now=time.time() + 120)
    assert code == 503 and body["status"] == "unhealthy" and "no cycle for" in body["reason"]
    fresh = AppState()  # no cycle yet: measured from process start
    code, _ = health(fresh, draining=False, started_at=time.time(), stale_after_s=60)
    assert code == 200


def test_status_values_positions_at_cycle_prices():
    status = build_status(_app())
    a = status["strategies"]["a"]
    qty = a["positions"]["BTC/USDT"]["quantity"]
    assert abs(a["portfolio_value"] - (a["cash"] + qty * 110.0)) < 1e-9
    assert abs(a["pnl"] - (a["portfolio_value"] - 1000)) < 1e-9
    assert abs(a["pnl_pct"] - a["pnl"] / 10) < 1e-9
    assert status["total_value"] == a["portfolio_value"]
