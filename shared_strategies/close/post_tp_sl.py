"""``sl_after``: moving the fixed stop-loss after a take-profit tier fills (catalogue §4.16).

Not an evaluator: the tiered ATR evaluators only carry ``sl_after`` in their params; the engine
(backtester, Go live) reads it here. A rule moves the stop to breakeven, to an ATR offset from
the entry, or starts a trail from the current mark; the caller never loosens the stop.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from shared_strategies.close._helpers import highest_reached, norm_side, num, opt_num, text
from shared_strategies.close.regime_atr import (
    TREND_REGIME_KEY,
    RegimeATRError,
    check_labels,
    parse_regime_atr_block,
)
from shared_tools.regime_labels import LABELS_ADX

# Close refs whose tiers honour sl_after (the first such ref of a strategy is used).
SL_AFTER_CLOSE_REFS: tuple[str, ...] = (
    "tiered_tp_atr",
    "tiered_tp_atr_live",
    "tiered_tp_atr_regime",
    "tiered_tp_atr_live_regime",
)
KINDS = ("breakeven", "atr_offset", "trail_from_here")
TIER_EPS = 1e-9


class SlAfterError(ValueError):
    """An ``sl_after`` rule upstream's validator would refuse."""


@dataclass(frozen=True)
class PostTPRule:
    kind: str
    atr_mult: float | None = None
    by_regime: Mapping[str, float] | None = None  # per-regime multiple (or tp_atr_fraction)
    tp_atr_fraction: float | None = None
    fraction_by_regime: bool = False

    def multiple(self, regime: str = "", tier_multiple: float | None = None) -> float | None:
        """ATR multiple for this move (None: not resolvable, so no move)."""
        value = self.atr_mult
        if self.by_regime is not None:
            value = self.by_regime.get(regime)
            if value is None and regime.startswith("ranging_directional_"):
                value = self.by_regime.get("ranging_directional")
        if self.fraction_by_regime or self.tp_atr_fraction is not None:
            share = value if self.fraction_by_regime else self.tp_atr_fraction
            if share is None or tier_multiple is None:
                return None
            return share * tier_multiple
        return value


def _mult(raw: Mapping[str, Any], keys: Sequence[str], positive: bool) -> float | None:
    found = [k for k in keys if k in raw]
    if not found:
        return None
    if len(found) > 1:
        raise SlAfterError(f"give only one of {list(keys)}")
    value = opt_num(raw[found[0]])
    if value is None or (positive and value <= 0):
        raise SlAfterError(f"{found[0]} must be a {'positive ' if positive else ''}number")
    return value


def _regime(raw: Mapping[str, Any], surface: str, labels: Sequence[str]) -> dict[str, float]:
    try:
        block = parse_regime_atr_block(
            {TREND_REGIME_KEY: raw[TREND_REGIME_KEY]}, "sl_after", surface, labels
        )
    except RegimeATRError as exc:
        raise SlAfterError(str(exc)) from exc
    return {label: e.atr_multiple for label, e in block.entries.items()}


def _only(raw: Mapping[str, Any], allowed: Iterable[str]) -> None:
    extra = sorted(set(raw) - set(allowed))
    if extra:
        raise SlAfterError(f"sl_after: unknown key(s) {extra}")


def _offset(raw: Mapping[str, Any], labels: Sequence[str]) -> PostTPRule:
    _only(raw, ("kind", "atr_mult", "atr_offset", TREND_REGIME_KEY))
    scalar = _mult(raw, ("atr_mult", "atr_offset"), positive=False)
    if (scalar is None) == (TREND_REGIME_KEY not in raw):
        raise SlAfterError("atr_offset needs either atr_mult or trend_regime (not both)")
    if scalar is not None:
        return PostTPRule("atr_offset", atr_mult=scalar)
    return PostTPRule("atr_offset", by_regime=_regime(raw, "sl_after", labels))


