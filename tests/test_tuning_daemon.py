"""Tuning runs against a real daemon on the simulated market: a daemon killed under a running
run leaves it ``interrupted`` for the next daemon, and a daemon stopped by SIGTERM ends the
worker and marks its run ``interrupted`` itself."""

from __future__ import annotations

import http.client
import json
import os
import signal
import time

from conftest import base_env, write_config
from tuning_rig import GAMMA, gamma

# long enough that the run is still going when the daemon goes away
SLOW = {"lookback_bars": 50_000, "splits": 3}


def post(d, path: str, body: dict) -> tuple[int, dict]:
    headers = {
        "Host": f"127.0.0.1:{d.port}",
        "Content-Type": "application/json",
        "Origin": f"http://127.0.0.1:{d.port}",
        "Authorization": f"Bearer {d.token}",
    }
    conn = http.client.HTTPConnection("127.0.0.1", d.port, timeout=30)
    try:
        conn.request("POST", path, body=json.dumps(body).encode(), headers=headers)
        resp = conn.getresponse()
        return resp.status, json.loads(resp.read() or b"{}")
    finally:
        conn.close()


def wait_run(d, run_id: str, status: str, timeout: float = 60) -> dict:
    deadline = time.time() + timeout
    doc: dict = {}
    while time.time() < deadline:
        code, doc = d.get(f"/api/tuning/runs/{run_id}")
        if code == 200 and doc["run"]["status"] == status:
            return doc
        time.sleep(0.2)
    raise AssertionError(f"{run_id} never {status}: {doc}\n{d.log()[-2000:]}")


def test_restart_and_stop_leave_runs_interrupted(tmp_path, daemons):
    cfg = write_config(tmp_path, [gamma()], interval_seconds=3600, tuning=SLOW)
    env = base_env(tmp_path)
    d = daemons(cfg, env)
    d.wait_status(lambda s: s["cycle_count"] >= 1 and not s["cycle_in_progress"])
    code, rec = post(d, "/api/tuning/runs", {"strategy_ids": [GAMMA]})
    assert code == 202, rec
    wait_run(d, rec["id"], "running")
    os.killpg(d.proc.pid, signal.SIGKILL)  # the daemon and its worker die at once
    d.proc.wait()
    on_disk = json.loads((tmp_path / "tuning_runs" / rec["id"] / "run.json").read_text())
    assert on_disk["status"] == "running"
    d2 = daemons(cfg, env)
    d2.wait_status(lambda s: s["cycle_count"] >= 1 and not s["cycle_in_progress"])
    code, doc = d2.get("/api/tuning/runs")
    assert code == 200 and doc["runs"][0]["id"] == rec["id"]
    assert doc["runs"][0]["status"] == "interrupted", doc
    # SIGTERM under a running worker: the daemon ends it and says so
    code, rec2 = post(d2, "/api/tuning/runs", {"strategy_ids": [GAMMA]})
    assert code == 202
    wait_run(d2, rec2["id"], "running")
    assert d2.stop(timeout=90) == 0  # a loaded machine: the drain and the worker's end take time
    on_disk = json.loads((tmp_path / "tuning_runs" / rec2["id"] / "run.json").read_text())
    assert on_disk["status"] == "interrupted" and on_disk["error"] == "the daemon stopped"
