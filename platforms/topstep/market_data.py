"""TopStep's market data: none without a funded account, so the door refuses it with the cause.

Paper checks on TopStep read the simulated market or replay files (``market_data``).
"""

from __future__ import annotations

from platforms.base import NoPublicData

REFUSAL = "TopStep (CME futures) publishes no market data without a funded account"


def feed() -> NoPublicData:
    return NoPublicData("topstep", REFUSAL)
