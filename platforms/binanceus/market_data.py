"""Binance US market data through ccxt: spot klines (1000 a page) and tickers, no funding.

Symbols are ccxt's unified ones as the configs write them (``BTC/USDT``). The fee and the
instrument rows are the book's (``SPOT_FEES["binanceus"]``, ``instruments.BINANCEUS``).
"""

from __future__ import annotations

from platforms.ccxt_feed import CcxtFeed

PAGE_MAX = 1000  # venue docs: klines limit


def feed() -> CcxtFeed:
    return CcxtFeed("binanceus", page_max=PAGE_MAX)


def global_feed() -> CcxtFeed:
    """Binance (global): the same API; spot only here too."""
    return CcxtFeed("binance", page_max=PAGE_MAX)
