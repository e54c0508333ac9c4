"""The TopStep local venue as a separate process and the scripts as the supervisor runs them.

``python -m platforms.topstep.localvenue --port 0`` prints its URL and serves until SIGTERM;
its state outlives the scripts (each a fresh process) and a SIGKILLed execute is resolved by
its client order id without a second order.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
NOW = "2026-12-08T15:00:00Z"
CID = "gt" + "0123456789abcdef01234567"


def control(url: str, body: dict) -> dict:
    req = urllib.request.Request(
        url + "/control", json.dumps(body).encode(), {"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(req, timeout=10) as resp:
        return json.loads(resp.read())


@pytest.fixture
def venue_url() -> Iterator[str]:
    env = {**os.environ, "GO_TRADER_NOW": NOW}
    proc = subprocess.Popen(
        [sys.executable, "-m", "platforms.topstep.localvenue", "--port", "0", "--seed", "3"]
        + ["--account", "77"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline().strip()
        assert line.startswith("localvenue: http://127.0.0.1:")
        yield line.split(" ", 1)[1]
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=10) == 0


def script(url: str, name: str, *args: str, wait: bool = True) -> tuple[int, dict]:
    env = {
        **os.environ,
        "GO_TRADER_NOW": NOW,
        "TOPSTEP_BASE_URL": url,
        "TOPSTEP_API_KEY": "test-key",
        "TOPSTEP_API_SECRET": "test-secret",
        "TOPSTEP_ACCOUNT_ID": "77",
        "TOPSTEP_TIMEOUT_S": "5",
    }
    proc = subprocess.run(
        [sys.executable, str(ROOT / "shared_scripts" / name), *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert "test-secret" not in proc.stdout + proc.stderr
    return proc.returncode, json.loads(proc.stdout) if proc.stdout.strip() else {}


def test_scripts_against_the_venue_process_and_a_killed_execute(venue_url: str) -> None:
    control(venue_url, {"op": "fault", "kind": "Order/place", "mode": "timeout", "hold_s": 3})
    env = {
        **os.environ,
        "GO_TRADER_NOW": NOW,
        "TOPSTEP_BASE_URL": venue_url,
        "TOPSTEP_API_KEY": "test-key",
        "TOPSTEP_API_SECRET": "test-secret",
        "TOPSTEP_ACCOUNT_ID": "77",
    }
    argv = ["--execute", "--symbol=MNQ", "--side=buy", "--contracts=2", "--mode=live"]
    proc = subprocess.Popen(
        [sys.executable, str(ROOT / "shared_scripts" / "check_topstep.py"), *argv]
        + [f"--client-order-id={CID}"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:  # wait until the venue holds the order request
        if not control(venue_url, {"op": "state"})["faults"]:
            break
        time.sleep(0.05)
    proc.kill()  # kill -9 while the order is in flight
    proc.wait(timeout=10)
    time.sleep(3.5)  # the held request takes effect after the client died
    status_args = ["--order-status", f"--client-order-id={CID}", "--symbol=MNQ", "--mode=live"]
    code, doc = script(venue_url, "check_topstep.py", *status_args)
    assert code == 0 and doc["status"] == "filled" and doc["fill"]["qty"] == 2.0
    code, again = script(venue_url, "check_topstep.py", *argv, f"--client-order-id={CID}")
    assert code == 0 and again["execution"]["fill"]["oid"] == doc["oid"]  # not a second order
    state = control(venue_url, {"op": "state"})
    assert state["orders"] == 1
    code, pos = script(venue_url, "fetch_topstep_positions.py")
    assert code == 0 and pos["positions"][0]["size"] == 2 and pos["positions"][0]["coin"] == "MNQ"
    code, closed = script(venue_url, "close_topstep_position.py", "--symbol=MNQ", "--mode=live")
    assert code == 0 and closed["close"]["fill"]["qty"] == 2.0
    code, pos = script(venue_url, "fetch_topstep_positions.py")
    assert code == 0 and pos["positions"] == []


def test_execute_killed_at_random_points_never_doubles(venue_url: str) -> None:
    """kill -9 of execute at seeded random moments; the restart asks by id, then re-runs the
    intent with the same id when the venue never saw it: one order per intent, always.
    ``TOPSTEP_SOAK_N`` raises the count (default 3 keeps the suite fast)."""
    import random

    rng = random.Random(23)
    count = int(os.environ.get("TOPSTEP_SOAK_N", "3"))
    env = {
        **os.environ,
        "GO_TRADER_NOW": NOW,
        "TOPSTEP_BASE_URL": venue_url,
        "TOPSTEP_API_KEY": "test-key",
        "TOPSTEP_API_SECRET": "test-secret",
        "TOPSTEP_ACCOUNT_ID": "77",
    }
    expected = 0
    for i in range(count):
        cid = f"gt{i:024x}"
        argv = ["--execute", "--symbol=MES", "--side=buy", "--contracts=1", "--mode=live"]
        argv.append(f"--client-order-id={cid}")
        proc = subprocess.Popen(
            [sys.executable, str(ROOT / "shared_scripts" / "check_topstep.py"), *argv],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        time.sleep(rng.uniform(0.0, 1.5))
        proc.kill()
        proc.wait(timeout=10)
        status_args = ["--order-status", f"--client-order-id={cid}", "--symbol=MES", "--mode=live"]
        code, doc = script(venue_url, "check_topstep.py", *status_args)
        assert code == 0, doc
        if doc["status"] == "unknown":  # the venue never saw it: the one re-send, same id
            code, doc = script(venue_url, "check_topstep.py", *argv)
            assert code == 0, doc
        expected += 1
        assert control(venue_url, {"op": "state"})["orders"] == expected
    code, pos = script(venue_url, "fetch_topstep_positions.py")
    assert pos["positions"][0]["size"] == expected
