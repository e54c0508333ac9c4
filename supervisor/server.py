"""Local HTTP status server (stdlib), bound to 127.0.0.1 only.

Endpoints: /status, /health, /history. When STATUS_AUTH_TOKEN is set, every endpoint but
/health needs ``Authorization: Bearer <token>``.
"""

from __future__ import annotations

import hmac
import json
import sys
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

PORT_ATTEMPTS = 5
LOCAL_HOSTS = {"127.0.0.1", "localhost", "::1", ""}
HISTORY_MAX_LIMIT = 1000


class StatusServer:
    """Serve JSON views produced by callables, so the server owns no state of its own."""

    def __init__(
        self,
        *,
        status: Callable[[], dict],
        health: Callable[[], tuple[int, dict]],
        history: Callable[[dict], dict],
        token: str | None = None,
        host: str = "127.0.0.1",
    ) -> None:
        self.status, self.health, self.history = status, health, history
        self.token = token or None
        self.host = host
        self.httpd: ThreadingHTTPServer | None = None
        self.port: int | None = None
        self._thread: threading.Thread | None = None

    def start(self, port: int) -> int | None:
        """Bind port..port+4 and serve in a daemon thread; returns the bound port or None."""
        handler = _make_handler(self)
        for candidate in range(port, min(port + PORT_ATTEMPTS, 65536)):
            try:
                self.httpd = ThreadingHTTPServer((self.host, candidate), handler)
            except OSError as exc:
                print(f"[status] port {candidate} unavailable ({exc.strerror})", file=sys.stderr)
                continue
            self.httpd.daemon_threads = True
            self.port = candidate
            if candidate != port:
                print(
                    f"[status] WARNING: serving on {candidate} instead of {port}; another "
                    f"instance may own {port} (compare /health pid)",
                    file=sys.stderr,
                )
            self._thread = threading.Thread(
                target=self.httpd.serve_forever, name="status-server", daemon=True
            )
            self._thread.start()
            return candidate
        print(
            f"[status] WARNING: no free port in {port}-{port + PORT_ATTEMPTS - 1}; "
            "running without a status server",
            file=sys.stderr,
        )
        return None

    def stop(self) -> None:
        if self.httpd is not None:
            self.httpd.shutdown()
            self.httpd.server_close()
            self.httpd = None


def _make_handler(server: StatusServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, fmt: str, *args) -> None:  # quiet: no per-request logs
            return

        def _send(self, code: int, body: dict) -> None:
            data = json.dumps(body, allow_nan=False, default=str).encode()
            self.send_response(code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(data)

        def _authorized(self) -> bool:
            if server.token is None:
                return True
            got = self.headers.get("Authorization", "")
            return hmac.compare_digest(got.encode(), f"Bearer {server.token}".encode())

        def _local_host(self) -> bool:
            """Reject other Host names, so a web page cannot reach us via DNS rebinding."""
            host = (self.headers.get("Host") or "").rsplit(":", 1)[0].strip("[]").lower()
            return host in LOCAL_HOSTS

        def do_GET(self) -> None:  # noqa: N802 - http.server API
            url = urlparse(self.path)
            path = url.path.rstrip("/") or "/"
            if not self._local_host():
                self._send(403, {"error": "host not allowed"})
                return
            try:
                if path == "/health":
                    code, body = server.health()
                    self._send(code, body)
                    return
                if path not in ("/status", "/history"):
                    self._send(404, {"error": f"no such endpoint {path}"})
                    return
                if not self._authorized():
                    self._send(401, {"error": "unauthorized"})
                    return
                if path == "/status":
                    self._send(200, server.status())
                    return
                query = {k: v[-1] for k, v in parse_qs(url.query).items()}
                try:
                    self._send(200, server.history(query))
                except ValueError as exc:
                    self._send(400, {"error": str(exc)})
            except Exception as exc:  # never let a view bug kill the server thread
                self._send(500, {"error": f"{type(exc).__name__}: {exc}"})

        do_HEAD = do_GET

    return Handler


def parse_history_query(query: dict) -> dict:
    """Validate /history query params into keyword arguments for StateDB.trade_history."""
    out: dict = {"strategy": query.get("strategy") or None, "symbol": query.get("symbol") or None}
    for key, default in (("limit", 50), ("offset", 0)):
        raw = query.get(key)
        if raw in (None, ""):
            out[key] = default
            continue
        try:
            out[key] = int(raw)
        except ValueError:
            raise ValueError(f"{key} must be an integer, got '{raw}'") from None
        if out[key] < 0:
            raise ValueError(f"{key} must be >= 0")
    out["limit"] = min(out["limit"], HISTORY_MAX_LIMIT)
    return out
