"""Fault switches of the local TopStep venue, per endpoint, armed by tests or ``POST /control``.

A *kind* is an endpoint's path after ``/api/`` (``Order/place``, ``Order/search``,
``Trade/search``, ``Position/searchOpen``, ``Position/closeContract``, ``Auth/loginKey``, ...),
its bare verb (``place``, ``searchOpen``: every endpoint of that verb), or ``*`` for any.
Each armed fault fires ``count`` times.
Modes (the live-venue contract's list):

- ``429`` / ``5xx``: answer HTTP 429 / 500 (``status`` param) before anything happens;
- ``timeout``: hold the request ``hold_s`` seconds (default 30), then handle it (it takes
  effect after the client gave up);
- ``drop``: handle the request (an order takes effect), then close the connection unanswered;
- ``partial``: a market order fills ``fraction`` (default 0.5, whole contracts, at least one)
  of its size; the rest is cancelled;
- ``no_fill``: a market order shows no fill on the first ``reads`` (default 2) order reads,
  then fills at the price of that moment.
"""

from __future__ import annotations

from platforms.hyperliquid.localvenue import faults as _hl

__all__ = ["MODES", "TRANSPORT_MODES", "Fault", "Faults"]

MODES = frozenset({"429", "5xx", "timeout", "drop", "partial", "no_fill"})
TRANSPORT_MODES = _hl.TRANSPORT_MODES
ORDER_MODES = frozenset({"partial", "no_fill"})
Fault = _hl.Fault


class Faults(_hl.Faults):
    """Hyperliquid's fault switches (one implementation) with TopStep's modes and kinds."""

    modes = MODES

    def names(self, kind: str) -> tuple[str, ...]:
        return (kind, kind.rsplit("/", 1)[-1], "*")
