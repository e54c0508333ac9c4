"""``auto_update``: announce an available update and apply it after the owner's "yes" (upstream
``scheduler/updater.go``, reference §5.6 and B.6).

With ``auto_update`` ``daily`` or ``heartbeat`` a thread checks (at start, then every 24 h or every
``interval_seconds``) whether the deployed commit is behind the remote the way
``scripts/update.sh`` sees it: ``git fetch origin`` (15 s), then ``HEAD`` against
``origin/main``. A new remote commit is announced once to every channel (the two short hashes
and up to 10 log lines) and the owner is asked by DM "Would you like me to upgrade
automatically? (yes/no)". Only ``yes`` (any case) within 30 minutes proceeds; any other reply or
the timeout gets "Upgrade skipped.". On yes: "Starting upgrade...", then ``bash
scripts/update.sh`` (pull, venv sync, probe, and a rollback of every step when one fails; 300 s),
then its result with the last 1500 characters of its output, so a rollback line is reported.
After a good update under systemd the supervisor stops itself gracefully (SIGTERM: the shutdown
drain runs, unlike upstream's restart) and the unit's ``Restart=always`` starts the new code;
outside systemd the DM says to restart it.

The replies are read through the same worker poll as the kill-switch "reset"
(:mod:`.replies`), without Telegram while the chat bridge owns it (the bridge then turns the
owner's "yes" into ``/api/confirm`` + ``/api/update``; another answer there is not passed on,
so the offer runs to its timeout); messages go through the outbox. Differences from upstream: the announced hash
is remembered through its announcement in the outbox (kept a week), so a restart does not ask
again for the same commit; ``auto_update`` is read on every check, so a reload can turn it to
``off`` or change its cadence (turning it on takes a restart, as upstream).
"""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.engine import Engine

from shared_tools.config.model import Config
from shared_tools.paths import REPO_ROOT
from shared_tools.text import exc_line
from supervisor.notify import outbox
from supervisor.notify.messages import active, broadcast, owner_messages
from supervisor.notify.replies import bridge_reads, owner_asks, poll_replies
from supervisor.run.process import run_process
from supervisor.state.models import AppState
from supervisor.state.rows import outbox as outbox_table

ASK_TIMEOUT_S = 30 * 60.0
FETCH_TIMEOUT_S = 15.0
UPDATE_TIMEOUT_S = 300.0
TAIL = 1500
CATEGORY = "update"
MARK = "**go-trader Update Available**"


def _git(repo: Path, *args: str, timeout_s: float = FETCH_TIMEOUT_S) -> tuple[bool, str]:
    out = run_process(
        ["git", *args],
        cwd=repo,
        env={**os.environ, "GIT_TERMINAL_PROMPT": "0"},
        stdin=None,
        timeout_s=timeout_s,
        max_output_bytes=256 * 1024,
    )
    text = out.stdout.decode("utf-8", "replace").strip()
    ok = out.exit_code == 0 and not out.timed_out
    return ok, text if ok else (out.stderr_tail.strip() or "timed out")


def behind(repo: Path) -> tuple[str, str, list[str]] | str:
    """(HEAD, origin/main, up to 10 log lines) after a fetch, or an error line."""
    ok, err = _git(repo, "fetch", "--quiet", "origin")
    if not ok:
        first = next((line for line in err.splitlines() if line.strip()), "?")
        return f"git fetch origin failed: {first}"
    ok_h, head = _git(repo, "rev-parse", "HEAD")
    ok_r, remote = _git(repo, "rev-parse", "origin/main")
    if not (ok_h and ok_r):
        return "git rev-parse HEAD / origin/main failed"
    _ok, log = _git(repo, "log", "--oneline", "-10", f"{head}..{remote}")
    return head, remote, [line for line in log.splitlines() if line]


def announced(engine: Engine, remote: str) -> bool:
    """Whether ``remote`` was announced already (its announcement is in the outbox)."""
    with engine.connect() as conn:
        row = conn.execute(
            select(outbox_table.c.id)
            .where(outbox_table.c.category == CATEGORY)
            .where(outbox_table.c.body.contains(f"→ {remote[:8]}"))
            .limit(1)
        ).first()
    return row is not None


