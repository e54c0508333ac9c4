"""The store of registered entry strategies and the decorator that fills it.

Strategy modules import :func:`register` from here; :mod:`shared_strategies.open.registry`
imports the strategy modules (so they register) and this store (to look them up). Keeping the
store apart breaks the import circle a registry that also defined ``register`` had with every
strategy module.
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from shared_tools.strategy_status import status as _status

__all__ = [
    "DEFAULT_PLATFORMS",
    "SPECS",
    "VARIANTS",
    "Constraint",
    "StrategySpec",
    "register",
]

DEFAULT_PLATFORMS: tuple[str, ...] = ("spot", "perps", "futures")
# Upstream's "futures" platform covers both our perps and our futures.
FUTURES_LIKE: tuple[str, ...] = ("perps", "futures")

_OPS: dict[str, Callable[[Any, Any], bool]] = {
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
}
_CONSTRAINT = re.compile(
    r"^\s*([A-Za-z_]\w*)\s*(<=|>=|<|>)\s*([A-Za-z_]\w*|[-+]?\d+(\.\d*)?([eE][-+]?\d+)?)\s*$"
)


@dataclass(frozen=True)
class Constraint:
    """``<param> <op> <param-or-number>``, as upstream writes them (e.g. ``fast_period < slow_period``)."""

    expr: str
    lhs: str
    op: str
    rhs: str | float  # a param name or a literal

    @classmethod
    def parse(cls, expr: str, known: set[str], strategy: str) -> Constraint:
        m = _CONSTRAINT.match(expr)
        if m is None:
            raise ValueError(f"{strategy}: cannot parse constraint {expr!r}")
        lhs, op, rhs_text = m.group(1), m.group(2), m.group(3)
        rhs: str | float = (
            rhs_text if rhs_text[0].isalpha() or rhs_text[0] == "_" else float(rhs_text)
        )
        for name in (lhs, rhs):
            if isinstance(name, str) and name not in known:
                raise ValueError(f"{strategy}: constraint {expr!r} names unknown param {name!r}")
        return cls(" ".join(expr.split()), lhs, op, rhs)

    def violation(self, params: Mapping[str, Any], strategy: str) -> str | None:
        """The upstream error text when ``params`` break this constraint, else None."""
        left = params.get(self.lhs)
        right = params.get(self.rhs) if isinstance(self.rhs, str) else self.rhs
        if left is None or right is None:
            return None  # upstream skips a constraint with an absent operand
        for value in (left, right):
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise ValueError(
                    f"{strategy}: invalid parameters: constraint '{self.expr}' needs numbers, "
                    f"got {value!r}"
                )
        if _OPS[self.op](left, right):
            return None
        shown = f"{self.lhs}={left}"
        if isinstance(self.rhs, str):
            shown += f", {self.rhs}={right}"
        return f"{strategy}: invalid parameters: constraint '{self.expr}' violated ({shown})"


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
    constraints: tuple[Constraint, ...] = ()
    needs_funding: bool = False  # reads a ``funding_rate`` column (perps checks supply it)
    status: str = "visible"  # visible | deprecated | hidden | backtest_only (strategy_status)
    # Optimizer grid: param -> candidate values (backtest/optimizer.py expands the product).
    ranges: dict[str, tuple[Any, ...]] = field(default_factory=dict)


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
    needs_funding: bool = False,
    variants: Mapping[str, Mapping[str, Any]] | None = None,
    constraints: tuple[str, ...] = (),
    ranges: Mapping[str, Sequence[Any]] | None = None,
) -> Callable[[Callable[..., pd.DataFrame]], Callable[..., pd.DataFrame]]:
    """Decorator registering ``fn`` under ``name``; returns ``fn`` unchanged.

    ``variants`` maps a platform to default overrides for that platform only
    (e.g. ``{"perps": {"threshold": 3.0}}``); override keys must be existing
    defaults so a variant cannot invent parameters. ``constraints`` are upstream's
    ``"<param> <op> <param-or-number>"`` strings, checked on every call; a bad one fails
    at import. ``ranges`` maps a default param to the values the optimizer tries (kept in the
    default's type). The status (deprecated, hidden, backtest-only) comes from
    :mod:`shared_tools.strategy_status`.
    """
    if name in SPECS:
        raise ValueError(f"strategy {name!r} is already registered")
    variants = {p: dict(v) for p, v in (variants or {}).items()}
    for platform, overrides in variants.items():
        extra = sorted(set(overrides) - set(defaults))
        if extra:
            raise ValueError(f"variant {platform!r} of {name!r} sets unknown params {extra}")

    known = set(defaults)
    parsed = tuple(Constraint.parse(expr, known, name) for expr in constraints)
    extra = sorted(set(ranges or {}) - known)
    if extra:
        raise ValueError(f"ranges of {name!r} name unknown params {extra}")
    grid = {k: _range_values(name, k, defaults[k], v) for k, v in (ranges or {}).items()}

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
            needs_funding=needs_funding,
            constraints=parsed,
            status=_status(name),
            ranges=grid,
        )
        VARIANTS[name] = variants
        return fn

    return decorator


def _range_values(strategy: str, key: str, default: Any, values: Sequence[Any]) -> tuple[Any, ...]:
    """``values`` checked against the default's type (ints widen to floats); a bad range fails
    at import so a typo never reaches an optimizer run."""
    where = f"{strategy}: range {key!r}"
    if isinstance(values, (str, bytes)) or not values:
        raise ValueError(f"{where} needs a non-empty list of values")
    out = []
    for value in values:
        if isinstance(default, float) and type(value) is int:
            value = float(value)
        if type(value) is not type(default):
            raise ValueError(f"{where} value {value!r} is not of type {type(default).__name__}")
        out.append(value)
    if len(set(out)) != len(out):
        raise ValueError(f"{where} repeats a value")
    return tuple(out)
