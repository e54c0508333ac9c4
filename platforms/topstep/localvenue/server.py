"""The local TopStep venue's HTTP server: the gateway's ``POST /api/...`` subset and ``/control``.

Stdlib ``ThreadingHTTPServer`` on 127.0.0.1 only. ``POST /api/Auth/loginKey`` answers a token
for the venue's credentials; every other ``/api`` call needs ``Authorization: Bearer <token>``
(HTTP 401 otherwise, as the real gateway). Transport faults (429, 5xx, held, dropped) act here.

``/control`` (loopback only) takes ``{"op": ...}``: ``account`` {id, usd?} opens or funds an
account; ``clock`` {step_s | set_ms} moves the venue clock; ``hours`` {enforce: bool};
``fault`` {kind, mode, count, ...params}; ``clear_faults``; ``state``.
"""

from __future__ import annotations

import contextlib
import json
import socket
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from platforms.topstep.localvenue.exchange import LocalTopStep
from platforms.topstep.localvenue.faults import TRANSPORT_MODES, Faults
from platforms.topstep.localvenue.model import VenueError

__all__ = ["HOST", "LocalVenueServer"]

HOST = "127.0.0.1"
DEFAULT_HOLD_S = 30.0


def _routes(venue: LocalTopStep) -> dict[str, Any]:
    return {
        "/api/Auth/loginKey": venue.login,
        "/api/Auth/validate": lambda body: {"success": True, "newToken": None},
        "/api/Account/search": venue.search_accounts,
        "/api/Contract/search": venue.search_contracts,
        "/api/Order/place": venue.place,
        "/api/Order/search": venue.search_orders,
        "/api/Order/searchOpen": lambda body: venue.search_orders(body, open_only=True),
        "/api/Position/searchOpen": venue.search_positions,
        "/api/Position/closeContract": venue.close_contract,
        "/api/Position/partialCloseContract": lambda body: venue.close_contract(
            body, int(body.get("size") or 0)
        ),
        "/api/Trade/search": venue.search_trades,
    }


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        return

    def _reply(self, status: int, payload: Any, *, text: bool = False) -> None:
        body = (payload if text else json.dumps(payload)).encode()
        self.send_response(status)
        self.send_header("Content-Type", "text/plain" if text else "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:
        if self.path.rstrip("/") == "/api/Status/ping":
            self._reply(200, "pong", text=True)
            return
        self._reply(405, "POST /api/... or /control", text=True)

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        try:
            body = json.loads(self.rfile.read(length) or b"{}")
        except ValueError:
            self._reply(400, "Failed to parse the request body as JSON", text=True)
            return
        if not isinstance(body, dict):
            self._reply(400, "The request body must be a JSON object", text=True)
            return
        path = self.path.split("?")[0].rstrip("/")
        try:
            if path == "/control":
                self._control(body)
            else:
                self._api(path, body)
        except VenueError as exc:
            self._reply(exc.status, str(exc), text=True)
        except (BrokenPipeError, ConnectionResetError):
            pass
        except Exception as exc:
            self._reply(500, f"local venue error: {type(exc).__name__}: {exc}", text=True)

    def _api(self, path: str, body: dict[str, Any]) -> None:
        venue = self.server.venue
        route = _routes(venue).get(path)
        if route is None:
            self._reply(404, f"no such endpoint {path!r}", text=True)
            return
        kind = path.removeprefix("/api/")  # e.g. Order/place, Trade/search
        fault = venue.faults.take(kind, TRANSPORT_MODES)
        mode = fault.mode if fault else None
        if mode == "429":
            self._reply(429, "Too many requests (local venue fault)", text=True)
            return
        if mode == "5xx" and fault is not None:
            self._reply(int(fault.params.get("status", 500)), "Server error (fault)", text=True)
            return
        if mode == "timeout" and fault is not None:
            self.server.stopping.wait(float(fault.params.get("hold_s", DEFAULT_HOLD_S)))
        if path != "/api/Auth/loginKey" and not venue.authorized(self.headers.get("Authorization")):
            self._reply(401, "", text=True)
            return
        answer = route(body)
        if mode == "drop":  # it took effect; the client never hears back
            self.close_connection = True
            with contextlib.suppress(OSError):
                self.connection.shutdown(socket.SHUT_RDWR)
            return
        self._reply(200, answer)

    def _control(self, body: dict[str, Any]) -> None:
        if self.client_address[0] not in ("127.0.0.1", "::1"):
            self._reply(403, "control is loopback only", text=True)
            return
        try:
            answer = self.server.control(body)
        except (KeyError, TypeError, ValueError) as exc:
            self._reply(400, f"bad control request: {exc}", text=True)
            return
        self._reply(200, answer)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    venue: LocalTopStep
    stopping: threading.Event

    def handle_error(self, request: Any, client_address: Any) -> None:
        if isinstance(sys.exc_info()[1], (ConnectionError, TimeoutError)):
            return
        super().handle_error(request, client_address)

    def control(self, body: dict[str, Any]) -> Any:
        venue = self.venue
        op = body.get("op")
        if op == "account":
            acct = venue.add_account(int(body["id"]), body.get("usd"))
            return acct.wire()
        if op == "clock":
            if "step_s" in body:
                venue.clock.step(float(body["step_s"]))
            elif "set_ms" in body:
                venue.clock.set_ms(int(body["set_ms"]))
            return {"now_ms": venue.clock.now_ms()}
        if op == "hours":
            venue.enforce_hours = bool(body.get("enforce", True))
            return {"enforce_hours": venue.enforce_hours}
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
        raise ValueError(f"unknown op {op!r} (account, clock, hours, fault, clear_faults, state)")


class LocalVenueServer:
    """The venue in a background thread: ``start()``, ``url``, ``venue``, ``faults``, ``stop()``."""

    def __init__(self, port: int = 0, venue: LocalTopStep | None = None, **venue_args: Any) -> None:
        self.venue = venue or LocalTopStep(faults=Faults(), **venue_args)
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
        httpd = _Server((HOST, self._port), _Handler)
        httpd.venue = self.venue
        httpd.stopping = threading.Event()
        self._httpd = httpd
        self._thread = threading.Thread(
            target=httpd.serve_forever, name="topstep-localvenue", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
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