class UpdateWatcher:
    """The auto_update thread; :meth:`tick` is one step (tests call it directly)."""

    def __init__(
        self,
        engine: Engine,
        config: Callable[[], Config],
        *,
        wake: Callable[[], None],
        log: Callable[[str], None],
        repo: Path = REPO_ROOT,
        update_cmd: Sequence[str] = ("bash", "scripts/update.sh"),
        restart: Callable[[], bool] | None = None,
        poll_s: float = 30.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.engine, self.config, self.wake, self.log = engine, config, wake, log
        self.repo, self.update_cmd, self.poll_s, self.clock = repo, list(update_cmd), poll_s, clock
        self.restart = restart or _restart_under_systemd
        self.checked_at = 0.0
        self.asked: tuple[str, float] | None = None  # (remote hash, asked at)
        self._offer_lock = threading.Lock()  # the DM reply and the chat bridge's /update race
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="auto-update", daemon=True)
        self._thread.start()

    def stop(self, timeout_s: float = 5.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout_s)
            self._thread = None

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                self.tick()
            except Exception as exc:  # never end the supervisor
                self.log(f"[update] check failed: {exc_line(exc)}")
            self._stop.wait(self.poll_s)

    def _send(self, text: str, *, channels: bool = False) -> None:
        """To the owner's DM, or (``channels``) to every summary channel."""
        config = self.config()
        to_all = broadcast(AppState(), config, text) if channels else []
        messages = to_all or ([] if channels else owner_messages(config, text))
        for m in messages:
            m.category = CATEGORY
        outbox.enqueue(self.engine, messages)
        self.wake()

    def tick(self) -> str:
        """One step: wait for the owner's answer, or check for an update when due."""
        config = self.config()
        mode = config.notify.auto_update
        if mode == "off" or not any(chat.owner for _t, chat in active(config)):
            return "off"
        if self.asked is not None:
            return self._await_answer(config)
        every = 86400.0 if mode == "daily" else float(config.interval_seconds)
        if self.checked_at and self.clock() - self.checked_at < every:
            return "idle"
        self.checked_at = self.clock()
        found = behind(self.repo)
        if isinstance(found, str):
            self.log(f"[update] {found}")
            return "error"
        head, remote, lines = found
        if head == remote or announced(self.engine, remote):
            return "current"
        log = "\n".join(f"• {line}" for line in lines)
        self._send(
            f"{MARK} {head[:8]} → {remote[:8]}\n{log}\n"
            "To update by hand: bash scripts/update.sh --restart",
            channels=True,
        )
        self._send(
            f"**Update available** {head[:8]} → {remote[:8]}\n"
            "Would you like me to upgrade automatically? (yes/no)\n"
            "_It will git pull, sync the venv, probe the new code and restart._"
        )
        self.asked = (remote, self.clock())
        return "asked"

    def _await_answer(self, config: Config) -> str:
        assert self.asked is not None
        remote, since = self.asked
        if self.clock() - since > ASK_TIMEOUT_S:
            self.asked = None
            self._send("Upgrade skipped.")
            return "skipped"
        asks = owner_asks(config.notify, since, bridge_reads(config.db_file))
        if not asks:
            return "waiting"  # only the bridge can hear the owner now (its /api/update)
        replies, errors = poll_replies(asks)
        for line in errors:
            self.log(f"[update] {line}")
        if not replies:
            return "waiting"
        if not self.accept(remote):  # the owner answered by /update meanwhile
            return "taken"
        if str(replies[0].get("text", "")).strip().lower() != "yes":
            self._send("Upgrade skipped.")
            return "skipped"
        return self.apply(remote)

    def offer(self) -> str | None:
        """The remote commit the owner is being asked about (None: nothing on offer)."""
        with self._offer_lock:
            return self.asked[0] if self.asked is not None else None

    def accept(self, remote: str) -> bool:
        """Take the offer of ``remote`` (the DM reply, or the chat bridge's confirmed /update
        through the API): True once, so the update runs once whichever answer comes first."""
        with self._offer_lock:
            if self.asked is None or self.asked[0] != remote:
                return False
            self.asked = None
            return True

    def apply(self, remote: str) -> str:
        """Run update.sh; report its result (and a rollback) to the owner; restart when good."""
        self._send("Starting upgrade...")
        out = run_process(
            self.update_cmd,
            cwd=self.repo,
            env=dict(os.environ),
            stdin=None,
            timeout_s=UPDATE_TIMEOUT_S,
            max_output_bytes=1024 * 1024,
        )
        text = (out.stdout.decode("utf-8", "replace") + out.stderr_tail).strip()[-TAIL:]
        if out.exit_code != 0 or out.timed_out:
            why = "timed out" if out.timed_out else f"exit {out.exit_code}"
            self._send(f"**update.sh failed** ({why}); still running the old code:\n{text}")
            return "failed"
        restarting = self.restart()
        after = "restarting now." if restarting else "restart the supervisor to run it."
        self._send(f"**update.sh OK** ({remote[:8]}); {after}\n{text}")
        return "updated"


def _restart_under_systemd() -> bool:
    """Stop gracefully so systemd's Restart=always starts the new code (False: not systemd)."""
    if not os.environ.get("INVOCATION_ID"):
        return False
    threading.Timer(5.0, os.kill, (os.getpid(), signal.SIGTERM)).start()  # after the DM queues
    return True
