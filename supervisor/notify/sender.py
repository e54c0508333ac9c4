"""Deliver outbox messages through the ``notify_send.py`` worker, from a thread of its own.

The supervisor never speaks HTTPS itself (OpenSSL stays out of its memory), so each batch is a
short-lived worker that gets the messages on stdin and the bot tokens in its environment
(:func:`supervisor.run.process.notify_env`). The thread reads due rows, runs the worker, and marks
each row delivered, or failed with a back-off (2, 4, 8 ... s capped at 300 s, or the 429's
``Retry-After``). A cycle never waits for it: the thread has its own short DB transactions and
the worker its own timeout. ``stop()`` kills a running worker and joins the thread, so nothing
touches the DB after the daemon closes it.
"""

from __future__ import annotations

import json
import os
import sys
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy.engine import Engine

from shared_tools.config.notify import NotifySettings
from shared_tools.paths import REPO_ROOT
from shared_tools.text import exc_line
from supervisor.notify import outbox
from supervisor.notify.routing import wire
from supervisor.run.process import NOTIFY_ENV_NAMES, Running, notify_env, run_process
from supervisor.state.models import Message, utc_iso

WORKER = "shared_scripts/notify_send.py"
BATCH = 20
REQUEST_TIMEOUT_S = 10.0
MAX_OUTPUT = 1024 * 1024
KEEP_DELIVERED = timedelta(days=7)
PRUNE_EVERY_S = 3600.0


@dataclass
class Result:
    ok: bool
    status: int = 0
    retry_after: float | None = None
    error: str = ""
    skipped: bool = False


def scrub(text: str, environ: Mapping[str, str] | None = None) -> str:
    """``text`` without any token value (and on one line)."""
    source = os.environ if environ is None else environ
    for name in NOTIFY_ENV_NAMES:
        value = source.get(name, "")
        if name.endswith("_TOKEN") and value:
            text = text.replace(value, "<token>")
    return " ".join(text.split())[:500]


def post(
    items: list[dict],
    *,
    timeout_s: float = REQUEST_TIMEOUT_S,
    total_s: float | None = None,
    python: str = sys.executable,
    environ: Mapping[str, str] | None = None,
    register: Callable[[int], Running | None] | None = None,
    unregister: Callable[[Running], None] | None = None,
) -> dict[int, Result]:
    """Run the worker on ``items`` (``{id, transport, kind, to, body}``); results by id.

    A worker that fails as a whole (timeout, crash, garbage) fails every item with one line.
    ``total_s`` bounds the whole run (default: two requests per item plus 10 s).
    """
    if not items:
        return {}
    request = json.dumps({"timeout_s": timeout_s, "messages": items}).encode()
    out = run_process(
        [python, str(REPO_ROOT / WORKER)],
        cwd=REPO_ROOT,
        env=notify_env(environ),
        stdin=request,
        timeout_s=total_s or timeout_s * 2 * len(items) + 10,
        max_output_bytes=MAX_OUTPUT,
        register=register,
        unregister=unregister,
    )
    results: dict[int, Result] = {}
    try:
        answer = json.loads(out.stdout or b"null")
    except ValueError:
        answer = None
    if out.kill_reason or not isinstance(answer, list):
        why = (
            out.kill_reason
            or out.spawn_error
            or ("timed out" if out.timed_out else "")
            or f"exit {out.exit_code}: {out.stderr_tail[-200:] or 'no answer'}"
        )
        err = scrub(f"notify worker failed: {why}", environ)
        return {int(i["id"]): Result(ok=False, error=err) for i in items}
    for r in answer:
        if not isinstance(r, dict) or "id" not in r:
            continue
        retry = r.get("retry_after")
        results[int(r["id"])] = Result(
            ok=bool(r.get("ok")),
            status=int(r.get("status") or 0),
            retry_after=float(retry) if isinstance(retry, (int, float)) else None,
            error=scrub(str(r.get("error") or ""), environ),
            skipped=bool(r.get("skipped")),
        )
    for i in items:  # anything the worker did not answer for
        results.setdefault(int(i["id"]), Result(ok=False, skipped=True))
    return results


def send_now(
    settings: NotifySettings,
    messages: list[Message],
    *,
    timeout_s: float = REQUEST_TIMEOUT_S,
    total_s: float | None = None,
) -> list[tuple[Message, Result]]:
    """Send ``messages`` at once, without the outbox (notify-test, alerts when the DB fails)."""
    items, unresolved = [], []
    for n, m in enumerate(messages):
        dest = wire(m.transport, m.target, settings.chat(m.transport))
        if dest is None:
            unresolved.append(n)
            continue
        # not an outbox row: a nonce of its own, so Discord never takes it for an earlier one
        nonce = f"d{os.urandom(8).hex()}{n}"[:25]  # (secrets would load OpenSSL)
        items.append(
            {"id": n, "transport": m.transport, "kind": dest[0], "to": dest[1], "nonce": nonce}
        )
        items[-1]["body"] = m.body
    results = post(items, timeout_s=timeout_s, total_s=total_s)
    out = []
    for n, m in enumerate(messages):
        if n in unresolved:
            out.append((m, Result(ok=False, error="no owner configured for this platform")))
        else:
            out.append((m, results[n]))
    return out


