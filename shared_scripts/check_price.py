"""Latest price per symbol, used by the supervisor to mark positions once per cycle.

    check_price.py BTC/USDT ETH/USDT SOL/USDT             ->  {"BTC/USDT": 97000.1, ...}
    check_price.py BTC ETH --platform=hyperliquid --funding
        ->  {"BTC": 97000.1, "ETH": 3500.2, "_funding": {"BTC": 1.25e-05, "ETH": -3e-06}}

``--platform`` names the venue as the strategy configs do: a ccxt id (binanceus, okx, luno,
...), ``okx-swap`` (OKX perps marks: BTC is BTC/USDT:USDT), ``hyperliquid`` (the SDK's mids),
``robinhood`` (Binance US USD prices) or ``topstep`` (no public data: simulated or replay
market only). In the simulated market every venue's symbols just work.

A symbol whose price cannot be read is left out (reported on stderr); if none can be read the
script prints {"error": ...} and exits 1. ``--funding`` adds ``_funding``: the current hourly
funding rate of every symbol that has one (perps venues; a venue without funding only costs a
stderr note, never the prices).
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import platforms  # noqa: E402, F401  (registers the venues' feeds with the market door; light)
from shared_tools.worker import ContractParser, UsageError, run_worker  # noqa: E402

FUNDING_KEY = "_funding"


def build_parser() -> ContractParser:
    p = ContractParser(prog="check_price.py", description="Latest prices for symbols")
    p.add_argument("symbols", nargs="*")
    p.add_argument("--platform", default="binanceus", help="venue (default binanceus)")
    p.add_argument("--funding", action="store_true", help="also report hourly funding rates")
    return p


def validate(ns) -> None:
    if not ns.symbols:
        raise UsageError("give at least one symbol, e.g. BTC/USDT")


def _funding(symbols: list[str], venue: str) -> dict[str, float]:
    """Hourly funding per symbol that has one; the rest (and a failing venue) noted on stderr."""
    from shared_tools.market import funding
    from shared_tools.text import one_line

    try:
        rates, missing = funding.fetch_funding_rates(symbols, venue=venue)
    except Exception as exc:  # funding is extra: the marks still go out
        print(one_line(f"check_price: no funding ({exc})", 2000), file=sys.stderr)
        return {}
    if missing:
        reasons = "; ".join(f"{s} ({exc})" for s, exc in missing.items())
        print(one_line(f"check_price: no funding for {reasons}", 2000), file=sys.stderr)
    return {s: round(r, 10) for s, r in rates.items()}


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
    out: dict = {s: round(p, 8) for s, p in prices.items()}
    if ns.funding:
        out[FUNDING_KEY] = _funding(symbols, ns.platform)
    return out


def prepare(ns) -> None:
    """Import the price path (never pandas) so --probe-only proves this tree can serve it."""
    from shared_tools.market import prices  # noqa: F401

    if ns.funding:
        from shared_tools.market import funding  # noqa: F401


if __name__ == "__main__":
    sys.exit(run_worker(build_parser(), handle, validate=validate, prepare=prepare))
