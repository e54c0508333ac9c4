"""Open/close composition for the signal checks (catalogue §5).

A strategy on the open/close model has one *open* strategy (an entry rule from the open
registry) and close refs (close evaluators from the close registry, or open strategies used as
closes). Each cycle the check runs the open strategy once, asks every close ref what fraction of
the held position to close now, and composes the legacy ``signal`` the scheduler executes:

* some close fraction > 0: ``-1`` holding long, ``+1`` holding short (``close_fraction`` says
  how much), ``0`` when flat;
* otherwise, holding: ``0`` (no adds, no same-step reversal);
* otherwise, flat: the open signal.

``--strategy-refs`` is ``{"open": {"name", "params"}, "closes": [{"name", "params"}, ...]}``.
"""

from __future__ import annotations

import json
import math
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from shared_strategies.close import registry as _close_registry
from shared_strategies.open import registry as open_registry

POSITION_SIDES = ("", "long", "short")
# position flag (argparse dest) -> the close evaluators' position key (§4.1)
POSITION_FLAGS: tuple[tuple[str, str], ...] = (
    ("position_avg_cost", "avg_cost"),
    ("position_qty", "current_quantity"),
    ("position_initial_qty", "initial_quantity"),
    ("position_entry_atr", "entry_atr"),
)


class _NoCloseRegistry:
    """Stand-in with no close evaluators: every close ref is open-as-close."""

    class UnknownCloseStrategy(ValueError):
        pass

    @staticmethod
    def names(platform: str = "spot") -> list[str]:
        return []

    @staticmethod
    def canonical(name: str) -> str:
        return _close_registry.canonical(name)

    @classmethod
    def evaluate(cls, name: str, position: dict, market: dict, params: dict | None = None) -> dict:
        raise cls.UnknownCloseStrategy(f"Unknown close strategy: {name}")


def close_registry() -> Any:
    """The close-evaluator registry (tests replace this function)."""
    return _close_registry


def _unknown_close_error() -> type[Exception]:
    reg = close_registry()
    return getattr(reg, "UnknownCloseStrategy", ValueError)


def canonical_close_name(name: str) -> str:
    """Deprecated alias -> canonical name (``tp_at_pct`` -> ``tiered_tp_pct``)."""
    canonical = getattr(close_registry(), "canonical", _close_registry.canonical)
    return canonical(name)


# --------------------------------------------------------------------------- refs


@dataclass(frozen=True)
class StrategyRefs:
    """Parsed ``--strategy-refs``: open name/params and the close names in order."""

    open_name: str = ""
    open_params: dict[str, Any] | None = None
    close_names: tuple[str, ...] = ()
    close_params: dict[str, dict[str, Any]] = field(default_factory=dict)


def parse_strategy_refs(raw: str | None) -> StrategyRefs | None:
    """Parse the refs JSON (None when absent); malformed JSON or shapes raise ValueError.

    Close items that are not objects or have a blank name are skipped (upstream's rule);
    empty params are dropped so the registry defaults apply.
    """
    if raw is None or not str(raw).strip():
        return None
    try:
        doc = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise ValueError(f"--strategy-refs is not valid JSON: {exc.msg}") from None
    if not isinstance(doc, dict):
        raise ValueError("--strategy-refs must be a JSON object")
    opened = doc.get("open") or {}
    if not isinstance(opened, dict):
        raise ValueError("--strategy-refs open must be an object")
    open_name = str(opened.get("name") or "").strip()
    open_params = opened.get("params") or None
    if open_params is not None and not isinstance(open_params, dict):
        raise ValueError("--strategy-refs open.params must be an object")
    closes = doc.get("closes") or []
    if not isinstance(closes, list):
        raise ValueError("--strategy-refs closes must be a list")
    names: list[str] = []
    params: dict[str, dict[str, Any]] = {}
    for item in closes:
        if not isinstance(item, dict):
            continue
        name = str(item.get("name") or "").strip()
        if not name:
            continue
        names.append(name)
        p = item.get("params")
        if p:
            if not isinstance(p, dict):
                raise ValueError(f"--strategy-refs close {name!r} params must be an object")
            params[name] = dict(p)
    return StrategyRefs(open_name, open_params, tuple(names), params)


