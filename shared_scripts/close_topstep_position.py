"""Close one TopStep CME position (kill switch, circuit breaker, force-close).

    close_topstep_position.py --symbol=ES --mode=live [--sz=N] [--client-order-id=ID]

Without ``--client-order-id`` the venue's own close flattens the symbol
(``/api/Position/closeContract``; ``partialCloseContract`` with ``--sz``): a re-sent flatten
finds nothing left to close, so it cannot double. With ``--client-order-id`` the close is a
tagged market order against the position read just before it, sized min(sz, position), so a
crash can be resolved with ``check_topstep.py --order-status`` like any other order. Either
way the fill is read from the venue afterwards. A flat symbol answers ``already_flat: true``,
exit 0 (upstream had no such flag). Output: ``{"close": {"symbol", "status": "filled|partial",
"contracts", "client_order_id", "fill": {avg_px, total_contracts, fee, oid, qty}}, "already_flat",
"platform", "timestamp", "error"?}``; every error prints ``close.fill`` as ``{}`` and exits 1.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from shared_tools.worker import (  # noqa: E402
    ContractParser,
    UsageError,
    error_message,
    run_worker,
)


def build_parser() -> ContractParser:
    p = ContractParser(prog="close_topstep_position.py", description=__doc__.splitlines()[0])
    p.add_argument("--symbol", required=True)
    p.add_argument("--mode", default="paper")
    p.add_argument("--sz", type=float, help="contracts to close (floored); omit for all")
    p.add_argument("--client-order-id")
    return p


def validate(ns: argparse.Namespace) -> None:
    from shared_scripts.topstep_live import CLIENT_ID

    if ns.client_order_id and not CLIENT_ID.match(ns.client_order_id):
        raise UsageError("--client-order-id takes 1-64 letters, digits, '-' or '_'")


def _error(doc: dict[str, Any], symbol: str, message: str) -> dict[str, Any]:
    return {**doc, "close": {"symbol": symbol, "fill": {}}, "error": message}


def _new_close_orders(ex: Any, root: str, before: set[int]) -> list[dict[str, Any]]:
    cid = ex.contract(root)["id"]
    return [
        o for o in ex.orders() if o.get("contractId") == cid and int(o.get("id") or 0) not in before
    ]


def _venue_close(ex: Any, root: str, size: int | None, held: int, doc: dict) -> list[int]:
    """closeContract (or partial) under the never-twice rule; the new close orders' ids."""
    from platforms.topstep.execution import TransportError

    before = {int(o.get("id") or 0) for o in ex.orders()}
    try:
        if not ex.close_contract(root, size):
            return []
    except TransportError as exc:
        now = ex.position(root)  # strict: a failed read raises (not confirmed)
        moved = abs(now) < abs(held)
        if not moved and size is not None:
            raise RuntimeError(f"partial close answer lost ({exc}); not resent") from None
        if not moved:
            doc.setdefault("notes", []).append(f"flatten resent once after {exc}")
            ex.close_contract(root, None)
        else:
            doc.setdefault("notes", []).append(f"close took effect despite {exc}")
    return [int(o["id"]) for o in _new_close_orders(ex, root, before)]


def _summary(fills: list[Any]) -> dict[str, Any]:
    """The close orders' fills as one fill block (size-weighted price, summed fees)."""
    qty = sum(f.qty for f in fills)
    fee = None if any(f.fee is None for f in fills) else sum(f.fee or 0.0 for f in fills)
    avg = sum(f.qty * f.avg_px for f in fills) / qty if qty else 0.0
    oid = ",".join(f.oid for f in fills)
    return {"avg_px": avg, "total_contracts": qty, "fee": fee, "oid": oid, "qty": float(qty)}


def _close_ids(ex: Any, ns: argparse.Namespace, root: str, size: int | None, doc: dict) -> Any:
    """The ids of the orders that close (a list), or an error text, or None when flat."""
    if ns.client_order_id:  # a re-run of a close that already went out reports that order
        known = ex.lookup_tag(ns.client_order_id)
        if known is None:
            return "order lookup by client order id failed; not sent"
        if known:
            doc["notes"] = ["client order id already used: reporting that order, not resent"]
            doc["contracts"] = int(known.get("size") or 0)
            return [int(known["id"])]
    try:
        held = ex.position(root)
    except Exception as exc:
        return f"position read failed, flat not confirmed: {exc}"
    if held == 0:
        return None
    doc["contracts"] = abs(held) if size is None else min(size, abs(held))
    if ns.client_order_id:
        side = "sell" if held > 0 else "buy"
        placed = ex.place_market(root, side, doc["contracts"], ns.client_order_id)
        if placed.notes:
            doc["notes"] = placed.notes
        return [placed.order_id] if placed.order_id is not None else placed.error
    try:
        ids = _venue_close(ex, root, size, held, doc)
    except Exception as exc:
        return str(exc)
    return ids or None


def handle(ns: argparse.Namespace, _stdin: object = None) -> dict:
    from shared_scripts.topstep_live import root_of, stamp

    doc: dict[str, Any] = {"close": None, "already_flat": False, "platform": "topstep"}
    doc["timestamp"] = stamp()
    if ns.mode != "live":
        return _error(doc, ns.symbol, "close_topstep_position.py requires --mode=live")
    from platforms.topstep.execution import TopStepExecution, status_of, whole_contracts

    try:
        root = root_of(ns.symbol)
        size = None if ns.sz is None else whole_contracts(float(ns.sz))
    except ValueError as exc:
        return _error(doc, ns.symbol, str(exc))
    try:  # every failure keeps the close envelope (close.fill {}), as upstream's error paths
        ex = TopStepExecution()
        ids = _close_ids(ex, ns, root, size, doc)
    except Exception as exc:
        return _error(doc, ns.symbol, error_message(exc))
    contracts = doc.pop("contracts", 0)
    if isinstance(ids, str):
        return _error(doc, ns.symbol, ids)
    if ids is None:
        return {**doc, "close": {"symbol": ns.symbol, "fill": {}}, "already_flat": True}
    fills = []
    for oid in ids:
        try:
            order = ex.settle(oid)
            if order is None or status_of(order) not in ("filled", "partial"):
                why = "its reads were lost" if order is None else status_of(order)
                return _error(doc, ns.symbol, f"close order {oid} sent, not filled ({why})")
            fills.append(ex.fill_of(order))
        except Exception as exc:
            return _error(doc, ns.symbol, f"close order {oid} sent: {error_message(exc)}")
    fill = _summary(fills)
    doc["close"] = {
        "symbol": ns.symbol,
        "status": "filled" if fill["total_contracts"] >= contracts else "partial",
        "contracts": contracts,
        "client_order_id": ns.client_order_id,
        "fill": fill,
    }
    return doc


def prepare(ns: argparse.Namespace) -> None:
    from platforms.topstep.execution import adapter  # noqa: F401


def main(argv: list[str] | None = None) -> int:
    return run_worker(build_parser(), handle, validate=validate, prepare=prepare, argv=argv)


if __name__ == "__main__":
    sys.exit(main())
