"""Close one Robinhood crypto holding: a market sell of the held quantity (kill switch, breakers).

    close_robinhood_position.py --symbol=BTC --mode=live [--sz=F] [--client-order-id=ID]

Robinhood has no reduce-only order, so the close reads the holding's ``quantity_available`` and
sells it (or min(sz, held) with ``--sz``). Nothing held answers ``already_flat: true``, exit 0.
Output: ``{"close": {"symbol", "client_order_id", "status": "filled|partial", "fill": {avg_px,
total_sz, quantity, qty, fee, oid}}, "already_flat": bool, "platform", "timestamp"}``; an error
prints ``close: {symbol, fill: {}}`` with ``error``, exit 1 (upstream §1.8). The sell carries a
client order id (given, or a fresh one reported back), so a lost answer is resolved by it.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from shared_tools.worker import ContractParser, UsageError, error_message, run_worker  # noqa: E402

PLATFORM = "robinhood"


def build_parser() -> ContractParser:
    p = ContractParser(prog="close_robinhood_position.py", description=__doc__.splitlines()[0])
    p.add_argument("--symbol", required=True)
    p.add_argument("--mode", default="paper")
    p.add_argument("--sz", type=float)
    p.add_argument("--client-order-id")
    return p


def validate(ns: argparse.Namespace) -> None:
    from shared_scripts.rh_live import CLIENT_ID_RE

    if ns.client_order_id is not None and not CLIENT_ID_RE.match(ns.client_order_id):
        raise UsageError("--client-order-id: letters, digits, - or _, at most 64")


def handle(ns: argparse.Namespace, _stdin: object = None) -> dict:
    from shared_scripts.rh_live import stamp

    doc: dict = {"close": None, "already_flat": False, "platform": PLATFORM, "timestamp": stamp()}
    failed = {"symbol": ns.symbol, "fill": {}}
    if ns.mode != "live":
        return {**doc, "close": failed, "error": "close_robinhood_position.py requires --mode=live"}
    if ns.sz is not None and not ns.sz > 0:
        return {**doc, "close": failed, "error": "--sz must be > 0 (omit it to sell everything)"}
    from platforms.robinhood.execution import RobinhoodExecution, coin_of, new_client_order_id

    cid = ns.client_order_id or new_client_order_id()
    try:
        order = RobinhoodExecution().close(coin_of(ns.symbol), ns.sz, cid)
    except Exception as exc:  # one line, never a secret
        return {**doc, "close": failed, "client_order_id": cid, "error": error_message(exc)}
    if order is None:
        return {**doc, "already_flat": True}
    if order.status not in ("filled", "partial"):
        return {
            **doc,
            "close": failed,
            "client_order_id": cid,
            "error": f"close {cid} not filled: the venue says {order.state or order.status}",
        }
    fill = order.fill() or {}
    fill["total_sz"] = fill.get("quantity", 0.0)
    doc["close"] = {
        "symbol": ns.symbol,
        "client_order_id": cid,
        "status": order.status,
        "fill": fill,
    }
    return doc


def prepare(ns: argparse.Namespace) -> None:
    import requests  # noqa: F401

    from platforms.robinhood.execution import adapter  # noqa: F401


def main(argv: list[str] | None = None) -> int:
    return run_worker(build_parser(), handle, validate=validate, prepare=prepare, argv=argv)


if __name__ == "__main__":
    sys.exit(main())
