"""Executor behaviour against small fake worker scripts written into tmp_path."""

from __future__ import annotations

import json
import os
import signal
import textwrap
import threading
import time
from pathlib import Path

import psutil
import pytest

from supervisor.executor import SHUTTING_DOWN, Executor, Job

SCRIPTS = {
    # Echoes its argv/stdin/env; supports neither --batch nor anything else.
    "ok.py": """
        import json, os, sys
        raw = sys.stdin.read()
        print(json.dumps({"args": sys.argv[1:], "stdin": raw or None,
                          "foo": os.environ.get("FOO")}))
    """,
    "soft.py": """
        import json, sys
        print("about to fail", file=sys.stderr)
        print(json.dumps({"error": "exchange said no\\nsecond line"}))
        sys.exit(int(sys.argv[1]) if len(sys.argv) > 1 else 1)
    """,
    "exit3.py": """
        import sys
        print("warming up", file=sys.stderr)
        print("RuntimeError: disk on fire", file=sys.stderr)
        sys.exit(3)
    """,
    "usage.py": """
        import argparse, json
        p = argparse.ArgumentParser(prog="usage.py")
        p.add_argument("symbol")
        p.add_argument("--interval", type=int, required=True)
        a = p.parse_args()
        print(json.dumps({"symbol": a.symbol}))
    """,
    "garbage.py": """
        print("this is not json {")
    """,
    "big.py": """
        import sys
        chunk = "x" * 65536
        for _ in range(80):  # ~5 MB
            sys.stdout.write(chunk)
        sys.stdout.flush()
    """,
    # Spawns a grandchild, records its pid, then hangs.
    "hang.py": """
        import subprocess, sys, time
        child = subprocess.Popen(["sleep", "1000"])
        with open(sys.argv[1], "w") as f:
            f.write(str(child.pid))
        time.sleep(1000)
    """,
    # Leaves a grandchild holding stdout open, answers, exits.
    "leave.py": """
        import json, subprocess, sys
        child = subprocess.Popen(["sleep", "1000"])
        with open(sys.argv[1], "w") as f:
            f.write(str(child.pid))
        print(json.dumps({"child": child.pid}), flush=True)
    """,
    # Records its running interval for the concurrency check.
    "conc.py": """
        import json, os, sys, time
        start = time.time()
        time.sleep(float(sys.argv[2]))
        end = time.time()
        with open(os.path.join(sys.argv[1], f"{os.getpid()}.json"), "w") as f:
            json.dump([start, end], f)
        print(json.dumps({"slept": float(sys.argv[2])}))
    """,
    # Proper --batch support; each process appends one line to spawns.log.
    # Takes 0.4 s per job, in batches too: a batch must get more than one job's timeout.
    "slowbatch.py": """
        import json, os, sys, time
        with open(os.path.join(os.path.dirname(__file__), "spawns.log"), "a") as f:
            f.write(" ".join(sys.argv[1:]) + "\\n")
        jobs = json.load(sys.stdin) if sys.argv[1:] == ["--batch"] else [{"args": sys.argv[1:]}]
        out = []
        for j in jobs:
            time.sleep(0.4)
            out.append({"args": j["args"]})
        print(json.dumps(out if sys.argv[1:] == ["--batch"] else out[0]))
    """,
    "batchy.py": """
        import json, os, sys
        with open(os.path.join(os.path.dirname(__file__), "spawns.log"), "a") as f:
            f.write(" ".join(sys.argv[1:]) + "\\n")
        def one(args, stdin):
            if args and args[0] == "fail":
                return {"error": "no data for " + args[1]}
            return {"args": args, "stdin": stdin}
        if sys.argv[1:] == ["--batch"]:
            jobs = json.load(sys.stdin)
            print(json.dumps([one(j["args"], j.get("stdin")) for j in jobs]))
        else:
            raw = sys.stdin.read()
            out = one(sys.argv[1:], json.loads(raw) if raw else None)
            print(json.dumps(out))
            sys.exit(1 if "error" in out else 0)
    """,
    # --batch mode misbehaves according to BATCH_MODE; single mode is fine.
    "badbatch.py": """
        import json, os, sys
        with open(os.path.join(os.path.dirname(__file__), "spawns.log"), "a") as f:
            f.write(" ".join(sys.argv[1:]) + "\\n")
        if sys.argv[1:] == ["--batch"]:
            mode = os.environ["BATCH_MODE"]
            jobs = json.load(sys.stdin)
            if mode == "garbage":
                print("<html>oops</html>")
            elif mode == "short":
                print(json.dumps([{"ok": 1}] * (len(jobs) - 1)))
            elif mode == "crash":
                print("Traceback: boom", file=sys.stderr)
                sys.exit(1)
            elif mode == "reject":
                print("usage: badbatch.py SYMBOL", file=sys.stderr)
                sys.exit(2)
            sys.exit(0)
        if sys.argv[1] == "fail":
            print(json.dumps({"error": "bad symbol " + sys.argv[2]}))
            sys.exit(1)
        print(json.dumps({"symbol": sys.argv[1]}))
    """,
    # Side-effect worker: announces start, takes a while, then confirms.
    "side.py": """
        import json, sys, time
        open(sys.argv[1], "w").close()
        time.sleep(float(sys.argv[2]))
        print(json.dumps({"placed": True}))
    """,
}


