"""A stop at any point of start-up exits 0 and leaves the state DB alone.

The console script (``go-trader`` = ``supervisor_entry:main``) installs its SIGTERM/SIGINT
handlers before the slow imports and hands them over to the daemon, so a SIGTERM during the
imports, the config load or the probe is a clean exit (systemd logs no failure) and writes no
state. The only moment left uncovered is the interpreter's own start and its site imports
(tens of ms) before any code of ours runs: the 20 stops count from the moment the entry's
handler is in place (``SigCgt`` in /proc), and a spy shows that moment comes before the
``supervisor`` package (SQLAlchemy) starts loading.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from conftest import REPO, base_env, fake_strategy, free_port

import supervisor_entry

FAKES = Path(__file__).resolve().parent / "fakes"
GO_TRADER = Path(sys.executable).parent / "go-trader"  # the installed console script
POINTS = 20
WINDOW_S = 2.0  # the stops are spread over the first 2 s after the handler is in place
PROBE_SLEEP_S = "2.0"  # start-up outlasts the window: every stop lands inside it

needs_proc = pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="needs /proc")


def offline_config(run_dir: Path) -> Path:
    """examples/offline.json (simulated market) with its DB in ``run_dir``, plus one check whose
    start-up probe is slow, so start-up lasts past the window on any machine."""
    cfg = json.loads((REPO / "examples" / "offline.json").read_text())
    cfg["db_file"] = str(run_dir / "state.db")
    cfg.pop("status_port", None)
    slow = fake_strategy("slow-probe", "hold")
    slow["script"] = str(FAKES / "fake_answer.py")
    cfg["strategies"].append(slow)
    path = run_dir / "config.json"
    path.write_text(json.dumps(cfg, indent=2))
    return path


def catches_sigterm(pid: int) -> bool:
    """Whether the process has a handler for SIGTERM (its SigCgt mask in /proc)."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return False
    mask = next((ln.split()[1] for ln in status.splitlines() if ln.startswith("SigCgt:")), "0")
    return bool(int(mask, 16) & (1 << (signal.SIGTERM - 1)))


def snapshot(path: Path) -> tuple[bytes, int] | None:
    return (path.read_bytes(), path.stat().st_mtime_ns) if path.exists() else None


def make_state_db(path: Path) -> None:
    from supervisor.state.db import StateDB

    StateDB(path).close()


