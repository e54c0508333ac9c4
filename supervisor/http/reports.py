"""The reports' data: ``GET /api/reports/strategy-audit`` (token required), JSON or, with
``?format=csv``, the same rows as CSV. The pages ``/reports`` and ``/reports/strategy-audit`` are
shells without data (routes.REPORT_PAGES, templates/*.html.j2) that fetch this with the token,
as the dashboard does.

Query: ``dead_days`` (default 14, 1..3650) and ``min_trades`` (default 10, 1..100000) tune the
verdict rule (supervisor/http/audit.py); a bad value is a 400 naming it.
"""

from __future__ import annotations

from typing import Any

from shared_tools.clock import now_utc
from supervisor.http import audit
from supervisor.http.views import strategy_view
from supervisor.state.models import AppState

CSV_TYPE = "text/csv; charset=utf-8"


def entries(config: Any, app: AppState) -> list[audit.Entry]:
    """(config, state, /status view) of every configured strategy with a book, in config order.
    The board calls it under the book's lock; the CLI on the last committed cycle."""
    out = []
    for sc in config.strategies:
        strat = app.strategies.get(sc.id)
        if strat is not None:
            out.append((sc, strat, strategy_view(strat, app.prices_for(strat.venue))))
    return out


def audit_doc(config: Any, app: AppState, ledger: dict, query: dict, lock: Any = None) -> dict:
    """The audit document for ``query``'s rule bounds (ValueError names a bad one)."""
    dead_days = audit.parse_bound(query, "dead_days", audit.DEAD_DAYS, audit.DEAD_DAYS_MAX)
    min_trades = audit.parse_bound(query, "min_trades", audit.MIN_TRADES, audit.MIN_TRADES_MAX)
    if lock is None:
        found = entries(config, app)
    else:
        with lock:
            found = entries(config, app)
    return audit.build(found, ledger, now_utc(), dead_days=dead_days, min_trades=min_trades)


def strategy_audit(board: Any, query: dict) -> tuple[int, Any]:
    """``/api/reports/strategy-audit``: the ledger read outside the book's lock (WAL: the last
    committed cycle), the views under it."""
    fmt = str(query.get("format") or "json").lower()
    if fmt not in ("json", "csv"):
        return 400, {"error": f"format must be json or csv, got {fmt[:20]!r}"}
    sup = board.sup
    ledger = sup.db.trade_ledger()
    try:
        doc = audit_doc(sup.config, sup.app, ledger, query, sup.book_lock)
    except ValueError as exc:
        return 400, {"error": str(exc)}
    if fmt == "csv":
        return 200, (audit.to_csv(doc).encode(), CSV_TYPE)
    return 200, doc
