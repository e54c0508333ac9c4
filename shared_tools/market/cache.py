"""SQLite cache of closed exchange candles, so a repeated check asks the venue only for new bars.

Closed bars never change, so they are stored once per (venue, symbol, timeframe, open time).
A second table remembers the contiguous span of open times already asked for
(``first_ms..last_ms``); bars missing inside it simply do not exist on the venue (gaps,
listing date) and are not asked for again. Every failure here degrades to "no cache" with one
stderr warning: the cache is an optimisation, never a reason for a check to fail.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import sys
import threading
from pathlib import Path

import numpy as np

from shared_tools.market.common import ENV_CACHE, REPO_ROOT

DEFAULT_PATH = REPO_ROOT / "state" / "ohlcv_cache.db"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS ohlcv (
    venue TEXT NOT NULL, symbol TEXT NOT NULL, timeframe TEXT NOT NULL,
    open_time_ms INTEGER NOT NULL,
    open REAL NOT NULL, high REAL NOT NULL, low REAL NOT NULL, close REAL NOT NULL,
    volume REAL NOT NULL,
    PRIMARY KEY (venue, symbol, timeframe, open_time_ms)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS ohlcv_coverage (
    venue TEXT NOT NULL, symbol TEXT NOT NULL, timeframe TEXT NOT NULL,
    first_ms INTEGER NOT NULL, last_ms INTEGER NOT NULL,
    PRIMARY KEY (venue, symbol, timeframe)
) WITHOUT ROWID;
"""

_lock = threading.Lock()
_open: dict[tuple[str, int], OhlcvCache] = {}
_warned: set[str] = set()


def cache_path() -> Path:
    raw = os.environ.get(ENV_CACHE, "").strip()
    return Path(raw).expanduser() if raw else DEFAULT_PATH


def warn(path: Path | str, exc: BaseException) -> None:
    key = str(path)
    if key not in _warned:
        _warned.add(key)
        print(
            f"market_data: OHLCV cache {path} unusable ({type(exc).__name__}: {exc}); "
            "continuing without cache",
            file=sys.stderr,
        )


class OhlcvCache:
    """One connection per process and path (sqlite connections must not cross a fork),
    shared by the process's threads under a lock."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.lock = threading.Lock()
        path.parent.mkdir(parents=True, exist_ok=True)
        self.conn = sqlite3.connect(
            str(path), timeout=10.0, isolation_level=None, check_same_thread=False
        )
        self.conn.execute("PRAGMA journal_mode=WAL")
        self.conn.execute("PRAGMA synchronous=NORMAL")
        self.conn.executescript(_SCHEMA)

    def coverage(self, venue: str, symbol: str, timeframe: str) -> tuple[int, int] | None:
        with self.lock:
            row = self.conn.execute(
                "SELECT first_ms, last_ms FROM ohlcv_coverage"
                " WHERE venue=? AND symbol=? AND timeframe=?",
                (venue, symbol, timeframe),
            ).fetchone()
        return (int(row[0]), int(row[1])) if row else None

    def store(
        self,
        venue: str,
        symbol: str,
        timeframe: str,
        rows: list[list[float]],
        span: tuple[int, int] | None,
        tf_ms: int = 0,
    ) -> None:
        """Insert closed bars and record the span now known, atomically.

        The span is merged with the one on disk inside the same transaction, so processes
        writing concurrently never shrink each other's coverage.
        """
        with self.lock, self.conn:
            self.conn.execute("BEGIN IMMEDIATE")
            self.conn.executemany(
                "INSERT OR REPLACE INTO ohlcv VALUES (?,?,?,?,?,?,?,?,?)",
                [(venue, symbol, timeframe, int(r[0]), *(float(x) for x in r[1:6])) for r in rows],
            )
            if span is None:
                return
            first, last = int(span[0]), int(span[1])
            row = self.conn.execute(
                "SELECT first_ms, last_ms FROM ohlcv_coverage"
                " WHERE venue=? AND symbol=? AND timeframe=?",
                (venue, symbol, timeframe),
            ).fetchone()
            if row is not None and row[0] <= last + tf_ms and row[1] >= first - tf_ms:
                first, last = min(first, int(row[0])), max(last, int(row[1]))
            self.conn.execute(
                "INSERT OR REPLACE INTO ohlcv_coverage VALUES (?,?,?,?,?)",
                (venue, symbol, timeframe, first, last),
            )

    def load(
        self, venue: str, symbol: str, timeframe: str, start_ms: int, end_ms: int
    ) -> np.ndarray:
        with self.lock:
            rows = self.conn.execute(
                "SELECT open_time_ms, open, high, low, close, volume FROM ohlcv"
                " WHERE venue=? AND symbol=? AND timeframe=? AND open_time_ms BETWEEN ? AND ?"
                " ORDER BY open_time_ms",
                (venue, symbol, timeframe, int(start_ms), int(end_ms)),
            ).fetchall()
        return np.array(rows, dtype="float64").reshape(-1, 6)


def get_cache() -> OhlcvCache | None:
    """The cache at GO_TRADER_OHLCV_CACHE (default state/ohlcv_cache.db), or None if unusable."""
    path = cache_path()
    key = (str(path), os.getpid())
    with _lock:
        if key in _open:
            return _open[key]
        if str(path) in _warned:
            return None
        try:
            cache = OhlcvCache(path)
        except (OSError, sqlite3.Error) as exc:
            warn(path, exc)
            return None
        _open[key] = cache
        return cache


def disable(cache: OhlcvCache, exc: BaseException) -> None:
    """Drop a cache that failed mid-use; later calls in this process skip it."""
    warn(cache.path, exc)
    with _lock:
        for key, value in list(_open.items()):
            if value is cache:
                del _open[key]
    with contextlib.suppress(sqlite3.Error):
        cache.conn.close()


def reset() -> None:
    """Forget open connections and warnings (tests switch cache paths)."""
    with _lock:
        for cache in _open.values():
            with contextlib.suppress(sqlite3.Error):
                cache.conn.close()
        _open.clear()
        _warned.clear()
