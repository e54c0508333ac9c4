"""CPU cost of a --batch's signal reports with and without the memoized ADX regime label.

    .venv/bin/python bench/regime.py [--runs 7]

Runs in-process what one ``check_strategy.py --batch`` of 20 jobs (10 strategies x 2 symbols,
1h, simulated market, pinned clock) does after fetching: ``evaluate_last_bar`` per job. The
"cold" figure clears the regime memo before every job (one ADX per job, as before the memo);
"memo" keeps it (one ADX per symbol and closed bar). Process CPU time, median of ``--runs``.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from shared_strategies import signal_report  # noqa: E402
from shared_tools import market  # noqa: E402

NOW = datetime(2025, 6, 1, 12, tzinfo=UTC)
STRATS = ["momentum", "rsi", "macd", "volume_weighted", "sma_crossover", "ema_crossover",
          "bollinger_bands", "mean_reversion", "triple_ema", "rsi_macd_combo"]  # fmt: skip
SYMBOLS = ["BTC/USDT", "ETH/USDT"]


def batch_cpu_ms(memo: bool) -> float:
    frames = {s: market.fetch_ohlcv(s, "1h", 300, source="simulated", now=NOW) for s in SYMBOLS}
    signal_report.clear_memo()
    started = time.process_time()
    for sym in SYMBOLS:
        for name in STRATS:
            if not memo:
                signal_report.clear_memo()
            signal_report.evaluate_last_bar(name, frames[sym].copy())
    return (time.process_time() - started) * 1000


def regime_cpu_ms() -> tuple[float, float]:
    df = market.fetch_ohlcv("BTC/USDT", "1h", 300, source="simulated", now=NOW)
    signal_report.clear_memo()
    started = time.process_time()
    signal_report.regime_label(df)
    cold = time.process_time() - started
    started = time.process_time()
    signal_report.regime_label(df.copy())
    return cold * 1000, (time.process_time() - started) * 1000


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=7)
    runs = ap.parse_args().runs
    batch_cpu_ms(True)  # warm imports and the candle memo
    cold = statistics.median(batch_cpu_ms(False) for _ in range(runs))
    memo = statistics.median(batch_cpu_ms(True) for _ in range(runs))
    labels = [regime_cpu_ms() for _ in range(runs)]
    print(f"python {sys.version.split()[0]}, median of {runs} runs, process CPU time")
    print(
        f"one regime label, computed:           {statistics.median(x[0] for x in labels):6.2f} ms"
    )
    print(
        f"one regime label, from the memo:      {statistics.median(x[1] for x in labels):6.2f} ms"
    )
    print(f"20 signal reports, ADX every job:     {cold:6.1f} ms")
    print(f"20 signal reports, ADX once a symbol: {memo:6.1f} ms  ({1 - memo / cold:.0%} less)")


if __name__ == "__main__":
    main()
