"""Deribit: perps (and the options book's venue) through ccxt's public REST (``market_data``),
its Venue (``venue``)."""

from shared_tools.market.registry import register_venue

register_venue("deribit", "platforms.deribit.market_data:feed")
