"""Luno market data through ccxt: ZAR spot, 1000 candles a page, no funding.

Luno names bitcoin XBT; ccxt calls it BTC: ``XBT/ZAR`` and ``BTC/ZAR`` both work. Fee and rows:
the book's ``SPOT_FEES["luno"]`` and ``instruments.LUNO``.
"""

from __future__ import annotations

from platforms.ccxt_feed import CcxtFeed

PAGE_MAX = 1000


def symbols(symbol: str) -> list[str]:
    s = str(symbol).strip()
    upper = s.upper()
    return list(dict.fromkeys([s, upper.replace("XBT", "BTC"), upper.replace("BTC", "XBT")]))


def feed() -> CcxtFeed:
    return CcxtFeed("luno", page_max=PAGE_MAX, symbols=symbols)
