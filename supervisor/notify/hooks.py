"""The daemon's side of notifications, each call guarded so a notify bug never stops trading.

The daemon calls :meth:`Notifier.start` once the DB is open, :meth:`queue_cycle` inside
``run_cycle`` (before the save, under the book lock), :meth:`saved` after a commit,
:meth:`alert_now` when the DB itself is failing or before exit on a probe failure, and
:meth:`stop` before it closes the DB.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from shared_tools.config.model import Config
from shared_tools.text import exc_line
from supervisor.notify.board_posts import queue_due
from supervisor.notify.messages import (
    active,
    broadcast,
    critical,
    messages_for_cycle,
    owner_messages,
)
from supervisor.notify.replies import ResetListener, bridge_reads
from supervisor.notify.script_failures import track
from supervisor.notify.sender import Sender, send_now
from supervisor.state.db import StateDB
from supervisor.state.models import AppState

if TYPE_CHECKING:
    from supervisor.notify.updater import UpdateWatcher


class Notifier:
    def __init__(self, config: Callable[[], Config], log: Callable[[str], None]) -> None:
        self.config = config
        self.log = log
        self.sender: Sender | None = None
        self.replies: ResetListener | None = None
        self.db: StateDB | None = None
        self.updater: UpdateWatcher | None = None

    def start(
        self,
        db: StateDB,
        *,
        reset_file: Path | None = None,
        latched_at: Callable[[], str] = lambda: "",
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        """Start the delivery thread (also when nothing is enabled now: rows may be pending)
        and, with ``reset_file``, the listener for the owner's "reset" reply."""
        self.db = db
        try:
            self.sender = Sender(db.engine, lambda: self.config().notify, log=self.log)
            self.sender.start()
            if reset_file is not None:
                settings = lambda: self.config().notify  # noqa: E731
                self.replies = ResetListener(
                    reset_file,
                    settings,
                    latched_at,
                    now=now,
                    log=self.log,
                    skip=lambda: bridge_reads(self.config().db_file),
                )
                self.replies.start()
            if self.config().notify.auto_update != "off":  # upstream: applied by a restart
                from supervisor.notify.updater import UpdateWatcher  # loaded only when enabled

                self.updater = UpdateWatcher(
                    db.engine, self.config, wake=self.sender.wake, log=self.log
                )
                self.updater.start()
        except Exception as exc:
            self.log(f"[notify] sender not started: {exc_line(exc)}")

    def queue_cycle(self, report, app: AppState) -> None:
        try:
            app.unsaved_messages.extend(
                messages_for_cycle(report, app, self.config(), datetime.now(UTC))
            )
        except Exception as exc:
            self.log(f"[notify] messages for cycle {report.cycle} not built: {exc_line(exc)}")
        self.queue_script_failures(report, app)
        self.queue_leaderboards(report, app)

    def queue_leaderboards(self, report, app: AppState) -> None:
        """The daily leaderboard and the scheduled leaderboard_summaries that are due."""
        db = self.db
        if db is None:
            return
        try:
            queue_due(app, self.config(), db.close_stats, datetime.now(UTC), report.cycle)
        except Exception as exc:
            self.log(f"[notify] leaderboards for cycle {report.cycle} not built: {exc_line(exc)}")

    def queue_script_failures(self, report, app: AppState) -> None:
        """Signal-script failure and recovery alerts (reference B.5) to every channel and the
        owner's DM; the trackers commit with the cycle."""
        try:
            config = self.config()
            for alert in track(app, report.outcomes, datetime.now(UTC)):
                broadcast(app, config, alert.text, report.cycle)
                critical(app, config, alert.text, report.cycle)
        except Exception as exc:
            self.log(f"[notify] script-failure alerts for cycle {report.cycle}: {exc_line(exc)}")

    def queue_events(self, report, app: AppState) -> None:
        """Risk events (kill switch, breakers, warnings) to every channel, as upstream's
        SendToAllChannels, and the critical ones also to the owner's DM."""
        try:
            config = self.config()
            for event in getattr(report, "events", []):
                if not getattr(event, "owner_only", False):
                    broadcast(app, config, event.text, report.cycle)
                if event.critical:
                    critical(app, config, event.text, report.cycle)
        except Exception as exc:
            self.log(f"[notify] risk alerts for cycle {report.cycle} not built: {exc_line(exc)}")

    def saved(self) -> None:
        if self.sender is not None:
            self.sender.wake()

    def flush(self) -> None:
        """Deliver what is due now, synchronously (``--once`` exits right after)."""
        if self.sender is None:
            return
        try:
            while self.sender.run_once()[0]:
                pass
        except Exception as exc:
            self.log(f"[notify] flush failed: {exc_line(exc)}")

    def alert_now(self, text: str, *, wait: bool = False, timeout_s: float = 5.0) -> None:
        """An owner DM sent directly (not through the outbox), in the background unless
        ``wait`` (then within about 15 s: it delays an exit)."""
        total_s = 15.0 if wait else None
        config = self.config()
        try:
            if not any(chat.owner for _t, chat in active(config)):
                return
            messages = owner_messages(config, text)
        except Exception as exc:
            self.log(f"[notify] owner alert not built: {exc_line(exc)}")
            return

        def send() -> None:
            try:
                sent = send_now(config.notify, messages, timeout_s=timeout_s, total_s=total_s)
                for m, res in sent:
                    if not res.ok:
                        self.log(f"[notify] owner alert on {m.transport} failed: {res.error}")
            except Exception as exc:
                self.log(f"[notify] owner alert failed: {exc_line(exc)}")

        if wait:
            send()
        else:
            threading.Thread(target=send, name="notify-alert", daemon=True).start()

    def stop(self) -> None:
        if self.updater is not None:
            self.updater.stop()
            self.updater = None
        if self.replies is not None:
            self.replies.stop()
            self.replies = None
        if self.sender is not None:
            self.sender.stop()
            self.sender = None
        self.db = None
