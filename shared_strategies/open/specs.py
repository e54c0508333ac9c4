"""The store of registered entry strategies and the decorator that fills it.

Strategy modules import :func:`register` from here; :mod:`shared_strategies.open.registry`
imports the strategy modules (so they register) and this store (to look them up). Keeping the
store apart breaks the import circle a registry that also defined ``register`` had with every
strategy module.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import pandas as pd

__all__ = ["DEFAULT_PLATFORMS", "SPECS", "VARIANTS", "StrategySpec", "register"]

DEFAULT_PLATFORMS: tuple[str, ...] = ("spot", "perps", "futures")


@dataclass(frozen=True)
class StrategySpec:
    """A registered strategy; ``registry.get`` resolves ``default_params`` for one platform."""

    name: str
    short_name: str
    description: str
    fn: Callable[..., pd.DataFrame]
    default_params: dict
    platforms: tuple[str, ...]
    can_short: bool
    needs_pair: bool


SPECS: dict[str, StrategySpec] = {}
# name -> platform -> param overrides applied on top of the base defaults.
VARIANTS: dict[str, dict[str, dict[str, Any]]] = {}


def register(
    name: str,
    *,
    short: str,
    description: str,
    defaults: Mapping[str, Any],
    platforms: tuple[str, ...] = DEFAULT_PLATFORMS,
    can_short: bool = False,
    needs_pair: bool = False,
    variants: Mapping[str, Mapping[str, Any]] | None = None,
) -> Callable[[Callable[..., pd.DataFrame]], Callable[..., pd.DataFrame]]:
    """Decorator registering ``fn`` under ``name``; returns ``fn`` unchanged.

    ``variants`` maps a platform to default overrides for that platform only
    (e.g. ``{"perps": {"threshold": 3.0}}``); override keys must be existing
    defaults so a variant cannot invent parameters.
    """
    if name in SPECS:
        raise ValueError(f"strategy {name!r} is already registered")
    variants = {p: dict(v) for p, v in (variants or {}).items()}
    for platform, overrides in variants.items():
        extra = sorted(set(overrides) - set(defaults))
        if extra:
            raise ValueError(f"variant {platform!r} of {name!r} sets unknown params {extra}")

    def decorator(fn: Callable[..., pd.DataFrame]) -> Callable[..., pd.DataFrame]:
        SPECS[name] = StrategySpec(
            name=name,
            short_name=short,
            description=description,
            fn=fn,
            default_params=dict(defaults),
            platforms=tuple(platforms),
            can_short=can_short,
            needs_pair=needs_pair,
        )
        VARIANTS[name] = variants
        return fn

    return decorator
