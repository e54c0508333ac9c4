"""Which venues the exchange source can read: a registry the ``platforms`` package fills.

The door (:mod:`shared_tools.market`) knows the sources (exchange, simulated, replay) but no
venue: what Binance US, OKX or Hyperliquid speak lives in ``platforms/<venue>/``, above the
tools, and ``shared_tools`` never imports ``platforms``. So each venue package registers a
*factory* here at import time (``import platforms`` registers them all), and the door asks
:func:`feed` for the venue's :class:`Feed` when the exchange source needs it.

A factory is a callable, or a ``"module:attribute"`` path imported on first use, returning the
feed. Registration imports nothing heavy (no ccxt, SDK or pandas): the price check stays lean.
Standard library only.
"""

from __future__ import annotations

import importlib
import threading
from collections.abc import Callable
from typing import Any, Protocol, runtime_checkable

from shared_tools.market.common import MarketDataError

__all__ = [
    "Feed",
    "feed",
    "register_venue",
    "registered",
    "reset",
    "venue",
]

Factory = Callable[[], Any] | str

_lock = threading.Lock()
_factories: dict[str, Factory] = {}
_feeds: dict[str, Any] = {}


@runtime_checkable
class Feed(Protocol):
    """A venue's raw market data, as the door consumes it (rows, not frames).

    ``refusal`` is None for a venue with public market data, else the one-line cause (TopStep,
    Robinhood, IBKR: no data without an account); the door then fails before any fetch.
    Prices and funding answer per symbol: ``({symbol: value}, {symbol: MarketDataError})``;
    a venue that cannot be reached at all raises :class:`MarketDataError`.
    """

    name: str
    refusal: str | None

    def fetch_rows(
        self, symbol: str, timeframe: str, since_ms: int, limit: int
    ) -> list[list[float]]: ...

    def prices(self, symbols: list[str]) -> tuple[dict[str, float], dict[str, MarketDataError]]: ...

    def funding_rates(
        self, symbols: list[str]
    ) -> tuple[dict[str, float], dict[str, MarketDataError]]: ...

    def funding_history(
        self, symbol: str, start_ms: int, end_ms: int
    ) -> list[dict[str, float]]: ...

    def reset(self) -> None: ...


def register_venue(name: str, factory: Factory) -> None:
    """Make ``name`` readable by the exchange source; the feed is built on first use.

    Registering a name again replaces its factory (and forgets a feed already built).
    """
    key = str(name).strip().lower()
    if not key:
        raise ValueError("a venue needs a name")
    if not (callable(factory) or (isinstance(factory, str) and ":" in factory)):
        raise TypeError(f"factory for {key!r} must be callable or 'module:attribute'")
    with _lock:
        _factories[key] = factory
        _feeds.pop(key, None)


def registered() -> tuple[str, ...]:
    """The venue names the exchange source can read, sorted."""
    with _lock:
        return tuple(sorted(_factories))


def _build(name: str, factory: Factory) -> Any:
    if isinstance(factory, str):
        module, _, attr = factory.partition(":")
        factory = getattr(importlib.import_module(module), attr)
    return factory()


def venue(name: str) -> Any:
    """The registered feed for ``name``; one operator-readable line when there is none."""
    key = str(name).strip().lower()
    with _lock:
        built = _feeds.get(key)
        factory = _factories.get(key)
    if built is not None:
        return built
    if factory is None:
        known = ", ".join(registered()) or "none: the caller did not `import platforms`"
        raise MarketDataError(
            str(name), f"unknown venue (no platform registered for it; known: {known})"
        )
    made = _build(key, factory)
    with _lock:
        return _feeds.setdefault(key, made)


def feed(name: str) -> Any:
    """The feed for ``name``, refusing early (cause and fix) for a venue without public data."""
    found = venue(name)
    cause = getattr(found, "refusal", None)
    if cause:
        raise MarketDataError(
            str(name),
            f"no public market data ({cause}); set market_data to simulated or replay:<dir> "
            "(GO_TRADER_MARKET_DATA)",
        )
    return found


def reset() -> None:
    """Reset every feed built so far (clients, loaded metadata); registrations stay."""
    with _lock:
        built = list(_feeds.values())
    for item in built:
        reset_feed = getattr(item, "reset", None)
        if callable(reset_feed):
            reset_feed()
