"""The HTTP/1.1 wire format of the status server: request heads in, JSON responses out.

No sockets and no threads here: :func:`parse_head` turns the bytes of one request head into a
:class:`Request` (or raises :class:`BadRequest`, which always closes the connection),
:func:`response` formats a complete JSON response, and :func:`local_host` checks that a Host
header names the loopback (``127.0.0.1``, ``localhost``, ``[::1]``, with or without a port), so a
web page cannot reach the server through DNS rebinding.
"""

from __future__ import annotations

import json
import re

from shared_tools.text import exc_line, show

LOCAL_HOSTS = frozenset({"127.0.0.1", "localhost", "::1", ""})
MAX_HEAD_BYTES = 16 * 1024
MAX_HEADERS = 100
MAX_BODY_BYTES = 64 * 1024  # upstream's cap for the small JSON POSTs (mutations, confirms)

REASONS = {
    200: "OK",
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    408: "Request Timeout",
    413: "Content Too Large",
    415: "Unsupported Media Type",
    431: "Request Header Fields Too Large",
    500: "Internal Server Error",
    503: "Service Unavailable",
    505: "HTTP Version Not Supported",
}
HEAD_END = re.compile(rb"\r?\n\r?\n")
_CONTENT_LENGTH = re.compile(rb"(?im)^content-length:[ \t]*([0-9]{1,12})[ \t]*\r?$")
_HOST = re.compile(r"(?:\[(?P<v6>[^\]]*)\]|(?P<name>[^:\[\]]*))(?::(?P<port>[0-9]{1,5}))?")


class Request:
    """One parsed request head."""

    __slots__ = ("method", "path", "query", "version", "headers")

    def __init__(
        self, method: str, path: str, query: str, version: str, headers: dict[str, list[str]]
    ) -> None:
        self.method, self.path, self.query, self.version = method, path, query, version
        self.headers = headers

    def header(self, name: str) -> str | None:
        values = self.headers.get(name)
        return values[-1] if values else None

    def wants_close(self) -> bool:
        tokens = {
            t.strip().lower() for v in self.headers.get("connection", []) for t in v.split(",")
        }
        if self.version == "HTTP/1.0":
            return "keep-alive" not in tokens
        return "close" in tokens


class BadRequest(Exception):
    """A request we refuse before routing; always closes the connection."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code


def parse_head(head: bytes) -> Request:
    """Parse one request head (request line and headers, without the blank line)."""
    lines = head.decode("latin-1").split("\n")
    parts = lines[0].rstrip("\r").split(" ")
    if len(parts) != 3:
        raise BadRequest(400, f"malformed request line {show(lines[0])}")
    method, target, version = parts
    if version not in ("HTTP/1.1", "HTTP/1.0"):
        if re.fullmatch(r"HTTP/[2-9]\.[0-9]", version):
            raise BadRequest(505, f"unsupported version {show(version)}")
        raise BadRequest(400, f"malformed request line {show(lines[0])}")
    if len(lines) - 1 > MAX_HEADERS:
        raise BadRequest(431, "too many headers")
    headers: dict[str, list[str]] = {}
    for raw in lines[1:]:
        line = raw.rstrip("\r")
        name, sep, value = line.partition(":")
        if not sep or not name or name != name.strip() or line[:1] in (" ", "\t"):
            raise BadRequest(400, f"malformed header {show(line)}")
        headers.setdefault(name.lower(), []).append(value.strip())
    if len(headers.get("host", [])) > 1:
        raise BadRequest(400, "more than one Host header")
    if "transfer-encoding" in headers:
        raise BadRequest(400, "chunked request bodies are not accepted; send Content-Length")
    lengths = set(headers.get("content-length", []))
    if len(lengths) > 1 or not all(v.isdigit() for v in lengths):
        raise BadRequest(400, "malformed Content-Length")
    if lengths - {"0"} and method != "POST":
        raise BadRequest(400, "request bodies are accepted on POST only")
    if lengths and int(next(iter(lengths))) > MAX_BODY_BYTES:
        raise BadRequest(413, f"request body over {MAX_BODY_BYTES} bytes")
    if not target.startswith("/"):
        raise BadRequest(400, f"request target must be a path, got {show(target)}")
    path, _, query = target.partition("?")
    return Request(method, path, query, version, headers)


def body_length(head: bytes) -> int:
    """The Content-Length a request head announces (0 when none or malformed: parse_head then
    refuses it), so the I/O thread knows how many body bytes to wait for."""
    m = _CONTENT_LENGTH.search(head)
    return int(m.group(1)) if m else 0


def same_origin(origin: str | None, host: str | None) -> bool:
    """True when a POST's Origin is this server itself (``http://`` + the Host header).

    Stricter than upstream: a missing Origin is refused (browsers always send one on a POST),
    and the Host it is compared with has already passed :func:`local_host`, so a rebound DNS
    name cannot make a foreign page "same-origin".
    """
    if not origin or not host or not local_host(host):
        return False
    return origin.strip().lower() == f"http://{host.strip().lower()}"


def local_host(value: str | None) -> bool:
    """True when a Host header names the loopback (any port), so DNS rebinding is refused."""
    if value is None:
        return True  # HTTP/1.0 clients may omit Host; a browser never does
    m = _HOST.fullmatch(value.strip())
    if m is None:
        return False
    host = m.group("v6") if m.group("v6") is not None else m.group("name")
    return host.lower() in LOCAL_HOSTS


def response(
    code: int, body: dict, *, head_only: bool = False, close: bool = False, extra: str = ""
) -> bytes:
    """A complete JSON response; a body JSON cannot encode becomes a 500 with the reason."""
    try:
        data = json.dumps(body, allow_nan=False, default=str).encode()
    except (ValueError, TypeError, RecursionError) as exc:
        code, data = 500, json.dumps({"error": exc_line(exc)}).encode()
    return raw_response(
        code, data, "application/json", head_only=head_only, close=close, extra=extra
    )


def raw_response(
    code: int,
    data: bytes,
    content_type: str,
    *,
    head_only: bool = False,
    close: bool = False,
    extra: str = "",
) -> bytes:
    """A complete response with any body (the dashboard's page and files, /metrics)."""
    if close:
        extra += "Connection: close\r\n"
    head = (
        f"HTTP/1.1 {code} {REASONS.get(code, 'Error')}\r\n"
        f"Content-Type: {content_type}\r\n"
        f"Content-Length: {len(data)}\r\n"
        "X-Content-Type-Options: nosniff\r\n"
        f"Cache-Control: no-store\r\n{extra}\r\n"
    ).encode("latin-1")
    return head if head_only else head + data


# sent, prebuilt, to a client turned away because every connection slot is taken
OVERLOADED = response(
    503, {"error": "too many connections"}, close=True, extra="Retry-After: 1\r\n"
)
