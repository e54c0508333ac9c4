"""How the book's objects map to state-DB rows and back (one function per direction).

:mod:`supervisor.state` owns the schema, the migrations and the transactions; this module only
translates, so a new field is added in one visible place per table.
"""

from __future__ import annotations

import json

from supervisor.models import Guard, Message, Position, RiskState, StrategyState, Trade


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
    }