def backoff(attempts: int, base_s: float, cap_s: float) -> float:
    """Seconds before retry number ``attempts`` (1 = after the first failure)."""
    return min(cap_s, base_s * 2 ** max(attempts - 1, 0))


class Sender:
    """The outbox delivery thread. ``wake()`` after a save; ``stop()`` before closing the DB."""

    def __init__(
        self,
        engine: Engine,
        settings: Callable[[], NotifySettings],
        *,
        log: Callable[[str], None] = lambda _line: None,
        timeout_s: float = REQUEST_TIMEOUT_S,
        backoff_base_s: float = 2.0,
        backoff_cap_s: float = 300.0,
        idle_s: float = 30.0,
    ) -> None:
        self.engine = engine
        self.settings = settings
        self.log = log
        self.timeout_s = timeout_s
        self.backoff_base_s, self.backoff_cap_s = backoff_base_s, backoff_cap_s
        self.idle_s = idle_s
        self._event = threading.Event()
        self._stopping = False
        self._running: Running | None = None
        self._lock = threading.Lock()
        self._one_batch = threading.Lock()  # the thread and a --once flush never overlap
        self._thread: threading.Thread | None = None
        self._pruned_at = 0.0

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="notify-sender", daemon=True)
        self._thread.start()

    def wake(self) -> None:
        self._event.set()

    def stop(self, timeout_s: float = 15.0) -> None:
        self._stopping = True
        self._event.set()
        with self._lock:
            if self._running is not None:
                self._running.kill("supervisor stopping")
        if self._thread is not None:
            self._thread.join(timeout_s)
            self._thread = None

    # -- the work ------------------------------------------------------------------------------
    def _register(self, pgid: int) -> Running | None:
        with self._lock:
            self._running = Running(pgid, side_effect=False)
            if self._stopping:
                self._running.kill("supervisor stopping")
            return self._running

    def _unregister(self, _handle: Running) -> None:
        with self._lock:
            self._running = None

    def run_once(self) -> tuple[int, float | None]:
        """Deliver one batch; returns (rows attempted, when the next held row is due)."""
        with self._one_batch:
            return self._batch()

    def _batch(self) -> tuple[int, float | None]:
        rows, wake_at = outbox.due(self.engine, time.time(), BATCH)
        settings = self.settings()
        items, by_id = [], {}
        for r in rows:
            dest = wire(r.transport, r.target, settings.chat(r.transport))
            if dest is None:
                self._failed(r, Result(ok=False, error="no owner configured for this platform"))
                continue
            items.append(
                {
                    "id": r.id,
                    "transport": r.transport,
                    "kind": dest[0],
                    "to": dest[1],
                    "body": r.body,
                }
            )
            by_id[r.id] = r
        if not items or self._stopping:
            return 0, wake_at
        results = post(
            items, timeout_s=self.timeout_s, register=self._register, unregister=self._unregister
        )
        if self._stopping:
            return len(items), wake_at  # never write after stop(): the DB may be closing
        self.record(by_id, results)
        return len(items), wake_at

    def record(self, rows: dict[int, outbox.Row], results: dict[int, Result]) -> None:
        """Mark what was delivered, and back off what failed (skipped rows stay as they are)."""
        delivered = [i for i, res in results.items() if res.ok and i in rows]
        outbox.mark_delivered(self.engine, delivered, utc_iso())
        for i, res in results.items():
            if not res.ok and not res.skipped and i in rows:
                self._failed(rows[i], res)

    def _failed(self, row: outbox.Row, res: Result) -> None:
        attempts = row.attempts + 1
        wait = backoff(attempts, self.backoff_base_s, self.backoff_cap_s)
        if res.retry_after is not None:
            wait = min(max(res.retry_after, 0.0), 3600.0)
        error = scrub(res.error or f"HTTP {res.status}")
        outbox.mark_failed(self.engine, row.id, error, time.time() + wait)
        self.log(
            f"[notify] {row.transport} message {row.id} to {row.target} failed "
            f"(attempt {attempts}): {error}; retry in {wait:.0f}s"
        )

    def prune(self) -> int:
        """Forget messages delivered more than a week ago (at most once an hour)."""
        if time.monotonic() - self._pruned_at < PRUNE_EVERY_S and self._pruned_at:
            return 0
        self._pruned_at = time.monotonic()
        return outbox.prune(self.engine, utc_iso(datetime.now(UTC) - KEEP_DELIVERED))

    def _loop(self) -> None:
        while not self._stopping:
            try:
                self.prune()
                sent, wake_at = self.run_once()
            except Exception as exc:  # a bug or a DB hiccup must not end delivery for good
                self.log(f"[notify] sender error: {exc_line(exc)}; retrying in 5s")
                sent, wake_at = 0, time.time() + 5
            if sent and not self._stopping:
                continue  # more may be ready
            wait = self.idle_s if wake_at is None else max(0.05, wake_at - time.time())
            self._event.wait(min(wait, self.idle_s))
            self._event.clear()
