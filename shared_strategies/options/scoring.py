"""Portfolio-aware scoring of proposed option legs (upstream-options reference §4).

Upstream's terms in upstream's order and weights: first position 1.0; else base 0.5, strike
distance among same-type legs (> 10% +0.4, > 5% +0.2, else -0.3), expiry spread (new expiry
+0.3, same -0.1), delta balancing (worse and beyond tolerance -0.3, better +0.2), premium
efficiency for sells (> 1.1x the open sells' average +0.1); rounded to 2 dp; a leg is kept at
>= 0.3. The cap (4 open option legs per strategy) is checked before the strategy runs.

What we fixed (each an upstream bug, docs/options.md):

* **Signed, sized delta.** Upstream sums the stored long-option deltas, so a sold call adds
  +delta, and ignores quantity. Here each leg's exposure is ``sign(action) x delta x quantity
  x multiplier`` (units of underlying; sell = -1), and the 0.5 tolerance is half a contract of
  the proposal's venue (``0.5 x multiplier`` units), which is upstream's 0.5 where a contract
  is one coin (Deribit, OKX) and scales to CME micros and 100-share equity contracts.
* **Siblings see each other.** The legs of one proposal are scored in order, each accepted
  leg joining the book before the next is scored (a strangle's put sees its call).
* **Structures are kept or dropped whole.** If any leg scores below 0.3 the whole proposal is
  dropped: a strangle or butterfly missing a leg is a different, naked position.
* **Premium in one unit.** Upstream compares a proposal's per-contract gross premium with the
  open sells' ``entry_premium_usd`` (net of fee, times quantity); we compare per-unit gross
  premiums (``entry_premium_unit_usd``; older entries fall back to
  ``entry_premium_usd / (quantity x multiplier)``).

``upstream=True`` scores exactly as upstream did (unsigned, unsized delta; raw premium), for the
tests that show each fix. Stdlib only; never raises on odd input (a property test holds it).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "DELTA_TOLERANCE",
    "MAX_POSITIONS_PER_STRATEGY",
    "MIN_SCORE_THRESHOLD",
    "Scored",
    "book_entry",
    "score_new_trade",
    "score_proposal",
]

MAX_POSITIONS_PER_STRATEGY = 4
MIN_SCORE_THRESHOLD = 0.3
DELTA_TOLERANCE = 0.5  # contracts (upstream: 0.5 of a 1-coin contract)


def _num(value: Any, default: float = 0.0) -> float:
    try:
        x = float(value)
    except (TypeError, ValueError):
        return default
    return x if math.isfinite(x) else default


def _text(p: dict[str, Any], key: str) -> str:
    return str(p.get(key, "")).strip().lower()


def _delta(p: dict[str, Any]) -> float:
    """Long-option delta per unit: flat on positions (the wire), nested on actions."""
    if "delta" in p:
        return _num(p.get("delta"))
    greeks = p.get("greeks")
    return _num(greeks.get("delta")) if isinstance(greeks, dict) else 0.0


def _size(p: dict[str, Any]) -> float:
    """Units of underlying held: quantity x multiplier (each 1 when absent, as upstream)."""
    qty = _num(p.get("quantity"), 1.0) or 1.0
    return abs(qty) * abs(_num(p.get("multiplier"), 1.0) or 1.0)


def _exposure(p: dict[str, Any], upstream: bool) -> float:
    if upstream:
        return _delta(p)
    sign = -1.0 if _text(p, "action") == "sell" else 1.0
    return sign * _delta(p) * _size(p)


def _unit_premium(p: dict[str, Any], upstream: bool) -> float:
    if upstream or "entry_premium_unit_usd" not in p:
        total = _num(p.get("entry_premium_usd"))
        return total if upstream else total / _size(p)
    return _num(p.get("entry_premium_unit_usd"))


def score_new_trade(
    action: dict[str, Any],
    existing: Sequence[dict[str, Any]],
    spot: float,
    *,
    upstream: bool = False,
) -> tuple[float, str]:
    """``(score, reasons)`` of one proposed leg against the open option legs."""
    book = [p for p in existing if isinstance(p, dict)]
    if not book:
        return 1.0, "first position"
    score, reasons = 0.5, []
    kind, strike = _text(action, "option_type"), _num(action.get("strike"))
    spot = _num(spot)
    same = [_num(p.get("strike")) for p in book if _text(p, "option_type") == kind]
    if spot > 0 and same:
        dist = min(abs(strike - k) for k in same) / spot
        if dist > 0.10:
            score += 0.4
            reasons.append(f"strike distance {dist:.1%}")
        elif dist > 0.05:
            score += 0.2
            reasons.append("moderate strike distance")
        else:
            score -= 0.3
            reasons.append("overlapping strikes")
    if str(action.get("expiry", "")) not in {str(p.get("expiry", "")) for p in book}:
        score += 0.3
        reasons.append("different expiry")
    else:
        score -= 0.1
        reasons.append("same expiry")
    net = sum(_exposure(p, upstream) for p in book)
    new = net + _exposure(action, upstream)
    tol = DELTA_TOLERANCE * (1.0 if upstream else abs(_num(action.get("multiplier"), 1.0) or 1.0))
    if abs(new) > abs(net) and abs(new) > tol:
        score -= 0.3
        reasons.append("delta concentration")
    elif abs(new) < abs(net):
        score += 0.2
        reasons.append("delta balancing")
    sells = [p for p in book if _text(p, "action") == "sell"]
    if _text(action, "action") == "sell" and sells:
        avg = sum(_unit_premium(p, upstream) for p in sells) / len(sells)
        if _num(action.get("premium_usd")) > 1.1 * avg:
            score += 0.1
            reasons.append("better premium")
    return round(score, 2), "; ".join(reasons) or "default"


def book_entry(action: dict[str, Any]) -> dict[str, Any]:
    """A proposed leg as an open position (the wire's shape) so later siblings see it."""
    return {
        "option_type": action.get("option_type"),
        "strike": action.get("strike"),
        "expiry": action.get("expiry"),
        "action": action.get("action"),
        "quantity": action.get("quantity", 1.0),
        "multiplier": action.get("multiplier", 1.0),
        "delta": _delta(action),
        "entry_premium_unit_usd": _num(action.get("premium_usd")),
    }


@dataclass
class Scored:
    """A proposal after scoring: the legs kept (each with ``score``/``score_reason``) and the
    legs dropped (the whole structure, when any leg failed)."""

    kept: list[dict[str, Any]] = field(default_factory=list)
    dropped: list[dict[str, Any]] = field(default_factory=list)


def score_proposal(
    actions: Sequence[dict[str, Any]],
    existing: Sequence[dict[str, Any]],
    spot: float,
    *,
    upstream: bool = False,
) -> Scored:
    """Score one strategy's legs in order, siblings joining the book as each is accepted.

    ``upstream=True``: every leg against the pre-existing book only, kept leg by leg (the
    behaviour we fixed).
    """
    book = [p for p in existing if isinstance(p, dict)]
    scored = []
    for action in actions:
        s, why = score_new_trade(action, book, spot, upstream=upstream)
        leg = {**action, "score": s, "score_reason": why}
        scored.append(leg)
        if not upstream and s >= MIN_SCORE_THRESHOLD:
            book.append(book_entry(leg))
    if upstream:
        return Scored(
            [a for a in scored if a["score"] >= MIN_SCORE_THRESHOLD],
            [a for a in scored if a["score"] < MIN_SCORE_THRESHOLD],
        )
    if all(a["score"] >= MIN_SCORE_THRESHOLD for a in scored):
        return Scored(scored, [])
    return Scored([], scored)
