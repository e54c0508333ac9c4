"""Robinhood's market data: no public API, so the door refuses it with the cause.

Paper checks on Robinhood read the simulated market or replay files (``market_data``).
"""

from __future__ import annotations

from platforms.base import NoPublicData

REFUSAL = "Robinhood has no public market-data API"


def feed() -> NoPublicData:
    return NoPublicData("robinhood", REFUSAL)
