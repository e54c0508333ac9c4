"""Real venues through ccxt. ccxt is imported lazily: the simulated path never pays for it.

``GO_TRADER_EXCHANGE_URL`` (e.g. ``http://127.0.0.1:8765``) replaces the scheme and host of
every REST base URL of the client, so tests point the real ccxt client at a fake server.

Venue names are ccxt ids, plus ``okx-swap`` (OKX's USDT perpetuals, the marks and candles of
OKX perps strategies). Symbols are taken as the strategy configs write them and mapped to
ccxt's unified form: on OKX ``BTC`` is ``BTC/USDT`` (spot) or ``BTC/USDT:USDT`` (swap); on
Luno ``XBT/ZAR`` is ccxt's ``BTC/ZAR``.
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
# our venue name -> the ccxt exchange id serving it
CCXT_IDS = {"okx-swap": "okx"}
FUNDING_VENUES = ("okx", "okx-swap")  # ccxt venues whose perps funding we read
DEFAULT_FUNDING_HOURS = 8.0

_lock = threading.Lock()
_clients: dict[tuple[str, str, int], Any] = {}


def _override_urls(node: Any, base: str) -> Any:
    if isinstance(node, dict):
        return {k: _override_urls(v, base) for k, v in node.items()}
    if isinstance(node, str):
        return _ORIGIN.sub(base, node, count=1)
    return node


def ccxt_id(venue: str) -> str:
    return CCXT_IDS.get(str(venue), str(venue))


def symbol_candidates(venue: str, symbol: str) -> list[str]:
    """ccxt symbols ``symbol`` may mean on ``venue``, most likely first."""
    s = str(symbol).strip()
    if venue == "okx-swap":
        if ":" in s:
            return [s]
        base, _, quote = (s if "/" in s else f"{s}/USDT").upper().partition("/")
        return [f"{base}/{quote}:{quote}"]
    if venue == "okx" and "/" not in s and "-" not in s:
        return [f"{s.upper()}/USDT", s]
    if venue == "luno":
        upper = s.upper()
        return list(dict.fromkeys([s, upper.replace("XBT", "BTC"), upper.replace("BTC", "XBT")]))
    return [s]


def market_symbol(ex: Any, venue: str, symbol: str) -> str:
    """The first candidate the (loaded) venue lists; else the first, for ccxt to judge."""
    candidates = symbol_candidates(venue, symbol)
    markets = getattr(ex, "markets", None) or {}
    for candidate in candidates:
        if candidate in markets:
            return candidate
    return candidates[0]


def client(venue: str) -> Any:
    """One ccxt client per venue, URL override and process (markets are loaded once)."""
    venue = ccxt_id(venue)
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
    page_max = _PAGE_MAX.get(ccxt_id(venue), 500)
    try:
        ex = client(venue)
        ex.load_markets()
        unified = market_symbol(ex, venue, symbol)
        rows: list[list[float]] = []
        cursor = int(since_ms)
        remaining = int(limit)
        while remaining > 0:
            page = ex.fetch_ohlcv(unified, timeframe, since=cursor, limit=min(remaining, page_max))
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
            unified[sym] = ex.market(market_symbol(ex, venue, sym))["symbol"]
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


def _interval_hours(value: Any) -> float | None:
    """``"8h"`` -> 8.0 (ccxt's funding ``interval``); None when absent or odd."""
    text = str(value or "").strip().lower()
    if text.endswith("h") and text[:-1].isdigit() and int(text[:-1]) > 0:
        return float(text[:-1])
    return None


def _funding_venue(venue: str) -> None:
    if venue not in FUNDING_VENUES:
        raise MarketDataError(venue, "no perpetual funding on this venue (spot only)")


def funding_rates(
    venue: str, symbols: list[str]
) -> tuple[dict[str, float], dict[str, MarketDataError]]:
    """Current funding per symbol, made hourly (OKX quotes it per 8h interval)."""
    _funding_venue(venue)
    try:
        ex = client(venue)
        ex.load_markets()
    except Exception as exc:
        raise wrap(venue, exc, ", ".join(symbols)) from exc
    out: dict[str, float] = {}
    missing: dict[str, MarketDataError] = {}
    for sym in symbols:
        try:
            info = ex.fetch_funding_rate(market_symbol(ex, "okx-swap", sym))
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


def funding_history(venue: str, symbol: str, start_ms: int, end_ms: int) -> list[dict[str, float]]:
    """Funding records ``[{"time": ms, "rate": hourly}, ...]`` in [start_ms, end_ms].

    The interval is read from the spacing of the records (OKX: usually 8 h), so the rates are
    hourly like Hyperliquid's and the funding strategies' thresholds mean the same everywhere.
    """
    _funding_venue(venue)
    try:
        ex = client(venue)
        ex.load_markets()
        unified = market_symbol(ex, "okx-swap", symbol)
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
        raise wrap(venue, exc, symbol) from exc
    times = sorted(raw)
    gaps = sorted(b - a for a, b in zip(times, times[1:], strict=False) if b > a)
    hours = gaps[len(gaps) // 2] / 3_600_000 if gaps else DEFAULT_FUNDING_HOURS
    hours = min(max(hours, 1.0), 24.0)
    return [{"time": t, "rate": raw[t] / hours} for t in times]
