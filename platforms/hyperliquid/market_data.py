"""Hyperliquid market data through hyperliquid-python-sdk's read-only ``Info`` client.

ccxt also lists Hyperliquid, but the SDK is what live trading uses (and upstream reads candles,
mids and funding through it), so paper and live see the same numbers. The SDK is imported only
when a check actually asks Hyperliquid for data.

The API base URL is :func:`platforms.hyperliquid.endpoint.base_url`, the one setting execution
uses too: ``GO_TRADER_HL_BASE_URL`` (config ``hyperliquid.base_url``), else
``GO_TRADER_EXCHANGE_URL`` (e.g. ``http://127.0.0.1:8765``, tests point the real SDK at a fake
``POST /info`` server), else mainnet. The client is built without its websocket
and without the spot/perp metadata requests its constructor would make; the perp universe is
loaded once per process, and only when a coin has to be resolved (candles, funding history).

This module is Hyperliquid's feed for the market-data door (registered by
``platforms/hyperliquid/__init__.py``; the module itself satisfies
:class:`shared_tools.market.registry.Feed`). Moved here from ``shared_tools/market/hyperliquid.py``.
"""

from __future__ import annotations

import math
import os
import threading
import time
from typing import Any

from platforms.hyperliquid import endpoint
from shared_tools.market.common import TIMEFRAMES, MarketDataError, one_line

__all__ = [
    "VENUE",
    "base_url",
    "coin_of",
    "fetch_rows",
    "funding_history",
    "funding_rates",
    "load_metadata",
    "loaded_asset",
    "name",
    "prices",
    "refusal",
    "reset",
]

VENUE = "hyperliquid"
name = VENUE  # the Feed protocol's attributes: this module is the venue's feed
refusal: str | None = None  # public data: no account needed
MAINNET_URL = endpoint.MAINNET_URL
TIMEOUT_S = 10.0
CANDLE_PAGE = 5000  # the most candles one candleSnapshot answers
FUNDING_PAGE = 500  # the most records one fundingHistory answers
MAX_PAGES = 40
# Hyperliquid's candle intervals among ours (it has no 6h bars)
INTERVALS = frozenset(TIMEFRAMES) - {"6h"}

_lock = threading.Lock()
_clients: dict[tuple[str, int], Any] = {}
_universe: dict[tuple[str, int], dict[str, dict]] = {}  # coin -> its ``meta`` universe entry


def base_url() -> str:
    """The API root shared with execution (see :mod:`platforms.hyperliquid.endpoint`)."""
    try:
        return endpoint.base_url()
    except ValueError as exc:
        raise MarketDataError(VENUE, str(exc)) from None


def reset() -> None:
    """Forget clients and the loaded perp universe (tests, long processes)."""
    with _lock:
        _clients.clear()
        _universe.clear()


def _client() -> Any:
    key = (base_url(), os.getpid())
    with _lock:
        if key in _clients:
            return _clients[key]
    try:
        from hyperliquid.info import Info  # lazy: only the exchange source pays for the SDK
    except ImportError as exc:  # pragma: no cover - the SDK is a hard dependency
        raise MarketDataError(VENUE, f"hyperliquid-python-sdk is not installed ({exc})") from exc
    info = Info(
        key[0],
        skip_ws=True,
        meta={"universe": []},  # no metadata round trips at construction
        spot_meta={"universe": [], "tokens": []},
        timeout=TIMEOUT_S,
    )
    with _lock:
        _clients[key] = info
    return info


def coin_of(symbol: str) -> str:
    """``BTC``, ``BTC/USDC:USDC``, ``BTC-PERP`` -> ``BTC`` (Hyperliquid names perps by coin)."""
    text = str(symbol).strip().split(":")[0].split("/")[0]
    if text.upper().endswith("-PERP"):
        text = text[: -len("-PERP")]
    return text


def _load_universe(info: Any) -> dict[str, dict]:
    """The perp universe by coin, asked for once per API root and process."""
    key = (base_url(), os.getpid())
    with _lock:
        listed = _universe.get(key)
    if listed is None:
        meta = info.meta()
        if not isinstance(meta, dict) or not isinstance(meta.get("universe"), list):
            raise MarketDataError(VENUE, f"unexpected answer to meta: {one_line(repr(meta), 80)}")
        info.set_perp_meta(meta, 0)
        listed = {str(a.get("name")): a for a in meta["universe"] if isinstance(a, dict)}
        with _lock:
            _universe[key] = listed
    return listed


def _resolve(info: Any, symbol: str) -> str:
    """The listed coin for ``symbol`` (exact, then upper case); loads the universe once."""
    listed = _load_universe(info)
    coin = coin_of(symbol)
    for candidate in (coin, coin.upper()):
        if candidate in listed:
            return candidate
    raise MarketDataError(VENUE, f"unknown coin {coin!r} (not a Hyperliquid perp; e.g. BTC, ETH)")


def loaded_asset(symbol: str) -> dict | None:
    """The coin's ``meta`` universe entry when this process already loaded it (no network)."""
    with _lock:
        listed = _universe.get((base_url(), os.getpid()))
    if not listed:
        return None
    coin = coin_of(symbol)
    return listed.get(coin) or listed.get(coin.upper())


def load_metadata() -> None:
    """Load the perp universe (one ``meta`` request) so :func:`loaded_asset` can answer."""
    try:
        _load_universe(_client())
    except Exception as exc:
        raise _wrap(exc) from exc


