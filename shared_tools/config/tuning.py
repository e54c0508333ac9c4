"""The ``tuning`` section: the dashboard's persistent tuning runs (supervisor/http/tuning.py).

``max_retained_runs`` bounds the run directories kept under ``<config dir>/tuning_runs/``;
``lookback_bars`` and ``splits`` are the walk-forward's bars and folds (backtest/tune_live.py).
Each bad value is one line naming the key; an unknown key inside the section is a warning.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from shared_tools.config import schema
from shared_tools.config.checks import in_range, range_text, unknown_key_line
from shared_tools.text import show

SECTION = "tuning"


@dataclass(frozen=True)
class TuningSettings:
    max_retained_runs: int = 20
    lookback_bars: int = 1500
    splits: int = 3


def tuning_settings(raw: Any, label: str, errors: list[str], warnings: list[str]) -> TuningSettings:
    """The section checked against its schema rows; defaults for what is absent."""
    if raw is None:
        return TuningSettings()
    if not isinstance(raw, dict):
        errors.append(f"{label}: tuning must be an object, got {show(raw)}")
        return TuningSettings()
    keys = {k.name: k for k in schema.rows(SECTION, "built")}
    values: dict[str, int] = {}
    for name, value in raw.items():
        k = keys.get(name)
        if k is None:
            warnings.append(unknown_key_line(f"{label}: tuning", name, set(keys)) + "; ignored")
            continue
        lo, hi = schema.bounds(SECTION, name)
        if not in_range(value, lo, hi, integer=True, lo_open=False):
            expect = range_text(lo, hi, integer=True, lo_open=False)
            errors.append(f"{label}: tuning.{name} must be {expect}, got {show(value)}")
            continue
        values[name] = int(value)
    return TuningSettings(**values)
