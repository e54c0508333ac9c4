"""The ccxt plumbing the ccxt venues share (Binance US, OKX, Luno, Deribit): one :class:`CcxtFeed`
per venue name, configured by the venue package with what is specific to it (the ccxt id, the
page size of its klines, how a config symbol maps to ccxt's unified one, whether it has perps
funding). ccxt is imported lazily: the simulated path and the price check never pay for it.

``GO_TRADER_EXCHANGE_URL`` (e.g. ``http://127.0.0.1:8765``) replaces the scheme and host of
every REST base URL of the client, so tests point the real ccxt client at a fake server.
Moved here from ``shared_tools/market/exchange.py``; the per-venue facts moved to
``platforms/<venue>/market_data.py``.
"""

from __future__ import annotations

import math
import os
import re
import threading
import time
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from platforms.base import DoorVenue
from shared_tools.book.instruments import Instrument, from_ccxt_market
from shared_tools.market.common import ENV_EXCHANGE_URL, TIMEFRAMES, MarketDataError, one_line

__all__ = ["CcxtFeed", "CcxtVenue", "client", "reset", "wrap"]

TIMEOUT_MS = 10_000
DEFAULT_PAGE = 500  # bars per klines request for a venue package that states no page size
_ORIGIN = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*://[^/]+")
DEFAULT_FUNDING_HOURS = 8.0

_lock = threading.Lock()
_clients: dict[tuple[str, str, int], Any] = {}


def _override_urls(node: Any, base: str) -> Any:
    if isinstance(node, dict):
        return {k: _override_urls(v, base) for k, v in node.items()}
    if isinstance(node, str):
        return _ORIGIN.sub(base, node, count=1)
    return node


def market_symbol(ex: Any, candidates: list[str]) -> str:
    """The first candidate the (loaded) venue lists; else the first, for ccxt to judge."""
    markets = getattr(ex, "markets", None) or {}
    for candidate in candidates:
        if candidate in markets:
            return candidate
    return candidates[0]


def client(venue: str) -> Any:
    """One ccxt client per ccxt id, URL override and process (markets are loaded once)."""
    url = os.environ.get(ENV_EXCHANGE_URL, "").strip().rstrip("/")
    key = (venue, url, os.getpid())
    with _lock:
        if key in _clients:
            return _clients[key]
    try:
        import ccxt  # lazy: only the exchange source needs it
    except ImportError as exc:  # pragma: no cover - ccxt is a hard dependency
        raise MarketDataError(venue, f"ccxt is not installed ({exc})") from exc
    cls = getattr(ccxt, str(venue), None) if str(venue) in ccxt.exchanges else None
    if cls is None:
        raise MarketDataError(str(venue), "unknown venue (not a ccxt exchange id)")
    ex = cls({"timeout": TIMEOUT_MS, "enableRateLimit": True})
    if url:
        if not _ORIGIN.match(url):
            raise MarketDataError(
                venue, f"{ENV_EXCHANGE_URL}={url!r} is not a URL like http://host:port"
            )
        ex.urls["api"] = _override_urls(ex.urls.get("api"), url)
    with _lock:
        _clients[key] = ex
    return ex


def reset() -> None:
    with _lock:
        _clients.clear()


def _root_cause(exc: BaseException) -> BaseException | None:
    seen: list[BaseException] = [exc]
    cur = exc.__cause__ or exc.__context__
    while cur is not None and cur not in seen and len(seen) < 12:
        seen.append(cur)
        cur = cur.__cause__ or cur.__context__
    return seen[-1] if len(seen) > 1 and str(seen[-1]) else None


