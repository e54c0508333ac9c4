"""Executor behaviour against small fake worker scripts written into tmp_path."""

from __future__ import annotations

import contextlib
import json
import os
import select
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import psutil
import pytest

from supervisor.run.executor import SHUTTING_DOWN, Executor
from supervisor.run.jobs import Job
from supervisor.run.output import decode_stream
from supervisor.run.process import child_env

REPO = Path(__file__).resolve().parents[1]

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
    # Takes 0.7 s per job, in batches too: a batch must get more than one job's timeout.
    "slowbatch.py": """
        import json, os, sys, time
        with open(os.path.join(os.path.dirname(__file__), "spawns.log"), "a") as f:
            f.write(" ".join(sys.argv[1:]) + "\\n")
        jobs = json.load(sys.stdin) if sys.argv[1:] == ["--batch"] else [{"args": sys.argv[1:]}]
        out = []
        for j in jobs:
            time.sleep(0.7)
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
    # A real worker built on shared_tools.worker (per-job timeout, streamed --batch, probe).
    "contract.py": """
        import os, sys, time
        sys.path.insert(0, @REPO@)
        from shared_tools.worker import ContractParser, UsageError, run_worker
        with open(os.path.join(os.path.dirname(__file__), "spawns.log"), "a") as f:
            f.write(" ".join(sys.argv[1:]) + "\\n")
        p = ContractParser(prog="contract.py")
        p.add_argument("what", nargs="?")  # optional, so that a bare --batch parses
        def validate(ns):
            if not ns.what:
                raise UsageError("the following arguments are required: what")
        def handle(ns, _stdin):
            if ns.what == "hang":
                time.sleep(1000)
            if ns.what == "noisy":
                print("a stray print")
            return {"what": ns.what}
        def prepare(ns):
            if ns.what == "bad":
                raise ValueError("unknown thing 'bad'")
        sys.exit(run_worker(p, handle, validate=validate, prepare=prepare))
    """,
    # Streams two results of its batch, then hangs; single runs answer at once.
    "stream.py": """
        import json, os, sys, time
        with open(os.path.join(os.path.dirname(__file__), "spawns.log"), "a") as f:
            f.write(" ".join(sys.argv[1:]) + "\\n")
        if sys.argv[1:] != ["--batch"]:
            print(json.dumps({"n": sys.argv[1]}))
            sys.exit(0)
        json.load(sys.stdin)
        sys.stdout.write('[{"n": "0"}, {"n": "1"}')
        sys.stdout.flush()
        time.sleep(1000)
    """,
    # Its batch mode takes a while and then crashes; single runs hang.
    "slowcrash.py": """
        import sys, time
        if sys.argv[1:] == ["--batch"]:
            time.sleep(2.5)
            sys.exit(1)
        time.sleep(1000)
    """,
    "dirty.py": """
        import sys
        sys.stderr.write("warming up\\n\\x00\\x1b[31mred alert\\x1b[0m\\x07 here\\x1b]0;title\\x07\\n")
        sys.exit(3)
    """,
    "env.py": """
        import json, os
        print(json.dumps(dict(os.environ)))
    """,
    # Writes its own pid, then hangs (no grandchild): for the parent-death test.
    "selfpid.py": """
        import os, sys, time
        with open(sys.argv[1] + ".tmp", "w") as f:
            f.write(str(os.getpid()))
        os.rename(sys.argv[1] + ".tmp", sys.argv[1])
        time.sleep(1000)
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
        body = textwrap.dedent(body).lstrip().replace("@REPO@", repr(str(REPO)))
        (tmp_path / name).write_text(body)
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
    # Cut off, not left to finish (exit 0): SIGKILLed, or dead of the pipe closed under it first.
    assert res.exit_code in (-signal.SIGKILL, 1), res
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
    ex = Executor(root, timeout_s=4, max_concurrent=6, batching=False)
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
    assert results["hang"].error == "timed out after 4s"
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
    # 3 x 1.5 s on one slot is past the 4.5 s timeout by construction (plus three interpreter
    # starts); each job alone leaves 3 s for its start, the run's 13.5 s deadline 1 s each.
    ex = Executor(root, max_concurrent=1, batching=False, timeout_s=4.5)
    results = ex.run([Job(f"j{i}", "conc.py", (str(marks), "1.5")) for i in range(3)])
    assert {k: r.error for k, r in results.items()} == {f"j{i}": None for i in range(3)}
    assert ex.stats.timeouts == 0 and ex.stats.spawned == 3


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
    ex = Executor(root, max_concurrent=3)  # 5 jobs on 3 slots: batches of 2 and 2, one single
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
    ex = Executor(root, max_concurrent=1, timeout_s=2.0)
    results = ex.run([Job(f"k{i}", "slowbatch.py", (f"S{i}",)) for i in range(4)])  # ~2.8 s
    assert all(r.ok and r.batched for r in results.values())
    assert spawn_lines(root) == ["--batch"] and ex.stats.batch_fallbacks == 0
    assert ex.stats.timeouts == 0
    assert ex.batch_deadline(4) == 10.0 and ex.batch_deadline(1) == 4.0  # n x timeout + 2 s
    assert ex.run_deadline(4) == 8.0 and ex.run_deadline(1) == 4.0
    assert Executor(root, max_concurrent=2, timeout_s=5).run_deadline(4) == 10.0


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
    results = ex.run([Job("hang", "hang.py", (str(pidfile),)), Job("quick", "ok.py")])
    t.join()
    assert results["hang"].error == SHUTTING_DOWN  # killed by the cancel, not the 30 s timeout
    assert results["hang"].exit_code == -signal.SIGKILL
    assert ex.stats.timeouts == 0 and ex.stats.killed >= 1
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
    ex = Executor(root, timeout_s=4, max_concurrent=4, batching=False)
    results = ex.run(
        [
            Job("ok", "ok.py", ("a",)),
            Job("leave", "leave.py", (str(tmp_path / "leave.pid"),)),
            Job("hang", "hang.py", (str(tmp_path / "hang.pid"),)),
            Job("big", "big.py"),
        ]
    )
    assert results["ok"].ok and results["leave"].ok
    assert results["hang"].error == "timed out after 4s"
    assert results["big"].error == "output exceeded 1048576 bytes"
    assert_dead(int((tmp_path / "leave.pid").read_text()))
    assert_dead(int((tmp_path / "hang.pid").read_text()))


