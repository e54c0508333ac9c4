"""Deribit as a :class:`~platforms.base.Venue`: linear perps; options are priced by the book."""

from __future__ import annotations

from platforms.ccxt_feed import CcxtVenue
from platforms.deribit.market_data import NO_FUNDING
from shared_tools.book.instruments import DERIBIT_PERPS  # noqa: F401  (static rows)
from shared_tools.book.options import OPTION_VENUES

OPTIONS = OPTION_VENUES["deribit"]  # the options book's fee and contract terms here


class DeribitVenue(CcxtVenue):
    name = "deribit"
    kinds = ("perps",)
    no_funding = NO_FUNDING


VENUE = DeribitVenue()
