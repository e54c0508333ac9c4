"""Worker cost: one check's cold start and peak RSS; 20 checks as 20 processes vs one --batch.

    .venv/bin/python bench/workers.py [--runs 5]
    .venv/bin/python bench/workers.py --probe [--sizes 50,300]

Runs on the simulated market with a pinned clock, so every run does identical work. Prints
medians over --runs repetitions and the ratios measured in this same process.

``--probe`` times the start-up probe of N distinct real ``check_strategy.py`` strategies
(momentum with different ``--params``): one ``--probe-only`` process per strategy (how the
probe used to work) against ``--batch --probe-only`` processes, one per core.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
CHECK = str(REPO / "shared_scripts" / "check_strategy.py")
STRATS = ["momentum", "rsi", "macd", "volume_weighted", "sma_crossover", "ema_crossover",
          "bollinger_bands", "mean_reversion", "triple_ema", "rsi_macd_combo"]  # fmt: skip
SYMBOLS = ["BTC/USDT", "ETH/USDT"]
JOBS = [[s, sym, "1h"] for sym in SYMBOLS for s in STRATS]  # 20 checks


def env() -> dict[str, str]:
    e = dict(os.environ)
    e.update(
        GO_TRADER_MARKET_DATA="simulated",
        GO_TRADER_NOW="2025-06-01T12:00:00Z",
        GO_TRADER_OHLCV_CACHE=str(Path(tempfile.gettempdir()) / "bench-ohlcv.db"),
    )
    return e


def run_measured(args: list[str], stdin: str | None = None) -> tuple[float, float]:
    """Wall seconds and peak RSS (MiB) of one worker process, via wait4's rusage."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, CHECK, *args],
        cwd=REPO,
        env=env(),
        stdin=subprocess.PIPE if stdin else subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
    )
    if stdin:
        proc.stdin.write(stdin.encode())
        proc.stdin.close()
    out = proc.stdout.read()
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        raise SystemExit(f"worker failed ({proc.returncode}): {out[:200]!r}")
    json.loads(out)
    return wall, usage.ru_maxrss / 1024


def probe_requests(n: int) -> list:
    """N distinct argvs of one real script, as a config of N momentum strategies makes them."""
    from supervisor.run.probe import ProbeRequest

    return [
        ProbeRequest(
            "shared_scripts/check_strategy.py",
            ["momentum", "BTC/USDT", "1h", "--params", json.dumps({"roc_period": 5 + i})],
            [f"momentum-{i}"],
        )
        for i in range(n)
    ]


def bench_probe(sizes: list[int]) -> None:
    sys.path.insert(0, str(REPO))
    from supervisor.run.probe import probe_jobs

    cpus = os.cpu_count() or 1
    overlay = {"GO_TRADER_MARKET_DATA": "simulated"}
    print(f"python {sys.version.split()[0]}, {cpus} CPUs, probe of N distinct strategies")
    for n in sizes:
        requests = probe_requests(n)
        row = []
        for batching in (False, True):
            t0 = time.perf_counter()
            failures = probe_jobs(REPO, requests, batching=batching, deadline_s=3600, env=overlay)
            row.append(time.perf_counter() - t0)
            if failures:
                raise SystemExit(f"probe failed: {failures[0].line()}")
        single, batched = row
        print(
            f"{n:4d} strategies: one process each {single:6.2f} s, "
            f"--batch --probe-only per core {batched:5.2f} s ({single / batched:.1f}x faster)"
        )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--probe", action="store_true", help="time the start-up probe instead")
    ap.add_argument("--sizes", default="50,300", help="strategy counts for --probe")
    opts = ap.parse_args()
    if opts.probe:
        bench_probe([int(x) for x in opts.sizes.split(",")])
        return
    n = opts.runs
    print(f"python {sys.version.split()[0]}, {os.cpu_count()} CPUs, median of {n} runs")

    run_measured(JOBS[0])  # warm the OS page cache
    cold = [run_measured(JOBS[0]) for _ in range(n)]
    wall = statistics.median(c[0] for c in cold)
    rss = statistics.median(c[1] for c in cold)
    print(
        f"one check (momentum BTC/USDT 1h): cold start {wall * 1000:.0f} ms, peak RSS {rss:.1f} MiB"
    )

    seq, par, batch, batch2 = [], [], [], []
    payload = json.dumps([{"args": a} for a in JOBS])
    halves = [json.dumps([{"args": a} for a in JOBS[i::2]]) for i in range(2)]
    for _ in range(n):
        t0 = time.perf_counter()
        for a in JOBS:
            run_measured(a)
        seq.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        with ThreadPoolExecutor(2) as pool:
            list(pool.map(run_measured, JOBS))
        par.append(time.perf_counter() - t0)
        batch.append(run_measured(["--batch"], payload)[0])
        t0 = time.perf_counter()
        with ThreadPoolExecutor(2) as pool:
            list(pool.map(lambda p: run_measured(["--batch"], p), halves))
        batch2.append(time.perf_counter() - t0)
    s, p, b, b2 = (statistics.median(x) for x in (seq, par, batch, batch2))
    print(f"20 checks as 20 processes, one at a time: {s:.2f} s")
    print(f"20 checks as 20 processes, 2 at a time:   {p:.2f} s")
    print(
        f"20 checks as one --batch process:         {b:.2f} s  ({s / b:.1f}x faster than 20 sequential)"
    )
    print(
        f"20 checks as two --batch processes (2 at a time): {b2:.2f} s  ({p / b2:.1f}x faster than 20 on 2 slots)"
    )


if __name__ == "__main__":
    main()
