"""Luno as a :class:`~platforms.base.Venue`: ZAR spot (quote currency rand, not dollars)."""

from __future__ import annotations

from platforms.ccxt_feed import CcxtVenue
from shared_tools.book.instruments import LUNO  # noqa: F401  (static rows)


class LunoVenue(CcxtVenue):
    name = "luno"
    kinds = ("spot",)


VENUE = LunoVenue()
