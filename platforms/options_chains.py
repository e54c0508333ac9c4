"""The options chain factory: ``chain_for("deribit")`` -> that venue's :class:`OptionsChain`.

One chain per venue (``platforms/<venue>/options_chain.py``), each over the source the market
door uses (``exchange`` | ``simulated`` | ``replay:<dir>``, default ``GO_TRADER_MARKET_DATA``),
so ``check_options.py`` and ``mark_options.py`` run offline on the simulated market exactly as
they run against the venues (docs/architecture.md, "Options chains").
"""

from __future__ import annotations

import importlib
from datetime import datetime
from typing import Any

from shared_tools.options_chain import OptionsChain

__all__ = ["CHAINS", "chain_for"]

# platform -> "module:class"; "cme" is the book's other name for the IBKR micro options
CHAINS = {
    "deribit": "platforms.deribit.options_chain:DeribitOptionsChain",
    "ibkr": "platforms.ibkr.options_chain:IbkrOptionsChain",
    "cme": "platforms.ibkr.options_chain:IbkrOptionsChain",
    "okx": "platforms.okx.options_chain:OkxOptionsChain",
    "robinhood": "platforms.robinhood.options_chain:RobinhoodOptionsChain",
}


def chain_for(
    platform: str, *, source: str | None = None, now: datetime | None = None, **venue_kwargs: Any
) -> OptionsChain:
    """The venue's chain over ``source``; ValueError naming the known platforms otherwise.

    ``now`` pins the chain's clock (tests; default the market clock, GO_TRADER_NOW);
    ``venue_kwargs`` inject a venue's client (``session=`` Deribit, ``exchange=`` OKX,
    ``ib=`` IBKR) for offline tests.
    """
    key = str(platform).strip().lower()
    target = CHAINS.get(key)
    if target is None:
        known = ", ".join(k for k in CHAINS if k != "cme")
        raise ValueError(f"no options chain for platform {platform!r} (known: {known})")
    module, cls = target.split(":")
    chain: OptionsChain = getattr(importlib.import_module(module), cls)(
        source=source, now=now, **venue_kwargs
    )
    return chain
