"""Registry of close evaluators (catalogue §4).

A close evaluator decides, for an open position, what fraction of the *current* quantity to
close now: ``fn(position, market, params) -> {"close_fraction": float in [0, 1], "reason": str}``.
They are pure functions of plain dicts (no pandas), so a check script can call them cheaply.

``evaluate(name, position, market, params)`` rewrites the deprecated ``tp_at_pct``, merges the
evaluator's defaults under ``params`` and normalises the answer. All evaluators are available on
every platform (spot, perps, futures, options).

``python -m shared_strategies.close.registry --list-json`` prints them with default params.
"""

from __future__ import annotations

import argparse
import copy
import json
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from shared_strategies.close import ratchet, stops, tiered_tp, tiered_tp_regime
from shared_strategies.close._helpers import clamp01, nonneg

__all__ = [
    "PLATFORMS",
    "UnknownCloseStrategy",
    "canonical",
    "default_params",
    "evaluate",
    "list_json",
    "names",
]

Evaluator = Callable[[Mapping[str, Any], Mapping[str, Any], Mapping[str, Any]], dict[str, Any]]

PLATFORMS: tuple[str, ...] = ("spot", "perps", "futures", "options")
DEPRECATED_ALIASES: dict[str, str] = {"tp_at_pct": "tiered_tp_pct"}
TP_AT_PCT_DEFAULT = 0.03


class UnknownCloseStrategy(ValueError):
    """Raised for a name that is not a registered close evaluator (nor a deprecated alias)."""


@dataclass(frozen=True)
class CloseSpec:
    name: str
    fn: Evaluator
    defaults: dict[str, Any]
    description: str


def _specs(*rows: tuple[str, Evaluator, dict[str, Any], str]) -> dict[str, CloseSpec]:
    return {row[0]: CloseSpec(*row) for row in rows}


_SPECS: dict[str, CloseSpec] = _specs(
    (
        "tiered_tp_pct",
        tiered_tp.tiered_tp_pct,
        tiered_tp.PCT_DEFAULTS,
        "Scale out at % profit tiers (cumulative fractions of the initial size)",
    ),
    (
        "tiered_tp_atr",
        tiered_tp.tiered_tp_atr,
        tiered_tp.ATR_DEFAULTS,
        "Scale out at multiples of the entry ATR",
    ),
    (
        "tiered_tp_atr_live",
        tiered_tp.tiered_tp_atr_live,
        tiered_tp.ATR_LIVE_DEFAULTS,
        "Scale out at multiples of the live ATR (entry ATR as fallback)",
    ),
    (
        "tiered_tp_atr_regime",
        tiered_tp_regime.tiered_tp_atr_regime,
        tiered_tp_regime.REGIME_DEFAULTS,
        "ATR take-profit ladder of the regime stamped at open",
    ),
    (
        "tiered_tp_atr_live_regime",
        tiered_tp_regime.tiered_tp_atr_live_regime,
        tiered_tp_regime.LIVE_REGIME_DEFAULTS,
        "ATR take-profit ladder of the live regime, re-resolved each tick",
    ),
    (
        "tiered_tp_atr_live_regime_dynamic",
        tiered_tp_regime.tiered_tp_atr_live_regime_dynamic,
        tiered_tp_regime.LIVE_REGIME_DYNAMIC_DEFAULTS,
        "Live-regime ATR ladder; regime_confirm_cycles drives Go-side hysteresis",
    ),
    (
        "trailing_tp_ratchet",
        ratchet.trailing_tp_ratchet,
        ratchet.RATCHET_DEFAULTS,
        "Tighten the trailing stop (and optionally scale out) at entry-ATR rungs",
    ),
    (
        "trailing_tp_ratchet_regime",
        ratchet.trailing_tp_ratchet_regime,
        ratchet.RATCHET_REGIME_DEFAULTS,
        "Trailing ratchet ladder of the regime stamped at open",
    ),
    (
        "time_stop",
        stops.time_stop,
        stops.TIME_STOP_DEFAULTS,
        "Close after max_bars bars held (backtest only)",
    ),
    (
        "zscore_target",
        stops.zscore_target,
        stops.ZSCORE_TARGET_DEFAULTS,
        "Close when the z-score reaches z_target in our favour (backtest only)",
    ),
    (
        "atr_stop",
        stops.atr_stop,
        stops.ATR_STOP_DEFAULTS,
        "Close when price is atr_mult ATRs against the entry",
    ),
    (
        "avwap_stop",
        stops.avwap_stop,
        stops.AVWAP_STOP_DEFAULTS,
        "Close when price loses the open strategy's anchored VWAP by an ATR buffer",
    ),
)

