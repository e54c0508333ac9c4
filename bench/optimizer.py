"""Wall time of a 100-combo sma_crossover sweep on ~2000 generated 4h bars, by worker count.

    .venv/bin/python bench/optimizer.py [--runs 3] [--workers 1,2]

Each run is a whole ``optimizer.sweep`` call, pool start-up included (what an operator waits
for). Median of ``--runs``; the ratio is against ``workers=1`` (in-process) measured in the
same process. On a shared machine other load skews the parallel figure most.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from backtest import optimizer  # noqa: E402
from backtest.backtester import BacktestSettings  # noqa: E402

GRID = [{"fast_period": f, "slow_period": s} for f in range(5, 55, 5) for s in range(60, 160, 10)]


def frame(n: int = 2000, seed: int = 1) -> pd.DataFrame:
    rs = np.random.RandomState(seed)
    close = 100.0 * np.exp(np.cumsum(rs.normal(0.0003, 0.01, n)))
    open_ = np.r_[close[0], close[:-1]]
    wick = np.abs(rs.normal(0.0, 0.003, n))
    return pd.DataFrame(
        {
            "open": open_,
            "high": np.maximum(open_, close) * (1 + wick),
            "low": np.minimum(open_, close) * (1 - wick),
            "close": close,
            "volume": rs.lognormal(8.0, 0.6, n),
        },
        index=pd.date_range("2023-01-01", periods=n, freq="4h", tz="UTC"),
    )


def _cpu() -> float:
    """CPU seconds of this process plus its finished children (the pool's workers)."""
    own, kids = (
        resource.getrusage(resource.RUSAGE_SELF),
        resource.getrusage(resource.RUSAGE_CHILDREN),
    )
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--workers", default="1,2", help="comma-separated worker counts")
    args = parser.parse_args()
    counts = [int(w) for w in args.workers.split(",")]
    df, settings = frame(), BacktestSettings(timeframe="4h")
    optimizer.sweep(df, "sma_crossover", GRID[:2], settings, workers=1)  # imports, caches
    load = "/".join(f"{x:.1f}" for x in os.getloadavg())
    print(f"{len(GRID)} combos, {len(df)} bars, {os.cpu_count()} cores, median of {args.runs}")
    print(f"load average before: {load} (other processes compete for the same cores)")
    medians: dict[int, float] = {}
    for workers in counts:
        times, cpus = [], []
        for _ in range(args.runs):
            cpu = _cpu()
            started = time.perf_counter()
            optimizer.sweep(df, "sma_crossover", GRID, settings, workers=workers)
            times.append(time.perf_counter() - started)
            cpus.append(_cpu() - cpu)
        medians[workers] = statistics.median(times)
        base = medians.get(1)
        ratio = f"  x{base / medians[workers]:.2f} vs workers=1" if base else ""
        runs = ", ".join(f"{t:.2f}" for t in times)
        print(
            f"workers={workers}: {medians[workers]:.2f}s wall (runs {runs}), "
            f"{statistics.median(cpus):.2f}s CPU incl. workers{ratio}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
