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
    from shared_tools import market_data

    prices = market_data.fetch_prices(list(dict.fromkeys(ns.symbols)), venue=ns.platform)
    missing = [s for s in ns.symbols if s not in prices]
    if missing:
        print(f"check_price: no price for {', '.join(missing)}", file=sys.stderr)
    if not prices:
        return {"error": f"{ns.platform}: no price for any of {', '.join(ns.symbols)}"}
    return {s: round(float(p), 8) for s, p in prices.items()}


def prepare(_ns) -> None:
    from shared_tools import market_data  # noqa: F401


if __name__ == "__main__":
    sys.exit(run_worker(build_parser(), handle, validate=validate, prepare=prepare))
