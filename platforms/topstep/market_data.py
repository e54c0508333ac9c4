"""TopStep's market data: CME futures candles from Yahoo Finance's public chart endpoint.

TopStep itself publishes no data without a funded account, so paper strategies on real prices
read Yahoo's continuous front-month series (``ES=F``, ``NQ=F``, ``MES=F``, ...) through
``GET <base>/v8/finance/chart/<ticker>`` with ``requests``. We call the JSON endpoint rather than
the ``yfinance`` package: it is one GET whose base URL is a setting (``GO_TRADER_YAHOO_BASE_URL``,
default ``https://query1.finance.yahoo.com``), so tests replay recorded-shape answers from a
local server on 127.0.0.1, and it adds no dependency (yfinance brings pandas-side scrapers and
its own HTTP client that cannot be pointed at a local server).

This module is TopStep's feed for the market-data door (registered by
``platforms/topstep/__init__.py``); the door's SQLite OHLCV cache applies as for any venue, and
the simulated market stays the offline default (``GO_TRADER_MARKET_DATA``).

Bars: Yahoo serves 1m (last 7 days), 5m/15m/30m (last 60 days) and 60m (last 730 days).
3m bars are built from 1m ones; 2h..1d bars from 60m ones, bucketed on the epoch like every
other source of this project (Yahoo's own daily bars open at the CME session start instead).
Futures do not trade at weekends or in the daily halt, so a window holds fewer bars than its
span. There is no funding (CME futures).
"""

from __future__ import annotations

import math
import os
import time
from typing import Any

from shared_tools.market.common import TIMEFRAMES, MarketDataError, one_line
from shared_tools.urls import insecure_base

__all__ = [
    "ENV_BASE_URL",
    "YAHOO_TICKERS",
    "feed",
    "fetch_rows",
    "funding_history",
    "funding_rates",
    "name",
    "prices",
    "refusal",
    "reset",
    "ticker",
]

VENUE = "topstep"
name = VENUE
refusal: str | None = None  # public data (Yahoo), no account needed
ENV_BASE_URL = "GO_TRADER_YAHOO_BASE_URL"
DEFAULT_BASE_URL = "https://query1.finance.yahoo.com"
TIMEOUT_S = 10.0
USER_AGENT = "Mozilla/5.0 (X11; Linux x86_64) go-trader"  # Yahoo refuses library agents
DAY_MS = 86_400_000
# TopStep's root symbols -> Yahoo's continuous front-month tickers
YAHOO_TICKERS: dict[str, str] = {
    root: f"{root}=F"
    for root in (
        "ES", "NQ", "MES", "MNQ", "RTY", "M2K", "YM", "MYM",
        "CL", "MCL", "NG", "GC", "MGC", "SI", "HG", "ZB", "ZN", "ZF", "6E", "6J",
    )
}  # fmt: skip
# our timeframe -> (Yahoo interval, its bar in ms, how far back Yahoo serves it, one request's span)
_SOURCE: dict[str, tuple[str, int, int, int]] = {
    "1m": ("1m", 60_000, 7 * DAY_MS, 7 * DAY_MS),
    "5m": ("5m", 300_000, 59 * DAY_MS, 59 * DAY_MS),
    "15m": ("15m", 900_000, 59 * DAY_MS, 59 * DAY_MS),
    "30m": ("30m", 1_800_000, 59 * DAY_MS, 59 * DAY_MS),
    "60m": ("60m", 3_600_000, 729 * DAY_MS, 729 * DAY_MS),
}
_FROM = {"1m": "1m", "3m": "1m", "5m": "5m", "15m": "15m", "30m": "30m"}  # else 60m


def feed() -> Any:
    """The door's Feed for TopStep: this module."""
    import sys

    return sys.modules[__name__]


def reset() -> None:
    """Nothing is cached here (the door caches bars); kept for the Feed protocol."""


def base_url() -> str:
    raw = os.environ.get(ENV_BASE_URL, "").strip()
    if not raw:
        return DEFAULT_BASE_URL
    why = insecure_base(ENV_BASE_URL, raw, "the Yahoo chart API base")
    if why:
        raise MarketDataError(VENUE, why)
    return raw.rstrip("/")


def ticker(symbol: str) -> str:
    """``ES``, ``es``, ``ES=F`` -> ``ES=F``; MarketDataError names the known roots."""
    root = str(symbol).strip().upper().removesuffix("=F")
    if root not in YAHOO_TICKERS:
        known = ", ".join(YAHOO_TICKERS)
        raise MarketDataError(VENUE, f"no Yahoo Finance series for {symbol!r} (known: {known})")
    return YAHOO_TICKERS[root]


