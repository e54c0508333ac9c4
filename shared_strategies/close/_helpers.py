"""Shared pieces of the close evaluators: reading the position, tier maths, reasons.

Every evaluator is ``fn(position, market, params) -> {"close_fraction", "reason"}``; these
helpers keep the precondition order and the reason strings identical across them.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

Result = dict[str, Any]

NOOP_MISSING_MARK = "noop:missing_mark_price"
NOOP_MISSING_POSITION = "noop:missing_position"
NOOP_NOT_HIT = "noop:not_hit"
NOOP_ALREADY_TAKEN = "noop:already_taken"
NOOP_MISSING_ENTRY_ATR = "noop:missing_entry_atr"
NOOP_MISSING_ATR = "noop:missing_atr"
NOOP_MISSING_LIVE_ATR = "noop:missing_live_atr"
NOOP_TIER_RESOLUTION_FAILED = "noop:tier_resolution_failed"
NOOP_MISSING_POSITION_REGIME = "noop:missing_position_regime"
NOOP_DISABLED = "noop:disabled"


def result(fraction: float, reason: str) -> Result:
    """The evaluator answer shape."""
    return {"close_fraction": float(fraction), "reason": reason}


def noop(reason: str) -> Result:
    """A "do nothing" answer with its reason."""
    return result(0.0, reason)


def opt_num(value: Any) -> float | None:
    """A numeric field, or ``None`` when missing, None, a bool, non-numeric or non-finite.

    Upstream would keep a NaN, and every ``<= 0`` guard is false for NaN, so a NaN mark or cost
    would slip past the checks; we treat it as missing instead (deliberate difference).
    """
    if value is None or isinstance(value, bool):
        return None
    try:
        out = float(value)
    except (TypeError, ValueError, OverflowError):
        return None
    return out if math.isfinite(out) else None


def num(value: Any, default: float = 0.0) -> float:
    """Like :func:`opt_num` but ``default`` where that gives ``None``."""
    out = opt_num(value)
    return default if out is None else out


def nonneg(value: Any, default: float) -> float:
    """A number floored at 0; missing/unparseable/non-finite -> ``default``."""
    out = opt_num(value)
    return default if out is None else max(out, 0.0)


def norm_side(value: Any) -> str | None:
    """``long`` or ``short`` (trimmed, lower-cased); anything else is ``None``."""
    if not isinstance(value, str):
        return None
    side = value.strip().lower()
    return side if side in ("long", "short") else None


def side_of(position: Mapping[str, Any]) -> str | None:
    """The position's side by :func:`norm_side`."""
    return norm_side(position.get("side"))


def favourable_move(side: str, avg_cost: float, mark: float) -> float:
    """Price move in the position's favour (long: mark - cost; short: cost - mark)."""
    return mark - avg_cost if side == "long" else avg_cost - mark


def text(value: Any) -> str:
    """A label field: non-strings and blanks are empty."""
    return value.strip() if isinstance(value, str) else ""


def fmt_g(value: float) -> str:
    """Python's ``%g`` (upstream formats pct / multiples this way in reasons)."""
    return f"{value:g}"


@dataclass(frozen=True)
class Held:
    """The parts of a position every price-based evaluator needs."""

    side: str
    avg_cost: float
    current: float
    mark: float

    def profit(self) -> float:
        """Price move in the position's favour (long: mark - cost; short: cost - mark)."""
        return favourable_move(self.side, self.avg_cost, self.mark)

    def lost(self, line: float, distance: float) -> bool:
        """Whether the mark is ``distance`` or more against the position beyond ``line``."""
        if self.side == "long":
            return self.mark <= line - distance
        return self.mark >= line + distance


def held_or_noop(
    position: Mapping[str, Any], market: Mapping[str, Any], *, position_first: bool = False
) -> Held | Result:
    """Common preconditions, in upstream's order (mark first unless ``position_first``)."""
    mark = num(market.get("mark_price"))
    avg_cost = num(position.get("avg_cost"))
    current = num(position.get("current_quantity"))
    side = side_of(position)
    mark_bad = mark <= 0
    pos_bad = avg_cost <= 0 or current <= 0 or side is None
    checks = [(pos_bad, NOOP_MISSING_POSITION), (mark_bad, NOOP_MISSING_MARK)]
    if not position_first:
        checks.reverse()
    for bad, reason in checks:
        if bad:
            return noop(reason)
    assert side is not None
    return Held(side=side, avg_cost=avg_cost, current=current, mark=mark)


def clamp01(value: float) -> float:
    """Clamp to [0, 1]; NaN becomes 0."""
    if not math.isfinite(value):
        return 1.0 if value == math.inf else 0.0
    return min(max(value, 0.0), 1.0)


def current_close_fraction(position: Mapping[str, Any], tier_fraction: float) -> float:
    """Fraction of the *current* quantity to close so that ``tier_fraction`` of the initial
    quantity has been closed in total (catalogue §4.2)."""
    current = num(position.get("current_quantity"))
    initial = num(position.get("initial_quantity"))
    if initial <= 0:
        initial = current
    if current <= 0 or initial <= 0:
        return 0.0
    already = max(initial - current, 0.0)
    target = initial * clamp01(tier_fraction)
    to_close = min(max(target - already, 0.0), current)
    return clamp01(to_close / current)


