"""The supervisor end to end: cycles, resume, failing workers, signals, lock, probe, status."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import psutil
from conftest import REPO, base_env, fake_strategy, http_get, run_cli, write_config


def done(status: dict, cycles: int) -> bool:
    """At least ``cycles`` cycles have committed and none is running."""
    return status["cycle_count"] >= cycles and not status["cycle_in_progress"]


def _offline_config(tmp_path: Path) -> Path:
    cfg = json.loads((REPO / "examples" / "offline.json").read_text())
    cfg["db_file"] = str(tmp_path / "offline.db")
    path = tmp_path / "offline.json"
    path.write_text(json.dumps(cfg))
    return path


def test_offline_demo_runs_and_continues(tmp_path):
    cfg = _offline_config(tmp_path)
    env = base_env(tmp_path)
    env.pop("GO_TRADER_MARKET_DATA")  # the config's market_data must reach the workers
    first = run_cli(["--config", str(cfg), "--once"], env)
    assert first.returncode == 0, first.stderr
    assert "cycle 1:" in first.stdout
    rows = [
        line
        for line in first.stdout.splitlines()
        if re.match(r"^(momentum|rsi|macd|vw|pairs)-", line)
    ]
    assert len(rows) == 14
    assert "TOTAL" in first.stdout
    assert (tmp_path / "offline.db").exists()
    second = run_cli(["--config", str(cfg), "--once"], env)
    assert second.returncode == 0, second.stderr
    assert "cycle 2:" in second.stdout


def test_book_carries_over_between_runs(tmp_path):
    env = base_env(tmp_path)
    cfg = write_config(tmp_path, [fake_strategy("flip", "flip"), fake_strategy("hold", "hold")])
    first = run_cli(["--config", str(cfg), "--once"], env)
    assert first.returncode == 0, first.stderr
    con = sqlite3.connect(tmp_path / "state.db")
    qty = con.execute("SELECT quantity FROM positions WHERE strategy_id='flip'").fetchone()[0]
    cash1 = con.execute("SELECT cash FROM strategies WHERE id='flip'").fetchone()[0]
    assert qty > 0 and cash1 == 0.0
    second = run_cli(["--config", str(cfg), "--once"], env)
    assert second.returncode == 0, second.stderr
    assert "cycle 2:" in second.stdout
    assert con.execute("SELECT count(*) FROM positions").fetchone()[0] == 0
    sell = con.execute(
        "SELECT quantity, is_close FROM trades WHERE strategy_id='flip' ORDER BY rowid DESC"
    ).fetchone()
    assert sell == (qty, 1)  # the position bought in run 1 was sold in run 2
    cycle = con.execute("SELECT cycle_count FROM app_state").fetchone()[0]
    assert cycle == 2


def test_removed_strategy_with_positions_is_not_pruned_silently(tmp_path):
    env = base_env(tmp_path)
    cfg = write_config(tmp_path, [fake_strategy("a", "hold"), fake_strategy("b", "buy")])
    assert run_cli(["--config", str(cfg), "--once"], env).returncode == 0
    cfg = write_config(tmp_path, [fake_strategy("a", "hold")])
    proc = run_cli(["--config", str(cfg), "--once"], env)
    assert proc.returncode == 78
    assert "strategy 'b' is no longer in the config but holds BTC/USDT" in proc.stderr
    proc = run_cli(["--config", str(cfg), "--once", "--prune-open"], env)
    assert proc.returncode == 0 and "pruned strategy 'b'" in proc.stderr


def test_pruned_strategy_disappears(tmp_path):
    env = base_env(tmp_path)
    cfg = write_config(tmp_path, [fake_strategy("a", "hold"), fake_strategy("b", "hold")])
    assert run_cli(["--config", str(cfg), "--once"], env).returncode == 0
    cfg = write_config(tmp_path, [fake_strategy("a", "hold")])
    proc = run_cli(["--config", str(cfg), "--once"], env)
    assert proc.returncode == 0
    assert "pruned strategy 'b'" in proc.stderr
    con = sqlite3.connect(tmp_path / "state.db")
    assert [r[0] for r in con.execute("SELECT id FROM strategies")] == ["a"]


HARNESS = r"""
import json, os, signal, sys, threading, time
from shared_tools.config.load import load_config
from supervisor.daemon import Supervisor
sup = Supervisor(load_config(sys.argv[1]), status_port=int(sys.argv[2]))
def watch():
    while sup.app.cycle_count < 1 or not sup.app.last_cycle:
        time.sleep(0.1)
    heavy = sorted(m for m in sys.modules if m.split('.')[0] in
                   {'pandas', 'numpy', 'scipy', 'ccxt', 'hyperliquid', 'ib_async', 'talib',
                    'ssl', '_ssl', '_hashlib', 'psutil', 'requests', 'urllib3'})
    print('REPORT ' + json.dumps({'heavy': heavy, 'cycles': sup.app.cycle_count}), flush=True)
    os.kill(os.getpid(), signal.SIGTERM)
