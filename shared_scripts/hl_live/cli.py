"""argv and dispatch of check_hyperliquid.py's live modes (one parser, one sentinel flag each).

Modes (sentinels, checked in this order): ``--sync-protection``, ``--update-stop-loss``,
``--execute``, ``--limit-open``, ``--limit-status``, ``--cancel-order``, and the read-only
``--order-status`` and ``--account-state``. Every mode refuses anything but ``--mode=live`` with
exit 1 and ``{"error": "--<mode> requires --mode=live"}``; argv that cannot run is exit 2. The
worker contract (one JSON document, exit codes, ``--probe-only``) is
:func:`shared_tools.worker.run_worker`'s.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable

from shared_tools.worker import ContractParser, UsageError, run_worker

__all__ = ["SENTINELS", "build_parser", "handle", "main", "wants_live_mode"]

SENTINELS = (
    "sync_protection",
    "update_stop_loss",
    "execute",
    "limit_open",
    "limit_status",
    "cancel_order",
    "order_status",
    "account_state",
)


def wants_live_mode(argv: list[str]) -> bool:
    """Whether argv names one of these modes (check_hyperliquid.py routes it here)."""
    flags = {"--" + s.replace("_", "-") for s in SENTINELS}
    return any(a.split("=", 1)[0] in flags for a in argv)


def build_parser() -> ContractParser:
    p = ContractParser(
        prog="check_hyperliquid.py",
        description="Hyperliquid live modes (orders, protection, account reads)",
    )
    add = p.add_argument
    for s in SENTINELS:
        add("--" + s.replace("_", "-"), action="store_true")
    add("--mode", default="paper")
    add("--symbol")
    add("--side")
    add("--size", type=float)
    add("--close-full-position", action="store_true")
    add("--reduce-only", action="store_true", help="the IOC may only reduce the position")
    add("--cloid", help="client order id of the order (0x + 32 hex)")
    add("--sl-cloid", help="client order id of the stop-loss (0x + 32 hex)")
    add("--stop-loss-pct", type=float, default=0.0)
    add("--cancel-stop-loss-oid", type=int, action="append", default=[])
    add("--prev-pos-qty", type=float, default=0.0)
    add("--margin-mode")
    add("--leverage", type=float)
    add("--account-leverage", type=float)
    add("--account-margin-mode")
    # --sync-protection
    add("--avg-cost", type=float, default=0.0)
    add("--entry-atr", type=float, default=0.0)
    add("--stop-loss-atr-mult", type=float, default=0.0)
    add("--stop-loss-trigger-px", type=float, default=0.0)
    add("--tp-tiers-json", default="")
    add("--stop-loss-oid", type=int, default=0)
    add("--tp-oids-json", default="")
    add("--tp-armed-tiers-json", default="")
    add("--force-sl-replace", action="store_true")
    add("--force-tp-replace-json", default="")
    add("--cancel-tp-oids-json", default="")
    add("--reconcile-fill-hints-json", default="")
    add("--onchain-size", type=float)
    for legacy in ("--tp1-atr-mult", "--tp1-fraction", "--tp2-atr-mult"):
        add(legacy, type=float, default=0.0)
    add("--tp1-oid", type=int, default=0)
    add("--tp2-oid", type=int, default=0)
    # --update-stop-loss, limits, cancels, reads
    add("--trigger-px", type=float, default=0.0)
    add("--limit-price", type=float, default=0.0)
    add("--tif", default="Alo")
    add("--oids-json", default="")
    add("--oid", type=int)
    add("--since-ms", type=int)
    add("--end-ms", type=int)
    return p


def mode_of(ns: argparse.Namespace) -> str:
    chosen = [s for s in SENTINELS if getattr(ns, s)]
    if len(chosen) != 1:
        raise UsageError("give exactly one mode flag (e.g. --execute or --sync-protection)")
    return chosen[0]


def validate(ns: argparse.Namespace) -> None:
    """Argv this script cannot run (exit 2); --mode is checked when the mode runs (exit 1)."""
    mode = mode_of(ns)
    if mode != "account_state" and mode != "order_status" and not ns.symbol:
        raise UsageError(f"--{mode.replace('_', '-')} needs --symbol (e.g. --symbol=BTC)")
    if mode == "order_status" and not (ns.cloid or ns.oid):
        raise UsageError("--order-status needs --cloid=0x... (or --oid=N)")


def _handlers() -> dict[str, Callable[[argparse.Namespace], dict]]:
    from shared_scripts.hl_live import orders, protection, reads

    return {
        "sync_protection": protection.sync_protection,
        "update_stop_loss": orders.update_stop_loss,
        "execute": orders.execute,
        "limit_open": orders.limit_open,
        "limit_status": orders.limit_status,
        "cancel_order": orders.cancel_order,
        "order_status": reads.order_status,
        "account_state": reads.account_state,
    }


def handle(ns: argparse.Namespace, _stdin: object = None) -> dict:
    """Run the mode ``ns`` names; non-live mode is refused before any credential is read."""
    mode = mode_of(ns)
    if ns.mode != "live":
        doc: dict = {"error": f"--{mode.replace('_', '-')} requires --mode=live"}
        if mode == "execute":
            doc["execution"] = None
        return doc
    return _handlers()[mode](ns)


def prepare(ns: argparse.Namespace) -> None:
    """--probe-only: the adapter and the SDK import (no network, no credentials)."""
    import hyperliquid.exchange  # noqa: F401
    import hyperliquid.info  # noqa: F401

    from shared_scripts.hl_live import orders, protection, reads  # noqa: F401


def main(argv: list[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    return run_worker(build_parser(), handle, validate=validate, prepare=prepare, argv=args)
