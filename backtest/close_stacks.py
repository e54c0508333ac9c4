"""Close stacks for the optimizer's close co-optimisation (``--sweep-close``, upstream #996).

A close stack is everything that closes a position: close evaluator refs plus at most one
engine stop. ``--sweep-close`` backtests every open-param combo with every stack and keeps the
best pair per fold, so the exits are chosen out of sample along with the entry.

The 25 default stacks are upstream's ``DEFAULT_CLOSE_STACK_SPECS``: the baseline (no closes:
the open strategy's opposite signal closes, open-as-close); a stop-loss at 1.5 / 2 / 3 ATR; a
trailing stop at 2 / 2.5 / 3 ATR; ``tiered_tp_atr`` with each of three ladders alone or with a
stop-loss at 1.5 / 2 / 3 ATR; and each ladder with a trailing stop at 2 / 3 ATR.

``--close-stacks-json`` replaces them: a JSON array whose items are either an array of close
refs (names or ``{"name", "params"}``) or an object ``{"label"?, "close_strategies"?, and at
most one of stop_loss_pct, stop_loss_atr_mult, trailing_stop_pct, trailing_stop_atr_mult}``.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

__all__ = ["STOP_KEYS", "CloseStack", "default_stacks", "parse_stacks_json"]

STOP_KEYS = ("stop_loss_pct", "stop_loss_atr_mult", "trailing_stop_pct", "trailing_stop_atr_mult")
LADDERS: dict[str, tuple[tuple[float, float], ...]] = {  # ATR multiple -> cumulative fraction
    "default": ((1.5, 0.40), (3.0, 0.80), (5.0, 1.0)),
    "tight": ((1.0, 0.50), (2.0, 0.80), (3.0, 1.0)),
    "runner": ((2.0, 0.33), (4.0, 0.66), (6.0, 1.0)),
}
SL_ATR = (1.5, 2.0, 3.0)
TRAIL_ATR = (2.0, 2.5, 3.0)
LADDER_TRAIL_ATR = (2.0, 3.0)


@dataclass(frozen=True)
class CloseStack:
    """One candidate exit: close refs and at most one stop (the engine settings it replaces)."""

    label: str
    close_strategies: tuple[dict[str, Any], ...] = ()
    stop_key: str = ""  # one of STOP_KEYS, "" = no stop
    stop_value: float = 0.0

    def overrides(self) -> dict[str, Any]:
        """BacktestSettings fields this stack sets (every close and stop field, so the
        operator's own closes never mix with the stack's)."""
        out: dict[str, Any] = dict.fromkeys(STOP_KEYS)
        if self.stop_key:
            out[self.stop_key] = self.stop_value
        out["close_strategies"] = self.close_strategies
        return out


def _ladder(name: str) -> dict[str, Any]:
    tiers = [{"atr_multiple": m, "close_fraction": f} for m, f in LADDERS[name]]
    return {"name": "tiered_tp_atr", "params": {"tp_tiers": tiers}}


def default_stacks() -> list[CloseStack]:
    """Upstream's 25 default stacks, baseline first."""
    stacks = [CloseStack("baseline")]
    stacks += [CloseStack(f"sl_atr_{m:g}", (), "stop_loss_atr_mult", m) for m in SL_ATR]
    stacks += [CloseStack(f"trail_atr_{m:g}", (), "trailing_stop_atr_mult", m) for m in TRAIL_ATR]
    for name in LADDERS:
        ref = (_ladder(name),)
        stacks.append(CloseStack(f"tp_{name}", ref))
        stacks += [
            CloseStack(f"tp_{name}+sl_atr_{m:g}", ref, "stop_loss_atr_mult", m) for m in SL_ATR
        ]
        stacks += [
            CloseStack(f"tp_{name}+trail_atr_{m:g}", ref, "trailing_stop_atr_mult", m)
            for m in LADDER_TRAIL_ATR
        ]
    return stacks


def _stack(item: Any, n: int, close_ref: Callable[[str], dict[str, Any]]) -> CloseStack:
    where = f"--close-stacks-json item {n}"
    if isinstance(item, list):
        item = {"close_strategies": item}
    if not isinstance(item, dict):
        raise ValueError(f"{where}: must be an array of close refs or an object")
    unknown = sorted(set(item) - {"label", "close_strategies", *STOP_KEYS})
    if unknown:
        raise ValueError(f"{where}: unknown key(s) {', '.join(unknown)}")
    refs = item.get("close_strategies") or []
    if not isinstance(refs, list):
        raise ValueError(f"{where}: close_strategies must be an array")
    try:
        parsed = tuple(close_ref(r if isinstance(r, str) else json.dumps(r)) for r in refs)
    except ValueError as exc:
        raise ValueError(f"{where}: {str(exc).removeprefix('--close-strategy: ')}") from None
    stops = [k for k in STOP_KEYS if item.get(k)]
    if len(stops) > 1:
        raise ValueError(f"{where}: one stop per stack, got {', '.join(stops)}")
    key = stops[0] if stops else ""
    value = item.get(key, 0.0) if key else 0.0
    if key and (isinstance(value, bool) or not isinstance(value, int | float) or value <= 0):
        raise ValueError(f"{where}: {key} must be a positive number")
    label = item.get("label") or "+".join([r["name"] for r in parsed] + ([key] if key else []))
    return CloseStack(str(label or "baseline"), parsed, key, float(value))


def parse_stacks_json(text: str, close_ref: Callable[[str], dict[str, Any]]) -> list[CloseStack]:
    """``--close-stacks-json``: the stacks to sweep (ValueError with one line when bad).

    ``close_ref`` checks one ref as ``--close-strategy`` does (name or JSON text -> ref).
    """
    try:
        items = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValueError(f"--close-stacks-json: invalid JSON ({exc.msg})") from None
    if not isinstance(items, list) or not items:
        raise ValueError("--close-stacks-json: must be a non-empty JSON array of stacks")
    return [_stack(item, n, close_ref) for n, item in enumerate(items, 1)]
