"""The order modes: ``--execute``, ``--update-stop-loss``, ``--limit-open``, ``--limit-status``,
``--cancel-order``. Each returns one JSON document; an ``error`` key makes the exit 1.

``--execute`` (market order, then its stop): leverage update only when the chain differs (a
failure aborts), cancels (non-fatal), the IOC, its fill with the fee from userFillsByTime, then
a reduce-only stop sized to the net new quantity. A status other than ``filled`` is a failed
order: exit 1, ``execution`` null, ``error`` with the venue's text (never a fill at the mid).
"""

from __future__ import annotations

import argparse
import json
from typing import Any

from shared_scripts.hl_live import common

__all__ = ["cancel_order", "execute", "limit_open", "limit_status", "update_stop_loss"]

FILL_WINDOW_MS = 10_000


def _stop_keys(doc: dict, outcome: Any, trigger: float, fill: dict | None = None) -> None:
    """Record a stop placement's outcome (and mirror oid/trigger into the fill)."""
    doc["stop_loss_trigger_px"] = trigger
    if outcome.kind == "resting":
        doc["stop_loss_oid"] = outcome.oid
        if fill is not None:
            fill["stop_loss_oid"], fill["stop_loss_trigger_px"] = outcome.oid, trigger
    elif outcome.kind == "filled":
        doc["stop_loss_filled_immediately"] = True
    else:
        doc["stop_loss_error"] = outcome.describe()


def execute(ns: argparse.Namespace) -> dict:
    """Market order (IOC) with an optional stop; see the module docstring."""
    doc: dict[str, Any] = {"execution": None, "platform": "hyperliquid"}
    doc["timestamp"] = common.stamp()
    if ns.side not in ("buy", "sell"):
        return {**doc, "error": f"--side={ns.side} must be buy or sell"}
    if not ns.close_full_position and not (ns.size and ns.size > 0):
        return {**doc, "error": "--size must be > 0 (or pass --close-full-position)"}
    name, is_buy = common.coin(ns.symbol), ns.side == "buy"
    hl = common.adapter()
    err = common.ensure_leverage(hl, name, ns, doc)
    if err:
        return {**doc, "error": err}
    common.cancel_oids(hl, name, ns.cancel_stop_loss_oid, doc)
    since = common.now_ms() - FILL_WINDOW_MS
    try:
        if ns.close_full_position:
            placed = hl.market_close(name, None, ns.cloid)
            if placed is None:
                return {**doc, "already_flat": True, "error": f"no {name} position to close"}
        else:
            placed = hl.ioc(
                name,
                is_buy,
                ns.size,
                cloid=ns.cloid,
                slippage=0.05 if ns.reduce_only else 0.01,
                reduce_only=bool(ns.reduce_only),
            )
    except ValueError as exc:  # rounding, unknown coin, bad cloid
        return {**doc, "error": str(exc)}
    outcome, sent = placed
    if outcome.notes:
        doc["notes"] = outcome.notes
    if outcome.kind != "filled":
        return {**doc, "error": f"order not filled: {outcome.describe()}"}
    fill = common.order_fill(hl, outcome, since, doc)
    doc["execution"] = {"action": ns.side, "symbol": ns.symbol, "size": sent, "fill": fill}
    net_new = max(outcome.total_sz - max(ns.prev_pos_qty or 0.0, 0.0), 0.0)
    pct = ns.stop_loss_pct or 0.0
    if pct > 0 and outcome.avg_px > 0 and net_new > 0:
        trigger = outcome.avg_px * (1 - pct / 100 if is_buy else 1 + pct / 100)
        try:
            stop, trig = hl.place_stop(name, not is_buy, net_new, trigger, ns.sl_cloid)
            _stop_keys(doc, stop, trig, fill)
        except Exception as exc:  # the open stands; the stop is reported missing
            doc["stop_loss_error"] = f"{type(exc).__name__}: {exc}"[:200]
    return doc


def _protected_side(side: str | None) -> bool:
    """The stop's order side for a position side: a long is protected by a sell."""
    if side not in ("long", "short"):
        raise ValueError(f"--side={side} must be long or short")
    return side == "short"


