"""What every venue offers the rest of the project: the :class:`Venue` protocol.

A venue package (``platforms/<venue>/``) holds what is specific to one venue: its market-data
feed (registered with the door, :mod:`shared_tools.market.registry`), how its own metadata
becomes an :class:`~shared_tools.book.instruments.Instrument` row, references to its fee and
funding rules in the book's tables, and a :class:`Venue` object (``platforms.<venue>.venue``).

:class:`DoorVenue` implements the protocol through the market-data door, so a venue's candles,
marks and funding follow the configured source (exchange / simulated / replay) like every
worker's: under ``GO_TRADER_MARKET_DATA=simulated`` a venue answers offline.

Execution (later, as live trading arrives venue by venue) extends the protocol with:

* ``place_order(symbol, side, qty, price=None, kind=...)`` rounding with the instrument row and
  refusing what :meth:`Instrument.order_refusal` refuses, returning the venue's order id;
* ``cancel_order(order_id)`` and ``open_orders(symbols)``;
* ``positions()`` (the venue's own view, to reconcile the paper book with);
* ``fills(since)`` (executions with their fees, for the book's trade rows);
* credentials read from the environment by each venue, never by the door.

None of these exist yet: the build trades paper only, and no method here pretends otherwise.
Imports nothing heavy: the door is imported inside the methods.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from shared_tools.book.instruments import KINDS, Instrument, instrument
from shared_tools.book.venues import taker_fee
from shared_tools.market.common import MarketDataError

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

__all__ = ["DoorVenue", "NoPublicData", "Venue"]

Answer = tuple[dict[str, float], dict[str, MarketDataError]]


@runtime_checkable
class Venue(Protocol):
    """One trading venue, as strategies, checks and (later) the order edge see it.

    ``kind`` is ``spot``, ``perps`` or ``futures``; None means the venue's main product
    (``kinds[0]``). Prices and funding answer per symbol: ``({symbol: value},
    {symbol: MarketDataError})``, so one bad symbol never blanks the others.
    """

    name: str
    kinds: tuple[str, ...]  # the products this venue trades, the main one first

    def candles(
        self,
        symbol: str,
        timeframe: str,
        limit: int = 300,
        *,
        kind: str | None = None,
        source: str | None = None,
        now: datetime | None = None,
    ) -> pd.DataFrame:
        """The last ``limit`` closed bars at ``now`` (the door's frame: open..volume, UTC)."""
        ...

    def marks(
        self, symbols: Iterable[str], *, kind: str | None = None, source: str | None = None
    ) -> Answer:
        """Latest price per symbol (the price check's marks)."""
        ...

    def funding(self, symbols: Iterable[str], *, source: str | None = None) -> Answer:
        """Current hourly funding per perp; a venue without perps says so per symbol."""
        ...

    def instrument(self, symbol: str, kind: str | None = None) -> Instrument:
        """The venue's row for ``symbol``: its own metadata when loaded, else the static table."""
        ...

    def instruments(
        self, symbols: Iterable[str], kind: str | None = None, *, refresh: bool = False
    ) -> dict[str, Instrument]:
        """Rows for ``symbols``; ``refresh`` first loads the venue's metadata (network)."""
        ...


class DoorVenue:
    """A :class:`Venue` that reads through the market-data door; venues override the facts.

    Subclasses set ``name`` and ``kinds`` and may override :meth:`data_venue` (the door's
    venue name for a product: OKX's perps are ``okx-swap``) and :meth:`metadata_row` (the
    venue's own metadata as an Instrument, when the door has it loaded).
    """

    name: str = ""
    kinds: tuple[str, ...] = ("spot",)
    no_funding: str = "no perpetual funding on this venue (spot only)"

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name}>"

    # ----------------------------------------------------------------- venue facts

    def kind_of(self, kind: str | None) -> str:
        return self.kinds[0] if kind is None else kind

    def data_venue(self, kind: str | None = None) -> str:
        """The door's venue name for this product's candles and marks."""
        return self.name

    def funding_venue(self) -> str | None:
        """The door's venue name for perps funding; None when the venue has no perps."""
        return self.data_venue("perps") if "perps" in self.kinds else None

    def fee(self, kind: str | None = None) -> float:
        """The modelled taker fee (the book's table, :func:`shared_tools.book.venues.taker_fee`)."""
        return taker_fee(self.name, self.kind_of(kind))

    # ----------------------------------------------------------------- market data

    def candles(
        self,
        symbol: str,
        timeframe: str,
        limit: int = 300,
        *,
        kind: str | None = None,
        source: str | None = None,
        now: datetime | None = None,
    ) -> pd.DataFrame:
        from shared_tools.market import ohlcv

        venue = self.data_venue(self.kind_of(kind))
        return ohlcv.fetch_ohlcv(symbol, timeframe, limit, source=source, venue=venue, now=now)

    def marks(
        self, symbols: Iterable[str], *, kind: str | None = None, source: str | None = None
    ) -> Answer:
        from shared_tools.market import prices

        venue = self.data_venue(self.kind_of(kind))
        return prices.fetch_prices_partial(list(symbols), source=source, venue=venue)

    def funding(self, symbols: Iterable[str], *, source: str | None = None) -> Answer:
        given = list(dict.fromkeys(symbols))
        venue = self.funding_venue()
        if venue is None:
            error = MarketDataError(self.name, self.no_funding)
            return {}, {s: error for s in given}
        from shared_tools.market import funding

        return funding.fetch_funding_rates(given, venue=venue, source=source)

    # ----------------------------------------------------------------- instruments

    def metadata_row(self, symbol: str, kind: str) -> Instrument | None:
        """The venue's own metadata as a row, when the door already holds it (no network)."""
        return None

    def load_metadata(self, kind: str) -> None:
        """Ask the venue for its metadata (network); a venue without any does nothing."""

    def instrument(self, symbol: str, kind: str | None = None) -> Instrument:
        kind = self.kind_of(kind)
        row = self.metadata_row(symbol, kind) if kind in KINDS else None
        return row if row is not None else instrument(self.name, symbol, kind)

    def instruments(
        self, symbols: Iterable[str], kind: str | None = None, *, refresh: bool = False
    ) -> dict[str, Instrument]:
        kind = self.kind_of(kind)
        if refresh:
            self.load_metadata(kind)
        return {s: self.instrument(s, kind) for s in dict.fromkeys(symbols)}


class NoPublicData:
    """The door's feed for a venue that publishes no market data without an account.

    The door refuses before any fetch (``refusal`` names the cause); the methods raise the
    same line in case a caller reaches them directly.
    """

    def __init__(self, name: str, refusal: str) -> None:
        self.name = name
        self.refusal = refusal

    def __repr__(self) -> str:
        return f"NoPublicData({self.name!r})"

    def _refuse(self, *_: Any) -> Any:
        raise MarketDataError(self.name, f"no public market data ({self.refusal})")

    def fetch_rows(self, symbol: str, timeframe: str, since_ms: int, limit: int) -> Any:
        return self._refuse()

    def prices(self, symbols: list[str]) -> Any:
        return self._refuse()

    def funding_rates(self, symbols: list[str]) -> Any:
        return self._refuse()

    def funding_history(self, symbol: str, start_ms: int, end_ms: int) -> Any:
        return self._refuse()

    def reset(self) -> None:
        """Nothing to forget."""
