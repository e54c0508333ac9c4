"""Open strategy chart_pattern (upstream catalogue §3.25): classic patterns on swing points.

Double/triple tops and bottoms, head & shoulders (and inverse), triangles and cup & handle,
each traded on a volume-confirmed breakout, with an optional higher-timeframe EMA gate.

Where upstream reads bars after the signal bar (the triangles and cup & handle), the signal at
bar ``i`` is what upstream's rule gives on the last row of ``df[: i + 1]`` - exactly the live
decision - which keeps the closed-bar contract. Upstream's whole-frame minimum length is
applied per row (see :func:`~shared_strategies.open.common.warm_rows`).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from shared_strategies.open.common import frame, htf_buckets, project, warm_rows
from shared_strategies.open.specs import register

# ------------------------------------------------------------------ chart_pattern


def _cp_swings(high: pd.Series, low: pd.Series, lb: int) -> tuple[pd.Series, pd.Series]:
    """chart_pattern swing points: centered ``2*lb+1`` extreme (ties allowed), first of each run.

    Values sit on the swing bar, so as display columns they are centered (look-ahead) exactly as
    upstream's; the signals only ever use a swing ``lb`` bars after it, once it is known.
    """
    win = 2 * lb + 1
    hmax = high.rolling(win, center=True).max()
    lmin = low.rolling(win, center=True).min()
    raw_h = (high == hmax).to_numpy()
    raw_l = (low == lmin).to_numpy()
    is_h = raw_h & ~np.r_[False, raw_h[:-1]]
    is_l = raw_l & ~np.r_[False, raw_l[:-1]]
    sh = high.where(is_h)
    sl = low.where(is_l)
    return sh, sl


def _first_bar(cond: np.ndarray, start: int, stop: int) -> int | None:
    """First index in ``[start, stop)`` where ``cond`` is true, else None."""
    start = max(start, 0)
    if start >= stop:
        return None
    hits = np.flatnonzero(cond[start:stop])
    return start + int(hits[0]) if len(hits) else None


def _reversal_matches(
    hi_idx: np.ndarray,
    lo_idx: np.ndarray,
    h: np.ndarray,
    lo: np.ndarray,
    close: np.ndarray,
    tol: float,
    lb: int,
) -> list[tuple[int, int]]:
    """Detectors 1-6 (double/triple top/bottom, head & shoulders and inverse), in order.

    Each scans for the *first* breakout bar after the last swing is known, so the full-frame
    result equals the live (prefix) decision bar by bar.
    """
    n = len(close)
    out: list[tuple[int, int]] = []

    def between(idx: np.ndarray, a: int, b: int) -> np.ndarray:
        return idx[(idx > a) & (idx < b)]

    def breakout(start: int, below: bool, level: float, sig: int) -> None:
        j = _first_bar(close < level if below else close > level, start, n)
        if j is not None:
            out.append((sig, j))

    # 1. double_top / 2. double_bottom
    for a, b in zip(hi_idx[:-1], hi_idx[1:], strict=True):
        if abs(h[a] - h[b]) / h[a] <= tol:
            mids = between(lo_idx, a, b)
            if len(mids):
                breakout(b + lb + 1, True, lo[mids].min(), -1)
    for a, b in zip(lo_idx[:-1], lo_idx[1:], strict=True):
        if abs(lo[a] - lo[b]) / lo[a] <= tol:
            mids = between(hi_idx, a, b)
            if len(mids):
                breakout(b + lb + 1, False, h[mids].max(), 1)
    # 3. triple_top / 4. triple_bottom
    for k in range(len(hi_idx) - 2):
        t = hi_idx[k : k + 3]
        m = h[t].mean()
        if np.all(np.abs(h[t] - m) / m <= tol):
            mids = between(lo_idx, t[0], t[2])
            if len(mids):
                breakout(t[2] + lb + 1, True, lo[mids].min(), -1)
    for k in range(len(lo_idx) - 2):
        t = lo_idx[k : k + 3]
        m = lo[t].mean()
        if np.all(np.abs(lo[t] - m) / m <= tol):
            mids = between(hi_idx, t[0], t[2])
            if len(mids):
                breakout(t[2] + lb + 1, False, h[mids].max(), 1)
    # 5. head_shoulders / 6. inv_head_shoulders
    for k in range(len(hi_idx) - 2):
        ls, hd, rs = hi_idx[k : k + 3]
        if h[hd] > h[ls] and h[hd] > h[rs] and abs(h[ls] - h[rs]) / h[ls] <= tol:
            mids = between(lo_idx, ls, rs)
            if len(mids):
                breakout(rs + lb + 1, True, lo[mids].mean(), -1)
    for k in range(len(lo_idx) - 2):
        ls, hd, rs = lo_idx[k : k + 3]
        if lo[hd] < lo[ls] and lo[hd] < lo[rs] and abs(lo[ls] - lo[rs]) / lo[ls] <= tol:
            mids = between(hi_idx, ls, rs)
            if len(mids):
                breakout(rs + lb + 1, False, h[mids].mean(), 1)
    # 7./8. bull_flag / bear_flag: upstream's flag high/low includes the breakout bar itself,
    # so `close > max(flag highs)` can never hold on valid OHLC data; they never fire and are
    # left out here.
    return out


def _fit_slope(x: np.ndarray, y: np.ndarray) -> float:
    """Least-squares slope of y on x; 0 for fewer than 2 points or a degenerate x."""
    if len(x) < 2:
        return 0.0
    xm = x.mean()
    den = ((x - xm) ** 2).sum()
    return 0.0 if den == 0 else float(((x - xm) * (y - y.mean())).sum() / den)


def _triangle_matches(
    hi_idx: np.ndarray,
    lo_idx: np.ndarray,
    h: np.ndarray,
    lo: np.ndarray,
    close: np.ndarray,
    lb: int,
) -> list[list[tuple[int, int]]]:
    """Detectors 9-11 (ascending, descending, symmetrical), each a list of (signal, bar).

    upstream differs: it fits the last swings of the *whole frame*, so a bar's triangle signal
    depends on later bars. Here bar j fires iff upstream's rule fires on the last row of
    ``df[: j + 1]`` (the live decision): the swings are those known at j (``p <= j - lb``) and j
    must be the first qualifying bar of that configuration's breakout window.
    """
    n = len(close)
    flat = 0.0001
    # known-swing counts at each bar j (swing p is known from bar p + lb)
    nh = np.searchsorted(hi_idx, np.arange(n) - lb, side="right")
    nl = np.searchsorted(lo_idx, np.arange(n) - lb, side="right")
    configs = sorted(set(zip(nh.tolist(), nl.tolist(), strict=True)))
    per_type: list[list[tuple[int, int]]] = [[], [], []]
    for ch, cl in configs:
        if ch < 2 or cl < 2:
            continue
        for ws in (4, 6, 8):
            half = ws // 2
            if ch < half or cl < half:
                continue
            rh, rl = hi_idx[ch - half : ch], lo_idx[cl - half : cl]
            hv, lv = h[rh], lo[rl]
            r_slope = _fit_slope(rh.astype(float), hv)
            s_slope = _fit_slope(rl.astype(float), lv)
            avg = (hv.mean() + lv.mean()) / 2.0
            if not avg > 0:
                continue
            rn, sn = r_slope / avg, s_slope / avg
            end = int(max(rh[-1], rl[-1]))
            start, stop = end + lb + 1, min(end + 20, n)
            alive = (nh == ch) & (nl == cl)
            found: list[tuple[int, int, int]] = []  # (type, signal, bar)
            if abs(rn) <= flat and sn > flat:
                j = _first_bar(close > hv.mean(), start, stop)
                if j is not None:
                    found.append((0, 1, j))
            if abs(sn) <= flat and rn < -flat:
                j = _first_bar(close < lv.mean(), start, stop)
                if j is not None:
                    found.append((1, -1, j))
            if rn < -flat and sn > flat:
                js = np.arange(n)
                upper = hv.mean() + r_slope * (js - rh.mean())
                lower = lv.mean() + s_slope * (js - rl.mean())
                j = _first_bar((close > upper) | (close < lower), start, stop)
                if j is not None:
                    found.append((2, 1 if close[j] > upper[j] else -1, j))
            for typ, sig, j in found:
                if alive[j]:  # the live frame ending at j sees this configuration
                    per_type[typ].append((sig, j))
    # keep upstream's write order inside a detector: by window size (configs differ per bar)
    return per_type


def _cup_handle_matches(
    hi_idx: np.ndarray,
    lo_idx: np.ndarray,
    h: np.ndarray,
    lo: np.ndarray,
    close: np.ndarray,
    tol: float,
    lb: int,
) -> list[tuple[int, int]]:
    """Detector 12 (cup & handle), evaluated as the live decision at each bar.

    upstream differs: its handle low is the min close over ``[right, right+20)`` of the whole
    frame, which reaches past the breakout bar. Here bar i fires iff upstream's detector, run on
    ``df[: i + 1]``, reports a breakout at i (handle window and scan cut at i).
    """
    n = len(close)
    # static per-pair filters (tolerance, a swing low between, >= 10% depth); they only use
    # swings up to the right rim, all known once the right rim is.
    static: list[list[tuple[int, float, float, float]]] = []
    for a in range(len(hi_idx)):
        left, lv = hi_idx[a], h[hi_idx[a]]
        row = []
        for b in range(a + 1, len(hi_idx)):
            right, rv = hi_idx[b], h[hi_idx[b]]
            if abs(lv - rv) / max(lv, 1e-9) > tol:
                continue
            mids = lo_idx[(lo_idx > left) & (lo_idx < right)]
            if not len(mids):
                continue
            rim_avg = (lv + rv) / 2.0
            depth = rim_avg - lo[mids].min()
            if depth / max(rim_avg, 1e-9) < 0.10:
                continue
            row.append((b, rim_avg, depth, max(lv, rv)))
        static.append(row)
    # candidate bars: a close above some known swing high within its breakout reach
    cand = np.zeros(n, dtype=bool)
    for r in hi_idx:
        stop = min(r + 30, n)
        if r + lb + 1 < stop:
            seg = slice(r + lb + 1, stop)
            cand[seg] |= close[seg] > h[r]
    out: list[tuple[int, int]] = []
    for i in np.flatnonzero(cand):
        m = i + 1
        ch = int(np.searchsorted(hi_idx, i - lb, side="right"))
        cl = int(np.searchsorted(lo_idx, i - lb, side="right"))
        if ch < 3 or cl < 1:
            continue
        any_match = hit = False
        for a in range(ch - 2):
            for b, rim_avg, depth, level in static[a]:
                if b >= ch:
                    break
                right = hi_idx[b]
                he = min(right + 20, m)
                if he <= right + 2:
                    continue
                if rim_avg - close[right:he].min() > 0.5 * depth:
                    continue
                k = _first_bar(close > level, right + lb + 1, min(he + 10, m))
                if k is not None:
                    any_match = True
                    hit = hit or k == i
                if any_match:
                    break
        if hit:
            out.append((1, int(i)))
    return out


def _htf_trend(df: pd.DataFrame, factor: int, fast: int, slow: int) -> np.ndarray:
    """HTF EMA(fast) vs EMA(slow) trend readable at each native bar (+1 / -1 / 0).

    Closed buckets of ``factor`` native bars (:func:`~shared_strategies.open.common.htf_buckets`),
    never the forming one; 0 during the ``slow``-bucket warm-up and before any bucket is
    readable. Upstream's EMA here has no NaN warm-up (the bucket-ordinal guard covers it), so
    plain ``ewm`` is used.
    """
    buckets, visible = htf_buckets(df, factor, ("close",))
    if len(buckets) == 0:
        return np.zeros(len(df), dtype="int64")
    hc = pd.Series(buckets["close"].to_numpy(float))
    f = hc.ewm(span=fast, adjust=False).mean().to_numpy()
    s = hc.ewm(span=slow, adjust=False).mean().to_numpy()
    warm = np.arange(len(hc)) >= slow
    trend_htf = np.where(warm & (f > s), 1, np.where(warm & (f < s), -1, 0))
    return project(trend_htf.astype("int64"), visible, 0).astype("int64")


def _volume_confirmed(volume: np.ndarray, b: int, period: int, mult: float) -> bool:
    """Breakout volume above ``mult`` x the mean of the previous ``period`` bars."""
    if b < period:
        return True
    avg = volume[b - period : b].mean()
    return bool(avg <= 0 or volume[b] > mult * avg)


@register(
    "chart_pattern",
    short="chart",
    description="Classic chart patterns (double/triple tops and bottoms, H&S, triangles, cup & handle) on volume-confirmed breakouts.",
    defaults={
        "pivot_lookback": 5,
        "tolerance": 0.03,
        "vol_multiplier": 1.5,
        "vol_period": 20,
        "htf_gate_factor": 0,
        "htf_gate_mode": "veto",
        "htf_gate_ema_fast": 20,
        "htf_gate_ema_slow": 40,
    },
    ranges={
        "pivot_lookback": [3, 5, 7],
        "tolerance": [0.02, 0.03, 0.05],
        "vol_multiplier": [1.2, 1.5, 2.0],
        "htf_gate_factor": [0, 6, 10],
    },
    can_short=True,
    constraints=("pivot_lookback > 0", "vol_period > 0"),
)
def chart_pattern(
    df: pd.DataFrame,
    *,
    pivot_lookback: int,
    tolerance: float,
    vol_multiplier: float,
    vol_period: int,
    htf_gate_factor: int,
    htf_gate_mode: str,
    htf_gate_ema_fast: int,
    htf_gate_ema_slow: int,
) -> pd.DataFrame:
    """§3.25: every detector's confirmed breakouts, later detectors overwriting on a bar."""
    if htf_gate_mode not in ("veto", "align"):
        raise ValueError(f"htf_gate_mode must be one of ('veto', 'align'), got {htf_gate_mode!r}")
    lb = int(pivot_lookback)
    n = len(df)
    gate_on = bool(htf_gate_factor) and int(htf_gate_factor) > 1
    sig = np.zeros(n, dtype="int64")
    sh, sl = _cp_swings(df["high"], df["low"], lb)
    if n >= 2 * lb + 5:
        h = df["high"].to_numpy(float)
        lo = df["low"].to_numpy(float)
        close = df["close"].to_numpy(float)
        volume = df["volume"].to_numpy(float)
        hi_idx = np.flatnonzero(sh.notna().to_numpy())
        lo_idx = np.flatnonzero(sl.notna().to_numpy())
        matches = _reversal_matches(hi_idx, lo_idx, h, lo, close, tolerance, lb)
        for tri in _triangle_matches(hi_idx, lo_idx, h, lo, close, lb):
            matches.extend(tri)
        matches.extend(_cup_handle_matches(hi_idx, lo_idx, h, lo, close, tolerance, lb))
        for s, b in matches:
            if 0 <= b < n and _volume_confirmed(volume, b, int(vol_period), vol_multiplier):
                sig[b] = s
        sig[warm_rows(n, 2 * lb + 5)] = 0
    else:
        sh = sh * np.nan
        sl = sl * np.nan
    cols: dict[str, object] = {}
    if gate_on:
        trend = _htf_trend(df, int(htf_gate_factor), htf_gate_ema_fast, htf_gate_ema_slow)
        if htf_gate_mode == "align":
            blocked = ((sig == 1) & (trend != 1)) | ((sig == -1) & (trend != -1))
        else:
            blocked = ((sig == 1) & (trend == -1)) | ((sig == -1) & (trend == 1))
        sig = np.where(blocked, 0, sig)
        cols["htf_gate_trend"] = trend
    return frame(df, sig, **cols, swing_high=sh, swing_low=sl)
