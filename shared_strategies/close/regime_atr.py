"""Per-regime ATR blocks and default ladders (catalogue §4.15), used by the regime evaluators.

Mirrors upstream's Go ``regime_atr`` rules: a block is ``{"use_defaults": true}`` or
``{"trend_regime": {label: {"atr_multiple": m[, "close_fraction": f]}}}``, exhaustive over the
label vocabulary (a bare ``ranging_directional`` covers its ``_up``/``_down`` halves). The
vocabulary itself is :mod:`shared_tools.regime`'s.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from shared_tools.regime_labels import (
    DIRECTIONAL_BARE,
    DIRECTIONAL_SUBS,
    LABELS_ADX,
    label_covered,
    lookup_label,
)

TREND_REGIME_KEY = "trend_regime"

REGIME_ATR_DEFAULTS_STOP_LOSS: dict[str, float] = {
    "trending_up": 2.0,
    "trending_down": 2.0,
    "ranging": 1.5,
}
REGIME_ATR_DEFAULTS_TRAILING: dict[str, float] = {
    "trending_up": 2.5,
    "trending_down": 2.5,
    "ranging": 2.0,
    "trending_up_clean": 2.5,
    "trending_down_clean": 2.5,
    "trending_up_choppy": 2.25,
    "trending_down_choppy": 2.25,
    "ranging_quiet": 1.0,
    "ranging_volatile": 1.25,
    "ranging_directional": 1.5,
    "ranging_directional_up": 1.5,
    "ranging_directional_down": 1.5,
}
# Per quality group: (atr_multiple, cumulative close_fraction); the last rung is 1.0.
REGIME_TP_TIER_GROUP_DEFAULTS: dict[str, tuple[tuple[float, float], ...]] = {
    "clean": ((2.5, 0.25), (4.0, 0.50), (5.5, 0.75), (7.0, 1.00)),
    "choppy": ((1.5, 0.40), (3.0, 0.80), (5.0, 1.00)),
    "ranging": ((0.5, 0.50), (1.0, 1.00)),
}

SURFACES = (
    "stop_loss",
    "trailing",
    "tp_tier_atr_only",
    "tp_tier_with_frac",
    "sl_after",
    "sl_after_trail",
)
_DEFAULTS_BY_SURFACE = {
    "stop_loss": REGIME_ATR_DEFAULTS_STOP_LOSS,
    "trailing": REGIME_ATR_DEFAULTS_TRAILING,
}


class RegimeATRError(ValueError):
    """A per-regime block that upstream's validator would refuse."""


@dataclass(frozen=True)
class RegimeATREntry:
    atr_multiple: float
    close_fraction: float | None = None


@dataclass(frozen=True)
class RegimeATRBlock:
    entries: dict[str, RegimeATREntry] = field(default_factory=dict)
    use_defaults: bool = False

    def resolve(self, label: str) -> RegimeATREntry | None:
        """Exact label, else the bare ``ranging_directional`` entry for its ``_up/_down``."""
        return lookup_label(self.entries, label)


