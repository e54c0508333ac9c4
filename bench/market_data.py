"""Timing of the simulated market (kept out of the test suite, where wall time is noise).

Run: ``.venv/bin/python bench/market_data.py``. Prints the median milliseconds of a cold
``fetch_ohlcv`` (memo cleared before each call) for typical worker requests.
"""

from __future__ import annotations

import statistics
import time
from datetime import UTC, datetime

from shared_tools import market_data as md

NOW = datetime(2025, 6, 1, 12, 34, 56, tzinfo=UTC)
CASES = [("1h", 300), ("1h", 8760), ("1d", 300), ("1m", 300), ("15m", 1000)]


def median_ms(timeframe: str, limit: int, repeats: int = 15) -> float:
    samples = []
    for _ in range(repeats):
        md.clear_memo()
        started = time.perf_counter()
        md.fetch_ohlcv("BTC/USDT", timeframe, limit, source="simulated", now=NOW)
        samples.append((time.perf_counter() - started) * 1000)
    return statistics.median(samples)


def main() -> None:
    md.fetch_ohlcv("BTC/USDT", "1h", 10, source="simulated", now=NOW)  # warm imports/caches
    for timeframe, limit in CASES:
        print(f"simulated {limit:>5} x {timeframe:<3} median {median_ms(timeframe, limit):8.2f} ms")
    started = time.perf_counter()
    for _ in range(100):
        md.fetch_prices(["BTC/USDT", "ETH/USDT", "SOL/USDT"], source="simulated", now=NOW)
    print(f"simulated fetch_prices x3 mean   {(time.perf_counter() - started) * 10:8.2f} ms")


if __name__ == "__main__":
    main()