@pytest.fixture
def root(tmp_path: Path) -> Path:
    for name, body in SCRIPTS.items():
        (tmp_path / name).write_text(textwrap.dedent(body).lstrip())
    return tmp_path


def spawn_lines(root: Path) -> list[str]:
    log = root / "spawns.log"
    return log.read_text().splitlines() if log.exists() else []


def assert_dead(pid: int, within_s: float = 3.0) -> None:
    """The pid is gone or a zombie awaiting its (new) parent's reaping."""
    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline:
        try:
            if psutil.Process(pid).status() == psutil.STATUS_ZOMBIE:
                return
        except psutil.NoSuchProcess:
            return
        time.sleep(0.05)
    pytest.fail(f"process {pid} still alive")


def wait_for_file(path: Path, within_s: float = 10.0) -> None:
    deadline = time.monotonic() + within_s
    while not path.exists():
        assert time.monotonic() < deadline, f"{path} never appeared"
        time.sleep(0.02)


# --------------------------------------------------------------------------- single runs


def test_ok_json_args_stdin_env(root: Path) -> None:
    ex = Executor(root, env={"FOO": "bar"})
    res = ex.run_one(Job("s1", "ok.py", ("BTC/USDT", "1h"), stdin='{"pos": []}'))
    assert res.ok, res.error
    assert res.data == {"args": ["BTC/USDT", "1h"], "stdin": '{"pos": []}', "foo": "bar"}
    assert res.exit_code == 0 and not res.batched and res.duration_s > 0


def test_large_stdin_does_not_deadlock(root: Path) -> None:
    payload = json.dumps({"blob": "y" * 2_000_000})
    ex = Executor(root, timeout_s=10, max_output_bytes=8 << 20)
    res = ex.run_one(Job("s", "ok.py", stdin=payload))
    assert res.ok and res.data is not None and res.data["stdin"] == payload


@pytest.mark.parametrize("code", ["1", "0"])
def test_json_error_is_soft_error_whatever_the_exit_code(root: Path, code: str) -> None:
    res = Executor(root).run_one(Job("s", "soft.py", (code,)))
    assert res.error == "exchange said no second line"
    assert res.exit_code == int(code)
    assert res.data == {"error": "exchange said no\nsecond line"}
    assert "about to fail" in res.stderr_tail


def test_exit_3_without_json(root: Path) -> None:
    res = Executor(root).run_one(Job("s", "exit3.py"))
    assert res.error == "exit 3: RuntimeError: disk on fire"
    assert res.exit_code == 3 and res.data is None
    assert "warming up" in res.stderr_tail


def test_exit_2_usage(root: Path) -> None:
    res = Executor(root).run_one(Job("s", "usage.py", ("BTC",)))
    assert res.exit_code == 2
    assert res.error is not None and res.error.startswith("exit 2: usage.py: error:")
    assert "--interval" in res.error


def test_garbage_stdout(root: Path) -> None:
    res = Executor(root).run_one(Job("s", "garbage.py"))
    assert res.error == "unparsable output: this is not json {"
    assert res.exit_code == 0 and res.data is None


def test_missing_script_does_not_spawn(root: Path) -> None:
    ex = Executor(root)
    res = ex.run_one(Job("s", "nope.py"))
    assert res.error == "script not found: nope.py"
    assert ex.stats.spawned == 0


def test_huge_stdout_is_contained(root: Path) -> None:
    ex = Executor(root, timeout_s=20)
    res = ex.run_one(Job("s", "big.py"))
    assert res.error == "output exceeded 1048576 bytes"
    assert res.data is None
    assert res.exit_code == -signal.SIGKILL  # killed, not left to finish
    assert ex.stats.output_overflows == 1


