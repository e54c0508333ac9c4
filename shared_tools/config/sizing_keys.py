"""The sizing keys that depend on the account or the held position: ``capital_pct`` and
``allow_scale_in`` / ``scale_in`` (upstream scheduler/config.go, scheduler/scale_in.go).

``capital_pct`` (per strategy, or the top-level one for every strategy that sets none) is in
(0, 1]: the strategy's capital is that share of the venue balance, resolved at startup and at
every cycle (supervisor/risk/capital_pct.py). Setting ``capital`` too only warns: the pct wins
and ``capital`` is the fallback when no balance can be read.

``allow_scale_in`` lets a same-direction signal add to an open Hyperliquid perps or manual
position; the ``scale_in`` block {max_adds, max_added_notional_usd, add_notional_usd,
add_spacing_atr} gates and sizes the adds (book/scale_in.py). As upstream: the block without
``allow_scale_in`` is an error, negative counts and notionals are rejected, a negative spacing
is legal (average down), and a live strategy needs a stop that can be resized after an add (an
ATR or trailing stop, not a scalar ``stop_loss_pct`` / ``stop_loss_margin_pct`` or none).
"""

from __future__ import annotations

import math
from typing import Any

from shared_tools.book.scale_in import ScaleIn
from shared_tools.config import schema
from shared_tools.config.checks import in_range, is_number, show_key
from shared_tools.text import show

__all__ = [
    "SCALE_IN_FIELDS",
    "capital_fields",
    "capital_pct",
    "global_capital_pct",
    "scale_in_block",
    "scale_in_terms",
]

SCALE_IN_FIELDS = ("max_adds", "max_added_notional_usd", "add_notional_usd", "add_spacing_atr")


def _pct(value: object, where: str, errors: list[str]) -> float:
    if value is None or (is_number(value) and value == 0):
        return 0.0  # upstream's Go zero value: not set
    if not (is_number(value) and 0 < value <= 1):
        errors.append(
            f"{where}: capital_pct must be a number in (0, 1] (a share of the venue balance), "
            f"got {show(value)}"
        )
        return 0.0
    return float(value)


def global_capital_pct(raw: dict, label: str, errors: list[str]) -> float:
    """The top-level ``capital_pct``: the default of every strategy that sets none (0 = off)."""
    return _pct(raw.get("capital_pct"), f"config {label}", errors)


def capital_pct(
    entry: dict, where: str, default: float, errors: list[str], warnings: list[str]
) -> float:
    """One strategy's ``capital_pct`` (its own, else ``default``); warns when ``capital`` is set
    too (upstream: "capital_pct takes priority")."""
    own = entry.get("capital_pct")
    pct = _pct(own, where, errors) if own is not None else default
    if pct and is_number(entry.get("capital")) and entry.get("capital"):
        warnings.append(
            f"{where}: capital_pct takes priority over capital (capital is only the fallback "
            "when no balance can be read)"
        )
    return pct


def capital_fields(entry: dict, where: str, pct: float, errors: list[str]) -> tuple[float, float]:
    """(capital, initial_capital) of one entry. With ``capital_pct`` set, ``capital`` may be
    absent (it is only the fallback when no balance can be read) and the P&L baseline defaults
    to the resolved capital the strategy joins with (0 here: resolved by the supervisor)."""
    top = schema.MAX_CAPITAL
    capital = entry.get("capital")
    if pct and capital is None:
        capital = 0.0
    elif not in_range(capital, 0, top, integer=False, lo_open=True):
        if is_number(capital):
            errors.append(f"{where}: capital must be > 0 and at most 1e12, got {show(capital)}")
        else:
            errors.append(f"{where}: capital must be a number in (0, 1e12], got {show(capital)}")
        capital = 0.0
    initial = entry.get("initial_capital", 0.0 if pct else capital)
    if "initial_capital" in entry and not in_range(initial, 0, top, integer=False, lo_open=False):
        errors.append(
            f"{where}: initial_capital must be a number in [0, 1e12], got {show(initial)}"
        )
        initial = 0.0 if pct else capital
    return float(capital), float(initial)


