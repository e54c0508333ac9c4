"""``--sync-protection``: make the resting stop-loss and take-profit ladder match the book.

Idempotent: an oid still resting is kept (unless forced), so a second run with the returned
oids changes nothing on the venue. An oid that is gone is checked in the fill hints, then in
userFillsByTime (7 days): a filled one is reported, never re-placed (the reconcile books it).
A tier whose oid is 0 but which was armed before is consumed and never re-placed. When the open
orders cannot be read, nothing is re-placed (deferred), because "gone" cannot be told apart.

Prices: the stop at ``--stop-loss-trigger-px`` when > 0 (the supervisor's book), else
avg_cost -/+ mult x entry_atr; a tier at its ``price`` or at avg_cost +/- atr_multiple x
entry_atr. Sizes: every reduce-only size is capped at ``--onchain-size``; each non-final tier is
floor(size x its cumulative step) and the final tier takes floor(size) minus the others.
"""

from __future__ import annotations

import argparse
import json
from typing import Any

from shared_scripts.hl_live import common

__all__ = ["sync_protection", "tier_sizes", "normalize_tiers"]


def _json_list(raw: str, flag: str) -> list:
    if not raw:
        return []
    try:
        value = json.loads(raw)
    except ValueError:
        raise ValueError(f"{flag} is not valid JSON") from None
    if not isinstance(value, list):
        raise ValueError(f"{flag} must be a JSON list")
    return value


def normalize_tiers(raw: list, is_long: bool, avg: float, atr: float) -> list[dict]:
    """Tiers as [{"px", "cum"}] ordered away from the entry; fewer than 2 -> [] (no TPs)."""
    tiers = []
    for t in raw:
        if not isinstance(t, dict):
            raise ValueError("--tp-tiers-json entries must be objects")
        cum = float(t.get("close_fraction", t.get("fraction", t.get("Fraction", 0))) or 0)
        if t.get("price") is not None:
            px = float(t["price"])
        else:
            mult = float(t.get("atr_multiple", t.get("multiple", t.get("Multiple", 0))) or 0)
            if mult <= 0 or atr <= 0:
                raise ValueError("an atr_multiple tier needs a positive multiple and --entry-atr")
            px = avg + mult * atr if is_long else avg - mult * atr
        if px <= 0:
            raise ValueError(f"take-profit price {px:g} must be > 0")
        tiers.append({"px": px, "cum": cum})
    tiers.sort(key=lambda t: t["px"] if is_long else -t["px"])
    cums = [t["cum"] for t in tiers]
    if any(b <= a for a, b in zip(cums, cums[1:], strict=False)) or (cums and cums[0] <= 0):
        raise ValueError("tier close_fraction values must be cumulative and strictly increasing")
    if len(tiers) < 2:
        return []
    tiers[-1]["cum"] = 1.0
    return tiers


def tier_sizes(inst: Any, size: float, cums: list[float]) -> list[float]:
    """Non-final tiers floor(size x step); the final tier floor(size) - the others (#628)."""
    total = inst.round_qty(size)
    out, prev = [], 0.0
    for cum in cums[:-1]:
        out.append(inst.round_qty(total * (cum - prev)))
        prev = cum
    out.append(inst.round_qty(max(total - sum(out), 0.0)))
    return out


class _Resolver:
    """Where an oid stands: resting / filled / gone ("place") / unknown ("defer")."""

    def __init__(self, hl: Any, name: str, hints: list, doc: dict) -> None:
        self.hl, self.name = hl, name
        self.hints = {int(h["oid"]): h for h in hints if isinstance(h, dict) and h.get("filled")}
        self._fills: list | None = None
        try:
            self.open = {int(o["oid"]) for o in hl.open_orders() if o.get("coin") == name}
        except Exception as exc:
            self.open = None
            doc["open_order_check_error"] = f"{type(exc).__name__}: {exc}"[:200]

    def state(self, oid: int) -> tuple[str, dict | None]:
        if not oid or oid <= 0:
            return "place", None
        if self.open is None:
            return "unknown", None
        if oid in self.open:
            return "resting", None
        hint = self.hints.get(oid)
        if hint:
            return "filled", {k: hint.get(k) for k in ("oid", "fee", "closed_pnl", "count")}
        if self._fills is None:
            try:
                self._fills = self.hl.fills_since(common.now_ms() - 7 * common.DAY_MS)
            except Exception:
                return "unknown", None
        from platforms.hyperliquid.execution import summarize_fills

        mine = [f for f in self._fills if f.get("oid") == oid]
        if mine:
            return "filled", {"oid": oid, **(common.fill_doc(summarize_fills(mine)) or {})}
        return "place", None


