"""What a tuning run's suggestion was measured against, and the check that it still holds.

A tuning run (backtest/tune_live.py) records, per strategy, the ``promotion_baseline``: the
strategy entry's ``open_strategy`` and close blocks and the top-level ``user_defaults`` block as
they were in the config file, each with a presence flag (absent and ``{}`` differ). Applying a
suggestion (supervisor/http/tuning_apply.py) is allowed only while the live file still gives the
same baseline, so a suggestion is never written over params the operator changed meanwhile. One
function builds it for both sides: the worker and the daemon compare like with like.
"""

from __future__ import annotations

import copy
from typing import Any

STRATEGY_BLOCKS = ("open_strategy", "close_strategies", "close_strategy")
TOP_BLOCKS = ("user_defaults",)


def strategy_entry(raw: dict, sid: str) -> dict | None:
    """The raw config entry of strategy ``sid`` (None when absent)."""
    for entry in raw.get("strategies") or []:
        if isinstance(entry, dict) and entry.get("id") == sid:
            return entry
    return None


def promotion_baseline(raw: dict, sid: str) -> dict[str, Any] | None:
    """``{block: value, has_<block>: bool}`` for the strategy's blocks and the top-level
    ``user_defaults``, deep-copied from the raw config; None when the strategy is absent."""
    entry = strategy_entry(raw, sid)
    if entry is None:
        return None
    out: dict[str, Any] = {}
    for src, names in ((entry, STRATEGY_BLOCKS), (raw, TOP_BLOCKS)):
        for name in names:
            out[f"has_{name}"] = name in src
            out[name] = copy.deepcopy(src.get(name))
    return out
