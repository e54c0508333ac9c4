"""Regime labels of every bar for a windows spec: what a live check would print at each close.

The live check classifies the last closed bar of its frame (``shared_tools.regime``
``classify_window``); the backtest needs that label at every bar, so the indicators are computed
once over the whole frame (they are causal: the value at bar t only reads bars <= t) and the
label rules are the live ones (``adx_label``, ``map_composite_label``). A test checks the two
agree bar by bar.

``regime_gate_window`` picks the window the entry gate reads, as the supervisor does with
``payload_label``: the named window, else the primary one (``medium``, else the first name).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from shared_tools import indicators
from shared_tools import regime as rg

__all__ = ["gate_labels", "window_labels"]


def _adx(df: pd.DataFrame, period: int) -> np.ndarray:
    """ADX per bar, warm-up (and frames too short for ``period``) read as 0, as live."""
    return np.nan_to_num(indicators.adx(df, period)["adx"].to_numpy(float))


def _adx_labels(df: pd.DataFrame, period: int, threshold: float) -> np.ndarray:
    frame = indicators.adx(df, period)
    adx, plus, minus = (
        np.nan_to_num(frame[c].to_numpy(float)) for c in ("adx", "plus_di", "minus_di")
    )
    labels = [rg.adx_label(a, p, m, threshold) for a, p, m in zip(adx, plus, minus, strict=True)]
    return np.array(labels, dtype=object)


def _composite_labels(df: pd.DataFrame, period: int, thresholds: Mapping[str, Any]) -> np.ndarray:
    """``latest_regime_composite`` of ``df[: t + 1]`` for every t, in one pass."""
    th = rg.normalize_thresholds(thresholds)
    close = df["close"].astype(float)
    atr = rg.standard_atr(df, period, "simple").to_numpy(float)  # pinned to simple, as live
    start = close.shift(period - 1).fillna(close.iloc[0]).to_numpy(float)  # window's first close
    net = close.to_numpy(float) - start
    path = close.diff().abs().fillna(0.0).rolling(max(period - 1, 1), min_periods=1).sum()
    high = df["high"].astype(float).rolling(period, min_periods=1).max().to_numpy(float)
    low = df["low"].astype(float).rolling(period, min_periods=1).min().to_numpy(float)
    adx = _adx(df, min(period, rg.COMPOSITE_ADX_PERIOD_CAP))
    labels = []
    for t in range(len(df)):
        a = atr[t]
        if not (math.isfinite(a) and a > 0):
            labels.append("ranging_quiet")
            continue
        denom = a * period
        p = float(path.iloc[t])
        eff = abs(net[t]) / p if p > 0 else 0.0
        labels.append(
            rg.map_composite_label(net[t] / denom, adx[t], (high[t] - low[t]) / denom, eff, th)
        )
    return np.array(labels, dtype=object)


def window_labels(df: pd.DataFrame, spec: Any) -> np.ndarray:
    """The label of one window spec (as ``--regime-windows-spec-json`` holds it) at every bar."""
    norm = rg.normalize_spec(spec)
    if norm["classifier"] == rg.CLASSIFIER_COMPOSITE:
        return _composite_labels(df, norm["period"], norm["thresholds"])
    return _adx_labels(df, norm["period"], norm["adx_threshold"])


def gate_labels(df: pd.DataFrame, windows_json: str, window: str = "") -> np.ndarray:
    """Labels the entry gate reads: ``window``'s, else the primary window's (live's rule)."""
    windows = rg.parse_windows_spec_json(windows_json)
    if not windows:
        raise ValueError("regime windows spec: empty")
    name = window or rg.primary_window(windows)
    if name not in windows:
        raise ValueError(
            f"regime_gate_window {name!r} is not a window of the spec "
            f"({', '.join(sorted(windows))})"
        )
    return window_labels(df, windows[name])
