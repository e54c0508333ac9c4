"""Luno: ZAR spot through ccxt (``market_data``), its Venue (``venue``)."""

from shared_tools.market.registry import register_venue

register_venue("luno", "platforms.luno.market_data:feed")
