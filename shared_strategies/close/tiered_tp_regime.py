"""Per-regime ATR take-profit ladders (catalogue §4.6-4.8).

* ``tiered_tp_atr_regime``: ladder of the regime stamped at open, in entry ATRs.
* ``tiered_tp_atr_live_regime``: ladder of the *live* regime (falling back to the stamped one),
  in live ATRs by default; re-resolved every tick.
* ``tiered_tp_atr_live_regime_dynamic``: same Python logic; its ``regime_confirm_cycles`` only
  configures the Go side's hysteresis for on-chain protection (not read here).

Unlike the scalar ladders, the last resolved rung is always forced to close everything (1.0).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from shared_strategies.close._helpers import (
    NOOP_MISSING_POSITION_REGIME,
    NOOP_TIER_RESOLUTION_FAILED,
    Result,
    fmt_g,
    held_or_noop,
    held_with_entry_atr,
    live_atr_or_noop,
    noop,
    opt_num,
    text,
    tier_pair,
    tier_result,
)
from shared_strategies.close.regime_atr import (
    REGIME_TP_TIER_GROUP_DEFAULTS,
    TREND_REGIME_KEY,
    RegimeATRError,
    parse_regime_atr_block,
    regime_close_default_group,
)
from shared_tools.regime_labels import LABELS_ADX, lookup_label

REGIME_DEFAULTS: dict[str, Any] = {}
LIVE_REGIME_DEFAULTS: dict[str, Any] = {"atr_source": "live"}
LIVE_REGIME_DYNAMIC_DEFAULTS: dict[str, Any] = {"atr_source": "live", "regime_confirm_cycles": 2}

_LEGACY_TIER_KEYS = frozenset({TREND_REGIME_KEY, "close_fraction", "sl_after"})


def _finish(pairs: list[tuple[float, float]]) -> list[tuple[float, float]]:
    """Sort by multiple and force the last rung to 1.0 (regime ladders always end flat)."""
    pairs.sort(key=lambda tier: tier[0])
    if pairs:
        pairs[-1] = (pairs[-1][0], 1.0)
    return pairs


def _unified(block: Any, regime: str) -> list[tuple[float, float]]:
    if not isinstance(block, Mapping):
        raise RegimeATRError("trend_regime must be an object")
    entry = lookup_label(block, regime)
    if not isinstance(entry, Mapping) or not isinstance(entry.get("tp_tiers"), list):
        return []
    pairs = []
    for item in entry["tp_tiers"]:
        if not isinstance(item, Mapping):
            continue
        mult, frac = tier_pair(item, "atr_multiple")
        if mult is not None and frac is not None and mult > 0 and frac > 0:
            pairs.append((mult, min(frac, 1.0)))
    return pairs


def _legacy(tiers: Sequence[Any], regime: str, labels: Sequence[str]) -> list[tuple[float, float]]:
    pairs = []
    for n, tier in enumerate(tiers):
        ctx = f"tp_tiers[{n}]"
        if not isinstance(tier, Mapping):
            raise RegimeATRError(f"{ctx}: expected an object")
        extra = sorted(set(tier) - _LEGACY_TIER_KEYS)
        if extra:
            raise RegimeATRError(f"{ctx}: unknown key(s) {extra}")
        block = parse_regime_atr_block(
            {TREND_REGIME_KEY: tier.get(TREND_REGIME_KEY)}, ctx, "tp_tier_with_frac", labels
        )
        per_regime = [e.close_fraction is not None for e in block.entries.values()]
        has_scalar = "close_fraction" in tier
        if has_scalar == any(per_regime) or (any(per_regime) and not all(per_regime)):
            raise RegimeATRError(
                f"{ctx}: give close_fraction either on every regime entry or once on the tier"
            )
        scalar = None
        if has_scalar:
            scalar = opt_num(tier["close_fraction"])
            if scalar is None or not 0 < scalar <= 1:
                raise RegimeATRError(f"{ctx}: close_fraction must be in (0, 1]")
        entry = block.resolve(regime)
        if entry is None:
            raise RegimeATRError(f"{ctx}: no tier for regime {regime!r}")
        frac = entry.close_fraction if entry.close_fraction is not None else scalar
        assert frac is not None
        pairs.append((entry.atr_multiple, frac))
    return pairs


def resolve_tiers_for_regime(
    params: Mapping[str, Any],
    regime: str,
    labels: Sequence[str] = LABELS_ADX,
) -> list[tuple[float, float]]:
    """``(atr_multiple, cumulative fraction)`` ladder for ``regime``; [] when there is none.

    Accepts the unified per-regime block, ``use_defaults: true`` (per quality group), or the
    legacy tier-keyed list; a malformed config raises :class:`RegimeATRError`. Upstream's Python
    evaluator validates legacy blocks against the 3 ADX labels only, so composite-keyed legacy
    blocks fail here, as they do upstream.
    """
    tp_tiers = params.get("tp_tiers")
    if TREND_REGIME_KEY in params:
        pairs = _unified(params[TREND_REGIME_KEY], regime)
    elif params.get("use_defaults") is True:
        if tp_tiers is not None:
            raise RegimeATRError("use_defaults and tp_tiers are exclusive")
        group = regime_close_default_group(regime)
        pairs = list(REGIME_TP_TIER_GROUP_DEFAULTS.get(group or "", ()))
    elif isinstance(tp_tiers, list):
        pairs = _legacy(tp_tiers, regime, labels)
    else:
        pairs = []
    return _finish(pairs)


def _tiers_or_noop(params: Mapping[str, Any], regime: str) -> list[tuple[float, float]] | Result:
    try:
        tiers = resolve_tiers_for_regime(params, regime)
    except (RegimeATRError, TypeError, ValueError):
        return noop(NOOP_TIER_RESOLUTION_FAILED)
    # No ladder for this regime counts as a resolution failure too (nothing to act on).
    return tiers or noop(NOOP_TIER_RESOLUTION_FAILED)


def tiered_tp_atr_regime(
    position: Mapping[str, Any], market: Mapping[str, Any], params: Mapping[str, Any]
) -> Result:
    """Ladder of the regime frozen at open, measured in entry ATRs."""
    got = held_with_entry_atr(position, market)
    if isinstance(got, dict):
        return got
    held, entry_atr = got
    regime = text(position.get("regime"))
    if not regime:
        return noop(NOOP_MISSING_POSITION_REGIME)
    tiers = _tiers_or_noop(params, regime)
    if isinstance(tiers, dict):
        return tiers
    progress = held.profit() / entry_atr
    return tier_result(
        position, tiers, progress, lambda m: f"tiered_tp_atr_regime:{regime}:{fmt_g(m)}"
    )


def _live_regime(
    prefix: str, position: Mapping[str, Any], market: Mapping[str, Any], params: Mapping[str, Any]
) -> Result:
    """Shared body of the live-regime pair; check order: mark, position, regime, ATR, tiers."""
    held = held_or_noop(position, market)
    if isinstance(held, dict):
        return held
    regime, source = text(market.get("regime")), "live"
    if not regime:
        regime, source = text(position.get("regime")), "frozen"
    if not regime:
        return noop("noop:missing_regime")
    live = live_atr_or_noop(position, market, params.get("atr_source"))
    if isinstance(live, dict):
        return live
    atr, label = live
    tiers = _tiers_or_noop(params, regime)
    if isinstance(tiers, dict):
        return tiers
    progress = held.profit() / atr
    return tier_result(
        position,
        tiers,
        progress,
        lambda m: f"{prefix}:atr={label}:regime={source}:{regime}:{fmt_g(m)}",
    )


def tiered_tp_atr_live_regime(
    position: Mapping[str, Any], market: Mapping[str, Any], params: Mapping[str, Any]
) -> Result:
    """Ladder of the live regime (else the stamped one), in live ATRs by default."""
    return _live_regime("tiered_tp_atr_live_regime", position, market, params)


def tiered_tp_atr_live_regime_dynamic(
    position: Mapping[str, Any], market: Mapping[str, Any], params: Mapping[str, Any]
) -> Result:
    """Same as tiered_tp_atr_live_regime; ``regime_confirm_cycles`` is for the Go side only."""
    return _live_regime("tiered_tp_atr_live_regime_dynamic", position, market, params)