threading.Thread(target=watch, daemon=True).start()
sys.exit(sup.run())
"""


def test_running_supervisor_imports_no_heavy_libraries(tmp_path):
    from conftest import free_port

    cfg = _offline_config(tmp_path)
    proc = subprocess.run(
        [sys.executable, "-c", HARNESS, str(cfg), str(free_port())],
        cwd=REPO,
        env=base_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    (line,) = [ln for ln in proc.stdout.splitlines() if ln.startswith("REPORT ")]
    report = json.loads(line.removeprefix("REPORT "))
    assert report["cycles"] >= 1
    assert report["heavy"] == []


def test_failing_workers_are_contained(tmp_path, daemons):
    strategies = [
        fake_strategy("hang", "hang"),
        fake_strategy("garbage", "garbage"),
        fake_strategy("crash", "exit3"),
        fake_strategy("flip-a", "flip", "AAA/USDT"),
        fake_strategy("flip-b", "flip", "BBB/USDT"),
        {
            "id": "real-momentum",
            "type": "spot",
            "script": "shared_scripts/check_strategy.py",
            "args": ["momentum", "BTC/USDT", "1h"],
            "capital": 1000,
        },
    ]
    cfg = write_config(tmp_path, strategies, script_timeout_seconds=3, interval_seconds=3600)
    d = daemons(cfg, base_env(tmp_path))
    status = d.wait_status(lambda s: done(s, 1) and s["strategies"]["hang"]["last_error"])
    by_id = status["strategies"]
    assert "timed out after" in by_id["hang"]["last_error"]
    assert "unparsable output" in by_id["garbage"]["last_error"]
    assert "exit 3" in by_id["crash"]["last_error"] and "boom" in by_id["crash"]["last_error"]
    for sid in ("hang", "garbage", "crash"):
        assert by_id[sid]["consecutive_failures"] == 1
    for sid in ("flip-a", "flip-b"):
        assert by_id[sid]["last_error"] == ""
        assert by_id[sid]["trade_count"] == 1 and by_id[sid]["positions"]
    assert by_id["real-momentum"]["last_error"] == ""
    assert d.stop() == 0


def test_sigterm_during_hanging_cycle_exits_promptly(tmp_path, daemons):
    cfg = write_config(
        tmp_path,
        [fake_strategy("hang", "hang"), fake_strategy("flip", "flip")],
        script_timeout_seconds=3600,  # only the shutdown can end the hanging worker
    )
    d = daemons(cfg, base_env(tmp_path))
    d.wait_status(lambda s: s["cycle_in_progress"])  # the cycle now waits on the hanging worker
    # The cycle is flagged as running a moment before its workers are spawned: wait for them.
    deadline = time.time() + 20
    workers = psutil.Process(d.proc.pid).children(recursive=True)
    while not workers and time.time() < deadline:
        time.sleep(0.05)
        workers = psutil.Process(d.proc.pid).children(recursive=True)
    assert workers  # the hanging worker (and whatever else the cycle runs)
    # Exits 0 on SIGTERM (stop() SIGKILLs it after a generous 25 s, which would not be 0) ...
    assert d.stop(signal.SIGTERM) == 0
    # ... having killed the worker rather than waiting for it.
    for proc in workers:
        assert not proc.is_running() or proc.status() == psutil.STATUS_ZOMBIE, proc
    con = sqlite3.connect(tmp_path / "state.db")
    assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


def test_sighup_reloads_safe_subset_and_refuses_structure(tmp_path, daemons):
    strategies = [fake_strategy("a", "hold"), fake_strategy("b", "hold")]
    cfg = write_config(tmp_path, strategies, interval_seconds=3600)
    d = daemons(cfg, base_env(tmp_path))
    d.wait_status(lambda s: done(s, 1))
    strategies[0]["capital"] = 1500
    strategies[1]["max_drawdown_pct"] = 30
    write_config(tmp_path, strategies, interval_seconds=3600)
    d.proc.send_signal(signal.SIGHUP)
    status = d.wait_status(lambda s: s["strategies"]["a"]["cash"] == 1500)
    assert status["strategies"]["a"]["initial_capital"] == 1500
    assert status["strategies"]["b"]["risk_state"]["max_drawdown_pct"] == 30
    write_config(tmp_path, strategies + [fake_strategy("c", "hold")], interval_seconds=3600)
    d.proc.send_signal(signal.SIGHUP)
    deadline = time.time() + 20
    while "restart required" not in d.log() and time.time() < deadline:
        time.sleep(0.2)
    assert "rejected (restart required): strategies added: c" in d.log()
    assert d.proc.poll() is None  # still running
    assert "c" not in d.wait_status(lambda s: True)["strategies"]
    assert d.stop() == 0


def test_second_daemon_on_same_db_exits_79(tmp_path, daemons):
    cfg = write_config(tmp_path, [fake_strategy("a", "hold")], interval_seconds=3600)
    first = daemons(cfg, base_env(tmp_path))
    first.wait_status(lambda s: done(s, 1))
    proc = run_cli(["--config", str(cfg)], base_env(tmp_path), timeout=60)
    assert proc.returncode == 79
    assert "state.db.lock" in proc.stderr and str(first.proc.pid) in proc.stderr
    assert "Traceback" not in proc.stderr
    assert first.stop() == 0


def test_status_auth_health_history(tmp_path, daemons):
    cfg = write_config(
        tmp_path, [fake_strategy("a", "flip"), fake_strategy("b", "flip", "ETH/USDT")]
    )
    env = base_env(tmp_path, STATUS_AUTH_TOKEN="s3cret")
    d = daemons(cfg, env)
    d.wait_status(lambda s: done(s, 1), token="s3cret")
    assert http_get(d.port, "/status")[0] == 401
    assert http_get(d.port, "/status", "wrong")[0] == 401
    assert http_get(d.port, "/history")[0] == 401
    code, health = http_get(d.port, "/health")
    assert code == 200 and health["status"] == "ok" and health["pid"] == d.proc.pid
    assert health["rss_mb"] > 0 and health["version"]
    code, hist = http_get(d.port, "/history?strategy=b", "s3cret")
    assert code == 200 and hist["total"] == 1
    assert [t["strategy_id"] for t in hist["trades"]] == ["b"]
    code, body = http_get(d.port, "/history?limit=x", "s3cret")
    assert code == 400 and "limit" in body["error"]
    import http.client

    conn = http.client.HTTPConnection("127.0.0.1", d.port, timeout=10)
    conn.request(
        "GET", "/status", headers={"Host": "evil.example", "Authorization": "Bearer s3cret"}
    )
    assert conn.getresponse().status == 403  # DNS-rebinding guard
    conn.close()
    code, status = http_get(d.port, "/status", "s3cret")
    a = status["strategies"]["a"]
    for key in (
        "id",
        "type",
        "platform",
        "cash",
        "initial_capital",
        "positions",
        "trade_count",
        "portfolio_value",
        "pnl",
        "pnl_pct",
        "risk_state",
        "last_error",
    ):
        assert key in a
    assert status["prices"]
    assert d.stop() == 0


def test_status_port_falls_back_when_busy(tmp_path, daemons):
    import socket

    from conftest import free_port

    port = free_port()
    blocker = socket.socket()
    blocker.bind(("127.0.0.1", port))
    blocker.listen()
    try:
        cfg = write_config(tmp_path, [fake_strategy("a", "hold")])
        d = daemons(cfg, base_env(tmp_path), port=port)
        d.port = port + 1
        d.wait_status(lambda s: done(s, 1))
        assert "instead of" in d.log()
        assert d.stop() == 0
    finally:
        blocker.close()


def _strict_script(tmp_path: Path) -> Path:
    script = tmp_path / "strict_check.py"
    script.write_text(
        "import argparse\n"
        "p = argparse.ArgumentParser()\n"
        "p.add_argument('strategy'); p.add_argument('symbol'); p.add_argument('timeframe')\n"
        "p.add_argument('--probe-only', action='store_true')\n"
        "p.parse_args()\n"
    )
    return script


def test_probe_rejects_drifted_script(tmp_path):
    bad = dict(fake_strategy("bad", "hold"), script=str(_strict_script(tmp_path)))
    cfg = write_config(tmp_path, [fake_strategy("good", "hold"), bad])
    env = base_env(tmp_path)
    proc = run_cli(["probe", "--config", str(cfg)], env)
    assert proc.returncode == 78
    assert "strict_check.py" in proc.stderr and "unrecognized arguments" in proc.stderr
    assert "exited 2" in proc.stderr
    proc = run_cli(["--config", str(cfg), "probe"], env)  # the group's --config reaches probe
    assert proc.returncode == 78 and "strict_check.py" in proc.stderr
    daemon = run_cli(["--config", str(cfg), "--once"], env)
    assert daemon.returncode == 78
    assert "startup probe failed" in daemon.stderr
    assert not (tmp_path / "state.db").exists()  # nothing written before the probe passes

    ok = write_config(tmp_path, [fake_strategy("good", "hold")])
    proc = run_cli(["probe", "--config", str(ok)], env)
    assert proc.returncode == 0 and "probe: OK" in proc.stdout
    proc = run_cli(["--config", str(ok), "probe"], env)  # the group's --config reaches probe
    assert proc.returncode == 0 and "probe: OK" in proc.stdout


def _book_is_consistent(db: Path) -> None:
    con = sqlite3.connect(db)
    assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    trades = con.execute(
        "SELECT strategy_id, position_id, side, quantity, value, fee, is_close, realized_pnl, timestamp"
        " FROM trades"
    ).fetchall()
    keys = [(t[0], t[1], t[2], t[8]) for t in trades]
    assert len(keys) == len(set(keys)), "a trade was recorded twice"
    for sid, cash, initial in con.execute("SELECT id, cash, initial_capital FROM strategies"):
        mine = [t for t in trades if t[0] == sid]
        opens = {t[1]: t for t in mine if not t[6]}
        closes = {t[1]: t for t in mine if t[6]}
        positions = con.execute(
            "SELECT position_id, quantity, cost_basis FROM positions WHERE strategy_id=?", (sid,)
        ).fetchall()
        for pid, qty, _basis in positions:
            assert pid in opens and pid not in closes, "open position not explained by its trades"
            assert abs(opens[pid][3] - qty) < 1e-9
        # every closed round trip has exactly one open and one close
        for pid in closes:
            assert pid in opens
        # cash follows from the trades; cash + cost basis = initial + realized
        expected_cash = initial + sum((t[4] - t[5]) if t[6] else -(t[4] + t[5]) for t in mine)
        assert abs(expected_cash - cash) < 1e-6
        basis = sum(p[2] for p in positions)
        realized = sum(t[7] - t[5] for t in mine)  # every row: gross P&L minus its fee
        assert abs(cash + basis - (initial + realized)) < 1e-6


def test_kill_9_mid_cycle_then_restart_keeps_book_consistent(tmp_path, daemons):
    strategies = [
        fake_strategy(f"s{i}", "slowflip", f"S{i}/USDT", interval_seconds=1) for i in range(4)
    ]
    cfg = write_config(tmp_path, strategies, interval_seconds=1, batch_checks=False)
    env = base_env(tmp_path)
    db = tmp_path / "state.db"
    for round_no in range(3):
        d = daemons(cfg, env)
        d.wait_status(lambda s, r=round_no: done(s, 2 * (r + 1)))
        d.wait_status(lambda s: s["cycle_in_progress"], timeout=30)  # workers are running now
        time.sleep(0.1 * round_no)  # land at different points inside the cycle (workers take 0.3 s)
        os.killpg(d.proc.pid, signal.SIGKILL)
        d.proc.wait()
        _book_is_consistent(db)
    d = daemons(cfg, env)
    final = d.wait_status(lambda s: done(s, 8))
    assert sum(s["trade_count"] for s in final["strategies"].values()) >= 8
    for s in final["strategies"].values():
        value = s["cash"] + sum(
            p["quantity"] * final["prices"].get(sym, p["avg_cost"])
            for sym, p in s["positions"].items()
        )
        assert abs(value - s["portfolio_value"]) < 1e-6
    assert d.stop() == 0
    _book_is_consistent(db)
    shutil.rmtree(tmp_path / "unused", ignore_errors=True)


def test_each_platform_is_marked_by_its_own_price_check(tmp_path):
    from shared_tools.config.load import load_config
    from supervisor.run.probe import probe_requests

    cfg = write_config(
        tmp_path,
        [fake_strategy("a", "flip", "BTC/USDT"), fake_strategy("luno-b", "flip", "XBT/ZAR")],
    )
    probes = [r.argv for r in probe_requests(load_config(cfg)) if "check_price" in r.script]
    assert sorted(probes) == [["BTC/USDT"], ["XBT/ZAR", "--platform=luno"]]
    proc = run_cli(["--config", str(cfg), "--once"], base_env(tmp_path))
    assert proc.returncode == 0, proc.stderr
    con = sqlite3.connect(tmp_path / "state.db")
    fees = dict(con.execute("SELECT strategy_id, fee / value FROM trades"))
    assert abs(fees["a"] - 0.001) < 1e-12 and abs(fees["luno-b"] - 0.01) < 1e-12
