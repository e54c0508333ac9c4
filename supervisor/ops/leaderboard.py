"""``go-trader leaderboard`` and ``go-trader summary <key>`` (upstream ``--leaderboard`` and
``--summary``, reference B.4): print the message, or with ``--post`` queue it to the outbox.

The state is read as ``inspect`` reads it (read-only, no lock, the last committed cycle), with
the marks that cycle stored: unlike upstream, a one-shot command fetches no prices. ``--post``
only inserts outbox rows (never the book), so it is safe beside a running supervisor, whose
sender delivers them; when no supervisor holds the lock, the command delivers them itself.

Exit codes: 0 ok (also: no state yet, nothing to show), 1 nothing posted or not all delivered,
2 an unknown summary key.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from shared_tools.config.model import Config
from shared_tools.config.notify import ChatSettings
from supervisor.notify.board_posts import daily_messages, summary_messages
from supervisor.notify.leaderboard import board, entries, summary_board
from supervisor.notify.messages import active, summaries, who_of
from supervisor.notify.routing import summary_key
from supervisor.state.models import AppState, Message, utc_iso

EXIT_USAGE = 2
PRINT_AS = "telegram"  # plain text: no Markdown markers on a terminal


def _load(config: Config):
    """(app, close stats) of the last committed cycle, or (None, {}) when there is no DB yet."""
    from supervisor.state.db import StateDB

    if not Path(config.db_file).is_file():
        return None, {}
    db = StateDB.open_readonly(config.db_file)
    try:
        return db.load(), db.close_stats()
    finally:
        db.close()


def _channel_sids(config: Config, app: AppState, chat: ChatSettings, key: str) -> list[str]:
    return [s for s in app.strategies if summary_key(chat, who_of(config, app, s)) == key]


def _category(config: Config, app: AppState, key: str, now: datetime) -> list[Message]:
    """Upstream's category summary for the channel key, per enabled platform with that key."""
    out: list[Message] = []
    for transport, chat in active(config):
        if key not in chat.channels:
            continue
        sids = _channel_sids(config, app, chat, key)
        for body in summaries(transport, key, app, config, sids, []) if sids else []:
            out.append(Message(transport, chat.channels[key], "summary", body, utc_iso(now)))
    return out


def leaderboard_text(config: Config, app: AppState, stats: dict, now: datetime) -> list[str]:
    ranked = entries(app, config, stats)
    if not ranked:
        return []
    n = config.notify.board.top_n
    return [board(PRINT_AS, app, config, ranked, top=top, n=n, now=now) for top in (True, False)]


def summary_text(config: Config, app: AppState, stats: dict, key: str, now: datetime) -> list[str]:
    specs = [s for s in config.notify.board.summaries if s.channel == key]
    if specs:
        ranked = entries(app, config, stats)
        found = [summary_board(PRINT_AS, app, config, ranked, s, now) for s in specs]
        return [b for b in found if b]
    chat = next((c for _t, c in active(config) if key in c.channels), None)
    sids = _channel_sids(config, app, chat or ChatSettings(channels={key: key}), key)
    return summaries(PRINT_AS, key, app, config, sids, []) if sids else []


def deliver(config: Config, messages: list[Message], echo: Callable[[str], None]) -> int:
    """Queue ``messages``; deliver them here unless a supervisor is running. Exit code."""
    from supervisor.notify import outbox
    from supervisor.notify.sender import Sender
    from supervisor.service.lock import AlreadyRunning, acquire_lock
    from supervisor.state.db import StateDB

    if not messages:
        echo("nothing to post (no enabled chat platform with a matching channel and a token)")
        return 1
    db = StateDB(config.db_file)
    try:
        ids = outbox.enqueue(db.engine, messages)
        try:
            lock = acquire_lock(config.db_file)
        except AlreadyRunning as exc:
            echo(f"queued {len(ids)} messages; the running supervisor (pid {exc.pid}) sends them")
            return 0
        with lock:
            sender = Sender(db.engine, lambda: config.notify, log=echo)
            for _ in range(3):  # the sender backs off a failed row; a one-shot does not wait
                if not sender.run_once()[0]:
                    break
        left = outbox.pending_count(db.engine)
    finally:
        db.close()
    if left:
        echo(f"queued {len(ids)} messages; {left} not delivered yet (the supervisor retries)")
        return 1
    echo(f"posted {len(ids)} messages")
    return 0


def run(
    config: Config,
    *,
    key: str | None,
    post: bool,
    echo: Callable[[str], None],
    now: datetime | None = None,
) -> int:
    """``leaderboard`` (key None) or ``summary <key>``; prints, or posts with ``post``."""
    now = now or datetime.now(UTC)
    app, stats = _load(config)
    if app is None:
        echo(f"no state yet in {config.db_file}: nothing to show")
        return 0
    if key is not None:
        known = {c for _t, ch in active(config) for c in ch.channels}
        known |= {s.channel for s in config.notify.board.summaries}
        known |= {s.platform for s in config.strategies} | {s.type for s in config.strategies}
        if key not in known:
            echo(
                f"summary: unknown key {key!r}; use a channels key or a leaderboard_summaries channel"
            )
            return EXIT_USAGE
    if not post:
        texts = (
            leaderboard_text(config, app, stats, now)
            if key is None
            else summary_text(config, app, stats, key, now)
        )
        for text in texts:
            echo(text)
            echo("")
        if not texts:
            echo("no strategies to show")
        return 0
    if key is None:
        messages = daily_messages(app, config, stats, now)
    else:
        specs = [s for s in config.notify.board.summaries if s.channel == key]
        messages = (
            summary_messages(app, config, stats, specs, now)
            if specs
            else _category(config, app, key, now)
        )
    return deliver(config, messages, echo)