def wrap(venue: str, exc: BaseException, symbol: str | None = None) -> MarketDataError:
    """Translate any failure into one line an operator can act on."""
    if isinstance(exc, MarketDataError):
        return exc
    name = type(exc).__name__
    detail = one_line(str(exc), 160) or name
    root = _root_cause(exc)
    if root is not None:  # ccxt hides e.g. "Name or service not known" in the chain
        detail += f" <- {type(root).__name__}: {one_line(str(root), 100)}"
    cause = f"({name}: {detail})" if detail != name else f"({name})"
    about = f" for {symbol}" if symbol else ""
    try:
        import ccxt
    except ImportError:  # pragma: no cover
        ccxt = None
    if ccxt is not None and isinstance(exc, ccxt.NetworkError):
        text = (
            f"cannot reach the exchange {cause}; "
            "check network or set GO_TRADER_MARKET_DATA=simulated"
        )
    elif ccxt is not None and isinstance(exc, ccxt.BadSymbol):
        text = f"unknown symbol {symbol!r} {cause}"
    elif ccxt is not None and isinstance(exc, ccxt.ExchangeError):
        text = f"exchange rejected the request{about} {cause}"
    else:
        text = f"unexpected error{about} {cause}"
    return MarketDataError(venue, text)


def _positive(value: Any) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) and number > 0 else None


def _ticker_price(ticker: dict) -> float | None:
    """The ticker's last trade (or close), else the bid/ask mid; None when it has no price."""
    for field in ("last", "close"):
        value = _positive(ticker.get(field))
        if value is not None:
            return value
    bid, ask = _positive(ticker.get("bid")), _positive(ticker.get("ask"))
    if bid is not None and ask is not None:
        return (bid + ask) / 2.0
    return None


def _network_error(exc: BaseException) -> bool:
    """True for failures that say the venue itself is unreachable (all symbols would fail)."""
    try:
        import ccxt
    except ImportError:  # pragma: no cover
        return False
    return isinstance(exc, ccxt.NetworkError)


def _tickers(ex: Any, wanted: list[str]) -> tuple[dict[str, Any], dict[str, BaseException]]:
    """Tickers for ``wanted`` (unified symbols), one request where the venue supports it.

    When the venue refuses the batched request (one delisted or halted symbol is enough on
    some venues), each symbol is asked for on its own so the others still get a price.
    """
    if len(wanted) > 1 and ex.has.get("fetchTickers"):
        try:
            return ex.fetch_tickers(wanted), {}
        except Exception as exc:
            if _network_error(exc):
                raise
    elif len(wanted) == 1:
        try:
            return {wanted[0]: ex.fetch_ticker(wanted[0])}, {}
        except Exception as exc:
            if _network_error(exc):
                raise
            return {}, {wanted[0]: exc}
    tickers: dict[str, Any] = {}
    failed: dict[str, BaseException] = {}
    for uni in wanted:
        try:
            tickers[uni] = ex.fetch_ticker(uni)
        except Exception as exc:  # the venue answered moments ago: this symbol's own failure
            failed[uni] = exc
    return tickers, failed


def _interval_hours(value: Any) -> float | None:
    """``"8h"`` -> 8.0 (ccxt's funding ``interval``); None when absent or odd."""
    text = str(value or "").strip().lower()
    if text.endswith("h") and text[:-1].isdigit() and int(text[:-1]) > 0:
        return float(text[:-1])
    return None


def as_given(symbol: str) -> list[str]:
    """The symbol as the config writes it (ccxt's unified form already)."""
    return [str(symbol).strip()]


NO_FUNDING = "no perpetual funding on this venue (spot only)"


