"""Reduce-only market close of one Hyperliquid coin (kill switch, circuit breaker, force-close).

    close_hyperliquid_position.py --symbol=C --mode=live [--sz=X] [--cancel-stop-loss-oid=N ...]
        [--cancel-protection-after-close] [--cloid=0x..]

Closes the whole on-chain size when ``--sz`` is absent (else min(sz, on-chain)). Stop/TP oids
are cancelled before the close, or after a confirmed fill with
``--cancel-protection-after-close`` (so a failed close keeps its stop). A coin with no position
answers ``already_flat: true`` with exit 0 (upstream reported it as an error). Output:
``{"close": {"symbol", "size", "fill": {avg_px, total_sz, oid, fee, closed_pnl, cloid}} | null,
"already_flat": bool, "platform", "timestamp", "cancel_stop_loss_*"?, "error"?}``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from shared_tools.worker import ContractParser, run_worker  # noqa: E402

FILL_WINDOW_MS = 10_000


def build_parser() -> ContractParser:
    p = ContractParser(prog="close_hyperliquid_position.py", description=__doc__.splitlines()[0])
    p.add_argument("--symbol", required=True)
    p.add_argument("--mode", default="paper")
    p.add_argument("--sz", type=float)
    p.add_argument("--cancel-stop-loss-oid", type=int, action="append", default=[])
    p.add_argument("--cancel-protection-after-close", action="store_true")
    p.add_argument("--cloid")
    return p


def handle(ns: argparse.Namespace, _stdin: object = None) -> dict:
    """Close (reduce-only IOC), with the protection cancels before or after it."""
    if ns.mode != "live":
        return {"error": "close_hyperliquid_position.py requires --mode=live", "close": None}
    from shared_scripts.hl_live import common

    doc: dict = {"close": None, "already_flat": False, "platform": "hyperliquid"}
    doc["timestamp"] = common.stamp()
    if ns.sz is not None and ns.sz <= 0:
        return {**doc, "error": "--sz must be > 0 (omit it to close the whole position)"}
    name = common.coin(ns.symbol)
    hl = common.adapter()
    if not ns.cancel_protection_after_close:
        common.cancel_oids(hl, name, ns.cancel_stop_loss_oid, doc)
    since = common.now_ms() - FILL_WINDOW_MS
    try:
        placed = hl.market_close(name, ns.sz, ns.cloid)
    except ValueError as exc:
        return {**doc, "error": str(exc)}
    if placed is None:
        if ns.cancel_protection_after_close:
            common.cancel_oids(hl, name, ns.cancel_stop_loss_oid, doc)
        return {**doc, "already_flat": True}
    outcome, sent = placed
    if outcome.notes:
        doc["notes"] = outcome.notes
    if outcome.kind != "filled":
        return {**doc, "error": f"close not filled: {outcome.describe()}"}
    fill = common.order_fill(hl, outcome, since, doc)
    doc["close"] = {"symbol": ns.symbol, "size": sent, "fill": fill}
    if ns.cancel_protection_after_close:
        common.cancel_oids(hl, name, ns.cancel_stop_loss_oid, doc)
    return doc


def main(argv: list[str] | None = None) -> int:
    return run_worker(build_parser(), handle, argv=argv)


if __name__ == "__main__":
    sys.exit(main())
