"""Startup probe and single-instance lock."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from supervisor.lock import AlreadyRunning, acquire_lock, lock_path_for
from supervisor.probe import ProbeFailure, probe_scripts

REPO_ROOT = Path(__file__).resolve().parents[1]

PROBE_SCRIPTS = {
    "good.py": """
        import argparse, json, os
        with open(os.path.join(os.path.dirname(__file__), "runs.log"), "a") as f:
            f.write("good\\n")
        p = argparse.ArgumentParser(prog="good.py")
        p.add_argument("symbol")
        p.add_argument("--probe-only", action="store_true")
        a = p.parse_args()
        print(json.dumps({"ok": True}) if a.probe_only else "{}")
    """,
    "strict.py": """
        import argparse
        p = argparse.ArgumentParser(prog="strict.py")
        p.add_argument("symbol")
        p.add_argument("interval", choices=["1h", "4h"])
        p.add_argument("--probe-only", action="store_true")
        p.parse_args()
    """,
    "noisy.py": """
        # stdout content is not checked; exit 0 is a pass.
        print("not json at all")
    """,
    "hang.py": """
        import time
        time.sleep(1000)
    """,
}


@pytest.fixture
def root(tmp_path: Path) -> Path:
    for name, body in PROBE_SCRIPTS.items():
        (tmp_path / name).write_text(textwrap.dedent(body).lstrip())
    return tmp_path


# --------------------------------------------------------------------------- probe


def test_probe_reports_every_failure(root: Path) -> None:
    failures = probe_scripts(
        root,
        [
            ("good.py", ["BTC/USDT"]),
            ("good.py", ["BTC/USDT"]),  # duplicate: probed once
            ("noisy.py", []),
            ("strict.py", ["BTC", "15m"]),
            ("check_gone.py", ["ETH"]),
            ("hang.py", ["x"]),
        ],
        timeout_s=1.0,
    )
    assert (root / "runs.log").read_text().splitlines() == ["good"]
    by_script = {f.script: f for f in failures}
    assert list(by_script) == ["strict.py", "check_gone.py", "hang.py"]

    strict = by_script["strict.py"]
    assert strict.exit_code == 2 and strict.argv == ["BTC", "15m"]
    assert "invalid choice: '15m'" in strict.detail
    line = strict.line()
    assert line.startswith("probe failed: strict.py exited 2 (argv: BTC 15m): usage: strict.py")
    assert "\n" not in line

    gone = by_script["check_gone.py"]
    assert gone.line() == "probe failed: check_gone.py missing from deploy tree"
    assert gone.exit_code is None

    hang = by_script["hang.py"]
    assert hang.kind == "timeout"
    assert hang.line().startswith("probe failed: hang.py timed out (argv: x):")


def test_probe_all_ok(root: Path) -> None:
    assert probe_scripts(root, [("good.py", ["ETH"]), ("noisy.py", [])]) == []
    assert probe_scripts(root, []) == []


def test_probe_env_overlay_and_detail_falls_back_to_stdout(root: Path) -> None:
    (root / "envcheck.py").write_text(
        "import os, sys\nprint('mode is', os.environ.get('MODE'))\nsys.exit(4)\n"
    )
    (failure,) = probe_scripts(root, [("envcheck.py", [])], env={"MODE": "paper"})
    assert failure.exit_code == 4 and failure.detail == "mode is paper"
    assert failure.line() == "probe failed: envcheck.py exited 4 (argv: none): mode is paper"


def test_probe_failure_line_for_signal() -> None:
    f = ProbeFailure("x.py", ["a b"], -9, "", kind="exit")
    assert f.line() == "probe failed: x.py killed by SIGKILL (argv: 'a b'): no output"


# --------------------------------------------------------------------------- lock

HOLDER = """
import sys, time
from supervisor.lock import acquire_lock
handle = acquire_lock(sys.argv[1])
print("locked", flush=True)
time.sleep(1000)
"""


def start_holder(db: Path) -> subprocess.Popen:
    proc = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(db)],
        cwd=REPO_ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == "locked"
    return proc


def test_lock_held_by_another_process_then_freed_by_sigkill(tmp_path: Path) -> None:
    db = tmp_path / "state.db"
    holder = start_holder(db)
    try:
        with pytest.raises(AlreadyRunning) as info:
            acquire_lock(db)
        err = info.value
        assert err.pid == holder.pid
        assert err.lock_path == tmp_path.resolve() / "state.db.lock"
        assert str(holder.pid) in str(err) and str(err.lock_path) in str(err)
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait()
        assert holder.stdout is not None
        holder.stdout.close()

    with acquire_lock(db) as handle:
        assert handle.path == lock_path_for(db)
        assert handle.path.read_text().strip() == str(os.getpid())
    assert handle.path.exists()  # never unlinked


def test_lock_same_process_twice_and_release(tmp_path: Path) -> None:
    db = tmp_path / "state.db"
    first = acquire_lock(db)
    with pytest.raises(AlreadyRunning) as info:
        acquire_lock(db)
    assert info.value.pid == os.getpid()
    first.release()
    first.release()  # idempotent
    second = acquire_lock(db)
    second.release()


def test_lock_path_is_canonical(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    real = tmp_path / "data"
    real.mkdir()
    (tmp_path / "link").symlink_to(real)
    monkeypatch.chdir(tmp_path)
    with acquire_lock("data/bot.db"), pytest.raises(AlreadyRunning):
        acquire_lock(tmp_path / "link" / "bot.db")
