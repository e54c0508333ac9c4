"""The local venue's HTTP server: ``POST /info``, ``POST /exchange``, ``POST /control``.

Stdlib ``ThreadingHTTPServer`` on 127.0.0.1 only. Fault switches (:mod:`.faults`) act here on
the transport (429, 5xx, a held request, a dropped connection) and in the exchange on orders.

``/control`` (loopback only) takes ``{"op": ...}``:

- ``{"op": "account", "address": A, "usd": 10000}``: create or fund an account;
- ``{"op": "agent", "account": A, "agent": W}``: approve API wallet ``W`` to sign for ``A``;
- ``{"op": "clock", "step_s": S}`` or ``{"op": "clock", "set_ms": T}``: move the venue clock
  (``{"op": "clock"}`` just reads it); answers ``{"now_ms": ...}``;
- ``{"op": "fault", "kind": K, "mode": M, "count": 1, ...params}``; ``{"op": "clear_faults"}``;
- ``{"op": "state"}``: clock, seed, accounts, agents, mids and armed faults.
"""

from __future__ import annotations

import contextlib
import json
import socket
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from platforms.hyperliquid.localvenue.exchange import LocalExchange, VenueError
from platforms.hyperliquid.localvenue.faults import TRANSPORT_MODES, Faults

__all__ = ["HOST", "LocalVenueServer"]

HOST = "127.0.0.1"
DEFAULT_HOLD_S = 30.0


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:  # quiet: tests read stdout
        return

    def _reply(self, status: int, payload: Any, *, text: bool = False) -> None:
        body = (payload if text else json.dumps(payload)).encode()
        self.send_response(status)
        self.send_header("Content-Type", "text/plain" if text else "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:
        self._reply(405, "POST /info, /exchange or /control", text=True)

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
            elif path in ("/info", "/exchange"):
                self._venue(path, body)
            else:
                self._reply(404, f"no such endpoint {path!r} (POST /info, /exchange)", text=True)
        except VenueError as exc:
            self._reply(exc.status, str(exc), text=True)
        except (BrokenPipeError, ConnectionResetError):  # the client gave up (timeouts)
            pass
        except Exception as exc:  # a venue bug answers 500 with its cause, not a dropped socket
            self._reply(500, f"local venue error: {type(exc).__name__}: {exc}", text=True)

    def _venue(self, path: str, body: dict[str, Any]) -> None:
        venue = self.server.venue
        if path == "/info":
            kind = str(body.get("type"))
        else:
            action = body.get("action")
            kind = str(action.get("type")) if isinstance(action, dict) else "?"
        fault = venue.faults.take(kind, TRANSPORT_MODES)
        mode = fault.mode if fault else None
        if mode == "429":
            self._reply(429, "Too many requests (local venue fault)", text=True)
            return
        if mode == "5xx":
            self._reply(
                int(fault.params.get("status", 500)) if fault else 500,
                "Internal error (local venue fault)",
                text=True,
            )
            return
        if mode == "timeout" and fault is not None:
            self.server.stopping.wait(float(fault.params.get("hold_s", DEFAULT_HOLD_S)))
        answer = venue.info(body) if path == "/info" else venue.exchange(body)
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
    venue: LocalExchange
    stopping: threading.Event

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that went away (killed mid-request, as the crash tests do) is not news."""
        if isinstance(sys.exc_info()[1], (ConnectionError, TimeoutError)):
            return
        super().handle_error(request, client_address)

    def control(self, body: dict[str, Any]) -> Any:
        venue = self.venue
        op = body.get("op")
        if op == "account":
            acct = venue.add_account(str(body["address"]), body.get("usd"))
            return {"address": acct.address, "usdc": acct.usdc}
        if op == "agent":
            venue.add_agent(str(body["account"]), str(body["agent"]))
            return {"ok": True}
        if op == "clock":
            if "step_s" in body:
                venue.clock.step(float(body["step_s"]))
            elif "set_ms" in body:
                venue.clock.set_ms(int(body["set_ms"]))
            return {"now_ms": venue.advance()}
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
        raise ValueError(f"unknown op {op!r} (account, agent, clock, fault, clear_faults, state)")


class LocalVenueServer:
    """The venue in a background thread: ``start()``, ``url``, ``venue``, ``faults``, ``stop()``."""

    def __init__(
        self,
        port: int = 0,
        seed: int | None = None,
        initial_usd: float = 10_000.0,
        venue: LocalExchange | None = None,
    ) -> None:
        self.venue = venue or LocalExchange(seed=seed, initial_usd=initial_usd, faults=Faults())
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
        self._thread = threading.Thread(target=httpd.serve_forever, name="localvenue", daemon=True)
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
