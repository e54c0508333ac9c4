"""Telegram: ``getUpdates`` long polling, commands as ``/status``, ``/close <id> [qty]``...

Upstream has no Telegram commands (reference B.2); the port offers the same commands as Discord
(``-`` written ``_``: ``/circuit_breakers``) to the owner's chat only. Confirmations are inline
keyboard buttons whose ``callback_data`` carries the prompt's code.

Exactly-once: each update id is claimed in the state file before it runs, and the offset moves
past it after; a crash in between skips the update instead of running it twice. Replies go
through the bridge's outbox (chat_bridge/outbox.py), which honours Telegram's 429
``parameters.retry_after`` per chat; a 429 on ``getUpdates`` waits the same way.

One reader: while the bridge runs it owns the bot's update stream (its heartbeat file,
shared_tools/chat_owner.py, tells the daemon to stop reading Telegram), and passes the owner's
plain "reset" and "yes" to the daemon (chat_bridge/owner_replies.py).
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable
from typing import Any

import requests

from chat_bridge import attachments
from chat_bridge.commands import COMMANDS, lookup
from chat_bridge.core import Answer, Bridge, Invocation
from chat_bridge.outbox import MAX_BACKOFF_S, Outbox
from chat_bridge.owner_replies import OwnerReplies, is_owner_word
from chat_bridge.ratelimit import Limits, retry_after
from chat_bridge.store import Store

POLL_S = 25


class Telegram:
    def __init__(
        self,
        bridge: Bridge,
        store: Store,
        token: str,
        base: str,
        log: Callable[[str], None],
        stop: threading.Event,
        *,
        poll_s: int = POLL_S,
        backoff_s: float = 1.0,
        replies: OwnerReplies | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], object] | None = None,
    ) -> None:
        self.bridge, self.store, self.log, self.stop = bridge, store, log, stop
        self.root = f"{base.rstrip('/')}/bot{token}"
        self.poll_s, self.backoff_s, self.replies = poll_s, backoff_s, replies
        self.sleep = sleep or stop.wait
        self.http = requests.Session()
        self.limits = Limits(clock)
        self.outbox = Outbox(
            store,
            "telegram",
            self._send,
            log,
            stop,
            backoff_s,
            limits=self.limits,
            route=lambda i: f"chat:{i['body'].get('chat_id')}",  # Telegram limits per chat
            sleep=sleep,
        )

    def _send(self, item: dict[str, Any]) -> requests.Response:
        return self.http.post(f"{self.root}/{item['method']}", json=item["body"], timeout=30)

    def run(self) -> None:
        """Poll until stopped; the outbox sends from its own thread."""
        sender = threading.Thread(target=self.outbox.run, name="telegram-out", daemon=True)
        sender.start()
        failures = 0
        while not self.stop.is_set():
            try:
                updates = self.poll()
                failures = 0
            except (requests.RequestException, ValueError) as exc:
                failures += 1
                self.log(f"[telegram] getUpdates failed ({type(exc).__name__}); backing off")
                self.stop.wait(min(MAX_BACKOFF_S, self.backoff_s * 2 ** min(failures - 1, 10)))
                continue
            for update in updates:
                self.handle(update)
                self.store.set_offset(int(update["update_id"]) + 1)
        self.outbox.wake.set()  # the sender sees the stop now
        sender.join(timeout=5)

    def poll(self) -> list[dict[str, Any]]:
        r = self.http.post(
            f"{self.root}/getUpdates",
            json={
                "offset": self.store.offset,
                "timeout": self.poll_s,
                "allowed_updates": ["message", "callback_query"],
            },
            timeout=self.poll_s + 10,
        )
        if r.status_code == 429:  # wait what Telegram asks, then poll again
            wait, _global = retry_after(r)
            self.log(f"[telegram] getUpdates rate limited; retry in {wait:.1f}s")
            self.sleep(wait)
            return []
        if r.status_code != 200:
            raise requests.HTTPError(f"getUpdates {r.status_code}")
        doc = r.json()
        return [u for u in doc.get("result", []) if isinstance(u, dict) and "update_id" in u]

    def handle(self, update: dict[str, Any]) -> None:
        """One update, at most once."""
        if not self.store.claim(f"telegram:{update['update_id']}"):
            return
        if "callback_query" in update:
            self._press(update["callback_query"])
            return
        msg = update.get("message") or {}
        text = str(msg.get("text") or "").strip()
        chat = msg.get("chat") or {}
        if is_owner_word(text):
            self._owner_word(msg, text)
            return
        if not text.startswith("/"):
            return  # plain text is no command
        words = text.split()
        name = words[0][1:].split("@", 1)[0]
        if name in ("help", "start"):
            self._reply(chat.get("id"), _help())
            return
        cmd = lookup(name)
        options: dict[str, Any] = {}
        if cmd is not None:
            for opt, value in zip(cmd.options, words[1:], strict=False):
                options[opt.name] = value
        inv = Invocation(
            "telegram",
            cmd.name if cmd else name,
            options,
            user=str((msg.get("from") or {}).get("id", "")),
            in_dm=chat.get("type") == "private",
            channel=str(chat.get("id", "")),
        )
        answer = self.bridge.run(inv)
        self._answer(chat.get("id"), answer)
        if answer.later:  # /backtest: its result and file follow (chat_bridge/attachments.py)
            attachments.telegram_later(self, chat.get("id"), answer)

    def _owner_word(self, msg: dict[str, Any], text: str) -> None:
        """The owner's "reset"/"yes" to a daemon prompt (the daemon's reader takes the owner's
        user or chat id, as here); from anyone else, or with no prompt, nothing happens."""
        owner = self.bridge.access.get("telegram")
        who = {str((msg.get("from") or {}).get("id", "")), str((msg.get("chat") or {}).get("id"))}
        if self.replies is None or owner is None or not owner.owner or owner.owner not in who:
            return
        reply = self.replies.handle(text, float(msg.get("date") or 0), time.time())
        if reply:
            self._reply((msg.get("chat") or {}).get("id"), reply)

    def _answer(self, chat_id: Any, answer: Answer) -> None:
        for n, text in enumerate(answer.messages):
            markup = None
            if answer.confirm and n == len(answer.messages) - 1:
                markup = {
                    "inline_keyboard": [
                        [
                            {"text": "Confirm", "callback_data": f"c:{answer.confirm}"},
                            {"text": "Cancel", "callback_data": f"x:{answer.confirm}"},
                        ]
                    ]
                }
            self._reply(chat_id, text, markup)

    def _reply(self, chat_id: Any, text: str, markup: dict[str, Any] | None = None) -> None:
        body: dict[str, Any] = {"chat_id": chat_id, "text": plain(text)}
        if markup:
            body["reply_markup"] = markup
        self.outbox.put({"method": "sendMessage", "body": body})

    def _press(self, cq: dict[str, Any]) -> None:
        data = str(cq.get("data") or "")
        user = str((cq.get("from") or {}).get("id", ""))
        chat_id = ((cq.get("message") or {}).get("chat") or {}).get("id", user)
        if data[:2] not in ("c:", "x:"):
            return
        with contextlib.suppress(requests.RequestException):  # the spinner; never queued
            self.http.post(
                f"{self.root}/answerCallbackQuery",
                json={"callback_query_id": cq.get("id")},
                timeout=10,
            )
        self._reply(chat_id, self.bridge.resolve(data[2:], user, data[0] == "c"))


def _help() -> str:
    lines = ["go-trader commands (owner only):"]
    for c in COMMANDS.values():
        if c.telegram:
            args = " ".join(f"<{o.name}>" if o.required else f"[{o.name}]" for o in c.options)
            lines.append(f"/{c.name.replace('-', '_')} {args}".rstrip() + f" — {c.description}")
    return "\n".join(lines)


def plain(text: str) -> str:
    """Discord's bold markers out: messages are sent as plain text (no parse_mode, so a ``_``
    or ``*`` in an id or an error can never make Telegram refuse the message)."""
    return text.replace("**", "")
