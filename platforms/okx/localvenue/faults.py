"""Fault switches of the local OKX venue, per request kind, armed by tests or ``POST /control``.

A *kind* is a REST path below ``/api/v5/`` (``trade/order``, ``account/positions``), optionally
prefixed by its method (``POST trade/order`` places, ``GET trade/order`` reads), or ``*`` for any
request. Each armed fault fires ``count`` times, then disarms itself. Modes:

- ``429``: HTTP 429 with OKX's code 50011 (ccxt raises ``RateLimitExceeded``); nothing happens;
- ``5xx``: HTTP ``status`` (default 503) with code 50013 ("system is busy"); nothing happens;
- ``timeout``: hold the request ``hold_s`` seconds (default 30) before handling it, so the
  client's own timeout fires first; the request still takes effect afterwards;
- ``drop``: handle the request (an order takes effect), then close the connection unanswered;
- ``partial``: a market order fills only ``fraction`` (default 0.5) of its size, floored to the
  lot; OKX cancels the rest (state ``canceled`` with ``accFillSz`` > 0);
- ``no_fill``: the order fills at once, but its first ``reads`` (default 2) ``GET trade/order``
  answers show it ``live`` with nothing filled (the venue has not populated it yet);
- ``reject``: the order is refused with ``scode`` (default 51008, insufficient balance).
"""

from __future__ import annotations

from platforms.hyperliquid.localvenue import faults as _hl

__all__ = ["MODES", "TRANSPORT_MODES", "ORDER_MODES", "Fault", "Faults"]

TRANSPORT_MODES = _hl.TRANSPORT_MODES
ORDER_MODES = frozenset({"partial", "no_fill", "reject"})
MODES = TRANSPORT_MODES | ORDER_MODES
Fault = _hl.Fault


class Faults(_hl.Faults):
    """Hyperliquid's fault switches (one implementation) with OKX's modes; a request's kind is
    ``"METHOD path"`` and matches an armed ``"METHOD path"``, bare ``path`` or ``*``."""

    modes = MODES

    def names(self, kind: str) -> tuple[str, ...]:
        return (kind, kind.split(" ", 1)[-1], "*")