# --------------------------------------------------------------------------- deadlines (12b, 15)


def test_one_hung_job_in_a_batch_costs_only_itself(root: Path) -> None:
    """The worker enforces the per-job timeout, so the batch answers the others itself."""
    ex = Executor(root, max_concurrent=1, timeout_s=2)
    jobs = [Job(f"k{i}", "contract.py", (what,)) for i, what in enumerate(["a", "hang", "b", "c"])]
    results = ex.run(jobs)
    assert results["k1"].error == "timed out after 2s"
    assert [results[k].data for k in ("k0", "k2", "k3")] == [{"what": w} for w in "abc"]
    assert all(r.batched for r in results.values())
    assert spawn_lines(root) == ["--batch"] and ex.stats.batch_fallbacks == 0
    # The batch answered for itself: it was neither killed by a limit nor re-run singly.
    assert ex.stats.timeouts == 0 and ex.stats.killed == 0 and ex.stats.singles == 0
    assert all(r.exit_code == 0 for r in results.values())


def test_hung_batches_are_not_rerun_and_keep_the_run_deadline(root: Path) -> None:
    """4 hung jobs on 2 slots: two batches, no singles after them, done by the deadline."""
    ex = Executor(root, max_concurrent=2, timeout_s=1.5)
    results = ex.run([Job(f"h{i}", "contract.py", ("hang",)) for i in range(4)])
    # Each job was timed out by its worker or cut by the run's 3 s deadline; none had the
    # batch's own 5 s limit.
    allowed = {"timed out after 1.5s", "cycle deadline of 3s passed"}
    assert {r.error for r in results.values()} <= allowed, results
    assert spawn_lines(root) == ["--batch", "--batch"]
    assert ex.stats.batch_fallbacks == 0 and ex.stats.singles == 0


def test_killed_batch_keeps_its_streamed_results(root: Path) -> None:
    ex = Executor(root, max_concurrent=1, timeout_s=1.5)
    results = ex.run([Job(f"k{i}", "stream.py", (str(i),)) for i in range(3)])
    assert results["k0"].data == {"n": "0"} and results["k1"].data == {"n": "1"}
    assert results["k0"].ok and results["k0"].batched
    assert results["k2"].error == "cycle deadline of 4.5s passed"  # 1.5 s x max(2, 3 jobs)
    assert spawn_lines(root) == ["--batch"]  # the unfinished job is not re-run


def test_killed_batch_names_its_own_limit(root: Path) -> None:
    ex = Executor(root, max_concurrent=1, timeout_s=0.5)
    results = ex.run([Job(f"k{i}", "stream.py", (str(i),)) for i in range(3)], deadline_s=60)
    assert [results[k].ok for k in ("k0", "k1")] == [True, True]
    assert results["k2"].error == "timed out after 3.5s in a batch of 3 jobs"  # 3 x 0.5 + 2


