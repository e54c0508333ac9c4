"""Upstream's option tables (schema v11): open legs and closed option positions.

``option_positions``: one row per open leg, rewritten with the book on every save (upstream's
columns, plus ours: the leg id, multiplier, per-unit entry and mark, fee, real expiry instant).
``entry_premium_usd`` and ``current_value_usd`` keep upstream's meaning (totals, the value
signed: negative for a sold leg); ``entry_premium``/``mark_usd`` are per unit of underlying.
``closed_option_positions``: appended with the cycle's commit; ``close_reason`` is one of
signal, theta_harvest, expired_worthless, expired_itm, circuit_breaker, kill_switch.
"""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import (
    Column,
    Float,
    ForeignKey,
    Integer,
    String,
    Table,
    Text,
    delete,
    insert,
    select,
)
from sqlalchemy.engine import Connection

from shared_tools.book.options import OptionLeg
from shared_tools.book.options_life import Closed
from supervisor.state.models import AppState
from supervisor.state.rows import metadata

__all__ = ["closed_option_positions", "load", "option_positions", "write"]

option_positions = Table(
    "option_positions",
    metadata,
    Column(
        "strategy_id", String, ForeignKey("strategies.id", ondelete="CASCADE"), primary_key=True
    ),
    Column("id", String, primary_key=True),  # the leg id (ours; upstream keyed by the key)
    Column("position_id", String, nullable=False),  # upstream's key <UND>-<type>-<action>-...
    Column("underlying", String, nullable=False),
    Column("option_type", String, nullable=False),
    Column("strike", Float, nullable=False),
    Column("expiry", String, nullable=False),
    Column("dte", Float, nullable=False, default=0.0),
    Column("action", String, nullable=False),
    Column("quantity", Float, nullable=False),
    Column("entry_premium", Float, nullable=False),  # USD per unit of underlying (ours)
    Column("entry_premium_usd", Float, nullable=False),  # qty x mult x entry (upstream: total)
    Column("current_value_usd", Float, nullable=False),  # signed value at the last mark
    Column("delta", Float, nullable=False, default=0.0),
    Column("gamma", Float, nullable=False, default=0.0),
    Column("theta", Float, nullable=False, default=0.0),
    Column("vega", Float, nullable=False, default=0.0),
    Column("opened_at", String, nullable=False, default=""),
    Column("multiplier", Float, nullable=False, default=1.0),
    Column("mark_usd", Float, nullable=False, default=0.0),  # per unit of underlying
    Column("entry_fee", Float, nullable=False, default=0.0),
    Column("symbol", String, nullable=False, default=""),
    Column("expires_at", String, nullable=False, default=""),
    Column("extra_json", Text, nullable=False, default="{}"),  # instrument, marked_at
)

closed_option_positions = Table(
    "closed_option_positions",
    metadata,
    Column("rowid", Integer, primary_key=True, autoincrement=True),
    Column("strategy_id", String, nullable=False),
    Column("position_id", String, nullable=False),
    Column("underlying", String, nullable=False),
    Column("option_type", String, nullable=False),
    Column("strike", Float, nullable=False),
    Column("expiry", String, nullable=False),
    Column("action", String, nullable=False),
    Column("quantity", Float, nullable=False),
    Column("entry_premium_usd", Float, nullable=False),
    Column("close_price_usd", Float, nullable=False),
    Column("realized_pnl", Float, nullable=False),
    Column("opened_at", String, nullable=False),
    Column("closed_at", String, nullable=False),
    Column("close_reason", String, nullable=False),
    Column("duration_seconds", Float, nullable=False, default=0.0),
    Column("multiplier", Float, nullable=False, default=1.0),
)


