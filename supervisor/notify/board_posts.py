"""When leaderboards are posted, and to whom (reference B.4); the text is :mod:`.leaderboard`.

* The daily top/bottom pair goes out on the first cycle at or after ``leaderboard_post_time``
  (UTC) unless it already went out today, so a daemon started late posts at once. It goes to
  ``discord.leaderboard_channel`` when set, else to every summary channel of each platform.
* Each ``leaderboard_summaries`` entry with a ``frequency`` goes out when that much time has
  passed since its last post, to its ``channel`` on every enabled platform.

Both stamps live in ``app.extra["leaderboard"]`` and commit in the same transaction as the
queued messages (the outbox), so a post is neither lost nor repeated by a crash or a restart.
Upstream stamps the daily date only after a successful send and retries a failed one; here the
outbox does the retrying.
"""

from __future__ import annotations

from datetime import datetime

from shared_tools.config.leaderboard import BoardSummary
from shared_tools.config.model import Config
from supervisor.http.api import CloseStats
from supervisor.notify.leaderboard import board, entries, summary_board
from supervisor.notify.messages import active
from supervisor.notify.render import split_for
from supervisor.state.models import AppState, Message, parse_iso, utc_iso

EXTRA_KEY = "leaderboard"


def _store(app: AppState) -> dict:
    return app.extra.setdefault(EXTRA_KEY, {"last_post_date": "", "last_summaries": {}})


def daily_due(app: AppState, config: Config, now: datetime) -> bool:
    """Whether the daily post is due at ``now`` (UTC)."""
    post_time = config.notify.board.post_time
    if not post_time:
        return False
    hh, mm = (int(x) for x in post_time.split(":"))
    if (now.hour, now.minute) < (hh, mm):
        return False
    return app.extra.get(EXTRA_KEY, {}).get("last_post_date") != now.date().isoformat()


def summaries_due(app: AppState, config: Config, now: datetime) -> list[BoardSummary]:
    """The scheduled ``leaderboard_summaries`` whose frequency has passed."""
    last = app.extra.get(EXTRA_KEY, {}).get("last_summaries", {})
    due = []
    for spec in config.notify.board.summaries:
        if not spec.frequency_s:
            continue
        stamp = last.get(spec.key)
        try:
            if stamp and (now - parse_iso(stamp)).total_seconds() < spec.frequency_s:
                continue
        except ValueError:
            pass
        due.append(spec)
    return due


def _wrap(transport: str, target: str, body: str, now: datetime, cycle: int) -> list[Message]:
    stamp = utc_iso(now)
    return [
        Message(transport, target, "leaderboard", piece, created_at=stamp, cycle=cycle)
        for piece in split_for(transport, body)
    ]


def daily_messages(
    app: AppState, config: Config, stats: dict[str, CloseStats], now: datetime, cycle: int = 0
) -> list[Message]:
    """The top and bottom posts for every enabled platform (top first, as upstream)."""
    ranked = entries(app, config, stats)
    out: list[Message] = []
    if not ranked:
        return out
    settings = config.notify.board
    for transport, chat in active(config):
        if transport == "discord" and settings.channel:
            targets = [settings.channel]
        else:
            targets = list(dict.fromkeys(chat.channels.values()))
        for target in targets:
            for top in (True, False):
                body = board(transport, app, config, ranked, top=top, n=settings.top_n, now=now)
                out += _wrap(transport, target, body, now, cycle)
    return out


def summary_messages(
    app: AppState,
    config: Config,
    stats: dict[str, CloseStats],
    specs: list[BoardSummary],
    now: datetime,
    cycle: int = 0,
) -> list[Message]:
    """The given ``leaderboard_summaries`` entries, each to its channel on every platform."""
    ranked = entries(app, config, stats)
    out: list[Message] = []
    for spec in specs:
        for transport, _chat in active(config):
            body = summary_board(transport, app, config, ranked, spec, now)
            if body is not None:
                out += _wrap(transport, spec.channel, body, now, cycle)
    return out


def queue_due(app: AppState, config: Config, stats_of, now: datetime, cycle: int) -> list[Message]:
    """Append the leaderboard posts due at ``now`` to ``app.unsaved_messages`` and stamp them.

    ``stats_of`` is called only when something is due (it reads the DB's close statistics).
    """
    daily, specs = daily_due(app, config, now), summaries_due(app, config, now)
    if not daily and not specs:
        return []
    stats = stats_of()
    out: list[Message] = []
    store = _store(app)
    if daily:
        out += daily_messages(app, config, stats, now, cycle)
        store["last_post_date"] = now.date().isoformat()  # also when there was nothing to post
    if specs:
        out += summary_messages(app, config, stats, specs, now, cycle)
        for spec in specs:
            store.setdefault("last_summaries", {})[spec.key] = utc_iso(now)
    app.unsaved_messages.extend(out)
    return out
