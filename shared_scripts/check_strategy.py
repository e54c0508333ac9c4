"""Spot signal check: one strategy on one symbol (or a pair) at one timeframe -> one JSON document.

    check_strategy.py <strategy> <symbol> <timeframe> [symbol_b] [--params JSON] [--atr-method=simple|wilder]

The argv is declared once in shared_tools/check_argv.py; the supervisor parses a strategy's
config ``args`` with the same spec, so both agree on the symbol, the params and the venue.
``--help`` lists the strategies and timeframes this tree accepts.

The decision is made on the last CLOSED bar, so a restart or a second process asking at the
same clock gets the same answer. See shared_tools/worker.py for the exit-code/batch contract.
"""

from __future__ import annotations

import argparse
import json
import sys
import textwrap
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from shared_tools.check_argv import add_check_arguments  # noqa: E402
from shared_tools.worker import ContractParser, UsageError, run_worker  # noqa: E402

MIN_CANDLES = 30
PLATFORM = "binanceus"


def build_parser() -> ContractParser:
    """The worker's argv, built from the spec the supervisor parses config args with."""
    p = ContractParser(
        prog="check_strategy.py",
        description="Spot strategy signal check",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    return add_check_arguments(p, epilog=_accepted_names)  # type: ignore[return-value]


def _accepted_names() -> str:
    """Strategies and timeframes for --help only (imports pandas, so never on a plain start)."""
    from shared_strategies.open import registry
    from shared_tools.market.common import TIMEFRAMES

    names = textwrap.fill(", ".join(registry.names("spot")), 78, subsequent_indent="  ")
    return f"strategies (spot):\n  {names}\ntimeframes:\n  {', '.join(TIMEFRAMES)}"


def validate(ns) -> None:
    if not (ns.strategy and ns.symbol and ns.timeframe):
        raise UsageError("the following arguments are required: strategy, symbol, timeframe")


def _params(ns) -> dict | None:
    params: dict = {}
    if ns.strategy_refs:
        refs = json.loads(ns.strategy_refs)
        opened = (refs or {}).get("open") or {}
        if opened.get("name") and opened["name"] != ns.strategy:
            raise ValueError(
                f"--strategy-refs open.name '{opened['name']}' != strategy '{ns.strategy}'"
            )
        params.update(opened.get("params") or {})
    if ns.params:
        extra = json.loads(ns.params)
        if not isinstance(extra, dict):
            raise ValueError("--params must be a JSON object")
        params.update(extra)
    return params or None


def handle(ns, _stdin) -> dict:
    from shared_strategies import signal_report
    from shared_strategies.open import registry
    from shared_tools import market

    spec = registry.get(ns.strategy, "spot")
    market.timeframe_seconds(ns.timeframe)  # unknown timeframe -> ValueError, exit 1
    if spec.needs_pair and not ns.symbol_b:
        raise ValueError(f"strategy '{ns.strategy}' needs a second symbol (symbol_b)")
    params = _params(ns)
    registry.merged_params(ns.strategy, params, "spot")  # reject unknown keys before fetching

    now = market.now_utc()
    df = market.fetch_ohlcv(ns.symbol, ns.timeframe, ns.ohlcv_limit, venue=ns.platform, now=now)
    if spec.needs_pair:
        other = market.fetch_ohlcv(
            ns.symbol_b, ns.timeframe, ns.ohlcv_limit, venue=ns.platform, now=now
        )
        df = df.join(other[["close"]].rename(columns={"close": "close_b"}), how="inner")
    if len(df) < MIN_CANDLES:
        raise ValueError(
            f"only {len(df)} closed {ns.timeframe} candles for {ns.symbol}; need {MIN_CANDLES}"
        )
    out = signal_report.evaluate_last_bar(
        ns.strategy, df, params, platform="spot", atr_method=ns.atr_method
    )
    doc = {
        "strategy": ns.strategy,
        "symbol": ns.symbol,
        "timeframe": ns.timeframe,
        "signal": out["signal"],
        "price": out["price"],
        "indicators": out["indicators"],
        "regime": out["regime"],
        "mode": ns.mode,
        "platform": ns.platform,
        "bar_time": out["bar_time"],
        "timestamp": now.strftime("%Y-%m-%dT%H:%M:%SZ"),
    }
    if ns.symbol_b:
        doc["symbol_b"] = ns.symbol_b
    return doc


def prepare(ns) -> None:
    """Import what a real check needs and check its names offline (used by --probe-only)."""
    from shared_strategies import signal_report  # noqa: F401
    from shared_strategies.open import registry
    from shared_tools import market
    from shared_tools.market import ohlcv  # noqa: F401  (the candle path a real check loads)

    spec = registry.get(ns.strategy, "spot")
    market.timeframe_seconds(ns.timeframe)
    if spec.needs_pair and not ns.symbol_b:
        raise ValueError(f"strategy '{ns.strategy}' needs a second symbol (symbol_b)")
    registry.merged_params(ns.strategy, _params(ns), "spot")


if __name__ == "__main__":
    sys.exit(run_worker(build_parser(), handle, validate=validate, prepare=prepare))
