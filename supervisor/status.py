"""State views shared by the status server and the CLI: one place computes value and P&L."""

from __future__ import annotations

import os
import time
from dataclasses import asdict

from supervisor import __version__
from supervisor.models import AppState, StrategyState, parse_iso


def strategy_view(strat: StrategyState, prices: dict[str, float]) -> dict:
    value = strat.value(prices)
    pnl = value - strat.initial_capital
    pnl_pct = pnl / strat.initial_capital * 100 if strat.initial_capital else 0.0
    return {
        "id": strat.id,
        "type": strat.type,
        "platform": strat.platform,
        "cash": strat.cash,
        "initial_capital": strat.initial_capital,
        "positions": {sym: asdict(p) for sym, p in strat.positions.items()},
        "trade_count": strat.trade_count,
        "portfolio_value": value,
        "pnl": pnl,
        "pnl_pct": pnl_pct,
        "risk_state": asdict(strat.risk),
        "last_run": strat.last_run,
        "last_signal": strat.last_signal,
        "last_price": strat.last_price,
        "last_error": strat.last_error,
        "last_error_at": strat.last_error_at,
        "consecutive_failures": strat.consecutive_failures,
    }


def marks(app: AppState) -> dict[str, float]:
    """Cycle prices, falling back to each strategy's last check price for its symbols."""
    out = dict(app.prices)
    for strat in app.strategies.values():
        for sym in strat.positions:
            if sym not in out and strat.last_price > 0:
                out[sym] = strat.last_price
    return out


def build_status(app: AppState) -> dict:
    prices = marks(app)
    views = {sid: strategy_view(s, prices) for sid, s in app.strategies.items()}
    total_value = sum(v["portfolio_value"] for v in views.values())
    total_initial = sum(v["initial_capital"] for v in views.values())
    return {
        "cycle_count": app.cycle_count,
        "last_cycle": app.last_cycle,
        "cycle_in_progress": app.in_cycle,
        "prices": prices,
        "strategies": views,
        "total_value": total_value,
        "total_pnl": total_value - total_initial,
    }


def rss_mb() -> float:
    import psutil

    return psutil.Process(os.getpid()).memory_info().rss / (1024 * 1024)


def health(
    app: AppState,
    *,
    draining: bool,
    started_at: float,
    stale_after_s: float,
    now: float | None = None,
) -> tuple[int, dict]:
    """(HTTP code, body): 503 while draining or when no cycle finished for too long."""
    now = time.time() if now is None else now
    body = {
        "status": "ok",
        "pid": os.getpid(),
        "version": __version__,
        "rss_mb": round(rss_mb(), 1),
        "cycle_count": app.cycle_count,
        "last_cycle": app.last_cycle,
    }
    if draining:
        body["status"] = "draining"
        return 503, body
    last = parse_iso(app.last_cycle).timestamp() if app.last_cycle else started_at
    if now - last > stale_after_s:
        body["status"] = "unhealthy"
        body["reason"] = f"no cycle for {int(now - last)}s"
        return 503, body
    return 200, body