def _cancel_surplus(hl: Any, res: _Resolver, oids: list, doc: dict) -> None:
    for oid in (int(o) for o in oids if o):
        state, _ = res.state(oid)
        if state == "filled":
            doc["tp_cancel_filled_oids"].append(oid)
        elif state == "unknown" or state == "resting" and hl.cancel(res.name, oid):
            doc["tp_cancel_failed_oids"].append(oid)


def _sync_stop(hl: Any, res: _Resolver, ns: argparse.Namespace, size: float, doc: dict) -> None:
    is_long = ns.side == "long"
    if ns.stop_loss_trigger_px > 0:
        trigger = ns.stop_loss_trigger_px
    elif ns.stop_loss_atr_mult > 0:
        off = ns.stop_loss_atr_mult * ns.entry_atr
        trigger = ns.avg_cost - off if is_long else ns.avg_cost + off
    else:
        return
    doc["stop_loss_trigger_px"] = hl.round_price(res.name, trigger)
    state, fill = res.state(ns.stop_loss_oid)
    if state == "resting" and ns.force_sl_replace:
        err = hl.cancel(res.name, ns.stop_loss_oid)
        if err:
            doc["stop_loss_error"] = f"cancel of {ns.stop_loss_oid} failed: {err}"
            return
        state = "place"
    if state in ("resting", "unknown"):
        doc["stop_loss_oid"] = ns.stop_loss_oid
        return
    if state == "filled":
        doc.update(stop_loss_oid=0, stop_loss_filled_externally=True, stop_loss_fill=fill)
        return
    if size <= 0:
        return
    try:
        out, _ = hl.place_stop(res.name, not is_long, size, trigger, ns.sl_cloid)
    except ValueError as exc:
        doc["stop_loss_error"] = str(exc)
        return
    if out.kind == "resting":
        doc["stop_loss_oid"] = out.oid
    elif out.kind == "filled":
        # the oid still identifies the fill, so the book attributes it to the stop (#412)
        doc.update(stop_loss_oid=0, stop_loss_filled_immediately=True, stop_loss_filled_oid=out.oid)
    else:
        doc["stop_loss_error"] = out.describe()


def _sync_tier(hl: Any, res: _Resolver, i: int, tier: dict, ctx: dict, doc: dict) -> None:
    oid, size = ctx["oids"][i], ctx["sizes"][i]
    doc["tp_oids"][i] = oid
    if size <= 0:
        return
    state, fill = res.state(oid)
    if state == "resting" and ctx["force"][i]:
        err = hl.cancel(res.name, oid)
        if err:
            doc["tp_errors"][i] = f"cancel of {oid} failed: {err}"
            return
        state = "place"
    elif oid <= 0 and ctx["armed"][i]:
        return  # consumed tier (#749): placed before, filled since
    if state in ("resting", "unknown"):
        return
    if state == "filled":
        doc["tp_oids"][i], doc["tp_filled_externally"][i], doc["tp_fills"][i] = 0, True, fill
        return
    try:
        out, _ = hl.place_take_profit(res.name, not ctx["is_long"], size, tier["px"])
    except ValueError as exc:
        doc["tp_errors"][i] = str(exc)
        return
    if out.kind == "resting":
        doc["tp_oids"][i] = out.oid
    elif out.kind == "filled":
        doc["tp_oids"][i], doc["tp_filled_immediately"][i] = 0, True
        doc["tp_filled_oids"][i] = out.oid
    else:
        doc["tp_oids"][i], doc["tp_errors"][i] = 0, out.describe()


