"""IBKR as a :class:`~platforms.base.Venue`: CME futures in Globex hours, and US shares.

Rows are the book's: ``CONTRACT_SPECS`` and ``IBKR_FUTURES`` (Micro Bitcoin / Micro Ether) for
futures, whole shares at cent prices for spot. There is no funding.
"""

from __future__ import annotations

from datetime import datetime

from platforms.base import DoorVenue
from platforms.cme import cme_globex_open
from shared_tools.book.instruments import IBKR_FUTURES  # noqa: F401  (static rows)


class IbkrVenue(DoorVenue):
    name = "ibkr"
    kinds = ("futures", "spot")
    no_funding = "no perpetual funding on this venue (futures and shares)"

    @staticmethod
    def is_open(now: datetime) -> bool:
        """CME Globex session hours, for the futures (:func:`platforms.cme.cme_globex_open`)."""
        return cme_globex_open(now)


VENUE = IbkrVenue()
