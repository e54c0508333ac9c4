"""The state DB's tables and how the book's objects map to their rows and back.

A new field is added here, in one visible place per table (its column and both directions).
:mod:`supervisor.state.db` owns the migrations (which add the column to an existing file), the
schema version and the transactions.
"""

from __future__ import annotations

import json

from sqlalchemy import (
    Boolean,
    Column,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
)

from supervisor.state.models import (
    Guard,
    Intent,
    Message,
    Position,
    RiskState,
    StrategyState,
    Trade,
)

metadata = MetaData()

meta = Table(
    "meta",
    metadata,
    Column("key", String, primary_key=True),
    Column("value", Text, nullable=False),
)

app_state = Table(
    "app_state",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("cycle_count", Integer, nullable=False, default=0),
    Column("last_cycle", String, nullable=False, default=""),
    Column("extra_json", Text, nullable=False, default="{}"),
)

strategies = Table(
    "strategies",
    metadata,
    Column("id", String, primary_key=True),
    Column("type", String, nullable=False),
    Column("platform", String, nullable=False, default=""),
    Column("cash", Float, nullable=False),
    Column("initial_capital", Float, nullable=False),
    Column("trade_count", Integer, nullable=False, default=0),
    Column("last_run", String, nullable=False, default=""),
    Column("last_error", Text, nullable=False, default=""),
    Column("last_error_at", String, nullable=False, default=""),
    Column("consecutive_failures", Integer, nullable=False, default=0),
    Column("last_signal", Integer, nullable=False, default=0),
    Column("last_price", Float, nullable=False, default=0.0),
    # risk state, flattened
    Column("risk_peak_value", Float, nullable=False, default=0.0),
    Column("risk_max_drawdown_pct", Float, nullable=False, default=60.0),
    Column("risk_current_drawdown_pct", Float, nullable=False, default=0.0),
    Column("risk_daily_pnl", Float, nullable=False, default=0.0),
    Column("risk_daily_pnl_date", String, nullable=False, default=""),
    Column("risk_consecutive_losses", Integer, nullable=False, default=0),
    Column("risk_circuit_breaker", Boolean, nullable=False, default=False),
    Column("risk_circuit_breaker_until", String, nullable=False, default=""),
    Column("risk_circuit_breaker_reason", Text, nullable=False, default=""),
)

