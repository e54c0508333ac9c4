"""Read-only modes for the supervisor (need only ``HYPERLIQUID_ACCOUNT_ADDRESS``).

``--order-status --cloid=0x..`` answers what became of one order, so a supervisor that lost an
answer asks before it decides anything. ``--account-state`` is the reconcile's input: balances,
positions, open orders, fills and funding since ``--since-ms``. A failed read is exit 1 with
``error``, never an empty list (an empty list would read as "flat").
"""

from __future__ import annotations

import argparse
from typing import Any

from platforms.hyperliquid.execution.outcome import num
from shared_scripts.hl_live import common

__all__ = ["account_state", "order_status"]

_CANCELED = ("canceled", "marginCanceled", "reduceOnlyCanceled", "siblingFilledCanceled")


def _status_word(status: str, filled: float) -> str:
    if status == "open" or status == "triggered":
        return "resting"
    if status == "filled" or filled > 0:
        return "filled"
    if "ejected" in status:
        return "rejected"
    if status in _CANCELED or status.endswith("Canceled"):
        return "canceled"
    return "unknown"


def order_status(ns: argparse.Namespace) -> dict:
    """{"status": filled|resting|canceled|rejected|unknown, "oid", "fill"} for one order."""
    hl = common.adapter(trading=False)
    answer = hl.order_status(cloid=ns.cloid, oid=ns.oid)
    if not isinstance(answer, dict) or answer.get("status") not in ("order", "unknownOid"):
        return {"error": f"unexpected answer to orderStatus: {str(answer)[:120]}"}
    if answer["status"] == "unknownOid":
        return {"status": "unknown", "oid": None, "fill": None, "cloid": ns.cloid}
    block = answer.get("order") or {}
    wire = block.get("order") or {}
    oid = int(wire["oid"]) if wire.get("oid") is not None else None
    filled = num(wire.get("origSz")) - num(wire.get("sz"))
    doc: dict[str, Any] = {
        "status": _status_word(str(block.get("status") or ""), filled),
        "venue_status": block.get("status"),
        "oid": oid,
        "cloid": wire.get("cloid") or ns.cloid,
        "fill": None,
    }
    if filled > 0 or doc["status"] == "filled":
        since = int(num(wire.get("timestamp"))) - 1000
        summary, warning = hl.fill_by_oid(oid or 0, since)
        if summary:
            doc["fill"] = {
                "avg_px": summary["px"],
                "total_sz": summary["qty"],
                "fee": summary["fee"],
                "oid": oid,
            }
        else:
            doc["fill"] = {"avg_px": None, "total_sz": filled, "fee": None, "oid": oid}
            doc["fee_warning"] = warning
    return doc


def _position(entry: dict) -> dict:
    pos = entry.get("position") or {}
    lev = pos.get("leverage") or {}
    return {
        "coin": pos.get("coin"),
        "szi": num(pos.get("szi")),
        "entry_px": num(pos.get("entryPx")),
        "leverage": num(lev.get("value")),
        "margin_mode": lev.get("type"),
        "unrealized_pnl": num(pos.get("unrealizedPnl")),
    }


def _order(o: dict) -> dict:
    return {
        "oid": o.get("oid"),
        "cloid": o.get("cloid"),
        "coin": o.get("coin"),
        "side": "buy" if o.get("side") == "B" else "sell",
        "sz": num(o.get("sz")),
        "limit_px": num(o.get("limitPx")),
        "trigger_px": num(o.get("triggerPx")) if o.get("isTrigger") else None,
        "reduce_only": bool(o.get("reduceOnly")),
        "is_trigger": bool(o.get("isTrigger")),
    }


def _fill(f: dict) -> dict:
    return {
        "tid": f.get("tid"),
        "oid": f.get("oid"),
        "cloid": f.get("cloid"),
        "coin": f.get("coin"),
        "side": "buy" if f.get("side") == "B" else "sell",
        "px": num(f.get("px")),
        "sz": num(f.get("sz")),
        "fee": num(f.get("fee")),
        "closed_pnl": num(f.get("closedPnl")),
        "time": f.get("time"),
    }


def _funding(row: dict) -> dict:
    delta = row.get("delta") or {}
    return {
        "time": row.get("time"),
        "coin": delta.get("coin"),
        "usdc": num(delta.get("usdc")),
        "szi": num(delta.get("szi")),
        "rate": num(delta.get("fundingRate")),
    }


def account_state(ns: argparse.Namespace) -> dict:
    """Balances, positions, open orders, fills and funding since --since-ms (default 24 h)."""
    hl = common.adapter(trading=False)
    since = ns.since_ms if ns.since_ms is not None else common.now_ms() - common.DAY_MS
    state = hl.user_state()
    summary = state.get("marginSummary") or {}
    positions = [_position(e) for e in state["assetPositions"]]
    return {
        "account_value": num(summary.get("accountValue")),
        "withdrawable": num(state.get("withdrawable")),
        "positions": [p for p in positions if p["szi"] != 0],
        "open_orders": [_order(o) for o in hl.open_orders()],
        "fills": [_fill(f) for f in hl.fills_since(since)],
        "funding": [_funding(r) for r in hl.funding_since(since)],
        "server_time_ms": state.get("time"),
    }
