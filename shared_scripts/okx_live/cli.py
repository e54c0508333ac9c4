"""argv and dispatch of check_okx.py's live modes: ``--execute`` and ``--order-status``.

    check_okx.py --execute --symbol=BTC --side=buy --size=0.01 --mode=live --inst-type=swap
        [--client-order-id=gt...]
    check_okx.py --order-status --client-order-id=gt... --symbol=BTC --mode=live [--inst-type]

``--size`` is in coins (the book's unit); on a swap the adapter converts it to contracts through
the market's ``contractSize``. Execute prints ``{"execution": {"action", "symbol",
"client_order_id", "status": "filled"|"partial", "fill": {avg_px, total_sz, fee, oid, qty,
contracts?}}, "platform", "timestamp"}``; a failure is exit 1 with ``execution: null``. An order
the venue accepted but had not filled when last read is a failure naming its ids (ask
``--order-status``). Order status prints ``{"status": filled|partial|open|canceled|unknown,
"client_order_id", "oid", "fill", "platform", "timestamp"}``; ``unknown`` only when OKX answers
that it has no such order, a failed read is exit 1.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from shared_scripts.okx_live import common
from shared_tools.worker import ContractParser, UsageError, run_worker

__all__ = ["SENTINELS", "build_parser", "handle", "main", "wants_live_mode"]

SENTINELS = ("execute", "order_status")


def wants_live_mode(argv: list[str]) -> bool:
    """Whether argv names one of these modes (check_okx.py routes it here)."""
    flags = {"--" + s.replace("_", "-") for s in SENTINELS}
    return any(a.split("=", 1)[0] in flags for a in argv)


def build_parser() -> ContractParser:
    p = ContractParser(prog="check_okx.py", description="OKX live modes (orders, order status)")
    add = p.add_argument
    for s in SENTINELS:
        add("--" + s.replace("_", "-"), action="store_true")
    add("--mode", default="paper")
    add("--symbol")
    add("--side")
    add("--size", type=float, help="coins (the adapter converts a swap's size to contracts)")
    add("--inst-type", choices=("spot", "swap"), default="swap")
    add("--client-order-id", help="OKX clOrdId (1-32 letters/digits)")
    add("--mark-price", type=float, help="accepted and ignored (upstream-contract §1.1)")
    return p


def validate(ns: argparse.Namespace) -> None:
    chosen = [s for s in SENTINELS if getattr(ns, s)]
    if len(chosen) != 1:
        raise UsageError("give exactly one of --execute or --order-status")
    if not ns.symbol:
        raise UsageError("--symbol is needed (e.g. --symbol=BTC)")
    common.check_client_order_id(ns.client_order_id)
    if ns.order_status and not ns.client_order_id:
        raise UsageError("--order-status needs --client-order-id")
    if ns.execute and (ns.side not in ("buy", "sell") or ns.size is None):
        raise UsageError("--execute needs --side=buy|sell and --size=<coins>")


def execute(ns: argparse.Namespace) -> dict[str, Any]:
    doc = common.base_doc(execution=None)
    if ns.size <= 0:
        return {**doc, "error": "--size must be > 0 (coins)"}
    try:
        ex = common.adapter()
        state = ex.market_open(ns.symbol, ns.inst_type, ns.side, ns.size, ns.client_order_id or "")
    except Exception as exc:
        return {**doc, "error": common.failure(exc)}
    if state.notes:
        doc["notes"] = state.notes
    if state.status not in ("filled", "partial"):
        return {
            **doc,
            "client_order_id": state.client_order_id,
            "oid": state.oid,
            "status": state.status,
            "error": f"order {state.client_order_id or state.oid} is {state.status} on the venue "
            "with nothing filled yet: ask --order-status before any re-send",
        }
    doc["execution"] = {
        "action": ns.side,
        "symbol": ns.symbol,
        "inst_type": ns.inst_type,
        "client_order_id": state.client_order_id,
        "status": state.status,
        "fill": state.fill(ns.inst_type == "swap"),
    }
    return doc


def order_status(ns: argparse.Namespace) -> dict[str, Any]:
    doc = common.base_doc(status=None, client_order_id=ns.client_order_id, oid=None, fill=None)
    try:
        state = common.adapter().order_status(ns.symbol, ns.inst_type, ns.client_order_id)
    except Exception as exc:
        return {**doc, "error": common.failure(exc)}
    if state is None:
        return {**doc, "status": "unknown"}
    return {
        **doc,
        "status": state.status,
        "oid": state.oid,
        "fill": state.fill(ns.inst_type == "swap"),
    }


def handle(ns: argparse.Namespace, _stdin: object = None) -> dict[str, Any]:
    """Run the mode; non-live mode is refused before any credential is read."""
    mode = "execute" if ns.execute else "order_status"
    if ns.mode != "live":
        doc = common.base_doc(error=f"--{mode.replace('_', '-')} requires --mode=live")
        if ns.execute:
            doc["execution"] = None
        return doc
    return execute(ns) if ns.execute else order_status(ns)


def main(argv: list[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    return run_worker(build_parser(), handle, validate=validate, prepare=common.prepare, argv=args)
