"""Open strategies: regime-adaptive, multi-timeframe and funding family (catalogue §3.31-3.32, 3.46-3.50).

Ported rule by rule from the upstream catalogue (own implementation). Shared conventions:

* Indicators come from :mod:`shared_tools.indicators` (EMA with NaN warm-up, simple ATR whose
  first bar has no true range, TA-Lib-seeded Wilder ADX with NaN warm-up). Upstream's EMA has no
  warm-up NaNs, its true range exists on bar 0 and its ADX warm-up is 0; ours are NaN, and a
  comparison with NaN is False, so nothing enters or flips on a warm-up bar (our deliberate
  difference: no warm-up artefact signals). Where upstream rounds an ATR >= 100 to an integer
  (§2.2: vol_momentum, regime_adaptive, regime_adaptive_htf) we round the same way.
* The position-loop strategies keep an internal position and signal its clipped change, so a
  ``-1`` is an exit of a long (or, where ``allow_short``, the entry of a short).
* Label columns that upstream writes as strings (``ra_label``, ``rah_label``, ``rah_raw_label``)
  are not emitted: our indicator columns are floats, and upstream never reports strings anyway.

Funding (delta_neutral_funding, funding_skew): strategies are pure functions of the frame, so
funding reaches them as a ``funding_rate`` column of ``df`` (the hourly rate in force at each
bar, as-of backward). The check script supplies it, e.g. from
``shared_tools.market.simulated_funding_rate(symbol, bar_time)`` or from venue funding history
through :func:`funding_column`. Without the column funding_skew never enters and
delta_neutral_funding falls back to upstream's live scalar params.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np
import pandas as pd

from shared_strategies.open.specs import FUTURES_LIKE, register
from shared_tools import indicators as ind

__all__ = ["funding_column"]

_BOTH_SHORT = {"perps": {"allow_short": True}, "futures": {"allow_short": True}}


# ------------------------------------------------------------------ small helpers


def _frame(df: pd.DataFrame, signal: np.ndarray, **columns: Any) -> pd.DataFrame:
    """Int ``signal`` plus float indicator columns, indexed like ``df``."""
    out = pd.DataFrame({"signal": np.asarray(signal, dtype="int64")}, index=df.index)
    for key, col in columns.items():
        out[key] = np.asarray(col, dtype="float64")
    return out


def _signal_from_position(pos: np.ndarray) -> np.ndarray:
    """Clipped bar-to-bar change of the position (bar 0 against a flat start)."""
    return np.clip(np.diff(np.asarray(pos, dtype="int64"), prepend=0), -1, 1)


def _atr_rounded(df: pd.DataFrame, period: int) -> pd.Series:
    """Simple ATR with upstream's >= 100 rounding (round-half-to-even, §2.2)."""
    a = ind.atr(df, period, "simple")
    return a.where(~(a >= 100.0), np.round(a))


def _ratio_or_zero(num: pd.Series, denom: pd.Series) -> pd.Series:
    """``num / denom`` where ``denom > 0``, else 0.0 (upstream's guarded ratios)."""
    safe = denom.where(denom > 0)
    return (num / safe).where(denom > 0, 0.0)


def _path_efficiency(close: pd.Series, net: pd.Series, diffs: int) -> pd.Series:
    """Kaufman efficiency ``|net| / sum|dclose|`` over the last ``diffs`` changes; 0 if no path."""
    if diffs < 1:
        return pd.Series(0.0, index=close.index)
    path = close.diff().abs().rolling(diffs, min_periods=diffs).sum()
    return _ratio_or_zero(net.abs(), path)


def _cross_up(x: pd.Series, level: float) -> np.ndarray:
    """``x`` crosses above ``level``: now ``> level``, previous bar ``<= level`` (NaN: no)."""
    return ((x > level) & (x.shift(1) <= level)).to_numpy()


def _cross_down(x: pd.Series, level: float) -> np.ndarray:
    """``x`` crosses below ``level``: now ``< level``, previous bar ``>= level`` (NaN: no)."""
    return ((x < level) & (x.shift(1) >= level)).to_numpy()


def _prior_any(cond: pd.Series, window: int) -> np.ndarray:
    """True iff ``cond`` held on one of the ``window`` bars before this one (false for i < window)."""
    shifted = cond.astype("float64").shift(1)
    return (shifted.rolling(window, min_periods=window).max() > 0).to_numpy()


# ------------------------------------------------------------- HTF resampling (§2.5)


