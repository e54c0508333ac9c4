"""OKX as a :class:`~platforms.base.Venue`: spot on ``okx``, perps on ``okx-swap``."""

from __future__ import annotations

from platforms.ccxt_feed import CcxtVenue
from shared_tools.book.instruments import OKX_FUNDING_S, OKX_SPOT, OKX_SWAP  # noqa: F401
from shared_tools.book.venues import mark_venue

FUNDING_INTERVAL_S = OKX_FUNDING_S  # the book's rule: funding every 8 hours


class OkxVenue(CcxtVenue):
    name = "okx"
    kinds = ("spot", "perps")

    def data_venue(self, kind: str | None = None) -> str:
        return mark_venue(self.name, kind or "spot")  # perps: the swap (okx-swap)


VENUE = OkxVenue()
