"""Hyperliquid as a :class:`~platforms.base.Venue`: perps (and spot rows), funded hourly.

The instrument row comes from the SDK's ``meta`` universe entry
(:func:`~shared_tools.book.instruments.from_hl_asset`) once this process has loaded it, else from
the book's static ``HL_ASSETS``. Fee: the book's ``PERPS_FEES["hyperliquid"]``.
"""

from __future__ import annotations

from dataclasses import replace

from platforms.base import DoorVenue
from shared_tools.book.instruments import HL_ASSETS, HOUR, Instrument, from_hl_asset  # noqa: F401

FUNDING_INTERVAL_S = HOUR  # Hyperliquid funds every hour


class HyperliquidVenue(DoorVenue):
    name = "hyperliquid"
    kinds = ("perps", "spot")

    def metadata_row(self, symbol: str, kind: str) -> Instrument | None:
        if kind not in ("perps", "spot"):
            return None
        from platforms.hyperliquid import market_data  # no SDK import: the Info client is lazy

        asset = market_data.loaded_asset(symbol)
        if asset is None:
            return None
        return replace(from_hl_asset(asset, kind), symbol=symbol)

    def load_metadata(self, kind: str) -> None:
        from platforms.hyperliquid import market_data

        market_data.load_metadata()


VENUE = HyperliquidVenue()
