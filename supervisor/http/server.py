"""Local HTTP/1.1 status server on plain sockets, bound to 127.0.0.1 only.

This module owns the sockets and threads; the wire format (request heads, responses, the Host
check) is :mod:`supervisor.http.wire` and what the endpoints answer (``/status``, ``/health``,
``/history``, the token check, ``/history`` query validation) is :mod:`supervisor.http.routes`.

Why not ``http.server``: it imports ``http.client``, which imports ``ssl`` and so loads OpenSSL
into a process that never makes a TLS connection, and its ``ThreadingHTTPServer`` holds one
unbounded thread per connection (1,000 idle sockets held 1,052 threads and ran the process out of
file descriptors) behind socketserver's listen backlog of 5. Here:

- one I/O thread accepts, reads request heads and writes responses with non-blocking sockets
  (``selectors``), so an idle or slow connection costs a file descriptor, not a thread; a small
  pool of ``workers`` (4) threads runs the views, which may wait on the book's lock;
- at most ``max_connections`` (64) connections. When all are taken, the longest-idle keep-alive
  is closed for the newcomer; if none is idle, new clients wait in the listen backlog (512) for
  up to FULL_WAIT_S, then get 503 with ``Connection: close``, answered without a thread;
- a keep-alive connection idle for ``idle_timeout`` (10 s) is closed, a request must arrive in
  full within ``request_timeout`` (10 s) of its first byte (else 408), and a client gets as long
  to read its response, so slowloris sockets go away;
- ``TCP_NODELAY`` on every connection (Nagle + delayed ACK cost 40 ms per keep-alive request);
- a client that drops mid-request is closed quietly, without a traceback.

The server owns no state: each view is a callable attribute, looked up on every request, so the
owner can start the server before the book exists (and swap the callables later).
"""

from __future__ import annotations

import contextlib
import queue
import selectors
import socket
import sys
import threading
import time
from collections.abc import Callable

from shared_tools.text import exc_line
from supervisor.http.pool import Workers
from supervisor.http.routes import (
    ApiView,
    NotReady,
    PostView,
    expected_auth,
    handle,
    parse_history_query,
)
from supervisor.http.wire import (
    HEAD_END,
    MAX_BODY_BYTES,
    MAX_HEAD_BYTES,
    OVERLOADED,
    body_length,
    local_host,
    response,
)

# re-exported: the daemon and the tests import these from here
__all__ = ["NotReady", "StatusServer", "local_host", "parse_history_query"]

PORT_ATTEMPTS = 5
MAX_CONNECTIONS = 64
LISTEN_BACKLOG = 512  # a burst of a few hundred clients queues instead of SYN retries (1 s)
IDLE_TIMEOUT_S = 10.0
REQUEST_TIMEOUT_S = 10.0
WORKERS = 4  # threads that run the views; connections themselves need no thread
FULL_WAIT_S = 0.5  # how long new clients wait in the backlog for a free slot before a 503
EVICT_IDLE_S = 1.0  # a keep-alive connection idle this long may be closed for a new client


class _Conn:
    """One client connection. The I/O thread owns it except while a worker handles a request."""

    __slots__ = (
        "sock",
        "buf",
        "out",
        "deadline",
        "started",
        "served",
        "close_after",
        "idle_at",
        "events",
    )

    def __init__(self, sock: socket.socket, deadline: float) -> None:
        self.sock = sock
        self.buf = b""  # bytes read and not yet handled (a partial head, or pipelined requests)
        self.out = b""  # response bytes not yet written
        self.deadline = deadline
        self.started = False  # part of a request has arrived: the request clock runs
        self.served = 0
        self.close_after = False
        self.idle_at = 0.0  # when the last response finished (for evicting idle keep-alives)
        self.events = 0  # what the selector watches for; 0 while a worker has it (or closed)


def _no_api(path: str, _query: dict) -> tuple[int, dict | tuple[bytes, str]]:
    return 404, {"error": f"no such endpoint {path}"}


def _no_post(path: str, _body: dict) -> tuple[int, dict]:
    return 404, {"error": f"no such action {path}"}


def _no_page(_name: str = "dashboard") -> bytes:
    raise NotReady("starting", "the dashboard is not wired in this server")


def _no_metrics() -> str:
    return ""


_Job = tuple[_Conn, bytes, bytes]  # a connection, its request head, its body (POST)


