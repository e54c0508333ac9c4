"""A local Robinhood crypto venue: the endpoints our client speaks, on 127.0.0.1.

``python -m platforms.robinhood.localvenue --port 0`` serves it; tests start it in-process with
:class:`LocalVenueServer`. Login checks username, password and a TOTP code; prices follow the
simulated market; fault switches (:mod:`.faults`) inject 429s, 5xx, held requests, dropped
connections, partial fills, rejections and orders that show no fill yet. Importing starts nothing.
"""

from platforms.robinhood.localvenue.exchange import LocalRobinhood
from platforms.robinhood.localvenue.faults import Faults
from platforms.robinhood.localvenue.server import LocalVenueServer

__all__ = ["Faults", "LocalRobinhood", "LocalVenueServer"]