def start(cfg: Path, env: dict[str, str], log: Path) -> subprocess.Popen:
    with open(log, "w") as out:
        return subprocess.Popen(
            [str(GO_TRADER), "--config", str(cfg), "--status-port", str(free_port())],
            cwd=REPO,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def stop_at(proc: subprocess.Popen, delay_s: float) -> float:
    """SIGTERM ``delay_s`` after the handler is in place; the time it was sent at."""
    deadline = time.monotonic() + 30
    while not catches_sigterm(proc.pid):
        assert proc.poll() is None, f"exited {proc.returncode} before handling signals"
        assert time.monotonic() < deadline, "the handler never appeared"
        time.sleep(0.001)
    t0 = time.monotonic()
    time.sleep(max(0.0, t0 + delay_s - time.monotonic()))
    proc.send_signal(signal.SIGTERM)
    return time.monotonic() - t0


def wait_exit(proc: subprocess.Popen, timeout: float = 30) -> int:
    try:
        return proc.wait(timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        raise AssertionError(f"still running {timeout:g} s after SIGTERM") from None


def test_the_console_script_is_the_early_entry():
    assert GO_TRADER.exists(), f"{GO_TRADER} missing: run scripts/setup.sh"
    assert "supervisor_entry" in GO_TRADER.read_text(), "stale console script: re-run setup"


SPY = """
import importlib.abc, runpy, signal, sys
seen = []

class Spy(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name == "supervisor" and not seen:
            seen.append(signal.getsignal(signal.SIGTERM))
        return None

sys.meta_path.insert(0, Spy())
sys.argv = [sys.argv[1], "--version"]
try:
    runpy.run_path(sys.argv[0], run_name="__main__")
except SystemExit as exc:
    print(callable(seen[0]), exc.code)  # a Python handler, not SIG_DFL (which would kill)
"""


def test_the_handler_is_in_place_before_the_supervisor_package_loads():
    """The installed console script handles SIGTERM before the slow import starts (the test of
    the 20 stops counts from that moment, so this is what ties it to the process start)."""
    out = subprocess.run(
        [sys.executable, "-c", SPY, str(GO_TRADER)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.stdout.split()[-2:] == ["True", "0"], out.stdout + out.stderr


def test_the_entry_imports_nothing_heavy():
    code = (
        "import sys, supervisor_entry\n"
        "print(sorted(m for m in ('supervisor', 'sqlalchemy', 'click', 'pandas') "
        "if m in sys.modules))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=60
    )
    assert out.stdout.strip() == "[]", out.stderr


def one_start(run_dir: Path, delay_s: float, seed_db: Path | None) -> dict:
    """Start the CLI in ``run_dir`` (on a copy of ``seed_db``, else without a DB) and stop it
    ``delay_s`` into start-up; what came of it."""
    run_dir.mkdir()
    cfg = offline_config(run_dir)
    db = run_dir / "state.db"
    if seed_db is not None:
        db.write_bytes(seed_db.read_bytes())
    before = snapshot(db)
    env = base_env(run_dir, GO_TRADER_FAKE_PROBE_SLEEP=PROBE_SLEEP_S)
    proc = start(cfg, env, run_dir / "out.log")
    try:
        sent = stop_at(proc, delay_s)
        code = wait_exit(proc)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    return {
        "sent": round(sent, 3),
        "code": code,
        "out": (run_dir / "out.log").read_text(),
        "db_unchanged": snapshot(db) == before,
        "locked": (run_dir / "state.db.lock").exists(),  # the daemon got as far as the lock
    }


@needs_proc
def test_sigterm_at_20_points_of_start_up_exits_0_and_writes_no_state(tmp_path):
    assert GO_TRADER.exists(), f"{GO_TRADER} missing: run scripts/setup.sh"
    seed_db = tmp_path / "seed.db"
    make_state_db(seed_db)

    def run(i: int) -> dict:
        # every other run starts on an existing book: it must stay byte-identical
        return one_start(
            tmp_path / f"run{i}", i * WINDOW_S / (POINTS - 1), seed_db if i % 2 else None
        )

    with ThreadPoolExecutor(max_workers=2) as pool:  # two at a time: about half the wall time
        runs = list(pool.map(run, range(POINTS)))
    for r in runs:
        where = f"stop at {r['sent']:.3f} s"
        assert r["code"] == 0, f"{where}: exit {r['code']}\n{r['out']}"
        assert "Traceback" not in r["out"], r["out"]
        assert r["db_unchanged"], f"{where} changed the state DB\n{r['out']}"
        assert not r["locked"], f"{where} came after the lock: start-up was too short"
    assert runs[-1]["sent"] >= WINDOW_S - 0.05  # the last stop came late in the window


def test_a_stop_during_the_probe_reaches_the_daemon(tmp_path):
    """Past the hand-over the daemon's own handler answers: it logs the stop, exits 0."""
    cfg = offline_config(tmp_path)
    env = base_env(tmp_path, GO_TRADER_FAKE_PROBE_SLEEP="3")
    log = tmp_path / "out.log"
    proc = start(cfg, env, log)
    try:
        deadline = time.monotonic() + 60
        while "[status] http://" not in log.read_text():  # the server is up: the probe runs
            assert proc.poll() is None, log.read_text()
            assert time.monotonic() < deadline, log.read_text()
            time.sleep(0.02)
        proc.send_signal(signal.SIGTERM)
        code = wait_exit(proc)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    out = log.read_text()
    assert code == 0, out
    assert "[shutdown] SIGTERM" in out
    assert not (tmp_path / "state.db").exists()


# ---------------------------------------------------------------- EarlyStop in-process


SAVED: dict[int, object] = {}


@pytest.fixture
def early():
    SAVED.clear()
    SAVED.update({sig: signal.getsignal(sig) for sig in supervisor_entry.EARLY_SIGNALS})
    stop = supervisor_entry.EarlyStop()
    stop.install()
    yield stop
    for sig, handler in SAVED.items():
        signal.signal(sig, handler)


def test_an_early_stop_is_recorded_then_exits_0_at_the_hand_over(early):
    signal.raise_signal(signal.SIGTERM)
    assert early.pending == signal.SIGTERM
    with pytest.raises(SystemExit) as exc:
        early.hand_over(lambda *_: None, lambda *_: None)
    assert exc.value.code == 0


def test_after_the_hand_over_signals_reach_the_daemon(early):
    seen: list[tuple[str, int]] = []
    early.hand_over(lambda s, _f: seen.append(("stop", s)), lambda s, _f: seen.append(("hup", s)))
    signal.raise_signal(signal.SIGINT)
    signal.raise_signal(signal.SIGHUP)
    assert seen == [("stop", signal.SIGINT), ("hup", signal.SIGHUP)]
    assert early.pending is None


def test_an_early_sighup_is_harmless(early):
    signal.raise_signal(signal.SIGHUP)
    assert early.pending is None
    early.exit_if_stopped()  # no exit


def test_release_gives_subcommands_the_previous_handlers_back(early):
    assert signal.getsignal(signal.SIGTERM) != SAVED[signal.SIGTERM]  # the early one is in place
    early.release()
    for sig, handler in SAVED.items():
        assert signal.getsignal(sig) == handler


def test_release_after_an_early_stop_exits_0(early):
    signal.raise_signal(signal.SIGINT)
    with pytest.raises(SystemExit) as exc:
        early.release()
    assert exc.value.code == 0
    assert signal.getsignal(signal.SIGINT) == SAVED[signal.SIGINT]
