"""Reading and marking the outbox table (supervisor/state/db.py) for the sender thread.

Each call is one short transaction on its own connection, so the sender never holds the DB
while a chat server thinks. Order: rows of one (transport, target) go out strictly by id; a
head that is waiting for its retry time holds back everything behind it.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.engine import Engine

from supervisor.state.models import Message, utc_iso
from supervisor.state.rows import outbox

SCAN_LIMIT = 1000


@dataclass(frozen=True)
class Row:
    id: int
    transport: str
    target: str
    category: str
    body: str
    attempts: int
    next_attempt_at: float


def due(engine: Engine, now: float, limit: int) -> tuple[list[Row], float | None]:
    """Up to ``limit`` undelivered rows ready to send (in order), and the earliest time a held
    back destination becomes due (None: nothing is waiting)."""
    with engine.connect() as conn:
        rows = conn.execute(
            select(outbox)
            .where(outbox.c.delivered_at == "")
            .order_by(outbox.c.id)
            .limit(SCAN_LIMIT)
        ).all()
    ready: list[Row] = []
    held: set[tuple[str, str]] = set()
    seen: set[tuple[str, str]] = set()
    wake: float | None = None
    for r in rows:
        dest = (r.transport, r.target)
        if dest in held:
            continue
        if dest not in seen and r.next_attempt_at > now:  # the destination's head must wait
            held.add(dest)
            wake = r.next_attempt_at if wake is None else min(wake, r.next_attempt_at)
            continue
        seen.add(dest)
        if len(ready) < limit:
            ready.append(
                Row(
                    r.id,
                    r.transport,
                    r.target,
                    r.category,
                    r.body,
                    r.attempts,
                    r.next_attempt_at,
                )
            )
    return ready, wake


def mark_delivered(engine: Engine, ids: list[int], at: str) -> None:
    if not ids:
        return
    with engine.begin() as conn:
        conn.execute(
            update(outbox)
            .where(outbox.c.id.in_(ids), outbox.c.delivered_at == "")
            .values(delivered_at=at, last_error="")
        )


def mark_failed(engine: Engine, row_id: int, error: str, next_attempt_at: float) -> None:
    with engine.begin() as conn:
        conn.execute(
            update(outbox)
            .where(outbox.c.id == row_id)
            .values(
                attempts=outbox.c.attempts + 1,
                next_attempt_at=next_attempt_at,
                last_error=error[:500],
            )
        )


def pending_count(engine: Engine) -> int:
    """Messages not delivered yet (an index-backed count: cheap enough for every /status)."""
    with engine.connect() as conn:
        query = select(func.count()).select_from(outbox).where(outbox.c.delivered_at == "")
        return int(conn.execute(query).scalar() or 0)


def prune(engine: Engine, delivered_before: str) -> int:
    """Delete rows delivered before ``delivered_before`` (ISO time), so the table stays small;
    undelivered rows are never deleted."""
    with engine.begin() as conn:
        return conn.execute(
            delete(outbox).where(
                outbox.c.delivered_at != "", outbox.c.delivered_at < delivered_before
            )
        ).rowcount


def enqueue(engine: Engine, messages: list[Message]) -> list[int]:
    """Queue messages made outside a cycle (``go-trader leaderboard --post``): outbox rows only,
    never the book, so this is safe beside a running supervisor. Returns the new row ids."""
    ids = []
    with engine.begin() as conn:
        for m in messages:
            res = conn.execute(
                insert(outbox).values(
                    created_at=m.created_at or utc_iso(),
                    cycle=m.cycle,
                    transport=m.transport,
                    target=m.target,
                    category=m.category,
                    body=m.body,
                )
            )
            ids.append(int(res.inserted_primary_key[0]))
    return ids
