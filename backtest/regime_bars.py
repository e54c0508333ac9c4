"""Regime labels of every bar for the backtester, per configured window.

The live check classifies the last closed bar with :mod:`shared_tools.regime`; here the same
classifiers label every bar, each from bars up to and including it only (a decision at bar i's
close reads label i, never a later bar's: upstream #1153 was a look-ahead across timeframes;
``regime.timeframe`` other than the strategy's is refused at load, so one timeframe is used).

Windows: without a spec, one ADX window of ``period`` / ``adx_threshold`` (the check's default);
with ``{name: spec}``, each window by its classifier, and ``""`` means the primary window
(``medium``, else the first name), as :func:`shared_tools.regime_labels.payload_label` reads.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from shared_tools.regime import (
    CLASSIFIER_COMPOSITE,
    classify_window,
    normalize_spec,
    primary_window,
    required_ohlcv_limit,
)

__all__ = ["adx_labels", "labels_by_window"]


def adx_labels(df: pd.DataFrame, period: int, threshold: float) -> np.ndarray:
    """ADX label of every bar (warm-up -> ranging), from bars up to each one only."""
    from shared_tools import indicators

    frame = indicators.adx(df, period)
    adx = np.nan_to_num(frame["adx"].to_numpy(float))
    plus = np.nan_to_num(frame["plus_di"].to_numpy(float))
    minus = np.nan_to_num(frame["minus_di"].to_numpy(float))
    trend = np.where(
        plus > minus, "trending_up", np.where(minus > plus, "trending_down", "ranging")
    )
    return np.where(adx < threshold, "ranging", trend).astype(object)


def _composite_labels(df: pd.DataFrame, spec: Mapping[str, Any]) -> np.ndarray:
    """Composite label of every bar: the classifier on the trailing frame a check would read."""
    limit = required_ohlcv_limit(windows={"w": spec})
    out = np.empty(len(df), dtype=object)
    for i in range(len(df)):
        out[i] = classify_window(df.iloc[max(0, i + 1 - limit) : i + 1], spec)["regime"]
    return out


def labels_by_window(
    df: pd.DataFrame,
    names: set[str],
    windows: Mapping[str, Any] | None,
    period: int,
    threshold: float,
) -> dict[str, np.ndarray]:
    """``{name: labels}`` for each of ``names`` ("" = the primary window / the default one)."""
    if not windows:
        labels = adx_labels(df, period, threshold)
        return dict.fromkeys(names, labels)
    out: dict[str, np.ndarray] = {}
    cache: dict[str, np.ndarray] = {}
    for name in names:
        key = name or primary_window(windows)
        if key not in windows:
            raise ValueError(f"regime window {key!r} is not in the windows spec")
        if key not in cache:
            spec = normalize_spec(windows[key])
            if spec["classifier"] == CLASSIFIER_COMPOSITE:
                cache[key] = _composite_labels(df, spec)
            else:
                cache[key] = adx_labels(df, spec["period"], spec["adx_threshold"])
        out[name] = cache[key]
    return out