class CcxtFeed:
    """One venue name read through ccxt: candles, tickers and, where the venue has perps, funding.

    ``symbols`` maps a config symbol to the ccxt symbols it may mean, most likely first;
    ``funding_symbols`` does the same for the funding requests and is None on a venue whose
    funding this project does not read (``no_funding`` says why, per symbol).
    """

    refusal: str | None = None

    def __init__(
        self,
        name: str,
        *,
        ccxt_id: str | None = None,
        page_max: int = DEFAULT_PAGE,
        symbols: Callable[[str], list[str]] = as_given,
        funding_symbols: Callable[[str], list[str]] | None = None,
        no_funding: str = NO_FUNDING,
    ) -> None:
        self.name = name
        self.ccxt_id = ccxt_id or name
        self.page_max = page_max
        self.symbols = symbols
        self.funding_symbols = funding_symbols
        self.no_funding = no_funding

    def __repr__(self) -> str:
        return f"CcxtFeed({self.name!r}, ccxt_id={self.ccxt_id!r})"

    # ------------------------------------------------------------------ plumbing

    def client(self) -> Any:
        return client(self.ccxt_id)

    def _loaded(self) -> Any:
        ex = self.client()
        ex.load_markets()
        return ex

    def market_symbol(self, ex: Any, symbol: str) -> str:
        return market_symbol(ex, self.symbols(symbol))

    def reset(self) -> None:
        reset()

    def loaded_market(self, symbol: str) -> dict | None:
        """ccxt's market for ``symbol`` when this process already loaded the venue's markets.

        Never asks the network: the Venue's ``instrument()`` prefers the venue's own metadata
        when the door has it, else the book's static row.
        """
        url = os.environ.get(ENV_EXCHANGE_URL, "").strip().rstrip("/")
        with _lock:
            ex = _clients.get((self.ccxt_id, url, os.getpid()))
        markets = getattr(ex, "markets", None) if ex is not None else None
        if not markets:
            return None
        found = markets.get(market_symbol(ex, self.symbols(symbol)))
        return found if isinstance(found, dict) else None

    def load_metadata(self) -> None:
        """Load the venue's markets (one request, network)."""
        try:
            self._loaded()
        except Exception as exc:
            raise wrap(self.name, exc) from exc

    # ------------------------------------------------------------------ the Feed

    def fetch_rows(
        self, symbol: str, timeframe: str, since_ms: int, limit: int
    ) -> list[list[float]]:
        """Up to ``limit`` bars opening at or after ``since_ms``, paging forward as needed."""
        tf_ms = TIMEFRAMES[timeframe] * 1000
        try:
            ex = self._loaded()
            unified = self.market_symbol(ex, symbol)
            rows: list[list[float]] = []
            cursor = int(since_ms)
            remaining = int(limit)
            while remaining > 0:
                page = ex.fetch_ohlcv(
                    unified, timeframe, since=cursor, limit=min(remaining, self.page_max)
                )
                page = [r for r in page or [] if r and r[0] is not None and r[0] >= cursor]
                if not page:
                    break
                rows.extend(page)
                remaining -= len(page)
                last = int(page[-1][0])
                if last + 2 * tf_ms > time.time() * 1000:  # reached the present
                    break
                cursor = last + tf_ms
            return rows
        except Exception as exc:
            raise wrap(self.name, exc, symbol) from exc

    def prices(self, symbols: list[str]) -> tuple[dict[str, float], dict[str, MarketDataError]]:
        """Latest trade price per symbol the venue can quote, and why each other symbol has none.

        A venue that cannot be reached (or is unknown) raises: every symbol would fail the same
        way. A symbol the venue does not list, refuses, or quotes without a price costs only
        itself, so one bad symbol never blanks the marks of the others.
        """
        venue = self.name
        try:
            ex = self._loaded()
        except Exception as exc:
            raise wrap(venue, exc, ", ".join(symbols)) from exc
        missing: dict[str, MarketDataError] = {}
        unified: dict[str, str] = {}
        for sym in symbols:
            try:
                unified[sym] = ex.market(self.market_symbol(ex, sym))["symbol"]
            except Exception as exc:
                missing[sym] = wrap(venue, exc, sym)
        try:
            tickers, failed = _tickers(ex, sorted(set(unified.values())))
        except Exception as exc:
            raise wrap(venue, exc, ", ".join(unified)) from exc
        out: dict[str, float] = {}
        for sym, uni in unified.items():
            if uni in failed:
                missing[sym] = wrap(venue, failed[uni], sym)
                continue
            value = _ticker_price(tickers.get(uni) or {})
            if value is None:
                missing[sym] = MarketDataError(venue, f"no price for {sym} in the venue's ticker")
            else:
                out[sym] = value
        return out, missing

    def _funding_symbol(self, ex: Any, symbol: str) -> str:
        if self.funding_symbols is None:
            raise MarketDataError(self.name, self.no_funding)
        return market_symbol(ex, self.funding_symbols(symbol))

    def funding_rates(
        self, symbols: list[str]
    ) -> tuple[dict[str, float], dict[str, MarketDataError]]:
        """Current funding per symbol, made hourly (OKX quotes it per 8h interval)."""
        venue = self.name
        if self.funding_symbols is None:
            error = MarketDataError(venue, self.no_funding)
            return {}, {s: error for s in symbols}
        try:
            ex = self._loaded()
        except Exception as exc:
            raise wrap(venue, exc, ", ".join(symbols)) from exc
        out: dict[str, float] = {}
        missing: dict[str, MarketDataError] = {}
        for sym in symbols:
            try:
                info = ex.fetch_funding_rate(self._funding_symbol(ex, sym))
                rate = float(info["fundingRate"])
                if not math.isfinite(rate):
                    raise ValueError(f"funding rate {rate!r}")
            except Exception as exc:
                if _network_error(exc):
                    raise wrap(venue, exc, sym) from exc
                missing[sym] = wrap(venue, exc, sym)
                continue
            hours = _interval_hours(info.get("interval")) or DEFAULT_FUNDING_HOURS
            out[sym] = rate / hours
        return out, missing

    def funding_history(self, symbol: str, start_ms: int, end_ms: int) -> list[dict[str, float]]:
        """Funding records ``[{"time": ms, "rate": hourly}, ...]`` in [start_ms, end_ms].

        The interval is read from the spacing of the records (OKX: usually 8 h), so the rates
        are hourly like Hyperliquid's and the funding strategies' thresholds mean the same
        everywhere.
        """
        if self.funding_symbols is None:
            raise MarketDataError(self.name, self.no_funding)
        try:
            ex = self._loaded()
            unified = self._funding_symbol(ex, symbol)
            raw: dict[int, float] = {}
            cursor = int(start_ms)
            for _ in range(40):
                if cursor > end_ms:
                    break
                page = ex.fetch_funding_rate_history(unified, since=cursor, limit=100) or []
                fresh = {
                    int(r["timestamp"]): float(r["fundingRate"])
                    for r in page
                    if r.get("timestamp") is not None
                    and r.get("fundingRate") is not None
                    and cursor <= int(r["timestamp"]) <= end_ms
                }
                if not fresh:
                    break
                raw.update(fresh)
                cursor = max(fresh) + 1
        except Exception as exc:
            raise wrap(self.name, exc, symbol) from exc
        times = sorted(raw)
        gaps = sorted(b - a for a, b in zip(times, times[1:], strict=False) if b > a)
        hours = gaps[len(gaps) // 2] / 3_600_000 if gaps else DEFAULT_FUNDING_HOURS
        hours = min(max(hours, 1.0), 24.0)
        return [{"time": t, "rate": raw[t] / hours} for t in times]


# ---------------------------------------------------------------------- the Venue side


def _door_feed(name: str) -> CcxtFeed | None:
    from shared_tools.market import registry

    try:
        found = registry.venue(name)
    except MarketDataError:
        return None
    return found if isinstance(found, CcxtFeed) else None


class CcxtVenue(DoorVenue):
    """A :class:`~platforms.base.Venue` read through ccxt: the instrument row comes from the
    venue's own market (:func:`~shared_tools.book.instruments.from_ccxt_market`) once this
    process has loaded the markets, else from the book's static table."""

    def _market(self, symbol: str, kind: str) -> dict | None:
        feed = _door_feed(self.data_venue(kind))
        market = feed.loaded_market(symbol) if feed is not None else None
        if market is None:
            return None
        listed = "perps" if market.get("swap") else "futures" if market.get("future") else "spot"
        return market if listed == kind else None

    def metadata_row(self, symbol: str, kind: str) -> Instrument | None:
        market = self._market(symbol, kind)
        if market is None:
            return None
        return replace(from_ccxt_market(self.name, market), symbol=symbol)

    def load_metadata(self, kind: str) -> None:
        feed = _door_feed(self.data_venue(kind))
        if feed is not None:
            feed.load_metadata()
