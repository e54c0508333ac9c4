"""Registry of entry ("open") strategies.

Each strategy is a pure function ``fn(df, **params) -> DataFrame`` returning an
int ``signal`` column in {-1, 0, 1} (an *event* on the bar where a condition
starts) plus float indicator columns, indexed like ``df``.  Strategies register
themselves with the :func:`~shared_strategies.open.specs.register` decorator
(re-exported here); this module imports every strategy module, and the rest of
the system looks them up here by name and platform.

Closed-bar contract: the signal at row ``i`` depends only on rows ``<= i``, so
appending bars never changes an earlier signal.

``python -m shared_strategies.open.registry --list-json [--platform P]`` prints
one JSON array describing every strategy (used by the supervisor / UI).
"""

from __future__ import annotations

import argparse
import functools
import inspect
import json
import sys
from collections.abc import Callable, Mapping
from dataclasses import replace
from typing import Any

import numpy as np
import pandas as pd

# Strategy modules register themselves on import, into the store in ``specs``; the import
# order is the registration order ``names()`` reports, so it is kept by hand.
# isort: off
from shared_strategies.open import adaptive  # noqa: F401
from shared_strategies.open import mtf_momentum  # noqa: F401
from shared_strategies.open import funding  # noqa: F401
from shared_strategies.open import spot_classic  # noqa: F401
from shared_strategies.open import structure  # noqa: F401
from shared_strategies.open import chart_pattern  # noqa: F401
from shared_strategies.open import amd_ifvg  # noqa: F401
from shared_strategies.open import trend  # noqa: F401
from shared_strategies.open import anchored_vwap  # noqa: F401
from shared_strategies.open import pro  # noqa: F401
from shared_strategies.open import analog_retrieval  # noqa: F401

# isort: on
from shared_strategies.open.specs import SPECS as _SPECS
from shared_strategies.open.specs import VARIANTS as _VARIANTS
from shared_strategies.open.specs import StrategySpec, register

__all__ = [
    "StrategySpec",
    "UnknownStrategyError",
    "ensure_live",
    "evaluate",
    "get",
    "list_json",
    "merged_params",
    "names",
    "register",
    "signals",
]


# Framework position keys upstream strips from params before calling an open strategy.
POSITION_CONTEXT = frozenset(
    {"side", "avg_cost", "current_quantity", "initial_quantity", "entry_atr", "regime"}
)


class UnknownStrategyError(ValueError):
    """Raised for a strategy name that is not registered for the requested platform."""


def names(platform: str = "spot") -> list[str]:
    """Names of the strategies available on ``platform``, in registration order."""
    return [n for n, spec in _SPECS.items() if platform in spec.platforms]


def get(name: str, platform: str = "spot") -> StrategySpec:
    """Spec for ``name`` on ``platform`` with that platform's default params."""
    spec = _SPECS.get(name)
    if spec is None or platform not in spec.platforms:
        known = ", ".join(names(platform)) or "none"
        raise UnknownStrategyError(
            f"unknown strategy {name!r} for platform {platform} (known: {known})"
        )
    overrides = _VARIANTS[name].get(platform)
    if overrides:
        spec = replace(spec, default_params={**spec.default_params, **overrides})
    else:
        spec = replace(spec, default_params=dict(spec.default_params))
    return spec


def _coerce(key: str, default: Any, value: Any) -> Any:
    """Keep numeric params in the default's type (JSON gives 20.0 for 20, 3 for 3.0)."""
    numeric = (int, float)
    if isinstance(default, bool) or isinstance(value, bool):
        return value
    if isinstance(default, int) and isinstance(value, float):
        if not value.is_integer():
            raise ValueError(f"param {key!r} must be an integer, got {value!r}")
        return int(value)
    if isinstance(default, float) and isinstance(value, numeric):
        return float(value)
    return value


@functools.cache
def _keyword_params(fn: Callable[..., pd.DataFrame]) -> frozenset[str]:
    """Names ``fn`` accepts as keyword arguments (besides the frame)."""
    kinds = (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)
    params = list(inspect.signature(fn).parameters.values())[1:]
    return frozenset(p.name for p in params if p.kind in kinds)


