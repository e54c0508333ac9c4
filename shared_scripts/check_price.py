"""Latest price per symbol, used by the supervisor to mark positions once per cycle.

    check_price.py BTC/USDT ETH/USDT SOL/USDT   ->   {"BTC/USDT": 97000.1, ...}

A symbol whose price cannot be read is left out (reported on stderr); if none can be read the
script prints {"error": ...} and exits 1.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from shared_tools.worker import ContractParser, UsageError, run_worker  # noqa: E402


def build_parser() -> ContractParser:
    p = ContractParser(prog="check_price.py", description="Latest prices for symbols")
    p.add_argument("symbols", nargs="*")
    p.add_argument("--platform", default="binanceus")
    return p


def validate(ns) -> None:
    if not ns.symbols:
        raise UsageError("give at least one symbol, e.g. BTC/USDT")


def handle(ns, _stdin) -> dict:
    """A flat {symbol: price} of every symbol that could be read; the rest named on stderr."""
    from shared_tools.market import prices as market_prices
    from shared_tools.text import one_line

    symbols = list(dict.fromkeys(ns.symbols))
    prices, missing = market_prices.fetch_prices_partial(symbols, venue=ns.platform)
    reasons = "; ".join(f"{s} ({exc})" for s, exc in missing.items())
    if not prices:
        return {"error": one_line(f"no price for any symbol: {reasons}")}
    if missing:
        print(one_line(f"check_price: no price for {reasons}", 2000), file=sys.stderr)
    return {s: round(p, 8) for s, p in prices.items()}


def prepare(_ns) -> None:
    """Import the price path (never pandas) so --probe-only proves this tree can serve it."""
    from shared_tools.market import prices  # noqa: F401


if __name__ == "__main__":
    sys.exit(run_worker(build_parser(), handle, validate=validate, prepare=prepare))
