"""The owner's "reset" reply by DM: a latched kill switch cleared from a phone.

While the kill switch is latched and an owner is configured, a thread asks the
``notify_send.py`` worker every ``poll_s`` seconds what the owner wrote to the bot since the
latch (Discord DM channel, Telegram updates). A message that reads "reset" within
``kill_switch_reset_dm_timeout`` (default 6 h) of the latch leaves the same request file as
``go-trader reset-kill-switch``; the next cycle applies it under the book lock, so the thread
never touches the book. The window keeps an old "reset" from clearing a later latch.

While the chat bridge runs it owns Telegram's update stream (shared_tools/chat_owner.py): the
daemon then does not read Telegram at all (two readers steal each other's updates, and
concurrent polls get 409 Conflict) and the bridge passes the owner's "reset"/"yes" on. The
Discord DM channel is still read here: a REST read takes nothing from the bridge's gateway.
"""

from __future__ import annotations

import json
import sys
import threading
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

from shared_tools.chat_owner import alive_path, owned
from shared_tools.config.notify import NotifySettings
from shared_tools.paths import REPO_ROOT
from shared_tools.text import exc_line
from supervisor.notify.sender import WORKER, scrub
from supervisor.run.process import notify_env, run_process
from supervisor.state.models import parse_iso, utc_iso

POLL_S = 30.0
RESET_WORDS = {"reset", "/reset"}


HANDED_OVER = frozenset({"telegram"})  # what a running bridge reads for us (see above)


def bridge_reads(db_file: str | Path) -> frozenset[str]:
    """The transports the daemon leaves alone now: Telegram while the bridge's beat is fresh."""
    return owned(alive_path(db_file), time.time()) & HANDED_OVER


def owner_asks(
    settings: NotifySettings, since: float, skip: frozenset[str] = frozenset()
) -> list[dict]:
    """One poll request per enabled platform that has an owner (``skip``: the bridge's)."""
    asks = []
    for transport in ("discord", "telegram"):
        chat = settings.chat(transport)
        if chat.enabled and chat.owner and transport not in skip:
            asks.append({"transport": transport, "owner": chat.owner, "since": since})
    return asks


def poll_replies(asks: list[dict], timeout_s: float = 10.0) -> tuple[list[dict], list[str]]:
    """Run the worker once: (replies oldest first, one error line per failed platform)."""
    request = json.dumps({"timeout_s": timeout_s, "poll": asks}).encode()
    out = run_process(
        [sys.executable, str(REPO_ROOT / WORKER)],
        cwd=REPO_ROOT,
        env=notify_env(),
        stdin=request,
        timeout_s=timeout_s * 2 * len(asks) + 10,
        max_output_bytes=1024 * 1024,
    )
    try:
        answer = json.loads(out.stdout or b"null")
        return list(answer["replies"]), [scrub(str(e)) for e in answer.get("errors", [])]
    except (ValueError, TypeError, KeyError):
        why = out.kill_reason or out.spawn_error or f"exit {out.exit_code}"
        return [], [scrub(f"reply poll failed: {why} {out.stderr_tail[-200:]}")]


def reset_reply(replies: list[dict]) -> dict | None:
    """The first reply that asks for a reset."""
    for r in replies:
        if str(r.get("text", "")).strip().lower() in RESET_WORDS:
            return r
    return None


class ResetListener:
    """Polls for the owner's "reset" while ``latched_at()`` names a latch inside the window."""

    def __init__(
        self,
        request_file: Path,
        settings: Callable[[], NotifySettings],
        latched_at: Callable[[], str],
        *,
        now: Callable[[], datetime],
        log: Callable[[str], None],
        poll_s: float = POLL_S,
        skip: Callable[[], frozenset[str]] = frozenset,
    ) -> None:
        self.request_file, self.skip = request_file, skip
        self.settings, self.latched_at, self.now, self.log = settings, latched_at, now, log
        self.poll_s = poll_s
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="notify-replies", daemon=True)
        self._thread.start()

    def stop(self, timeout_s: float = 5.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout_s)
            self._thread = None

    def _loop(self) -> None:
        while not self._stop.wait(self.poll_s):
            try:
                self.check_once()
            except Exception as exc:  # a bug here must never end the supervisor
                self.log(f"[notify] reset-reply poll error: {exc_line(exc)}")

    def check_once(self) -> bool:
        """One poll when it is due; True when a reset request was left for the next cycle."""
        stamp = self.latched_at()
        if not stamp or self.request_file.exists():
            return False
        since, settings = parse_iso(stamp), self.settings()
        if (self.now() - since).total_seconds() > settings.reset_dm_window_s:
            return False  # too late for a DM reset: the CLI still works
        asks = owner_asks(settings, since.timestamp(), self.skip())
        if not asks:
            return False
        replies, errors = poll_replies(asks)
        for line in errors:
            self.log(f"[notify] {line}")
        reply = reset_reply(replies)
        if reply is None:
            return False
        self.request_file.write_text(
            f"{utc_iso(self.now())}\nowner replied reset by {reply['transport']} DM\n"
        )
        self.log(f"[risk] the owner replied reset by {reply['transport']} DM; applied next cycle")
        return True
