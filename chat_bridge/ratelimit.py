"""Rate limits (HTTP 429) as the chats state them, honoured exactly instead of guessed.

Discord answers a 429 with ``retry_after`` (seconds, fractional) in the JSON body and
``Retry-After`` in the headers; ``"global": true`` (or ``X-RateLimit-Global``/``X-RateLimit-Scope:
global``) means the whole bot must wait, otherwise only that route. Telegram answers
``{"parameters": {"retry_after": N}}`` per chat. One :class:`Limits` per transport is shared by
its outbox and its direct first answers (the interaction callback), so a global wait holds
every sender of that transport. A route is what the transport calls it: Discord's method and
path (the path carries the channel, webhook or interaction: Discord's "major parameter"),
Telegram's method and chat.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable

import requests

GLOBAL = "*"
DEFAULT_WAIT_S = 1.0  # a 429 that says nothing about how long
MAX_WAIT_S = 600.0  # a longer ask is honoured in steps (the reply stays queued meanwhile)


def retry_after(r: requests.Response) -> tuple[float, bool]:
    """(seconds to wait, whether the limit is global) from a 429 answer."""
    body: object = None
    with contextlib.suppress(ValueError):
        body = r.json()
    value: object = None
    is_global = r.headers.get("X-RateLimit-Global", "").lower() == "true"
    is_global |= r.headers.get("X-RateLimit-Scope", "").lower() == "global"
    if isinstance(body, dict):
        params = body.get("parameters")
        value = body.get("retry_after")
        if value is None and isinstance(params, dict):
            value = params.get("retry_after")  # Telegram
        is_global |= body.get("global") is True
    if value is None:
        value = r.headers.get("Retry-After")
    try:
        seconds = float(str(value)) if value is not None else DEFAULT_WAIT_S
    except ValueError:
        seconds = DEFAULT_WAIT_S
    return max(0.0, min(MAX_WAIT_S, seconds)), is_global


class Limits:
    """Until when each route (and everything, :data:`GLOBAL`) must wait; thread-safe."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self._until: dict[str, float] = {}
        self._lock = threading.Lock()

    def delay(self, route: str) -> float:
        """Seconds ``route`` must still wait (0: it may send now)."""
        with self._lock:
            until = max(self._until.get(route, 0.0), self._until.get(GLOBAL, 0.0))
        return max(0.0, until - self.clock())

    def hit(self, route: str, r: requests.Response) -> float:
        """Record a 429 of ``route``; the seconds it (or everyone, when global) now waits."""
        seconds, is_global = retry_after(r)
        key = GLOBAL if is_global else route
        with self._lock:
            self._until[key] = max(self._until.get(key, 0.0), self.clock() + seconds)
        return seconds
