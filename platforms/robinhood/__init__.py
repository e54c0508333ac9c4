"""Robinhood: crypto spot with no public market-data API (``market_data``), its Venue (``venue``)."""

from shared_tools.market.registry import register_venue

register_venue("robinhood", "platforms.robinhood.market_data:feed")
