"""State views shared by the status server and the CLI: one place computes value and P&L."""

from __future__ import annotations

import os
import sys
from dataclasses import asdict

from shared_tools.book.options import OptionLeg
from shared_tools.book.options_life import portfolio_greeks
from shared_tools.clock import now_epoch
from supervisor import __version__
from supervisor.risk.capital_pct import view as capital_pct_view
from supervisor.service.version import COMMIT
from supervisor.state.capital import KEY as CASHFLOWS_KEY
from supervisor.state.models import AppState, Position, StrategyState, parse_iso

_SCALARS = (str, int, float, bool, type(None))


def _record(obj: object) -> dict:
    """A dataclass as a dict: ``asdict``'s result for a flat record, without its recursive deep
    copy (most of a /status request's CPU). A record with a container field still gets the deep
    copy, because the view is serialised after the book's lock is released."""
    out = dict(vars(obj))
    if all(isinstance(v, _SCALARS) for v in out.values()):
        return out
    return asdict(obj)


def position_view(pos: Position, mark: float | None) -> dict:
    """One position as an operator reads it: side, size, cost, mark, P&L, stop and targets."""
    out = _record(pos)
    guard = out.pop("guard")
    priced = mark if mark else pos.avg_cost
    out.update(
        mark=mark,
        unrealized_pnl=pos.unrealized_pnl(priced),
        notional=pos.notional(priced),
        stop=guard["stop"] or None,
        stop_kind=guard["stop_kind"] or None,
        trailing_best=guard["best"] if (guard["trail_pct"] or guard["trail_distance"]) else None,
        targets=[{"price": p, "close_fraction": f} for p, f in guard["targets"]],
    )
    return out


def option_view(leg: OptionLeg) -> dict:
    """One option leg in upstream's /status shape (``option_positions``), plus ours: the
    multiplier, the per-unit entry and mark, the real expiry instant."""
    return {
        "id": leg.key,
        "position_id": leg.leg_id,
        "underlying": leg.underlying,
        "option_type": leg.option_type,
        "strike": leg.strike,
        "expiry": leg.expiry,
        "expires_at": leg.expires_at,
        "dte": leg.dte_days,
        "action": leg.action,
        "quantity": leg.quantity,
        "multiplier": leg.multiplier,
        "entry_premium_usd": leg.entry_premium * leg.units,
        "entry_premium_unit_usd": leg.entry_premium,
        "mark_unit_usd": leg.mark,
        "current_value_usd": leg.value(),
        "unrealized_pnl": leg.unrealized_pnl(),
        "greeks": dict(leg.greeks),
        "instrument": leg.instrument,
        "opened_at": leg.opened_at,
        "marked_at": leg.marked_at,
    }


def options_view(strat: StrategyState) -> dict:
    """A type options strategy's legs and its signed book greeks (x sign x qty x multiplier)."""
    return {
        "option_positions": {leg.key: option_view(leg) for leg in strat.legs.values()},
        "portfolio_greeks": portfolio_greeks(strat.legs),
    }


def strategy_view(strat: StrategyState, prices: dict[str, float]) -> dict:
    value = strat.value(prices)
    pnl = value - strat.initial_capital
    pnl_pct = pnl / strat.initial_capital * 100 if strat.initial_capital else 0.0
    extra = options_view(strat) if strat.type == "options" or strat.legs else {}
    return {
        "id": strat.id,
        "type": strat.type,
        "platform": strat.platform,
        "cash": strat.cash,
        "initial_capital": strat.initial_capital,
        "positions": {sym: position_view(p, prices.get(sym)) for sym, p in strat.positions.items()},
        "trade_count": strat.trade_count,
        "portfolio_value": value,
        "pnl": pnl,
        "pnl_pct": pnl_pct,
        "risk_state": _record(strat.risk),
        "last_run": strat.last_run,
        "last_signal": strat.last_signal,
        "last_price": strat.last_price,
        "last_error": strat.last_error,
        "last_error_at": strat.last_error_at,
        "consecutive_failures": strat.consecutive_failures,
        **extra,
    }


def marks_view(app: AppState, now: float, max_age_s: float) -> dict[str, dict]:
    """Every stored mark with its age, keyed ``platform:symbol``; ``fresh`` says whether risk
    may use it (marks older than a few cycles are ignored by the breakers)."""
    out = {}
    for (platform, symbol), m in sorted(app.marks.items()):
        age = max(now - m.at, 0.0)
        out[f"{platform}:{symbol}"] = {
            "price": m.price,
            "at": m.at,
            "age_s": round(age, 1),
            "fresh": age <= max_age_s,
        }
    return out


