"""``go-trader audit``: the strategy audit of ``/reports/strategy-audit`` in a terminal.

The same functions as the status server (supervisor/http/reports.py and audit.py) on the state
read as ``inspect`` reads it: the DB opened read-only, no lock, the last committed cycle, with
the marks that cycle stored. Exit codes: 0 ok (also: no state yet), 2 a bad bound.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from shared_tools.config.model import Config
from supervisor.http import audit
from supervisor.http.reports import audit_doc

EXIT_USAGE = 2


def run(
    config: Config,
    *,
    fmt: str,
    dead_days: int | None,
    min_trades: int | None,
    echo: Callable[[str], None],
) -> int:
    """Print the audit as a table, JSON or CSV; the exit code."""
    from supervisor.state.db import StateDB

    query = {
        "dead_days": "" if dead_days is None else dead_days,
        "min_trades": "" if min_trades is None else min_trades,
    }
    try:  # the bounds first: a typo is told before any state is read
        audit.parse_bound(query, "dead_days", audit.DEAD_DAYS, audit.DEAD_DAYS_MAX)
        audit.parse_bound(query, "min_trades", audit.MIN_TRADES, audit.MIN_TRADES_MAX)
    except ValueError as exc:
        flags = str(exc).replace("dead_days", "--dead-days").replace("min_trades", "--min-trades")
        echo(f"audit: {flags}")
        return EXIT_USAGE
    if not Path(config.db_file).is_file():
        echo(f"no state yet ({config.db_file} does not exist): nothing to audit")
        return 0
    db = StateDB.open_readonly(config.db_file)
    try:
        app, ledger = db.load(), db.trade_ledger()
    finally:
        db.close()
    doc = audit_doc(config, app, ledger, query)
    if fmt == "json":
        echo(json.dumps(doc, indent=2))
    elif fmt == "csv":
        echo(audit.to_csv(doc).rstrip("\n"))
    else:
        for line in audit.table_lines(doc):
            echo(line)
    return 0