def test_hang_times_out_and_grandchild_dies(root: Path, tmp_path: Path) -> None:
    pidfile = tmp_path / "grandchild.pid"
    ex = Executor(root, timeout_s=1.5)
    res = ex.run_one(Job("s", "hang.py", (str(pidfile),)))
    assert res.error == "timed out after 1.5s"
    assert res.exit_code == -signal.SIGKILL
    assert_dead(int(pidfile.read_text()))
    assert ex.stats.timeouts == 1


def test_run_one_timeout_override(root: Path, tmp_path: Path) -> None:
    pidfile = tmp_path / "gc.pid"
    res = Executor(root, timeout_s=30).run_one(Job("s", "hang.py", (str(pidfile),)), timeout_s=1)
    assert res.error == "timed out after 1s"
    assert_dead(int(pidfile.read_text()))


def test_grandchild_holding_stdout_does_not_stall_and_is_reaped(root: Path, tmp_path: Path) -> None:
    pidfile = tmp_path / "gc.pid"
    res = Executor(root, timeout_s=10).run_one(Job("s", "leave.py", (str(pidfile),)))
    assert res.ok, res.error
    assert res.data == {"child": int(pidfile.read_text())}
    assert_dead(int(pidfile.read_text()))


# --------------------------------------------------------------------------- run()


def test_mixed_run_isolates_failures(root: Path, tmp_path: Path) -> None:
    pidfile = tmp_path / "gc.pid"
    ex = Executor(root, timeout_s=1.5, max_concurrent=6, batching=False)
    jobs = [
        Job("hang", "hang.py", (str(pidfile),)),
        Job("good1", "ok.py", ("a",)),
        Job("garbage", "garbage.py"),
        Job("good2", "ok.py", ("b",)),
        Job("exit3", "exit3.py"),
        Job("good3", "ok.py", ("c",)),
    ]
    results = ex.run(jobs)
    assert list(results) == [j.key for j in jobs]
    for key, arg in (("good1", "a"), ("good2", "b"), ("good3", "c")):
        assert results[key].ok and results[key].data["args"] == [arg]
    assert results["hang"].error == "timed out after 1.5s"
    assert results["garbage"].error is not None
    assert results["garbage"].error.startswith("unparsable output:")
    assert results["exit3"].error == "exit 3: RuntimeError: disk on fire"
    assert_dead(int(pidfile.read_text()))


def test_duplicate_keys_rejected(root: Path) -> None:
    with pytest.raises(ValueError, match="duplicate"):
        Executor(root).run([Job("a", "ok.py"), Job("a", "ok.py")])


def test_empty_run(root: Path) -> None:
    assert Executor(root).run([]) == {}


def max_overlap(intervals: list[tuple[float, float]]) -> int:
    events = sorted([(s, 1) for s, _ in intervals] + [(e, -1) for _, e in intervals])
    cur = best = 0
    for _, delta in events:  # ends sort before starts at equal times
        cur += delta
        best = max(best, cur)
    return best


def test_concurrency_bound(root: Path, tmp_path: Path) -> None:
    marks = tmp_path / "marks"
    marks.mkdir()
    ex = Executor(root, max_concurrent=2, batching=False, timeout_s=20)
    jobs = [Job(f"j{i}", "conc.py", (str(marks), "0.3")) for i in range(6)]
    results = ex.run(jobs)
    assert all(r.ok for r in results.values())
    intervals = [tuple(json.loads(p.read_text())) for p in marks.iterdir()]
    assert len(intervals) == 6
    assert max_overlap(intervals) <= 2
    assert ex.stats.spawned == 6


def test_waiting_for_a_slot_does_not_count_against_timeout(root: Path, tmp_path: Path) -> None:
    marks = tmp_path / "marks"
    marks.mkdir()
    ex = Executor(root, max_concurrent=1, batching=False, timeout_s=1.2)
    results = ex.run([Job(f"j{i}", "conc.py", (str(marks), "0.5")) for i in range(3)])
    assert {k: r.error for k, r in results.items()} == {"j0": None, "j1": None, "j2": None}


# --------------------------------------------------------------------------- batching