def test_deadline_override_bounds_waiting_and_running(root: Path, tmp_path: Path) -> None:
    ex = Executor(root, max_concurrent=2, timeout_s=60, batching=False)
    pids = [tmp_path / f"gc{i}.pid" for i in range(4)]
    results = ex.run(
        [Job(f"h{i}", "hang.py", (str(p),)) for i, p in enumerate(pids)], deadline_s=1.5
    )
    assert {r.error for r in results.values()} == {"cycle deadline of 1.5s passed"}
    assert ex.stats.spawned == 2  # the other two never got a slot in time
    # The two that ran were killed at the deadline, not left to their 60 s timeout.
    assert (
        sorted(r.exit_code for r in results.values() if r.exit_code is not None)
        == [-signal.SIGKILL] * 2
    )
    assert ex.stats.timeouts == 2
    for pid in pids:
        if pid.exists():
            assert_dead(int(pid.read_text()))


def test_fallback_after_a_failed_batch_stays_within_the_deadline(root: Path) -> None:
    """The batch crashes after 2.5 s of a 4 s budget; its singles only get what is left."""
    ex = Executor(root, max_concurrent=1, timeout_s=2)
    results = ex.run([Job("a", "slowcrash.py", ("A",)), Job("b", "slowcrash.py", ("B",))])
    # Not "timed out after 2s": the single that ran had only the rest of the deadline; the
    # other never got a process (the deadline had passed when the slot came free).
    assert {r.error for r in results.values()} == {"cycle deadline of 4s passed"}
    assert ex.stats.singles <= 1


def test_batches_are_sized_by_slots_not_capped(root: Path) -> None:
    ex = Executor(root, max_concurrent=2)
    results = ex.run([Job(f"k{i}", "batchy.py", (f"S{i}",)) for i in range(60)])
    assert all(r.ok and r.batched for r in results.values())
    assert spawn_lines(root) == ["--batch", "--batch"]  # 30 + 30, not 25 + 25 + 10


def test_decode_stream_recovers_the_finished_prefix() -> None:
    assert decode_stream(b'[{"a": 1}, {"b": 2}]\n') == ([{"a": 1}, {"b": 2}], True)
    assert decode_stream(b"[]") == ([], True)
    assert decode_stream(b'[{"a": 1}, {"b": 2}') == ([{"a": 1}, {"b": 2}], False)
    assert decode_stream(b'[{"a": 1}, {"b": ') == ([{"a": 1}], False)
    assert decode_stream(b'[{"a": 1}] trailing') == ([{"a": 1}], False)
    assert decode_stream(b"<html>") == ([], False)
    assert decode_stream(b"") == ([], False)


# --------------------------------------------------------------------------- worker side


def run_contract(
    root: Path, args: list[str], jobs: list, **env: str
) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(root / "contract.py"), *args],
        input=json.dumps(jobs),
        capture_output=True,
        text=True,
        timeout=60,
        env=child_env(env),
    )


def test_worker_batch_times_out_each_job_and_goes_on(root: Path) -> None:
    jobs = [{"args": ["a"]}, {"args": ["hang"]}, {"args": ["noisy"]}]
    proc = run_contract(root, ["--batch"], jobs, GO_TRADER_JOB_TIMEOUT="0.5")
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout) == [
        {"what": "a"},
        {"error": "timed out after 0.5s"},
        {"what": "noisy"},
    ]
    assert "a stray print" in proc.stderr  # moved off stdout, the array stays intact


def test_worker_batch_streams_each_result_as_it_finishes(root: Path) -> None:
    proc = subprocess.Popen(
        [sys.executable, str(root / "contract.py"), "--batch"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        env=child_env(),
    )
    assert proc.stdin is not None and proc.stdout is not None
    try:
        proc.stdin.write(json.dumps([{"args": ["a"]}, {"args": ["hang"]}]).encode())
        proc.stdin.close()
        seen = b""
        end = time.monotonic() + 30
        while b'{"what": "a"}' not in seen and time.monotonic() < end:
            ready, _, _ = select.select([proc.stdout], [], [], 1.0)
            if ready:
                seen += os.read(proc.stdout.fileno(), 4096)
        assert seen == b'[{"what": "a"}'  # written while the second job still runs
        assert proc.poll() is None
    finally:
        proc.kill()
        proc.wait()
        proc.stdout.close()


def test_worker_batch_probe_only_answers_per_job(root: Path) -> None:
    jobs = [
        {"args": ["a"]},
        {"args": ["bad"]},
        {"args": ["a", "--bogus"]},
        {"args": ["a", "--probe-only"]},
        {"args": []},
    ]
    proc = run_contract(root, ["--batch", "--probe-only"], jobs)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout) == [
        {"ok": True},
        {"error": "unknown thing 'bad'"},
        {"error": "unrecognized arguments: --bogus"},
        {"error": "--batch/--probe-only are not allowed inside a batch job"},
        {"error": "the following arguments are required: what"},
    ]
    assert "usage:" not in proc.stderr