def scale_in_terms(
    entry: dict,
    where: str,
    kind: str,
    platform: str,
    live: bool,
    fields: dict[str, Any],
    errors: list[str],
) -> ScaleIn:
    """``allow_scale_in`` and the ``scale_in`` block, checked (problems go to ``errors``)."""
    allow, block = entry.get("allow_scale_in"), entry.get("scale_in")
    if allow is not None and not isinstance(allow, bool):
        errors.append(f"{where}: allow_scale_in must be true or false, got {show(allow)}")
        return ScaleIn()
    has_block = isinstance(block, dict) and bool(block) or (block is not None and block != {})
    if has_block and not allow:
        errors.append(
            f"{where}: scale_in is set but allow_scale_in is not true; set it or remove scale_in"
        )
        return ScaleIn()
    if not allow:
        return ScaleIn()
    if kind != "perps" or platform != "hyperliquid":
        errors.append(
            f"{where}: allow_scale_in applies to Hyperliquid perps and manual strategies only, "
            f"not {kind} on {platform}; remove it"
        )
        return ScaleIn()
    terms = scale_in_block(block, where, errors)
    if live:
        stop = _resizable_stop_problem(fields)
        if stop:
            errors.append(f"{where}: allow_scale_in on a live strategy {stop}")
    return terms


def scale_in_block(block: object, where: str, errors: list[str]) -> ScaleIn:
    """The ``scale_in`` block's terms (None: all unlimited), checked; allow_scale_in is on."""
    if block is None:
        return ScaleIn(enabled=True)
    if not isinstance(block, dict):
        errors.append(
            f"{where}: scale_in must be an object {{{', '.join(SCALE_IN_FIELDS)}}}, got {show(block)}"
        )
        return ScaleIn()
    extra = sorted(set(block) - set(SCALE_IN_FIELDS))
    if extra:
        shown = ", ".join(show_key(k) for k in extra[:5])
        errors.append(
            f"{where}: scale_in has unknown key(s) {shown} (use {', '.join(SCALE_IN_FIELDS)})"
        )
    values: dict[str, float] = {}
    for key in SCALE_IN_FIELDS:
        value = block.get(key, 0)
        if value is None:
            value = 0
        ok = is_number(value) and math.isfinite(value)
        if key == "max_adds":
            ok = ok and float(value).is_integer()
        if not ok or (key != "add_spacing_atr" and value < 0):
            want = "an integer >= 0" if key == "max_adds" else "a number >= 0"
            if key == "add_spacing_atr":
                want = "a number (negative: add after an adverse move)"
            errors.append(f"{where}: scale_in.{key} must be {want} (0 = off), got {show(value)}")
            value = 0
        values[key] = float(value)
    return ScaleIn(
        enabled=True,
        max_adds=int(values["max_adds"]),
        max_added_notional_usd=values["max_added_notional_usd"],
        add_notional_usd=values["add_notional_usd"],
        add_spacing_atr=values["add_spacing_atr"],
    )


def _resizable_stop_problem(fields: dict[str, Any]) -> str:
    """Why the strategy's stop cannot follow an add live ("" when it can)."""
    if fields.get("stop_loss_pct") or fields.get("stop_loss_margin_pct"):
        key = "stop_loss_pct" if fields.get("stop_loss_pct") else "stop_loss_margin_pct"
        return (
            f"needs a stop that can be resized after an add; {key} is a scalar stop: use "
            "stop_loss_atr_mult, trailing_stop_pct or trailing_stop_atr_mult"
        )
    if not any(
        fields.get(k) for k in ("stop_loss_atr_mult", "trailing_stop_pct", "trailing_stop_atr_mult")
    ):
        return (
            "needs a stop that can be resized after an add (the drawdown backstop is not one): "
            "set stop_loss_atr_mult, trailing_stop_pct or trailing_stop_atr_mult"
        )
    return ""
