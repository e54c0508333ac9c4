"""Speed of the backtest engine against vectorbt and backtesting.py on one SMA crossover.

    .venv/bin/python bench/backtest.py [--data FILE] [--fast 20] [--slow 50] [--runs 7]

``--data`` is a replay file (freqtrade JSON ``[[ms, o, h, l, c, v], ...]`` or CSV); without it
a simulated BTC/USDT 4h series is used. The three engines run the same model: a crossover on
bar N fills at bar N+1's open, the whole cash buys with the fee on top, the fee
(``--fee-pct``, default 0.1%) is charged on each fill, long/flat. Each computes its own SMAs
(ours through the strategy registry), and every run is timed whole (indicators + backtest).
Prints the median of ``--runs`` wall-clock runs of each (backtesting.py: ``--bt-runs``), the
ratios, each final equity, then a 100-combination grid on 2 worker processes through
``backtest.optimizer.sweep``. vectorbt and backtesting.py come from the ``bench`` extra.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
import warnings
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from backtest.backtester import BacktestSettings, run  # noqa: E402

SIM_NOW = datetime(2025, 1, 1, tzinfo=UTC)
FASTS = [5, 8, 10, 12, 15, 20, 25, 30, 35, 40]
SLOWS = [50, 60, 70, 80, 90, 100, 110, 120, 130, 140]


def load(path: str | None, bars: int) -> tuple[pd.DataFrame, str]:
    if path:
        from shared_tools.market import replay

        df = replay.load(Path(path))
        return df[["open", "high", "low", "close", "volume"]], path
    from shared_tools import market

    df = market.fetch_ohlcv("BTC/USDT", "4h", bars, source="simulated", now=SIM_NOW)
    return df, f"simulated BTC/USDT 4h, {bars} bars"


def median_ms(fn, runs: int) -> tuple[float, float, object]:
    """Median wall-clock and process-CPU milliseconds of ``runs`` calls after one warm-up
    (imports, numba compilation, caches). CPU time is the steadier figure on a shared box."""
    out = fn()
    wall, cpu = [], []
    for _ in range(runs):
        w0, c0 = time.perf_counter(), time.process_time()
        out = fn()
        wall.append(time.perf_counter() - w0)
        cpu.append(time.process_time() - c0)
    return statistics.median(wall) * 1000.0, statistics.median(cpu) * 1000.0, out


def ours(df: pd.DataFrame, fast: int, slow: int, fee: float) -> float:
    s = BacktestSettings(fee_pct=fee * 100.0, timeframe="4h")
    return run(df, "sma_crossover", {"fast_period": fast, "slow_period": slow}, s).final_equity


def vectorbt_run(df: pd.DataFrame, fast: int, slow: int, fee: float) -> float:
    import vectorbt as vbt

    close = df["close"]
    # pandas rolling means: cheaper here than vbt.MA.run (~250 ms), so the stricter baseline
    above = (close.rolling(fast).mean() > close.rolling(slow).mean()).to_numpy()
    ready = np.r_[False, np.ones(len(close) - 1, bool)] & (np.arange(len(close)) >= slow)
    entries = ready & above & ~np.r_[False, above[:-1]]
    exits = ready & ~above & np.r_[False, above[:-1]]
    # the decision at bar N's close fills at bar N+1's open
    entries = pd.Series(np.r_[False, entries[:-1]], index=df.index)
    exits = pd.Series(np.r_[False, exits[:-1]], index=df.index)
    exits.iloc[-1] = True  # close at the end, as ours does (at that bar's open here)
    pf = vbt.Portfolio.from_signals(
        close, entries, exits, price=df["open"], fees=fee, init_cash=1000.0, freq="4h"
    )
    return float(pf.final_value())


def backtesting_run(df: pd.DataFrame, fast: int, slow: int, fee: float) -> float:
    from backtesting import Strategy
    from backtesting.lib import FractionalBacktest, crossover

    def sma(x, n):
        return pd.Series(x).rolling(n).mean().to_numpy()

    class Cross(Strategy):
        def init(self):
            self.fast = self.I(sma, self.data.Close, fast)
            self.slow = self.I(sma, self.data.Close, slow)

        def next(self):
            if crossover(self.fast, self.slow) and not self.position:
                self.buy()
            elif crossover(self.slow, self.fast) and self.position:
                self.position.close()

    data = df.rename(columns=str.capitalize).tz_convert(None)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        bt = FractionalBacktest(
            data, Cross, cash=1000.0, commission=fee, fractional_unit=1e-12, finalize_trades=True
        )
        return float(bt.run()["Equity Final [$]"])


def engine_only(df: pd.DataFrame, sig: np.ndarray, fee: float, runs: int, bt_runs: int) -> None:
    """The three engines on the same ready signal array (no indicator work in any of them)."""
    import vectorbt as vbt
    from backtesting import Strategy
    from backtesting.lib import FractionalBacktest

    from backtest.backtester import run_signals

    series = pd.Series(sig, index=df.index)
    settings = BacktestSettings(fee_pct=fee * 100.0, timeframe="4h")
    entries = pd.Series(np.r_[False, sig[:-1] > 0], index=df.index)
    exits = pd.Series(np.r_[False, sig[:-1] < 0], index=df.index)
    exits.iloc[-1] = True

    def vbt_run():
        pf = vbt.Portfolio.from_signals(
            df["close"], entries, exits, price=df["open"], fees=fee, init_cash=1000.0, freq="4h"
        )
        return float(pf.final_value())

    class Ready(Strategy):
        def init(self):
            self.sig = self.I(lambda: sig.astype(float), name="sig")

        def next(self):
            if self.sig[-1] > 0 and not self.position:
                self.buy()
            elif self.sig[-1] < 0 and self.position:
                self.position.close()

    data = df.rename(columns=str.capitalize).tz_convert(None)

    def bt_run():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            bt = FractionalBacktest(
                data, Ready, cash=1000.0, commission=fee, fractional_unit=1e-12,
                finalize_trades=True,
            )  # fmt: skip
            return float(bt.run()["Equity Final [$]"])

    rows = [
        ("ours", median_ms(lambda: run_signals(df, series, settings).final_equity, runs)),
        ("vectorbt", median_ms(vbt_run, runs)),
        ("backtesting.py", median_ms(bt_run, bt_runs)),
    ]
    report("engine only (the same signal array in all three)", rows)


def report(title: str, rows) -> None:
    print(f"-- {title}")
    for name, (wall, cpu, equity) in rows:
        print(f"{name:15} {wall:9.2f} ms wall {cpu:9.2f} ms cpu  final equity {equity:14.6f}")
    (w0, c0, _), (w1, c1, _), (w2, c2, _) = (r for _n, r in rows)
    print(f"ratio vectorbt/ours       wall {w1 / w0:6.2f}x  cpu {c1 / c0:6.2f}x  (target >= 0.67)")
    print(f"ratio backtesting.py/ours wall {w2 / w0:6.2f}x  cpu {c2 / c0:6.2f}x  (target >= 20)")


def grid_bench(df: pd.DataFrame, fee: float, workers: int) -> None:
    grid = [{"fast_period": f, "slow_period": s} for f in FASTS for s in SLOWS]
    settings = BacktestSettings(fee_pct=fee * 100.0, timeframe="4h")
    t0 = time.perf_counter()
    for params in grid:
        run(df, "sma_crossover", params, settings)
    serial = time.perf_counter() - t0
    print(f"grid: {len(grid)} combos serial in-process:   {serial:7.2f} s")
    try:
        from backtest.optimizer import sweep
    except ImportError:
        sweep = None
    t0 = time.perf_counter()
    if sweep is not None:
        sweep(df, "sma_crossover", grid, settings, workers=workers)
        how = f"backtest.optimizer.sweep, workers={workers}"
    else:  # the optimizer is not there: a plain process pool over backtester.run
        from concurrent.futures import ProcessPoolExecutor

        with ProcessPoolExecutor(workers) as pool:
            list(pool.map(_one, [(df, p, settings) for p in grid]))
        how = f"ProcessPoolExecutor({workers}) over backtester.run (no optimizer.py)"
    took = time.perf_counter() - t0
    print(f"grid: {len(grid)} combos {how}: {took:7.2f} s ({took / len(grid) * 1000:.1f} ms each)")


def _one(job):
    df, params, settings = job
    return run(df, "sma_crossover", params, settings).final_equity


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", help="replay file (freqtrade JSON or CSV); default: simulated")
    ap.add_argument("--bars", type=int, default=16_000, help="simulated bars (default 16000)")
    ap.add_argument("--fast", type=int, default=20)
    ap.add_argument("--slow", type=int, default=50)
    ap.add_argument("--fee-pct", type=float, default=0.1)
    ap.add_argument("--runs", type=int, default=15)
    ap.add_argument("--bt-runs", type=int, default=3, help="backtesting.py runs (slow)")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--no-grid", action="store_true")
    args = ap.parse_args(argv)
    try:
        df, what = load(args.data, args.bars)
    except (OSError, ValueError) as exc:
        print(f"bench/backtest.py: --data {args.data}: {exc}", file=sys.stderr)
        return 2
    fee = args.fee_pct / 100.0
    print(f"data: {what}: {len(df)} bars {df.index[0]} .. {df.index[-1]}")
    print(
        f"model: SMA({args.fast}/{args.slow}) crossover, next-bar open fills, fee {args.fee_pct}%"
    )
    rows = [
        ("ours", median_ms(lambda: ours(df, args.fast, args.slow, fee), args.runs)),
        ("vectorbt", median_ms(lambda: vectorbt_run(df, args.fast, args.slow, fee), args.runs)),
        (
            "backtesting.py",
            median_ms(lambda: backtesting_run(df, args.fast, args.slow, fee), args.bt_runs),
        ),
    ]
    report("end to end (each engine computes its own SMAs)", rows)
    print("(an open position at the end: ours closes at the last close, vectorbt and")
    print(" backtesting.py at the last bar's open, so final equities may differ slightly)")
    from shared_strategies.open import registry

    params = {"fast_period": args.fast, "slow_period": args.slow}
    sig = registry.signals("sma_crossover", df, params).to_numpy()
    engine_only(df, sig, fee, args.runs, args.bt_runs)
    if not args.no_grid:
        grid_bench(df, fee, args.workers)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
