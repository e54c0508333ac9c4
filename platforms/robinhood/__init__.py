"""Robinhood: crypto spot; paper candles from a public USD source (``market_data``), its Venue
(``venue``), live execution (``execution``) and a local venue (``localvenue``)."""

from shared_tools.market.registry import register_venue

register_venue("robinhood", "platforms.robinhood.market_data:feed")
register_venue("robinhood-equities", "platforms.robinhood.market_data:equities_feed")
