"""Robinhood as a :class:`~platforms.base.Venue`: commission-free crypto spot.

Fee: the book's ``SPOT_FEES["robinhood"]`` (0: the spread is the cost, not modelled); rows: the
book's Robinhood defaults ($1 minimum, 8-decimal quantities, cent prices).
"""

from __future__ import annotations

from platforms.base import DoorVenue


class RobinhoodVenue(DoorVenue):
    name = "robinhood"
    kinds = ("spot",)


VENUE = RobinhoodVenue()