class StatusServer:
    """Serve JSON views produced by callables, so the server owns no state of its own."""

    def __init__(
        self,
        *,
        status: Callable[[], dict],
        health: Callable[[], tuple[int, dict]],
        history: Callable[[dict], dict],
        api: ApiView | None = None,
        post: PostView | None = None,
        page: Callable[..., bytes] | None = None,  # (page name="dashboard") -> its HTML
        metrics: Callable[[], str] | None = None,
        draining: Callable[[], bool] | None = None,
        token: str | None = None,
        host: str = "127.0.0.1",
        max_connections: int = MAX_CONNECTIONS,
        workers: int = WORKERS,
        idle_timeout: float = IDLE_TIMEOUT_S,
        request_timeout: float = REQUEST_TIMEOUT_S,
        on_idle: Callable[[], None] | None = None,
    ) -> None:
        self.status, self.health, self.history = status, health, history
        self.api: ApiView = api or _no_api
        self.post: PostView = post or _no_post
        self.page: Callable[..., bytes] = page or _no_page
        self.metrics: Callable[[], str] = metrics or _no_metrics
        self.draining: Callable[[], bool] = draining or (lambda: False)
        self.token = token or None
        self._expected_auth = expected_auth(self.token)  # None without a token
        self.host = host
        self.max_connections = max(1, max_connections)
        self.max_workers = max(1, workers)
        self.idle_timeout = idle_timeout
        self.request_timeout = request_timeout
        self.port: int | None = None
        self.refused = 0  # connections answered 503 because every slot was taken
        self.evicted = 0  # idle keep-alive connections closed to make room for a new client
        self._listener: socket.socket | None = None
        self._thread: threading.Thread | None = None
        self._waker: tuple[socket.socket, socket.socket] | None = None
        self._sel: selectors.BaseSelector | None = None
        self._stopping = threading.Event()
        self._conns: dict[socket.socket, _Conn] = {}  # every open connection; I/O thread only
        self._returns: queue.SimpleQueue[_Conn] = queue.SimpleQueue()  # worker -> I/O thread
        # the handler threads (supervisor/http/pool.py); on_idle runs when the last one leaves
        self._pool = Workers(self._run, self.max_workers, on_idle)
        self._accepting = "normal"  # or "paused" (every slot taken) or "refusing"
        self._paused_at = 0.0

    @property
    def active_connections(self) -> int:
        """Open client connections (idle keep-alives included)."""
        return len(self._conns)

    @property
    def worker_threads(self) -> int:
        """Worker threads alive, busy or idle (never more than ``workers``)."""
        return self._pool.threads

    # -- lifecycle ---------------------------------------------------------------------------
    def start(self, port: int) -> int | None:
        """Bind port..port+4 and serve in a daemon thread; returns the bound port or None."""
        for candidate in range(port, min(port + PORT_ATTEMPTS, 65536)):
            try:
                self._listener = self._bind(candidate)
            except OSError as exc:
                why = exc.strerror or exc_line(exc)
                print(f"[status] port {candidate} unavailable ({why})", file=sys.stderr)
                continue
            self.port = self._listener.getsockname()[1]
            if candidate != port:
                print(
                    f"[status] WARNING: serving on {candidate} instead of {port}; another "
                    f"instance may own {port} (compare /health pid)",
                    file=sys.stderr,
                )
            self._stopping.clear()
            self._waker = socket.socketpair()
            for sock in (self._listener, *self._waker):
                sock.setblocking(False)
            self._sel = selectors.DefaultSelector()
            self._sel.register(self._listener, selectors.EVENT_READ)
            self._sel.register(self._waker[0], selectors.EVENT_READ)
            self._accepting = "normal"
            self._thread = threading.Thread(target=self._io_loop, name="status-io", daemon=True)
            self._thread.start()
            return self.port
        print(
            f"[status] WARNING: no free port in {port}-{port + PORT_ATTEMPTS - 1}; "
            "running without a status server",
            file=sys.stderr,
        )
        return None

    def _bind(self, port: int) -> socket.socket:
        family = socket.AF_INET6 if ":" in self.host else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
        try:
            # quick restarts over TIME_WAIT; Linux still refuses a port another socket listens on
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind((self.host, port))
            sock.listen(LISTEN_BACKLOG)
        except BaseException:
            sock.close()
            raise
        return sock

    def stop(self) -> None:
        """Stop serving: close the listener and every connection, let the workers exit."""
        if self._thread is None:
            return
        self._stopping.set()
        self._wake()
        self._thread.join(timeout=5)
        self._thread = None
        self._pool.stop()
        for conn in list(self._conns.values()):
            self._close(conn)
        if self._sel is not None:
            self._sel.close()
        for sock in (self._listener, *(self._waker or ())):
            if sock is not None:
                sock.close()
        self._listener = self._waker = self._sel = None

    def _wake(self) -> None:
        waker = self._waker  # stop() may clear it meanwhile; a closed socket raises OSError
        if waker is not None:
            with contextlib.suppress(OSError):  # a full waker buffer already means "wake up"
                waker[1].send(b"\0")

    # -- the I/O thread: accepts, reads request heads, writes responses, enforces deadlines ------
    def _io_loop(self) -> None:
        assert self._sel is not None and self._listener is not None and self._waker is not None
        while not self._stopping.is_set():
            try:
                events = self._sel.select(self._next_timeout())
            except OSError as exc:  # pragma: no cover - EINTR is retried by Python
                print(f"[status] select failed: {exc_line(exc)}", file=sys.stderr)
                self._stopping.wait(0.1)
                continue
            try:
                for key, mask in events:
                    if key.fileobj is self._listener:
                        self._accept()
                    elif key.fileobj is self._waker[0]:
                        with contextlib.suppress(OSError):
                            self._waker[0].recv(4096)
                    elif mask & selectors.EVENT_WRITE:
                        self._write(key.data)
                    elif key.data.sock.fileno() >= 0:
                        self._read(key.data)
                self._take_returns()
                self._expire()
                self._update_accepting()
            except Exception as exc:  # a bug here must not kill the server or spam stderr
                print(f"[status] I/O error: {exc_line(exc)}", file=sys.stderr)
                self._stopping.wait(0.01)

    def _next_timeout(self) -> float | None:
        times = [c.deadline for c in self._conns.values() if c.events]
        if self._accepting == "paused":
            times.append(self._paused_at + FULL_WAIT_S)
        if not times:
            return None
        return max(min(times) - time.monotonic(), 0.0)

    def _set_events(self, conn: _Conn, events: int) -> None:
        assert self._sel is not None
        if conn.events == events:
            return
        if conn.events:
            self._sel.modify(conn.sock, events, conn)
        else:
            self._sel.register(conn.sock, events, conn)
        conn.events = events

    def _unregister(self, conn: _Conn) -> None:
        assert self._sel is not None
        if conn.events:
            conn.events = 0
            self._sel.unregister(conn.sock)

    def _update_accepting(self) -> None:
        """Pause accepting when every slot is taken (the kernel backlog queues new clients);
        after FULL_WAIT_S of that, accept and answer 503 until a slot frees."""
        assert self._sel is not None and self._listener is not None
        full = len(self._conns) >= self.max_connections and not self._evictable()
        now = time.monotonic()
        if not full and self._accepting != "normal":
            if self._accepting == "paused":
                self._sel.register(self._listener, selectors.EVENT_READ)
            self._accepting = "normal"
        elif full and self._accepting == "normal":
            self._sel.unregister(self._listener)
            self._accepting, self._paused_at = "paused", now
        elif self._accepting == "paused" and now >= self._paused_at + FULL_WAIT_S:
            self._sel.register(self._listener, selectors.EVENT_READ)
            self._accepting = "refusing"

    def _evictable(self) -> _Conn | None:
        """The longest-idle keep-alive connection (served before, nothing pending, idle for
        EVICT_IDLE_S), if any: HTTP clients expect idle keep-alives to be closed."""
        limit = time.monotonic() - EVICT_IDLE_S
        idle = [
            c
            for c in self._conns.values()
            if c.served and not c.started and not c.out and c.idle_at <= limit and c.events
        ]
        return min(idle, key=lambda c: c.idle_at) if idle else None

    def _accept(self) -> None:
        assert self._listener is not None
        for _ in range(self.max_connections):  # bounded, so reads are not starved
            full = len(self._conns) >= self.max_connections
            if full and self._accepting != "refusing" and self._evictable() is None:
                return  # every slot taken: new clients wait in the backlog for a while
            try:
                sock, _addr = self._listener.accept()
            except (BlockingIOError, InterruptedError, ConnectionAbortedError):
                return
            except OSError as exc:  # EMFILE/ENFILE: back off instead of spinning
                print(f"[status] accept failed: {exc_line(exc)}", file=sys.stderr)
                self._stopping.wait(0.1)
                return
            if full:
                victim = self._evictable()
                if victim is None:
                    self._refuse(sock)
                    continue
                self.evicted += 1
                self._close(victim)
            self._admit(sock)

    def _admit(self, sock: socket.socket) -> None:
        try:
            sock.setblocking(False)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        except OSError:
            sock.close()
            return
        conn = _Conn(sock, time.monotonic() + self.idle_timeout)
        self._conns[sock] = conn
        self._set_events(conn, selectors.EVENT_READ)

    def _refuse(self, sock: socket.socket) -> None:
        """Answer 503 without a thread and without waiting on the client."""
        self.refused += 1
        try:
            sock.setblocking(False)
            sock.send(OVERLOADED)
            sock.shutdown(socket.SHUT_WR)
            sock.recv(MAX_HEAD_BYTES)  # drain what the client sent, so close() does not reset
        except OSError:
            pass
        finally:
            sock.close()

    def _close(self, conn: _Conn) -> None:
        self._conns.pop(conn.sock, None)
        with contextlib.suppress(KeyError, ValueError, OSError):
            self._unregister(conn)
        conn.sock.close()

    def _fail(self, conn: _Conn, code: int, message: str) -> None:
        """A best-effort error answer from the I/O thread, then close."""
        with contextlib.suppress(OSError):
            conn.sock.send(response(code, {"error": message}, close=True))
        self._close(conn)

    def _read(self, conn: _Conn) -> None:
        try:
            chunk = conn.sock.recv(65536)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:  # reset by the client: nothing to tell anyone
            self._close(conn)
            return
        if not chunk:
            self._close(conn)
            return
        conn.buf += chunk
        self._dispatch(conn)

    def _dispatch(self, conn: _Conn) -> None:
        """Hand a complete request head to a worker; otherwise keep reading (within limits)."""
        if not conn.started:
            conn.buf = conn.buf.lstrip(b"\r\n")
            if conn.buf:  # the first byte starts the clock for the whole request
                conn.started = True
                conn.deadline = time.monotonic() + self.request_timeout
        m = HEAD_END.search(conn.buf)
        if m is None:
            if len(conn.buf) > MAX_HEAD_BYTES:
                self._fail(conn, 431, "request head too large")
            elif not conn.events:
                self._set_events(conn, selectors.EVENT_READ)
            return
        if m.start() > MAX_HEAD_BYTES:
            self._fail(conn, 431, "request head too large")
            return
        head = conn.buf[: m.start()]
        need = body_length(head)
        if need > MAX_BODY_BYTES:  # refused by the route (413) without reading the body
            need = 0
        if len(conn.buf) - m.end() < need:  # a POST body still on its way
            if not conn.events:
                self._set_events(conn, selectors.EVENT_READ)
            return
        body = conn.buf[m.end() : m.end() + need]
        conn.buf = conn.buf[m.end() + need :]
        self._unregister(conn)
        self._pool.submit((conn, head, body))

    def _write(self, conn: _Conn) -> None:
        try:
            sent = conn.sock.send(conn.out)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            self._close(conn)
            return
        conn.out = conn.out[sent:]
        if not conn.out:
            self._after_response(conn)

    def _after_response(self, conn: _Conn) -> None:
        """The response is out: close, or wait for the next request on this connection."""
        if conn.close_after or self._stopping.is_set():
            self._close(conn)
            return
        now = time.monotonic()
        conn.served += 1
        conn.idle_at = now
        conn.started = False
        conn.deadline = now + self.idle_timeout
        self._set_events(conn, selectors.EVENT_READ)
        if conn.buf:  # pipelined: the next request may already be here
            self._dispatch(conn)

    def _take_returns(self) -> None:
        """Connections the workers are done with: finish writing, then read again or close."""
        while True:
            try:
                conn = self._returns.get_nowait()
            except queue.Empty:
                return
            if conn.sock.fileno() < 0:  # closed by the worker (the client went away)
                self._conns.pop(conn.sock, None)
            elif conn.out:
                conn.deadline = time.monotonic() + self.request_timeout  # a client must read
                self._set_events(conn, selectors.EVENT_WRITE)
            else:
                self._after_response(conn)

    def _expire(self) -> None:
        now = time.monotonic()
        for conn in list(self._conns.values()):
            if conn.deadline > now or not conn.events:
                continue  # in time, or with a worker (the view's time is not the client's)
            if conn.started and not conn.out:
                self._fail(conn, 408, "request not received in time")
            else:
                self._close(conn)  # idle keep-alive, or a client that stopped reading

    # -- workers: run the views, off the I/O thread (a view may wait on the book's lock) ----------
    def _run(self, job: _Job) -> None:
        conn, head, body = job
        try:
            data, keep = handle(head, self, self._expected_auth, body)
        except Exception as exc:  # a bug here must not take the server down or spam stderr
            data, keep = response(500, {"error": exc_line(exc)}, close=True), False
        conn.close_after = not keep
        try:
            sent = conn.sock.send(data)  # non-blocking: the rest goes out from the I/O thread
            conn.out = data[sent:]
        except (BlockingIOError, InterruptedError):
            conn.out = data
        except OSError:  # the client went away
            conn.sock.close()
        self._returns.put(conn)
        self._wake()
