"""TopStep: CME futures (ES, NQ, MES, MNQ, CL, GC): candles from Yahoo Finance (``market_data``;
TopStep publishes none without an account), its Venue with the CME session hours (``venue``),
live execution over the TopstepX gateway (``execution``) and its local venue (``localvenue``)."""

from shared_tools.market.registry import register_venue

register_venue("topstep", "platforms.topstep.market_data:feed")
