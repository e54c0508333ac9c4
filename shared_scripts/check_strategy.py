"""Spot signal check: one strategy on one symbol (or a pair) at one timeframe -> one JSON document.

    check_strategy.py <strategy> <symbol> <timeframe> [symbol_b] [--params JSON] [--atr-method=simple|wilder]

The decision is made on the last CLOSED bar, so a restart or a second process asking at the
same clock gets the same answer. See shared_tools/worker.py for the exit-code/batch contract.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from shared_tools.worker import ContractParser, UsageError, run_worker  # noqa: E402

MIN_CANDLES = 30
PLATFORM = "binanceus"


def build_parser() -> ContractParser:
    p = ContractParser(prog="check_strategy.py", description="Spot strategy signal check")
    p.add_argument("strategy", nargs="?")
    p.add_argument("symbol", nargs="?")
    p.add_argument("timeframe", nargs="?")
    p.add_argument("symbol_b", nargs="?", help="second symbol for pair strategies")
    p.add_argument("--params", help="JSON object overriding the strategy's default params")
    p.add_argument("--strategy-refs", help='JSON {"open": {"name", "params"}, "closes": [...]}')
    p.add_argument("--atr-method", choices=("simple", "wilder"), default="simple")
    p.add_argument("--ohlcv-limit", type=int, default=300)
    p.add_argument("--mode", choices=("paper", "live"), default="paper")
    p.add_argument("--platform", default=PLATFORM)
    # Flags the upstream scheduler sends; accepted so a go-trader config runs unchanged.
    p.add_argument("--position-side", choices=("long", "short"))
    for flag in ("--position-avg-cost", "--position-qty", "--position-initial-qty"):
        p.add_argument(flag, type=float)
    p.add_argument("--position-entry-atr", type=float)
    p.add_argument("--position-regime")
    p.add_argument("--htf-filter", action="store_true")
    p.add_argument("--regime-enabled", action="store_true")
    p.add_argument("--regime-windows-spec-json")
    p.add_argument("--regime-atr-window")
    p.add_argument("--regime-payload-json")
    p.add_argument("--mark-price", type=float)
    return p


def validate(ns) -> None:
    if not (ns.strategy and ns.symbol and ns.timeframe):
        raise UsageError("the following arguments are required: strategy, symbol, timeframe")
    if ns.ohlcv_limit < MIN_CANDLES:
        raise UsageError(f"--ohlcv-limit must be at least {MIN_CANDLES}")


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
    from shared_strategies.open import registry
    from shared_tools import market_data, signal_report

    spec = registry.get(ns.strategy, "spot")
    market_data.timeframe_seconds(ns.timeframe)  # unknown timeframe -> ValueError, exit 1
    if spec.needs_pair and not ns.symbol_b:
        raise ValueError(f"strategy '{ns.strategy}' needs a second symbol (symbol_b)")
    params = _params(ns)
    registry.merged_params(ns.strategy, params, "spot")  # reject unknown keys before fetching

    now = market_data.now_utc()
    df = market_data.fetch_ohlcv(
        ns.symbol, ns.timeframe, ns.ohlcv_limit, venue=ns.platform, now=now
    )
    if spec.needs_pair:
        other = market_data.fetch_ohlcv(
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
    from shared_strategies.open import registry
    from shared_tools import market_data, signal_report  # noqa: F401

    spec = registry.get(ns.strategy, "spot")
    market_data.timeframe_seconds(ns.timeframe)
    if spec.needs_pair and not ns.symbol_b:
        raise ValueError(f"strategy '{ns.strategy}' needs a second symbol (symbol_b)")
    registry.merged_params(ns.strategy, _params(ns), "spot")


if __name__ == "__main__":
    sys.exit(run_worker(build_parser(), handle, validate=validate, prepare=prepare))
