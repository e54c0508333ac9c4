"""``/api/confirm`` nonces: one dangerous dashboard action, confirmed once (reference A.5).

A nonce binds an action, a strategy id and the action's canonical params (sorted-key JSON),
lives 60 s in memory, and is deleted when it is looked up, even if the check then fails, so a
replayed or double-clicked POST is refused (403). As upstream, the nonce guards misclicks and
stale dialogs; the token and the same-origin check guard against other callers. The 16 random
bytes come from ``os.urandom`` (``secrets`` would import hashlib/OpenSSL into the supervisor).
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Callable

TTL_S = 60
MAX_LIVE = 1000  # outstanding nonces kept; the oldest go first past this


def canonical(action: str, sid: str, params: dict) -> str:
    """The binding: action, id and params re-encoded with sorted keys, joined with NUL."""
    return "\0".join((action, sid, json.dumps(params, sort_keys=True, separators=(",", ":"))))


class Nonces:
    """Issued nonces and what each one allows (thread-safe)."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        # nonce -> (binding, expires at, what the confirm pinned: e.g. a gate's blast radius)
        self._live: dict[str, tuple[str, float, object]] = {}

    def issue(self, action: str, sid: str, params: dict, pinned: object = None) -> tuple[str, int]:
        """A new nonce for this action and its TTL in seconds; sweeps expired ones."""
        nonce = os.urandom(16).hex()
        now = self._clock()
        with self._lock:
            for key in [k for k, (_, exp, _p) in self._live.items() if exp <= now]:
                del self._live[key]
            while len(self._live) >= MAX_LIVE:
                del self._live[next(iter(self._live))]
            self._live[nonce] = (canonical(action, sid, params), now + TTL_S, pinned)
        return nonce, TTL_S

    def take(self, nonce: object, action: str, sid: str, params: dict) -> bool:
        """True once for a live nonce issued for exactly this action; the nonce is gone after."""
        return self.take_pinned(nonce, action, sid, params)[0]

    def take_pinned(
        self, nonce: object, action: str, sid: str, params: dict
    ) -> tuple[bool, object]:
        """As :meth:`take`, with what the confirm pinned (None when it fails)."""
        if not isinstance(nonce, str):
            return False, None
        with self._lock:
            entry = self._live.pop(nonce, None)
        if entry is None:
            return False, None
        binding, expires, pinned = entry
        ok = expires > self._clock() and binding == canonical(action, sid, params)
        return ok, (pinned if ok else None)
