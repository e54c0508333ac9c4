"""What the status server's endpoints answer: ``/status``, ``/health``, ``/history``.

:func:`handle` turns one request head into the response bytes. Only GET and HEAD are allowed;
the Host header must name the loopback; when a token is set (STATUS_AUTH_TOKEN), every endpoint
but ``/health`` needs ``Authorization: Bearer <token>``, compared in constant time without
importing ``hmac`` (which loads OpenSSL).

The views are callables looked up on every request (the owner swaps them once the book exists).
While starting, the health callable answers ``(503, {"status": "starting", ...})`` and the status
and history callables raise :class:`NotReady`, which becomes ``503 {"status": "starting"}`` with
``Retry-After: 1``.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Protocol
from urllib.parse import parse_qs

from shared_tools.text import exc_line, one_line, show
from supervisor.http.wire import BadRequest, Request, local_host, parse_head, response

try:  # the C helper hmac.compare_digest wraps, without importing hmac/_hashlib
    from _operator import _compare_digest
except ImportError:  # pragma: no cover - every CPython has it

    def _compare_digest(a: bytes, b: bytes) -> bool:
        diff = len(a) ^ len(b)
        for x, y in zip(a, b, strict=False):  # time depends on length only, as in hmac
            diff |= x ^ y
        return diff == 0


HISTORY_MAX_LIMIT = 1000
HISTORY_MAX_OFFSET = 10**9
MAX_QUERY_FIELDS = 20
_DIGITS = re.compile(r"[0-9]{1,12}")


class NotReady(Exception):
    """Raised by a view before the data behind it exists (start-up); the server answers 503."""

    def __init__(self, status: str = "starting", reason: str | None = None) -> None:
        super().__init__(status)
        self.status = status
        self.reason = reason

    def body(self) -> dict:
        body: dict = {"status": self.status}
        if self.reason:
            body["reason"] = one_line(self.reason)
        return body


class Views(Protocol):
    """The callables behind the endpoints (attributes, so the owner can swap them)."""

    status: Callable[[], dict]
    health: Callable[[], tuple[int, dict]]
    history: Callable[[dict], dict]


def expected_auth(token: str | None) -> bytes | None:
    """The Authorization header a token demands, as raw bytes; None when there is no token."""
    # raw bytes, as the header arrives (an env token may carry undecodable bytes)
    return b"Bearer " + token.encode("utf-8", "surrogateescape") if token else None


def handle(head: bytes, views: Views, auth: bytes | None) -> tuple[bytes, bool]:
    """(response bytes, keep the connection open) for one request head.

    ``auth`` is the expected Authorization header (:func:`expected_auth`), or None for no token.
    """
    try:
        req = parse_head(head)
    except BadRequest as exc:
        return response(exc.code, {"error": str(exc)}, close=True), False
    keep = not req.wants_close()
    extra = "Connection: keep-alive\r\n" if keep and req.version == "HTTP/1.0" else ""
    if req.method not in ("GET", "HEAD"):
        extra += "Allow: GET, HEAD\r\n"
        code, body = 405, {"error": f"method {show(req.method)} not allowed"}
    else:
        code, body, more = route(req, views, auth)
        extra += more
    data = response(code, body, head_only=req.method == "HEAD", close=not keep, extra=extra)
    return data, keep


def route(req: Request, views: Views, auth: bytes | None) -> tuple[int, dict, str]:
    """(code, body, extra header lines) for a GET or HEAD."""
    if not local_host(req.header("host")):
        return 403, {"error": "host not allowed"}, ""
    path = req.path.rstrip("/") or "/"
    try:
        if path == "/health":
            code, body = views.health()
            return code, body, ""
        if path not in ("/status", "/history"):
            return 404, {"error": f"no such endpoint {show(path)}"}, ""
        if not authorized(req, auth):
            return (
                401,
                {"error": "unauthorized"},
                'WWW-Authenticate: Bearer realm="go-trader"\r\n',
            )
        if path == "/status":
            return 200, views.status(), ""
        try:
            fields = parse_qs(req.query, keep_blank_values=True, max_num_fields=MAX_QUERY_FIELDS)
        except ValueError:
            return 400, {"error": f"too many query parameters (at most {MAX_QUERY_FIELDS})"}, ""
        query = {k: v[-1] for k, v in fields.items()}
        try:
            return 200, views.history(query), ""
        except ValueError as exc:
            return 400, {"error": one_line(str(exc))}, ""
    except NotReady as exc:
        return 503, exc.body(), "Retry-After: 1\r\n"
    except Exception as exc:  # a view bug answers 500 and the server keeps going
        return 500, {"error": exc_line(exc)}, ""


def authorized(req: Request, auth: bytes | None) -> bool:
    """True without a token, else when the Authorization header matches (constant time)."""
    if auth is None:
        return True
    got = (req.header("authorization") or "").encode("latin-1")
    return _compare_digest(got, auth)


def _bounded_int(query: dict, key: str, default: int) -> int:
    raw = query.get(key)
    if raw in (None, ""):
        return default
    text = str(raw).strip()
    if not _DIGITS.fullmatch(text) or int(text) > HISTORY_MAX_OFFSET:
        raise ValueError(
            f"{key} must be an integer from 0 to {HISTORY_MAX_OFFSET}, got {show(str(raw))}"
        )
    return int(text)


def parse_history_query(query: dict) -> dict:
    """Validate /history query params into keyword arguments for StateDB.trade_history.

    limit and offset are whole numbers in 0..10**9 (SQLite overflows past 2**63, and no book has
    a billion trades); limit is then capped at HISTORY_MAX_LIMIT. Bad values raise ValueError,
    which the server answers with 400.
    """
    return {
        "strategy": query.get("strategy") or None,
        "symbol": query.get("symbol") or None,
        "limit": min(_bounded_int(query, "limit", 50), HISTORY_MAX_LIMIT),
        "offset": _bounded_int(query, "offset", 0),
    }