positions = Table(
    "positions",
    metadata,
    Column(
        "strategy_id",
        String,
        ForeignKey("strategies.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    Column("symbol", String, primary_key=True),
    Column("position_id", String, nullable=False),
    Column("quantity", Float, nullable=False),
    Column("initial_quantity", Float, nullable=False),
    Column("avg_cost", Float, nullable=False),
    Column("cost_basis", Float, nullable=False),
    Column("side", String, nullable=False, default="long"),
    Column("entry_atr", Float, nullable=False, default=0.0),
    Column("opened_at", String, nullable=False, default=""),
    # v3: perps and futures, and the guard (stop, trailing state, targets) as JSON
    Column("kind", String, nullable=False, default="spot"),
    Column("multiplier", Float, nullable=False, default=1.0),
    Column("leverage", Float, nullable=False, default=1.0),
    Column("margin", Float, nullable=False, default=0.0),
    Column("regime", String, nullable=False, default=""),
    Column("funded_at", Float, nullable=False, default=0.0),
    Column("guard_json", Text, nullable=False, default="{}"),
    Column("hedge_for", String, nullable=False, default=""),  # schema v8 (hedge legs)
    Column("hedge_basis", Float, nullable=False, default=0.0),
    # v9: regime_directional_policy's label and verdict, frozen at entry
    Column("policy_regime", String, nullable=False, default=""),
    Column("policy_verdict", String, nullable=False, default=""),
    # v10 (scale_in): pyramiding state (shared_tools/book/scale_in.py)
    Column("scale_in_count", Integer, nullable=False, default=0),
    Column("last_add_price", Float, nullable=False, default=0.0),
    Column("added_notional_usd", Float, nullable=False, default=0.0),
    Column("risk_anchor_price", Float, nullable=False, default=0.0),
)

trades = Table(
    "trades",
    metadata,
    Column("rowid", Integer, primary_key=True, autoincrement=True),
    Column("strategy_id", String, nullable=False),
    Column("timestamp", String, nullable=False),
    Column("symbol", String, nullable=False),
    Column("position_id", String, nullable=False, default=""),
    Column("side", String, nullable=False),
    Column("quantity", Float, nullable=False),
    Column("price", Float, nullable=False),
    Column("value", Float, nullable=False),
    Column("fee", Float, nullable=False, default=0.0),
    Column("trade_type", String, nullable=False, default="spot"),
    Column("is_close", Boolean, nullable=False, default=False),
    Column("realized_pnl", Float, nullable=False, default=0.0),
    Column("details", Text, nullable=False, default=""),
    Column("cycle", Integer, nullable=False, default=0),
    Column("mark_price", Float, nullable=False, default=0.0),  # v2
    Column("bar_price", Float, nullable=False, default=0.0),  # v2
    # v3: close rows carry gross P&L and their own fee (rows from before: net, see Trade.net_pnl)
    Column("pnl_gross", Boolean, nullable=False, default=True),
    Column("reason", String, nullable=False, default=""),
    Column("order_id", String, nullable=False, default=""),  # v6: the venue's order id (live)
    Index("idx_trades_strategy_ts", "strategy_id", "timestamp"),
    Index("idx_trades_position", "strategy_id", "position_id"),
)

# v2: the cycle's marks with the time they were read, so a restart knows how old they are.
marks = Table(
    "marks",
    metadata,
    Column("platform", String, primary_key=True),
    Column("symbol", String, primary_key=True),
    Column("price", Float, nullable=False),
    Column("at", Float, nullable=False),
)


# v4: the chat outbox. A cycle's messages commit with its trades; a sender delivers them later
# and marks each row, so a crash never loses nor (with a nonce) repeats one.
outbox = Table(
    "outbox",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("created_at", String, nullable=False),
    Column("cycle", Integer, nullable=False, default=0),
    Column("transport", String, nullable=False),  # discord | telegram
    Column("target", String, nullable=False),  # channel / chat id, or "owner"
    Column("category", String, nullable=False, default=""),
    Column("body", Text, nullable=False),
    Column("attempts", Integer, nullable=False, default=0),
    Column("next_attempt_at", Float, nullable=False, default=0.0),  # epoch seconds
    Column("delivered_at", String, nullable=False, default=""),
    Column("last_error", Text, nullable=False, default=""),
    Index("idx_outbox_pending", "delivered_at", "id"),
)

# v5: the cashflow journal: every capital change (reload, restart, roster), so a deposit or a
# withdrawal never reads as a gain or a loss (supervisor/state/capital.py).
cashflows = Table(
    "cashflows",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("at", String, nullable=False),  # ISO UTC
    Column("strategy_id", String, nullable=False),
    Column("amount", Float, nullable=False),  # signed USD: + deposit, - withdrawal
    Column("reason", String, nullable=False, default=""),  # reload | restart | added | ...
    Column("cycle", Integer, nullable=False, default=0),
    Index("idx_cashflows_strategy", "strategy_id", "id"),
)


# v6: live orders, each committed before it is sent (supervisor/live/).
order_intents = Table(
    "order_intents",
    metadata,
    Column("cloid", String, primary_key=True),
    Column("strategy_id", String, nullable=False),
    Column("cycle", Integer, nullable=False, default=0),
    Column("leg", String, nullable=False, default=""),
    Column("symbol", String, nullable=False),
    Column("side", String, nullable=False),
    Column("size", Float, nullable=False),
    Column("reduce_only", Boolean, nullable=False, default=False),
    Column("purpose", String, nullable=False),
    Column("position_side", String, nullable=False, default=""),
    Column("reason", String, nullable=False, default=""),
    Column("status", String, nullable=False, default="pending"),
    Column("created_at", String, nullable=False, default=""),
    Column("resolved_at", String, nullable=False, default=""),
    Column("oid", Integer, nullable=False, default=0),
    Column("fill_price", Float, nullable=False, default=0.0),
    Column("fill_qty", Float, nullable=False, default=0.0),
    Column("fee", Float, nullable=False, default=0.0),
    Column("error", Text, nullable=False, default=""),
    Column("extra_json", Text, nullable=False, default="{}"),
    Index("idx_intents_status", "status"),
)

# v6: the operator's manual orders (go-trader manual-*, supervisor/ops/manual.py). The CLI
# commits a row (``sending``) before its order leaves and records the fill (``filled``) or
# ``failed``; the daemon books it (``applied``, supervisor/live/manual_queue.py). Failed rows
# are kept: once reported they become ``dead``, never deleted.
manual_actions = Table(
    "manual_actions",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("strategy_id", String, nullable=False),
    Column("action", String, nullable=False),  # open | add | close | update-sl | cancel-sl
    Column("symbol", String, nullable=False),
    Column("side", String, nullable=False, default=""),  # position side: long | short
    Column("qty", Float, nullable=False, default=0.0),  # requested (coin units)
    Column("cloid", String, nullable=False, default=""),
    Column("status", String, nullable=False, default="sending"),
    Column("fill_price", Float, nullable=False, default=0.0),
    Column("fill_qty", Float, nullable=False, default=0.0),
    Column("fee", Float, nullable=False, default=0.0),
    Column("oid", Integer, nullable=False, default=0),
    Column("trigger", Float, nullable=False, default=0.0),  # update-sl: the new stop
    Column("entry_atr", Float, nullable=False, default=0.0),
    Column("created_at", String, nullable=False, default=""),
    Column("applied_at", String, nullable=False, default=""),
    Column("error", Text, nullable=False, default=""),
    Column("extra_json", Text, nullable=False, default="{}"),
    Index("idx_manual_status", "status", "id"),
)

# v7: the operator's resting limit orders (go-trader manual-open --limit-price,
# supervisor/ops/manual_limit.py). The CLI commits a row (``placing``, with a cloid) before the
# order leaves and records ``resting`` (its oid), ``filled`` (crossed at once) or ``failed``;
# the daemon books each new cumulative fill at the venue's numbers (``filled_qty`` booked so
# far), cancels it when asked or expired, and ends it ``done`` (supervisor/live/limit_orders.py).
pending_limit_orders = Table(
    "pending_limit_orders",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("strategy_id", String, nullable=False),
    Column("symbol", String, nullable=False),
    Column("side", String, nullable=False, default=""),  # position side: long | short
    Column("order_oid", Integer, nullable=False, default=0),
    Column("cloid", String, nullable=False, default=""),
    Column("limit_price", Float, nullable=False, default=0.0),
    Column("order_size", Float, nullable=False, default=0.0),
    Column("tif", String, nullable=False, default="Alo"),
    Column("entry_atr", Float, nullable=False, default=0.0),
    Column("created_at", String, nullable=False, default=""),
    Column("expires_at", String, nullable=False, default=""),  # "" = never
    Column("cancel_requested", Boolean, nullable=False, default=False),
    Column("filled_qty", Float, nullable=False, default=0.0),  # booked so far
    Column("status", String, nullable=False, default="placing"),
    Column("error", Text, nullable=False, default=""),
    Column("extra_json", Text, nullable=False, default="{}"),
    Index("idx_limit_status", "status", "id"),
)

INTENT_FIELDS = [
    "strategy_id",
    "cycle",
    "leg",
    "symbol",
    "side",
    "size",
    "reduce_only",
    "purpose",
    "position_side",
    "reason",
    "status",
    "created_at",
    "resolved_at",
    "oid",
    "fill_price",
    "fill_qty",
    "fee",
    "error",
]


def intent_row(i: Intent) -> dict:
    row = {k: getattr(i, k) for k in INTENT_FIELDS}
    row["extra_json"] = json.dumps(i.extra, sort_keys=True, allow_nan=False)
    return row


def intent_from_row(r) -> Intent:
    return Intent(
        cloid=r.cloid,
        **{k: getattr(r, k) for k in INTENT_FIELDS},
        extra=extra_from_json(r.extra_json),
    )


def position_from_row(p) -> Position:
    return Position(
        symbol=p.symbol,
        position_id=p.position_id,
        quantity=p.quantity,
        initial_quantity=p.initial_quantity,
        avg_cost=p.avg_cost,
        cost_basis=p.cost_basis,
        side=p.side,
        entry_atr=p.entry_atr,
        opened_at=p.opened_at,
        kind=p.kind,
        multiplier=p.multiplier,
        leverage=p.leverage,
        margin=p.margin,
        regime=p.regime,
        funded_at=p.funded_at,
        guard=guard_from_json(p.guard_json),
        hedge_for=p.hedge_for,
        hedge_basis=p.hedge_basis,
        policy_regime=p.policy_regime,
        policy_verdict=p.policy_verdict,
        scale_in_count=p.scale_in_count,
        last_add_price=p.last_add_price,
        added_notional_usd=p.added_notional_usd,
        risk_anchor_price=p.risk_anchor_price,
    )


def strategy_from_row(r) -> StrategyState:
    return StrategyState(
        id=r.id,
        type=r.type,
        platform=r.platform,
        cash=r.cash,
        initial_capital=r.initial_capital,
        trade_count=r.trade_count,
        last_run=r.last_run,
        last_error=r.last_error,
        last_error_at=r.last_error_at,
        consecutive_failures=r.consecutive_failures,
        last_signal=r.last_signal,
        last_price=r.last_price,
        risk=RiskState(
            peak_value=r.risk_peak_value,
            max_drawdown_pct=r.risk_max_drawdown_pct,
            current_drawdown_pct=r.risk_current_drawdown_pct,
            daily_pnl=r.risk_daily_pnl,
            daily_pnl_date=r.risk_daily_pnl_date,
            consecutive_losses=r.risk_consecutive_losses,
            circuit_breaker=bool(r.risk_circuit_breaker),
            circuit_breaker_until=r.risk_circuit_breaker_until,
            circuit_breaker_reason=r.risk_circuit_breaker_reason,
        ),
    )


def strategy_row(s: StrategyState) -> dict:
    r = s.risk
    return {
        "type": s.type,
        "platform": s.platform,
        "cash": s.cash,
        "initial_capital": s.initial_capital,
        "trade_count": s.trade_count,
        "last_run": s.last_run,
        "last_error": s.last_error,
        "last_error_at": s.last_error_at,
        "consecutive_failures": s.consecutive_failures,
        "last_signal": s.last_signal,
        "last_price": s.last_price,
        "risk_peak_value": r.peak_value,
        "risk_max_drawdown_pct": r.max_drawdown_pct,
        "risk_current_drawdown_pct": r.current_drawdown_pct,
        "risk_daily_pnl": r.daily_pnl,
        "risk_daily_pnl_date": r.daily_pnl_date,
        "risk_consecutive_losses": r.consecutive_losses,
        "risk_circuit_breaker": r.circuit_breaker,
        "risk_circuit_breaker_until": r.circuit_breaker_until,
        "risk_circuit_breaker_reason": r.circuit_breaker_reason,
    }


def position_row(strategy_id: str, p: Position) -> dict:
    return {
        "strategy_id": strategy_id,
        "symbol": p.symbol,
        "position_id": p.position_id,
        "quantity": p.quantity,
        "initial_quantity": p.initial_quantity,
        "avg_cost": p.avg_cost,
        "cost_basis": p.cost_basis,
        "side": p.side,
        "entry_atr": p.entry_atr,
        "opened_at": p.opened_at,
        "kind": p.kind,
        "multiplier": p.multiplier,
        "leverage": p.leverage,
        "margin": p.margin,
        "regime": p.regime,
        "funded_at": p.funded_at,
        "guard_json": json.dumps(p.guard.as_json(), allow_nan=False),
        "hedge_for": p.hedge_for,
        "hedge_basis": p.hedge_basis,
        "policy_regime": p.policy_regime,
        "policy_verdict": p.policy_verdict,
        "scale_in_count": p.scale_in_count,
        "last_add_price": p.last_add_price,
        "added_notional_usd": p.added_notional_usd,
        "risk_anchor_price": p.risk_anchor_price,
    }


def extra_from_json(text_value: str) -> dict:
    try:
        value = json.loads(text_value or "{}")
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def message_row(m: Message) -> dict:
    return {
        "created_at": m.created_at,
        "cycle": m.cycle,
        "transport": m.transport,
        "target": m.target,
        "category": m.category,
        "body": m.body,
    }


def guard_from_json(text_value: str) -> Guard:
    try:
        return Guard.from_json(json.loads(text_value or "{}"))
    except (ValueError, TypeError):
        return Guard()


def trade_row(t: Trade) -> dict:
    return {
        "strategy_id": t.strategy_id,
        "timestamp": t.timestamp,
        "symbol": t.symbol,
        "position_id": t.position_id,
        "side": t.side,
        "quantity": t.quantity,
        "price": t.price,
        "value": t.value,
        "fee": t.fee,
        "trade_type": t.trade_type,
        "is_close": t.is_close,
        "realized_pnl": t.realized_pnl,
        "details": t.details,
        "cycle": t.cycle,
        "mark_price": t.mark_price,
        "bar_price": t.bar_price,
        "pnl_gross": t.pnl_gross,
        "reason": t.reason,
        "order_id": t.order_id,
    }


def cashflow_row(c: dict) -> dict:
    return {k: c[k] for k in ("at", "strategy_id", "amount", "reason", "cycle")}


def cashflow_from_row(r) -> dict:
    return {
        "id": r.id,
        "at": r.at,
        "strategy_id": r.strategy_id,
        "amount": r.amount,
        "reason": r.reason,
        "cycle": r.cycle,
    }
