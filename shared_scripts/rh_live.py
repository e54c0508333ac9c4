"""check_robinhood.py's live modes: ``--execute`` and the read-only ``--order-status``.

    check_robinhood.py --execute --symbol=BTC --side=buy --amount_usd=F --mode=live
        --client-order-id=ID
    check_robinhood.py --execute --symbol=BTC --side=sell --quantity=F --mode=live
        --client-order-id=ID
    check_robinhood.py --order-status --client-order-id=ID --symbol=BTC --mode=live

Execute answers ``{"execution": {"action", "symbol", "client_order_id", "status":
"filled|partial", "fill": {avg_px, quantity, fee, oid, qty}, "amount_usd" | "quantity"},
"platform", "timestamp"}`` (exit 0), else ``{"execution": null, "error"}`` (exit 1). The fill is
the venue's, read after placement; a lost order answer is resolved by the client order id
before anything is sent again (:mod:`platforms.robinhood.execution.adapter`). Order status
answers ``{"status": filled|partial|open|canceled|rejected|unknown, "client_order_id", "oid",
"fill", "platform", "timestamp"}``; ``unknown`` only when the venue lists no such order, a failed
read is exit 1. Both refuse anything but ``--mode=live`` before any credential is read.
"""

from __future__ import annotations

import argparse
import re
import sys
from typing import Any

from shared_tools.clock import now_utc
from shared_tools.worker import ContractParser, UsageError, error_message, run_worker

__all__ = ["CLIENT_ID_RE", "build_parser", "main", "wants_live_mode"]

CLIENT_ID_RE = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
SENTINELS = ("execute", "order_status")
PLATFORM = "robinhood"


def wants_live_mode(argv: list[str]) -> bool:
    """Whether argv names one of these modes (check_robinhood.py routes it here)."""
    flags = {"--" + s.replace("_", "-") for s in SENTINELS}
    return any(a.split("=", 1)[0] in flags for a in argv)


def stamp() -> str:
    return now_utc().strftime("%Y-%m-%dT%H:%M:%SZ")


def build_parser() -> ContractParser:
    p = ContractParser(prog="check_robinhood.py", description="Robinhood crypto live modes")
    p.add_argument("--execute", action="store_true")
    p.add_argument("--order-status", action="store_true")
    p.add_argument("--mode", default="paper")
    p.add_argument("--symbol")
    p.add_argument("--side", choices=("buy", "sell"))
    p.add_argument("--amount_usd", "--amount-usd", dest="amount_usd", type=float)
    p.add_argument("--quantity", type=float)
    p.add_argument("--client-order-id")
    return p


def validate(ns: argparse.Namespace) -> None:
    """Argv that cannot run (exit 2); ``--mode`` is checked when the mode runs (exit 1)."""
    if ns.execute == ns.order_status:
        raise UsageError("give exactly one of --execute or --order-status")
    if not ns.symbol:
        raise UsageError("--symbol is required (e.g. --symbol=BTC)")
    if not ns.client_order_id or not CLIENT_ID_RE.match(ns.client_order_id):
        raise UsageError("--client-order-id=ID is required (letters, digits, - or _, <= 64)")
    if ns.execute:
        if ns.side == "buy" and (ns.amount_usd is None or ns.quantity is not None):
            raise UsageError("--side=buy takes --amount_usd=F (and no --quantity)")
        if ns.side == "sell" and (ns.quantity is None or ns.amount_usd is not None):
            raise UsageError("--side=sell takes --quantity=F (and no --amount_usd)")
        if ns.side is None:
            raise UsageError("--execute needs --side=buy or --side=sell")


def _failure(message: str, **extra: Any) -> dict[str, Any]:
    return {
        "execution": None,
        "error": message,
        "platform": PLATFORM,
        "timestamp": stamp(),
        **extra,
    }


def execute(ns: argparse.Namespace) -> dict[str, Any]:
    """One market order; success only when the venue reports a fill."""
    from platforms.robinhood.execution import RobinhoodExecution, coin_of

    rh: RobinhoodExecution | None = None
    try:
        coin = coin_of(ns.symbol)
        rh = RobinhoodExecution()
        if ns.side == "buy":
            order = rh.buy_usd(coin, float(ns.amount_usd), ns.client_order_id)
        else:
            order = rh.sell_qty(coin, float(ns.quantity), ns.client_order_id)
    except Exception as exc:  # credentials, refusals, transport: one line, never a secret
        notes = {"notes": rh.notes} if rh is not None and rh.notes else {}
        return _failure(error_message(exc), **notes)
    notes = {"notes": rh.notes} if rh.notes else {}
    if order.status not in ("filled", "partial"):
        return _failure(
            f"order {ns.client_order_id} not filled: the venue says {order.state or order.status}",
            order={"status": order.status, "oid": order.oid},
            **notes,
        )
    execution: dict[str, Any] = {
        "action": ns.side,
        "symbol": ns.symbol,
        "client_order_id": ns.client_order_id,
        "status": order.status,
        "fill": order.fill(),
    }
    if ns.side == "buy":
        execution["amount_usd"] = ns.amount_usd
    else:
        execution["quantity"] = ns.quantity
    return {"execution": execution, "platform": PLATFORM, "timestamp": stamp(), **notes}


def order_status(ns: argparse.Namespace) -> dict[str, Any]:
    """What the venue knows of the order with this client order id (read-only)."""
    from platforms.robinhood.execution import RobinhoodExecution

    rh = RobinhoodExecution()
    order = rh.status(ns.client_order_id)  # a failed read raises: exit 1, never "unknown"
    doc: dict[str, Any] = {
        "status": "unknown" if order is None else order.status,
        "client_order_id": ns.client_order_id,
        "oid": None if order is None else order.oid,
        "fill": None if order is None else order.fill(),
        "platform": PLATFORM,
        "timestamp": stamp(),
    }
    return doc


def handle(ns: argparse.Namespace, _stdin: object = None) -> dict[str, Any]:
    mode = "execute" if ns.execute else "order_status"
    if ns.mode != "live":
        flag = "--" + mode.replace("_", "-")
        if mode == "execute":
            return _failure(f"{flag} requires --mode=live")
        return {"error": f"{flag} requires --mode=live", "platform": PLATFORM}
    return execute(ns) if mode == "execute" else order_status(ns)


def prepare(ns: argparse.Namespace) -> None:
    """--probe-only: the client's imports (no network, no credentials)."""
    import requests  # noqa: F401

    from platforms.robinhood.execution import adapter  # noqa: F401


def main(argv: list[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    return run_worker(build_parser(), handle, validate=validate, prepare=prepare, argv=args)
