"""Candles for the dashboard: ``shared_scripts/fetch_candles.py`` run as a worker, behind a
small time-bounded cache (reference A.3: 30 s, at most 256 entries, key ``id|from|to|limit``).

The supervisor never imports pandas: the worker reads the same market door the checks use
(``shared_tools.market``: exchange, simulated or replay) and prints plain JSON.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from typing import Any

from supervisor.run.jobs import Job, Result

SCRIPT = "shared_scripts/fetch_candles.py"
TTL_S = 30.0
MAX_ENTRIES = 256
FETCH_TIMEOUT_S = 20.0


class CandleCache:
    """Entries expire after ``ttl_s``; a set sweeps the expired and, when still full, evicts the
    soonest to expire. ``clock`` is injectable (tests); monotonic by default."""

    def __init__(
        self,
        ttl_s: float = TTL_S,
        max_entries: int = MAX_ENTRIES,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.ttl_s, self.max_entries, self.clock = ttl_s, max_entries, clock
        self._lock = threading.Lock()
        self._entries: dict[str, tuple[float, Any]] = {}

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, key: str) -> Any:
        with self._lock:
            hit = self._entries.get(key)
            if hit is None or hit[0] <= self.clock():
                return None
            return hit[1]

    def sweep(self) -> None:
        """Drop the expired entries (a set does it too; the idle server calls this, so charts
        nobody looks at stop holding memory)."""
        now = self.clock()
        with self._lock:
            for k in [k for k, (exp, _) in self._entries.items() if exp <= now]:
                del self._entries[k]

    def set(self, key: str, value: Any) -> None:
        self.sweep()
        now = self.clock()
        with self._lock:
            while len(self._entries) >= self.max_entries and key not in self._entries:
                soonest = min(self._entries, key=lambda k: self._entries[k][0])
                del self._entries[soonest]
            self._entries[key] = (now + self.ttl_s, value)


def cache_key(sid: str, since: float | None, until: float | None, limit: int) -> str:
    return f"{sid}|{since or ''}|{until or ''}|{limit}"


def fetch_job(
    venue: str, symbol: str, timeframe: str, limit: int, since: float | None, until: float | None
) -> Job:
    """The worker's argv for one chart (``--from``/``--to`` as unix seconds)."""
    args = [f"--platform={venue}", f"--symbol={symbol}", f"--timeframe={timeframe}"]
    args.append(f"--limit={limit}")
    if since is not None:
        args.append(f"--from={int(since)}")
    if until is not None:
        args.append(f"--to={int(until)}")
    return Job(key="candles", script=SCRIPT, args=tuple(args))


def candles_of(result: Result) -> tuple[str, list[dict]] | None:
    """(source, candles) from a worker result, None when it failed or sent nothing usable."""
    data = result.data if result.ok else None
    if not isinstance(data, dict):
        return None
    candles = data.get("candles")
    if not isinstance(candles, list) or not candles:
        return None
    return str(data.get("source") or "market"), candles


def encode_list(bars: list[dict]) -> bytes:
    """A candle list as compact JSON (what the cache keeps)."""
    return json.dumps(bars, separators=(",", ":"), allow_nan=False).encode()


def encode(sid: str, source: str, bars_json: bytes) -> tuple[bytes, str]:
    """The ``…/candles`` response body ``{strategy_id, source, candles}`` around cached JSON."""
    head = json.dumps({"strategy_id": sid, "source": source})[:-1].encode()
    return head + b', "candles": ' + bars_json + b"}", "application/json"
