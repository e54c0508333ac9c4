"""Timing of the market-data paths (kept out of the test suite, where wall time is noise).

Run: ``.venv/bin/python bench/market_data.py [--runs 5]``. Prints

* the median milliseconds of a cold ``fetch_ohlcv`` (memo cleared before each call) for
  typical worker requests on the simulated market, and of ``fetch_prices``;
* the wall time and peak RSS of one ``check_price.py`` process (the per-cycle mark check), for
  the simulated and the replay source, median of ``--runs`` runs.
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
from datetime import UTC, datetime
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from shared_tools import market as md  # noqa: E402

NOW = datetime(2025, 6, 1, 12, 34, 56, tzinfo=UTC)
CASES = [("1h", 300), ("1h", 8760), ("1d", 300), ("1m", 300), ("15m", 1000)]
PRICE = str(REPO / "shared_scripts" / "check_price.py")
PRICE_SYMBOLS = ["BTC/USDT", "ETH/USDT", "SOL/USDT"]


def median_ms(timeframe: str, limit: int, repeats: int = 15) -> float:
    samples = []
    for _ in range(repeats):
        md.clear_memo()
        started = time.perf_counter()
        md.fetch_ohlcv("BTC/USDT", timeframe, limit, source="simulated", now=NOW)
        samples.append((time.perf_counter() - started) * 1000)
    return statistics.median(samples)


def run_check_price(env: dict[str, str]) -> tuple[float, float]:
    """Wall seconds and peak RSS (MiB, from wait4's rusage) of one check_price process."""
    started = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, PRICE, *PRICE_SYMBOLS],
        cwd=REPO,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
    )
    out = proc.stdout.read() if proc.stdout else b""
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - started
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"check_price failed: {out[:200]!r}")
    json.loads(out)
    return wall, usage.ru_maxrss / 1024


def check_price_figures(runs: int) -> None:
    folder = Path(tempfile.mkdtemp(prefix="bench-replay-"))
    rows = [
        [1_735_689_600_000 + i * 3_600_000, 100.0 + i, 101.0 + i, 99.0 + i, 100.5 + i, 10.0]
        for i in range(500)
    ]
    for sym in PRICE_SYMBOLS:
        (folder / f"{sym.replace('/', '_')}-1h.json").write_text(json.dumps(rows))
    base = dict(os.environ, GO_TRADER_NOW="2025-06-01T12:00:00Z")
    for name, source in (("simulated", "simulated"), ("replay", f"replay:{folder}")):
        env = dict(base, GO_TRADER_MARKET_DATA=source)
        run_check_price(env)  # warm the page cache
        samples = [run_check_price(env) for _ in range(runs)]
        wall = statistics.median(s[0] for s in samples) * 1000
        rss = statistics.median(s[1] for s in samples)
        print(f"check_price x3 {name:<9} wall {wall:6.0f} ms, peak RSS {rss:5.1f} MiB")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=5, help="check_price processes per source")
    runs = ap.parse_args().runs
    print(f"python {sys.version.split()[0]}, {os.cpu_count()} CPUs")
    # first, while this process is small: a child's peak RSS counts what it shared at fork
    check_price_figures(runs)
    md.fetch_ohlcv("BTC/USDT", "1h", 10, source="simulated", now=NOW)  # warm imports/caches
    for timeframe, limit in CASES:
        print(f"simulated {limit:>5} x {timeframe:<3} median {median_ms(timeframe, limit):8.2f} ms")
    started = time.perf_counter()
    for _ in range(100):
        md.fetch_prices(PRICE_SYMBOLS, source="simulated", now=NOW)
    print(f"simulated fetch_prices x3 mean   {(time.perf_counter() - started) * 10:8.2f} ms")


if __name__ == "__main__":
    main()
