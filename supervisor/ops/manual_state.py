"""What the manual commands read and write in the state DB: guards and the queue rows.

The daemon owns the book (it rewrites strategies and positions every cycle), so the CLI only
reads them and writes its own rows of ``manual_actions`` (supervisor/live/manual_queue.py).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

from sqlalchemy import insert, select, update

from shared_tools.config.model import Config, StrategyConfig
from supervisor.live.decide import SALT_KEY, cloid_for
from supervisor.risk import portfolio as risk_portfolio
from supervisor.state.db import StateDB, StateError
from supervisor.state.models import Position, utc_iso
from supervisor.state.rows import (
    app_state,
    extra_from_json,
    manual_actions,
    pending_limit_orders,
    position_from_row,
    positions,
    strategies,
)

QUEUED = ("sending", "filled")  # rows the daemon has not booked yet
LIMIT_OPEN = ("placing", "resting", "filled")  # limit rows the daemon still watches


class ManualError(Exception):
    """A refusal or failure for the operator: one line; ``code`` is the exit status."""

    def __init__(self, line: str, code: int = 1) -> None:
        super().__init__(line)
        self.code = code


@dataclass
class View:
    """The guards' view of one strategy, read from the state DB."""

    kill_switch: bool
    breaker: bool
    breaker_reason: str
    position: Position | None
    queued: list[str]  # "#id action (status)" of rows not booked yet
    salt: str
    limits: list[str]  # "#id limit <tif> @ <price> (status)" of open resting-limit rows


def open_db(config: Config) -> StateDB:
    """The state DB, which must exist: the daemon creates the strategies' rows."""
    if not config.db_file.exists():
        raise ManualError(
            f"error: state DB {config.db_file} does not exist; start the supervisor once "
            "(go-trader --once) so it knows the strategies, then retry"
        )
    try:
        return StateDB(config.db_file)
    except StateError as exc:
        raise ManualError(f"error: {exc}") from None


def read_view(db: StateDB, sc: StrategyConfig) -> View:
    with db.engine.connect() as conn:
        app = conn.execute(select(app_state.c.extra_json).where(app_state.c.id == 1)).first()
        extra = extra_from_json(app[0]) if app is not None else {}
        row = conn.execute(select(strategies).where(strategies.c.id == sc.id)).first()
        if row is None:
            raise ManualError(
                f"error: strategy {sc.id} has no state yet; let the supervisor run one cycle "
                "with it configured, then retry"
            )
        pos_row = conn.execute(
            select(positions).where(
                positions.c.strategy_id == sc.id, positions.c.symbol == sc.symbol
            )
        ).first()
        queued = conn.execute(
            select(manual_actions).where(
                manual_actions.c.strategy_id == sc.id,
                manual_actions.c.symbol == sc.symbol,
                manual_actions.c.status.in_(QUEUED),
            )
        ).all()
        limits = conn.execute(
            select(pending_limit_orders).where(
                pending_limit_orders.c.strategy_id == sc.id,
                pending_limit_orders.c.symbol == sc.symbol,
                pending_limit_orders.c.status.in_(LIMIT_OPEN),
            )
        ).all()
    risk = extra.get(risk_portfolio.KEY) or {}
    salt = str(extra.get(SALT_KEY) or "")
    if not salt:  # before the first live cycle: a salt of this DB file
        salt = hashlib.sha256(str(db.path.resolve()).encode()).hexdigest()[:16]
    return View(
        kill_switch=bool(risk.get("kill_switch")),
        breaker=bool(row.risk_circuit_breaker),
        breaker_reason=str(row.risk_circuit_breaker_reason or ""),
        position=position_from_row(pos_row) if pos_row is not None else None,
        queued=[f"#{r.id} {r.action} ({r.status})" for r in queued],
        salt=salt,
        limits=[f"#{r.id} limit {r.tif} @ {r.limit_price:g} ({r.status})" for r in limits],
    )


def refuse_queued(view: View, sc: StrategyConfig, what: str) -> None:
    if view.queued:
        raise ManualError(
            f"error: {sc.id} {sc.symbol} has a queued action the daemon has not booked yet "
            f"({', '.join(view.queued)}) — {what} refused; wait for the next cycle"
        )


def refuse_limits(view: View, sc: StrategyConfig, what: str) -> None:
    if view.limits:
        raise ManualError(
            f"error: {sc.id} {sc.symbol} has a resting limit order ({', '.join(view.limits)}) "
            f"— {what} refused; cancel it with go-trader manual-cancel {sc.id} first"
        )


def refuse_risk(view: View, sc: StrategyConfig, what: str) -> None:
    """Position-increasing actions: the kill switch and the strategy's breaker block them."""
    if view.kill_switch:
        raise ManualError(
            f"error: the portfolio kill switch is latched — {what} blocked; "
            "clear it with go-trader reset-kill-switch first"
        )
    if view.breaker:
        why = f" ({view.breaker_reason})" if view.breaker_reason else ""
        raise ManualError(f"error: {sc.id}'s circuit breaker is latched{why} — {what} blocked")


def insert_row(db: StateDB, salt: str, **values: Any) -> tuple[int, str]:
    """Commit a queue row; returns its id and the cloid of its order (derived from the id)."""
    values.setdefault("created_at", utc_iso())
    values["extra_json"] = json.dumps(values.get("extra_json") or {}, sort_keys=True)
    with db.engine.begin() as conn:
        rid = int(conn.execute(insert(manual_actions).values(**values)).lastrowid or 0)
        cloid = cloid_for(salt, values["strategy_id"], rid, f"manual:{values['action']}")
        if values.get("status") == "sending":
            conn.execute(
                update(manual_actions).where(manual_actions.c.id == rid).values(cloid=cloid)
            )
    return rid, cloid


def update_row(db: StateDB, rid: int, **values: Any) -> None:
    with db.engine.begin() as conn:
        conn.execute(update(manual_actions).where(manual_actions.c.id == rid).values(**values))


def rows_of(db: StateDB, strategy_id: str) -> list[dict[str, Any]]:
    with db.engine.connect() as conn:
        return [
            dict(r._mapping)
            for r in conn.execute(
                select(manual_actions)
                .where(manual_actions.c.strategy_id == strategy_id)
                .order_by(manual_actions.c.id)
            )
        ]


def insert_limit(db: StateDB, salt: str, **values: Any) -> tuple[int, str]:
    """Commit a resting-limit row (``placing``); returns its id and its order's cloid."""
    values["extra_json"] = json.dumps(values.get("extra_json") or {}, sort_keys=True)
    with db.engine.begin() as conn:
        rid = int(conn.execute(insert(pending_limit_orders).values(**values)).lastrowid or 0)
        cloid = cloid_for(salt, values["strategy_id"], rid, "manual:limit")
        conn.execute(
            update(pending_limit_orders).where(pending_limit_orders.c.id == rid).values(cloid=cloid)
        )
    return rid, cloid


def update_limit(db: StateDB, rid: int, **values: Any) -> None:
    with db.engine.begin() as conn:
        t = pending_limit_orders
        conn.execute(update(t).where(t.c.id == rid).values(**values))


def request_cancel(db: StateDB, strategy_id: str) -> list[dict[str, Any]]:
    """Flag the strategy's open resting-limit rows for the daemon to cancel; returns them."""
    t = pending_limit_orders
    with db.engine.begin() as conn:
        where = (t.c.strategy_id == strategy_id) & t.c.status.in_(LIMIT_OPEN)
        found = [dict(r._mapping) for r in conn.execute(select(t).where(where).order_by(t.c.id))]
        conn.execute(update(t).where(where).values(cancel_requested=True))
    return found