def build_status(app: AppState, *, mark_max_age_s: float = 1800.0) -> dict:
    views = {sid: strategy_view(s, app.prices_for(s.venue)) for sid, s in app.strategies.items()}
    for sid, regime in app.extra.get("regime_view", {}).items():  # supervisor/cycle_gates.py
        if sid in views:
            views[sid]["regime"] = regime
    for sid, v in views.items():  # capital_pct strategies: the resolved capital and its source
        if resolved := capital_pct_view(app, sid):
            v["capital_pct"] = resolved
    total_value = sum(v["portfolio_value"] for v in views.values())
    total_initial = sum(v["initial_capital"] for v in views.values())
    return {
        "version": __version__,
        "commit": COMMIT,
        "cycle_count": app.cycle_count,
        "last_cycle": app.last_cycle,
        "cycle_in_progress": app.in_cycle,
        "prices": app.prices,
        "marks": marks_view(app, now_epoch(), mark_max_age_s),
        "strategies": views,
        "total_value": total_value,
        "total_pnl": total_value - total_initial,
        "portfolio_risk": portfolio_risk_view(app),
        "correlation": app.extra.get("correlation", {}),
        "cashflows": cashflows_view(app),
        "live": live_view(app),
    }


def live_view(app: AppState) -> dict:
    """Live trading as an operator reads it: orders not resolved yet and reconcile gaps (coins
    whose book and venue disagree; entries on them are held)."""
    ledger = app.extra.get("hl_live") or {}
    pending = [
        {
            "cloid": i.cloid,
            "strategy": i.strategy_id,
            "leg": i.leg,
            "symbol": i.symbol,
            "side": i.side,
            "size": i.size,
            "since": i.created_at,
            "note": i.error,
        }
        for i in app.intents.values()
        if i.open
    ]
    return {"pending_orders": pending, "reconciliation_gaps": dict(ledger.get("gaps") or {})}


CASHFLOWS_SHOWN = 20


def cashflows_view(app: AppState) -> list[dict]:
    """The latest capital changes (deposits +, withdrawals -), oldest first; ``id`` 0 means
    booked but not yet committed. The full journal is in the DB (``inspect <id>``)."""
    rows = app.extra.get(CASHFLOWS_KEY)
    return [dict(r) for r in rows[-CASHFLOWS_SHOWN:]] if isinstance(rows, list) else []


def portfolio_risk_view(app: AppState) -> dict:
    """The kill switch as an operator reads it: latched or not, why, since when, the peak."""
    s = app.extra.get("portfolio_risk", {})
    return {
        "kill_switch": bool(s.get("kill_switch")),
        "kill_switch_at": s.get("kill_switch_at", ""),
        "reason": s.get("reason", ""),
        "peak_value": s.get("peak", 0.0),
        "drawdown_pct": s.get("drawdown_pct", 0.0),
        "margin_drawdown_pct": s.get("margin_drawdown_pct", 0.0),
        "warning": bool(s.get("warning_at")),
        "warning_lenses": list(s.get("warning_lenses", [])),
        "untrusted_over_since": s.get("untrusted_over_since", ""),
        "events": list(s.get("events", []))[-10:],
    }


def rss_mb() -> float:
    """This process's resident memory in MiB, read from /proc (psutil would add ~1 MiB itself).

    Without /proc (macOS, BSD) falls back to getrusage's peak RSS, the closest stdlib figure.
    """
    try:
        with open("/proc/self/statm", "rb") as f:
            resident_pages = int(f.read().split()[1])
        return resident_pages * os.sysconf("SC_PAGE_SIZE") / 2**20
    except (OSError, ValueError, IndexError):
        import resource

        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        return peak / 2**20 if sys.platform == "darwin" else peak / 2**10  # bytes vs KiB


def health(
    app: AppState,
    *,
    draining: bool,
    started_at: float,
    stale_after_s: float,
    now: float | None = None,
) -> tuple[int, dict]:
    """(HTTP code, body): 503 while draining or when no cycle finished for too long."""
    now = now_epoch() if now is None else now  # the book's clock: last_cycle is on it
    body = {
        "status": "ok",
        "pid": os.getpid(),
        "version": __version__,
        "commit": COMMIT,
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