def update_stop_loss(ns: argparse.Namespace) -> dict:
    """Replace one stop: check the old oid, cancel it (a failed cancel aborts), place anew."""
    doc: dict[str, Any] = {}
    try:
        stop_is_buy = _protected_side(ns.side)
    except ValueError as exc:
        return {"error": str(exc)}
    if not (ns.size and ns.size > 0 and ns.trigger_px > 0):
        return {"error": "--size and --trigger-px must be > 0"}
    name = common.coin(ns.symbol)
    hl = common.adapter()
    doc["stop_loss_trigger_px"] = hl.round_price(name, ns.trigger_px)
    old = next((o for o in ns.cancel_stop_loss_oid if o and o > 0), 0)
    if old:
        try:
            resting = {int(o["oid"]) for o in hl.open_orders()}
        except Exception as exc:
            doc["open_order_check_error"] = f"{type(exc).__name__}: {exc}"[:200]
            return doc
        if old in resting:
            err = hl.cancel(name, old)
            if err:
                doc["cancel_stop_loss_error"] = err
                return doc
            doc["cancel_stop_loss_succeeded"] = True
        else:
            summary, _ = hl.fill_by_oid(old, common.now_ms() - 7 * common.DAY_MS, tries=1)
            if summary:
                doc["stop_loss_filled_externally"] = True
                doc["stop_loss_fill"] = common.fill_doc(summary)
                return doc
    try:
        stop, trig = hl.place_stop(name, stop_is_buy, ns.size, ns.trigger_px, ns.sl_cloid)
    except ValueError as exc:
        doc["stop_loss_error"] = str(exc)
        return doc
    _stop_keys(doc, stop, trig)
    return doc


def limit_open(ns: argparse.Namespace) -> dict:
    """A non-reduce-only limit order (manual strategies); no stop or take-profit."""
    doc: dict[str, Any] = {"status": "error", "order_oid": None, "tif": ns.tif}
    if ns.side not in ("buy", "sell"):
        return {**doc, "error": f"--side={ns.side} must be buy or sell"}
    if not (ns.size and ns.size > 0 and ns.limit_price > 0):
        return {**doc, "error": "--size and --limit-price must be > 0"}
    name = common.coin(ns.symbol)
    hl = common.adapter()
    err = common.ensure_leverage(hl, name, ns, doc)
    if err:
        return {**doc, "error": err}
    try:
        outcome, size, price = hl.limit_open(
            name, ns.side == "buy", ns.size, ns.limit_price, ns.tif, ns.cloid
        )
    except ValueError as exc:
        return {**doc, "error": str(exc)}
    doc.update(limit_price=price, size=size, cloid=outcome.cloid)
    if outcome.kind not in ("resting", "filled"):
        return {**doc, "error": f"limit order rejected: {outcome.describe()}"}
    doc.update(status=outcome.kind, order_oid=outcome.oid)
    if outcome.kind == "filled":
        doc["fill"] = {"avg_px": outcome.avg_px, "total_sz": outcome.total_sz}
    return doc


def limit_status(ns: argparse.Namespace) -> dict:
    """Per oid: still resting (null when openOrders failed) and the fills since --since-ms."""
    try:
        oids = [int(o) for o in json.loads(ns.oids_json or "[]")]
    except (TypeError, ValueError):
        return {"error": "--oids-json must be a JSON list of order ids, e.g. [123, 456]"}
    hl = common.adapter(trading=False)
    doc: dict[str, Any] = {"orders": [], "open_orders_error": None}
    try:
        resting: set[int] | None = {int(o["oid"]) for o in hl.open_orders()}
    except Exception as exc:
        resting, doc["open_orders_error"] = None, f"{type(exc).__name__}: {exc}"[:200]
    since = ns.since_ms if ns.since_ms is not None else common.now_ms() - 7 * common.DAY_MS
    fills, fills_error = [], None
    try:
        fills = hl.fills_since(since)
    except Exception as exc:
        fills_error = f"{type(exc).__name__}: {exc}"[:200]
    from platforms.hyperliquid.execution import summarize_fills

    for oid in oids:
        mine = summarize_fills([f for f in fills if f.get("oid") == oid])
        doc["orders"].append(
            {
                "oid": oid,
                "resting": None if resting is None else oid in resting,
                "filled_size": mine["qty"],
                "avg_px": mine["px"],
                "fee": mine["fee"],
                "count": mine["count"],
                "fills_error": fills_error,
            }
        )
    return doc


def cancel_order(ns: argparse.Namespace) -> dict:
    """Cancel one order; a failed cancel is ``cancelled: false`` (it may have filled), exit 0."""
    if not ns.oid or ns.oid <= 0:
        return {"error": "--cancel-order needs --oid=N (a positive order id)"}
    hl = common.adapter()
    err = hl.cancel(common.coin(ns.symbol), ns.oid)
    return {"oid": ns.oid, "cancelled": not err, "cancel_error": err or None}
