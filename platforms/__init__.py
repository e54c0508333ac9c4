"""The venues: one package per platform, each holding what is specific to it.

``import platforms`` registers every venue's market-data feed with the door
(:mod:`shared_tools.market.registry`), so the exchange source can read it; the callers that
need that source (the check scripts, the backtester's loader, the benches) import this package
first. Registration imports nothing heavy: each feed's module (ccxt, the Hyperliquid SDK) is
imported when the door first asks for it. :func:`get` returns a venue's
:class:`~platforms.base.Venue`.

Layering: ``platforms`` imports ``shared_tools`` only, and ``shared_tools`` never imports
``platforms`` (the registry is how the door reaches the venues).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

# each venue package registers its feed(s) with the door when imported
from platforms import (  # noqa: F401
    binanceus,
    deribit,
    hyperliquid,
    ibkr,
    luno,
    okx,
    robinhood,
    topstep,
)

if TYPE_CHECKING:  # pragma: no cover
    from platforms.base import Venue

__all__ = ["ALIASES", "VENUES", "get"]

VENUES = ("binanceus", "hyperliquid", "okx", "topstep", "robinhood", "luno", "deribit", "ibkr")
# door venue names served by another venue's package
ALIASES = {"binance": "binanceus", "okx-swap": "okx"}


def get(name: str) -> Venue:
    """The :class:`~platforms.base.Venue` of ``name`` (a platform or a door alias)."""
    key = str(name).strip().lower()
    package = ALIASES.get(key, key)
    if package not in VENUES:
        raise KeyError(f"no platform {name!r} (known: {', '.join(VENUES)})")
    return importlib.import_module(f"{__name__}.{package}.venue").VENUE