def _htf_buckets(df: pd.DataFrame, factor: int) -> tuple[pd.DataFrame, np.ndarray]:
    """Closed higher-timeframe buckets and, per native bar, the newest readable bucket.

    Buckets are ``factor`` native cadences wide, aligned to the Unix epoch; a bucket becomes
    readable on the native bar whose close completes it (label + width - cadence), so the
    forming bucket is never read. Without a DatetimeIndex of >= 3 rows (or with a zero
    cadence) buckets are ``factor`` consecutive rows from the frame start. Returns the bucket
    OHLC frame (in order) and an int array: bucket ordinal readable at each bar, -1 if none.
    """
    n = len(df)
    idx = df.index
    if isinstance(idx, pd.DatetimeIndex) and n >= 3:
        stamps = np.asarray(idx.asi8, dtype="int64")
        values, counts = np.unique(np.diff(stamps), return_counts=True)
        cadence = int(values[np.argmax(counts)])  # most common spacing (smallest on ties)
        if cadence > 0:
            width = cadence * factor
            labels = (stamps // width) * width
            grouped = df[["open", "high", "low", "close"]].groupby(labels, sort=True)
            buckets = grouped.agg({"open": "first", "high": "max", "low": "min", "close": "last"})
            readable = buckets.index.to_numpy(dtype="int64") + width - cadence
            visible = np.searchsorted(readable, stamps, side="right") - 1
            return buckets.reset_index(drop=True), visible.astype("int64")
    count = n // factor
    rows = np.arange(count * factor) // factor
    part = df[["open", "high", "low", "close"]].iloc[: count * factor]
    grouped = part.groupby(rows, sort=True)
    buckets = grouped.agg({"open": "first", "high": "max", "low": "min", "close": "last"})
    visible = (np.arange(n) + 1) // factor - 1
    return buckets.reset_index(drop=True), visible.astype("int64")


def _project(values: np.ndarray, visible: np.ndarray, fill: Any) -> np.ndarray:
    """Per-bucket ``values`` read on native bars (``fill`` where no bucket is readable yet)."""
    values = np.asarray(values)
    out = np.full(len(visible), fill, dtype=np.result_type(values.dtype, np.asarray(fill).dtype))
    seen = visible >= 0
    out[seen] = values[visible[seen]]
    return out


# ------------------------------------------------------------------------------ hold


@register(
    "hold",
    short="hold",
    description="Never enters (signal 0): lets the close evaluators run on manual positions.",
    defaults={},
)
def hold(df: pd.DataFrame) -> pd.DataFrame:
    """Always flat: used by manual strategies so only the close side acts."""
    return pd.DataFrame({"signal": np.zeros(len(df), dtype="int64")}, index=df.index)


# ------------------------------------------------------------ regime labels (§3.48)

_WARM = 0
_UP_CLEAN, _UP_CHOPPY, _DOWN_CLEAN, _DOWN_CHOPPY = 1, 2, 3, 4
_RANGING_DIRECTIONAL, _RANGING_VOLATILE, _RANGING_QUIET = 5, 6, 7
_LABELS = (
    "",
    "trending_up_clean",
    "trending_up_choppy",
    "trending_down_clean",
    "trending_down_choppy",
    "ranging_directional",
    "ranging_volatile",
    "ranging_quiet",
)
_TREND_LONG_KEEP = (_UP_CLEAN, _UP_CHOPPY)
_TREND_SHORT_KEEP = (_DOWN_CLEAN, _DOWN_CHOPPY)


def _regime_labels(
    ohlc: pd.DataFrame,
    *,
    period: int,
    adx_threshold: float,
    return_eff_threshold: float,
    range_eff_threshold: float,
    efficiency_threshold: float,
) -> dict[str, np.ndarray]:
    """Trailing per-bar 7-label regime (upstream's regime_adaptive variant of §6.2).

    Returns the integer label codes (``_LABELS``) and the metrics behind them.
    """
    close = ohlc["close"]
    atr = _atr_rounded(ohlc, period)
    denom = atr * period
    net = close - close.shift(period - 1)
    return_eff = _ratio_or_zero(net, denom)
    span = (
        ohlc["high"].rolling(period, min_periods=period).max()
        - ohlc["low"].rolling(period, min_periods=period).min()
    )
    range_eff = _ratio_or_zero(span, denom)
    efficiency = _path_efficiency(close, net, period - 1)
    adx_period = min(period, 14)
    if adx_period >= 2:
        adx = ind.adx(ohlc, adx_period)["adx"]
    else:  # our ADX needs period >= 2; a 1-bar ADX is no opinion (never "high")
        adx = pd.Series(np.nan, index=ohlc.index)

    big = (return_eff.abs() >= return_eff_threshold).to_numpy()
    up = (return_eff > 0).to_numpy()
    hiadx = (adx >= adx_threshold).to_numpy()
    wide = (range_eff >= range_eff_threshold).to_numpy()
    clean = (efficiency >= efficiency_threshold).to_numpy() & hiadx
    warm = (net.isna() | atr.isna()).to_numpy()
    label = np.select(
        [warm, big & up & clean, big & up, big & clean, big, hiadx, wide],
        [
            _WARM,
            _UP_CLEAN,
            _UP_CHOPPY,
            _DOWN_CLEAN,
            _DOWN_CHOPPY,
            _RANGING_DIRECTIONAL,
            _RANGING_VOLATILE,
        ],
        default=_RANGING_QUIET,
    )
    return {
        "label": label.astype("int64"),
        "return_eff": return_eff.to_numpy(dtype="float64"),
        "range_eff": range_eff.to_numpy(dtype="float64"),
        "efficiency": efficiency.to_numpy(dtype="float64"),
        "adx": adx.to_numpy(dtype="float64"),
    }


def _breakouts(df: pd.DataFrame, lookback: int) -> tuple[np.ndarray, np.ndarray]:
    """Close beyond the high/low of the previous ``lookback`` bars (current bar excluded)."""
    prior_high = df["high"].shift(1).rolling(lookback, min_periods=lookback).max()
    prior_low = df["low"].shift(1).rolling(lookback, min_periods=lookback).min()
    return (df["close"] > prior_high).to_numpy(), (df["close"] < prior_low).to_numpy()


def _slow_eff(close: pd.Series, atr: pd.Series, lookback: int) -> pd.Series:
    """Slow drift ``(close - close[i-S]) / (atr * S)`` (0.0 when the denominator is not > 0)."""
    return _ratio_or_zero(close - close.shift(lookback), atr * lookback)


def _exit_state(state: int, lab: int, z: float, mr_exit_z: float) -> int:
    """Shared exits of the regime_adaptive loops (NaN z never exits)."""
    if state == 1 and lab not in _TREND_LONG_KEEP:
        return 0
    if state == -1 and lab not in _TREND_SHORT_KEEP:
        return 0
    if state == 2 and (z >= mr_exit_z or lab == _DOWN_CLEAN):
        return 0
    if state == -2 and (z <= -mr_exit_z or lab == _UP_CLEAN):
        return 0
    return state


@register(
    "regime_adaptive",
    short="ra",
    description="Per-bar regime: breakouts in clean trends, z-score fades in ranges and choppy trends.",
    defaults={
        "period": 20,
        "adx_threshold": 20.0,
        "return_eff_threshold": 0.05,
        "range_eff_threshold": 0.03,
        "efficiency_threshold": 0.5,
        "breakout_lookback": 10,
        "mr_lookback": 20,
        "mr_entry_z": 2.0,
        "mr_exit_z": 0.0,
        "slow_trend_lookback": 100,
        "slow_veto_threshold": 0.05,
        "allow_short": False,
    },
    can_short=True,
    variants=_BOTH_SHORT,
    constraints=("period > 0", "breakout_lookback > 0", "mr_lookback > 0"),
)
def regime_adaptive(
    df: pd.DataFrame,
    *,
    period: int,
    adx_threshold: float,
    return_eff_threshold: float,
    range_eff_threshold: float,
    efficiency_threshold: float,
    breakout_lookback: int,
    mr_lookback: int,
    mr_entry_z: float,
    mr_exit_z: float,
    slow_trend_lookback: int,
    slow_veto_threshold: float,
    allow_short: bool,
) -> pd.DataFrame:
    """Switch between trend breakouts and mean-reversion fades by the bar's regime label."""
    n = len(df)
    close = df["close"]
    lab = _regime_labels(
        df,
        period=period,
        adx_threshold=adx_threshold,
        return_eff_threshold=return_eff_threshold,
        range_eff_threshold=range_eff_threshold,
        efficiency_threshold=efficiency_threshold,
    )
    bo_up, bo_dn = _breakouts(df, breakout_lookback)
    z = ind.zscore(close, mr_lookback)
    mr_long, mr_short = _cross_up(z, -mr_entry_z), _cross_down(z, mr_entry_z)
    if slow_trend_lookback > 0:
        slow = _slow_eff(close, _atr_rounded(df, period), slow_trend_lookback)
        veto_long = (slow <= -slow_veto_threshold).to_numpy()
        veto_short = (slow >= slow_veto_threshold).to_numpy()
    else:
        slow = pd.Series(np.nan, index=df.index)
        veto_long = veto_short = np.zeros(n, dtype=bool)

    pos = np.zeros(n, dtype="int64")
    if n > min(period, 14):
        labels, zs = lab["label"], z.to_numpy(dtype="float64")
        fade_ok = (_RANGING_QUIET, _RANGING_VOLATILE, _UP_CHOPPY, _DOWN_CHOPPY)
        state = 0
        for i in range(n):
            cur = int(labels[i])
            if cur == _WARM:
                state = 0
                continue
            state = _exit_state(state, cur, zs[i], mr_exit_z)
            if state == 0:
                if cur == _UP_CLEAN and bo_up[i]:
                    state = 1
                elif allow_short and cur == _DOWN_CLEAN and bo_dn[i]:
                    state = -1
                elif cur in fade_ok:
                    if mr_long[i] and not veto_long[i]:
                        state = 2
                    elif allow_short and mr_short[i] and not veto_short[i]:
                        state = -2
            pos[i] = np.sign(state)
        pos[0] = 0
    return _frame(
        df,
        _signal_from_position(pos),
        ra_return_eff=lab["return_eff"],
        ra_range_eff=lab["range_eff"],
        ra_efficiency=lab["efficiency"],
        ra_adx=lab["adx"],
        ra_z=z,
        ra_slow_eff=slow,
    )


def _confirm(raw: np.ndarray, confirm_buckets: int) -> np.ndarray:
    """Hysteresis: a new label counts only after ``confirm_buckets`` equal buckets in a row."""
    if confirm_buckets <= 1:
        return raw.copy()
    out = np.empty_like(raw)
    current, streak_label, streak = _WARM, _WARM, 0
    for j, label in enumerate(raw):
        if label == _WARM:
            streak_label, streak = _WARM, 0
        elif label == streak_label:
            streak += 1
        else:
            streak_label, streak = int(label), 1
        if streak_label != _WARM and streak >= confirm_buckets and streak_label != current:
            current = streak_label
        out[j] = current
    return out


@register(
    "regime_adaptive_htf",
    short="rah",
    description="Higher-timeframe regime (with hysteresis) picks trend entries or z-score fades.",
    defaults={
        "htf_factor": 6,
        "period": 14,
        "adx_threshold": 20.0,
        "return_eff_threshold": 0.05,
        "range_eff_threshold": 0.03,
        "efficiency_threshold": 0.5,
        "confirm_buckets": 2,
        "trend_entry": "off",
        "trend_drift_confirm": 0.10,
        "transition_window": 6,
        "pullback_z": 1.0,
        "fade_labels": "ranging",
        "breakout_lookback": 10,
        "mr_lookback": 20,
        "mr_entry_z": 2.0,
        "mr_exit_z": 0.0,
        "slow_trend_lookback": 100,
        "slow_veto_threshold": 0.05,
        "allow_short": False,
    },
    constraints=("htf_factor > 0", "period > 0", "breakout_lookback > 0", "mr_lookback > 0"),
)
def regime_adaptive_htf(
    df: pd.DataFrame,
    *,
    htf_factor: int,
    period: int,
    adx_threshold: float,
    return_eff_threshold: float,
    range_eff_threshold: float,
    efficiency_threshold: float,
    confirm_buckets: int,
    trend_entry: str,
    trend_drift_confirm: float,
    transition_window: int,
    pullback_z: float,
    fade_labels: str,
    breakout_lookback: int,
    mr_lookback: int,
    mr_entry_z: float,
    mr_exit_z: float,
    slow_trend_lookback: int,
    slow_veto_threshold: float,
    allow_short: bool,
) -> pd.DataFrame:
    """regime_adaptive with the label taken from closed higher-timeframe buckets."""
    n = len(df)
    close = df["close"]
    z = ind.zscore(close, mr_lookback)
    if slow_trend_lookback > 0:
        slow = _slow_eff(close, _atr_rounded(df, mr_lookback), slow_trend_lookback)
        veto_long = (slow <= -slow_veto_threshold).to_numpy()
        veto_short = (slow >= slow_veto_threshold).to_numpy()
        drift_long = (slow >= trend_drift_confirm).to_numpy()
        drift_short = (slow <= -trend_drift_confirm).to_numpy()
    else:
        slow = pd.Series(np.nan, index=df.index)
        veto_long = veto_short = np.zeros(n, dtype=bool)
        drift_long = drift_short = np.ones(n, dtype=bool)

    pos = np.zeros(n, dtype="int64")
    factor = max(int(htf_factor), 1)
    buckets, visible = _htf_buckets(df, factor)
    if len(buckets) > min(period, 14):
        raw = _regime_labels(
            buckets,
            period=period,
            adx_threshold=adx_threshold,
            return_eff_threshold=return_eff_threshold,
            range_eff_threshold=range_eff_threshold,
            efficiency_threshold=efficiency_threshold,
        )["label"]
        labels = _project(_confirm(raw, int(confirm_buckets)), visible, _WARM)
        bo_up, bo_dn = _breakouts(df, breakout_lookback)
        if trend_entry == "breakout":
            long_trig, short_trig = bo_up, bo_dn
        elif trend_entry == "pullback":
            long_trig, short_trig = _cross_up(z, -pullback_z), _cross_down(z, pullback_z)
        else:  # "transition" is decided per bar below; "off" (or anything else): none
            long_trig = short_trig = np.zeros(n, dtype=bool)
        transition = trend_entry == "transition"
        mr_long, mr_short = _cross_up(z, -mr_entry_z), _cross_down(z, mr_entry_z)
        fade_ok = {_RANGING_QUIET, _RANGING_VOLATILE}
        if fade_labels == "all_mr":
            fade_ok |= {_UP_CHOPPY, _DOWN_CHOPPY}
        zs = z.to_numpy(dtype="float64")
        state, prev_lab, last_flip = 0, _WARM, None
        for i in range(n):
            cur = int(labels[i])
            if cur != prev_lab and cur != _WARM:
                last_flip = i
            prev_lab = cur
            if cur == _WARM:
                state = 0
                continue
            state = _exit_state(state, cur, zs[i], mr_exit_z)
            if state == 0:
                if transition:
                    fresh = last_flip is not None and i - last_flip < transition_window
                    go_long = go_short = fresh
                else:
                    go_long, go_short = bool(long_trig[i]), bool(short_trig[i])
                if cur == _UP_CLEAN and go_long and drift_long[i]:
                    state = 1
                elif allow_short and cur == _DOWN_CLEAN and go_short and drift_short[i]:
                    state = -1
                elif cur in fade_ok:
                    if mr_long[i] and not veto_long[i]:
                        state = 2
                    elif allow_short and mr_short[i] and not veto_short[i]:
                        state = -2
            pos[i] = np.sign(state)
        pos[0] = 0
    return _frame(df, _signal_from_position(pos), rah_z=z, rah_slow_eff=slow)


# ------------------------------------------------------------- mtf_confluence (§3.46)


@register(
    "mtf_confluence",
    short="mtf",
    description="Higher-timeframe EMA trend plus a native EMA pullback-and-reclaim trigger.",
    defaults={
        "htf_factor": 4,
        "htf_ema_fast": 20,
        "htf_ema_slow": 40,
        "htf_sep_pct": 0.001,
        "ltf_ema": 20,
        "pullback_window": 6,
        "pullback_touch_buffer_pct": 0.0,
        "allow_short": False,
    },
    can_short=True,
    variants=_BOTH_SHORT,
    constraints=(
        "htf_factor > 0",
        "htf_ema_fast > 0",
        "ltf_ema > 0",
        "pullback_window > 0",
        "htf_ema_fast < htf_ema_slow",
    ),
)
def mtf_confluence(
    df: pd.DataFrame,
    *,
    htf_factor: int,
    htf_ema_fast: int,
    htf_ema_slow: int,
    htf_sep_pct: float,
    ltf_ema: int,
    pullback_window: int,
    pullback_touch_buffer_pct: float,
    allow_short: bool,
) -> pd.DataFrame:
    """Enter with the HTF trend after a native pullback through the EMA is reclaimed."""
    n = len(df)
    close = df["close"]
    e = ind.ema(close, ltf_ema)
    factor = max(int(htf_factor), 1)
    trend = np.zeros(n)
    fast_col = np.full(n, np.nan)
    slow_col = np.full(n, np.nan)
    pos = np.zeros(n, dtype="int64")
    buckets, visible = _htf_buckets(df, factor) if n >= factor + 2 else (pd.DataFrame(), None)
    if len(buckets) and visible is not None:
        f = ind.ema(buckets["close"], htf_ema_fast)
        s = ind.ema(buckets["close"], htf_ema_slow)
        # Ordinal gate (upstream: ordinal >= htf_ema_slow) also keeps our NaN EMA warm-up out.
        warm = pd.Series(np.arange(len(buckets)) >= htf_ema_slow, index=buckets.index)
        rising, falling = f > f.shift(1), f < f.shift(1)
        up = (f > s * (1.0 + htf_sep_pct)) & rising & warm
        down = (f < s * (1.0 - htf_sep_pct)) & falling & warm
        htf_trend = up.astype("int64") - down.astype("int64")
        trend = _project(htf_trend.to_numpy(dtype="float64"), visible, 0.0)
        hold_up = _project(((f > s) & warm).to_numpy(), visible, False)
        hold_down = _project(((f < s) & warm).to_numpy(), visible, False)
        fast_col = _project(f.to_numpy(dtype="float64"), visible, np.nan)
        slow_col = _project(s.to_numpy(dtype="float64"), visible, np.nan)

        buf = pullback_touch_buffer_pct
        long_pb = _prior_any(df["low"] < e * (1.0 - buf), pullback_window)
        short_pb = _prior_any(df["high"] > e * (1.0 + buf), pullback_window)
        long_trig = ((close > e) & (close > df["high"].shift(1))).to_numpy() & long_pb
        short_trig = ((close < e) & (close < df["low"].shift(1))).to_numpy() & short_pb
        state = 0
        for i in range(n):
            if (state == 1 and not hold_up[i]) or (state == -1 and not hold_down[i]):
                state = 0
            if state == 0:
                if long_trig[i] and trend[i] == 1:
                    state = 1
                elif allow_short and short_trig[i] and trend[i] == -1:
                    state = -1
            pos[i] = state
    return _frame(
        df,
        _signal_from_position(pos),
        htf_trend=trend,
        htf_ema_fast=fast_col,
        htf_ema_slow=slow_col,
        ltf_ema=e,
    )


# --------------------------------------------------------------- vol_momentum (§3.47)


@register(
    "vol_momentum",
    short="vmom",
    description="ATR-normalised momentum with a path-efficiency filter; exits when either fades.",
    defaults={
        "mom_window": 24,
        "atr_period": 14,
        "entry_threshold": 0.30,
        "exit_threshold": 0.05,
        "eff_entry": 0.35,
        "eff_exit": 0.15,
        "allow_short": False,
    },
    can_short=True,
    variants=_BOTH_SHORT,
    constraints=("mom_window > 0", "atr_period > 0"),
)
def vol_momentum(
    df: pd.DataFrame,
    *,
    mom_window: int,
    atr_period: int,
    entry_threshold: float,
    exit_threshold: float,
    eff_entry: float,
    eff_exit: float,
    allow_short: bool,
) -> pd.DataFrame:
    """Ride moves that are large in ATR terms and made along an efficient path."""
    close = df["close"]
    atr = _atr_rounded(df, atr_period)
    net = close - close.shift(mom_window)
    vol_mom = _ratio_or_zero(net, atr * mom_window).where(net.notna())
    efficiency = _path_efficiency(close, net, mom_window).where(net.notna())
    vm, eff = vol_mom.to_numpy(dtype="float64"), efficiency.to_numpy(dtype="float64")
    n = len(df)
    pos = np.zeros(n, dtype="int64")
    for i in range(1, n):
        cur = pos[i - 1]
        exit_long = cur == 1 and (vm[i] < exit_threshold or eff[i] < eff_exit)
        exit_short = cur == -1 and (vm[i] > -exit_threshold or eff[i] < eff_exit)
        if exit_long or exit_short:
            cur = 0
        if eff[i] >= eff_entry:  # direct flips allowed, as upstream
            if vm[i] > entry_threshold:
                cur = 1
            elif allow_short and vm[i] < -entry_threshold:
                cur = -1
        pos[i] = cur
    return _frame(df, _signal_from_position(pos), atr=atr, vol_mom=vol_mom, efficiency=efficiency)


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
    short="dnf",
    description="Short the perp while the 7-day average funding pays shorts; exit when it fades.",
    defaults={
        "entry_threshold": 0.0001,
        "exit_threshold": 0.00005,
        "drift_threshold": 2.0,
        "current_funding_rate": 0.0,
        "avg_funding_rate_7d": 0.0,
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
    return _frame(
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
    return _frame(df, _signal_from_position(pos), funding_rate=f, funding_z=z)
