"""``go-trader clear-cash-reconcile STRATEGY``: lift a live spot book's cash latch (#1394).

The latch (``cash_reconcile_required``, supervisor/live/venue_orders.py) holds a live spot
strategy's buys after a buy debited more than its book's cash. The operator reconciles the
cash (upstream leaves the cash unchanged on clear; so do we) and clears it here. While a
supervisor runs it holds the DB's lock, so the clear is left as a request file beside the DB
that the running supervisor applies at its next cycle.
"""

from __future__ import annotations

from pathlib import Path

from shared_tools.config.model import Config
from supervisor.service.lock import AlreadyRunning, acquire_lock
from supervisor.state.db import StateDB
from supervisor.state.models import AppState

KEY = "cash_reconcile_required"


def request_path(db_file: str | Path) -> Path:
    return Path(f"{db_file}.clear-cash-reconcile")


def clear(app: AppState, sid: str) -> bool:
    """Lift ``sid``'s latch; False when it was not latched."""
    latches = app.extra.get(KEY) or {}
    found = latches.pop(sid, None) is not None
    if not latches:
        app.extra.pop(KEY, None)
    return found


def apply_requests(app: AppState, db_file: str | Path) -> list[str]:
    """The strategies a ``clear-cash-reconcile`` request file names, cleared (running daemon)."""
    path = request_path(db_file)
    if not path.exists():
        return []
    try:
        names = [n.strip() for n in path.read_text(errors="replace").splitlines() if n.strip()]
    except OSError:
        names = []
    path.unlink(missing_ok=True)
    return [sid for sid in names if clear(app, sid)]


def clear_cash_reconcile(config: Config, sid: str) -> str:
    """Clear (or request the clear of) ``sid``'s cash latch; the line to print."""
    try:
        lock = acquire_lock(config.db_file)
    except AlreadyRunning:
        with request_path(config.db_file).open("a") as f:
            f.write(sid + "\n")
        return f"clear requested for {sid}; the running supervisor applies it at its next cycle"
    with lock:
        db = StateDB(config.db_file)
        app = db.load()
        found = clear(app, sid)
        if found:
            db.save(app)
        db.close()
    if not found:
        return f"{sid}: no cash reconcile latch; nothing to clear"
    return f"{sid}: cash reconcile latch cleared; live buys resume (cash left as it is)"
