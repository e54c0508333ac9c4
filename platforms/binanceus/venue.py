"""Binance US as a :class:`~platforms.base.Venue`: spot, rows from ccxt's markets or the book."""

from __future__ import annotations

from platforms.ccxt_feed import CcxtVenue
from shared_tools.book.instruments import BINANCEUS, BINANCEUS_MIN  # noqa: F401  (static rows)
from shared_tools.book.venues import SPOT_FEES  # noqa: F401  (the fee table this venue pays)


class BinanceUSVenue(CcxtVenue):
    name = "binanceus"
    kinds = ("spot",)


VENUE = BinanceUSVenue()
