"""Candles for the dashboard's chart, as plain JSON (the supervisor never imports pandas).

    fetch_candles.py --platform=binanceus --symbol=BTC/USDT --timeframe=1h [--limit=300]
                     [--from=<unix s>] [--to=<unix s>]
        ->  {"source": "simulated", "candles": [{"time", "open", "high", "low", "close", "volume"}]}

Reads the same market door as the checks (``shared_tools.market``: the exchange, the simulated
market or replay files, ``GO_TRADER_MARKET_DATA``), closed bars only. ``--to`` ends the window
(bars opening at or before it; default now) and ``--from`` drops earlier bars, so unlike upstream's
script a chart can page back in time. A non-finite value becomes 0, as upstream.
"""

from __future__ import annotations

import math
import sys
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import platforms  # noqa: E402, F401  (registers the venues' feeds with the market door; light)
from shared_tools.worker import ContractParser, UsageError, run_worker  # noqa: E402

MAX_LIMIT = 1000


def build_parser() -> ContractParser:
    p = ContractParser(prog="fetch_candles.py", description="Closed candles for a chart")
    p.add_argument("--platform", default="binanceus", help="venue (default binanceus)")
    p.add_argument("--symbol", required=True)
    p.add_argument("--timeframe", required=True)
    p.add_argument("--limit", type=int, default=300)
    p.add_argument("--from", dest="since", type=float, default=None, help="unix seconds")
    p.add_argument("--to", dest="until", type=float, default=None, help="unix seconds")
    return p


def validate(ns) -> None:
    if not 1 <= ns.limit <= MAX_LIMIT:
        raise UsageError(f"--limit must be 1..{MAX_LIMIT}, got {ns.limit}")
    for name in ("since", "until"):
        value = getattr(ns, name)
        if value is not None and not (math.isfinite(value) and value >= 0):
            raise UsageError(f"--{'from' if name == 'since' else 'to'} must be unix seconds")


def _num(x: object) -> float:
    v = float(x)  # type: ignore[arg-type]
    return v if math.isfinite(v) else 0.0


def handle(ns, _stdin) -> dict:
    """The last ``limit`` closed bars up to ``--to``, from ``--from`` on."""
    from shared_tools import market

    now = market.now_utc()
    if ns.until is not None:  # bars opening at or before --to (closed by to + one bar)
        step = market.timeframe_seconds(ns.timeframe)
        now = min(now, datetime.fromtimestamp(ns.until + step, UTC))
    frame = market.fetch_ohlcv(ns.symbol, ns.timeframe, ns.limit, venue=ns.platform, now=now)
    candles = []
    for ts, row in zip(frame.index, frame.itertuples(index=False), strict=True):
        t = int(ts.timestamp())
        if ns.since is not None and t < ns.since:
            continue
        candles.append(
            {
                "time": t,
                "open": _num(row.open),
                "high": _num(row.high),
                "low": _num(row.low),
                "close": _num(row.close),
                "volume": _num(row.volume),
            }
        )
    return {"source": market.source_from_env(), "candles": candles}


def prepare(ns) -> None:
    """Import the candle path so --probe-only proves this tree can serve it."""
    from shared_tools.market import ohlcv  # noqa: F401

    ohlcv.timeframe_seconds(ns.timeframe)


if __name__ == "__main__":
    sys.exit(run_worker(build_parser(), handle, validate=validate, prepare=prepare))
