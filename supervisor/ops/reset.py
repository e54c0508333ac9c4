"""``go-trader reset-kill-switch``: clear a latched portfolio kill switch.

While a supervisor runs it holds the state DB's lock, so the reset is left as a request file
beside the DB and the running supervisor applies it at its next cycle. Otherwise the book is
loaded, the peak re-based on the book as it is (at its stored marks), and saved.
"""

from __future__ import annotations

from shared_tools.clock import now_utc
from shared_tools.config.model import Config
from supervisor.risk import portfolio as risk_portfolio
from supervisor.service.lock import AlreadyRunning, acquire_lock
from supervisor.state.db import StateDB
from supervisor.state.models import utc_iso


def reset_kill_switch(config: Config) -> str:
    """Reset (or request the reset of) the kill switch; the line to print.

    Raises :class:`~supervisor.state.db.StateError` when the DB cannot be used.
    """
    try:
        lock = acquire_lock(config.db_file)
    except AlreadyRunning as exc:  # the running supervisor applies it at its next cycle
        risk_portfolio.request_path(config.db_file).write_text(utc_iso() + "\n")
        who = f"pid {exc.pid}" if exc.pid is not None else "an unknown pid"
        return f"reset requested; the running supervisor ({who}) applies it at its next cycle"
    with lock:
        db = StateDB(config.db_file)
        app = db.load()
        if not risk_portfolio.latched(app):
            db.close()
            return "the kill switch is not latched; nothing to reset"
        event = risk_portfolio.reset_at_marks(app, config, now_utc(), "operator (CLI)")
        db.save(app)
        db.close()
    return event.text
