"""Startup probe and single-instance lock."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import psutil
import pytest
from conftest import fake_strategy, write_config

from supervisor.run.probe import (
    ProbeFailure,
    ProbeRequest,
    probe_config,
    probe_jobs,
    probe_requests,
)
from supervisor.service.lock import AlreadyRunning, acquire_lock, lock_path_for

REPO_ROOT = Path(__file__).resolve().parents[1]

PROBE_SCRIPTS = {
    # A worker on shared_tools.worker: supports --batch --probe-only; logs each process.
    "batchable.py": """
        import os, sys
        sys.path.insert(0, @REPO@)
        from shared_tools.worker import ContractParser, UsageError, run_worker
        mode = "batch" if "--batch" in sys.argv else "single"
        with open(os.path.join(os.path.dirname(__file__), "runs.log"), "a") as f:
            f.write(mode + "\\n")
        p = ContractParser(prog="batchable.py")
        p.add_argument("strategy", nargs="?")
        def validate(ns):
            if not ns.strategy:
                raise UsageError("the following arguments are required: strategy")
        def prepare(ns):
            if ns.strategy not in ("momentum", "rsi"):
                raise ValueError(f"unknown strategy {ns.strategy!r}")
        sys.exit(run_worker(p, lambda ns, _: {}, validate=validate, prepare=prepare))
    """,
    # A plain argparse script without --batch: probed one argv at a time.
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
    # Hangs, leaving its pid in hang.<pid>.pid next to it.
    "hang.py": """
        import os, time
        here = os.path.dirname(os.path.abspath(__file__))
        open(os.path.join(here, f"hang.{os.getpid()}.pid"), "w").close()
        time.sleep(1000)
    """,
    "envcheck.py": """
        import os, sys
        print("mode is", os.environ.get("MODE"), "token", os.environ.get("STATUS_AUTH_TOKEN"))
        sys.exit(4)
    """,
}


@pytest.fixture
def root(tmp_path: Path) -> Path:
    for name, body in PROBE_SCRIPTS.items():
        body = textwrap.dedent(body).lstrip().replace("@REPO@", repr(str(REPO_ROOT)))
        (tmp_path / name).write_text(body)
    return tmp_path


def runs(root: Path) -> list[str]:
    log = root / "runs.log"
    return log.read_text().splitlines() if log.exists() else []


# --------------------------------------------------------------------------- probe


def test_probe_reports_every_failure_in_one_line_naming_the_strategies(root: Path) -> None:
    failures = probe_jobs(
        root,
        [
            ProbeRequest("batchable.py", ["momentum"], ["mom-btc"]),
            ProbeRequest("batchable.py", ["momentum"], ["mom-eth"]),  # same argv: probed once
            ProbeRequest("batchable.py", ["momentm"], ["typo"]),
            ProbeRequest("batchable.py", ["rsi", "--bogus"], ["flag"]),
            ProbeRequest("noisy.py", [], ["noisy"]),
            ProbeRequest("strict.py", ["BTC", "15m"], ["strict-a", "strict-b"]),
            ProbeRequest("strict.py", ["BTC", "1h"], ["strict-ok"]),
            ProbeRequest("check_gone.py", ["ETH"], ["gone"]),
            ProbeRequest("hang.py", ["x"], ["prices:luno"]),
        ],
        max_concurrent=2,
        timeout_s=3.0,  # a plain script probed singly must start within it on a loaded machine
    )
    lines = [f.line() for f in failures]
    assert lines[:3] == [
        "probe failed for strategy typo (batchable.py): unknown strategy 'momentm'",
        "probe failed for strategy flag (batchable.py): unrecognized arguments: --bogus",
        "probe failed for strategies strict-a, strict-b (strict.py): exited 2: "
        "argument interval: invalid choice: '15m' (choose from '1h', '4h')",
    ]
    assert (
        lines[3]
        == "probe failed for strategy gone (check_gone.py): script missing from deploy tree"
    )
    assert (
        lines[4]
        == "probe failed for prices:luno (hang.py): timed out after 5s in a batch of 1 probes"
    )
    assert len(lines) == 5 and all("\n" not in ln and "usage" not in ln for ln in lines)
    assert [f.kind for f in failures] == ["rejected", "rejected", "exit", "missing", "timeout"]
    assert runs(root) == ["batch", "batch"]  # 3 distinct argvs, 2 slots, no singles


def test_probe_uses_one_process_per_slot(root: Path) -> None:
    requests = [ProbeRequest("batchable.py", ["momentum", f"--x{i}"], [f"s{i}"]) for i in range(40)]
    (failure, *rest) = probe_jobs(root, requests, max_concurrent=2)
    assert len(rest) == 39 and failure.line().startswith("probe failed for strategy s0 ")
    assert runs(root) == ["batch", "batch"]  # not 40 processes
    ok = [ProbeRequest("batchable.py", [name], [name]) for name in ("momentum", "rsi")]
    assert probe_jobs(root, ok, max_concurrent=2) == []


def test_probe_deadline_covers_everything(root: Path) -> None:
    requests = [ProbeRequest("hang.py", [str(i)], [f"h{i}"]) for i in range(3)]
    requests.append(ProbeRequest("batchable.py", ["momentum"], ["late"]))
    failures = probe_jobs(root, requests, max_concurrent=1, timeout_s=30, deadline_s=2)
    # Every probe failed for the deadline, none for its 30 s timeout ...
    assert {f.line().split(": ", 1)[1] for f in failures} == {"probe deadline of 2s passed"}
    assert [f.ids for f in failures] == [["h0"], ["h1"], ["h2"], ["late"]]
    # ... and no hung probe outlived the deadline: what started was killed.
    pids = [int(p.name.split(".")[1]) for p in root.glob("hang.*.pid")]
    assert len(pids) <= 1  # one slot: nothing else got to start before the deadline
    for pid in pids:
        with contextlib.suppress(psutil.NoSuchProcess):
            assert psutil.Process(pid).status() == psutil.STATUS_ZOMBIE, pid


def test_probe_env_is_allowlisted_and_overlaid(root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STATUS_AUTH_TOKEN", "secret")
    (failure,) = probe_jobs(root, [ProbeRequest("envcheck.py", [], ["e"])], env={"MODE": "paper"})
    assert failure.exit_code == 4 and failure.kind == "exit"
    assert (
        failure.line()
        == "probe failed for strategy e (envcheck.py): exited 4: mode is paper token None"
    )


def test_probe_all_ok(root: Path) -> None:
    assert probe_jobs(root, [ProbeRequest("noisy.py", [], ["n"])]) == []
    assert probe_jobs(root, []) == []


def test_probe_failure_line_for_signal_and_many_ids() -> None:
    f = ProbeFailure("x.py", ["a b"], [], "killed by SIGKILL: no output", "exit", -9)
    assert f.line() == "probe failed for argv 'a b' (x.py): killed by SIGKILL: no output"
    many = ProbeFailure("x.py", [], [f"s{i}" for i in range(8)], "boom")
    assert many.line() == "probe failed for strategies s0, s1, s2, s3, s4 and 3 more (x.py): boom"


def test_probe_config_builds_requests_and_names_strategies(tmp_path: Path) -> None:
    from shared_tools.config.load import load_config

    real = "shared_scripts/check_strategy.py"
    strategies = [
        fake_strategy("a", "flip", "BTC/USDT"),
        fake_strategy("luno-b", "flip", "XBT/ZAR"),
        dict(fake_strategy("mom", "x"), script=real, args=["momentum", "BTC/USDT", "1h"]),
        dict(fake_strategy("typo", "x"), script=real, args=["momentm", "ETH/USDT", "1h"]),
    ]
    config = load_config(write_config(tmp_path, strategies))
    requests = probe_requests(config)
    prices = {tuple(r.ids): r.argv for r in requests if r.script.endswith("check_price.py")}
    assert prices == {
        ("prices:binanceus",): ["BTC/USDT", "ETH/USDT"],
        ("prices:luno",): ["XBT/ZAR", "--platform=luno"],
    }
    assert [r.ids for r in requests if r.script == real] == [["mom"], ["typo"]]
    (line,) = probe_config(config, deadline_s=60)
    assert line.startswith(f"probe failed for strategy typo ({real}): unknown strategy 'momentm'")


# --------------------------------------------------------------------------- lock

HOLDER = """
import sys, time
from supervisor.service.lock import acquire_lock
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
