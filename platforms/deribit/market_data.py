"""Deribit market data through ccxt's public REST: candles and tickers, symbols as given.

No Deribit-specific adapter exists yet: symbols are ccxt's unified ones (``BTC/USDC:USDC`` for
the linear perp) and funding is not read (the options backtests price on the simulated or
replayed underlying). Rows and fees are the book's: ``instruments.DERIBIT_PERPS``,
``options.OPTION_VENUES["deribit"]``.
"""

from __future__ import annotations

from platforms.ccxt_feed import CcxtFeed

NO_FUNDING = "funding is not read from Deribit in this build (no adapter for it yet)"


def feed() -> CcxtFeed:
    return CcxtFeed("deribit", no_funding=NO_FUNDING)
