"""A local TopStep venue: the ProjectX gateway REST subset the TopStep scripts speak, on 127.0.0.1.

``python -m platforms.topstep.localvenue --port 0`` serves it; tests start it in-process with
:class:`LocalVenueServer`. Token login with the venue's credentials, futures prices from the
simulated market, positions, fills, balance, and the live-venue contract's faults
(:mod:`.faults`). Importing starts nothing.
"""

from platforms.topstep.localvenue.exchange import LocalTopStep
from platforms.topstep.localvenue.faults import Faults
from platforms.topstep.localvenue.server import LocalVenueServer

__all__ = ["Faults", "LocalTopStep", "LocalVenueServer"]
