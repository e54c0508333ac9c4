"""Local fake chat servers on 127.0.0.1 for the chat bridge's tests: Telegram's Bot API
(getUpdates, sendMessage, answerCallbackQuery), Discord's REST API (interaction callbacks,
webhooks, channel messages with ``enforce_nonce``, the bulk command overwrite) and a Discord
gateway (a minimal websocket server: hello, identify, READY, heartbeats, dispatches).

Each server can be told to fail the next N calls of a path (502, as a chat outage) or to answer
them 429 with a ``retry_after`` (Discord's body and header, or Telegram's ``parameters``), and
records only the calls it accepted. The gateway keeps its session: a RESUME replays what the
client missed, and it can be told to send op 7/op 9 or to stop acknowledging heartbeats."""

from __future__ import annotations

import base64
import contextlib
import email.policy
import hashlib
import json
import re
import socket
import struct
import threading
import time
from email.parser import BytesParser
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

WS_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"


def multipart(ctype: str, raw: bytes) -> dict:
    """A multipart/form-data body (Discord's follow-up with an attachment, Telegram's
    sendDocument) as ``{"multipart": {name: text | {"filename", "data"}}}``."""
    msg = BytesParser(policy=email.policy.HTTP).parsebytes(
        b"Content-Type: " + ctype.encode() + b"\r\n\r\n" + raw
    )
    out: dict[str, Any] = {}
    for part in msg.iter_parts():
        name = part.get_param("name", header="content-disposition")
        data = part.get_payload(decode=True) or b""
        filename = part.get_filename()
        out[str(name)] = (
            {"filename": filename, "data": data.decode()} if filename else data.decode()
        )
    return {"multipart": out}


