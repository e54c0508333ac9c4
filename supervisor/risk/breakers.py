"""Per-strategy risk: drawdown and loss-streak circuit breakers.

Checked before a strategy's worker runs. A breaker that fires closes the strategy's positions at
the current mark and latches for a cooldown; the latch lives in the DB, so a restart honours it.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from shared_tools.book import close_all
from shared_tools.config.model import StrategyConfig
from shared_tools.domain import Kind, Reason
from supervisor.state.models import StrategyState, Trade, parse_iso, utc_iso


def roll_day(strat: StrategyState, now: datetime) -> None:
    today = now.strftime("%Y-%m-%d")
    if strat.risk.daily_pnl_date != today:
        strat.risk.daily_pnl = 0.0
        strat.risk.daily_pnl_date = today


def record_trade_result(
    strat: StrategyState, pnl: float, now: datetime, *, streak: bool = True
) -> None:
    """Feed a close leg's P&L after its fee into the daily total and (unless a forced close by
    a breaker or the kill switch, as upstream) the loss streak."""
    roll_day(strat, now)
    strat.risk.daily_pnl += pnl
    if streak:
        strat.risk.consecutive_losses = strat.risk.consecutive_losses + 1 if pnl < 0 else 0


def margin_inputs(strat: StrategyState, marks: dict[str, float]) -> tuple[float, float]:
    """(unrealized loss, margin tied up) of the strategy's perps positions at ``marks``."""
    margin = loss = 0.0
    for sym, pos in strat.positions.items():
        mark = marks.get(sym)
        if pos.kind == Kind.PERPS and pos.margin > 0 and mark is not None:
            margin += pos.margin
            loss += max(-pos.unrealized_pnl(mark), 0.0)
    return loss, margin


def margin_drawdown(strat: StrategyState, marks: dict[str, float]) -> float:
    """Unrealized loss of the perps positions over the margin they tie up, in percent.

    Upstream's perps lens (#292): a leveraged position can burn its margin long before the
    strategy's equity falls far from its peak. 0.0 when no margin is deployed.
    """
    loss, margin = margin_inputs(strat, marks)
    return loss / margin * 100.0 if margin > 0 else 0.0


def update_drawdown(
    strat: StrategyState, value: float, marks: dict[str, float] | None = None
) -> float:
    """Ratchet the peak and return the current drawdown in percent.

    With ``marks``, a strategy with perps margin deployed reads the larger of the
    equity lens and the margin lens. Upstream uses the margin lens alone for perps; taking the
    larger never fires later than upstream does, and still fires on an equity slide.
    """
    risk = strat.risk
    risk.peak_value = max(risk.peak_value, value)
    dd = (risk.peak_value - value) / risk.peak_value * 100 if risk.peak_value > 0 else 0.0
    if marks is not None:
        dd = max(dd, margin_drawdown(strat, marks))
    risk.current_drawdown_pct = max(dd, 0.0)
    return risk.current_drawdown_pct


def latched(strat: StrategyState, now: datetime) -> str:
    """The reason a latched breaker still blocks the strategy, or "" when it may run.

    Checked before the worker is spawned, so a latched strategy costs no process. A breaker
    whose cooldown has passed is released, and the peak is rebased on today's value: otherwise
    the same drawdown would re-fire on the very next check and the strategy could never trade.
    """
    risk = strat.risk
    if not risk.circuit_breaker:
        return ""
    until = parse_iso(risk.circuit_breaker_until) if risk.circuit_breaker_until else now
    if now < until:
        return f"circuit breaker active until {risk.circuit_breaker_until} ({risk.circuit_breaker_reason})"
    risk.circuit_breaker = False
    risk.circuit_breaker_until = ""
    risk.circuit_breaker_reason = ""
    risk.consecutive_losses = 0
    risk.peak_value = 0.0  # rebased by the next update_drawdown()
    return ""


def evaluate_breakers(
    strat: StrategyState,
    sc: StrategyConfig,
    marks: dict[str, float],
    now: datetime,
    cycle: int,
) -> tuple[str, list[Trade]]:
    """Fire a breaker if a limit is crossed at ``marks``: close everything and latch.

    Returns (reason, forced-close trades); an empty reason means the strategy may trade.
    Run after the cycle's fresh prices are known, so the drawdown and the forced-close fills
    use current marks, not last cycle's.
    """
    risk = strat.risk
    risk.max_drawdown_pct = sc.max_drawdown_pct
    roll_day(strat, now)
    dd = update_drawdown(strat, strat.value(marks), marks)
    if not sc.circuit_breaker:
        return "", []
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
        return "", []
    risk.circuit_breaker = True
    risk.circuit_breaker_until = utc_iso(now + timedelta(minutes=minutes))
    risk.circuit_breaker_reason = reason
    closes = close_all(strat, sc.rules, marks, utc_iso(now), Reason.CIRCUIT_BREAKER)
    for trade in closes:
        trade.cycle = cycle
    return f"circuit breaker: {reason}", closes
