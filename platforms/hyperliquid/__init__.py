"""Hyperliquid: perps through hyperliquid-python-sdk's read-only Info client (``market_data``,
which is the venue's feed), its Venue (``venue``)."""

from shared_tools.market.registry import register_venue


def _feed():
    from platforms.hyperliquid import market_data  # lazy: the SDK loads on the first request

    return market_data


register_venue("hyperliquid", _feed)
