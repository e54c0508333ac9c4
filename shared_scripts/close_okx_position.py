"""Reduce-only market close of one OKX swap position (kill switch, circuit breaker).

    close_okx_position.py --symbol=BTC --mode=live [--sz=COINS] [--client-order-id=ID]
        [--inst-type=swap]

Closes the whole position when ``--sz`` is absent, else min(sz, held); ``--sz`` is in coins and
converted to contracts. A symbol with no position answers ``already_flat: true`` with exit 0
(upstream left it implicit). OKX **spot** has no reduce-only: ``--inst-type=spot`` (or a spot
symbol such as ``BTC-USDT``) is refused with exit 1, "operator-only: OKX spot cannot be closed
reduce-only" (the supervisor reports that gap every cycle, upstream §6/§7). A partial fill is
reported as it is (``status: "partial"``, exit 0) so the caller books what really filled.

Output: ``{"close": {"symbol", "status", "client_order_id", "fill": {avg_px, total_sz, fee, oid,
qty, contracts}}, "already_flat": bool, "platform", "timestamp"}``; every error prints
``close: {"symbol", "fill": {}}`` with ``error`` and exits 1 (upstream-contract §1.8).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from shared_tools.worker import ContractParser, run_worker  # noqa: E402

SPOT_REFUSAL = "operator-only: OKX spot cannot be closed reduce-only"


def build_parser() -> ContractParser:
    p = ContractParser(prog="close_okx_position.py", description=__doc__.splitlines()[0])
    p.add_argument("--symbol", required=True)
    p.add_argument("--mode", default="paper")
    p.add_argument("--sz", type=float, help="coins to close (default: the whole position)")
    p.add_argument("--client-order-id", help="OKX clOrdId of the close (1-32 letters/digits)")
    p.add_argument("--inst-type", choices=("spot", "swap"), default="swap")
    return p


def _is_spot(ns: argparse.Namespace) -> bool:
    sym = ns.symbol.strip().upper()
    if ns.inst_type == "spot":
        return True
    return sym.endswith("-USDT") or (sym.endswith("/USDT") and ":" not in sym)


def validate(ns: argparse.Namespace) -> None:
    from shared_scripts.okx_live import common

    common.check_client_order_id(ns.client_order_id)


def handle(ns: argparse.Namespace, _stdin: object = None) -> dict:
    from shared_scripts.okx_live import common

    doc = common.base_doc(close={"symbol": ns.symbol, "fill": {}}, already_flat=False)
    if ns.mode != "live":
        return {**doc, "error": "close_okx_position.py requires --mode=live"}
    if _is_spot(ns):
        return {**doc, "error": SPOT_REFUSAL, "operator_required": True}
    if ns.sz is not None and ns.sz <= 0:
        return {**doc, "error": "--sz must be > 0 (omit it to close the whole position)"}
    try:
        state = common.adapter().market_close(ns.symbol, ns.sz, ns.client_order_id or "")
    except Exception as exc:
        return {**doc, "error": common.failure(exc)}
    if state is None:
        return {**doc, "close": {"symbol": ns.symbol, "fill": {}}, "already_flat": True}
    if state.notes:
        doc["notes"] = state.notes
    close = {
        "symbol": ns.symbol,
        "status": state.status,
        "client_order_id": state.client_order_id,
        "fill": state.fill(True) or {},
    }
    if state.status not in ("filled", "partial"):
        return {**doc, "close": close, "error": f"close not filled: the venue shows {state.status}"}
    return {**doc, "close": close}


def main(argv: list[str] | None = None) -> int:
    from shared_scripts.okx_live import common

    return run_worker(build_parser(), handle, validate=validate, prepare=common.prepare, argv=argv)


if __name__ == "__main__":
    sys.exit(main())
