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
* ``margin_per_trade_usd`` 50: the margin of a ``manual-open`` given no size (upstream's
  ``user_defaults.manual.margin_usd``, not read by this build: set it per strategy).
"""

from __future__ import annotations

from typing import Any

from shared_tools.text import show

__all__ = ["MANUAL", "MANUAL_ONLY_KEYS", "manual_entry", "manual_key_problems"]

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
STOP_FIELDS = (
    "stop_loss_pct",
    "stop_loss_margin_pct",
    "stop_loss_atr_mult",
    "trailing_stop_pct",
    "trailing_stop_atr_mult",
)


def manual_entry(raw: dict[str, Any], where: str, errors: list[str]) -> dict[str, Any]:
    """``raw`` with the manual defaults filled in (a copy); problems go to ``errors``."""
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
    entry.setdefault("margin_per_trade_usd", DEFAULT_MARGIN_USD)
    if all(entry.get(k) is None for k in STOP_FIELDS):
        entry["stop_loss_atr_mult"] = DEFAULT_STOP_ATR_MULT
    if "close_strategy" not in entry and "close_strategies" not in entry:
        tiers = [dict(t) for t in DEFAULT_TP_TIERS]
        entry["close_strategies"] = [{"name": "tiered_tp_atr", "params": {"tp_tiers": tiers}}]
    return entry


def manual_key_problems(raw: dict[str, Any], where: str) -> list[str]:
    """Keys only a manual entry takes, set on another type."""
    return [
        f"{where}: {key} applies to type manual only (other types name it in args); remove it"
        for key in MANUAL_ONLY_KEYS
        if key in raw
    ]
