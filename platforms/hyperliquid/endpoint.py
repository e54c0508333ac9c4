"""The one Hyperliquid API base URL every layer uses (market data, execution, account reads).

``GO_TRADER_HL_BASE_URL`` (the supervisor sets it from config ``hyperliquid.base_url``) wins;
``GO_TRADER_EXCHANGE_URL`` (the tests' generic fake-exchange override) comes next; else mainnet.
Upstream let its Go side read mainnet while Python traded testnet (docs/architecture.md, the
venue packages): one function here prevents that split. Orders are signed, so a remote base must
be https (plain http only on loopback, for the local venue). Standard library only.
"""

from __future__ import annotations

import os

from shared_tools.urls import insecure_base

__all__ = ["ENV_BASE_URL", "MAINNET_URL", "base_url"]

ENV_BASE_URL = "GO_TRADER_HL_BASE_URL"
ENV_EXCHANGE_URL = "GO_TRADER_EXCHANGE_URL"  # shared_tools.market.common's test override
MAINNET_URL = "https://api.hyperliquid.xyz"


def base_url() -> str:
    """The API root without a trailing slash; ValueError naming the variable when unsafe."""
    for name in (ENV_BASE_URL, ENV_EXCHANGE_URL):
        raw = os.environ.get(name, "").strip()
        if raw:
            why = insecure_base(name, raw, "the Hyperliquid API base")
            if why:
                raise ValueError(why)
            return raw.rstrip("/")
    return MAINNET_URL
