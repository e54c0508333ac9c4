"""The dashboard's ops panels (reference A.3, "Ops panels" and "Regime"), read from the book.

``/api/leaderboard``, ``/api/diagnostics`` (paged in SQL, story PR #1254), ``/api/cashflow`` (a
DB error is a 500, never an empty journal: story PR #1254), ``/api/strategies/dead``,
``/api/closing-strategies`` (the close registry through a worker, cached once), ``/api/correlation``
and ``/api/regime``. Each function takes the :class:`~supervisor.http.board.Board` and the query.

Where the port's book has less than upstream's, the shape is kept and the field says so:
diagnostics' MFE/MAE/capture metrics are null with ``metrics_status: "unavailable"`` (the book
does not record excursions); the cashflow panel lists the book's capital changes (config and
reload cashflows, supervisor/state/capital.py) under ``journal``, with ``wallets`` empty (there
is no on-chain wallet journal); regime windows are the labels the open positions were entered
under. "Dead" means a strategy that stopped trading: its circuit breaker is latched or its last
``DEAD_FAILURES`` checks failed (supervisor/http/audit.py).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any

from sqlalchemy.exc import SQLAlchemyError

from shared_tools.clock import now_utc
from shared_tools.text import one_line
from supervisor.http import api
from supervisor.http.views import strategy_view
from supervisor.run.jobs import Job
from supervisor.state.models import utc_iso

DIAG_DEFAULT, DIAG_MAX = 50, 500
CASHFLOW_ROWS = 50
MAX_OFFSET = 10**9
CLOSE_REGISTRY = "shared_strategies/close/registry.py"


def _views(board: Any) -> list[tuple[Any, Any, dict]]:
    """(config, state, /status view) of every strategy with a book, under the book's lock."""
    app, out = board.sup.app, []
    with board.sup.book_lock:
        for sc in board.sup.config.strategies:
            strat = app.strategies.get(sc.id)
            if strat is not None:
                out.append((sc, strat, strategy_view(strat, app.prices_for(strat.venue))))
    return out


def leaderboard(board: Any, _query: dict) -> tuple[int, dict]:
    """Ranked by P&L % descending, ties by id (upstream; ``sharpe`` is 0 here as upstream)."""
    stats = board.sup.db.close_stats()
    gi = board.sup.config.interval_seconds
    entries = []
    for sc, _strat, view in _views(board):
        wins, losses, closed, _net, _sq = stats.get(sc.id, api.NO_CLOSES)
        entries.append(
            {
                "id": sc.id,
                "type": sc.type,
                "asset": sc.symbol,
                "value": view["portfolio_value"],
                "capital": view["initial_capital"],
                "pnl": view["pnl"],
                "pnl_pct": view["pnl_pct"],
                "trades": view["trade_count"],
                "sharpe": 0,
                "timeframe": sc.timeframe,
                "interval": sc.effective_interval(gi),
                "positions_opened": closed,
                "wins": wins,
                "losses": losses,
            }
        )
    entries.sort(key=lambda e: (-e["pnl_pct"], e["id"]))
    return 200, {"entries": entries}


def _offset(query: dict) -> int | None:
    raw = str(query.get("offset") or "0").strip()
    if not raw.isascii() or not raw.isdigit() or int(raw) > MAX_OFFSET:
        return None
    return int(raw)


def diagnostics(board: Any, query: dict) -> tuple[int, dict]:
    """Closed trades newest first, ``limit`` (50, max 500) and ``offset`` done by the DB."""
    limit = api.parse_limit(query, DIAG_DEFAULT, DIAG_MAX)
    offset = _offset(query)
    if offset is None:
        return 400, {"error": f"offset must be a whole number from 0 to {MAX_OFFSET}"}
    rows, total = board.sup.db.trade_history(
        strategy=query.get("strategy") or None, limit=limit, offset=offset, closes_only=True
    )
    out = [
        {
            "strategy_id": r["strategy_id"],
            "symbol": r["symbol"],
            "position_id": r.get("position_id"),
            "closed_at": r["timestamp"],
            "side": r["side"],
            "quantity": r["quantity"],
            "price": r["price"],
            "net_pnl": api.net_pnl(r),
            "mfe_pct": None,
            "mae_pct": None,
            "capture_pct": None,
            "metrics_status": "unavailable",
            "llm_verdict": None,
        }
        for r in rows
    ]
    return 200, {"rows": out, "total": total, "limit": limit, "offset": offset}