def position_context(ns: Any) -> dict[str, Any]:
    """The close evaluators' ``position`` dict from the ``--position-*`` flags that were given."""
    ctx: dict[str, Any] = {}
    side = (getattr(ns, "position_side", None) or "").strip().lower()
    if side:
        ctx["side"] = side
    for dest, key in POSITION_FLAGS:
        value = getattr(ns, dest, None)
        if value is not None:
            ctx[key] = float(value)
    regime = (getattr(ns, "position_regime", None) or "").strip()
    if regime:
        ctx["regime"] = regime
    return ctx


# --------------------------------------------------------------------------- pieces


def normalize_signal(value: Any) -> int:
    """int() then sign; anything unreadable (NaN, None, text) is 0 (§1.6)."""
    try:
        number = int(value)
    except (TypeError, ValueError, OverflowError):
        return 0
    return (number > 0) - (number < 0)


def open_action(signal: int) -> str:
    return "long" if signal > 0 else "short" if signal < 0 else "none"


def clamp_fraction(value: Any) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return 0.0
    if not math.isfinite(number):
        return 0.0
    return min(max(number, 0.0), 1.0)


def compose_signal(action: str, close_fraction: float, position_side: str) -> int:
    """§5.3: a close wins; a held position never adds or reverses; flat follows the open."""
    side = (position_side or "").strip().lower()
    if side not in POSITION_SIDES:
        raise ValueError(f"position side must be long or short, got {position_side!r}")
    if clamp_fraction(close_fraction) > 0:
        return -1 if side == "long" else 1 if side == "short" else 0
    if side:
        return 0
    return {"long": 1, "short": -1}.get(action, 0)


@dataclass(frozen=True)
class CloseResult:
    strategy: str
    close_fraction: float
    reason: str = ""


@dataclass
class Evaluation:
    open_strategy: str
    close_strategies: list[str]
    open_frame: pd.DataFrame
    open_signal: int
    closes: list[CloseResult]


def max_close(closes: Sequence[CloseResult]) -> tuple[float, str]:
    """Largest clamped fraction; strict ``>`` so the earliest configured ref wins a tie."""
    best, who = 0.0, ""
    for c in closes:
        fraction = clamp_fraction(c.close_fraction)
        if fraction > best:
            best, who = fraction, c.strategy
    return best, who


# --------------------------------------------------------------------------- evaluation


def validate_close_names(names: Sequence[str], platform: str = "spot") -> None:
    """Each close name must be a close evaluator or an open strategy that may run live."""
    reg = close_registry()
    closes = set(reg.names(platform))
    for name in names:
        if canonical_close_name(name) in closes:
            continue
        try:
            open_registry.get(name, platform)
        except ValueError:
            raise ValueError(
                f"unknown close strategy {name!r}: not a close evaluator "
                f"({', '.join(sorted(closes)) or 'none'}) nor an open strategy on {platform}"
            ) from None
        open_registry.ensure_live(name)


def market_context(
    df: pd.DataFrame, open_frame: pd.DataFrame, atr: float, live_regime: str = ""
) -> dict[str, Any]:
    """``mark_price`` (last close), ``atr`` if > 0, ``regime`` if known, ``avwap`` if the open
    strategy drew one (finite and > 0)."""
    market: dict[str, Any] = {"mark_price": float(df["close"].iloc[-1])}
    if atr > 0:
        market["atr"] = float(atr)
    if live_regime:
        market["regime"] = live_regime
    if "avwap" in open_frame.columns:
        line = float(open_frame["avwap"].iloc[-1])
        if math.isfinite(line) and line > 0:
            market["avwap"] = line
    return market


