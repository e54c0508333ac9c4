"""What the status server's endpoints answer: ``/status``, ``/health``, ``/history``,
``/metrics``, the dashboard's page and files, and the ``/api/*`` reads.

:func:`handle` turns one request head into the response bytes. GET and HEAD read; a POST passes
the guard (token, JSON, same-origin) first. The Host header must name the loopback. Every
endpoint but ``/health`` and the dashboard's page and files needs ``Authorization: Bearer
<token>`` (the daemon always has one: supervisor/http/token.py), compared in constant time
without importing ``hmac`` (which loads OpenSSL). A server built with ``token=None`` (unit tests)
checks none. The report pages (``/reports``, ``/reports/strategy-audit``) are shells like the
dashboard's: no token. While draining, ``/api/*``, ``/dashboard`` and ``/reports`` answer 503 ``{"status":"draining"}``.

The views are callables looked up on every request (the owner swaps them once the book exists).
While starting, the health callable answers ``(503, {"status": "starting", ...})`` and the status
and history callables raise :class:`NotReady`, which becomes ``503 {"status": "starting"}`` with
``Retry-After: 1``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Protocol
from urllib.parse import parse_qs

from shared_tools.text import exc_line, one_line, show
from supervisor.http import assets
from supervisor.http.wire import (
    BadRequest,
    Request,
    local_host,
    parse_head,
    raw_response,
    response,
    same_origin,
)

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


# (path, query) -> (code, a JSON body, or already encoded (bytes, content type))
ApiView = Callable[[str, dict], "tuple[int, dict | tuple[bytes, str]]"]
# (path, the decoded JSON body) -> (code, JSON body): the /api/* POST actions (supervisor/http/post.py)
PostView = Callable[[str, dict], "tuple[int, dict]"]

UNAUTHORIZED = 'WWW-Authenticate: Bearer realm="go-trader"\r\n'
# The page and its files: no inline script, nothing from elsewhere, never framed, and the
# address (which may carry ?token= once) never sent on as a Referer. Inline styles are allowed:
# lightweight-charts sets style attributes on the elements it builds (scripts stay 'self').
PAGE_HEADERS = (
    "Content-Security-Policy: default-src 'self'; img-src 'self' data:; "
    "style-src 'self' 'unsafe-inline'; script-src 'self'; connect-src 'self'; "
    "frame-ancestors 'none'; "
    "base-uri 'none'; form-action 'none'\r\n"
    "Referrer-Policy: no-referrer\r\n"
    "X-Frame-Options: DENY\r\n"
)
# the report pages (supervisor/http/reports.py): path -> page name; shells, no data, no token
REPORT_PAGES = {"/reports": "reports", "/reports/strategy-audit": "strategy-audit"}
# the shells served like the report pages: those and /tuning (supervisor/http/tuning.py)
SHELL_PAGES = {**REPORT_PAGES, "/tuning": "tuning"}
GET_ONLY = frozenset({"/status", "/history", "/health", "/metrics", "/dashboard", *SHELL_PAGES})


class Views(Protocol):
    """The callables behind the endpoints (attributes, so the owner can swap them)."""

    status: Callable[[], dict]
    health: Callable[[], tuple[int, dict]]
    history: Callable[[dict], dict]
    api: ApiView  # /api/* reads (supervisor/http/board.py)
    post: PostView  # /api/* actions, past the guard (supervisor/http/post.py)
    page: Callable[..., bytes]  # an HTML shell: page(name="dashboard"), SHELL_PAGES' names
    metrics: Callable[[], str]  # Prometheus text
    draining: Callable[[], bool]


def expected_auth(token: str | None) -> bytes | None:
    """The Authorization header a token demands, as raw bytes; None when there is no token."""
    # raw bytes, as the header arrives (an env token may carry undecodable bytes)
    return b"Bearer " + token.encode("utf-8", "surrogateescape") if token else None


def handle(head: bytes, views: Views, auth: bytes | None, body: bytes = b"") -> tuple[bytes, bool]:
    """(response bytes, keep the connection open) for one request head (and POST body).

    ``auth`` is the expected Authorization header (:func:`expected_auth`), or None for no token.
    """
    try:
        req = parse_head(head)
    except BadRequest as exc:
        return response(exc.code, {"error": str(exc)}, close=True), False
    keep = not req.wants_close()
    extra = "Connection: keep-alive\r\n" if keep and req.version == "HTTP/1.0" else ""
    head_only = req.method == "HEAD"
    if req.method in ("GET", "HEAD"):
        got = route(req, views, auth)
    elif req.method == "POST" and (req.path.rstrip("/") or "/") not in GET_ONLY:
        got = post_route(req, views, auth, body)
    else:
        extra += "Allow: GET, HEAD\r\n"
        got = 405, {"error": f"method {show(req.method)} not allowed"}, ""
    code, out, more = got
    extra += more
    if isinstance(out, tuple):  # (bytes, content type): the page, a file, /metrics
        data, ctype = out
        return raw_response(
            code, data, ctype, head_only=head_only, close=not keep, extra=extra
        ), keep
    return response(code, out, head_only=head_only, close=not keep, extra=extra), keep


Answer = tuple[int, "dict | tuple[bytes, str]", str]  # code, JSON body or (bytes, type), headers


def route(req: Request, views: Views, auth: bytes | None) -> Answer:
    """(code, body, extra header lines) for a GET or HEAD."""
    if not local_host(req.header("host")):
        return 403, {"error": "host not allowed"}, ""
    path = req.path.rstrip("/") or "/"
    try:
        if path == "/health":
            code, body = views.health()
            return code, body, ""
        dashboard = path == "/dashboard" or path.startswith("/dashboard/")
        if (dashboard or path in SHELL_PAGES or path.startswith("/api/")) and views.draining():
            return 503, {"status": "draining"}, "Retry-After: 5\r\n"
        if path in SHELL_PAGES:
            return 200, (views.page(SHELL_PAGES[path]), "text/html; charset=utf-8"), PAGE_HEADERS
        if dashboard:  # the page and its files hold no data: no token (the page asks for it)
            return _dashboard(path, views)
        if path not in ("/status", "/history", "/metrics") and not path.startswith("/api/"):
            return 404, {"error": f"no such endpoint {show(path)}"}, ""
        if not authorized(req, auth):
            return 401, {"error": "unauthorized"}, UNAUTHORIZED
        if path == "/status":
            return 200, views.status(), ""
        query = _query(req)
        if query is None:
            return 400, {"error": f"too many query parameters (at most {MAX_QUERY_FIELDS})"}, ""
        if path == "/metrics":
            text = views.metrics().encode()
            return 200, (text, "text/plain; version=0.0.4; charset=utf-8"), ""
        if path.startswith("/api/"):
            api_code, api_body = views.api(path, query)
            return api_code, api_body, ""
        try:
            return 200, views.history(query), ""
        except ValueError as exc:
            return 400, {"error": one_line(str(exc))}, ""
    except NotReady as exc:
        return 503, exc.body(), "Retry-After: 1\r\n"
    except Exception as exc:  # a view bug answers 500 and the server keeps going
        return 500, {"error": exc_line(exc)}, ""


def post_route(req: Request, views: Views, auth: bytes | None, body: bytes) -> Answer:
    """A POST: the guard, stricter than upstream (reference A.2), then the action.

    Token (401), then ``Content-Type: application/json`` (415), then a same-origin ``Origin``
    that must be present (403), on every POST (simulate too, where upstream skips it); then the
    body must be one JSON object (400) and the action is ``views.post``.
    """
    if not local_host(req.header("host")):
        return 403, {"error": "host not allowed"}, ""
    if not authorized(req, auth):
        return 401, {"error": "unauthorized"}, UNAUTHORIZED
    ctype = (req.header("content-type") or "").split(";")[0].strip().lower()
    if ctype != "application/json":
        return 415, {"error": "Content-Type must be application/json"}, ""
    if not same_origin(req.header("origin"), req.header("host")):
        return 403, {"error": "cross-origin request refused (Origin missing or foreign)"}, ""
    if req.path.startswith("/api/") and views.draining():
        return 503, {"status": "draining"}, "Retry-After: 5\r\n"
    if not req.path.startswith("/api/"):
        return 404, {"error": f"no such action {show(req.path)}"}, ""
    try:
        doc = json.loads(body.decode("utf-8") or "{}")
    except (UnicodeDecodeError, ValueError, RecursionError):
        return 400, {"error": "the body must be a JSON object"}, ""
    if not isinstance(doc, dict):
        return 400, {"error": "the body must be a JSON object"}, ""
    try:
        code, out = views.post(req.path.rstrip("/"), doc)
        return code, out, ""
    except NotReady as exc:
        return 503, exc.body(), "Retry-After: 1\r\n"
    except Exception as exc:  # an action bug answers 500 and the server keeps going
        return 500, {"error": exc_line(exc)}, ""


def _dashboard(path: str, views: Views) -> Answer:
    if path == "/dashboard":
        return 200, (views.page(), "text/html; charset=utf-8"), PAGE_HEADERS
    found = assets.read(path.removeprefix("/dashboard/"))
    if found is None:
        return 404, {"error": f"no such file {show(path)}"}, ""
    return 200, found, PAGE_HEADERS


def _query(req: Request) -> dict | None:
    """The query string's fields (last value wins), None when there are too many."""
    try:
        fields = parse_qs(req.query, keep_blank_values=True, max_num_fields=MAX_QUERY_FIELDS)
    except ValueError:
        return None
    return {k: v[-1] for k, v in fields.items()}


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