def _wrap(exc: BaseException, symbol: str | None = None) -> MarketDataError:
    """Any SDK/HTTP failure as one line naming Hyperliquid, the cause and what to do."""
    if isinstance(exc, MarketDataError):
        return exc
    about = f" for {symbol}" if symbol else ""
    try:
        import requests
        from hyperliquid.utils.error import ClientError, ServerError
    except ImportError:  # pragma: no cover
        requests = ClientError = ServerError = None  # type: ignore[assignment]
    if requests is not None and isinstance(exc, requests.RequestException):
        detail = one_line(str(exc), 160) or type(exc).__name__
        return MarketDataError(
            VENUE,
            f"cannot reach {base_url()} ({type(exc).__name__}: {detail}); check network or set "
            "GO_TRADER_MARKET_DATA=simulated",
        )
    if ClientError is not None and isinstance(exc, ClientError):
        detail = one_line(str(exc.error_message), 160)
        return MarketDataError(
            VENUE, f"rejected the request{about} (HTTP {exc.status_code}: {detail})"
        )
    if ServerError is not None and isinstance(exc, ServerError):
        detail = one_line(str(exc.message), 160)
        return MarketDataError(VENUE, f"server error{about} (HTTP {exc.status_code}: {detail})")
    detail = one_line(str(exc), 160)
    cause = f"{type(exc).__name__}: {detail}" if detail else type(exc).__name__
    return MarketDataError(VENUE, f"unexpected error{about} ({cause})")


def _list_answer(answer: Any, what: str) -> list:
    if not isinstance(answer, list):
        raise MarketDataError(VENUE, f"unexpected answer to {what}: {one_line(repr(answer), 80)}")
    return answer


def _candle_row(c: Any) -> list[float] | None:
    try:
        return [
            int(c["t"]),
            float(c["o"]),
            float(c["h"]),
            float(c["l"]),
            float(c["c"]),
            float(c["v"]),
        ]
    except (KeyError, TypeError, ValueError):
        return None


def fetch_rows(symbol: str, timeframe: str, since_ms: int, limit: int) -> list[list[float]]:
    """Up to ``limit`` bars ``[open_ms, o, h, l, c, v]`` opening at or after ``since_ms``."""
    if timeframe not in INTERVALS:
        raise MarketDataError(
            VENUE, f"has no {timeframe} candles (use {', '.join(sorted(INTERVALS))})"
        )
    tf_ms = TIMEFRAMES[timeframe] * 1000
    try:
        info = _client()
        coin = _resolve(info, symbol)
        rows: list[list[float]] = []
        cursor, remaining = int(since_ms), int(limit)
        for _ in range(MAX_PAGES):
            if remaining <= 0:
                break
            end = cursor + min(remaining, CANDLE_PAGE) * tf_ms - 1
            answer = _list_answer(info.candles_snapshot(coin, timeframe, cursor, end), "candles")
            page = [r for r in map(_candle_row, answer) if r is not None and r[0] >= cursor]
            if not page:
                break
            page.sort(key=lambda r: r[0])
            rows.extend(page)
            remaining -= len(page)
            cursor = int(page[-1][0]) + tf_ms
            if cursor + tf_ms > time.time() * 1000:  # reached the present
                break
        return rows
    except Exception as exc:
        raise _wrap(exc, symbol) from exc


def _positive(value: Any) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) and number > 0 else None


def _by_coin(values: dict[str, Any], symbols: list[str], what: str, check):
    out: dict[str, float] = {}
    missing: dict[str, MarketDataError] = {}
    for sym in symbols:
        coin = coin_of(sym)
        raw = values.get(coin, values.get(coin.upper()))
        value = check(raw)
        if value is None:
            missing[sym] = MarketDataError(VENUE, f"no {what} for {sym} (is {coin} listed?)")
        else:
            out[sym] = value
    return out, missing


def prices(symbols: list[str]) -> tuple[dict[str, float], dict[str, MarketDataError]]:
    """Mid price per symbol from one ``allMids`` request; unknown coins are reported missing."""
    try:
        mids = _client().all_mids()
    except Exception as exc:
        raise _wrap(exc, ", ".join(symbols)) from exc
    if not isinstance(mids, dict):
        raise MarketDataError(VENUE, f"unexpected answer to allMids: {one_line(repr(mids), 80)}")
    return _by_coin(mids, symbols, "mid price", _positive)


def _finite(value: Any) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def funding_rates(symbols: list[str]) -> tuple[dict[str, float], dict[str, MarketDataError]]:
    """Current hourly funding per symbol (Hyperliquid funds hourly) from ``metaAndAssetCtxs``."""
    try:
        answer = _client().meta_and_asset_ctxs()
        meta, ctxs = answer[0], answer[1]
        universe = [str(a.get("name")) for a in meta["universe"]]
        rates = {name: ctx.get("funding") for name, ctx in zip(universe, ctxs, strict=False)}
    except Exception as exc:
        raise _wrap(exc, ", ".join(symbols)) from exc
    return _by_coin(rates, symbols, "funding rate", _finite)


def funding_history(symbol: str, start_ms: int, end_ms: int) -> list[dict[str, float]]:
    """Hourly funding records ``[{"time": ms, "rate": r}, ...]`` in [start_ms, end_ms]."""
    try:
        info = _client()
        coin = _resolve(info, symbol)
        records: list[dict[str, float]] = []
        cursor = int(start_ms)
        for _ in range(MAX_PAGES):
            if cursor > end_ms:
                break
            answer = _list_answer(info.funding_history(coin, cursor, int(end_ms)), "fundingHistory")
            page = []
            for r in answer:
                rate, at = _finite(r.get("fundingRate")), _finite(r.get("time"))
                if rate is not None and at is not None and at >= cursor:
                    page.append({"time": int(at), "rate": rate})
            if not page:
                break
            records.extend(page)
            cursor = max(int(r["time"]) for r in page) + 1
            if len(answer) < FUNDING_PAGE:
                break
        return records
    except Exception as exc:
        raise _wrap(exc, symbol) from exc
