"""Fault switches of the local Robinhood venue: per request kind, armed by tests or /control.

Kinds: ``login`` (POST /oauth2/token/), ``accounts`` (the API host's account), ``quote``,
``crypto_accounts``, ``pairs``, ``order`` (POST /nummus/orders/), ``order_get`` (GET one order),
``orders`` (the order listing), ``cancel``, ``holdings``, or ``*`` for any request. An armed
fault fires ``count`` times, then disarms itself. Modes:

- ``429`` / ``5xx``: answer HTTP 429 / 500 (``status`` param); nothing happens on the venue;
- ``timeout``: hold the request ``hold_s`` seconds (default 30), then handle it: the client's
  own timeout fires first, the request still takes effect afterwards;
- ``drop``: handle the request (an order takes effect), then close the connection unanswered;
- ``partial``: an order fills ``fraction`` (default 0.5) of its quantity, the rest is cancelled;
- ``no_fill``: an order's first ``reads`` (default 2) reads show it working with no fill yet;
- ``reject``: an order is accepted, then rejected with nothing filled.
"""

from __future__ import annotations

from platforms.hyperliquid.localvenue import faults as _hl

__all__ = ["MODES", "ORDER_MODES", "TRANSPORT_MODES", "Fault", "Faults"]

MODES = frozenset({"429", "5xx", "timeout", "drop", "partial", "no_fill", "reject"})
TRANSPORT_MODES = _hl.TRANSPORT_MODES
ORDER_MODES = frozenset({"partial", "no_fill", "reject"})
Fault = _hl.Fault


class Faults(_hl.Faults):
    """Hyperliquid's fault switches (one implementation) with Robinhood's order modes."""

    modes = MODES
