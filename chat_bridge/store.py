"""The bridge's own small state file (``chat_bridge.json`` beside the state DB).

It makes the bridge at-most-once for commands and at-least-once (deduplicated) for replies,
across chat outages and restarts:

- ``seen``: the Discord interaction ids and Telegram update ids already taken, recorded BEFORE
  the command runs (a crash then loses the command rather than running a close twice);
- ``offset``: Telegram's next ``getUpdates`` offset;
- ``outbox``: replies not yet delivered, each with a fixed id that also serves as Discord's
  message ``nonce`` (``enforce_nonce``), retried with back-off until delivered or too old; a
  reply leaves the file once the chat accepted it and before the next one is sent, so a restart
  re-sends at most the one reply whose answer was lost in a crash (where the chat API cannot
  deduplicate it, a message twice is preferred to a message lost);
- ``confirms``: the confirmation prompts still waiting for their press, each with its absolute
  wall-clock expiry (a monotonic clock does not survive a restart), so a press after a bridge
  restart still works once inside the window.

Writes are atomic (temp file, fsync, rename), mode 0600.
"""

from __future__ import annotations

import json
import os
import threading
import time
from pathlib import Path
from typing import Any

FILE = "chat_bridge.json"
SEEN_KEPT = 2000  # ids remembered; far more than a chat re-delivers
REPLY_MAX_AGE_S = 6 * 3600.0  # an undeliverable reply is dropped after this
KEYS = ("seen", "offset", "outbox", "confirms")


class Store:
    """Thread-safe access to the bridge's state file."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._doc: dict[str, Any] = {"seen": [], "offset": 0, "outbox": [], "confirms": {}}
        try:
            loaded = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            loaded = {}
        except (OSError, ValueError) as exc:
            raise SystemExit(f"{path}: unreadable bridge state ({exc}); fix or delete it") from exc
        if isinstance(loaded, dict):
            self._doc.update({k: loaded[k] for k in KEYS if k in loaded})

    def _save(self) -> None:
        tmp = self.path.with_name(self.path.name + ".tmp")
        data = json.dumps(self._doc, separators=(",", ":")).encode()
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            os.write(fd, data)
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, self.path)

    def claim(self, key: str) -> bool:
        """True the first time ``key`` (``discord:<id>``/``telegram:<id>``) is seen; it is
        recorded on disk before the caller acts on it."""
        with self._lock:
            seen: list[str] = self._doc["seen"]
            if key in seen:
                return False
            seen.append(key)
            del seen[:-SEEN_KEPT]
            self._save()
            return True

    @property
    def offset(self) -> int:
        with self._lock:
            return int(self._doc.get("offset") or 0)

    def set_offset(self, offset: int) -> None:
        with self._lock:
            if offset > int(self._doc.get("offset") or 0):
                self._doc["offset"] = offset
                self._save()

    def queue(self, item: dict[str, Any]) -> None:
        """Keep a reply until :meth:`done` (``item["id"]`` is unique)."""
        with self._lock:
            self._doc["outbox"].append({**item, "queued_at": time.time()})
            self._save()

    def pending(self, transport: str) -> list[dict[str, Any]]:
        with self._lock:
            return [dict(i) for i in self._doc["outbox"] if i.get("transport") == transport]

    def done(self, reply_id: str) -> None:
        with self._lock:
            self._doc["outbox"] = [i for i in self._doc["outbox"] if i.get("id") != reply_id]
            self._save()

    def expire(self, now: float) -> list[dict[str, Any]]:
        """Drop replies older than :data:`REPLY_MAX_AGE_S`; returns them (logged by the caller)."""
        with self._lock:
            old = [i for i in self._doc["outbox"] if now - i["queued_at"] > REPLY_MAX_AGE_S]
            if old:
                self._doc["outbox"] = [i for i in self._doc["outbox"] if i not in old]
                self._save()
            return old

    def confirms(self) -> dict[str, dict[str, Any]]:
        """The waiting confirmations (code -> the prompt's fields, ``expires`` in epoch seconds)."""
        with self._lock:
            doc = self._doc.get("confirms")
            return {str(k): dict(v) for k, v in doc.items()} if isinstance(doc, dict) else {}

    def set_confirms(self, confirms: dict[str, dict[str, Any]]) -> None:
        """Replace the waiting confirmations (written before a press runs its action)."""
        with self._lock:
            self._doc["confirms"] = confirms
            self._save()