def test_batch_uses_one_process_and_keeps_order(root: Path) -> None:
    ex = Executor(root, max_concurrent=1)
    jobs = [
        Job("a", "batchy.py", ("BTC", "1h")),
        Job("b", "batchy.py", ("fail", "DOGE")),
        Job("c", "batchy.py", ("ETH",), stdin='{"positions": [1, 2]}'),
        Job("d", "batchy.py", ("SOL",)),
    ]
    results = ex.run(jobs)
    assert spawn_lines(root) == ["--batch"]
    assert list(results) == ["a", "b", "c", "d"]
    assert results["a"].data == {"args": ["BTC", "1h"], "stdin": None}
    assert results["b"].error == "no data for DOGE"
    assert results["c"].data == {"args": ["ETH"], "stdin": {"positions": [1, 2]}}
    assert results["d"].ok
    assert all(r.batched and r.exit_code == 0 for r in results.values())
    snap = ex.stats.snapshot()
    assert snap["spawned"] == 1 and snap["batches"] == 1 and snap["batched_jobs"] == 4


def test_batch_chunks_and_lone_jobs_run_singly(root: Path) -> None:
    ex = Executor(root, max_batch_size=2)
    jobs = [Job(f"k{i}", "batchy.py", (f"S{i}",)) for i in range(5)]
    jobs.append(Job("other", "ok.py", ("x",)))  # only job of its script: single
    jobs.append(Job("live", "batchy.py", ("LIVE",), side_effect=True))  # never batched
    results = ex.run(jobs)
    assert all(r.ok for r in results.values()), {k: r.error for k, r in results.items()}
    assert sorted(spawn_lines(root)) == ["--batch", "--batch", "LIVE", "S4"]
    assert [results[f"k{i}"].batched for i in range(5)] == [True] * 4 + [False]
    assert not results["live"].batched and not results["other"].batched
    assert ex.stats.spawned == 5


def test_non_json_stdin_job_is_not_batched(root: Path) -> None:
    ex = Executor(root)
    results = ex.run(
        [Job("a", "ok.py", ("1",), stdin="not json"), Job("b", "ok.py", ("2",), stdin="not json")]
    )
    assert results["a"].data["stdin"] == "not json" and not results["a"].batched
    assert ex.stats.batches == 0 and ex.stats.spawned == 2


@pytest.mark.parametrize("mode", ["garbage", "short", "crash", "reject"])
def test_failed_batch_falls_back_to_singles(root: Path, mode: str) -> None:
    ex = Executor(root, env={"BATCH_MODE": mode}, max_concurrent=1)
    jobs = [
        Job("a", "badbatch.py", ("BTC",)),
        Job("b", "badbatch.py", ("fail", "XYZ")),
        Job("c", "badbatch.py", ("ETH",)),
    ]
    results = ex.run(jobs)
    assert list(results) == ["a", "b", "c"]
    assert results["a"].data == {"symbol": "BTC"} and results["a"].ok
    assert results["b"].error == "bad symbol XYZ" and results["b"].exit_code == 1
    assert results["c"].data == {"symbol": "ETH"}
    assert not any(r.batched for r in results.values())
    assert spawn_lines(root)[0] == "--batch"
    assert sorted(spawn_lines(root)[1:]) == ["BTC", "ETH", "fail XYZ"]
    assert ex.stats.batch_fallbacks == 1

    # A script that rejects --batch outright is not offered a batch again.
    ex.run([Job("d", "badbatch.py", ("D",)), Job("e", "badbatch.py", ("E",))])
    assert spawn_lines(root).count("--batch") == (1 if mode == "reject" else 2)


def test_batches_are_spread_over_the_concurrency_slots(root: Path) -> None:
    ex = Executor(root, max_concurrent=2)
    results = ex.run([Job(f"k{i}", "batchy.py", (f"S{i}",)) for i in range(5)])
    assert all(r.ok and r.batched for r in results.values())
    assert spawn_lines(root) == ["--batch", "--batch"]  # 3 + 2 jobs, one process per core


def test_batch_deadline_scales_with_its_size(root: Path) -> None:
    ex = Executor(root, max_concurrent=1, timeout_s=1.0)
    results = ex.run([Job(f"k{i}", "slowbatch.py", (f"S{i}",)) for i in range(4)])  # ~1.6 s
    assert all(r.ok and r.batched for r in results.values())
    assert spawn_lines(root) == ["--batch"] and ex.stats.batch_fallbacks == 0
    assert ex.batch_deadline(4) == 3.0 and ex.batch_deadline(1) == 1.0