def cashflow(board: Any, _query: dict) -> tuple[int, dict]:
    """The book's capital changes; a read error is 500 with the reason, never an empty list."""
    try:
        rows, total = board.sup.db.cashflow_journal(limit=CASHFLOW_ROWS)
    except SQLAlchemyError as exc:
        return 500, {"error": one_line(f"cashflow journal unreadable: {exc}", 300)}
    return 200, {
        "wallets": [],
        "drift": None,
        "alarm_enabled": False,
        "journal": rows,
        "total": total,
    }


def dead(board: Any, _query: dict) -> tuple[int, dict]:
    """Strategies that stopped trading: breaker latched, or failing check after check."""
    from supervisor.http import audit  # rare: loaded on first use, not at idle

    out = []
    with board.sup.book_lock:
        for sid, strat in sorted(board.sup.app.strategies.items()):
            reason = audit.stopped_reason(strat)  # one rule with the strategy audit's "dead"
            if not reason:
                continue
            out.append({"id": sid, "reason": one_line(reason, 300), "since": strat.last_error_at})
    return 200, {"dead": out, "total": len(out)}


def closing_strategies(board: Any, _query: dict) -> tuple[int, dict]:
    """The close evaluators with their defaults (registry worker, asked once); 503 on failure."""
    if board.closers is None:
        executor = board.sup.executor
        if executor is None:
            return 503, {"error": "starting"}
        job = Job(key="closers", script=CLOSE_REGISTRY, args=("--list-json",))
        result = executor.run_one(job, timeout_s=30)
        if not isinstance(result.data, list):
            return 503, {"error": one_line(f"close registry: {result.error or 'no list'}", 300)}
        board.closers = [
            {
                "name": row.get("id"),
                "description": row.get("description", ""),
                "platforms": row.get("platforms", []),
                "default_params": row.get("default_params", {}),
            }
            for row in result.data
            if isinstance(row, dict)
        ]
    return 200, {"evaluators": board.closers}


def correlation(board: Any, _query: dict) -> tuple[int, dict]:
    """Gross and net exposure per asset over every open position (null when flat)."""
    assets: dict[str, dict[str, float]] = {}
    for _sc, _strat, view in _views(board):
        for sym, pos in view["positions"].items():
            side = pos.get("side")
            notional = abs(float(pos.get("notional") or 0.0))
            row = assets.setdefault(sym, {"long_usd": 0.0, "short_usd": 0.0})
            row["short_usd" if side == "short" else "long_usd"] += notional
    if not assets:
        return 200, {"correlation": None}
    for row in assets.values():
        row["net_usd"] = row["long_usd"] - row["short_usd"]
    gross = sum(r["long_usd"] + r["short_usd"] for r in assets.values())
    doc = {"timestamp": utc_iso(now_utc()), "assets": assets, "portfolio_gross_usd": gross}
    return 200, {"correlation": doc}


def regime(board: Any, _query: dict) -> tuple[int, dict]:
    """Per (platform, symbol, timeframe): the regime its open position was entered under."""
    out = []
    with board.sup.book_lock:
        for sc in board.sup.config.strategies:
            strat = board.sup.app.strategies.get(sc.id)
            label = api.regime_label(strat) if strat is not None else ""
            if label:
                out.append(
                    {
                        "platform": sc.platform,
                        "symbol": sc.symbol,
                        "timeframe": sc.timeframe,
                        "windows": {"entry": {"regime": label, "score": None}},
                        "at": strat.last_run if strat is not None else "",
                    }
                )
    return 200, {"built_at": utc_iso(now_utc()), "regimes": out}


def _on_use(module: str, name: str) -> Callable[[Any, dict], tuple[int, Any]]:
    """A route whose module is imported on its first request: the rarely opened panels and
    reports stay out of an idle daemon's memory."""

    def view(board: Any, query: dict) -> tuple[int, Any]:
        return getattr(importlib.import_module(f"supervisor.http.{module}"), name)(board, query)  # type: ignore[no-any-return]

    return view


ROUTES = {
    ("leaderboard",): leaderboard,
    ("diagnostics",): diagnostics,
    ("cashflow",): cashflow,
    ("strategies", "dead"): dead,
    ("closing-strategies",): closing_strategies,
    ("correlation",): correlation,
    ("regime",): regime,
    ("regime", "transitions"): _on_use("regime_api", "transitions"),
    ("config", "notifications"): _on_use("notify_api", "notifications"),
    ("reports", "strategy-audit"): _on_use("reports", "strategy_audit"),
}