def _trail(raw: Mapping[str, Any], labels: Sequence[str]) -> PostTPRule:
    _only(raw, ("kind", "atr_mult", "trail_atr_mult", TREND_REGIME_KEY, "tp_atr_fraction"))
    scalar = _mult(raw, ("atr_mult", "trail_atr_mult"), positive=True)
    forms = [scalar is not None, TREND_REGIME_KEY in raw, "tp_atr_fraction" in raw]
    if sum(forms) != 1:
        raise SlAfterError(
            "trail_from_here needs exactly one of atr_mult, trend_regime, tp_atr_fraction"
        )
    if scalar is not None:
        return PostTPRule("trail_from_here", atr_mult=scalar)
    if TREND_REGIME_KEY in raw:
        return PostTPRule("trail_from_here", by_regime=_regime(raw, "sl_after_trail", labels))
    share = raw["tp_atr_fraction"]
    if isinstance(share, Mapping):
        _only(share, (TREND_REGIME_KEY,))
        block = share.get(TREND_REGIME_KEY)
        if not isinstance(block, Mapping):
            raise SlAfterError("tp_atr_fraction.trend_regime must be an object")
        try:
            check_labels(block, labels, "sl_after.tp_atr_fraction")
        except RegimeATRError as exc:
            raise SlAfterError(str(exc)) from exc
        fractions = {}
        for label, value in block.items():
            f = opt_num(value)
            if f is None or f <= 0:
                raise SlAfterError(f"tp_atr_fraction for {label} must be > 0")
            fractions[str(label)] = f
        return PostTPRule("trail_from_here", by_regime=fractions, fraction_by_regime=True)
    f = opt_num(share)
    if f is None or f <= 0:
        raise SlAfterError("tp_atr_fraction must be > 0")
    return PostTPRule("trail_from_here", tp_atr_fraction=f)


def parse_sl_after(raw: Any, labels: Sequence[str] = LABELS_ADX) -> PostTPRule | None:
    """Parse one ``sl_after`` value; ``None``/``""`` mean no move. Raises :class:`SlAfterError`."""
    if raw is None or raw == "":
        return None
    if isinstance(raw, str):
        if raw.strip().lower() == "breakeven":
            return PostTPRule("breakeven")
        raise SlAfterError(f"unknown sl_after {raw!r}")
    if not isinstance(raw, Mapping):
        raise SlAfterError("sl_after must be a string or an object")
    if "kind" in raw:
        kind = text(raw["kind"]).lower()
        if kind == "breakeven":
            _only(raw, ("kind",))
            return PostTPRule("breakeven")
        if kind == "atr_offset":
            return _offset(raw, labels)
        if kind == "trail_from_here":
            inner = raw.get("trail_from_here")
            return _trail(inner if isinstance(inner, Mapping) else raw, labels)
        raise SlAfterError(f"unknown sl_after kind {raw['kind']!r} (known: {list(KINDS)})")
    if "trail_from_here" in raw:
        _only(raw, ("trail_from_here",))
        inner = raw["trail_from_here"]
        if not isinstance(inner, Mapping):
            raise SlAfterError("trail_from_here must be an object")
        return _trail(inner, labels)
    return _offset(raw, labels)


def compute_post_tp_stop_loss_trigger(
    rule: PostTPRule | None,
    side: str,
    avg_cost: float,
    entry_atr: float,
    mark: float,
    regime: str = "",
    tier_multiple: float | None = None,
) -> float | None:
    """New stop price for ``rule`` (None: no move). The caller keeps the tighter of old and new."""
    held_side = norm_side(side)
    avg_cost, entry_atr, mark = num(avg_cost), num(entry_atr), num(mark)
    if rule is None or held_side is None or avg_cost <= 0:
        return None
    sign = 1.0 if held_side == "long" else -1.0
    if rule.kind == "breakeven":
        price = avg_cost
    else:
        m = rule.multiple(regime, tier_multiple)
        if m is None or entry_atr <= 0:
            return None
        if rule.kind == "atr_offset":
            price = avg_cost + sign * m * entry_atr
        else:
            if m <= 0 or mark <= 0:
                return None
            price = mark - sign * m * entry_atr
    return price if price > 0 else None


def find_highest_cleared_tier(
    fractions: Sequence[float], closed_qty: float, initial_qty: float
) -> int:
    """Index of the highest tier whose cumulative fraction has been closed (-1: none).

    The last tier's threshold counts as 1.0, as on the engine side.
    """
    initial = num(initial_qty)
    if initial <= 0 or not fractions:
        return -1
    done = num(closed_qty) / initial
    return highest_reached([*fractions[:-1], 1.0], done, slack=TIER_EPS)