def _chart(tick: str, params: dict[str, Any]) -> dict[str, Any]:
    """One chart answer's ``result[0]``; one-line MarketDataError on any failure."""
    import requests

    url = f"{base_url()}/v8/finance/chart/{tick}"
    try:
        resp = requests.get(
            url, params=params, headers={"User-Agent": USER_AGENT}, timeout=TIMEOUT_S
        )
    except requests.RequestException as exc:
        raise MarketDataError(VENUE, f"Yahoo Finance unreachable ({type(exc).__name__})") from None
    try:
        body = resp.json()
    except ValueError:
        body = None
    chart = body.get("chart") if isinstance(body, dict) else None
    err = chart.get("error") if isinstance(chart, dict) else None
    if resp.status_code != 200 or err or not isinstance(chart, dict):
        why = err.get("description") if isinstance(err, dict) else resp.text
        raise MarketDataError(
            VENUE, f"Yahoo Finance {tick}: HTTP {resp.status_code} {one_line(str(why), 100)}"
        )
    results = chart.get("result") or []
    if not results or not isinstance(results[0], dict):
        raise MarketDataError(VENUE, f"Yahoo Finance {tick}: no chart result")
    return results[0]


def rows_of(result: dict[str, Any]) -> list[list[float]]:
    """A chart result as ``[open_ms, o, h, l, c, v]`` rows; bars with a missing price dropped."""
    stamps = result.get("timestamp") or []
    quotes = ((result.get("indicators") or {}).get("quote") or [{}])[0] or {}
    cols = [quotes.get(k) or [] for k in ("open", "high", "low", "close", "volume")]
    out = []
    for i, ts in enumerate(stamps):
        vals = [_finite(c[i] if i < len(c) else None) for c in cols]
        prices = [v for v in vals[:4] if v is not None]
        if len(prices) < 4:  # Yahoo writes null for a bar without trades
            continue
        out.append([int(ts) * 1000, *prices, vals[4] or 0.0])
    return out


def _finite(value: Any) -> float | None:
    try:
        out = float(value)
    except (TypeError, ValueError):
        return None
    return out if math.isfinite(out) else None


def aggregate(rows: list[list[float]], tf_ms: int) -> list[list[float]]:
    """Finer bars merged into ``tf_ms`` buckets on the epoch (open first, high max, ...)."""
    out: list[list[float]] = []
    for r in sorted(rows, key=lambda r: r[0]):
        start = int(r[0]) // tf_ms * tf_ms
        if out and out[-1][0] == start:
            bar = out[-1]
            bar[2], bar[3] = max(bar[2], r[2]), min(bar[3], r[3])
            bar[4], bar[5] = r[4], bar[5] + r[5]
        else:
            out.append([start, r[1], r[2], r[3], r[4], r[5]])
    return out


def fetch_rows(symbol: str, timeframe: str, since_ms: int, limit: int) -> list[list[float]]:
    """Up to ``limit`` bars ``[open_ms, o, h, l, c, v]`` opening at or after ``since_ms``."""
    if timeframe not in TIMEFRAMES:
        raise MarketDataError(VENUE, f"unknown timeframe {timeframe!r}")
    tick, _ = ticker(symbol), base_url()  # a bad base fails even when nothing is to fetch
    interval, src_ms, reach_ms, span_ms = _SOURCE[_FROM.get(timeframe, "60m")]
    tf_ms = TIMEFRAMES[timeframe] * 1000
    now_ms = int(time.time() * 1000)
    start = max(int(since_ms), now_ms - reach_ms)
    end = min(int(since_ms) + int(limit) * tf_ms, now_ms + tf_ms)
    rows: list[list[float]] = []
    cursor = start
    while cursor < end:
        stop = min(end, cursor + span_ms)
        params = {"interval": interval, "period1": cursor // 1000, "period2": stop // 1000}
        rows += rows_of(_chart(tick, {**params, "includePrePost": "false"}))
        cursor = stop
    if tf_ms != src_ms:
        rows = aggregate(rows, tf_ms)
    seen: dict[int, list[float]] = {int(r[0]): r for r in rows if r[0] >= since_ms}
    return [seen[k] for k in sorted(seen)][: int(limit)]


def prices(symbols: list[str]) -> tuple[dict[str, float], dict[str, MarketDataError]]:
    """The last traded price per root (``meta.regularMarketPrice``)."""
    out: dict[str, float] = {}
    errors: dict[str, MarketDataError] = {}
    for sym in symbols:
        try:
            meta = _chart(ticker(sym), {"interval": "1m", "range": "1d"}).get("meta") or {}
            px = float(meta.get("regularMarketPrice") or 0.0)
            if px <= 0:
                raise MarketDataError(VENUE, f"Yahoo Finance has no price for {sym}")
            out[sym] = px
        except MarketDataError as exc:
            errors[sym] = exc
    return out, errors


def funding_rates(symbols: list[str]) -> tuple[dict[str, float], dict[str, MarketDataError]]:
    why = "no perpetual funding on this venue (CME futures)"
    return {}, {s: MarketDataError(VENUE, why) for s in symbols}


def funding_history(symbol: str, start_ms: int, end_ms: int) -> list[dict[str, float]]:
    raise MarketDataError(VENUE, "no perpetual funding on this venue (CME futures)")
