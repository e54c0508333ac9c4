"""The read-only TopStep account scripts' shared worker: positions, balance, fills.

``fetch_topstep_positions.py``, ``fetch_topstep_balance.py`` and ``fetch_topstep_fills.py``
each hand one reader here. Every envelope carries ``platform`` and ``timestamp``; a failed read
is exit 1 with ``error`` (never an empty list read as flat: upstream's failure story #346).
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any

from shared_tools.worker import ContractParser, run_worker

__all__ = ["balance", "fills", "positions", "run"]

MAX_ROWS = 1000  # the gateway's page; a full page is reported as capped


def positions(ex: Any, ns: argparse.Namespace) -> dict[str, Any]:
    from platforms.topstep.execution import position_row

    return {"positions": [position_row(p) for p in ex.positions()]}


def balance(ex: Any, ns: argparse.Namespace) -> dict[str, Any]:
    """Balance (realized, after fees); the gateway's REST API publishes no unrealized PnL, so
    ``unrealized_pnl`` is null rather than a made-up zero."""
    return {"balance": ex.balance(), "unrealized_pnl": None}


def fills(ex: Any, ns: argparse.Namespace) -> dict[str, Any]:
    from platforms.topstep.contracts import root_of_contract_id
    from platforms.topstep.execution.adapter import ts_ms

    rows = ex.trades(int(ns.since_ms))
    out = [
        {
            "fill_id": str(t.get("id")),
            "ts_ms": ts_ms(t.get("creationTimestamp")),
            "symbol": root_of_contract_id(str(t.get("contractId", ""))),
            "kind": "trade",
            "realized_pnl": t.get("profitAndLoss"),
            "fee": t.get("fees"),
            "side": "buy" if int(t.get("side") or 0) == 0 else "sell",
            "qty": int(t.get("size") or 0),
            "price": t.get("price"),
            "oid": str(t.get("orderId")),
        }
        for t in rows
    ]
    return {"fills": out, "capped": len(rows) >= MAX_ROWS}


def run(
    prog: str,
    reader: Callable[[Any, argparse.Namespace], dict[str, Any]],
    argv: list[str] | None,
    *,
    since: bool = False,
) -> int:
    parser = ContractParser(prog=prog, description=f"TopStep account read ({prog})")
    parser.add_argument("--mode", default="live")
    if since:
        parser.add_argument("--since-ms", type=int, required=True)

    def handle(ns: argparse.Namespace, _stdin: object = None) -> dict[str, Any]:
        from platforms.topstep.execution import TopStepExecution
        from shared_scripts.topstep_live import stamp

        doc: dict[str, Any] = {"platform": "topstep", "timestamp": stamp()}
        return {**doc, **reader(TopStepExecution(), ns)}

    def prepare(ns: argparse.Namespace) -> None:
        from platforms.topstep.execution import adapter  # noqa: F401

    return run_worker(parser, handle, prepare=prepare, argv=argv)
