"""Interactive Brokers: CME futures (MBT, MET and the CME roots) and US shares; market data only
through a logged-in session (``market_data``), its Venue (``venue``)."""

from shared_tools.market.registry import register_venue

register_venue("ibkr", "platforms.ibkr.market_data:feed")
