"""A fake Discord + Telegram API on 127.0.0.1 for notification tests (reusable fixture).

Point the sender at it with :meth:`FakeChat.env` (API bases and the bot tokens it accepts):

* Discord under ``/discord``: ``POST /channels/{id}/messages`` (``Authorization: Bot <token>``;
  a repeated ``nonce`` with ``enforce_nonce`` returns the first message and posts nothing) and
  ``POST /users/@me/channels`` (a DM channel ``dm-<user id>``);
* Telegram under ``/telegram``: ``POST /bot{token}/sendMessage``.

What a user writes to the bot (:meth:`FakeChat.reply`) is served back by ``GET
/channels/dm-<user>/messages`` (Discord) and ``POST /bot{token}/getUpdates`` (Telegram).

Every delivered message is recorded in :attr:`delivered` (``transport``, ``to``, ``body``,
``nonce``). Misbehaviour on demand: :meth:`fail` (the next n posts answer a status),
:meth:`rate_limit` (429 with ``Retry-After``), :attr:`delay_s` (answer late), :meth:`down` /
:meth:`up` (the port refuses connections, then serves again), :meth:`hold` / :meth:`release`
(posts are received, counted in :attr:`posts_received`, and left unanswered until released).
"""

from __future__ import annotations

import json
import re
import threading
import time
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

DISCORD_TOKEN = "discord-secret-token-DO-NOT-LEAK-1234"
TELEGRAM_TOKEN = "123456:telegram-secret-token-DO-NOT-LEAK"

_CHANNEL = re.compile(r"^/discord/channels/([^/]+)/messages$")
_TELEGRAM = re.compile(r"^/telegram/bot([^/]+)/sendMessage$")
_UPDATES = re.compile(r"^/telegram/bot([^/]+)/getUpdates$")