def _finite(value: Any, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise RegimeATRError(f"{what} must be a number, got {value!r}")
    out = float(value)
    if not math.isfinite(out):
        raise RegimeATRError(f"{what} must be finite, got {value!r}")
    return out


def check_labels(keys: Iterable[str], labels: Iterable[str], ctx: str) -> None:
    """Unknown labels and gaps in the vocabulary are errors."""
    keys, labels = list(keys), tuple(labels)
    unknown = [k for k in keys if k not in labels]
    if unknown:
        raise RegimeATRError(f"{ctx}: unknown regime label(s) {unknown} (known: {list(labels)})")
    missing = [lab for lab in labels if not label_covered(keys, lab)]
    if missing:
        raise RegimeATRError(f"{ctx}: regime labels not covered: {missing}")


def parse_regime_atr_block(
    raw: Any,
    ctx: str,
    surface: str,
    labels: Iterable[str] = LABELS_ADX,
) -> RegimeATRBlock:
    """Validate one per-regime block for ``surface``; raise :class:`RegimeATRError` if bad."""
    if surface not in SURFACES:
        raise ValueError(f"unknown regime ATR surface {surface!r}")
    labels = tuple(labels)
    if not isinstance(raw, Mapping):
        raise RegimeATRError(f"{ctx}: expected an object, got {type(raw).__name__}")
    extra = sorted(set(raw) - {"use_defaults", TREND_REGIME_KEY})
    if extra:
        raise RegimeATRError(f"{ctx}: unknown key(s) {extra}")
    if "use_defaults" in raw and TREND_REGIME_KEY in raw:
        raise RegimeATRError(f"{ctx}: use_defaults and trend_regime are exclusive")
    if "use_defaults" in raw:
        if raw["use_defaults"] is not True:
            raise RegimeATRError(f"{ctx}: use_defaults must be true")
        defaults = _DEFAULTS_BY_SURFACE.get(surface)
        if defaults is None:
            raise RegimeATRError(f"{ctx}: use_defaults is not available for {surface}")
        entries = {lab: RegimeATREntry(defaults[lab]) for lab in labels if lab in defaults}
        return RegimeATRBlock(entries=entries, use_defaults=True)
    block = raw.get(TREND_REGIME_KEY)
    if not isinstance(block, Mapping) or not block:
        raise RegimeATRError(f"{ctx}: trend_regime must be a non-empty object")
    check_labels(block, labels, ctx)
    allowed = (
        {"atr_multiple", "close_fraction"} if surface == "tp_tier_with_frac" else {"atr_multiple"}
    )
    entries: dict[str, RegimeATREntry] = {}
    for label, item in block.items():
        where = f"{ctx}.trend_regime.{label}"
        if not isinstance(item, Mapping):
            raise RegimeATRError(f"{where}: expected an object")
        if "atr" in item:
            raise RegimeATRError(
                f"{where}: the legacy key 'atr' is no longer accepted; use atr_multiple"
            )
        extra = sorted(set(item) - allowed)
        if extra:
            raise RegimeATRError(f"{where}: unknown key(s) {extra}")
        if "atr_multiple" not in item:
            raise RegimeATRError(f"{where}: atr_multiple is required")
        mult = _finite(item["atr_multiple"], f"{where}.atr_multiple")
        if surface != "sl_after" and mult <= 0:
            raise RegimeATRError(f"{where}: atr_multiple must be > 0")
        frac = None
        if "close_fraction" in item:
            frac = _finite(item["close_fraction"], f"{where}.close_fraction")
            if not 0 < frac <= 1:
                raise RegimeATRError(f"{where}: close_fraction must be in (0, 1]")
        entries[str(label)] = RegimeATREntry(mult, frac)
    return RegimeATRBlock(entries=entries)


def regime_close_default_group(label: str) -> str | None:
    """Quality group of a regime label for the default TP ladders (None: no default)."""
    if label.endswith("_clean"):
        return "clean"
    if label.endswith("_choppy"):
        return "choppy"
    if label.startswith("ranging"):
        return "ranging"
    if label.startswith(("trending_up", "trending_down")):
        return "choppy"  # bare ADX trend labels carry no quality; treat as choppy
    return None


def ratchet_close_default_group(label: str) -> str | None:
    """Group for the trailing ratchet's default ladders (ranging labels are split finer)."""
    if label in ("ranging_quiet", "ranging_volatile", DIRECTIONAL_BARE):
        return label
    if label in DIRECTIONAL_SUBS:
        return DIRECTIONAL_BARE
    if label == "ranging":
        return "ranging_quiet"
    return regime_close_default_group(label)


def validate_unified_regime_close(
    params: Mapping[str, Any], labels: Iterable[str] = LABELS_ADX
) -> None:
    """Config-time check of the unified ``{"trend_regime": {label: {stop_loss_atr, tp_tiers}}}``."""
    extra = sorted(set(params) - {TREND_REGIME_KEY, "atr_source"})
    if extra:
        raise RegimeATRError(f"unified regime close: unknown key(s) {extra}")
    block = params.get(TREND_REGIME_KEY)
    if not isinstance(block, Mapping) or not block:
        raise RegimeATRError("unified regime close: trend_regime must be a non-empty object")
    check_labels(block, labels, "unified regime close")
    for label, item in block.items():
        where = f"trend_regime.{label}"
        if not isinstance(item, Mapping):
            raise RegimeATRError(f"{where}: expected an object")
        extra = sorted(set(item) - {"stop_loss_atr", "tp_tiers"})
        if extra:
            raise RegimeATRError(f"{where}: unknown key(s) {extra}")
        if (
            "stop_loss_atr" not in item
            or _finite(item["stop_loss_atr"], f"{where}.stop_loss_atr") <= 0
        ):
            raise RegimeATRError(f"{where}: stop_loss_atr is required and must be > 0")
        tiers = item.get("tp_tiers")
        if not isinstance(tiers, list) or len(tiers) < 2:
            raise RegimeATRError(f"{where}: tp_tiers must be a list of at least 2 tiers")
        for n, tier in enumerate(tiers):
            at = f"{where}.tp_tiers[{n}]"
            if not isinstance(tier, Mapping):
                raise RegimeATRError(f"{at}: expected an object")
            extra = sorted(set(tier) - {"atr_multiple", "close_fraction", "sl_after"})
            if extra:
                raise RegimeATRError(f"{at}: unknown key(s) {extra}")
            if _finite(tier.get("atr_multiple"), f"{at}.atr_multiple") <= 0:
                raise RegimeATRError(f"{at}: atr_multiple must be > 0")
            frac = _finite(tier.get("close_fraction"), f"{at}.close_fraction")
            if not 0 < frac <= 1:
                raise RegimeATRError(f"{at}: close_fraction must be in (0, 1]")
            rule = tier.get("sl_after")
            if isinstance(rule, Mapping) and TREND_REGIME_KEY in rule:
                # inside a per-regime block the rule is already per regime: scalar form only
                raise RegimeATRError(f"{at}: sl_after must be a scalar (non-regime) rule here")
