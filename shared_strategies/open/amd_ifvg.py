"""Open strategy amd_ifvg (upstream catalogue §3.21): the ICT AMD / inverse-FVG session model.

An Asian range, a London sweep of it that sets the bias, then the first retrace into an
inverse fair-value gap. Session windows are civil hours in ``session_tz``. Where upstream runs a
session day over the whole frame (reading later bars of the day), row ``i`` here is what its
rule gives on the last row of ``df[: i + 1]`` - the live decision - which keeps the
closed-bar contract.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from shared_strategies.open.common import frame, warm_rows
from shared_strategies.open.specs import register

# ------------------------------------------------------------------ amd_ifvg


def _in_hour_window(hour: np.ndarray, start: int, end: int) -> np.ndarray:
    """Half-open civil-hour window ``[start, end)``; ``end == 0`` means 24; may wrap midnight.

    ``start == end`` (other than 0) is an empty window.
    """
    end = 24 if end == 0 else end
    if start <= end:
        return (hour >= start) & (hour < end)
    return (hour >= start) | (hour < end)


def _amd_session_clock(index: pd.Index, tz: str, anchor_hour: int) -> tuple[np.ndarray, np.ndarray]:
    """Civil hour in ``tz`` and session-day key of every bar (naive index = UTC).

    Session day = calendar day of the wall-clock time minus ``anchor_hour`` hours, so an
    evening Asian window and the next morning's London window share a day. The subtraction is
    done on the wall clock (not on the instant), so DST-change days keep the same grouping.
    """
    idx = pd.DatetimeIndex(index)
    if idx.tz is None:
        idx = idx.tz_localize("UTC")
    wall = idx.tz_convert(tz).tz_localize(None)
    hour = np.asarray(wall.hour, dtype="int64")
    day = (wall - pd.Timedelta(hours=anchor_hour)).normalize().to_numpy().astype("datetime64[D]")
    return hour, day


def _amd_gap(
    h: np.ndarray, lo: np.ndarray, p0: int, p2: int, bias: int, min_pct: float
) -> tuple[float, float, float] | None:
    """IFVG candidate from bars ``p0`` (first) and ``p2`` (third): ``(gap_lo, gap_hi, mid)``.

    Bias -1 (bullish) needs ``H[p0] < L[p2]``; bias +1 (bearish) needs ``L[p0] > H[p2]``. The
    middle candle is not inspected. Kept when the midpoint is positive and the gap is at least
    ``min_pct`` percent of it.
    """
    if bias == -1:
        if not h[p0] < lo[p2]:
            return None
        g_lo, g_hi = h[p0], lo[p2]
    else:
        if not lo[p0] > h[p2]:
            return None
        g_lo, g_hi = h[p2], lo[p0]
    mid = (g_lo + g_hi) / 2.0
    if not (mid > 0 and (g_hi - g_lo) / mid * 100.0 >= min_pct):
        return None
    return float(g_lo), float(g_hi), float(mid)


def _amd_entry(
    h: np.ndarray,
    lo: np.ndarray,
    c: np.ndarray,
    p: int,
    bias: int,
    cands: list[tuple[float, float, float]],
) -> tuple[float, float] | None:
    """Does bar ``p`` retrace into the eligible gap whose midpoint is nearest its close?

    Only that nearest gap is tested (first in the list on ties); returns it when it fires.
    """
    if not cands:
        return None
    best = None
    best_d = np.inf
    for g in cands:
        d = abs(c[p] - g[2])
        if d < best_d:
            best, best_d = g, d
    if best is None:  # NaN close: no distance compares, no entry
        return None
    g_lo, g_hi, _ = best
    if bias == -1:  # bullish: wick into the gap, close not below it
        return (g_lo, g_hi) if lo[p] <= g_hi and c[p] >= g_lo else None
    return (g_lo, g_hi) if h[p] >= g_lo and c[p] <= g_hi else None


def _amd_advance(
    h: np.ndarray,
    lo: np.ndarray,
    c: np.ndarray,
    positions: list[int],
    start_j: int,
    jj: int,
    bias: int,
    min_pct: float,
    cands: list[tuple[float, float, float]],
) -> tuple[int, float, float] | None:
    """Process P position ``k = jj - start_j`` (P[0] = sweep bar): entry test, then new gap.

    The entry at k sees only gaps completed before k; the gap completed at k (from P[k-2] and
    P[k]) is appended afterwards. Returns ``(bar, gap_lo, gap_hi)`` when bar k enters.
    """
    k = jj - start_j
    p = positions[jj]
    if k >= 1:
        hit = _amd_entry(h, lo, c, p, bias, cands)
        if hit is not None:
            return p, hit[0], hit[1]
    if k >= 2:
        gap = _amd_gap(h, lo, positions[jj - 2], p, bias, min_pct)
        if gap is not None:
            cands.append(gap)
    return None


@register(
    "amd_ifvg",
    short="ai",
    description="ICT AMD: a London sweep of the Asian range sets the bias; enter the first retrace into an inverse fair-value gap.",
    defaults={
        "asian_start_hour": 20,
        "asian_end_hour": 0,
        "london_start_hour": 2,
        "london_end_hour": 5,
        "min_ifvg_pct": 0.05,
        "sweep_threshold_pct": 0.01,
        "session_tz": "America/New_York",
    },
    ranges={"min_ifvg_pct": [0.03, 0.05, 0.1], "sweep_threshold_pct": [0.005, 0.01, 0.02]},
)
def amd_ifvg(
    df: pd.DataFrame,
    *,
    asian_start_hour: int,
    asian_end_hour: int,
    london_start_hour: int,
    london_end_hour: int,
    min_ifvg_pct: float,
    sweep_threshold_pct: float,
    session_tz: str,
) -> pd.DataFrame:
    """Per-session-day Asian range -> London sweep -> IFVG retrace entry (§3.21).

    Upstream runs each session day over the whole frame, so its Asian range, London bar count,
    sweep bias and display columns on a bar can use later bars of the same day. Here row ``i``
    is what upstream's rule gives on the last row of ``df[: i + 1]`` (the live decision), which
    keeps the closed-bar contract: ``asian_high/low`` are the running range of the day's Asian
    bars so far (set once there are >= 2 with a positive range), ``sweep_dir`` is the bias on
    London bars once the sweep is known, and ``ifvg_low/high`` hold the entered gap from the
    entry bar to the end of the day. With the default windows (Asian before London) the
    signals equal upstream's full-frame run. At most one signal per session day.
    """
    n = len(df)
    h = df["high"].to_numpy(float)
    lo = df["low"].to_numpy(float)
    c = df["close"].to_numpy(float)
    sig = np.zeros(n, dtype="int64")
    a_hi_col = np.full(n, np.nan)
    a_lo_col = np.full(n, np.nan)
    g_lo_col = np.full(n, np.nan)
    g_hi_col = np.full(n, np.nan)
    sweep_col = np.zeros(n)
    if n == 0:
        return frame(
            df,
            sig,
            asian_high=a_hi_col,
            asian_low=a_lo_col,
            ifvg_high=g_hi_col,
            ifvg_low=g_lo_col,
            sweep_dir=sweep_col,
        )
    hour, day = _amd_session_clock(df.index, session_tz, int(asian_start_hour))
    asian = _in_hour_window(hour, int(asian_start_hour), int(asian_end_hour))
    london = _in_hour_window(hour, int(london_start_hour), int(london_end_hour))

    days: dict[int, list[int]] = {}
    for pos, key in enumerate(day.tolist()):
        days.setdefault(key, []).append(pos)

    for positions in days.values():
        a_hi = a_lo = np.nan
        a_cnt = 0
        lon: list[int] = []
        ctx: tuple[float, float, int, int] | None = None
        cands: list[tuple[float, float, float]] = []
        fired: tuple[int, float, float] | None = None  # (bar, gap_lo, gap_hi)
        start_j = 0  # day-list index of the sweep bar (P[0]) under ctx
        for j, p in enumerate(positions):
            if asian[p]:
                a_cnt += 1
                a_hi = np.fmax(a_hi, h[p])  # NaN highs/lows are skipped, as pandas max/min
                a_lo = np.fmin(a_lo, lo[p])
            if london[p]:
                lon.append(p)
            rng = a_hi - a_lo
            new_ctx = None
            if a_cnt >= 2 and rng > 0:
                a_hi_col[p], a_lo_col[p] = a_hi, a_lo
                if len(lon) >= 3:
                    thr = rng * sweep_threshold_pct
                    for q in lon:  # first sweep in time order; below wins a same-bar tie
                        if lo[q] < a_lo - thr:
                            new_ctx = (a_hi, a_lo, q, -1)
                            break
                        if h[q] > a_hi + thr:
                            new_ctx = (a_hi, a_lo, q, 1)
                            break
            if new_ctx is not None and london[p]:
                sweep_col[p] = new_ctx[3]
            if new_ctx != ctx:
                # the context (range, sweep bar, bias) changed: replay the day from the sweep
                ctx, cands, fired = new_ctx, [], None
                if ctx is not None:
                    start_j = positions.index(ctx[2])
                    for jj in range(start_j, j + 1):
                        fired = _amd_advance(
                            h, lo, c, positions, start_j, jj, ctx[3], min_ifvg_pct, cands
                        )
                        if fired is not None:
                            break
            elif ctx is not None and fired is None:
                fired = _amd_advance(h, lo, c, positions, start_j, j, ctx[3], min_ifvg_pct, cands)
            if ctx is not None and fired is not None:
                g_lo_col[p], g_hi_col[p] = fired[1], fired[2]
                if fired[0] == p:
                    sig[p] = -ctx[3]  # sweep below (bias -1) -> long, above -> short

    # upstream returns all zeros for a frame shorter than 3 rows: made causal per row
    warm = warm_rows(n, 3)
    sig[warm] = 0
    a_hi_col[warm] = a_lo_col[warm] = g_hi_col[warm] = g_lo_col[warm] = np.nan
    sweep_col[warm] = 0.0
    return frame(
        df,
        sig,
        asian_high=a_hi_col,
        asian_low=a_lo_col,
        ifvg_high=g_hi_col,
        ifvg_low=g_lo_col,
        sweep_dir=sweep_col,
    )
