"""The daemon's life: signals during start-up, /health while starting, the loop's log, and a
kill -9 inside the commit itself."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from conftest import REPO, base_env, fake_strategy, free_port, http_get, write_config
from test_supervisor import _book_is_consistent, done

FAKES = Path(__file__).resolve().parent / "fakes"


def slow_probe_config(tmp_path: Path) -> Path:
    entry = fake_strategy("slow", "hold")
    entry["script"] = str(FAKES / "fake_answer.py")
    return write_config(tmp_path, [entry], interval_seconds=3600)


def wait_health(port: int, proc: subprocess.Popen, want: str, timeout: float = 30) -> dict:
    deadline = time.time() + timeout
    while time.time() < deadline:
        assert proc.poll() is None, f"daemon exited {proc.returncode}"
        try:
            _code, body = http_get(port, "/health")
            if body.get("status") == want:
                return body
        except (OSError, ValueError):
            pass
        time.sleep(0.1)
    raise AssertionError(f"/health never said {want}")


def start_daemon(cfg: Path, env: dict, port: int) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "supervisor.cli", "--config", str(cfg), "--status-port", str(port)],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )


def test_health_says_starting_during_the_probe_and_sigterm_then_exits_0(tmp_path):
    env = base_env(tmp_path, GO_TRADER_FAKE_PROBE_SLEEP="4")
    port = free_port()
    proc = start_daemon(slow_probe_config(tmp_path), env, port)
    try:
        body = wait_health(port, proc, "starting")
        assert body["pid"] == proc.pid
        assert http_get(port, "/status")[0] == 401  # the token comes first, even while starting
        token = (tmp_path / "status_token").read_text().strip()
        code, _ = http_get(port, "/status", token)
        assert code == 503
        # A reload request while starting is not fatal: had SIGHUP killed it, it would have
        # died of that signal (delivered before the later SIGTERM), not exited 0 below.
        proc.send_signal(signal.SIGHUP)
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    assert proc.returncode == 0, out
    assert "Traceback" not in out


def test_the_loop_says_when_the_next_cycle_is(tmp_path, daemons):
    cfg = write_config(tmp_path, [fake_strategy("a", "hold")], interval_seconds=3600)
    d = daemons(cfg, base_env(tmp_path))
    d.wait_status(lambda s: done(s, 1))
    deadline = time.time() + 20
    while "next cycle in" not in d.log() and time.time() < deadline:
        time.sleep(0.1)
    assert "next cycle in 36" in d.log() or "next cycle in 35" in d.log()
    assert d.stop() == 0


CRASH_HARNESS = """
import os, signal, sys
from supervisor.state import db as state
from shared_tools.config.load import load_config
from supervisor.daemon import Supervisor

real = state.StateDB._save
target, when = int(sys.argv[3]), sys.argv[4]
seen = {"n": 0}

def crashing(self, conn, app, trades):
    seen["n"] += 1
    if seen["n"] == target:
        if when == "after-writes":
            real(self, conn, app, trades)  # every row written, the COMMIT not yet run
        os.kill(os.getpid(), signal.SIGKILL)
    return real(self, conn, app, trades)

state.StateDB._save = crashing
sys.exit(Supervisor(load_config(sys.argv[1]), status_port=int(sys.argv[2])).run())
"""


def test_kill_9_inside_the_commit_loses_and_doubles_nothing(tmp_path, daemons):
    strategies = [
        fake_strategy(f"s{i}", "flip", f"S{i}/USDT", interval_seconds=1) for i in range(3)
    ]
    cfg = write_config(tmp_path, strategies, interval_seconds=1)
    env = base_env(tmp_path)
    db = tmp_path / "state.db"
    for target, when in ((2, "after-writes"), (3, "before-writes"), (4, "after-writes")):
        proc = subprocess.run(
            [sys.executable, "-c", CRASH_HARNESS, str(cfg), str(free_port()), str(target), when],
            cwd=REPO,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert proc.returncode == -signal.SIGKILL, proc.stderr
        _book_is_consistent(db)
    d = daemons(cfg, env)
    final = d.wait_status(lambda s: done(s, 4))
    assert all(s["last_error"] == "" for s in final["strategies"].values())
    assert d.stop() == 0
    _book_is_consistent(db)