def highest_reached(
    thresholds: Sequence[float], value: float, *, slack: float = 0.0, start: int = 0
) -> int:
    """Index of the last threshold (from ``start``) with ``value + slack >= threshold``; -1."""
    hit = -1
    for index in range(max(start, 0), len(thresholds)):
        if value + slack >= thresholds[index]:
            hit = index
    return hit


def highest_hit(
    tiers: Sequence[tuple[float, float]], progress: float
) -> tuple[float, float] | None:
    """The highest ``(trigger, fraction)`` with ``progress >= trigger`` (inclusive); tiers sorted."""
    index = highest_reached([tier[0] for tier in tiers], progress)
    return tiers[index] if index >= 0 else None


def tier_result(
    position: Mapping[str, Any],
    tiers: Sequence[tuple[float, float]],
    progress: float,
    reason_for: Callable[[float], str],
) -> Result:
    """Shared tail of every tiered evaluator: hit test, §4.2 conversion, reason."""
    hit = highest_hit(tiers, progress)
    if hit is None:
        return noop(NOOP_NOT_HIT)
    fraction = current_close_fraction(position, hit[1])
    if fraction <= 0:
        return noop(NOOP_ALREADY_TAKEN)
    return result(fraction, reason_for(hit[0]))


def tier_pair(item: Mapping[str, Any], trigger_key: str) -> tuple[float | None, float | None]:
    """``(trigger, close_fraction)`` of one tier object by :func:`opt_num` (None: unreadable)."""
    return opt_num(item.get(trigger_key)), opt_num(item.get("close_fraction"))


def parse_tiers(
    raw: Any, trigger_key: str, defaults: Sequence[tuple[float, float]]
) -> list[tuple[float, float]]:
    """Scalar tier list for tiered_tp_pct / tiered_tp_atr(_live) (catalogue §4.3).

    Items are ``{trigger_key: x, "close_fraction": f}`` dicts or 2-item sequences; the trigger
    is floored at 0, the fraction clamped to [0, 1]; unparseable items are skipped. An absent or
    empty list, or one in which nothing parses, falls back to ``defaults``. Fractions are not
    required to be monotone (upstream does not check them here).
    """
    parsed: list[tuple[float, float]] = []
    items: Iterable[Any] = raw if isinstance(raw, (list, tuple)) else ()
    for item in items:
        if isinstance(item, Mapping):
            trig, frac = tier_pair(item, trigger_key)
        elif isinstance(item, (list, tuple)) and len(item) == 2:
            trig, frac = opt_num(item[0]), opt_num(item[1])
        else:
            continue
        if trig is None or frac is None:
            continue
        parsed.append((max(trig, 0.0), clamp01(frac)))
    if not parsed:
        parsed = [(float(t), float(f)) for t, f in defaults]
    parsed.sort(key=lambda tier: tier[0])
    return parsed


def entry_atr_or_noop(position: Mapping[str, Any]) -> float | Result:
    """The position's entry ATR, or ``noop:missing_entry_atr`` when not > 0."""
    atr = num(position.get("entry_atr"))
    return atr if atr > 0 else noop(NOOP_MISSING_ENTRY_ATR)


def held_with_entry_atr(
    position: Mapping[str, Any], market: Mapping[str, Any]
) -> tuple[Held, float] | Result:
    """:func:`held_or_noop`, then :func:`entry_atr_or_noop`, in that order."""
    held = held_or_noop(position, market)
    if isinstance(held, dict):
        return held
    entry_atr = entry_atr_or_noop(position)
    return entry_atr if isinstance(entry_atr, dict) else (held, entry_atr)


def live_atr_or_noop(
    position: Mapping[str, Any], market: Mapping[str, Any], source: Any
) -> tuple[float, str] | Result:
    """:func:`resolve_atr`, or ``noop:missing_atr`` when it finds none."""
    atr, label = resolve_atr(position, market, source)
    return (atr, label) if atr > 0 else noop(NOOP_MISSING_ATR)


def resolve_atr(
    position: Mapping[str, Any], market: Mapping[str, Any], source: Any
) -> tuple[float, str]:
    """ATR for the ``*_live*`` evaluators (catalogue §4.5): ``(atr, label)``; 0 when none.

    ``entry`` -> entry_atr; anything else is ``live``: market.atr, then market.live_atr, then
    entry_atr labelled ``entry_fallback``.
    """
    entry_atr = num(position.get("entry_atr"))
    if text(source).lower() == "entry":
        return (entry_atr, "entry") if entry_atr > 0 else (0.0, "entry")
    for key in ("atr", "live_atr"):
        live = num(market.get(key))
        if live > 0:
            return live, "live"
    if entry_atr > 0:
        return entry_atr, "entry_fallback"
    return 0.0, "live"
