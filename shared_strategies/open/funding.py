"""Open strategies: the funding family (catalogue §3.31-3.32).

Strategies are pure functions of the frame, so funding reaches them as a ``funding_rate``
column of ``df`` (the hourly rate in force at each bar, as-of backward). The check script
supplies it, e.g. from ``shared_tools.market.simulated_funding_rate(symbol, bar_time)`` or from
venue funding history through :func:`funding_column`. Without the column funding_skew never
enters and delta_neutral_funding falls back to upstream's live scalar params.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np
import pandas as pd

from shared_strategies.open.common import frame, signal_from_position
from shared_strategies.open.specs import FUTURES_LIKE, register
from shared_tools import indicators as ind

__all__ = ["funding_column"]

# -------------------------------------------------------------------- funding (§3.31-3.32)


def funding_column(index: pd.Index, records: Iterable[Mapping[str, Any]]) -> pd.Series:
    """Align funding history ``[{"rate": r, "time": ms}, ...]`` to bars, as-of backward.

    Each bar gets the latest record with ``time <= bar timestamp`` (a naive index is UTC);
    bars before the first record are NaN. This is how a check script turns venue funding
    history (upstream's ``funding_records``) into the ``funding_rate`` column.
    """
    rows = sorted((int(r["time"]), float(r["rate"])) for r in records if r.get("rate") is not None)
    if not isinstance(index, pd.DatetimeIndex):
        raise TypeError("funding_column needs a DatetimeIndex")
    utc = index.tz_localize("UTC") if index.tz is None else index.tz_convert("UTC")
    bar_ms = np.asarray(utc.as_unit("ms").asi8, dtype="int64")
    out = np.full(len(index), np.nan)
    if rows:
        times = np.array([t for t, _ in rows], dtype="int64")
        rates = np.array([r for _, r in rows], dtype="float64")
        at = np.searchsorted(times, bar_ms, side="right") - 1
        out[at >= 0] = rates[at[at >= 0]]
    return pd.Series(out, index=index, name="funding_rate")


def _funding(df: pd.DataFrame) -> pd.Series | None:
    """The frame's ``funding_rate`` column as floats, or None when it has no numeric value."""
    if "funding_rate" not in df.columns:
        return None
    f = pd.to_numeric(df["funding_rate"], errors="coerce").astype("float64")
    return f if f.notna().any() else None


def _bar_hours(index: pd.Index) -> float:
    """Median bar spacing in hours (1 h without a DatetimeIndex of >= 2 rows)."""
    if not isinstance(index, pd.DatetimeIndex) or len(index) < 2:
        return 1.0
    return float(pd.Series(index).diff().dropna().median() / pd.Timedelta(hours=1))


@register(
    "delta_neutral_funding",
    needs_funding=True,
    short="dnf",
    description="Short the perp while the 7-day average funding pays shorts; exit when it fades.",
    defaults={
        "entry_threshold": 0.0001,
        "exit_threshold": 0.00005,
        "drift_threshold": 2.0,
        "current_funding_rate": 0.0,
        "avg_funding_rate_7d": 0.0,
    },
    ranges={
        "entry_threshold": [5e-05, 0.0001, 0.00015],
        "exit_threshold": [0.0, 2e-05, 5e-05],
        "drift_threshold": [1.5, 2.0, 2.5],
    },
    platforms=FUTURES_LIKE,
)
def delta_neutral_funding(
    df: pd.DataFrame,
    *,
    entry_threshold: float,
    exit_threshold: float,
    drift_threshold: float,  # noqa: ARG001 - upstream's dead param, kept for config parity
    current_funding_rate: float,
    avg_funding_rate_7d: float,
) -> pd.DataFrame:
    """-1 (enter/hold the short) while funding is rich, +1 (exit) once it is thin; level-triggered.

    With a ``funding_rate`` column the rule runs per bar on its 7-day rolling mean. Without it,
    upstream's live scalars apply to the last bar only (a "now" reading, not a time series).
    """
    n = len(df)
    f = _funding(df)
    if f is not None:
        hours = _bar_hours(df.index)
        window = max(1, round(7 * 24 / hours)) if hours > 0 else 1
        avg = f.rolling(window, min_periods=window).mean()
        sig = np.where(avg > entry_threshold, -1, np.where(avg < exit_threshold, 1, 0))
        rate, apy = f, avg * 24 * 365 * 100  # series path: hourly funding
    else:
        avg = pd.Series(float(avg_funding_rate_7d), index=df.index)
        rate = pd.Series(float(current_funding_rate), index=df.index)
        apy = avg * 3 * 365 * 100  # upstream's scalar path annualises 8-hourly funding
        sig = np.zeros(n, dtype="int64")
        last = float(avg_funding_rate_7d)
        if n and last != 0.0:
            sig[-1] = -1 if last > entry_threshold else (1 if last < exit_threshold else 0)
    return frame(
        df,
        sig,
        delta_drift_pct=np.zeros(n),
        rebalance_needed=np.zeros(n),
        funding_rate=rate,
        avg_funding_7d=avg,
        funding_apy=apy,
    )


@register(
    "funding_skew",
    needs_funding=True,
    short="fskew",
    description="Fade extreme funding (z-score) when price confirms against the crowded side.",
    defaults={
        "funding_window": 168,
        "z_entry": 2.0,
        "z_exit": 0.5,
        "confirm_ema": 40,
        "min_abs_rate": 0.00001,
        "allow_short": True,
    },
    ranges={
        "funding_window": [96, 168, 336],
        "z_entry": [1.0, 1.5, 2.0],
        "z_exit": [0.25, 0.5],
        "confirm_ema": [10, 20, 40],
    },
    platforms=FUTURES_LIKE,
    can_short=True,
    constraints=("funding_window > 0", "z_exit < z_entry"),
)
def funding_skew(
    df: pd.DataFrame,
    *,
    funding_window: int,
    z_entry: float,
    z_exit: float,
    confirm_ema: int,
    min_abs_rate: float,
    allow_short: bool,
) -> pd.DataFrame:
    """Long when funding is extremely negative and price is above its EMA; short the mirror."""
    n = len(df)
    f = _funding(df)
    if f is None:  # no funding data: never enters (as upstream without records)
        f = pd.Series(np.nan, index=df.index)
    z = ind.zscore(f, funding_window)
    ema = ind.ema(df["close"], confirm_ema)
    above = (df["close"] > ema).to_numpy()
    below = (df["close"] < ema).to_numpy()
    zs, fs = z.to_numpy(dtype="float64"), f.to_numpy(dtype="float64")
    pos = np.zeros(n, dtype="int64")
    for i in range(1, n):
        cur = pos[i - 1]
        zi, fi = zs[i], fs[i]
        exit_long = cur == 1 and (np.isnan(zi) or zi >= -z_exit or below[i])
        exit_short = cur == -1 and (np.isnan(zi) or zi <= z_exit or above[i])
        if exit_long or exit_short:
            cur = 0
        if not (np.isnan(zi) or np.isnan(fi)):
            if zi <= -z_entry and fi < -min_abs_rate and above[i]:
                cur = 1
            elif allow_short and zi >= z_entry and fi > min_abs_rate and below[i]:
                cur = -1
        pos[i] = cur
    return frame(df, signal_from_position(pos), funding_rate=f, funding_z=z)