class FakeChat:
    def __init__(self) -> None:
        self.delivered: list[dict] = []
        self.requests = 0
        self.delay_s = 0.0
        self.posts_received = 0  # POSTs that reached a handler, answered or not
        self._gate = threading.Event()  # set: answer; cleared by hold()
        self._gate.set()
        self._failures: list[tuple[int, float | None]] = []  # (status, retry_after) per post
        self._nonces: dict[tuple[str, str], dict] = {}
        self.inbox: list[dict] = []  # what users wrote to the bot
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self.port = 0
        self.up()

    # -- control ---------------------------------------------------------------------------
    def env(self) -> dict[str, str]:
        return {
            "GO_TRADER_DISCORD_API": f"http://127.0.0.1:{self.port}/discord",
            "GO_TRADER_TELEGRAM_API": f"http://127.0.0.1:{self.port}/telegram",
            "DISCORD_BOT_TOKEN": DISCORD_TOKEN,
            "TELEGRAM_BOT_TOKEN": TELEGRAM_TOKEN,
        }

    def fail(self, times: int, status: int = 500) -> None:
        with self._lock:
            self._failures += [(status, None)] * times

    def rate_limit(self, times: int, retry_after: float) -> None:
        with self._lock:
            self._failures += [(429, retry_after)] * times

    def hold(self) -> None:
        """From now on posts are received but not answered until :meth:`release`."""
        self._gate.clear()

    def release(self) -> None:
        self._gate.set()

    def up(self) -> None:
        handler = type("Handler", (_Handler,), {"chat": self})
        ThreadingHTTPServer.allow_reuse_address = True
        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), handler)
        self._server.daemon_threads = True
        self.port = self._server.server_address[1]
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def down(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def reply(self, transport: str, user: str, text: str, at: float | None = None) -> None:
        """``user`` writes ``text`` to the bot (epoch ``at``, default now)."""
        with self._lock:
            self.inbox.append(
                {"transport": transport, "user": user, "text": text, "at": at or time.time()}
            )

    def _discord_inbox(self, channel: str) -> list[dict]:
        user = channel.removeprefix("dm-")
        rows = [m for m in self.inbox if m["transport"] == "discord" and m["user"] == user]
        stamp = lambda t: datetime.fromtimestamp(t, UTC).isoformat()  # noqa: E731
        return [
            {
                "id": str(n),
                "content": m["text"],
                "timestamp": stamp(m["at"]),
                "author": {"id": user, "bot": False},
            }
            for n, m in enumerate(reversed(rows))  # newest first, as Discord answers
        ]

    def _telegram_updates(self) -> list[dict]:
        rows = [m for m in self.inbox if m["transport"] == "telegram"]
        return [
            {
                "update_id": n,
                "message": {
                    "text": m["text"],
                    "date": int(m["at"]),
                    "from": {"id": int(m["user"])},
                    "chat": {"id": int(m["user"])},
                },
            }
            for n, m in enumerate(rows)
        ]

    def bodies(self, to: str | None = None) -> list[str]:
        with self._lock:
            return [d["body"] for d in self.delivered if to is None or d["to"] == to]

    # -- the API ---------------------------------------------------------------------------
    def _answer(self, path: str, headers, payload: dict) -> tuple[int, dict, dict]:
        """(status, JSON body, extra headers) for one POST."""
        with self._lock:
            self.requests += 1
            if self._failures:
                status, retry = self._failures.pop(0)
                extra = {"Retry-After": f"{retry:g}"} if retry is not None else {}
                body = {"message": "fake failure", "retry_after": retry}
                return status, body, extra
            if path == "/discord/users/@me/channels":
                if headers.get("Authorization") != f"Bot {DISCORD_TOKEN}":
                    return 401, {"message": "401: Unauthorized"}, {}
                return 200, {"id": f"dm-{payload['recipient_id']}", "type": 1}, {}
            m = _CHANNEL.match(path)
            if m:
                if headers.get("Authorization") != f"Bot {DISCORD_TOKEN}":
                    return 401, {"message": "401: Unauthorized"}, {}
                key = (m.group(1), str(payload.get("nonce", "")))
                if payload.get("enforce_nonce") and key[1] and key in self._nonces:
                    return 200, self._nonces[key], {}
                msg = {"id": str(len(self.delivered) + 1), "channel_id": m.group(1)}
                self.delivered.append(
                    {
                        "transport": "discord",
                        "to": m.group(1),
                        "body": payload["content"],
                        "nonce": key[1],
                    }
                )
                if key[1]:
                    self._nonces[key] = msg
                return 200, msg, {}
            m = _UPDATES.match(path)
            if m:
                if m.group(1) != TELEGRAM_TOKEN:
                    return 401, {"ok": False, "description": "Unauthorized"}, {}
                return 200, {"ok": True, "result": self._telegram_updates()}, {}
            m = _TELEGRAM.match(path)
            if m:
                if m.group(1) != TELEGRAM_TOKEN:
                    return 401, {"ok": False, "description": "Unauthorized"}, {}
                self.delivered.append(
                    {
                        "transport": "telegram",
                        "to": str(payload["chat_id"]),
                        "body": payload["text"],
                        "nonce": "",
                    }
                )
                return 200, {"ok": True, "result": {"message_id": len(self.delivered)}}, {}
            return 404, {"message": "not found"}, {}


class _Handler(BaseHTTPRequestHandler):
    chat: FakeChat

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        m = _CHANNEL.match(self.path.split("?", 1)[0])
        with self.chat._lock:
            if self.headers.get("Authorization") != f"Bot {DISCORD_TOKEN}":
                status, body = 401, {"message": "401: Unauthorized"}
            elif m:
                status, body = 200, self.chat._discord_inbox(m.group(1))
            else:
                status, body = 404, {"message": "not found"}
        self._send(status, body, {})

    def do_POST(self) -> None:  # noqa: N802 - http.server's naming
        length = int(self.headers.get("Content-Length") or 0)
        try:
            payload = json.loads(self.rfile.read(length) or b"{}")
        except ValueError:
            payload = {}
        with self.chat._lock:
            self.chat.posts_received += 1
        self.chat._gate.wait()
        if self.chat.delay_s:
            time.sleep(self.chat.delay_s)
        status, body, extra = self.chat._answer(self.path, self.headers, payload)
        self._send(status, body, extra)

    def _send(self, status: int, body, extra: dict) -> None:
        data = json.dumps(body).encode()
        try:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            for k, v in extra.items():
                self.send_header(k, v)
            self.end_headers()
            self.wfile.write(data)
        except OSError:
            pass  # the client gave up (a timeout test)

    def log_message(self, *_args) -> None:
        pass