_warned: set[str] = set()


def _check_platform(platform: str) -> None:
    if platform not in PLATFORMS:
        raise ValueError(f"unknown platform {platform!r} (known: {', '.join(PLATFORMS)})")


def names(platform: str = "spot") -> list[str]:
    """Registered evaluator names on ``platform`` (all of them; the alias is not listed)."""
    _check_platform(platform)
    return list(_SPECS)


def canonical(name: str) -> str:
    """The registered name for ``name`` (``tp_at_pct`` -> ``tiered_tp_pct``); others as given."""
    return DEPRECATED_ALIASES.get(name, name)


def _spec(name: str) -> CloseSpec:
    spec = _SPECS.get(canonical(name))
    if spec is None:
        raise UnknownCloseStrategy(f"Unknown close strategy: {name}. Available: {sorted(_SPECS)}")
    return spec


def default_params(name: str) -> dict[str, Any]:
    """A fresh copy of the evaluator's default params (alias: those of its target)."""
    return copy.deepcopy(_spec(name).defaults)


def _rewrite_tp_at_pct(params: Mapping[str, Any]) -> dict[str, Any]:
    """``tp_at_pct{pct}`` is a one-rung ``tiered_tp_pct`` closing everything at ``pct``."""
    pct = nonneg(params.get("pct"), TP_AT_PCT_DEFAULT)
    out: dict[str, Any] = {"tp_tiers": [{"profit_pct": pct, "close_fraction": 1.0}]}
    if "sl_after" in params:
        out["sl_after"] = params["sl_after"]
    return out


def evaluate(
    name: str,
    position: Mapping[str, Any] | None,
    market: Mapping[str, Any] | None,
    params: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Run close evaluator ``name``: ``{"close_fraction": float in [0, 1], "reason": str}``."""
    params = dict(params or {})
    if name in DEPRECATED_ALIASES:
        if name not in _warned:
            _warned.add(name)
            sys.stderr.write(
                f"warning: close strategy {name!r} is deprecated; "
                f"use {DEPRECATED_ALIASES[name]!r} (rewritten automatically)\n"
            )
        params = _rewrite_tp_at_pct(params)
    spec = _spec(name)
    merged = {**copy.deepcopy(spec.defaults), **params}
    out = spec.fn(dict(position or {}), dict(market or {}), merged)
    out = out if isinstance(out, Mapping) else {}
    try:
        fraction = clamp01(float(out.get("close_fraction")))  # NaN -> 0, inf -> 1
    except (TypeError, ValueError, OverflowError):
        fraction = 0.0
    reason = out.get("reason")
    return {
        "close_fraction": fraction,
        "reason": str(reason) if reason else f"{spec.name}:no_reason",
    }


def list_json(platform: str | None = None, *, include_all: bool = False) -> list[dict[str, Any]]:
    """JSON-ready discovery rows: id, description, platforms, default params, status.

    The deprecated alias ``tp_at_pct`` is listed only with ``include_all`` (it still loads).
    """
    if platform is not None:
        _check_platform(platform)
    aliases: dict[str, list[str]] = {}
    for alias, target in DEPRECATED_ALIASES.items():
        aliases.setdefault(target, []).append(alias)
    rows = [
        {
            "id": spec.name,
            "description": spec.description,
            "platforms": list(PLATFORMS),
            "default_params": copy.deepcopy(spec.defaults),
            "status": "visible",
            "deprecated_aliases": aliases.get(spec.name, []),
        }
        for spec in _SPECS.values()
    ]
    if include_all:
        rows.append(
            {
                "id": "tp_at_pct",
                "description": "Deprecated: one tiered_tp_pct rung closing everything at pct",
                "platforms": list(PLATFORMS),
                "default_params": {"pct": TP_AT_PCT_DEFAULT},
                "status": "deprecated",
                "alias_of": "tiered_tp_pct",
            }
        )
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m shared_strategies.close.registry", description="List close evaluators."
    )
    parser.add_argument("--list-json", action="store_true", help="print a JSON array to stdout")
    parser.add_argument("--platform", default=None, help="only evaluators for this platform")
    parser.add_argument("--all", action="store_true", help="include the deprecated alias tp_at_pct")
    args = parser.parse_args(argv)
    try:
        rows = list_json(args.platform, include_all=args.all)
    except ValueError as exc:
        parser.error(str(exc))
    if args.list_json:
        sys.stdout.write(json.dumps(rows) + "\n")
    else:
        for row in rows:
            sys.stdout.write(f"{row['id']}: {row['description']}\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