def test_batching_off_spawns_one_process_per_job(root: Path) -> None:
    ex = Executor(root, batching=False)
    results = ex.run([Job(f"k{i}", "batchy.py", (f"S{i}",)) for i in range(4)])
    assert all(r.ok and not r.batched for r in results.values())
    assert len(spawn_lines(root)) == 4 and "--batch" not in spawn_lines(root)


# --------------------------------------------------------------------------- shutdown


def test_cancel_read_only_from_another_thread(root: Path, tmp_path: Path) -> None:
    pidfile = tmp_path / "gc.pid"
    ex = Executor(root, timeout_s=30)

    def cancel_when_started() -> None:
        wait_for_file(pidfile)
        ex.cancel_read_only()

    t = threading.Thread(target=cancel_when_started)
    t.start()
    started = time.monotonic()
    results = ex.run([Job("hang", "hang.py", (str(pidfile),)), Job("quick", "ok.py")])
    t.join()
    assert results["hang"].error == SHUTTING_DOWN
    assert time.monotonic() - started < 15  # not the 30 s timeout
    # The quick job either finished before the cancel or was killed by it.
    assert results["quick"].ok or results["quick"].error == SHUTTING_DOWN
    assert_dead(int(pidfile.read_text()))

    spawned = ex.stats.spawned
    later = ex.run([Job("x", "ok.py"), Job("y", "ok.py", side_effect=True)])
    assert {r.error for r in later.values()} == {SHUTTING_DOWN}
    assert ex.run_one(Job("z", "ok.py")).error == SHUTTING_DOWN
    assert ex.stats.spawned == spawned


def test_cancel_read_only_from_a_signal_handler(root: Path, tmp_path: Path) -> None:
    pidfile = tmp_path / "gc.pid"
    ex = Executor(root, timeout_s=30)
    old = signal.signal(signal.SIGUSR1, lambda *_: ex.cancel_read_only())
    try:

        def send() -> None:
            wait_for_file(pidfile)
            os.kill(os.getpid(), signal.SIGUSR1)

        t = threading.Thread(target=send)
        t.start()
        res = ex.run([Job("hang", "hang.py", (str(pidfile),))])["hang"]
        t.join()
    finally:
        signal.signal(signal.SIGUSR1, old)
    assert res.error == SHUTTING_DOWN
    assert_dead(int(pidfile.read_text()))


def test_side_effect_survives_cancel_and_drain_waits(root: Path, tmp_path: Path) -> None:
    started = tmp_path / "started"
    ex = Executor(root, timeout_s=30)
    box: dict = {}
    t = threading.Thread(
        target=lambda: box.update(
            ex.run(
                [
                    Job("order", "side.py", (str(started), "1.0"), side_effect=True),
                    Job("hang", "hang.py", (str(tmp_path / "gc.pid"),)),
                ]
            )
        )
    )
    t.start()
    wait_for_file(started)
    wait_for_file(tmp_path / "gc.pid")
    ex.cancel_read_only()
    ex.drain(timeout_s=20)
    t.join(timeout=20)
    assert box["order"].ok and box["order"].data == {"placed": True}
    assert box["hang"].error == SHUTTING_DOWN


def test_drain_kills_side_effect_at_cap(root: Path, tmp_path: Path) -> None:
    started = tmp_path / "started"
    ex = Executor(root, timeout_s=60)
    box: dict = {}
    t = threading.Thread(
        target=lambda: box.update(
            ex.run([Job("order", "side.py", (str(started), "100"), side_effect=True)])
        )
    )
    t.start()
    wait_for_file(started)
    ex.cancel_read_only()
    ex.drain(timeout_s=0.5)
    t.join(timeout=10)
    assert not t.is_alive()
    assert box["order"].error == "killed after drain timeout (0.5s)"


def test_without_pidfd(root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The polling path used where os.pidfd_open is missing (macOS, old kernels)."""
    monkeypatch.delattr(os, "pidfd_open", raising=False)
    ex = Executor(root, timeout_s=1.5, max_concurrent=4, batching=False)
    results = ex.run(
        [
            Job("ok", "ok.py", ("a",)),
            Job("leave", "leave.py", (str(tmp_path / "leave.pid"),)),
            Job("hang", "hang.py", (str(tmp_path / "hang.pid"),)),
            Job("big", "big.py"),
        ]
    )
    assert results["ok"].ok and results["leave"].ok
    assert results["hang"].error == "timed out after 1.5s"
    assert results["big"].error == "output exceeded 1048576 bytes"
    assert_dead(int((tmp_path / "leave.pid").read_text()))
    assert_dead(int((tmp_path / "hang.pid").read_text()))
