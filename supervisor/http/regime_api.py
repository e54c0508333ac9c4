"""``GET /api/regime/transitions`` (reference A.3, "Regime"): the alerted regime window changes.

The rows are those :mod:`supervisor.risk.regime_transitions` records with each cycle's commit
(table ``regime_window_transitions``, supervisor/state/regime_history.py), newest first, in
upstream's shape ``{transitions: [{id, platform, symbol, timeframe, window, old_label,
new_label, bar_time?, ts, alerted_at?}]}``. ``limit`` defaults to 50; a value over 500 or not a
whole number falls back to 50 (upstream's rule: not clamped). A first stable label is a row
with ``old_label`` empty and no ``alerted_at`` (recorded, never sent).

Deliberately not upstream: a query error answers 500 with a JSON ``{"error"}`` like every other
route here, where upstream answers plain text.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.exc import SQLAlchemyError

from shared_tools.text import one_line

TRANSITIONS_DEFAULT, TRANSITIONS_MAX = 50, 500


def transitions_limit(query: dict) -> int:
    """``limit`` in 1..500, else 50 (upstream falls back rather than clamping)."""
    raw = str(query.get("limit") or "").strip()
    digits = raw.lstrip("0")
    if not raw.isascii() or not raw.isdigit() or not digits or len(digits) > 12:
        return TRANSITIONS_DEFAULT
    value = int(digits)
    return value if 0 < value <= TRANSITIONS_MAX else TRANSITIONS_DEFAULT


def transition_row(row: dict) -> dict:
    """One DB row in upstream's shape; empty ``bar_time``/``alerted_at`` are left out."""
    out: dict = {
        "id": row["id"],
        "platform": row["platform"],
        "symbol": row["symbol"],
        "timeframe": row["timeframe"],
        "window": row["window"],
        "old_label": row["old_label"],
        "new_label": row["new_label"],
    }
    if row.get("bar_time"):
        out["bar_time"] = row["bar_time"]
    out["ts"] = row["ts"]
    if row.get("alerted_at"):
        out["alerted_at"] = row["alerted_at"]
    return out


def transitions(board: Any, query: dict) -> tuple[int, dict]:
    """The newest transitions; no DB is an empty list, a read error a 500 naming the cause."""
    db = board.sup.db
    if db is None:
        return 200, {"transitions": []}
    try:
        rows = db.regime_transitions(transitions_limit(query))
    except SQLAlchemyError as exc:
        return 500, {"error": one_line(f"regime transitions unreadable: {exc}", 300)}
    return 200, {"transitions": [transition_row(r) for r in rows]}
