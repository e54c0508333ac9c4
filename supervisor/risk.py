"""Per-strategy risk: drawdown and loss-streak circuit breakers.

Checked before a strategy's worker runs. A breaker that fires closes the strategy's positions at
the current mark and latches for a cooldown; the latch lives in the DB, so a restart honours it.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from supervisor.config import StrategyConfig
from supervisor.models import StrategyState, Trade, parse_iso, utc_iso
from supervisor.portfolio import close_long, spot_fee_rate


def roll_day(strat: StrategyState, now: datetime) -> None:
    today = now.strftime("%Y-%m-%d")
    if strat.risk.daily_pnl_date != today:
        strat.risk.daily_pnl = 0.0
        strat.risk.daily_pnl_date = today


def record_trade_result(strat: StrategyState, pnl: float, now: datetime) -> None:
    """Feed a close leg's net P&L into the daily total and the loss streak."""
    roll_day(strat, now)
    strat.risk.daily_pnl += pnl
    strat.risk.consecutive_losses = strat.risk.consecutive_losses + 1 if pnl < 0 else 0


def update_drawdown(strat: StrategyState, value: float) -> float:
    """Ratchet the peak and return the current drawdown in percent."""
    risk = strat.risk
    risk.peak_value = max(risk.peak_value, value)
    dd = (risk.peak_value - value) / risk.peak_value * 100 if risk.peak_value > 0 else 0.0
    risk.current_drawdown_pct = max(dd, 0.0)
    return risk.current_drawdown_pct


def check_risk(
    strat: StrategyState,
    sc: StrategyConfig,
    prices: dict[str, float],
    now: datetime,
    cycle: int,
) -> tuple[bool, str, list[Trade]]:
    """Return (allowed, reason, forced-close trades). Blocked strategies skip this cycle."""
    risk = strat.risk
    risk.max_drawdown_pct = sc.max_drawdown_pct
    roll_day(strat, now)
    if risk.circuit_breaker:
        until = parse_iso(risk.circuit_breaker_until) if risk.circuit_breaker_until else now
        if now < until:
            return False, f"circuit breaker active until {risk.circuit_breaker_until}", []
        risk.circuit_breaker = False
        risk.circuit_breaker_until = ""
        risk.circuit_breaker_reason = ""
        risk.consecutive_losses = 0
    value = strat.value(prices)
    dd = update_drawdown(strat, value)
    if not sc.circuit_breaker:
        return True, "", []
    reason, minutes = "", 0.0
    if dd > sc.max_drawdown_pct:
        reason = f"max drawdown exceeded ({dd:.1f}% > {sc.max_drawdown_pct:g}%)"
        minutes = sc.cb_drawdown_cooldown_minutes
    elif risk.consecutive_losses >= sc.cb_loss_streak_threshold:
        reason = (
            f"consecutive losses ({risk.consecutive_losses} in a row, "
            f"threshold {sc.cb_loss_streak_threshold})"
        )
        minutes = sc.cb_loss_streak_cooldown_minutes
    if not reason:
        return True, "", []
    risk.circuit_breaker = True
    risk.circuit_breaker_until = utc_iso(now + timedelta(minutes=minutes))
    risk.circuit_breaker_reason = reason
    closes: list[Trade] = []
    stamp = utc_iso(now)
    for symbol in list(strat.positions):
        pos = strat.positions[symbol]
        mark = prices.get(symbol) or pos.avg_cost
        made, _ = close_long(
            strat,
            symbol,
            mark,
            stamp,
            spot_fee_rate(strat.platform),
            1.0,
            cycle,
            reason="circuit_breaker",
        )
        for t in made:
            roll_day(strat, now)
            strat.risk.daily_pnl += t.realized_pnl
        closes.extend(made)
    return False, f"circuit breaker: {reason}", closes
