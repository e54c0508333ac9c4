"""Binance US: spot through ccxt (``market_data``), its Venue (``venue``).

Registers ``binanceus`` and ``binance`` (Binance's global venue speaks the same REST API and
ccxt serves both alike) with the market-data door.
"""

from shared_tools.market.registry import register_venue

register_venue("binanceus", "platforms.binanceus.market_data:feed")
register_venue("binance", "platforms.binanceus.market_data:global_feed")
