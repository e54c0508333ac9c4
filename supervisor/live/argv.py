"""The argv of Hyperliquid's side-effect and account workers (upstream's flags, plus cloids).

Pure functions of the book; the workers are ``shared_scripts/check_hyperliquid.py`` (modes
chosen by a sentinel flag) and ``close_hyperliquid_position.py``.
"""

from __future__ import annotations

import json

from shared_tools.book.model import Position
from supervisor.state.models import Intent

HL_SCRIPT = "shared_scripts/check_hyperliquid.py"
LIVE = "--mode=live"


def execute_argv(intent: Intent) -> list[str]:
    """``--execute`` for one intent: an IOC at the mid, reduce-only for every close."""
    argv = [
        "--execute",
        f"--symbol={intent.symbol}",
        f"--side={intent.side}",
        LIVE,
        f"--cloid={intent.cloid}",
    ]
    if intent.extra.get("full_close"):
        argv.append("--close-full-position")
    else:
        argv.append(f"--size={intent.size!r}")
    if intent.reduce_only:
        argv.append("--reduce-only")
    for oid in intent.extra.get("cancel_oids") or []:
        argv.append(f"--cancel-stop-loss-oid={int(oid)}")
    if intent.purpose == "open" and intent.extra.get("margin_mode"):
        argv += [
            f"--margin-mode={intent.extra['margin_mode']}",
            f"--leverage={float(intent.extra.get('leverage') or 1.0)!r}",
        ]
    return argv


def order_status_argv(cloid: str) -> list[str]:
    return ["--order-status", f"--cloid={cloid}", LIVE]


def account_state_argv(since_ms: int) -> list[str]:
    return ["--account-state", LIVE, f"--since-ms={int(since_ms)}"]


def protection_argv(pos: Position, onchain: float, force_stop: bool) -> list[str]:
    """``--sync-protection`` making the venue's resting stop and targets those of ``pos``.

    Prices come from the book's guard (``--stop-loss-trigger-px``, tiers with ``price``), so
    every stop kind the book arms (percent, ATR, margin, trailing) rests the same way; sizes
    are capped at the on-chain quantity.
    """
    g = pos.guard
    tiers = [{"price": p, "close_fraction": f} for p, f in g.targets]
    oids = list(g.target_oids) + [0] * (len(tiers) - len(g.target_oids))
    placed = list(g.target_placed) + [False] * (len(tiers) - len(g.target_placed))
    argv = [
        "--sync-protection",
        f"--symbol={pos.symbol}",
        f"--side={pos.side}",
        f"--size={pos.quantity!r}",
        f"--avg-cost={pos.avg_cost!r}",
        f"--entry-atr={pos.entry_atr!r}",
        "--stop-loss-atr-mult=0",
        f"--stop-loss-trigger-px={g.stop!r}",
        "--tp-tiers-json=" + json.dumps(tiers),
        f"--stop-loss-oid={g.stop_oid}",
        "--tp-oids-json=" + json.dumps(oids[: len(tiers)]),
        "--tp-armed-tiers-json=" + json.dumps(placed[: len(tiers)]),
        f"--onchain-size={onchain!r}",
        LIVE,
    ]
    if force_stop:
        argv.append("--force-sl-replace")
    return argv


def cancel_argv(symbol: str, oid: int) -> list[str]:
    return ["--cancel-order", f"--symbol={symbol}", f"--oid={int(oid)}", LIVE]
