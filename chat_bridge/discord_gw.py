"""Discord: the gateway websocket (as upstream: no public HTTP endpoint to expose) for the
interactions, REST for the answers, the command registration and the owner's DMs.

Why the gateway and plain clients (``websocket-client`` + ``requests``) rather than discord.py:
the bridge needs five gateway opcodes and six REST calls; discord.py would bring an asyncio
stack and its own cache for that, and the HTTP interactions endpoint would need a public HTTPS
address and Ed25519 verification on the host. The gateway is an outbound connection.

Per interaction (each claimed in the state file first, so a redelivered one never runs twice):
- a denial is answered at once, ephemeral;
- a ``deferred`` command is ACKed (type 5) and its answer edits the original in a follow-up,
  inline ones answer with type 4; more messages are follow-ups;
- a confirmation prompt carries Confirm/Cancel buttons (``gt:c:<code>``/``gt:x:<code>``); the
  press replaces the prompt with the result (type 7), so the buttons go away.
When the first answer cannot be given (Discord down at that moment), the reply goes as a message
(to the DM it came from, or from a guild to the asker's DM: an ephemeral answer never becomes
public) with the reply's id as ``nonce`` and ``enforce_nonce``, so a retry creates no second
message. Everything after the first answer goes through the outbox.

The gateway session is resumed, not re-identified, after a dropped socket, an op 7 Reconnect, an
op 9 Invalid Session that says it is resumable, or a heartbeat that was never acknowledged (a
zombied connection): the ``session_id``, ``resume_gateway_url`` and last sequence from READY and
the dispatches are kept, and Discord replays what was missed (each interaction is still
claimed once). Op 9 with ``d: false``, or a close code that ends the session (4007, 4009),
clears them: a fresh IDENTIFY after a random 1-5 s wait, as Discord asks.

429s: the callback (the first answer) waits the route's ``retry_after`` when it still fits in
Discord's 3 s answer window, else the answer goes as a message through the outbox, which waits
out the limit (chat_bridge/ratelimit.py).
"""

from __future__ import annotations

import contextlib
import json
import random
import struct
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import requests
import websocket

from chat_bridge import attachments
from chat_bridge.commands import lookup, registration
from chat_bridge.core import Answer, Bridge, Invocation
from chat_bridge.outbox import MAX_BACKOFF_S, Outbox, new_id
from chat_bridge.ratelimit import Limits
from chat_bridge.store import Store

INTENTS = 1 << 12  # DIRECT_MESSAGES, as upstream
EPHEMERAL = 64
PONG, MESSAGE, DEFERRED, UPDATE = 1, 4, 5, 7  # interaction callback types
COMMAND, COMPONENT = 2, 3  # interaction types
QUERY = "/?v=10&encoding=json"
CALLBACK_WAIT_S = 2.0  # the longest 429 wait that still fits in the 3 s answer window
INVALID_WAIT_S = (1.0, 5.0)  # op 9 d=false: wait a random 1-5 s before identifying again
SESSION_ENDED = {4007, 4009}  # invalid seq, session timed out: identify again
RESUME_TRIES = 3  # failed connections in a row before a resume gives way to an identify
RESUMABLE_CLOSE = 4000  # our own close when we mean to resume (1000/1001 end the session)