# --------------------------------------------------------------------------- hygiene (2, 3, 13)


def test_stderr_is_cleaned_of_control_characters(root: Path) -> None:
    res = Executor(root).run_one(Job("s", "dirty.py"))
    assert res.error == "exit 3: red alert here"
    assert res.stderr_tail.startswith("warming up\n")
    assert not any(c in res.stderr_tail for c in "\x00\x1b\x07")


def test_workers_get_an_allowlisted_environment(
    root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("STATUS_AUTH_TOKEN", "DISCORD_BOT_TOKEN", "TELEGRAM_BOT_TOKEN", "FOO_RANDOM"):
        monkeypatch.setenv(name, "secret")
    monkeypatch.setenv("GO_TRADER_X", "1")
    monkeypatch.setenv("BINANCEUS_API_KEY", "k")
    monkeypatch.setenv("LC_TIME", "C")
    ex = Executor(root, env={"OVERLAY": "yes", "TELEGRAM_CHAT_ID": "x"})
    env = ex.run_one(Job("e", "env.py")).data
    assert isinstance(env, dict)
    for name in ("STATUS_AUTH_TOKEN", "DISCORD_BOT_TOKEN", "TELEGRAM_BOT_TOKEN", "FOO_RANDOM"):
        assert name not in env
    assert "TELEGRAM_CHAT_ID" not in env  # not even through the overlay
    assert env["GO_TRADER_X"] == "1" and env["PATH"] == os.environ["PATH"]
    assert env["BINANCEUS_API_KEY"] == "k" and env["LC_TIME"] == "C"
    assert env["OVERLAY"] == "yes"
    batched = ex.run([Job("a", "env.py"), Job("b", "env.py")])  # batches get the same rule
    assert "STATUS_AUTH_TOKEN" not in json.dumps([r.data for r in batched.values()])


def test_child_env_rule() -> None:
    base = {"PATH": "/bin", "https_proxy": "p", "OKX_SECRET": "s", "DISCORD_WEBHOOK": "w"}
    assert child_env({"GO_TRADER_MARKET_DATA": "simulated"}, base) == {
        "PATH": "/bin",
        "https_proxy": "p",
        "OKX_SECRET": "s",
        "GO_TRADER_MARKET_DATA": "simulated",
    }


HARNESS = """
import sys
sys.path.insert(0, sys.argv[1])
from supervisor.run.executor import Executor
from supervisor.run.jobs import Job
Executor(sys.argv[2], timeout_s=120).run([Job("h", "selfpid.py", (sys.argv[3],))])
"""


def test_workers_die_with_the_supervisor(root: Path, tmp_path: Path) -> None:
    pidfile = tmp_path / "worker.pid"
    harness = subprocess.Popen([sys.executable, "-c", HARNESS, str(REPO), str(root), str(pidfile)])
    worker = None
    try:
        wait_for_file(pidfile, within_s=30)
        worker = int(pidfile.read_text())
        assert psutil.pid_exists(worker)
        harness.send_signal(signal.SIGKILL)
        harness.wait()
        assert_dead(worker, within_s=5)
    finally:
        if harness.poll() is None:
            harness.kill()
            harness.wait()
        if worker is not None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(worker, signal.SIGKILL)


def test_signal_checks_of_every_venue_share_one_host_per_slot() -> None:
    from conftest import REPO

    from shared_tools.check_argv import BATCH_HOST

    ex = Executor(REPO, max_concurrent=2)
    scripts = ["check_hyperliquid.py", "check_okx.py", "check_topstep.py", "check_strategy.py"]
    jobs = [Job(f"s{i}", f"shared_scripts/{s}", ("x",)) for i, s in enumerate(scripts * 2)]
    jobs.append(Job("p1", "shared_scripts/check_price.py", ("BTC",)))
    jobs.append(Job("p2", "shared_scripts/check_price.py", ("ES", "--platform=topstep")))
    units = ex._plan(jobs)
    hosts = [u for u in units if getattr(u, "script", None) == BATCH_HOST and hasattr(u, "jobs")]
    assert len(hosts) == 2 and sum(len(u.jobs) for u in hosts) == 8  # two slots, not 4 scripts
    hosted = {j.key for u in hosts for j in u.jobs}
    assert not hosted & {"p1", "p2"}  # other scripts keep their own units
