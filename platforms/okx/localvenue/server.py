"""The local OKX venue's HTTP server: OKX v5 REST under ``/api/v5/`` and ``POST /control``.

Stdlib ``ThreadingHTTPServer`` on 127.0.0.1 only. Every private request (``trade/``,
``account/``, ``asset/``) is authenticated as OKX does: ``OK-ACCESS-KEY`` names the account,
``OK-ACCESS-PASSPHRASE`` must match, and ``OK-ACCESS-SIGN`` must be the base64 HMAC-SHA256,
keyed by the secret, of ``OK-ACCESS-TIMESTAMP + METHOD + request path (with query) + body``.
(The timestamp's 30 s window is not enforced: the venue clock may be pinned by tests.)
Answers use OKX's envelope ``{"code": "0", "msg": "", "data": [...]}`` and its error codes
(50011 rate limit, 50013 busy, 50103/50105/50111/50113 authentication, 51001 unknown
instrument, 51008 insufficient balance, 51016 duplicated clOrdId, 51020 below min size, 51121
not a lot multiple, 51603 order does not exist); an order refusal is ``code "1"`` with the row's
``sCode``/``sMsg``, as OKX writes it.

``/control`` (loopback only) takes ``{"op": ...}``: ``account`` (api_key, secret, passphrase,
usdt), ``clock`` (step_s or set_ms), ``fault`` (kind, mode, count, params), ``clear_faults``,
``state``.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import hmac
import json
import socket
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from platforms.okx.localvenue.exchange import LocalOkx
from platforms.okx.localvenue.faults import ORDER_MODES, TRANSPORT_MODES, Faults
from platforms.okx.localvenue.model import Account, OkxError

__all__ = ["HOST", "LocalOkxServer", "sign"]

HOST = "127.0.0.1"
DEFAULT_HOLD_S = 30.0
PREFIX = "/api/v5/"
PRIVATE = ("trade/", "account/", "asset/")


def sign(secret: str, timestamp: str, method: str, path: str, body: str) -> str:
    """OKX's request signature (also what tests use to sign by hand)."""
    mac = hmac.new(secret.encode(), (timestamp + method + path + body).encode(), hashlib.sha256)
    return base64.b64encode(mac.digest()).decode()


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

    def _error(self, exc: OkxError, data: list[Any] | None = None) -> None:
        self._reply(exc.status, {"code": exc.code, "msg": exc.msg, "data": data or []})

    def do_GET(self) -> None:
        self._serve("GET", "")

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        self._serve("POST", self.rfile.read(length).decode() if length else "")

    def _serve(self, method: str, raw: str) -> None:
        split = urlsplit(self.path)
        try:
            if split.path.rstrip("/") == "/control" and method == "POST":
                self._control(raw)
            elif split.path.startswith(PREFIX):
                self._api(method, split.path[len(PREFIX) :], raw, dict(parse_qsl(split.query)))
            else:
                self._error(OkxError("50000", f"no such endpoint {split.path!r}", 404))
        except (BrokenPipeError, ConnectionResetError):  # the client gave up (timeouts)
            pass
        except Exception as exc:  # a venue bug answers 500 with its cause, not a dropped socket
            self._error(OkxError("50026", f"local venue error: {type(exc).__name__}: {exc}", 500))

    def _api(self, method: str, path: str, raw: str, query: dict[str, str]) -> None:
        venue = self.server.venue
        if self.headers.get("x-simulated-trading") == "1":
            venue.simulated_requests += 1
        fault = venue.faults.take(f"{method} {path}", TRANSPORT_MODES)
        mode = fault.mode if fault else None
        if mode == "429":
            self._error(OkxError("50011", "Too Many Requests", 429))
            return
        if mode == "5xx" and fault is not None:
            status = int(fault.params.get("status", 503))
            self._error(OkxError("50013", "System is busy, please try again later", status))
            return
        if mode == "timeout" and fault is not None:
            self.server.stopping.wait(float(fault.params.get("hold_s", DEFAULT_HOLD_S)))
        try:
            data = self._answer(method, path, raw, query)
            reply: tuple[int, Any] = (200, {"code": "0", "msg": "", "data": data})
        except OkxError as exc:
            if method == "POST" and path == "trade/order" and exc.status == 200:
                row = {"ordId": "", "clOrdId": "", "tag": "", "sCode": exc.code, "sMsg": exc.msg}
                reply = (200, {"code": "1", "msg": "All operations failed", "data": [row]})
            else:
                reply = (exc.status, {"code": exc.code, "msg": exc.msg, "data": []})
        if mode == "drop":  # it took effect; the client never hears back
            self.close_connection = True
            with contextlib.suppress(OSError):
                self.connection.shutdown(socket.SHUT_RDWR)
            return
        self._reply(*reply)

    def _answer(self, method: str, path: str, raw: str, query: dict[str, str]) -> list[Any]:
        venue = self.server.venue
        if not path.startswith(PRIVATE):
            return venue.public(path, query)
        acct = self._authenticate(method, raw)
        venue.settle_funding(acct)  # funding times passed, on the positions held then
        if method == "POST" and path == "trade/order":
            body = json.loads(raw or "{}")
            if not isinstance(body, dict):
                raise OkxError("50000", "the body must be one JSON object")
            order_fault = venue.faults.take(f"{method} {path}", ORDER_MODES)
            return [venue.place(acct, body, order_fault.as_dict() if order_fault else None)]
        if method == "GET":
            if path == "trade/order":
                return venue.get_order(acct, query)
            if path in ("trade/fills", "trade/fills-history"):
                return venue.history(acct.fills, "billId", query)
            if path in ("account/bills", "account/bills-archive"):
                return venue.history(acct.bills, "billId", query)
            if path == "account/positions":
                return venue.positions(acct, query)
            if path == "account/balance":
                return venue.balance(acct)
            if path == "asset/currencies":
                return []  # ccxt's load_markets asks; the markets carry what it needs
        raise OkxError("50000", f"no such endpoint {method} {PREFIX}{path} on the local venue", 404)

    def _authenticate(self, method: str, raw: str) -> Account:
        h = self.headers
        key, stamp = h.get("OK-ACCESS-KEY", ""), h.get("OK-ACCESS-TIMESTAMP", "")
        passphrase, signature = h.get("OK-ACCESS-PASSPHRASE", ""), h.get("OK-ACCESS-SIGN", "")
        if not (key and stamp and passphrase and signature):
            raise OkxError(
                "50103", "Request header OK-ACCESS-KEY/SIGN/TIMESTAMP/PASSPHRASE missing", 401
            )
        acct = self.server.venue.account(key)
        if acct is None:
            raise OkxError("50111", "Invalid OK-ACCESS-KEY", 401)
        if not hmac.compare_digest(passphrase, acct.passphrase):
            raise OkxError("50105", "OK-ACCESS-PASSPHRASE incorrect", 401)
        want = sign(acct.secret, stamp, method, self.path, raw)
        if not hmac.compare_digest(signature, want):
            raise OkxError("50113", "Invalid Sign", 401)
        return acct

    def _control(self, raw: str) -> None:
        if self.client_address[0] not in ("127.0.0.1", "::1"):
            self._error(OkxError("50000", "control is loopback only", 403))
            return
        try:
            body = json.loads(raw or "{}")
            answer = self.server.control(body)
        except (KeyError, TypeError, ValueError) as exc:
            self._error(OkxError("50000", f"bad control request: {exc}", 400))
            return
        self._reply(200, answer)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    venue: LocalOkx
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
            acct = venue.add_account(
                str(body["api_key"]), str(body["secret"]), str(body["passphrase"]), body.get("usdt")
            )
            return {"api_key": acct.api_key, "usdt": acct.usdt}
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
            return venue.control_state()
        raise ValueError(f"unknown op {op!r} (account, clock, fault, clear_faults, state)")


class LocalOkxServer:
    """The venue in a background thread: ``start()``, ``url``, ``venue``, ``faults``, ``stop()``."""

    def __init__(self, port: int = 0, venue: LocalOkx | None = None, **venue_kw: Any) -> None:
        self.venue = venue or LocalOkx(faults=Faults(), **venue_kw)
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

    def start(self) -> LocalOkxServer:
        """Bind 127.0.0.1:port (0: a free port) and serve in a daemon thread."""
        httpd = _Server((HOST, self._port), _Handler)
        httpd.venue = self.venue
        httpd.stopping = threading.Event()
        self._httpd = httpd
        self._thread = threading.Thread(target=httpd.serve_forever, name="okx-venue", daemon=True)
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

    def __enter__(self) -> LocalOkxServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