def merged_params(
    name: str, params: Mapping[str, Any] | None = None, platform: str = "spot"
) -> dict[str, Any]:
    """Platform defaults overlaid with ``params``; unknown keys and broken constraints raise."""
    spec = get(name, platform)
    defaults = spec.default_params
    params = {k: v for k, v in dict(params or {}).items() if k not in POSITION_CONTEXT}
    # Like upstream, a key outside the registered defaults is accepted when the strategy's
    # function takes it by name (e.g. momentum_pro's vol_target_*); anything else is a typo.
    optional = _keyword_params(spec.fn) - set(defaults)
    unknown = sorted(set(params) - set(defaults) - optional)
    if unknown:
        raise ValueError(
            f"unknown param(s) {', '.join(map(repr, unknown))} for strategy {name!r} "
            f"(valid: {', '.join([*defaults, *sorted(optional)])})"
        )
    merged = {k: _coerce(k, v, params[k]) if k in params else v for k, v in defaults.items()}
    merged.update({k: v for k, v in params.items() if k in optional})
    for constraint in spec.constraints:
        problem = constraint.violation(merged, name)
        if problem:
            raise ValueError(problem)
    return merged


def ensure_live(name: str) -> None:
    """Refuse a backtest-only strategy in a live or paper check (upstream does the same)."""
    spec = _SPECS.get(name)
    if spec is not None and spec.status == "backtest_only":
        raise ValueError(f"strategy {name!r} is backtest-only; it cannot run in a live check")


def _run(name: str, df: pd.DataFrame, params, platform: str) -> pd.DataFrame:
    spec = get(name, platform)
    out = spec.fn(df, **merged_params(name, params, platform))
    if "signal" not in out.columns or not out.index.equals(df.index):
        raise RuntimeError(f"strategy {name!r} must return a 'signal' column indexed like df")
    return out


def _signal_column(name: str, raw: pd.Series) -> pd.Series:
    """The int64 signal (NaN -> 0), refused unless every value is -1, 0 or 1."""
    values = raw.to_numpy()
    if values.dtype.kind == "f":
        values = np.nan_to_num(values, nan=0.0)
    values = values.astype("int64", copy=False)
    if values.size and (values.min() < -1 or values.max() > 1):
        raise RuntimeError(f"strategy {name!r} produced signals outside {{-1, 0, 1}}")
    if raw.dtype.kind == "f" and not np.array_equal(values, np.nan_to_num(raw.to_numpy())):
        raise RuntimeError(f"strategy {name!r} produced signals outside {{-1, 0, 1}}")
    return pd.Series(values, index=raw.index, name="signal")


def evaluate(
    name: str,
    df: pd.DataFrame,
    params: Mapping[str, Any] | None = None,
    platform: str = "spot",
) -> pd.DataFrame:
    """Run a strategy: int ``signal`` in {-1, 0, 1} plus float indicator columns."""
    out = _run(name, df, params, platform)
    columns = {
        col: _signal_column(name, out[col]) if col == "signal" else out[col].astype("float64")
        for col in out.columns
    }
    return pd.DataFrame(columns, index=out.index)


def signals(
    name: str,
    df: pd.DataFrame,
    params: Mapping[str, Any] | None = None,
    platform: str = "spot",
) -> pd.Series:
    """Just the ``signal`` column of :func:`evaluate` (int64), without converting the rest."""
    return _signal_column(name, _run(name, df, params, platform)["signal"])


def list_json(platform: str | None = None, *, include_all: bool = False) -> list[dict[str, Any]]:
    """JSON-ready descriptions; ``platform=None`` lists all with base defaults.

    Deprecated, hidden and backtest-only strategies are left out of discovery unless
    ``include_all`` (they still load by name).
    """
    selected = list(_SPECS) if platform is None else names(platform)
    rows = []
    for n in selected:
        spec = _SPECS[n] if platform is None else get(n, platform)
        if spec.status != "visible" and not include_all:
            continue
        rows.append(
            {
                "id": spec.name,
                "short_name": spec.short_name,
                "description": spec.description,
                "platforms": list(spec.platforms),
                "default_params": dict(spec.default_params),
                "constraints": [c.expr for c in spec.constraints],
                "ranges": {k: list(v) for k, v in spec.ranges.items()},
                "status": spec.status,
                "can_short": spec.can_short,
                "needs_pair": spec.needs_pair,
            }
        )
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m shared_strategies.open.registry", description="List open strategies."
    )
    parser.add_argument("--list-json", action="store_true", help="print a JSON array to stdout")
    parser.add_argument("--platform", default=None, help="only strategies for this platform")
    parser.add_argument(
        "--all", action="store_true", help="include deprecated, hidden and backtest-only ones"
    )
    args = parser.parse_args(argv)
    rows = list_json(args.platform, include_all=args.all)
    if args.list_json:
        sys.stdout.write(json.dumps(rows) + "\n")
    else:
        for row in rows:
            print(f"{row['id']:<18} {row['short_name']:<9} {row['description']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
