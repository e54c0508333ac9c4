"""The state DB's schema versions and the upgrades between them.

:data:`SCHEMA_VERSION` is the version this build writes; ``MIGRATIONS[n]`` brings a file from
version n to n+1. :class:`~supervisor.state.db.StateDB` runs them on open, each in its own
transaction together with the version bump, so a failed step leaves the old version intact.
A new table or column is declared in :mod:`supervisor.state.rows` and added to an existing file
by a new step here.
"""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy.engine import Connection

from supervisor.state.rows import (
    cashflows,
    manual_actions,
    marks,
    metadata,
    order_intents,
    outbox,
    pending_limit_orders,
    positions,
    trades,
)

SCHEMA_VERSION = 11


_V1_TABLES = ("meta", "app_state", "strategies", "positions", "trades")


def _v1(conn: Connection) -> None:
    metadata.create_all(conn, tables=[metadata.tables[name] for name in _V1_TABLES])


def _v2(conn: Connection) -> None:
    """Marks persisted with their time; trades record both the mark and the bar close."""
    # A fresh DB got today's trades table from _v1 (create_all); an old one lacks the columns.
    ddl = "FLOAT NOT NULL DEFAULT 0"
    _add_columns(conn, "trades", {"mark_price": ddl, "bar_price": ddl})
    metadata.create_all(conn, tables=[marks])


def _add_columns(conn: Connection, table: str, columns: dict[str, str]) -> None:
    have = {row[1] for row in conn.exec_driver_sql(f"PRAGMA table_info({table})")}
    for name, ddl in columns.items():
        if name not in have:
            conn.exec_driver_sql(f"ALTER TABLE {table} ADD COLUMN {name} {ddl}")


def _v3(conn: Connection) -> None:
    """Perps/futures positions with their guard; trades under the gross P&L convention.

    Rows already stored keep their meaning: their P&L was net of both legs' fees, so they are
    marked ``pnl_gross = 0`` (the column default for existing rows) and counted as stored.
    """
    metadata.create_all(conn, tables=[positions, trades])  # only if missing (checkfirst)
    _add_columns(
        conn,
        "positions",
        {
            "kind": "VARCHAR NOT NULL DEFAULT 'spot'",
            "multiplier": "FLOAT NOT NULL DEFAULT 1.0",
            "leverage": "FLOAT NOT NULL DEFAULT 1.0",
            "margin": "FLOAT NOT NULL DEFAULT 0",
            "regime": "VARCHAR NOT NULL DEFAULT ''",
            "funded_at": "FLOAT NOT NULL DEFAULT 0",
            "guard_json": "TEXT NOT NULL DEFAULT '{}'",
        },
    )
    _add_columns(
        conn,
        "trades",
        {"pnl_gross": "BOOLEAN NOT NULL DEFAULT 0", "reason": "VARCHAR NOT NULL DEFAULT ''"},
    )


def _v4(conn: Connection) -> None:
    """The chat outbox (book-wide extras already have app_state.extra_json)."""
    metadata.create_all(conn, tables=[outbox])


def _v5(conn: Connection) -> None:
    """The cashflow journal (capital changes)."""
    metadata.create_all(conn, tables=[cashflows])


def _v6(conn: Connection) -> None:
    """Live orders: the intent table, the operator's manual-order queue, and the venue's order
    id on trade rows."""
    metadata.create_all(conn, tables=[order_intents, manual_actions])
    _add_columns(conn, "trades", {"order_id": "VARCHAR NOT NULL DEFAULT ''"})


def _v7(conn: Connection) -> None:
    """The operator's resting limit orders (manual-open --limit-price)."""
    metadata.create_all(conn, tables=[pending_limit_orders])


def _v8_hedge(conn: Connection) -> None:
    """Hedge legs (issue 20, ``hedge``): the primary symbol a position hedges and the primary
    quantity it was sized against (upstream's hedge_for / hedge_primary_qty_basis)."""
    _add_columns(
        conn,
        "positions",
        {"hedge_for": "VARCHAR NOT NULL DEFAULT ''", "hedge_basis": "FLOAT NOT NULL DEFAULT 0"},
    )


def _v9_regime(conn: Connection) -> None:
    """Regime policies (issue 20, regime part): the directional policy's label and verdict
    frozen on positions, and the regime transitions' history tables."""
    from supervisor.state.regime_history import regime_window_history, regime_window_transitions

    _add_columns(
        conn,
        "positions",
        {
            "policy_regime": "VARCHAR NOT NULL DEFAULT ''",
            "policy_verdict": "VARCHAR NOT NULL DEFAULT ''",
        },
    )
    metadata.create_all(conn, tables=[regime_window_history, regime_window_transitions])


def _v10_scale_in(conn: Connection) -> None:
    """Pyramiding state on positions: adds made, last add price, added notional, risk anchor
    (issue 20, scale_in)."""
    ddl = "FLOAT NOT NULL DEFAULT 0"
    _add_columns(
        conn,
        "positions",
        {
            "scale_in_count": "INTEGER NOT NULL DEFAULT 0",
            "last_add_price": ddl,
            "added_notional_usd": ddl,
            "risk_anchor_price": ddl,
        },
    )


def _v11_options(conn: Connection) -> None:
    """Options (issue 21): upstream's option_positions and closed_option_positions tables."""
    from supervisor.state.option_rows import closed_option_positions, option_positions

    metadata.create_all(conn, tables=[option_positions, closed_option_positions])


# Ordered upgrades: MIGRATIONS[n] brings a DB from version n to n+1. Each runs inside its own
# explicit transaction together with the version bump (StateDB's engine, supervisor/state/db.py),
# so a migration that fails half-way leaves nothing behind: no stray tables, no half-added
# columns, the old version.
MIGRATIONS: list[Callable[[Connection], None]] = [
    _v1,
    _v2,
    _v3,
    _v4,
    _v5,
    _v6,
    _v7,
    _v8_hedge,
    _v9_regime,
    _v10_scale_in,
    _v11_options,
]
assert len(MIGRATIONS) == SCHEMA_VERSION
