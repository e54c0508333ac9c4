"""Candles for every source: the closed-bar rule, the per-process memo and the exchange cache.

Only *closed* bars are returned (``open + timeframe <= now``, and for a real venue a few seconds
more: :data:`~shared_tools.market.common.EXCHANGE_SETTLE_S`), never the bar in progress.
Results are memoized per process (keyed by the last closed bar, so a ``--batch`` run of many
jobs on one symbol fetches once) and handed out as copies so callers cannot corrupt each other.
The exchange source goes through the SQLite cache, so a check asks the venue only for the bars
it lacks.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections import OrderedDict
from datetime import datetime
from pathlib import Path

import numpy as np
import pandas as pd

from shared_tools.market import cache as _cache
from shared_tools.market import registry as _registry
from shared_tools.market import replay as _replay
from shared_tools.market import simulated as _sim
from shared_tools.market.common import (
    EXCHANGE_SETTLE_S,
    TIMEFRAMES,
    MarketDataError,
    as_utc,
    check_symbol,
    last_closed_open,
    timeframe_seconds,
)
from shared_tools.market.frames import frame_from_rows
from shared_tools.market.prices import resolve_source

__all__ = ["fetch_ohlcv", "reset"]

MEMO_MAX = 256
_memo: OrderedDict[tuple, tuple[int, pd.DataFrame]] = OrderedDict()
_memo_lock = threading.Lock()


def reset() -> None:
    """Forget memoized frames (tests, long processes)."""
    with _memo_lock:
        _memo.clear()


def _fetch_from_venue(
    venue: str, symbol: str, timeframe: str, since_ms: int, limit: int
) -> list[list[float]]:
    """Ask the venue for up to ``limit`` bars opening at/after ``since_ms``.

    The single network seam of the OHLCV path: tests monkeypatch it to count what the cache
    asks for. The venue's feed (``platforms/<venue>/``, found through the registry) fetches.
    """
    return _registry.feed(venue).fetch_rows(symbol, timeframe, since_ms, limit)


def fetch_ohlcv(
    symbol: str,
    timeframe: str,
    limit: int = 300,
    *,
    source: str | None = None,
    venue: str = "binanceus",
    now: datetime | None = None,
) -> pd.DataFrame:
    """The last ``limit`` closed bars at ``now`` (fewer if the source has fewer).

    Columns open/high/low/close/volume (float64); index ``time``: UTC bar open times,
    ascending and unique. Raises MarketDataError when the source cannot deliver, ValueError
    for bad arguments (unknown timeframe, bad source spec, limit < 1).
    """
    symbol = check_symbol(symbol)
    tf_s = timeframe_seconds(timeframe)
    if isinstance(limit, bool) or not isinstance(limit, (int, np.integer)) or limit < 1:
        raise ValueError(f"limit must be a positive integer, not {limit!r}")
    limit = int(limit)
    src = resolve_source(source)
    if src == "exchange":
        _registry.feed(venue)  # an unknown venue, or one without public data, fails here
    now_s = as_utc(now).timestamp()
    settle = EXCHANGE_SETTLE_S if src == "exchange" else 0
    last_open = last_closed_open(now_s - settle, tf_s)

    if src.startswith("replay:"):  # files are parsed once per mtime; slicing is cheap
        return _replay.bars(Path(src[7:]), symbol, timeframe, limit, now_s).copy()

    seed = _sim.seed_from_env() if src == "simulated" else None
    # one entry per series and closed bar; a shorter request is served from a longer frame
    key = (src, venue if src == "exchange" else "", seed, symbol, timeframe, last_open)
    with _memo_lock:
        hit = _memo.get(key)
        if hit is not None and hit[0] >= limit:
            _memo.move_to_end(key)
            return hit[1].iloc[-limit:].copy()
    if src == "simulated":
        frame = _sim.bars(symbol, tf_s, last_open, limit, seed)
    else:
        frame = _exchange_ohlcv(venue, symbol, timeframe, limit, last_open)
    with _memo_lock:
        _memo[key] = (limit, frame)
        _memo.move_to_end(key)
        while len(_memo) > MEMO_MAX:
            _memo.popitem(last=False)
    return frame.copy()


def _exchange_ohlcv(
    venue: str, symbol: str, timeframe: str, limit: int, last_open_s: int
) -> pd.DataFrame:
    tf_ms = TIMEFRAMES[timeframe] * 1000
    end_ms = last_open_s * 1000
    start_ms = end_ms - (limit - 1) * tf_ms
    db = _cache.get_cache()
    rows: np.ndarray | list | None = None
    if db is not None:
        try:
            rows = _through_cache(db, venue, symbol, timeframe, start_ms, end_ms, limit)
        except sqlite3.Error as exc:
            _cache.disable(db, exc)
    if rows is None:
        fetched = _fetch_from_venue(venue, symbol, timeframe, start_ms, limit)
        rows = _closed_rows(fetched, tf_ms, start_ms)
    frame = frame_from_rows(rows)
    frame = frame.loc[frame.index <= pd.Timestamp(end_ms, unit="ms", tz="UTC")]
    if frame.empty:
        raise MarketDataError(venue, f"returned no closed {symbol} {timeframe} candles")
    return frame.iloc[-limit:]


def _closed_rows(rows: list[list[float]], tf_ms: int, since_ms: int) -> list[list[float]]:
    """Keep bars closed in real time, inside the requested span, with a full OHLC.

    Some venues report ``None`` volume for empty bars; that becomes 0.0.
    """
    now_ms = (time.time() - EXCHANGE_SETTLE_S) * 1000
    out = []
    for r in rows:
        if not r or len(r) < 5 or any(x is None for x in r[:5]):
            continue
        if r[0] >= since_ms and r[0] + tf_ms <= now_ms:
            volume = r[5] if len(r) > 5 and r[5] is not None else 0.0
            out.append([int(r[0]), *(float(x) for x in r[1:5]), float(volume)])
    return out


def _through_cache(
    db: _cache.OhlcvCache,
    venue: str,
    symbol: str,
    timeframe: str,
    start_ms: int,
    end_ms: int,
    limit: int,
) -> np.ndarray:
    """Fill the cache with whatever part of [start_ms, end_ms] it lacks, then read it back."""
    tf_ms = TIMEFRAMES[timeframe] * 1000
    cov = db.coverage(venue, symbol, timeframe)
    if cov is None or not (cov[0] <= start_ms and cov[1] >= end_ms):
        if cov is not None and cov[0] <= start_ms and cov[1] >= start_ms - tf_ms:
            since, count = cov[1] + tf_ms, (end_ms - cov[1]) // tf_ms  # only the new bars
            first, prev_last = cov[0], cov[1]
        elif cov is not None and cov[0] > start_ms and cov[1] >= end_ms:
            since, count = start_ms, (cov[0] - start_ms) // tf_ms  # only the older bars
            first, prev_last = start_ms, cov[1]
        else:  # empty, too old, or not reaching back far enough: the full window
            since, count, first, prev_last = start_ms, limit, start_ms, None
            if cov is not None and cov[0] <= end_ms + tf_ms and cov[1] >= start_ms - tf_ms:
                first, prev_last = min(start_ms, cov[0]), cov[1]  # spans touch: merge
        fetched = _closed_rows(
            _fetch_from_venue(venue, symbol, timeframe, since, count), tf_ms, since
        )
        last = max(
            [int(r[0]) for r in fetched] + ([prev_last] if prev_last is not None else []),
            default=None,
        )
        span = (first, last) if last is not None else None
        db.store(venue, symbol, timeframe, fetched, span, tf_ms)
    return db.load(venue, symbol, timeframe, start_ms, end_ms)
