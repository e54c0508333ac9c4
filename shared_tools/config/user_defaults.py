"""``user_defaults.close``: the operator's own take-profit tiers, injected at load.

Upstream resolves a close evaluator's tiers in three layers (reference C.1): the evaluator's
system default, then ``user_defaults.close[<evaluator>]``, then the ``tp_tiers`` written on the
close ref itself. It does this by injection while loading, before validation, and again on the
new file at SIGHUP; so does this module (:func:`inject_close_defaults` runs in
:func:`shared_tools.config.strategy.parse_strategy` right after the manual auto-config, before
the trading keys are checked, and a reload re-runs the whole loader).

Only the evaluators with a plain tier table take defaults (:data:`ELIGIBLE`); each entry carries
only ``tp_tiers``. ``trailing_tp_ratchet_regime`` may also carry ``trailing_stop_atr_regime``: a
regime trail injected into a ratchet-regime strategy that has no explicit stop owner. That
strategy key belongs to the regime ATR stops; while its schema row is not built, such an entry
is refused (exit 78) rather than accepted and ignored.

Where a value came from is recorded per strategy (``StrategyConfig.sources``) so
``go-trader inspect`` can show each effective value with its source
(:mod:`shared_tools.config.effective`).
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass, field
from typing import Any

from shared_tools.config.regime_keys import check_regime_atr_block
from shared_tools.text import show

__all__ = [
    "ELIGIBLE",
    "CloseDefaults",
    "UserDefaults",
    "close_defaults",
    "inject_close_defaults",
    "manual_sources",
    "user_defaults",
]

ELIGIBLE = (
    "tiered_tp_pct",
    "tiered_tp_atr",
    "tiered_tp_atr_live",
    "trailing_tp_ratchet",
    "trailing_tp_ratchet_regime",
)
RATCHET_REGIME = "trailing_tp_ratchet_regime"
REGIME_TRAIL = "trailing_stop_atr_regime"
ALIASES = {"tp_at_pct": "tiered_tp_pct"}  # the registry's deprecated alias
# The keys that make a strategy own its stop (upstream's "explicit stop owner").
STOP_OWNERS = (
    "stop_loss_pct",
    "stop_loss_margin_pct",
    "stop_loss_atr_mult",
    "trailing_stop_pct",
    "trailing_stop_atr_mult",
    "stop_loss_atr_regime",
    "trailing_stop_atr_regime",
)
MAX_TIERS = 32


@dataclass(frozen=True)
class CloseDefaults:
    """``user_defaults.close``: evaluator name -> its default params (``tp_tiers`` and, for
    the ratchet-regime evaluator, ``trailing_stop_atr_regime``)."""

    by_evaluator: dict[str, dict[str, Any]] = field(default_factory=dict)

    def get(self, name: str) -> dict[str, Any]:
        return self.by_evaluator.get(ALIASES.get(name, name), {})


@dataclass(frozen=True)
class UserDefaults:
    """What ``user_defaults`` supplies beyond :class:`ManualDefaults`: the close tiers, and which
    ``user_defaults.manual`` keys the operator set (so a filled-in value names its source)."""

    close: CloseDefaults = field(default_factory=CloseDefaults)
    manual_set: frozenset[str] = frozenset()


def user_defaults(raw: Any, label: str, errors: list[str]) -> UserDefaults:
    """The ``user_defaults`` section's ``close`` part checked, and the manual keys it sets.

    (``manual`` itself is checked by :func:`shared_tools.config.manual.manual_defaults`; a
    ``regime_atr`` step goes next to this one.)"""
    if not isinstance(raw, dict):
        return UserDefaults()  # manual_defaults reports a non-object section
    manual = raw.get("manual")
    manual_set = frozenset(manual) if isinstance(manual, dict) else frozenset()
    close = close_defaults(raw.get("close"), f"config {label}: user_defaults", errors)
    return UserDefaults(close, manual_set)


# A manual strategy's filled-in key -> the user_defaults.manual key that supplies it.
MANUAL_SUPPLIES = {
    "margin_per_trade_usd": "margin_usd",
    "stop_loss_atr_mult": "stop_loss_atr_mult",
    "close_strategies[0].tp_tiers": "tp_tiers",
}


def manual_sources(
    before: dict[str, Any], after: dict[str, Any], user: UserDefaults
) -> dict[str, str]:
    """Where each value the manual auto-config filled in came from (``user_defaults`` when
    ``user_defaults.manual`` sets it, else ``default``)."""
    out: dict[str, str] = {}
    for key, manual_key in MANUAL_SUPPLIES.items():
        top = key.split("[")[0]
        if before.get(top) is not None or after.get(top) is None:
            continue
        out[key] = "user_defaults" if manual_key in user.manual_set else "default"
    return out


def close_defaults(raw: Any, where: str, errors: list[str]) -> CloseDefaults:
    """``user_defaults.close`` checked; ``where`` is ``config <file>: user_defaults``."""
    if raw is None:
        return CloseDefaults()
    where += ".close"
    if not isinstance(raw, dict):
        errors.append(f'{where} must be an object like {{"tiered_tp_atr": {{"tp_tiers": [...]}}}}')
        return CloseDefaults()
    out: dict[str, dict[str, Any]] = {}
    for name, entry in raw.items():
        at = f"{where}.{name}"
        if name not in ELIGIBLE:
            errors.append(
                f"{where}: {show(name)} takes no defaults (only {', '.join(ELIGIBLE)}); remove it"
            )
            continue
        if not isinstance(entry, dict):
            errors.append(f'{at} must be an object like {{"tp_tiers": [...]}}, got {show(entry)}')
            continue
        allowed = ("tp_tiers", REGIME_TRAIL) if name == RATCHET_REGIME else ("tp_tiers",)
        extra = [k for k in entry if k not in allowed]
        if extra:
            errors.append(f"{at}: only {' and '.join(allowed)} may be set; remove {show(extra[0])}")
            continue
        checked: dict[str, Any] = {}
        if "tp_tiers" in entry:
            tiers = _canonical(name, entry["tp_tiers"])
            problem = _tiers_problem(name, tiers)
            if problem:
                errors.append(f"{at}.tp_tiers {problem}")
                continue
            checked["tp_tiers"] = tiers
        if REGIME_TRAIL in entry:
            # the shape here; the labels against each receiving strategy's window at injection
            _table, problems = check_regime_atr_block(REGIME_TRAIL, entry[REGIME_TRAIL], None)
            if problems:
                errors.extend(f"{at}.{p}" for p in problems)
                continue
            checked[REGIME_TRAIL] = copy.deepcopy(entry[REGIME_TRAIL])
        out[name] = checked
    return CloseDefaults(out)


# Older tier spellings (as the v15 migration renames them in close refs): the evaluators read
# only the canonical keys, so an injected table must carry them.
_TIER_ALIASES = {"atr": "atr_multiple", "multiple": "atr_multiple", "fraction": "close_fraction"}


def _canonical(name: str, tiers: Any) -> Any:
    """A deep copy of ``tiers`` with the older key spellings renamed (a canonical key wins)."""
    if isinstance(tiers, dict):
        return {label: _canonical(name, ladder) for label, ladder in tiers.items()}
    if not isinstance(tiers, list):
        return copy.deepcopy(tiers)
    aliases = dict(_TIER_ALIASES)
    if name == "tiered_tp_pct":
        aliases = {"pct": "profit_pct", "fraction": "close_fraction"}
    out: list[Any] = []
    for tier in tiers:
        if isinstance(tier, dict):
            tier = {
                aliases.get(k, k) if aliases.get(k, k) not in tier else k: v
                for k, v in tier.items()
            }
        out.append(copy.deepcopy(tier))
    return out


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _tiers_problem(name: str, tiers: Any) -> str:
    """Why ``tiers`` is not a usable tier table for evaluator ``name`` ("" when it is)."""
    if name == RATCHET_REGIME and isinstance(tiers, dict):  # a ladder per regime label
        if not tiers:
            return "must not be empty"
        for label, ladder in tiers.items():
            problem = _tiers_problem("trailing_tp_ratchet", ladder)
            if problem:
                return f"[{show(label)}] {problem}"
        return ""
    trigger = "profit_pct" if name == "tiered_tp_pct" else "atr_multiple"
    example = f'[{{"{trigger}": 2.0, "close_fraction": 0.5}}]'
    if not isinstance(tiers, list) or not tiers or len(tiers) > MAX_TIERS:
        return f"must be a list of 1 to {MAX_TIERS} tiers like {example}, got {show(tiers)}"
    ratchet = name.startswith("trailing_tp_ratchet")
    for tier in tiers:
        if not isinstance(tier, dict) or not _number(tier.get(trigger)) or tier[trigger] <= 0:
            return f"items need {trigger} > 0, like {example}; got {show(tier)}"
        frac = tier.get("close_fraction")
        if frac is None and ratchet:
            continue
        if not _number(frac) or not 0 <= frac <= 1:
            return f"items need close_fraction in [0, 1], like {example}; got {show(tier)}"
    return ""


def _refs(entry: dict[str, Any]) -> list[tuple[str, int | None]]:
    """(key, index) of every close ref in a strategy entry."""
    out: list[tuple[str, int | None]] = []
    if isinstance(entry.get("close_strategy"), (str, dict)):
        out.append(("close_strategy", None))
    closes = entry.get("close_strategies")
    if isinstance(closes, list):
        out.extend(("close_strategies", i) for i in range(len(closes)))
    return out


def inject_close_defaults(
    entry: dict[str, Any], defaults: CloseDefaults, sources: dict[str, str]
) -> dict[str, Any]:
    """``entry`` (a copy when changed) with ``user_defaults.close`` filled into its close refs.

    A ref of an eligible evaluator without ``tp_tiers`` gets the user's tiers (an explicit
    ``tp_tiers`` wins); a ratchet-regime strategy with no stop owner gets the user's regime
    trail. Each value injected is recorded in ``sources`` as ``user_defaults``.
    """
    if not defaults.by_evaluator:
        return entry
    out = dict(entry)
    for key, index in _refs(entry):
        ref = out[key] if index is None else out[key][index]
        name = ref if isinstance(ref, str) else ref.get("name")
        params = {} if isinstance(ref, str) else ref.get("params", {})
        user = defaults.get(name) if isinstance(name, str) else {}
        if not isinstance(params, dict) or "tp_tiers" not in user or "tp_tiers" in params:
            continue
        new_ref = {"name": name, "params": {**params, "tp_tiers": copy.deepcopy(user["tp_tiers"])}}
        if not isinstance(ref, str):
            new_ref.update({k: v for k, v in ref.items() if k not in ("name", "params")})
        if index is None:
            out[key] = new_ref
        else:
            out[key] = [*out[key][:index], new_ref, *out[key][index + 1 :]]
        path = key if index is None else f"{key}[{index}]"
        sources[f"{path}.tp_tiers"] = "user_defaults"
    trail = defaults.get(RATCHET_REGIME).get(REGIME_TRAIL)
    no_owner = all(out.get(k) in (None, 0, {}) for k in STOP_OWNERS)
    if trail is not None and _uses(out, RATCHET_REGIME) and no_owner:
        out[REGIME_TRAIL] = copy.deepcopy(trail)
        sources[REGIME_TRAIL] = "user_defaults"
    return out


def _uses(entry: dict[str, Any], evaluator: str) -> bool:
    for key, index in _refs(entry):
        ref = entry[key] if index is None else entry[key][index]
        name = ref if isinstance(ref, str) else ref.get("name")
        if name == evaluator:
            return True
    return False
