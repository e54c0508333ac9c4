"""OKX: spot and USDT perpetual swaps through ccxt (``market_data``), its Venue (``venue``).

Registers ``okx`` (spot) and ``okx-swap`` (the swaps: OKX perps strategies' candles, marks and
funding) with the market-data door.
"""

from shared_tools.market.registry import register_venue

register_venue("okx", "platforms.okx.market_data:spot_feed")
register_venue("okx-swap", "platforms.okx.market_data:swap_feed")
