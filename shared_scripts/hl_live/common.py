"""Small helpers the live modes share: the clock, the coin, margin/leverage, cancels."""

from __future__ import annotations

import argparse
from typing import Any

from shared_tools.clock import now_utc

__all__ = ["coin", "ensure_leverage", "cancel_oids", "fill_doc", "now_ms", "stamp"]

DAY_MS = 86_400_000


def now_ms() -> int:
    return int(now_utc().timestamp() * 1000)


def stamp() -> str:
    return now_utc().strftime("%Y-%m-%dT%H:%M:%SZ")


def coin(symbol: str) -> str:
    from platforms.hyperliquid.market_data import coin_of

    return coin_of(symbol).upper()


def adapter(trading: bool = True) -> Any:
    from platforms.hyperliquid.execution import HyperliquidExecution

    return HyperliquidExecution(trading=trading)


def ensure_leverage(hl: Any, name: str, ns: argparse.Namespace, doc: dict) -> str:
    """Set margin mode + leverage when the chain differs; "" or the error that aborts."""
    if not ns.margin_mode:
        return ""
    mode = ns.margin_mode
    if mode not in ("isolated", "cross"):
        return f"--margin-mode={mode} is not isolated or cross"
    lev = ns.leverage if ns.leverage is not None else 1.0
    if lev < 1:
        return f"--leverage={lev:g} must be >= 1"
    want = (mode, int(lev))
    current = None
    if ns.account_leverage and ns.account_margin_mode:
        current = (ns.account_margin_mode, int(ns.account_leverage))
    else:
        try:
            pos = hl.position(name)
        except Exception as exc:  # only a warning: the update below decides
            doc["leverage_check_warning"] = f"could not read the on-chain leverage: {exc}"[:200]
            pos = None
        if pos and isinstance(pos.get("leverage"), dict):
            current = (str(pos["leverage"].get("type")), int(pos["leverage"].get("value") or 0))
    if current == want:
        doc["leverage_update"] = "skipped (chain already matches)"
        return ""
    err = hl.update_leverage(int(lev), name, mode == "cross")
    if err:
        return f"update_leverage failed (margin_mode={mode}, leverage={int(lev)}): {err}"
    doc["leverage_update"] = f"{mode} {int(lev)}x"
    return ""


def cancel_oids(hl: Any, name: str, oids: list[int], doc: dict) -> None:
    """Cancel each oid (non-fatal): ``cancel_stop_loss_succeeded`` / ``cancel_stop_loss_error``."""
    errors = []
    for oid in dict.fromkeys(o for o in oids if o and o > 0):
        try:
            err = hl.cancel(name, oid)
        except Exception as exc:
            err = f"{type(exc).__name__}: {exc}"[:200]
        if err:
            errors.append(f"oid {oid}: {err}")
        else:
            doc["cancel_stop_loss_succeeded"] = True
    if errors:
        doc["cancel_stop_loss_error"] = "; ".join(errors)


def fill_doc(summary: dict | None) -> dict | None:
    """A userFills summary in the scripts' keys (avg_px, total_sz, fee, closed_pnl, count)."""
    if not summary:
        return None
    return {
        "avg_px": summary["px"],
        "total_sz": summary["qty"],
        "fee": summary["fee"],
        "closed_pnl": summary["closed_pnl"],
        "count": summary["count"],
    }


def order_fill(hl: Any, outcome: Any, since_ms: int, doc: dict[str, Any]) -> dict[str, Any]:
    """A filled order's ``fill`` block, its fee and closedPnl from the account's fills by order
    id (a lookup that fails leaves them null and says so in ``doc["fee_warning"]``)."""
    fill: dict[str, Any] = {
        "avg_px": outcome.avg_px,
        "total_sz": outcome.total_sz,
        "oid": outcome.oid,
        "fee": None,
        "closed_pnl": None,
        "cloid": outcome.cloid,
    }
    summary, warning = hl.fill_by_oid(outcome.oid, since_ms)
    if summary:
        fill["fee"], fill["closed_pnl"] = summary["fee"], summary["closed_pnl"]
    else:
        doc["fee_warning"] = warning
    return fill
