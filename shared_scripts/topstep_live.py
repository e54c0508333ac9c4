"""check_topstep.py's live modes: ``--execute`` and the read-only ``--order-status``.

    check_topstep.py --execute --symbol=ES --side=buy|sell --contracts=N --mode=live
        [--client-order-id=gt...]
    check_topstep.py --order-status --client-order-id=ID --symbol=ES --mode=live

Execute places one whole-contract market order tagged with the client order id (the gateway's
``customTag``), never twice (:mod:`platforms.topstep.execution.adapter`), then reads the order
and its trades for the real fill. Success (exit 0):
``{"execution": {"action", "symbol", "client_order_id", "status": "filled|partial", "contracts",
"fill": {avg_px, total_contracts, fee, oid, qty}}, "platform", "timestamp"}``; ``qty`` is in the
book's unit (contracts). Failure: exit 1, ``{"execution": null, "error": ...}`` (an accepted
order with no fill yet also says ``status: "open"`` and its ``oid``). Outside CME Globex hours
execute refuses before anything is sent.

Order status answers ``{"status": "filled|partial|open|canceled|rejected|unknown",
"client_order_id", "oid", "fill" | null, "platform", "timestamp"}``; ``unknown`` only when the
venue answers that it has no such order, a failed read is exit 1 with ``error``.
"""

from __future__ import annotations

import argparse
import re
import sys
from typing import Any

from shared_tools.worker import ContractParser, UsageError, run_worker

__all__ = ["build_parser", "handle", "main", "wants_live_mode"]

SENTINELS = ("execute", "order_status")
CLIENT_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


def wants_live_mode(argv: list[str]) -> bool:
    flags = {"--" + s.replace("_", "-") for s in SENTINELS}
    return any(a.split("=", 1)[0] in flags for a in argv)


def stamp() -> str:
    from shared_tools.clock import now_utc

    return now_utc().strftime("%Y-%m-%dT%H:%M:%SZ")


def build_parser() -> ContractParser:
    p = ContractParser(prog="check_topstep.py", description="TopStep live modes")
    p.add_argument("--execute", action="store_true")
    p.add_argument("--order-status", action="store_true")
    p.add_argument("--mode", default="paper")
    p.add_argument("--symbol")
    p.add_argument("--side")
    p.add_argument("--contracts", type=float, help="whole contracts (a fraction is floored)")
    p.add_argument("--client-order-id", help="our client order id: the order's custom tag")
    p.add_argument("--mark-price", type=float, help="accepted and ignored (contract)")
    return p


def root_of(symbol: str) -> str:
    from platforms.topstep.venue import ROOTS

    root = str(symbol).strip().upper()
    if root not in ROOTS:
        raise ValueError(f"unknown CME root {symbol!r} for topstep (known: {', '.join(ROOTS)})")
    return root


def validate(ns: argparse.Namespace) -> None:
    chosen = [s for s in SENTINELS if getattr(ns, s)]
    if len(chosen) != 1:
        raise UsageError("give exactly one of --execute, --order-status")
    if not ns.symbol:
        raise UsageError("--symbol is required (a CME root: ES, NQ, MES, MNQ, CL, GC)")
    if ns.client_order_id and not CLIENT_ID.match(ns.client_order_id):
        raise UsageError("--client-order-id takes 1-64 letters, digits, '-' or '_'")
    if ns.order_status and not ns.client_order_id:
        raise UsageError("--order-status needs --client-order-id=ID")
    if ns.execute and (ns.side not in ("buy", "sell") or ns.contracts is None):
        raise UsageError("--execute needs --side=buy|sell and --contracts=N")


def _fail(doc: dict[str, Any], error: str) -> dict[str, Any]:
    return {**doc, "execution": None, "error": error}


def execute(ns: argparse.Namespace) -> dict[str, Any]:
    """One tagged market order, its fill read back from the venue."""
    from platforms.cme import cme_globex_open
    from platforms.topstep.execution import TopStepExecution, status_of, whole_contracts
    from shared_tools.clock import now_utc

    doc: dict[str, Any] = {"execution": None, "platform": "topstep", "timestamp": stamp()}
    try:
        root, contracts = root_of(ns.symbol), whole_contracts(float(ns.contracts))
    except ValueError as exc:
        return _fail(doc, str(exc))
    if not cme_globex_open(now_utc()):
        return _fail(doc, f"CME Globex is closed: no {root} order sent (market_open false)")
    ex = TopStepExecution()
    placed = ex.place_market(root, ns.side, contracts, ns.client_order_id)
    if placed.notes:
        doc["notes"] = placed.notes
    if placed.order_id is None:
        return _fail(doc, placed.error)
    order = ex.settle(placed.order_id)
    status = status_of(order)
    if order is None or status not in ("filled", "partial"):
        doc["oid"] = str(placed.order_id)
        if order is None:  # never "unknown": the venue took it, its reads were lost
            why = "its reads were lost"
        else:
            doc["status"] = status
            why = "no fill yet" if status == "open" else f"order {status}"
        hint = (
            f"; ask --order-status --client-order-id={ns.client_order_id}"
            if ns.client_order_id
            else ""
        )
        return _fail(doc, f"order {placed.order_id} accepted, {why}{hint}")
    fill = ex.fill_of(order)
    doc["execution"] = {
        "action": ns.side,
        "symbol": ns.symbol,
        "client_order_id": ns.client_order_id,
        "status": status,
        "contracts": contracts,
        "fill": fill.as_json(),
    }
    return doc


def order_status(ns: argparse.Namespace) -> dict[str, Any]:
    """What the venue knows of the order tagged ``--client-order-id`` (read-only)."""
    from platforms.topstep.execution import TopStepExecution, status_of

    ex = TopStepExecution()
    order = ex.order_by_tag(ns.client_order_id)
    status = status_of(order)
    fill = None
    if order and int(order.get("fillVolume") or 0) > 0:
        fill = ex.fill_of(order).as_json()
    return {
        "status": status,
        "client_order_id": ns.client_order_id,
        "oid": str(order["id"]) if order else None,
        "symbol": ns.symbol,
        "fill": fill,
        "platform": "topstep",
        "timestamp": stamp(),
    }


def handle(ns: argparse.Namespace, _stdin: object = None) -> dict[str, Any]:
    mode = "execute" if ns.execute else "order_status"
    if ns.mode != "live":
        doc: dict[str, Any] = {"error": f"--{mode.replace('_', '-')} requires --mode=live"}
        if ns.execute:
            doc["execution"] = None
        return doc
    try:
        root_of(ns.symbol)
    except ValueError as exc:
        return {"error": str(exc), **({"execution": None} if ns.execute else {})}
    if ns.execute:
        try:
            return execute(ns)
        except Exception as exc:  # the contract: execution null beside the error
            from shared_tools.worker import error_message

            return {"execution": None, "error": error_message(exc), "platform": "topstep"}
    return order_status(ns)


def prepare(ns: argparse.Namespace) -> None:
    """--probe-only: the adapter imports (no network, no credentials)."""
    import requests  # noqa: F401

    from platforms.topstep.execution import adapter  # noqa: F401


def main(argv: list[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    return run_worker(build_parser(), handle, validate=validate, prepare=prepare, argv=args)
