"""The regime transitions' tables (schema v9): label history per closed bar, alerted changes.

``regime_window_history``: at most one row per (bundle, window, bar): the label a window gave
for that closed bar (``INSERT OR IGNORE`` on the key). ``regime_window_transitions``: each net
change the owner was told about (and each first stable label, ``old_label`` empty, not sent).
Written with the cycle's commit (:meth:`supervisor.state.db.StateDB.save`); history older than
``regime.transitions.retention_days`` is pruned at most once an hour.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Column, Integer, String, Table, delete, select
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Connection

from supervisor.state.rows import metadata

__all__ = ["recent_changes", "regime_window_history", "regime_window_transitions", "write"]

regime_window_history = Table(
    "regime_window_history",
    metadata,
    Column("bundle", String, primary_key=True),  # platform|symbol|timeframe|spec
    Column("window", String, primary_key=True),
    Column("bar_time", String, primary_key=True),  # the closed bar's open, ISO UTC
    Column("label", String, nullable=False),
    Column("ts", String, nullable=False),  # when it was recorded (prune key)
)

regime_window_transitions = Table(
    "regime_window_transitions",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("bundle", String, nullable=False),
    Column("window", String, nullable=False),
    Column("old_label", String, nullable=False),
    Column("new_label", String, nullable=False),
    Column("bar_time", String, nullable=False),
    Column("ts", String, nullable=False),
    Column("alerted_at", String, nullable=False, default=""),
)


def write(
    conn: Connection,
    history: list[dict[str, Any]],
    changes: list[dict[str, Any]],
    prune_before: str,
) -> None:
    """The cycle's regime rows, in the caller's transaction."""
    if history:
        conn.execute(sqlite_insert(regime_window_history).on_conflict_do_nothing(), history)
    if changes:
        conn.execute(regime_window_transitions.insert(), changes)
    if prune_before:
        conn.execute(delete(regime_window_history).where(regime_window_history.c.ts < prune_before))
        conn.execute(
            delete(regime_window_transitions).where(regime_window_transitions.c.ts < prune_before)
        )


def recent_changes(conn: Connection, limit: int) -> list[dict[str, Any]]:
    """The newest ``limit`` transition rows, newest first, the bundle split back into its
    platform, symbol and timeframe (``/api/regime/transitions``)."""
    t = regime_window_transitions
    rows = conn.execute(select(t).order_by(t.c.id.desc()).limit(limit))
    out = []
    for r in rows:
        row = dict(r._mapping)
        platform, symbol, timeframe = (row.pop("bundle").split("|", 3) + ["", "", ""])[:3]
        out.append({"platform": platform, "symbol": symbol, "timeframe": timeframe, **row})
    return out
