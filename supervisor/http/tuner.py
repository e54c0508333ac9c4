"""The tuner's JSON (reference A.4): what ``GET …/config`` shows and how ``{"overrides"}`` patch
one strategy's raw config entry.

Pure functions: the registry's defaults arrive from the ``strategy_tuner_schema.py`` worker
(the supervisor never imports strategy code or pandas); the patch is applied by
:mod:`supervisor.http.config_write`, which validates it with the loader.

Stricter than upstream: an override key outside the editable set, or of the wrong JSON type, is
refused (400) instead of silently ignored.
"""

from __future__ import annotations

import math
from typing import Any

from shared_tools.config.model import StrategyConfig

PARAM_PREFIX = "open_strategy.params."
DIRECTIONS = ("long", "short", "both")
# key -> JSON type of its value (upstream's set, ui_tuner.go)
SCALARS: dict[str, str] = {
    "interval_seconds": "int",
    "direction": "choice",
    "invert_signal": "bool",
    "leverage": "number",
    "htf_filter": "bool",
    "stop_loss_pct": "number",
    "stop_loss_atr_mult": "number",
    "paused": "bool",
    "notify_ratchet_triggers": "bool|null",
}
STOP_PAIR = ("stop_loss_pct", "stop_loss_atr_mult")


class BadOverrides(ValueError):
    """An override the tuner does not take (HTTP 400)."""


def _has_direction(sc: StrategyConfig) -> bool:
    return sc.type in ("perps", "manual")


def _kind(default: Any) -> str:
    if isinstance(default, bool):
        return "bool"
    if isinstance(default, int):
        return "int"
    if isinstance(default, float):
        return "number"
    return "text"


def editable_fields(sc: StrategyConfig, defaults: dict) -> list[dict]:
    """The form the page draws: ``{key, label, type, value, default?, options?, group}``."""
    out: list[dict] = [
        {
            "key": "interval_seconds",
            "label": "Interval (s, 0 = global)",
            "type": "int",
            "value": sc.interval_seconds,
            "group": "schedule",
        }
    ]
    if _has_direction(sc):
        out += [
            {
                "key": "direction",
                "label": "Direction",
                "type": "choice",
                "value": sc.direction,
                "options": list(DIRECTIONS),
                "group": "trading",
            },
            _field("invert_signal", "Invert signal", "bool", sc.invert_signal, "trading"),
            _field("leverage", "Leverage", "number", sc.leverage, "trading"),
            _field("stop_loss_pct", "Stop loss %", "number", sc.stop_loss_pct, "risk"),
            _field(
                "stop_loss_atr_mult", "Stop loss ATR x", "number", sc.stop_loss_atr_mult, "risk"
            ),
        ]
    if sc.type == "perps":
        out.append(
            _field("htf_filter", "Higher-timeframe filter", "bool", sc.htf_filter, "trading")
        )
    params = {**defaults, **sc.open_strategy.params}
    for key, value in params.items():
        field = _field(PARAM_PREFIX + key, key, _kind(defaults.get(key, value)), value, "params")
        if key in defaults:
            field["default"] = defaults[key]
        out.append(field)
    return out


def _field(key: str, label: str, kind: str, value: Any, group: str) -> dict:
    return {"key": key, "label": label, "type": kind, "value": value, "group": group}


def config_doc(sc: StrategyConfig, schema: dict, has_open_position: bool) -> dict:
    """``GET /api/strategies/{id}/config``: upstream's fields, registry defaults merged."""
    defaults = dict(schema.get("default_params") or {})
    doc: dict[str, Any] = {
        "strategy_id": sc.id,
        "type": sc.type,
        "platform": sc.platform,
        "symbol": sc.symbol,
        "timeframe": sc.timeframe,
        "open_strategy": {
            "name": sc.open_strategy.name,
            "params": {**defaults, **sc.open_strategy.params},
        },
        "paused": sc.paused,
        "notify_ratchet_triggers": None,
        "default_params": defaults,
        "has_open_position": has_open_position,
        "apply_requires_restart": False,  # structural edits are refused (409), never half-applied
        "editable_fields": editable_fields(sc, defaults),
    }
    if sc.close_strategies:
        doc["close_strategy"] = sc.close_strategies[0].as_json()
    if sc.interval_seconds:
        doc["interval_seconds"] = sc.interval_seconds
    if _has_direction(sc):
        doc.update(direction=sc.direction, invert_signal=sc.invert_signal, leverage=sc.leverage)
    if sc.type == "perps":
        doc["htf_filter"] = sc.htf_filter
    for key in STOP_PAIR:
        if getattr(sc, key):
            doc[key] = getattr(sc, key)
    return doc


def _check(key: str, kind: str, value: Any) -> None:
    number = isinstance(value, int | float) and not isinstance(value, bool)
    ok = {
        "int": isinstance(value, int) and not isinstance(value, bool),
        "number": number and math.isfinite(value),
        "bool": isinstance(value, bool),
        "bool|null": value is None or isinstance(value, bool),
        "choice": value in DIRECTIONS,
        "param": value is None
        or isinstance(value, bool | str)
        or (number and math.isfinite(value)),
    }[kind]
    if not ok:
        raise BadOverrides(f"override {key!r}: {value!r} is not a valid {kind}")


def parse_overrides(body: dict) -> dict[str, Any]:
    """``body["overrides"]`` checked: known keys, JSON types. Raises :class:`BadOverrides`."""
    overrides = body.get("overrides")
    if not isinstance(overrides, dict) or not overrides:
        raise BadOverrides('the body needs "overrides": {key: value, ...}')
    for key, value in overrides.items():
        if key in SCALARS:
            _check(key, SCALARS[key], value)
        elif key.startswith(PARAM_PREFIX) and len(key) > len(PARAM_PREFIX):
            _check(key, "param", value)
        else:
            raise BadOverrides(
                f"override {key!r} is not editable here (editable: {', '.join(SCALARS)}, "
                f"{PARAM_PREFIX}<name>)"
            )
    return overrides


def patcher(sc: StrategyConfig, overrides: dict[str, Any]):
    """A function applying ``overrides`` to the strategy's raw config entry (upstream's rules:
    the two stop keys replace each other unless both are sent; ``paused: false`` and a null
    notify setting delete the key)."""

    def patch(entry: dict) -> None:
        for key, value in overrides.items():
            if key.startswith(PARAM_PREFIX):
                ref = entry.get("open_strategy")
                if not isinstance(ref, dict):
                    ref = entry["open_strategy"] = {"name": sc.open_strategy.name}
                params = ref.setdefault("params", {})
                name = key.removeprefix(PARAM_PREFIX)
                if value is None:
                    params.pop(name, None)
                else:
                    params[name] = value
                continue
            if key in STOP_PAIR and not all(k in overrides for k in STOP_PAIR):
                other = STOP_PAIR[1 - STOP_PAIR.index(key)]
                entry.pop(other, None)
            if (key == "paused" and value is False) or value is None:
                entry.pop(key, None)
            else:
                entry[key] = value

    return patch
