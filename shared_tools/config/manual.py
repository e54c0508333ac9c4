"""``type: manual`` strategies: operator-driven Hyperliquid perps (upstream §4.1 defaults).

A manual strategy never runs a signal check: the operator opens, adds, closes and moves its
stop with ``go-trader manual-*`` (supervisor/ops/manual.py); the daemon books those orders and
keeps the position reconciled and protected like any live perps position. So its entry is a
perps entry with upstream's load-time defaults filled in before the usual checks run:

* ``script`` = ``shared_scripts/check_hyperliquid.py``; ``args`` = ``hold <symbol>
  <timeframe> --mode=live`` built from the ``symbol`` and ``timeframe`` keys (``1h``);
* ``margin_mode`` isolated (the perps default), ``direction`` both (either side may be opened);
* ``stop_loss_atr_mult`` 2.0 when no stop key is set;
* take-profit tiers ``tiered_tp_atr`` [2.0 ATR: half, 3.0 ATR: the rest] when no close is set;
* ``margin_per_trade_usd`` 50: the margin of a ``manual-open`` given no size.

The stop multiple, the tiers and the margin come from ``user_defaults.manual``
(``stop_loss_atr_mult``, ``tp_tiers``, ``margin_usd``) when it sets them; its ``side`` is
``manual-open``'s default side (:class:`ManualDefaults`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from shared_tools.config import schema
from shared_tools.config.checks import unbuilt_key
from shared_tools.text import show

__all__ = [
    "MANUAL",
    "MANUAL_ONLY_KEYS",
    "ManualDefaults",
    "manual_defaults",
    "manual_entry",
    "manual_key_problems",
]

MANUAL = "manual"
MANUAL_ONLY_KEYS = ("symbol", "timeframe")
SCRIPT = "shared_scripts/check_hyperliquid.py"
DEFAULT_TIMEFRAME = "1h"
DEFAULT_STOP_ATR_MULT = 2.0
DEFAULT_MARGIN_USD = 50.0
DEFAULT_TP_TIERS = [
    {"atr_multiple": 2.0, "close_fraction": 0.5},
    {"atr_multiple": 3.0, "close_fraction": 1.0},
]
SIDES = ("long", "short")
MAX_MARGIN_USD = 1e9
MAX_ATR_MULT = 100.0


@dataclass(frozen=True)
class ManualDefaults:
    """``user_defaults.manual``: what a manual strategy or ``manual-open`` leaves unset."""

    side: str = "long"
    margin_usd: float = DEFAULT_MARGIN_USD
    stop_loss_atr_mult: float = DEFAULT_STOP_ATR_MULT
    tp_tiers: list[dict[str, Any]] = field(
        default_factory=lambda: [dict(t) for t in DEFAULT_TP_TIERS]
    )


def manual_defaults(raw: Any, label: str, errors: list[str], warnings: list[str]) -> ManualDefaults:
    """The ``user_defaults`` section's ``manual`` object, checked (upstream's defaults when unset)."""
    where = f"config {label}: user_defaults"
    if raw is None:
        return ManualDefaults()
    if not isinstance(raw, dict):
        errors.append(f'{where} must be an object like {{"manual": {{"side": "long"}}}}')
        return ManualDefaults()
    for key in raw:
        if unbuilt_key("user_defaults", where, key, raw[key], errors, warnings):
            continue  # an unbuilt trading key: refused unless off (checks.py)
        if key not in schema.names("user_defaults"):  # close, regime_atr: their own modules
            warnings.append(f"{where}: unknown key {show(key)}; ignored")
    m = raw.get("manual")
    if m is None:
        return ManualDefaults()
    if not isinstance(m, dict):
        errors.append(f'{where}.manual must be an object like {{"side": "long", "margin_usd": 50}}')
        return ManualDefaults()
    where += ".manual"
    out = ManualDefaults()
    for key in m:
        if key not in ("side", "margin_usd", "stop_loss_atr_mult", "tp_tiers"):
            warnings.append(f"{where}: unknown key {show(key)}; ignored")
    side = m.get("side", out.side)
    if side not in SIDES:
        errors.append(f"{where}.side must be long or short, got {show(side)}")
        side = out.side
    margin = _positive(m, "margin_usd", out.margin_usd, MAX_MARGIN_USD, where, errors)
    mult = _positive(  # 0: manual strategies get no ATR stop (upstream's manual-only opt-out)
        m, "stop_loss_atr_mult", out.stop_loss_atr_mult, MAX_ATR_MULT, where, errors, zero=True
    )
    tiers = m.get("tp_tiers", out.tp_tiers)
    if not (isinstance(tiers, list) and tiers and all(_tier_ok(t) for t in tiers)):
        errors.append(
            f"{where}.tp_tiers must be a non-empty list like "
            '[{"atr_multiple": 2.0, "close_fraction": 0.5}], got ' + show(tiers)
        )
        tiers = out.tp_tiers
    tiers = [dict(t) for t in tiers]
    tiers[-1]["close_fraction"] = 1.0  # upstream: the last tier closes the rest
    return ManualDefaults(side, margin, mult, tiers)


def _positive(
    m: dict[str, Any],
    key: str,
    default: float,
    hi: float,
    where: str,
    errors: list[str],
    *,
    zero: bool = False,
) -> float:
    value = m.get(key, default)
    number = isinstance(value, (int, float)) and not isinstance(value, bool)
    if not (number and (value >= 0 if zero else value > 0) and value <= hi):
        span = f"[0, {hi:g}]" if zero else f"(0, {hi:g}]"
        errors.append(f"{where}.{key} must be a number in {span}, got {show(value)}")
        return default
    return float(value)


def _tier_ok(t: Any) -> bool:
    if not isinstance(t, dict):
        return False
    mult, frac = t.get("atr_multiple"), t.get("close_fraction")
    nums = all(isinstance(x, (int, float)) and not isinstance(x, bool) for x in (mult, frac))
    return nums and mult > 0 and 0 < frac <= 1  # type: ignore[operator]


STOP_FIELDS = (
    "stop_loss_pct",
    "stop_loss_margin_pct",
    "stop_loss_atr_mult",
    "trailing_stop_pct",
    "trailing_stop_atr_mult",
)


def manual_entry(
    raw: dict[str, Any],
    where: str,
    errors: list[str],
    defaults: ManualDefaults | None = None,
) -> dict[str, Any]:
    """``raw`` with the manual defaults filled in (a copy); problems go to ``errors``."""
    d = defaults or ManualDefaults()
    entry = dict(raw)
    platform = entry.get("platform")
    if platform not in (None, "", "hyperliquid"):
        errors.append(
            f"{where}: type manual trades on hyperliquid only; remove platform {show(platform)}"
        )
    entry["platform"] = "hyperliquid"
    entry.setdefault("script", SCRIPT)
    symbol, timeframe = entry.pop("symbol", None), entry.pop("timeframe", None)
    if "args" in entry:
        if symbol is not None or timeframe is not None:
            errors.append(f"{where}: set symbol/timeframe or args, not both; remove one")
    elif not isinstance(symbol, str) or not symbol.strip():
        errors.append(f'{where}: type manual needs "symbol" (the coin, e.g. "ETH") or args')
    elif timeframe is not None and not (isinstance(timeframe, str) and timeframe.strip()):
        errors.append(
            f'{where}: timeframe must be a candle timeframe like "1h", got {show(timeframe)}'
        )
    else:
        tf = (timeframe or DEFAULT_TIMEFRAME).strip()
        entry["args"] = ["hold", symbol.strip().upper(), tf, "--mode=live"]
    entry.setdefault("direction", "both")
    entry.setdefault("margin_per_trade_usd", d.margin_usd)
    if all(entry.get(k) is None for k in STOP_FIELDS):
        entry["stop_loss_atr_mult"] = d.stop_loss_atr_mult
    if "close_strategy" not in entry and "close_strategies" not in entry:
        tiers = [dict(t) for t in d.tp_tiers]
        entry["close_strategies"] = [{"name": "tiered_tp_atr", "params": {"tp_tiers": tiers}}]
    return entry


def manual_key_problems(raw: dict[str, Any], where: str) -> list[str]:
    """Keys only a manual entry takes, set on another type."""
    return [
        f"{where}: {key} applies to type manual only (other types name it in args); remove it"
        for key in MANUAL_ONLY_KEYS
        if key in raw
    ]
