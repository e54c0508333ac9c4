"""A local Hyperliquid venue: the API the hyperliquid-python-sdk speaks, on 127.0.0.1.

``python -m platforms.hyperliquid.localvenue --port 0`` serves it; tests start it in-process
with :class:`LocalVenueServer`. Prices follow the simulated market, every ``/exchange`` action
is signature-checked, and fault switches (:mod:`.faults`) inject 429s, 5xx, held requests,
dropped connections, partial, rejected and late fills. Importing starts nothing.
"""

from platforms.hyperliquid.localvenue.exchange import LocalExchange
from platforms.hyperliquid.localvenue.faults import Faults
from platforms.hyperliquid.localvenue.server import LocalVenueServer

__all__ = ["Faults", "LocalExchange", "LocalVenueServer"]
