"""Delivering the bridge's replies: every reply is first kept in the state file
(:class:`~chat_bridge.store.Store`), then sent, and forgotten only once the chat accepted it.
A chat outage (connection error, 5xx) leaves it queued and retried with back-off; a 429 holds
its route (or, when global, every route) exactly as long as the chat's ``retry_after`` says
(chat_bridge/ratelimit.py), while replies to other routes go on; a reply the chat refuses for
good (other 4xx) is dropped and logged, so one bad message cannot block the rest. Replies of one
route (one chat, one interaction) go out in order.

Duplicates: a reply is removed from the state file right after the chat accepted it and before
the next one is sent. Discord channel messages and DMs also carry the reply's id as ``nonce``
with ``enforce_nonce``, so Discord itself drops a re-send (within its few-minute window).
Interaction follow-ups (webhook executions) and the edit of the original take no ``nonce``
(Discord's Execute Webhook parameters have none), nor does Telegram's ``sendMessage``: for those
a crash between the chat's acceptance and the record re-sends that one reply after the restart.
We prefer a message twice to a message lost (docs/architecture.md, "Chat bridge")."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from typing import Any

import requests

from chat_bridge.ratelimit import Limits
from chat_bridge.store import Store

MAX_BACKOFF_S = 60.0
IDLE_S = 5.0
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
        *,
        limits: Limits | None = None,
        route: Callable[[dict[str, Any]], str] | None = None,
        sleep: Callable[[float], object] | None = None,
    ) -> None:
        self.store, self.transport, self.send, self.log = store, transport, send, log
        self.stop, self.backoff_s = stop, backoff_s
        self.limits = limits or Limits()
        self.route = route or (lambda _item: transport)
        self.wake = threading.Event()
        self.sleep = sleep or stop.wait  # the back-off while the chat is down
        self.hold = sleep or self.wake.wait  # a 429's wait: a new reply elsewhere ends it
        self.failures = 0

    def put(self, item: dict[str, Any]) -> None:
        self.store.queue({"id": new_id(), "transport": self.transport, **item})
        self.wake.set()

    def flush(self) -> bool:
        """Send what is queued and may go now, in order per route; False when the chat is
        unreachable (retry later). Rate-limited routes are skipped (see :meth:`next_wait`)."""
        for old in self.store.expire(time.time()):
            self.log(f"[{self.transport}] reply {old['id']} undeliverable for hours; dropped")
        held: set[str] = set()
        for item in self.store.pending(self.transport):
            route = self.route(item)
            if route in held or self.limits.delay(route) > 0:
                held.add(route)  # later replies of the route wait too: order is kept
                continue
            try:
                r = self.send(item)
            except requests.RequestException as exc:
                self.log(f"[{self.transport}] send failed ({type(exc).__name__}); will retry")
                return False
            if r.status_code == 429:
                wait = self.limits.hit(route, r)
                self.log(f"[{self.transport}] rate limited on {route}; retry in {wait:.2f}s")
                held.add(route)
                continue
            if r.status_code >= 500:
                self.log(f"[{self.transport}] send answered {r.status_code}; will retry")
                return False
            if r.status_code >= 400:
                self.log(f"[{self.transport}] reply refused ({r.status_code}): {r.text[:200]}")
            self.store.done(item["id"])  # recorded before the next reply is sent
        return True

    def next_wait(self) -> float:
        """Seconds until the first rate-limited reply may go (0: none is waiting on a limit)."""
        waits = [self.limits.delay(self.route(i)) for i in self.store.pending(self.transport)]
        return min((w for w in waits if w > 0), default=0.0)

    def run(self) -> None:
        """The sender thread: flush on every new reply, wait out 429s, back off while down."""
        while not self.stop.is_set():
            if self.flush():
                self.failures = 0
                wait = self.next_wait()
                if wait > 0:
                    self.hold(wait)
                else:
                    self.wake.wait(IDLE_S)
            else:
                self.failures += 1
                self.sleep(min(MAX_BACKOFF_S, self.backoff_s * 2 ** min(self.failures - 1, 10)))
            self.wake.clear()
