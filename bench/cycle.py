"""One supervisor cycle of the 14-strategy offline config: time, CPU, memory, batching on/off;
the same for the 10-strategy perps/futures example (five venue scripts, five mark venues);
then a real daemon: cold start to /health 200 (14 and 34 strategies) and its idle RSS after two
cycles and one /status.

    .venv/bin/python bench/cycle.py [--runs 5]

This process IS the supervisor (it imports only supervisor/), so its RSS after a cycle is the
supervisor's idle RSS. A sampler thread sums the RSS of this process and all its children every
10 ms for the process-tree peak. Each run starts from a fresh state DB; medians are printed.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import psutil

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from shared_tools.config.load import load_config  # noqa: E402
from supervisor.daemon import Supervisor  # noqa: E402

HEAVY = ("pandas", "numpy", "scipy", "ccxt")


class TreeSampler:
    def __init__(self) -> None:
        self.me = psutil.Process()
        self.peak = 0
        self._stop = threading.Event()
        self._t = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            total = 0
            for p in [self.me, *self.me.children(recursive=True)]:
                with contextlib.suppress(psutil.Error):
                    total += p.memory_info().rss
            self.peak = max(self.peak, total)
            time.sleep(0.01)

    def __enter__(self) -> TreeSampler:
        self._t.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._t.join()


PERPS_NOW = "2026-11-19T17:00:00Z"  # a weekday inside CME hours, so TopStep fetches candles


def one_cycle(batching: bool, workdir: Path, example: str = "offline.json") -> dict:
    config = load_config(REPO / "examples" / example)
    config.db_file = workdir / f"bench-{time.time_ns()}.db"
    config.batch_checks = batching
    sup = Supervisor(config, once=True, out=open(os.devnull, "w"))  # noqa: SIM115
    assert sup.start() == 0
    c0 = os.times()
    with TreeSampler() as sampler:
        t0 = time.perf_counter()
        report = sup.run_cycle(config.strategies)
        wall = time.perf_counter() - t0
    c1 = os.times()
    sup.shutdown()
    errors = [o.error for o in report.outcomes if o.error]
    if errors:
        raise SystemExit(f"cycle had errors: {errors[:3]}")
    cpu = sum(c1[i] - c0[i] for i in range(4))  # user+sys, self+children
    return {
        "wall": wall,
        "cpu": cpu,
        "peak_mb": sampler.peak / 2**20,
        "spawned": sup.executor.stats,
    }


def _config(workdir: Path, n: int, interval: int) -> Path:
    """examples/offline.json grown to ``n`` strategies (parameter variants of the 14)."""
    cfg = json.loads((REPO / "examples" / "offline.json").read_text())
    base = cfg["strategies"]
    strategies = []
    for i in range(n):
        entry = dict(base[i % len(base)])
        entry["id"] = f"{entry['id']}-{i}"
        entry["interval_seconds"] = interval
        strategies.append(entry)
    cfg.update(strategies=strategies, interval_seconds=interval)
    cfg["db_file"] = str(workdir / f"daemon-{n}-{time.time_ns()}.db")
    path = workdir / f"daemon-{n}.json"
    path.write_text(json.dumps(cfg))
    return path


TOKEN = "bench-token"  # the daemon always requires one (supervisor/http/token.py)


def _get(port: int, path: str) -> tuple[int, dict]:
    req = urllib.request.Request(
        f"http://127.0.0.1:{port}{path}", headers={"Authorization": f"Bearer {TOKEN}"}
    )
    try:
        with urllib.request.urlopen(req, timeout=5) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as exc:
        return exc.code, {}


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def daemon_run(workdir: Path, n: int, cycles: int) -> dict:
    """Launch a real daemon: seconds to /health 200, then RSS once ``cycles`` cycles are done."""
    port = _free_port()
    cfg = _config(workdir, n, interval=5)
    env = {**os.environ, "GO_TRADER_OHLCV_CACHE": str(workdir / "ohlcv.db")}
    env["STATUS_AUTH_TOKEN"] = TOKEN
    env.pop("GO_TRADER_NOW", None)  # a pinned clock is frozen time: the daemon would cycle once
    t0 = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, "-m", "supervisor.cli", "--config", str(cfg), "--status-port", str(port)],
        cwd=REPO,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    out: dict = {}
    try:
        while True:
            with contextlib.suppress(OSError, ValueError):
                if _get(port, "/health")[0] == 200:
                    break
            if proc.poll() is not None or time.perf_counter() - t0 > 120:
                raise SystemExit(f"daemon did not come up (exit {proc.returncode})")
            time.sleep(0.02)
        out["cold_start"] = time.perf_counter() - t0
        while cycles:
            code, body = _get(port, "/status")
            if code == 200 and body["cycle_count"] >= cycles and not body["cycle_in_progress"]:
                break
            time.sleep(0.2)
        time.sleep(0.5)
        out["idle_rss"] = _rss_mib(proc.pid)
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(30)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=5)
    n = ap.parse_args().runs
    os.environ.setdefault("GO_TRADER_NOW", "2025-06-01T12:00:00Z")
    workdir = Path(tempfile.mkdtemp(prefix="go-trader-bench-"))
    print(
        f"python {sys.version.split()[0]}, {os.cpu_count()} CPUs, median of {n} runs, 14 strategies"
    )
    one_cycle(True, workdir)  # warm the page cache
    results = {}
    for batching in (True, False):
        runs = [one_cycle(batching, workdir) for _ in range(n)]
        results[batching] = {
            k: statistics.median(r[k] for r in runs) for k in ("wall", "cpu", "peak_mb")
        }
        snap = runs[-1]["spawned"].snapshot() if hasattr(runs[-1]["spawned"], "snapshot") else {}
        label = "batching on " if batching else "batching off"
        r = results[batching]
        print(
            f"{label}: cycle wall {r['wall']:.2f} s, CPU {r['cpu']:.2f} s, "
            f"process-tree peak RSS {r['peak_mb']:.0f} MiB, processes spawned "
            f"{snap.get('spawned', '?')}"
        )
    on, off = results[True], results[False]
    print(
        f"batching speedup: wall {off['wall'] / on['wall']:.1f}x, CPU {off['cpu'] / on['cpu']:.1f}x"
    )
    pinned = os.environ["GO_TRADER_NOW"]
    os.environ["GO_TRADER_NOW"] = PERPS_NOW
    one_cycle(True, workdir, "offline-perps.json")  # warm
    runs = [one_cycle(True, workdir, "offline-perps.json") for _ in range(n)]
    os.environ["GO_TRADER_NOW"] = pinned
    r = {k: statistics.median(x[k] for x in runs) for k in ("wall", "cpu", "peak_mb")}
    print(
        f"perps example (10 strategies, 5 venues), batching on: cycle wall {r['wall']:.2f} s, "
        f"CPU {r['cpu']:.2f} s, process-tree peak RSS {r['peak_mb']:.0f} MiB; "
        f"ratio to the spot cycle: wall {r['wall'] / on['wall']:.2f}x"
    )
    idle = psutil.Process().memory_info().rss / 2**20
    loaded = [m for m in HEAVY if m in sys.modules]
    print(
        f"this bench process after the cycles: {idle:.1f} MiB RSS (heavy modules: {loaded or 'none'})"
    )
    for count in (14, 34):
        starts = [daemon_run(workdir, count, 0)["cold_start"] for _ in range(n)]
        print(
            f"daemon cold start, {count} strategies: launch -> /health 200 in "
            f"{statistics.median(starts):.2f} s (median of {n})"
        )
    rss = [daemon_run(workdir, 14, 2)["idle_rss"] for _ in range(max(1, n // 2))]
    print(
        f"daemon idle RSS after two cycles and one /status: {statistics.median(rss):.1f} MiB "
        "(14 strategies)"
    )


if __name__ == "__main__":
    main()
