"""A strategy's ``hedge`` block: a second Hyperliquid perps leg against the primary position.

Upstream's fields and checks (reference C.9): ``{enabled, symbol, side, ratio, platform, type,
margin_mode, leverage}``; only on Hyperliquid perps, never with ``direction: both``, the hedge
coin is nobody's primary coin and no two hedges share a coin. The hedge leg never inherits the
primary's margin mode or leverage (its own default: isolated, 1x).

``side`` is ``""`` or ``inverse``; both mean the leg is opposite the primary (upstream's only
hedge shape). What the leg does each cycle is :mod:`shared_tools.book.hedge`.

Deliberate difference: the hedge is paper-only here. On a ``--mode=live`` strategy the block
is refused (exit 78) until live hedge orders are built, rather than trading a live primary
unhedged while the operator believes it is hedged.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Protocol

from shared_tools.text import show

__all__ = ["HedgeSettings", "hedge_cross_problems", "hedge_settings"]

FIELDS = ("enabled", "symbol", "side", "ratio", "platform", "type", "margin_mode", "leverage")
MAX_RATIO = 10.0
MAX_LEVERAGE = 50.0
MIN_ORDER_USD = 10.0  # Hyperliquid's order floor; smaller hedge orders wait (basis held)


@dataclass(frozen=True)
class HedgeSettings:
    """A checked ``hedge`` block (``enabled`` False: present but off)."""

    enabled: bool = False
    symbol: str = ""
    side: str = "inverse"
    ratio: float = 1.0
    margin_mode: str = "isolated"
    leverage: float = 1.0


class _Strategy(Protocol):
    id: str
    symbol: str
    hedge: HedgeSettings | None


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _in_range(value: Any, key: str, hi: float, where: str, errors: list[str]) -> float:
    """0 or absent -> 1 (upstream's Go zero value); else a number in (0, hi]."""
    if value is None or (_number(value) and value == 0):
        return 1.0
    if not _number(value) or not 0 < value <= hi:
        errors.append(f"{where}.{key} must be a number in (0, {hi:g}] (0 = 1), got {show(value)}")
        return 1.0
    return float(value)


def hedge_settings(
    raw: Any,
    where: str,
    *,
    kind: str,
    platform: str,
    direction: str,
    live: bool,
    errors: list[str],
) -> HedgeSettings | None:
    """The strategy's ``hedge`` block checked (None when absent); ``where`` names the strategy."""
    if raw is None:
        return None
    at = f"{where}: hedge"
    if not isinstance(raw, dict):
        errors.append(f'{at} must be an object like {{"enabled": true, "symbol": "ETH"}}')
        return None
    unknown = [k for k in raw if k not in FIELDS]
    if unknown:
        errors.append(f"{at}: unknown key {show(unknown[0])} (known: {', '.join(FIELDS)})")
        return None
    enabled = raw.get("enabled", False)
    if not isinstance(enabled, bool):
        errors.append(f"{at}.enabled must be true or false, got {show(enabled)}")
        return None
    symbol = raw.get("symbol", "")
    ok_symbol = isinstance(symbol, str) and symbol.strip().isalnum() and len(symbol) <= 20
    if enabled and not ok_symbol:
        errors.append(f'{at}.symbol must be a Hyperliquid coin like "ETH", got {show(symbol)}')
    side = raw.get("side", "") or "inverse"
    if side != "inverse":
        errors.append(f'{at}.side must be "" or "inverse" (opposite the primary), got {show(side)}')
    for key, allowed in (("platform", "hyperliquid"), ("type", "perps")):
        value = raw.get(key, "")
        if value not in ("", allowed):
            errors.append(f'{at}.{key} must be "" or "{allowed}", got {show(value)}')
    mode = raw.get("margin_mode", "") or "isolated"
    if mode not in ("isolated", "cross"):
        errors.append(f"{at}.margin_mode must be isolated or cross, got {show(mode)}")
    ratio = _in_range(raw.get("ratio"), "ratio", MAX_RATIO, at, errors)
    leverage = _in_range(raw.get("leverage"), "leverage", MAX_LEVERAGE, at, errors)
    if not enabled:
        return HedgeSettings(False)
    if kind != "perps" or platform != "hyperliquid":
        errors.append(f"{at}: a hedge needs a Hyperliquid perps strategy; remove the hedge block")
    elif direction == "both":
        errors.append(f"{at}: not with direction both (the hedge side follows the primary's)")
    elif live:
        errors.append(
            f"{at}: live hedge orders are not built yet (paper only); remove the hedge block "
            "or run the strategy --mode=paper"
        )
    sym = symbol.strip().upper() if ok_symbol else ""
    return HedgeSettings(True, sym, "inverse", ratio, mode, leverage)


def hedge_cross_problems(strategies: Iterable[_Strategy]) -> list[str]:
    """Hedge coins that collide: with any strategy's primary coin, or with another hedge."""
    items = list(strategies)
    primaries = {s.symbol.upper(): s.id for s in items if s.symbol}
    seen: dict[str, str] = {}
    out = []
    for s in items:
        h = s.hedge
        if h is None or not h.enabled or not h.symbol:
            continue
        if h.symbol in primaries:
            out.append(
                f"strategy[{s.id}]: hedge.symbol {h.symbol} is the primary coin of "
                f"strategy[{primaries[h.symbol]}]; hedge on a coin no strategy trades"
            )
        if h.symbol in seen:
            out.append(
                f"strategy[{s.id}]: hedge.symbol {h.symbol} is also strategy[{seen[h.symbol]}]'s "
                "hedge coin; give each hedge its own coin"
            )
        seen.setdefault(h.symbol, s.id)
    return out