class _Server:
    """A threaded HTTP server whose handler calls ``self.route(method, path, body)``."""

    def __init__(self) -> None:
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def _any(self) -> None:
                n = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(n) if n else b""
                ctype = self.headers.get("Content-Type") or ""
                if ctype.startswith("multipart/form-data"):
                    body = multipart(ctype, raw)
                else:
                    body = json.loads(raw) if raw else None
                code, out = owner.handle(self.command, self.path, body)
                data = json.dumps(out).encode()
                self.send_response(code)
                if code == 429:
                    self.send_header("Retry-After", str(int(owner.last_retry_after + 0.999)))
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_PUT = do_PATCH = _any

            def log_message(self, *_a: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.lock = threading.Lock()
        self.calls: list[tuple[str, str, Any]] = []  # accepted calls
        self.failures: dict[str, int] = {}  # path regex -> calls still to fail
        self.limited: dict[str, list[Any]] = {}  # path regex -> [calls left, retry_after, global]
        self.limit_hits: list[str] = []  # the paths answered 429
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def fail(self, pattern: str, times: int) -> None:
        with self.lock:
            self.failures[pattern] = times

    last_retry_after = 0.0

    def limit(self, pattern: str, times: int, retry_after: float, is_global: bool = False) -> None:
        """Answer the next ``times`` calls of ``pattern`` 429, asking for ``retry_after`` s."""
        with self.lock:
            self.limited[pattern] = [times, retry_after, is_global]

    def too_many(self, retry_after: float, is_global: bool) -> Any:
        return {"message": "You are being rate limited.", "retry_after": retry_after}

    def handle(self, method: str, path: str, body: Any) -> tuple[int, Any]:
        with self.lock:
            for pattern, left in self.failures.items():
                if left > 0 and re.search(pattern, path):
                    self.failures[pattern] = left - 1
                    return 502, {"message": "bad gateway"}
            for pattern, spec in self.limited.items():
                if spec[0] > 0 and re.search(pattern, path):
                    spec[0] -= 1
                    self.limit_hits.append(path)
                    self.last_retry_after = spec[1]
                    return 429, self.too_many(spec[1], spec[2])
        return self.route(method, path, body)

    def route(self, method: str, path: str, body: Any) -> tuple[int, Any]:
        raise NotImplementedError

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


class FakeTelegram(_Server):
    TOKEN = "123:fake"

    def __init__(self) -> None:
        super().__init__()
        self.updates: list[dict] = []
        self.next_id = 100
        self.cond = threading.Condition()

    def push(self, update: dict) -> int:
        with self.cond:
            self.next_id += 1
            self.updates.append({"update_id": self.next_id, **update})
            self.cond.notify_all()
            return self.next_id

    def command(self, text: str, user: int, chat: int | None = None, private: bool = True) -> int:
        chat_doc = {"id": chat or user, "type": "private" if private else "group"}
        return self.push({"message": {"text": text, "from": {"id": user}, "chat": chat_doc}})

    def press(self, data: str, user: int) -> int:
        cq = {"id": f"cq{self.next_id}", "data": data, "from": {"id": user}}
        cq["message"] = {"chat": {"id": user, "type": "private"}}
        return self.push({"callback_query": cq})

    def sent(self) -> list[dict]:
        with self.lock:
            return [b for m, p, b in self.calls if p.endswith("/sendMessage")]

    def documents(self) -> list[dict]:
        """``sendDocument`` calls: their multipart fields."""
        with self.lock:
            return [b["multipart"] for m, p, b in self.calls if p.endswith("/sendDocument")]

    def too_many(self, retry_after: float, is_global: bool) -> Any:
        return {
            "ok": False,
            "error_code": 429,
            "description": f"Too Many Requests: retry after {retry_after}",
            "parameters": {"retry_after": retry_after},
        }

    def route(self, method: str, path: str, body: Any) -> tuple[int, Any]:
        if not path.startswith(f"/bot{self.TOKEN}/"):
            return 404, {"ok": False}
        name = path.rsplit("/", 1)[1]
        if name == "getUpdates":
            offset = int((body or {}).get("offset") or 0)
            deadline = time.monotonic() + min(float((body or {}).get("timeout") or 0), 0.3)
            with self.cond:
                while True:
                    got = [u for u in self.updates if u["update_id"] >= offset]
                    if got or time.monotonic() >= deadline:
                        break
                    self.cond.wait(0.05)
            return 200, {"ok": True, "result": got}
        with self.lock:
            self.calls.append((method, path, body))
        return 200, {"ok": True, "result": {"message_id": len(self.calls)}}


class FakeDiscord(_Server):
    """REST, plus the gateway (``gateway_url``)."""

    def __init__(self) -> None:
        super().__init__()
        self.messages: dict[str, dict] = {}  # nonce -> message (enforce_nonce dedup)
        self.register_code = 200
        self.gateway = FakeGateway()

    def too_many(self, retry_after: float, is_global: bool) -> Any:
        return {
            "message": "You are being rate limited.",
            "retry_after": retry_after,
            "global": is_global,
        }

    def route(self, method: str, path: str, body: Any) -> tuple[int, Any]:
        path = path.removeprefix("/api/v10")
        if method == "PUT" and path.endswith("/commands") and self.register_code != 200:
            return self.register_code, {"message": "Missing Access"}
        if method == "POST" and path == "/users/@me/channels":
            with self.lock:
                self.calls.append((method, path, body))
            return 200, {"id": f"dm-{body['recipient_id']}"}
        if method == "POST" and path.startswith("/channels/") and (body or {}).get("enforce_nonce"):
            with self.lock:
                if body["nonce"] in self.messages:  # the same message again: nothing new
                    return 200, self.messages[body["nonce"]]
                self.messages[body["nonce"]] = {"id": str(len(self.messages) + 1), **body}
                self.calls.append((method, path, body))
            return 200, self.messages[body["nonce"]]
        with self.lock:
            self.calls.append((method, path, body))
        return (204, {}) if path.endswith("/callback") else (200, {"id": "1"})

    def of(self, method: str, pattern: str) -> list[tuple[str, Any]]:
        with self.lock:
            return [(p, b) for m, p, b in self.calls if m == method and re.search(pattern, p)]

    def close(self) -> None:
        self.gateway.close()
        super().close()


class FakeGateway:
    """A websocket server speaking enough of Discord's gateway for one client at a time; it keeps
    one session (``s1``) and every dispatch, so a RESUME replays what the client missed."""

    SESSION = "s1"

    def __init__(self, heartbeat_ms: int = 500) -> None:
        self.sock = socket.create_server(("127.0.0.1", 0))
        port = self.sock.getsockname()[1]
        self.url = f"ws://127.0.0.1:{port}/?v=10&encoding=json"
        self.resume_url = f"ws://127.0.0.1:{port}"
        self.heartbeat_ms = heartbeat_ms
        self.conn: socket.socket | None = None
        self.live = False  # identified or resumed: dispatches go out
        self.identified = threading.Event()
        self.resumed = threading.Event()
        self.received: list[dict] = []
        self.history: list[dict] = []  # every dispatch, for a replay
        self.seq = 1
        self.ack = True  # False: heartbeats go unanswered (a zombied connection)
        self.session_valid = True  # False: a RESUME gets op 9 d=false
        self.lock = threading.Lock()
        self.order = threading.RLock()  # a replay and new dispatches never interleave
        self.closed = False
        threading.Thread(target=self._accept, daemon=True).start()

    def ops(self, op: int) -> int:
        """How many messages with ``op`` the client sent."""
        return sum(1 for m in list(self.received) if m.get("op") == op)

    def _accept(self) -> None:
        while not self.closed:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        try:
            head = b""
            while b"\r\n\r\n" not in head:
                head += conn.recv(4096)
            key = re.search(rb"Sec-WebSocket-Key: *(\S+)", head, re.I).group(1)
            accept = base64.b64encode(hashlib.sha1(key + WS_GUID.encode()).digest()).decode()
            conn.sendall(
                b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                b"Connection: Upgrade\r\nSec-WebSocket-Accept: " + accept.encode() + b"\r\n\r\n"
            )
            with self.lock:
                self.conn, self.live = conn, False
            self.send({"op": 10, "d": {"heartbeat_interval": self.heartbeat_ms}})
            while True:
                msg = self._read(conn)
                if msg is None:
                    return
                self.received.append(msg)
                if msg.get("op") == 2:
                    self.session_valid = True
                    with self.order, self.lock:
                        self.live = True
                    self.dispatch(
                        "READY",
                        {
                            "application": {"id": "app1"},
                            "session_id": self.SESSION,
                            "resume_gateway_url": self.resume_url,
                        },
                    )
                    self.identified.set()
                elif msg.get("op") == 6:
                    self._resume(msg.get("d") or {})
                elif msg.get("op") == 1 and self.ack:
                    self.send({"op": 11})
        except OSError:
            return

    def _resume(self, d: dict) -> None:
        if not self.session_valid or d.get("session_id") != self.SESSION:
            self.send({"op": 9, "d": False})
            return
        with self.order:
            with self.lock:
                missed = [m for m in self.history if m["s"] > int(d.get("seq") or 0)]
            for m in missed:
                self.send(m)
            with self.lock:
                self.live = True
            self.dispatch("RESUMED", {})
        self.resumed.set()

    @staticmethod
    def _exact(conn: socket.socket, n: int) -> bytes:
        out = b""
        while len(out) < n:
            chunk = conn.recv(n - len(out))
            if not chunk:
                raise OSError("closed")
            out += chunk
        return out

    def _read(self, conn: socket.socket) -> dict | None:
        b1, b2 = self._exact(conn, 2)
        if b1 & 0x0F == 8:
            return None
        n = b2 & 0x7F
        if n == 126:
            n = struct.unpack(">H", self._exact(conn, 2))[0]
        elif n == 127:
            n = struct.unpack(">Q", self._exact(conn, 8))[0]
        mask = self._exact(conn, 4) if b2 & 0x80 else b"\0\0\0\0"
        data = bytes(c ^ mask[i % 4] for i, c in enumerate(self._exact(conn, n)))
        return json.loads(data) if b1 & 0x0F == 1 else {}

    def send(self, doc: dict) -> None:
        data = json.dumps(doc).encode()
        n = len(data)
        head = (
            bytes([0x81, n])
            if n < 126
            else (
                bytes([0x81, 126]) + struct.pack(">H", n)
                if n < 65536
                else bytes([0x81, 127]) + struct.pack(">Q", n)
            )
        )
        with self.lock:
            if self.conn is not None:
                with contextlib.suppress(OSError):
                    self.conn.sendall(head + data)

    def close_with(self, code: int) -> None:
        """Close the session's socket as Discord does, with a close code (the client answers
        the close and goes; nothing is cut under it, so the code always arrives)."""
        self.identified.clear()
        self.resumed.clear()
        with self.lock:
            self.live = False
            if self.conn is not None:
                with contextlib.suppress(OSError):
                    self.conn.sendall(bytes([0x88, 2]) + struct.pack(">H", code))

    def drop(self) -> None:
        """Cut the client's connection (a gateway outage); it should come back and resume."""
        self.identified.clear()
        self.resumed.clear()
        with self.lock:
            conn, self.conn, self.live = self.conn, None, False
        if conn is not None:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
                conn.close()

    def dispatch(self, event: str, d: dict) -> None:
        """An event of the session: sent now while the client is connected, else kept for the
        replay of its RESUME (as Discord does)."""
        with self.order:
            with self.lock:
                self.seq += 1
                msg = {"op": 0, "t": event, "s": self.seq, "d": d}
                self.history.append(msg)
                live = self.live
            if live:
                self.send(msg)

    def close(self) -> None:
        self.closed = True
        self.sock.close()
        if self.conn is not None:
            with contextlib.suppress(OSError):
                self.conn.close()
