"""The top-level ``regime`` section: which regime flags every signal check gets.

Upstream's scheduler turns an enabled ``regime`` section into ``--regime-enabled``, the windows
spec and an OHLCV window long enough for the slowest window (contract reference §1.1); the
check script then classifies and reports ``regime`` in upstream's shape. ``gate_on_failure``
is the default of every strategy's ``regime_gate_on_failure``, and the window names and
classifiers are what a strategy's regime gate may refer to (:mod:`shared_tools.config.trading`).
``timeframe`` (allow-listed, lower-cased; empty = each strategy's own timeframe),
``display_windows`` (display only; names of ``windows``) and ``transitions`` (alerting only:
supervisor/regime_transitions.py) are checked here too.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

from shared_tools.config import schema
from shared_tools.config.checks import in_range, is_int, is_number, unbuilt_key
from shared_tools.text import show

DEFAULT_PERIOD = schema.default("regime", "period")
DEFAULT_ADX_THRESHOLD = 20.0  # what adx_threshold 0 means (upstream)
OUR_OHLCV_WINDOW = 300  # the worker's default window; regime never shortens it
MAX_PERIOD = int(schema.bounds("regime", "period")[1])
CLASSIFIERS = schema.row("regime.windows.*", "classifier").choices
NOT_BUILT = tuple(k.name for k in schema.KEYS if k.section == "regime" and k.status != "built")
KNOWN = schema.names("regime", "built")
WINDOW_KEYS = schema.names("regime.windows.*")
GATE_ON_FAILURE = schema.row("regime", "gate_on_failure").choices
TIMEFRAMES = schema.row("regime", "timeframe").choices
TRANSITION_KEYS = schema.names("regime.transitions")


@dataclass(frozen=True)
class Transitions:
    """``regime.transitions``: alerting on closed-bar label changes (upstream #1224)."""

    enabled: bool = False
    debounce_cycles: int = 2  # closed bars a new label must hold (0 -> 2)
    retention_days: int = 30  # history kept (0 -> 30)
    reversal_min_opposing: int = 0  # 0 = every shorter window must oppose


@dataclass(frozen=True)
class RegimeSettings:
    """The checked ``regime`` section: worker flags, and what strategies' gates may use."""

    flags: tuple[str, ...] = ()  # added to every signal check (empty when disabled)
    enabled: bool = False
    gate_on_failure: str = "open"  # the default of each strategy's regime_gate_on_failure
    windows: dict[str, str] = field(default_factory=dict)  # configured name -> classifier
    timeframe: str = ""  # "" = each strategy's own timeframe
    display_windows: tuple[str, ...] = ()
    transitions: Transitions = field(default_factory=Transitions)
    specs: dict[str, Any] = field(default_factory=dict)  # the windows spec the worker gets


_WINDOW_NAME = re.compile(r"^[A-Za-z0-9_-]{1,32}$")


def required_ohlcv_limit(periods: list[int]) -> int:
    """Upstream's ``max(200, 2*max(period, 14) - 1 + 10)``, never below our 300-bar window."""
    longest = max([DEFAULT_PERIOD, *periods])
    return max(OUR_OHLCV_WINDOW, 200, 2 * longest - 1 + 10)


def _window(name: object, spec: object, where: str, errors: list[str]) -> tuple[Any, int] | None:
    """A validated window spec and its period, or None (with the problem in ``errors``)."""
    if not isinstance(name, str) or not _WINDOW_NAME.match(name) or name == "regime":
        errors.append(
            f"{where}: window name {show(name)} must match [A-Za-z0-9_-]{{1,32}}, not 'regime'"
        )
        return None
    if is_int(spec):
        if not 2 <= spec <= MAX_PERIOD:
            errors.append(f"{where}.{name}: period must be in [2, {MAX_PERIOD}], got {show(spec)}")
            return None
        return spec, int(spec)
    if not isinstance(spec, dict):
        errors.append(f"{where}.{name}: must be a period or an object, got {show(spec)}")
        return None
    unknown = sorted(set(spec) - WINDOW_KEYS)
    if unknown:
        errors.append(f"{where}.{name}: unknown key(s) {show(unknown)}")
    classifier = spec.get("classifier", "adx")
    if classifier not in CLASSIFIERS:
        errors.append(f"{where}.{name}.classifier must be adx or composite, got {show(classifier)}")
    period = spec.get("period", DEFAULT_PERIOD)
    if not is_int(period) or not 2 <= period <= MAX_PERIOD:
        errors.append(
            f"{where}.{name}.period must be an integer in [2, {MAX_PERIOD}], got {show(period)}"
        )
        return None
    threshold = spec.get("adx_threshold", 0)
    if not in_range(threshold, 0, 100, integer=False, lo_open=False):
        errors.append(
            f"{where}.{name}.adx_threshold must be a number in [0, 100], got {show(threshold)}"
        )
    if "thresholds" in spec and not isinstance(spec["thresholds"], dict):
        errors.append(
            f"{where}.{name}.thresholds must be an object, got {show(spec['thresholds'])}"
        )
    return spec, int(period)


def regime_flags(
    value: object, label: str, errors: list[str], warnings: list[str]
) -> tuple[str, ...]:
    """The worker flags an enabled ``regime`` section adds to every signal check (else ())."""
    return regime_settings(value, label, errors, warnings).flags


def regime_settings(
    value: object, label: str, errors: list[str], warnings: list[str]
) -> RegimeSettings:
    """The ``regime`` section checked: its worker flags, gate default and window names."""
    where = f"config {label}: regime"
    if value is None:
        return RegimeSettings()
    if not isinstance(value, dict):
        errors.append(f"{where} must be an object, got {show(value)}")
        return RegimeSettings()
    for key in sorted(value):
        if key in NOT_BUILT:
            unbuilt_key("regime", where, key, value[key], errors, warnings)
        elif key not in KNOWN:
            errors.append(f"{where}: unknown key {show(key)}")
    gate = value.get("gate_on_failure") or "open"
    if gate not in GATE_ON_FAILURE:
        errors.append(f"{where}.gate_on_failure must be open or closed, got {show(gate)}")
        gate = "open"
    enabled = value.get("enabled", False)
    if not isinstance(enabled, bool):
        errors.append(f"{where}.enabled must be true or false, got {show(enabled)}")
        return RegimeSettings(gate_on_failure=gate)
    period = value.get("period", 0) or DEFAULT_PERIOD
    if not is_int(period) or not 2 <= period <= MAX_PERIOD:
        errors.append(f"{where}.period must be an integer in [2, {MAX_PERIOD}], got {show(period)}")
        period = DEFAULT_PERIOD
    threshold = value.get("adx_threshold", 0)
    if not is_number(threshold) or not 0 <= threshold <= 100:
        errors.append(f"{where}.adx_threshold must be a number in [0, 100], got {show(threshold)}")
    windows = value.get("windows") or {}
    if not isinstance(windows, dict):
        errors.append(f"{where}.windows must be an object, got {show(windows)}")
        windows = {}
    checked, periods = {}, [int(period)]
    for name, spec in windows.items():
        got = _window(name, spec, f"{where}.windows", errors)
        if got is not None:
            checked[name], window_period = got
            periods.append(window_period)
    classifiers = {
        name: (spec.get("classifier", "adx") if isinstance(spec, dict) else "adx")
        for name, spec in checked.items()
    }
    extras = {
        "timeframe": _timeframe(value.get("timeframe"), where, errors),
        "display_windows": _display(value.get("display_windows"), classifiers, where, errors),
        "transitions": _transitions(value.get("transitions"), where, errors),
    }
    if not enabled:
        return RegimeSettings(gate_on_failure=gate, windows=classifiers, **extras)
    if not windows and (period != DEFAULT_PERIOD or threshold):
        # upstream's flags carry no bare period/threshold: express them as the one window
        checked = {
            "medium": {
                "classifier": "adx",
                "period": int(period),
                "adx_threshold": threshold or DEFAULT_ADX_THRESHOLD,
            }
        }
    flags = ["--regime-enabled"]
    if checked:
        flags.append("--regime-windows-spec-json=" + json.dumps(checked, sort_keys=True))
    flags.append(f"--ohlcv-limit={required_ohlcv_limit(periods)}")
    return RegimeSettings(tuple(flags), True, gate, classifiers, specs=checked, **extras)


def _timeframe(value: object, where: str, errors: list[str]) -> str:
    if value is None or value == "":
        return ""
    text = value.strip().lower() if isinstance(value, str) else value
    if text not in TIMEFRAMES:
        errors.append(
            f"{where}.timeframe must be one of {', '.join(TIMEFRAMES)}, got {show(value)}"
        )
        return ""
    return str(text)


def _display(value: object, windows: dict[str, str], where: str, errors: list[str]) -> tuple:
    """Display only, but a typo must not fall back silently to the primary label (#1062)."""
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        errors.append(f"{where}.display_windows must be a list of regime.windows names")
        return ()
    bad = [v for v in value if v not in windows]
    if bad:
        names = ", ".join(sorted(windows)) or "none configured"
        errors.append(
            f"{where}.display_windows {show(bad)} not in regime.windows ({names}); fix the name"
        )
    return tuple(v for v in value if v in windows)


def _transitions(value: object, where: str, errors: list[str]) -> Transitions:
    if value is None:
        return Transitions()
    if not isinstance(value, dict):
        errors.append(f"{where}.transitions must be an object {{enabled, debounce_cycles, ...}}")
        return Transitions()
    unknown = sorted(set(value) - TRANSITION_KEYS)
    if unknown:
        errors.append(f"{where}.transitions: unknown key(s) {show(unknown)}")
    enabled = value.get("enabled", False)
    if not isinstance(enabled, bool):
        errors.append(f"{where}.transitions.enabled must be true or false, got {show(enabled)}")
        enabled = False
    ints = {}
    for key, zero_means in (("debounce_cycles", 2), ("retention_days", 30)):
        ints[key] = _count(value, key, zero_means, where, errors)
    opposing = _count(value, "reversal_min_opposing", 0, where, errors)
    return Transitions(enabled, ints["debounce_cycles"], ints["retention_days"], opposing)


def _count(value: dict, key: str, zero_means: int, where: str, errors: list[str]) -> int:
    raw = value.get(key, 0)
    hi = int(schema.bounds("regime.transitions", key)[1])
    if not is_int(raw) or not 0 <= raw <= hi:
        errors.append(f"{where}.transitions.{key} must be an integer in [0, {hi}], got {show(raw)}")
        return zero_means
    return int(raw) or zero_means