def evaluate_open_close(
    df: pd.DataFrame,
    open_name: str,
    open_params: Mapping[str, Any] | None,
    close_names: Sequence[str],
    close_params: Mapping[str, Mapping[str, Any]] | None = None,
    *,
    position: Mapping[str, Any] | None = None,
    market: Mapping[str, Any] | None = None,
    platform: str = "spot",
    open_frame: pd.DataFrame | None = None,
    warn: Callable[[str], None] | None = None,
) -> Evaluation:
    """Run the open strategy once and every close ref in order (§5.2).

    ``close_names`` empty -> the open strategy is its own close ("open-as-close").
    ``open_frame`` is the open strategy's result when the caller already has it.
    """
    names = list(close_names) or [open_name]
    close_params = dict(close_params or {})
    position = dict(position or {})
    validate_close_names(names, platform)

    cache: dict[tuple[str, str], pd.DataFrame] = {}

    def run(name: str, params: Mapping[str, Any] | None) -> pd.DataFrame:
        key = (name, json.dumps(params or {}, sort_keys=True, default=str))
        if key not in cache:
            open_registry.ensure_live(name)
            cache[key] = open_registry.evaluate(name, df, params, platform)
        return cache[key]

    if open_frame is not None:
        cache[(open_name, json.dumps(open_params or {}, sort_keys=True, default=str))] = open_frame
    frame = run(open_name, open_params)
    open_signal = normalize_signal(frame["signal"].iloc[-1]) if len(frame) else 0
    if market is None:
        market = {"mark_price": float(df["close"].iloc[-1])}
    market = dict(market)

    reg = close_registry()
    unknown = _unknown_close_error()
    if any(canonical_close_name(n) == "avwap_stop" for n in names) and "avwap" not in market:
        (warn or _stderr)("avwap_stop configured but the open strategy drew no avwap line")

    side = str(position.get("side") or "")
    results: list[CloseResult] = []
    for name in names:
        canonical = canonical_close_name(name)
        if name in close_params:
            params: Mapping[str, Any] | None = close_params[name]
        elif canonical in close_params:
            params = close_params[canonical]
        elif name == open_name:
            params = open_params
        else:
            params = None
        try:
            out = reg.evaluate(name, dict(position), dict(market), dict(params) if params else None)
        except unknown:
            # open-as-close: the open strategy's last signal against the held side (§5.2);
            # its params lose the position keys in merged_params, as upstream strips them
            result = run(name, params)
            signal = normalize_signal(result["signal"].iloc[-1]) if len(result) else 0
            if "close_fraction" in result.columns:
                fraction = clamp_fraction(result["close_fraction"].iloc[-1])
            else:
                fraction = _legacy_fraction(signal, side)
            results.append(CloseResult(name, fraction, f"open_as_close:{name}:{signal}"))
            continue
        results.append(
            CloseResult(name, clamp_fraction(out.get("close_fraction")), str(out.get("reason", "")))
        )
    return Evaluation(open_name, names, frame, open_signal, results)


def _legacy_fraction(signal: int, side: str) -> float:
    side = side.strip().lower()
    if (side == "long" and signal < 0) or (side == "short" and signal > 0):
        return 1.0
    return 0.0


def _stderr(message: str) -> None:
    print(message, file=sys.stderr)


def finalize_decision(
    evaluation: Evaluation, position_side: str, open_signal: int | None = None
) -> dict[str, Any]:
    """The keys a check adds (§5.3). ``open_signal`` is the HTF-filtered one when filtering."""
    signal = evaluation.open_signal if open_signal is None else normalize_signal(open_signal)
    action = open_action(signal)
    fraction, strategy = max_close(evaluation.closes)
    return {
        "open_strategy": evaluation.open_strategy,
        "close_strategies": list(evaluation.close_strategies),
        "open_action": action,
        "close_fraction": fraction,
        "close_strategy": strategy,
        "signal": compose_signal(action, fraction, position_side),
    }
