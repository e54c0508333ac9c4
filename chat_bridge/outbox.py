"""Delivering the bridge's replies: every reply is first kept in the state file
(:class:`~chat_bridge.store.Store`), then sent, and forgotten only once the chat accepted it.
A chat outage (connection error, 429, 5xx) leaves it queued and retried with back-off; a reply
the chat refuses for good (other 4xx) is dropped and logged, so one bad message cannot block the
rest. Replies of one transport go out in order."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from typing import Any

import requests

from chat_bridge.store import Store

MAX_BACKOFF_S = 60.0
# (the queued item) -> the HTTP response of one attempt
Sender = Callable[[dict[str, Any]], requests.Response]


def new_id() -> str:
    """A reply's id: 20 hex characters (Discord's message ``nonce`` takes up to 25)."""
    return os.urandom(10).hex()


class Outbox:
    """One transport's queue and its sender thread."""

    def __init__(
        self,
        store: Store,
        transport: str,
        send: Sender,
        log: Callable[[str], None],
        stop: threading.Event,
        backoff_s: float = 1.0,
    ) -> None:
        self.store, self.transport, self.send, self.log = store, transport, send, log
        self.stop, self.backoff_s = stop, backoff_s
        self.wake = threading.Event()
        self.failures = 0

    def put(self, item: dict[str, Any]) -> None:
        self.store.queue({"id": new_id(), "transport": self.transport, **item})
        self.wake.set()

    def flush(self) -> bool:
        """Send what is queued, in order; False when the chat is unreachable (retry later)."""
        for old in self.store.expire(time.time()):
            self.log(f"[{self.transport}] reply {old['id']} undeliverable for hours; dropped")
        for item in self.store.pending(self.transport):
            try:
                r = self.send(item)
            except requests.RequestException as exc:
                self.log(f"[{self.transport}] send failed ({type(exc).__name__}); will retry")
                return False
            if r.status_code == 429 or r.status_code >= 500:
                self.log(f"[{self.transport}] send answered {r.status_code}; will retry")
                return False
            if r.status_code >= 400:
                self.log(f"[{self.transport}] reply refused ({r.status_code}): {r.text[:200]}")
            self.store.done(item["id"])
        return True

    def run(self) -> None:
        """The sender thread: flush on every new reply, back off while the chat is down."""
        while not self.stop.is_set():
            if self.flush():
                self.failures = 0
                self.wake.wait(5.0)
            else:
                self.failures += 1
                delay = min(MAX_BACKOFF_S, self.backoff_s * 2 ** min(self.failures - 1, 10))
                self.stop.wait(delay)
            self.wake.clear()
