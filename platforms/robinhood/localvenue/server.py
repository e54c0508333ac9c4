"""The local Robinhood venue's HTTP server (stdlib, 127.0.0.1 only).

The API host's paths at the root, the crypto host's under ``/nummus`` (point
``ROBINHOOD_BASE_URL`` at the root; :mod:`platforms.robinhood.execution.credentials`):

- ``POST /oauth2/token/`` (login: username, password, ``mfa_code``), then Bearer tokens;
- ``GET /accounts/`` (buying power), ``GET /marketdata/forex/quotes/<pair>/``;
- ``GET /nummus/accounts/``, ``/nummus/currency_pairs/``, ``/nummus/holdings/``,
  ``/nummus/orders/`` (newest first, ``cursor`` pages), ``/nummus/orders/<id>/``;
  ``POST /nummus/orders/``, ``POST /nummus/orders/<id>/cancel/``.

``POST /control`` (loopback) takes ``{"op": ...}``: ``fund`` (``usd``), ``holding`` (``coin``,
``qty``, ``cost``), ``clock`` (``step_s`` or ``set_ms``; answers ``now_ms``), ``fault``
(``kind``, ``mode``, ``count``, params), ``clear_faults``, ``state``.
"""

from __future__ import annotations

import contextlib
import json
import socket
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from platforms.robinhood.localvenue.exchange import LocalRobinhood, VenueError
from platforms.robinhood.localvenue.faults import TRANSPORT_MODES, Faults

__all__ = ["HOST", "LocalVenueServer"]

HOST = "127.0.0.1"
DEFAULT_HOLD_S = 30.0