class Discord:
    def __init__(
        self,
        bridge: Bridge,
        store: Store,
        token: str,
        api_base: str,
        log: Callable[[str], None],
        stop: threading.Event,
        *,
        owner: str = "",
        gateway: str | None = None,
        backoff_s: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], object] | None = None,
    ) -> None:
        self.bridge, self.store, self.log, self.stop = bridge, store, log, stop
        self.api = api_base.rstrip("/")
        self.owner, self.gateway, self.backoff_s = owner, gateway, backoff_s
        self.http = requests.Session()
        self.http.headers["Authorization"] = f"Bot {token}"
        self.token = token
        self.app_id = ""
        self.registered = False
        self.seq: int | None = None
        self.session_id = ""  # from READY: with the seq, what a RESUME needs
        self.resume_url = ""
        self.acked = True  # the last heartbeat was acknowledged (op 11)
        self.sleep = sleep or stop.wait
        self.limits = Limits(clock)
        self.workers = ThreadPoolExecutor(max_workers=4, thread_name_prefix="discord-cmd")
        self.outbox = Outbox(
            store,
            "discord",
            self._send,
            log,
            stop,
            backoff_s,
            limits=self.limits,
            route=_route,
            sleep=sleep,
        )

    # -- REST --------------------------------------------------------------------------------------
    def rest(self, method: str, path: str, body: Any = None) -> requests.Response:
        return self.http.request(method, self.api + path, json=body, timeout=15)

    def _send(self, item: dict[str, Any]) -> requests.Response:
        if item.get("dm"):  # to the owner: open (or find) the DM channel first
            r = self.rest("POST", "/users/@me/channels", {"recipient_id": item["dm"]})
            if r.status_code != 200:
                return r
            item = {**item, "path": f"/channels/{r.json()['id']}/messages"}
        return self.rest(item["method"], item["path"], item["body"])

    def channel_message(self, channel: str, text: str, components: list[Any] | None = None) -> None:
        rid = new_id()
        body: dict[str, Any] = {"content": text, "nonce": rid, "enforce_nonce": True}
        if components:
            body["components"] = components
        self.store.queue(
            {
                "id": rid,
                "transport": "discord",
                "method": "POST",
                "path": f"/channels/{channel}/messages",
                "body": body,
            }
        )
        self.outbox.wake.set()

    def dm(self, user: str, text: str, components: list[Any] | None = None) -> None:
        rid = new_id()
        body: dict[str, Any] = {"content": text, "nonce": rid, "enforce_nonce": True}
        if components:
            body["components"] = components
        self.store.queue(
            {"id": rid, "transport": "discord", "method": "POST", "dm": user, "body": body}
        )
        self.outbox.wake.set()

    def dm_owner(self, text: str) -> None:
        self.dm(self.owner, text)

    def fallback(self, d: dict[str, Any], text: str, components: list[Any] | None = None) -> None:
        """The answer Discord could not take in the interaction: to the DM it came from, or,
        from a guild, to the asker's DM (an ephemeral answer must never become public)."""
        if "guild_id" in d:
            self.dm(_user(d), text, components)
        else:
            self.channel_message(str(d.get("channel_id", "")), text, components)

    def register(self) -> None:
        """One bulk overwrite of the global command set; a failure DMs the owner (not fatal)."""
        try:
            r = self.rest("PUT", f"/applications/{self.app_id}/commands", registration())
            err = "" if r.status_code == 200 else f"HTTP {r.status_code}: {r.text[:300]}"
        except requests.RequestException as exc:
            err = type(exc).__name__
        if err:
            self.log(f"[discord] slash registration failed: {err}")
            if self.owner:
                self.dm_owner(f"[slash] registration failed: {err}")
        self.registered = True

    # -- gateway -----------------------------------------------------------------------------------
    def run(self) -> None:
        sender = threading.Thread(target=self.outbox.run, name="discord-out", daemon=True)
        sender.start()
        failures = 0
        while not self.stop.is_set():
            try:
                self.session()
                failures = 0
            except (OSError, ValueError, KeyError, websocket.WebSocketException) as exc:
                failures += 1
                self.log(f"[discord] gateway: {type(exc).__name__}: {exc}; reconnecting")
                if failures >= RESUME_TRIES and self.session_id:
                    self._forget_session()  # the resume address keeps failing: identify anew
            self.stop.wait(min(MAX_BACKOFF_S, self.backoff_s * 2 ** min(failures, 10)))
        self.workers.shutdown(wait=True)
        self.outbox.wake.set()  # the sender sees the stop now
        sender.join(timeout=5)

    def _gateway_url(self) -> str:
        if self.gateway:
            return self.gateway
        r = self.rest("GET", "/gateway/bot")
        r.raise_for_status()
        return str(r.json()["url"]) + QUERY

    def session(self) -> None:
        """One gateway connection: hello, identify or resume, heartbeats, dispatches, until it
        drops; the session survives for a resume unless Discord ended it."""
        resuming = bool(self.session_id)
        url = self.resume_url if resuming and self.resume_url else self._gateway_url()
        ws = websocket.create_connection(url, timeout=30)
        close_code = RESUMABLE_CLOSE
        try:
            hello = json.loads(ws.recv())
            interval = float(hello["d"]["heartbeat_interval"]) / 1000.0
            ws.send(json.dumps(self._resume() if resuming else self._identify()))
            beat = time.monotonic() + interval
            self.acked = True
            while not self.stop.is_set():
                ws.settimeout(max(0.05, min(1.0, beat - time.monotonic())))
                try:
                    opcode, raw = ws.recv_data()
                except websocket.WebSocketTimeoutException:
                    opcode, raw = 0, b""
                if opcode == websocket.ABNF.OPCODE_CLOSE:
                    self._closed(raw)
                    return
                if time.monotonic() >= beat:
                    if not self.acked:  # no ACK since the last beat: a zombie connection
                        self.log("[discord] gateway heartbeat not acknowledged; resuming")
                        return
                    self.acked = False
                    ws.send(json.dumps({"op": 1, "d": self.seq}))
                    beat = time.monotonic() + interval
                if not raw:
                    continue
                if not self.dispatch(json.loads(raw), ws):
                    return
            close_code = 1000  # stopping: the session ends with us
        finally:
            with contextlib.suppress(OSError, websocket.WebSocketException):
                ws.close(status=close_code, timeout=1)

    def _identify(self) -> dict[str, Any]:
        return {
            "op": 2,
            "d": {
                "token": self.token,
                "intents": INTENTS,
                "properties": {"os": "linux", "browser": "go-trader", "device": "go-trader"},
            },
        }

    def _resume(self) -> dict[str, Any]:
        d = {"token": self.token, "session_id": self.session_id, "seq": self.seq}
        return {"op": 6, "d": d}

    def _forget_session(self) -> None:
        self.session_id, self.resume_url, self.seq = "", "", None

    def _closed(self, data: bytes) -> None:
        """Discord closed the socket: a code that ends the session means identify again."""
        code = struct.unpack("!H", data[:2])[0] if len(data) >= 2 else 0
        self.log(f"[discord] gateway closed ({code})")
        if code in SESSION_ENDED:
            self._forget_session()

    def dispatch(self, msg: dict[str, Any], ws: Any) -> bool:
        """One gateway message; False to reconnect (resuming unless the session was ended)."""
        op = msg.get("op")
        if msg.get("s") is not None:
            self.seq = msg["s"]
        if op == 11:
            self.acked = True
        elif op == 1:
            ws.send(json.dumps({"op": 1, "d": self.seq}))
        elif op == 7:  # reconnect: resume on a new socket
            return False
        elif op == 9:  # invalid session: resumable when d is true
            if not msg.get("d"):
                self._forget_session()
                self.sleep(random.uniform(*INVALID_WAIT_S))
            return False
        elif op == 0 and msg.get("t") == "READY":
            d = msg["d"]
            self.app_id = str(d["application"]["id"])
            self.session_id = str(d.get("session_id") or "")
            resume = str(d.get("resume_gateway_url") or "")
            self.resume_url = resume if "?" in resume or not resume else resume.rstrip("/") + QUERY
            if not self.registered:
                self.register()
        elif op == 0 and msg.get("t") == "RESUMED":
            self.log("[discord] gateway session resumed")
        elif op == 0 and msg.get("t") == "INTERACTION_CREATE":
            self.workers.submit(self.interaction, msg["d"])
        return True

    # -- interactions ------------------------------------------------------------------------------
    def interaction(self, d: dict[str, Any]) -> None:
        try:
            if not self.store.claim(f"discord:{d['id']}"):
                return
            if d.get("type") == COMMAND:
                self._command(d)
            elif d.get("type") == COMPONENT:
                self._press(d)
        except Exception as exc:  # one bad interaction never stops the bridge
            self.log(f"[discord] interaction {d.get('id')}: {type(exc).__name__}: {exc}")

    def _callback(self, d: dict[str, Any], kind: int, data: dict[str, Any] | None) -> bool:
        """The interaction's own answer; a 429 is waited out when it fits the answer window."""
        body: dict[str, Any] = {"type": kind}
        if data is not None:
            body["data"] = data
        path = f"/interactions/{d['id']}/{d['token']}/callback"
        route = f"POST /interactions/{d['id']}"
        for _attempt in range(2):
            wait = self.limits.delay(route)
            if wait > CALLBACK_WAIT_S:
                return False
            if wait > 0:
                self.sleep(wait)
            try:
                r = self.rest("POST", path, body)
            except requests.RequestException:
                return False
            if r.status_code != 429:
                return r.status_code in (200, 204)
            self.limits.hit(route, r)
        return False

    def _command(self, d: dict[str, Any]) -> None:
        data = d.get("data") or {}
        user = _user(d)
        options = {o["name"]: o.get("value") for o in data.get("options") or []}
        cmd = lookup(str(data.get("name", "")))
        inv = Invocation(
            "discord",
            cmd.name if cmd else str(data.get("name", "")),
            options,
            user=user,
            in_dm="guild_id" not in d,
            channel=str(d.get("channel_id", "")),
        )
        why = self.bridge.denial(inv, cmd) if cmd else None
        if cmd is None or why:
            answer = Answer([why or "Unknown command."], True, refused=True)
            if not self._callback(d, MESSAGE, {"content": answer.messages[0], "flags": EPHEMERAL}):
                self.fallback(d, answer.messages[0])
            return
        acked = False
        if cmd.deferred:
            flags = EPHEMERAL if (self.bridge.access["discord"].ephemeral or cmd.owner) else 0
            acked = self._callback(d, DEFERRED, {"flags": flags})
        answer = self.bridge.run(inv)
        self._deliver(d, answer, acked, deferred=cmd.deferred)
        if answer.later:  # /backtest: its result and file follow (chat_bridge/attachments.py)
            attachments.discord_later(self, d, answer)

    def _deliver(self, d: dict[str, Any], answer: Answer, acked: bool, deferred: bool) -> None:
        flags = EPHEMERAL if answer.ephemeral else 0
        buttons = _buttons(answer.confirm) if answer.confirm else None
        first, rest = answer.messages[0], answer.messages[1:]
        hook = f"/webhooks/{self.app_id}/{d['token']}"
        if deferred and acked:
            body: dict[str, Any] = {"content": first}
            if buttons:
                body["components"] = buttons
            self.outbox.put({"method": "PATCH", "path": f"{hook}/messages/@original", "body": body})
        elif not deferred and self._callback(
            d,
            MESSAGE,
            {"content": first, "flags": flags, **({"components": buttons} if buttons else {})},
        ):
            acked = True
        else:  # Discord did not take the first answer: a message instead, deduplicated
            self.fallback(d, first, buttons)
            for text in rest:
                self.fallback(d, text)
            return
        for text in rest:
            self.outbox.put(
                {"method": "POST", "path": hook, "body": {"content": text, "flags": flags}}
            )

    def _press(self, d: dict[str, Any]) -> None:
        custom = str((d.get("data") or {}).get("custom_id", ""))
        user = _user(d)
        parts = custom.split(":")
        if len(parts) != 3 or parts[0] != "gt" or parts[1] not in ("c", "x"):
            return
        text = self.bridge.resolve(parts[2], user, parts[1] == "c")
        if not self._callback(d, UPDATE, {"content": text, "components": []}):
            self.fallback(d, text)


def _route(item: dict[str, Any]) -> str:
    """An outbox item's rate-limit route: its method and path (a DM: its recipient)."""
    where = item.get("path") or f"dm:{item.get('dm')}"
    return f"{item.get('method', 'POST')} {where}"


def _user(d: dict[str, Any]) -> str:
    """The asker's id: ``member.user`` in a guild, ``user`` in a DM."""
    return str(((d.get("member") or {}).get("user") or d.get("user") or {}).get("id", ""))


def _buttons(code: str) -> list[dict[str, Any]]:
    return [
        {
            "type": 1,
            "components": [
                {"type": 2, "style": 4, "label": "Confirm", "custom_id": f"gt:c:{code}"},
                {"type": 2, "style": 2, "label": "Cancel", "custom_id": f"gt:x:{code}"},
            ],
        }
    ]
