"""Real venues through ccxt. ccxt is imported lazily: the simulated path never pays for it.

``GO_TRADER_EXCHANGE_URL`` (e.g. ``http://127.0.0.1:8765``) replaces the scheme and host of
every REST base URL of the client, so tests point the real ccxt client at a fake server.
"""

from __future__ import annotations

import math
import os
import re
import threading
import time
from typing import Any

from shared_tools.market.common import ENV_EXCHANGE_URL, TIMEFRAMES, MarketDataError, one_line

TIMEOUT_MS = 10_000
# largest page each venue serves per klines request (others: let the venue cap it)
_PAGE_MAX = {"binance": 1000, "binanceus": 1000, "okx": 300, "luno": 1000}
_ORIGIN = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*://[^/]+")

_lock = threading.Lock()
_clients: dict[tuple[str, str, int], Any] = {}


def _override_urls(node: Any, base: str) -> Any:
    if isinstance(node, dict):
        return {k: _override_urls(v, base) for k, v in node.items()}
    if isinstance(node, str):
        return _ORIGIN.sub(base, node, count=1)
    return node


def client(venue: str) -> Any:
    """One ccxt client per venue, URL override and process (markets are loaded once)."""
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
        raise MarketDataError(
            str(venue), "unknown venue (not a ccxt exchange id; try binanceus, binance, okx, luno)"
        )
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


def fetch_rows(
    venue: str, symbol: str, timeframe: str, since_ms: int, limit: int
) -> list[list[float]]:
    """Up to ``limit`` bars opening at or after ``since_ms``, paging forward as needed."""
    tf_ms = TIMEFRAMES[timeframe] * 1000
    page_max = _PAGE_MAX.get(venue, 500)
    try:
        ex = client(venue)
        ex.load_markets()
        rows: list[list[float]] = []
        cursor = int(since_ms)
        remaining = int(limit)
        while remaining > 0:
            page = ex.fetch_ohlcv(symbol, timeframe, since=cursor, limit=min(remaining, page_max))
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
        raise wrap(venue, exc, symbol) from exc


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


def prices(venue: str, symbols: list[str]) -> tuple[dict[str, float], dict[str, MarketDataError]]:
    """Latest trade price per symbol the venue can quote, and why each other symbol has none.

    A venue that cannot be reached (or is unknown) raises: every symbol would fail the same
    way. A symbol the venue does not list, refuses, or quotes without a price costs only
    itself, so one bad symbol never blanks the marks of the others.
    """
    try:
        ex = client(venue)
        ex.load_markets()
    except Exception as exc:
        raise wrap(venue, exc, ", ".join(symbols)) from exc
    missing: dict[str, MarketDataError] = {}
    unified: dict[str, str] = {}
    for sym in symbols:
        try:
            unified[sym] = ex.market(sym)["symbol"]
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