def _kind(method: str, parts: list[str]) -> str:
    """The fault kind of a request path (see :mod:`.faults`)."""
    if parts[:2] == ["oauth2", "token"]:
        return "login"
    if parts[:1] == ["accounts"]:
        return "accounts"
    if parts[:3] == ["marketdata", "forex", "quotes"]:
        return "quote"
    if parts[:1] == ["nummus"]:
        rest = parts[1:]
        if rest[:1] == ["orders"]:
            if method == "POST":
                return "cancel" if rest[-1:] == ["cancel"] else "order"
            return "order_get" if len(rest) > 1 else "orders"
        return {"accounts": "crypto_accounts", "currency_pairs": "pairs"}.get(
            rest[0] if rest else "", rest[0] if rest else "?"
        )
    return "?"


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:  # quiet: tests read stdout
        return

    def _reply(self, status: int, payload: Any) -> None:
        body = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:
        self._serve("GET", {})

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        try:
            body = json.loads(raw or b"{}")
        except ValueError:
            self._reply(400, {"detail": "the request body is not JSON"})
            return
        if not isinstance(body, dict):
            self._reply(400, {"detail": "the request body must be a JSON object"})
            return
        self._serve("POST", body)

    def _serve(self, method: str, body: dict[str, Any]) -> None:
        url = urlsplit(self.path)
        parts = [p for p in url.path.split("/") if p]
        try:
            if parts == ["control"] and method == "POST":
                self._control(body)
                return
            kind = _kind(method, parts)
            fault = self.server.venue.faults.take(kind, TRANSPORT_MODES)
            mode = fault.mode if fault else None
            if mode == "429":
                self._reply(429, {"detail": "Request was throttled (local venue fault)."})
                return
            if mode == "5xx" and fault is not None:
                self._reply(int(fault.params.get("status", 500)), {"detail": "Server error."})
                return
            if mode == "timeout" and fault is not None:
                self.server.stopping.wait(float(fault.params.get("hold_s", DEFAULT_HOLD_S)))
            try:
                status, answer = self._route(method, parts, parse_qs(url.query), body)
            except VenueError as exc:
                status, answer = exc.status, {"detail": str(exc)}
            if mode == "drop":  # it took effect; the client never hears back
                self.close_connection = True
                with contextlib.suppress(OSError):
                    self.connection.shutdown(socket.SHUT_RDWR)
                return
            self._reply(status, answer)
        except (BrokenPipeError, ConnectionResetError):  # the client gave up (timeouts)
            pass
        except Exception as exc:  # a venue bug answers 500 with its cause
            self._reply(500, {"detail": f"local venue error: {type(exc).__name__}: {exc}"})

    def _route(
        self, method: str, parts: list[str], query: dict[str, list[str]], body: dict[str, Any]
    ) -> tuple[int, Any]:
        venue = self.server.venue
        if parts == ["oauth2", "token"] and method == "POST":
            return 200, venue.login(body)
        if not venue.authorized(self.headers.get("Authorization")):
            raise VenueError("Authentication credentials were not provided.", 401)
        if method == "GET" and parts == ["accounts"]:
            return 200, {"next": None, "results": venue.api_accounts()}
        if method == "GET" and parts[:3] == ["marketdata", "forex", "quotes"] and len(parts) == 4:
            return 200, venue.quote(parts[3])
        rest = parts[1:] if parts[:1] == ["nummus"] else None
        if rest is None:
            raise VenueError("Not found.", 404)
        if method == "GET" and rest == ["accounts"]:
            return 200, {"next": None, "results": venue.crypto_accounts()}
        if method == "GET" and rest == ["currency_pairs"]:
            return 200, {"next": None, "results": venue.pairs()}
        if method == "GET" and rest == ["holdings"]:
            return 200, {"next": None, "results": venue.holding_rows()}
        if rest == ["orders"] and method == "POST":
            return 201, venue.place(body)
        if rest == ["orders"] and method == "GET":
            cursor = int((query.get("cursor") or ["0"])[0] or 0)
            rows, nxt = venue.list_orders(cursor)
            host = self.headers.get("Host") or f"{HOST}:{self.server.server_address[1]}"
            link = f"http://{host}/nummus/orders/?cursor={nxt}" if nxt is not None else None
            return 200, {"next": link, "results": rows}
        if len(rest) == 2 and rest[0] == "orders" and method == "GET":
            return 200, venue.get_order(rest[1])
        if len(rest) == 3 and rest[0] == "orders" and rest[2] == "cancel" and method == "POST":
            return 200, venue.cancel(rest[1])
        raise VenueError("Not found.", 404)

    def _control(self, body: dict[str, Any]) -> None:
        if self.client_address[0] not in ("127.0.0.1", "::1"):
            self._reply(403, {"detail": "control is loopback only"})
            return
        try:
            answer = self.server.control(body)
        except (KeyError, TypeError, ValueError) as exc:
            self._reply(400, {"detail": f"bad control request: {exc}"})
            return
        self._reply(200, answer)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    venue: LocalRobinhood
    stopping: threading.Event

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that went away (killed mid-request, as crash tests do) is not news."""
        if isinstance(sys.exc_info()[1], (ConnectionError, TimeoutError)):
            return
        super().handle_error(request, client_address)

    def control(self, body: dict[str, Any]) -> Any:
        venue = self.venue
        op = body.get("op")
        if op == "fund":
            return {"cash": venue.fund(float(body["usd"]))}
        if op == "holding":
            venue.set_holding(str(body["coin"]), float(body["qty"]), float(body.get("cost", 0)))
            return {"ok": True}
        if op == "clock":
            if "step_s" in body:
                venue.clock.step(float(body["step_s"]))
            elif "set_ms" in body:
                venue.clock.set_ms(int(body["set_ms"]))
            return {"now_ms": venue.clock.now_ms()}
        if op == "fault":
            params = {k: v for k, v in body.items() if k not in ("op", "kind", "mode", "count")}
            fault = venue.faults.add(
                str(body["kind"]), str(body["mode"]), int(body.get("count", 1)), **params
            )
            return {"armed": fault.as_dict()}
        if op == "clear_faults":
            venue.faults.clear()
            return {"ok": True}
        if op == "state":
            return venue.snapshot()
        raise ValueError(f"unknown op {op!r} (fund, holding, clock, fault, clear_faults, state)")


class LocalVenueServer:
    """The venue in a background thread: ``start()``, ``url``, ``venue``, ``faults``, ``stop()``."""

    def __init__(self, port: int = 0, venue: LocalRobinhood | None = None, **kwargs: Any) -> None:
        self.venue = venue or LocalRobinhood(faults=Faults(), **kwargs)
        self._port = int(port)
        self._httpd: _Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def faults(self) -> Faults:
        return self.venue.faults

    @property
    def url(self) -> str:
        if self._httpd is None:
            raise RuntimeError("the local venue is not started")
        return f"http://{HOST}:{self._httpd.server_address[1]}"

    def start(self) -> LocalVenueServer:
        """Bind 127.0.0.1:port (0: a free port) and serve in a daemon thread."""
        httpd = _Server((HOST, self._port), _Handler)
        httpd.venue = self.venue
        httpd.stopping = threading.Event()
        self._httpd = httpd
        self._thread = threading.Thread(target=httpd.serve_forever, name="rh-venue", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Release held requests, stop serving and close the socket."""
        httpd = self._httpd
        if httpd is None:
            return
        httpd.stopping.set()
        httpd.shutdown()
        httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> LocalVenueServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
