"""TopStep: CME futures (ES, NQ, MES, MNQ, CL, GC) with no public market data
(``market_data``), its Venue with the CME session hours (``venue``)."""

from shared_tools.market.registry import register_venue

register_venue("topstep", "platforms.topstep.market_data:feed")
