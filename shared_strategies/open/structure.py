"""Open strategies: the market-structure family (upstream catalogue §3.21-§3.36).

Chart patterns, liquidity sweeps, order blocks, the session-VWAP rules, the range scalper, the
sweep/squeeze/stoch-RSI vote and the AMD/IFVG session model. Rules follow the catalogue to
the letter (inclusive/exclusive comparisons, "-1 wins ties", level vs edge triggering).

Deliberate differences from upstream, shared by the whole port:

* Indicators come from :mod:`shared_tools.indicators`: EMA is NaN for its first ``period-1``
  bars, RSI is TA-Lib seeded (a flat window reads 50, not NaN), the true range of bar 0 is NaN
  (so a simple ATR(N) is first valid on bar N, one bar after upstream's). No rule fires from a
  NaN operand.
* Upstream returns all zeros when the *whole frame* is shorter than a minimum length. That would
  make bar i's signal depend on how many bars follow it, so we zero the signal on every *row*
  ``i`` with ``i + 1 <`` that minimum instead (identical on the last bar, the live decision).
* Where upstream reads bars after the signal bar (chart_pattern's triangles and cup & handle),
  the signal at bar ``i`` is what upstream's rule gives on the last row of ``df[: i + 1]`` -
  exactly the live decision - which keeps the closed-bar contract.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from shared_strategies.open.specs import FUTURES_LIKE, register
from shared_tools import indicators as ind

# ----------------------------------------------------------------------------- helpers


def _frame(df: pd.DataFrame, signal: np.ndarray | pd.Series, **columns: object) -> pd.DataFrame:
    """Output frame: int ``signal`` plus float indicator columns, indexed like ``df``."""
    out = pd.DataFrame({"signal": np.asarray(signal, dtype="int64")}, index=df.index)
    for key, col in columns.items():
        out[key] = np.asarray(col, dtype="float64")
    return out


def _session_vwap(df: pd.DataFrame, *, fallback_tp: bool) -> pd.Series:
    """VWAP of typical price accumulated within each calendar date of the index.

    Zero cumulative volume: typical price when ``fallback_tp`` (vwap_rejection_st), else NaN
    (vwap_reversion) - both as upstream.
    """
    tp = (df["high"] + df["low"] + df["close"]) / 3.0
    day = pd.DatetimeIndex(df.index).normalize()
    pv = (tp * df["volume"]).groupby(day).cumsum()
    vol = df["volume"].groupby(day).cumsum()
    out = pv / vol.where(vol != 0)
    if fallback_tp:
        out = out.where(vol != 0, tp)
    return out.rename("vwap")


def _bollinger_sample(close: pd.Series, period: int, num_std: float) -> pd.DataFrame:
    """Bollinger bands with the *sample* std (ddof=1), as upstream computes them.

    ``indicators.bollinger`` uses the population std (TA-Lib); upstream's structure strategies
    use pandas' default sample std, which is a rule of theirs we keep.
    """
    roll = close.rolling(period, min_periods=period)
    mid = roll.mean()
    width = num_std * roll.std(ddof=1)
    return pd.DataFrame({"mid": mid, "upper": mid + width, "lower": mid - width})


def _prior_any(cond: pd.Series, window: int) -> pd.Series:
    """True at bar i iff ``cond`` held on one of bars ``i-window .. i-1`` (false for i < window)."""
    c = cond.fillna(False).astype(float).shift(1)
    return (c.rolling(window, min_periods=window).max() == 1.0).fillna(False)


def _crosses_above(a: pd.Series, b: pd.Series) -> pd.Series:
    """``a > b`` now and ``a <= b`` on the previous bar (NaN anywhere -> False)."""
    return (a > b) & (a.shift(1) <= b.shift(1))


def _crosses_below(a: pd.Series, b: pd.Series) -> pd.Series:
    return (a < b) & (a.shift(1) >= b.shift(1))


def _guard_min_rows(signal: np.ndarray, min_rows: int) -> np.ndarray:
    """Zero rows ``i`` with ``i + 1 < min_rows`` (upstream's short-frame rule, made causal)."""
    signal = np.asarray(signal, dtype="int64").copy()
    signal[: max(0, min(len(signal), min_rows - 1))] = 0
    return signal


# ------------------------------------------------------------------ liquidity sweeps


def _ls_swings(high: np.ndarray, low: np.ndarray, lb: int) -> tuple[np.ndarray, np.ndarray]:
    """Bar p in [lb, n-lb-1] is a swing high when H[p] is the max of H[p-lb..p+lb] (ties allowed)."""
    n = len(high)
    sh = np.zeros(n, dtype=bool)
    sl = np.zeros(n, dtype=bool)
    if n >= 2 * lb + 1:
        hmax = pd.Series(high).rolling(2 * lb + 1).max().shift(-lb).to_numpy()
        lmin = pd.Series(low).rolling(2 * lb + 1).min().shift(-lb).to_numpy()
        sh = high == hmax
        sl = low == lmin
    return sh, sl


def _liquidity_sweep_core(
    high: np.ndarray, low: np.ndarray, close: np.ndarray, lb: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Signal plus the pools as they stand after each bar (pools set ``lb+1`` bars after a swing)."""
    n = len(close)
    sig = np.zeros(n, dtype="int64")
    pools_h = np.full(n, np.nan)
    pools_l = np.full(n, np.nan)
    sh, sl = _ls_swings(high, low, lb)
    pool_h = np.nan
    pool_l = np.nan
    for i in range(n):
        prev = sig[i - 1] if i > 0 else 0
        if pool_h == pool_h and high[i] > pool_h and close[i] < pool_h and prev != -1:
            sig[i] = -1
            pool_h = np.nan
        if pool_l == pool_l and low[i] < pool_l and close[i] > pool_l and prev != 1:
            sig[i] = 1  # overwrites a -1 from the pool-high check, as upstream
            pool_l = np.nan
        q = i - lb - 1
        if q >= 0:
            if sh[q]:
                pool_h = high[q]
            if sl[q]:
                pool_l = low[q]
        pools_h[i], pools_l[i] = pool_h, pool_l
    return sig, pools_h, pools_l


@register(
    "liquidity_sweeps",
    short="ls",
    description="Fade a wick through a confirmed swing-high/low liquidity pool that closes back inside.",
    defaults={"swing_lookback": 20, "confirmation": 1},
    can_short=True,
    constraints=("swing_lookback > 0",),
)
def liquidity_sweeps(df: pd.DataFrame, *, swing_lookback: int, confirmation: int) -> pd.DataFrame:
    """Stateful pool sweep (§3.26). ``confirmation`` is accepted and unused, as upstream.

    Upstream emits no indicator columns; ``pool_high``/``pool_low`` (the active pools after the
    bar, NaN when none) are ours, for display.
    """
    del confirmation  # upstream reserves it; the rule does not read it
    sig, ph, pl = _liquidity_sweep_core(
        df["high"].to_numpy(float),
        df["low"].to_numpy(float),
        df["close"].to_numpy(float),
        int(swing_lookback),
    )
    return _frame(df, sig, pool_high=ph, pool_low=pl)


# ------------------------------------------------------------------ vwap_rejection_st


@register(
    "vwap_rejection_st",
    short="vwaprej",
    description="Short a bearish rejection candle below session VWAP and EMAs after a rally into them, in a downtrend.",
    defaults={
        "ema_short": 20,
        "ema_mid": 50,
        "ema_long": 200,
        "rsi_period": 14,
        "rsi_max_reclaim": 50.0,
        "rally_window": 5,
        "rally_touch_buffer_pct": 0.001,
    },
    platforms=FUTURES_LIKE,
    can_short=True,
    constraints=(
        "ema_short > 0",
        "rsi_period > 0",
        "rally_window > 0",
        "ema_short < ema_mid",
        "ema_mid < ema_long",
    ),
)
def vwap_rejection_st(
    df: pd.DataFrame,
    *,
    ema_short: int,
    ema_mid: int,
    ema_long: int,
    rsi_period: int,
    rsi_max_reclaim: float,
    rally_window: int,
    rally_touch_buffer_pct: float,
) -> pd.DataFrame:
    """Short-only (§3.36): level-triggered -1 on every bar all conditions hold."""
    close, high, open_ = df["close"], df["high"], df["open"]
    e_s = ind.ema(close, ema_short)
    e_m = ind.ema(close, ema_mid)
    e_l = ind.ema(close, ema_long)
    vwap = _session_vwap(df, fallback_tp=True)
    r = ind.rsi(close, rsi_period)
    buf = 1.0 + rally_touch_buffer_pct
    rally = (high > vwap * buf) | (high > e_s * buf) | (high > e_m * buf)
    short = (
        (e_m < e_l)
        & _prior_any(rally, int(rally_window))
        & (r <= rsi_max_reclaim)
        & (close < open_)
        & (close < vwap)
        & (close < e_s)
        & (close < e_m)
    )
    sig = -short.fillna(False).astype("int64").to_numpy()
    min_rows = max(ema_long, rsi_period) + rally_window + 2
    sig = _guard_min_rows(sig, min_rows)
    return _frame(df, sig, ema_short=e_s, ema_mid=e_m, ema_long=e_l, vwap=vwap, rsi=r)


# ------------------------------------------------------------------ vwap_reversion


@register(
    "vwap_reversion",
    short="vwaprev",
    description="Buy a close that breaks below session VWAP - entry_std sigma, sell one that breaks above + entry_std.",
    defaults={"entry_std": 1.5, "exit_std": 0.2},
    constraints=("exit_std < entry_std",),
)
def vwap_reversion(df: pd.DataFrame, *, entry_std: float, exit_std: float) -> pd.DataFrame:
    """§3.24; ``exit_std`` is only checked by the constraint, the rule ignores it (as upstream)."""
    del exit_std
    close = df["close"]
    vwap = _session_vwap(df, fallback_tp=False)
    dev = close - vwap
    day = pd.DatetimeIndex(df.index).normalize()
    std = dev.groupby(day).transform(lambda s: s.expanding().std(ddof=1))
    first_of_day = pd.Series(day, index=df.index).duplicated().eq(False)
    std = std.where(~first_of_day.to_numpy(), 0.0)
    lower = vwap - entry_std * std
    upper = vwap + entry_std * std
    buy = _crosses_below(close, lower)  # buys the break *below* the lower band, as upstream
    sell = _crosses_above(close, upper)
    sig = buy.fillna(False).astype("int64") - sell.fillna(False).astype("int64")
    return _frame(df, sig, vwap=vwap, vwap_std=std)


# ------------------------------------------------------------------ range_scalper


@register(
    "range_scalper",
    short="rscalp",
    description="In a tight, quiet Bollinger range: buy a tag of the lower band with low RSI, sell a tag of the upper.",
    defaults={
        "bb_period": 14,
        "bb_std": 1.5,
        "bw_threshold": 0.008,
        "vol_ratio": 0.8,
        "rsi_period": 7,
        "rsi_ob": 70,
        "rsi_os": 30,
    },
    constraints=("bb_period > 0", "rsi_period > 0", "rsi_os < rsi_ob"),
)
def range_scalper(
    df: pd.DataFrame,
    *,
    bb_period: int,
    bb_std: float,
    bw_threshold: float,
    vol_ratio: float,
    rsi_period: int,
    rsi_ob: float,
    rsi_os: float,
) -> pd.DataFrame:
    """§3.28: band tag (edge) + RSI extreme + narrow bandwidth + below-average volume."""
    close, volume = df["close"], df["volume"]
    bb = _bollinger_sample(close, bb_period, bb_std)
    mid = bb["mid"]
    bandwidth = (bb["upper"] - bb["lower"]) / mid.where(mid != 0)
    vol_sma = ind.sma(volume, bb_period)
    low_volume = volume < vol_sma * vol_ratio
    in_range = (bandwidth < bw_threshold) & low_volume
    r = ind.rsi(close, rsi_period)
    buy = (close <= bb["lower"]) & (close.shift(1) > bb["lower"].shift(1)) & (r < rsi_os) & in_range
    sell = (
        (close >= bb["upper"]) & (close.shift(1) < bb["upper"].shift(1)) & (r > rsi_ob) & in_range
    )
    sig = np.where(sell, -1, np.where(buy, 1, 0))
    return _frame(
        df,
        sig,
        bb_mid=mid,
        bb_upper=bb["upper"],
        bb_lower=bb["lower"],
        bb_bandwidth=bandwidth,
        vol_sma=vol_sma,
        low_volume=low_volume,
        in_range=in_range,
        rsi=r,
    )


# ------------------------------------------------------------------ order_blocks


@register(
    "order_blocks",
    short="ob",
    description="After a displacement candle, mark the last opposite candle as an order block; trade the first retest.",
    defaults={"atr_period": 14, "displacement_mult": 1.5, "ob_lookback": 20, "max_ob_age": 50},
    constraints=("atr_period > 0", "ob_lookback > 0"),
)
def order_blocks(
    df: pd.DataFrame,
    *,
    atr_period: int,
    displacement_mult: float,
    ob_lookback: int,
    max_ob_age: int,
) -> pd.DataFrame:
    """Stateful order-block list (§3.23).

    Upstream emits no indicator columns; ``bull_obs``/``bear_obs`` (active blocks after the
    bar) are ours, for display.
    """
    o = df["open"].to_numpy(float)
    h = df["high"].to_numpy(float)
    lo = df["low"].to_numpy(float)
    c = df["close"].to_numpy(float)
    a = ind.atr(df, atr_period, "simple").to_numpy(float)  # unrounded, as upstream
    n = len(c)
    sig = np.zeros(n, dtype="int64")
    bulls = np.zeros(n)
    bears = np.zeros(n)
    # each block: [is_bull, zone_low, zone_high, birth, touched]
    blocks: list[list] = []
    for i in range(1, n):
        if np.isnan(a[i]):
            continue  # bars without ATR are skipped entirely, as upstream
        body = c[i] - o[i]
        if abs(body) > displacement_mult * a[i]:
            bull = c[i] > o[i]
            for j in range(i - 1, max(i - ob_lookback - 1, 0) - 1, -1):
                if (bull and c[j] < o[j]) or (not bull and c[j] > o[j]):
                    blocks.append([bull, lo[j], h[j], i, False])
                    break
        kept: list[list] = []
        for ob in blocks:
            bull, z_lo, z_hi, birth, touched = ob
            if i - birth > max_ob_age:
                continue
            if bull:
                if c[i] < z_lo:
                    continue
                if lo[i] <= z_hi and not touched:
                    sig[i] = 1
                    ob[4] = True
            else:
                if c[i] > z_hi:
                    continue
                if h[i] >= z_lo and not touched:
                    sig[i] = -1
                    ob[4] = True
            kept.append(ob)
        blocks = kept
        bulls[i] = sum(1 for ob in blocks if ob[0])
        bears[i] = len(blocks) - bulls[i]
    return _frame(df, sig, bull_obs=bulls, bear_obs=bears)


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

    Buckets of ``factor`` native bars aligned to the Unix epoch, readable from the native bar
    that completes them (never the forming one); 0 during the ``slow``-bucket warm-up and before
    any bucket is readable. Upstream's EMA here has no NaN warm-up (the bucket-ordinal guard
    covers it), so plain ``ewm`` is used.
    """
    n = len(df)
    close = df["close"].to_numpy(float)
    idx = df.index
    if isinstance(idx, pd.DatetimeIndex) and n >= 3:
        ns = idx.asi8
        diffs = pd.Series(np.diff(ns))
        cadence = int(diffs.mode().iloc[0])
        width = cadence * factor
        labels = (ns // width) * width
        grouped = pd.Series(close).groupby(labels, sort=True).last()
        visible_at = grouped.index.to_numpy() + width - cadence
        pos = np.searchsorted(visible_at, ns, side="right") - 1
    else:
        nb = n // factor
        grouped = pd.Series([close[(b + 1) * factor - 1] for b in range(nb)], dtype=float)
        visible_at = np.array([(b + 1) * factor - 1 for b in range(nb)])
        pos = np.searchsorted(visible_at, np.arange(n), side="right") - 1
    if len(grouped) == 0:
        return np.zeros(n, dtype="int64")
    hc = pd.Series(grouped.to_numpy(float))
    f = hc.ewm(span=fast, adjust=False).mean().to_numpy()
    s = hc.ewm(span=slow, adjust=False).mean().to_numpy()
    warm = np.arange(len(hc)) >= slow
    trend_htf = np.where(warm & (f > s), 1, np.where(warm & (f < s), -1, 0))
    return np.where(pos >= 0, trend_htf[np.clip(pos, 0, None)], 0).astype("int64")


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
        sig = _guard_min_rows(sig, 2 * lb + 5)
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
    return _frame(df, sig, **cols, swing_high=sh, swing_low=sl)


# ------------------------------------------------------------------ sweep_squeeze_combo


def _squeeze_signal(
    df: pd.DataFrame, bb_period: int, bb_std: float, kc_period: int, kc_mult: float, lookback: int
) -> np.ndarray:
    """squeeze_momentum's rule (§3.18), private here because that strategy lives in trend.py.

    Bollinger with sample std; Keltner = EMA(kc) +/- kc_mult * simple ATR(kc), unrounded.
    Fires when the squeeze releases with momentum positive and rising (+1) or negative and
    falling (-1); momentum = end point of the least-squares line through the last
    ``lookback`` deltas of close from the Donchian/SMA midline.
    """
    close = df["close"]
    bb = _bollinger_sample(close, bb_period, bb_std)
    mid = ind.ema(close, kc_period)
    a = ind.atr(df, kc_period, "simple")
    on = (bb["lower"] > mid - kc_mult * a) & (bb["upper"] < mid + kc_mult * a)
    valid = bb["lower"].notna() & mid.notna() & a.notna()
    hh = df["high"].rolling(kc_period, min_periods=kc_period).max()
    ll = df["low"].rolling(kc_period, min_periods=kc_period).min()
    delta = close - ((hh + ll) / 2.0 + ind.sma(close, bb_period)) / 2.0
    if lookback == 1:
        mom = delta
    else:
        x = np.arange(lookback, dtype=float)
        xc = x - x.mean()
        den = (xc**2).sum()

        def endpoint(w: np.ndarray) -> float:
            return float((xc * (w - w.mean())).sum() / den * xc[-1] + w.mean())

        mom = delta.rolling(lookback, min_periods=lookback).apply(endpoint, raw=True)
    fired = valid & ~on & on.shift(1, fill_value=False)
    prev = mom.shift(1)
    buy = fired & (mom > 0) & (mom > prev)
    sell = fired & (mom < 0) & (mom < prev)
    return buy.astype("int64").to_numpy() - sell.astype("int64").to_numpy()


def _stoch_rsi_signal(
    close: pd.Series,
    rsi_period: int,
    stoch_period: int,
    k_smooth: int,
    d_smooth: int,
    overbought: float,
    oversold: float,
) -> np.ndarray:
    """stoch_rsi's rule (§3.14), private here: %K/%D crosses in the extreme zones."""
    r = ind.rsi(close, rsi_period)
    lo = r.rolling(stoch_period, min_periods=stoch_period).min()
    hi = r.rolling(stoch_period, min_periods=stoch_period).max()
    rng = hi - lo
    raw = 100.0 * (r - lo) / rng.where(rng != 0)  # flat window -> NaN, as upstream
    k = ind.sma(raw, k_smooth)
    d = ind.sma(k, d_smooth)
    buy = _crosses_above(k, d) & (k < oversold)
    sell = _crosses_below(k, d) & (k > overbought)
    return np.where(sell, -1, np.where(buy, 1, 0)).astype("int64")


@register(
    "sweep_squeeze_combo",
    short="ssc",
    description="Vote of liquidity sweep, squeeze-momentum release and stochastic-RSI cross; trade on min_agree votes.",
    defaults={"swing_lookback": 10, "min_agree": 2},
    constraints=("swing_lookback > 0",),
)
def sweep_squeeze_combo(
    df: pd.DataFrame,
    *,
    swing_lookback: int,
    min_agree: int,
    bb_period: int = 20,
    bb_std: float = 2.0,
    kc_period: int = 20,
    kc_mult: float = 1.5,
    mom_lookback: int = 12,
    rsi_period: int = 14,
    stoch_period: int = 14,
    k_smooth: int = 3,
    d_smooth: int = 3,
    overbought: float = 80,
    oversold: float = 20,
) -> pd.DataFrame:
    """§3.29. Upstream also accepts the component params as unregistered overrides; our
    registry only passes registered params, so those keep their core defaults here."""
    ls, _, _ = _liquidity_sweep_core(
        df["high"].to_numpy(float),
        df["low"].to_numpy(float),
        df["close"].to_numpy(float),
        int(swing_lookback),
    )
    sq = _squeeze_signal(df, bb_period, bb_std, kc_period, kc_mult, mom_lookback)
    sr = _stoch_rsi_signal(
        df["close"], rsi_period, stoch_period, k_smooth, d_smooth, overbought, oversold
    )
    votes = np.vstack([ls, sq, sr])
    buy_votes = (votes == 1).sum(axis=0)
    sell_votes = (votes == -1).sum(axis=0)
    sig = np.where(sell_votes >= min_agree, -1, np.where(buy_votes >= min_agree, 1, 0))
    return _frame(
        df,
        sig,
        ls_signal=ls,
        sq_signal=sq,
        sr_signal=sr,
        buy_votes=buy_votes,
        sell_votes=sell_votes,
    )


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
        return _frame(
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
    short = min(n, 2)
    sig[:short] = 0
    a_hi_col[:short] = a_lo_col[:short] = g_hi_col[:short] = g_lo_col[:short] = np.nan
    sweep_col[:short] = 0.0
    return _frame(
        df,
        sig,
        asian_high=a_hi_col,
        asian_low=a_lo_col,
        ifvg_high=g_hi_col,
        ifvg_low=g_lo_col,
        sweep_dir=sweep_col,
    )
