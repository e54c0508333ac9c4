"""Status views: health codes and the P&L the status endpoint and CLI share."""

from __future__ import annotations

import os
import time

from books import spot_signal as apply_spot_signal

from supervisor.http.views import build_status, health
from supervisor.state.models import AppState, Mark, StrategyState, utc_iso


def _app() -> AppState:
    app = AppState(cycle_count=2)
    s = StrategyState(id="a", type="spot", platform="binanceus", cash=1000, initial_capital=1000)
    apply_spot_signal(s, "BTC/USDT", 1, 100.0, "t0", fee_rate=0.001)
    app.strategies["a"] = s
    app.marks[("binanceus", "BTC/USDT")] = Mark(110.0, time.time())
    return app


def test_health_ok_draining_and_stale():
    app = _app()
    app.last_cycle = utc_iso()
    code, body = health(app, draining=False, started_at=0, stale_after_s=60)
    assert code == 200 and body["status"] == "ok" and body["pid"] == os.getpid()
    assert body["rss_mb"] > 0 and body["version"]
    code, body = health(app, draining=True, started_at=0, stale_after_s=60)
    assert code == 503 and body["status"] == "draining"
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


def test_rss_comes_from_proc_without_psutil():
    """/health's RSS must not import psutil (about 1 MiB of the supervisor's idle RSS)."""
    import json
    import subprocess
    import sys
    from pathlib import Path

    code = (
        "import sys, json\n"
        "from supervisor.http.views import rss_mb\n"
        "mb = rss_mb()\n"
        "vm = [l for l in open('/proc/self/status') if l.startswith('VmRSS:')][0].split()[1]\n"
        "print(json.dumps([mb, int(vm) / 1024, 'psutil' in sys.modules]))\n"
    )
    repo = Path(__file__).resolve().parent.parent
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=repo, capture_output=True, text=True, timeout=60
    )
    assert out.returncode == 0, out.stderr
    mb, vm_rss, psutil_loaded = json.loads(out.stdout)
    assert not psutil_loaded
    assert abs(mb - vm_rss) < 2  # the same figure the kernel reports, read a moment apart


def test_rss_falls_back_to_getrusage_without_proc(monkeypatch):
    import supervisor.http.views as status_mod

    def no_proc(*_args, **_kw):
        raise FileNotFoundError("/proc/self/statm")

    monkeypatch.setattr(status_mod, "open", no_proc, raising=False)
    assert status_mod.rss_mb() > 1
