"""IBKR's market data: served only to a logged-in TWS / IB Gateway session, so the door refuses it.

The ib_async client (a dependency for the live execution to come) needs an account session;
this build opens none. Paper checks read the simulated market or replay files.
"""

from __future__ import annotations

from platforms.base import NoPublicData

REFUSAL = "IBKR serves market data only to a logged-in TWS / IB Gateway session"


def feed() -> NoPublicData:
    return NoPublicData("ibkr", REFUSAL)