def _pad(values: list, n: int, fill: Any) -> list:
    return (list(values) + [fill] * n)[:n]


def sync_protection(ns: argparse.Namespace) -> dict:
    """See the module docstring; the document carries upstream's keys (§1.7 of the notes)."""
    if ns.side not in ("long", "short"):
        return {"error": f"--side={ns.side} must be long or short"}
    try:
        raw_tiers = _json_list(ns.tp_tiers_json, "--tp-tiers-json")
        if not raw_tiers and ns.tp1_atr_mult > 0 and ns.tp2_atr_mult > 0:  # legacy flags
            raw_tiers = [
                {"atr_multiple": ns.tp1_atr_mult, "close_fraction": ns.tp1_fraction},
                {"atr_multiple": ns.tp2_atr_mult, "close_fraction": 1.0},
            ]
        tp_oids = [int(o or 0) for o in _json_list(ns.tp_oids_json, "--tp-oids-json")] or [
            ns.tp1_oid,
            ns.tp2_oid,
        ]
        armed = [bool(a) for a in _json_list(ns.tp_armed_tiers_json, "--tp-armed-tiers-json")]
        force = [bool(f) for f in _json_list(ns.force_tp_replace_json, "--force-tp-replace-json")]
        surplus = _json_list(ns.cancel_tp_oids_json, "--cancel-tp-oids-json")
        hints = _json_list(ns.reconcile_fill_hints_json, "--reconcile-fill-hints-json")
    except ValueError as exc:
        return {"error": str(exc)}
    if ns.avg_cost <= 0:
        return {"error": "--avg-cost must be > 0"}
    needs_atr = ns.stop_loss_trigger_px <= 0 and ns.stop_loss_atr_mult > 0
    if needs_atr and ns.entry_atr <= 0:
        return {"error": "--entry-atr must be > 0 (or pass --stop-loss-trigger-px)"}
    size = ns.size or 0.0
    if ns.onchain_size is not None:
        size = min(size, max(ns.onchain_size, 0.0))
    if size <= 0 and not surplus and (ns.onchain_size is None):
        return {"error": "--size must be > 0 (unless only --cancel-tp-oids-json is given)"}
    is_long = ns.side == "long"
    try:
        tiers = normalize_tiers(raw_tiers, is_long, ns.avg_cost, ns.entry_atr)
    except ValueError as exc:
        return {"error": str(exc)}
    name = common.coin(ns.symbol)
    hl = common.adapter()
    n = len(tiers)
    doc: dict[str, Any] = {
        "stop_loss_oid": 0,
        "stop_loss_trigger_px": None,
        "stop_loss_filled_externally": False,
        "stop_loss_fill": None,
        "stop_loss_filled_immediately": False,
        "stop_loss_error": None,
        "tp_oids": [0] * n,
        "tp_pxs": [hl.round_price(name, t["px"]) for t in tiers],
        "tp_errors": [None] * n,
        "tp_filled_externally": [False] * n,
        "tp_fills": [None] * n,
        "tp_filled_immediately": [False] * n,
        "tp_filled_oids": [0] * n,
        "tp_cancel_failed_oids": [],
        "tp_cancel_filled_oids": [],
        "open_order_check_error": None,
    }
    if ns.onchain_size is not None:
        doc["size_capped_to"] = size
    res = _Resolver(hl, name, hints, doc)
    _cancel_surplus(hl, res, surplus, doc)
    _sync_stop(hl, res, ns, hl.instrument(name).round_qty(size), doc)
    ctx = {
        "is_long": is_long,
        "oids": _pad(tp_oids, n, 0),
        "armed": _pad(armed, n, False),
        "force": _pad(force, n, False),
        "sizes": tier_sizes(hl.instrument(name), size, [t["cum"] for t in tiers]) if n else [],
    }
    for i, tier in enumerate(tiers):
        _sync_tier(hl, res, i, tier, ctx, doc)
    for k in (1, 2):  # legacy mirrors
        if n >= k:
            doc[f"tp{k}_oid"], doc[f"tp{k}_px"] = doc["tp_oids"][k - 1], doc["tp_pxs"][k - 1]
    return doc
