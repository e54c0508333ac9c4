"""Trailing take-profit ratchet: trailing_tp_ratchet and trailing_tp_ratchet_regime (§4.9).

Each rung, once reached, tightens the trailing-stop distance (in entry ATRs) and may scale out.
The evaluators here return only the scale-out part; the trail tightening is applied by the
engine through :func:`maybe_apply_mark_ratchet`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, NamedTuple

from shared_strategies.close._helpers import (
    NOOP_MISSING_POSITION_REGIME,
    NOOP_TIER_RESOLUTION_FAILED,
    Result,
    favourable_move,
    fmt_g,
    held_or_noop,
    held_with_entry_atr,
    highest_reached,
    noop,
    norm_side,
    num,
    opt_num,
    text,
    tier_result,
)
from shared_strategies.close.regime_atr import ratchet_close_default_group

EPS = 1e-12


class RatchetTier(NamedTuple):
    atr_multiple: float
    trailing_mult_after: float
    close_fraction: float


def _ladder(*rows: tuple[float, float, float]) -> tuple[RatchetTier, ...]:
    return tuple(RatchetTier(*row) for row in rows)


DEFAULT_RATCHET_TIERS = _ladder((2.0, 1.5, 0.0), (2.5, 1.0, 0.0), (3.0, 0.8, 0.0))
DEFAULT_RATCHET_TIERS_BY_GROUP: dict[str, tuple[RatchetTier, ...]] = {
    "clean": _ladder((3.0, 1.5, 0.0), (4.5, 1.0, 0.0), (6.0, 0.8, 0.0)),
    "choppy": _ladder((2.0, 1.5, 0.0), (2.5, 1.0, 0.0), (3.0, 0.8, 0.0)),
    "ranging_quiet": _ladder((0.75, 1.0, 0.4), (1.5, 0.75, 0.8), (2.0, 0.75, 1.0)),
    "ranging_volatile": _ladder((1.0, 1.0, 0.4), (2.0, 0.75, 0.8), (3.0, 0.75, 1.0)),
    "ranging_directional": _ladder(
        (1.0, 1.0, 0.25), (2.0, 1.0, 0.50), (3.0, 0.8, 0.75), (4.5, 0.6, 0.75)
    ),
}


def _as_dicts(tiers: Sequence[RatchetTier]) -> list[dict[str, float]]:
    return [t._asdict() for t in tiers]


RATCHET_DEFAULTS: dict[str, Any] = {"tp_tiers": _as_dicts(DEFAULT_RATCHET_TIERS)}
RATCHET_REGIME_DEFAULTS: dict[str, Any] = {}


class RatchetTierError(ValueError):
    """A ratchet ladder that is empty or not monotone."""


def _first(item: Mapping[str, Any], keys: Sequence[str]) -> Any:
    for key in keys:
        if item.get(key) is not None:
            return item[key]
    return None


def _parse_item(item: Any) -> RatchetTier | None:
    """One rung, or None when invalid (upstream drops invalid rungs silently)."""
    if not isinstance(item, Mapping):
        return None
    trigger = opt_num(_first(item, ("atr_multiple", "multiple", "atr")))
    raw_frac = _first(item, ("close_fraction", "fraction"))
    fraction = 0.0 if raw_frac is None else opt_num(raw_frac)
    after, share = item.get("trailing_mult_after"), item.get("tp_atr_fraction")
    if trigger is None or fraction is None or (after is None) == (share is None):
        return None  # exactly one of trailing_mult_after / tp_atr_fraction
    if after is not None:
        trail = opt_num(after)
    else:
        share_num = opt_num(share)
        trail = None if share_num is None else share_num * trigger
    if trail is None or trigger <= 0 or not 0 <= fraction <= 1 or trail <= 0:
        return None
    return RatchetTier(trigger, trail, fraction)


def parse_ratchet_tiers(raw: Any) -> list[RatchetTier]:
    """Valid rungs sorted by trigger; raise :class:`RatchetTierError` if none or not monotone.

    Going up the ladder the trail may only tighten and the cumulative fraction only grow.
    """
    items = raw if isinstance(raw, (list, tuple)) else ()
    tiers = sorted(
        (t for t in map(_parse_item, items) if t is not None), key=lambda t: t.atr_multiple
    )
    if not tiers:
        raise RatchetTierError("no valid ratchet tiers")
    for prev, cur in zip(tiers, tiers[1:], strict=False):
        if cur.trailing_mult_after > prev.trailing_mult_after + EPS:
            raise RatchetTierError(
                f"trail widens at {cur.atr_multiple:g} ATR "
                f"({prev.trailing_mult_after:g} -> {cur.trailing_mult_after:g})"
            )
        if cur.close_fraction < prev.close_fraction - EPS:
            raise RatchetTierError(
                f"close_fraction shrinks at {cur.atr_multiple:g} ATR "
                f"({prev.close_fraction:g} -> {cur.close_fraction:g})"
            )
    return tiers


def resolve_ratchet_tiers(
    params: Mapping[str, Any], regime: str | None = None
) -> list[RatchetTier]:
    """Ladder for the scalar evaluator (``regime=None``) or for a stamped regime label."""
    raw = params.get("tp_tiers")
    if regime is None:
        if raw is None:
            return list(DEFAULT_RATCHET_TIERS)
        if isinstance(raw, Mapping):
            raw = raw.get("default", raw.get("ranging"))
        return parse_ratchet_tiers(raw)
    if raw is None:
        group = ratchet_close_default_group(regime)
        ladder = DEFAULT_RATCHET_TIERS_BY_GROUP.get(group or "")
        if ladder is None:
            raise RatchetTierError(f"no default ratchet ladder for regime {regime!r}")
        return list(ladder)
    if not isinstance(raw, Mapping) or regime not in raw:
        raise RatchetTierError(f"tp_tiers has no ladder for regime {regime!r}")
    return parse_ratchet_tiers(raw[regime])


def _evaluate(
    position: Mapping[str, Any],
    market: Mapping[str, Any],
    params: Mapping[str, Any],
    regime: str | None,
    reason_prefix: str,
) -> Result:
    got = held_with_entry_atr(position, market)
    if isinstance(got, dict):
        return got
    held, entry_atr = got
    try:
        tiers = resolve_ratchet_tiers(params, regime)
    except RatchetTierError:
        return noop(NOOP_TIER_RESOLUTION_FAILED)
    progress = held.profit() / entry_atr
    pairs = [(t.atr_multiple, t.close_fraction) for t in tiers]
    # A trail-only rung (fraction 0) answers 0 with noop:already_taken, as upstream does.
    return tier_result(position, pairs, progress, lambda m: f"{reason_prefix}{fmt_g(m)}")


def trailing_tp_ratchet(
    position: Mapping[str, Any], market: Mapping[str, Any], params: Mapping[str, Any]
) -> Result:
    """Scale-out part of the scalar ratchet ladder (progress in entry ATRs)."""
    return _evaluate(position, market, params, None, "trailing_tp_ratchet:")


def trailing_tp_ratchet_regime(
    position: Mapping[str, Any], market: Mapping[str, Any], params: Mapping[str, Any]
) -> Result:
    """Scale-out part of the ladder for the regime stamped at open (required)."""
    regime = text(position.get("regime"))
    if not regime:
        # Position and mark come first, as in every evaluator; then the regime.
        held = held_or_noop(position, market)
        return held if isinstance(held, dict) else noop(NOOP_MISSING_POSITION_REGIME)
    return _evaluate(position, market, params, regime, f"trailing_tp_ratchet_regime:{regime}:")


def maybe_apply_mark_ratchet(
    tiers: Sequence[RatchetTier],
    watermark: int,
    mark: float,
    avg_cost: float,
    entry_atr: float,
    side: str,
    post_tp_trail_mult: float,
    trailing_stop_atr_mult: float,
) -> tuple[int, float]:
    """Engine side of the ratchet: ``(new watermark, post-TP trail multiple)``.

    Finds the highest rung at or above ``watermark`` that the mark has reached (1e-12 slack) and
    tightens the trail to that rung's distance if it is tighter than the one in force
    (``post_tp_trail_mult`` if > 0, else ``trailing_stop_atr_mult``). Nothing reached, or bad
    inputs: ``(watermark, post_tp_trail_mult)`` unchanged.
    """
    unchanged = (watermark, post_tp_trail_mult)
    held_side = norm_side(side)
    mark, avg_cost, entry_atr = num(mark), num(avg_cost), num(entry_atr)
    if held_side is None or mark <= 0 or avg_cost <= 0 or entry_atr <= 0:
        return unchanged
    progress = favourable_move(held_side, avg_cost, mark) / entry_atr
    triggers = [t.atr_multiple for t in tiers]
    hit = highest_reached(triggers, progress, slack=EPS, start=watermark)
    if hit < 0:
        return unchanged
    current = post_tp_trail_mult if post_tp_trail_mult > 0 else trailing_stop_atr_mult
    trail = tiers[hit].trailing_mult_after
    return hit + 1, (trail if trail < current else post_tp_trail_mult)