def _leg_row(sid: str, leg: OptionLeg) -> dict[str, Any]:
    g = leg.greeks
    return {
        "strategy_id": sid,
        "id": leg.leg_id,
        "position_id": leg.key,
        "underlying": leg.underlying,
        "option_type": leg.option_type,
        "strike": leg.strike,
        "expiry": leg.expiry,
        "dte": leg.dte_days,
        "action": leg.action,
        "quantity": leg.quantity,
        "entry_premium": leg.entry_premium,
        "entry_premium_usd": leg.entry_premium * leg.units,
        "current_value_usd": leg.value(),
        **{k: float(g.get(k, 0.0)) for k in ("delta", "gamma", "theta", "vega")},
        "opened_at": leg.opened_at,
        "multiplier": leg.multiplier,
        "mark_usd": leg.mark,
        "entry_fee": leg.entry_fee,
        "symbol": leg.symbol,
        "expires_at": leg.expires_at,
        "extra_json": json.dumps({"instrument": leg.instrument, "marked_at": leg.marked_at}),
    }


def _leg_from_row(r: Any) -> OptionLeg | None:
    """A stored leg; None for a row upstream's load-time sanitation would drop."""
    if r.action not in ("buy", "sell") or r.option_type not in ("call", "put") or r.quantity <= 0:
        return None
    extra = json.loads(r.extra_json or "{}")
    return OptionLeg(
        leg_id=r.id,
        symbol=r.symbol,
        underlying=r.underlying,
        option_type=r.option_type,
        strike=r.strike,
        expiry=r.expiry,
        side="long" if r.action == "buy" else "short",
        quantity=r.quantity,
        multiplier=r.multiplier,
        entry_premium=r.entry_premium,
        mark=r.mark_usd,
        opened_at=r.opened_at,
        key=r.position_id,
        entry_fee=r.entry_fee,
        greeks={k: getattr(r, k) for k in ("delta", "gamma", "theta", "vega")},
        dte_days=r.dte,
        expires_at=r.expires_at,
        instrument=str(extra.get("instrument", "")),
        marked_at=str(extra.get("marked_at", "")),
    )


def _closed_row(c: Closed) -> dict[str, Any]:
    return {
        "strategy_id": c.strategy_id,
        "position_id": c.position_id,
        "underlying": c.underlying,
        "option_type": c.option_type,
        "strike": c.strike,
        "expiry": c.expiry,
        "action": c.action,
        "quantity": c.quantity,
        "entry_premium_usd": c.entry_premium_usd,
        "close_price_usd": c.close_price_usd,
        "realized_pnl": c.realized_pnl,
        "opened_at": c.opened_at,
        "closed_at": c.closed_at,
        "close_reason": c.close_reason,
        "duration_seconds": c.duration_seconds,
        "multiplier": c.multiplier,
    }


def load(conn: Connection, state: AppState) -> None:
    """Attach the stored legs to their strategies."""
    for r in conn.execute(select(option_positions)):
        strat = state.strategies.get(r.strategy_id)
        leg = _leg_from_row(r)
        if strat is not None and leg is not None:
            strat.legs[leg.leg_id] = leg


def write(conn: Connection, state: AppState) -> None:
    """Rewrite every strategy's open legs; append the cycle's closed rows."""
    ids = list(state.strategies)
    if ids:
        conn.execute(delete(option_positions).where(option_positions.c.strategy_id.in_(ids)))
    rows = [_leg_row(s.id, leg) for s in state.strategies.values() for leg in s.legs.values()]
    if rows:
        conn.execute(insert(option_positions), rows)
    closed = [_closed_row(c) for s in state.strategies.values() for c in s.closed_options]
    if closed:
        conn.execute(insert(closed_option_positions), closed)


def committed(state: AppState) -> None:
    """After the commit: the closed rows are on disk."""
    for strat in state.strategies.values():
        strat.closed_options.clear()


def closed_rows(conn: Connection, strategy_id: str, limit: int = 50) -> list[dict[str, Any]]:
    """The strategy's latest closed option positions, newest first (inspect)."""
    t = closed_option_positions
    q = select(t).where(t.c.strategy_id == strategy_id).order_by(t.c.closed_at.desc()).limit(limit)
    return [dict(r._mapping) for r in conn.execute(q)]
