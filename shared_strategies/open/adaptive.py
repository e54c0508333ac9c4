"""Open strategies: regime-adaptive and multi-timeframe family (catalogue §3.46-3.50), and hold.

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

The funding strategies (§3.31-3.32) live in :mod:`funding`; mtf_confluence and vol_momentum
(§3.46-3.47) in :mod:`mtf_momentum`.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from shared_strategies.open.common import (
    SHORT_ON_FUTURES,
    atr_rounded,
    cross_above,
    cross_below,
    frame,
    htf_buckets,
    path_efficiency,
    project,
    ratio_or_zero,
    signal_from_position,
)
from shared_strategies.open.specs import register
from shared_tools import indicators as ind

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
    atr = atr_rounded(ohlc, period)
    denom = atr * period
    net = close - close.shift(period - 1)
    return_eff = ratio_or_zero(net, denom)
    span = (
        ohlc["high"].rolling(period, min_periods=period).max()
        - ohlc["low"].rolling(period, min_periods=period).min()
    )
    range_eff = ratio_or_zero(span, denom)
    efficiency = path_efficiency(close, net, period - 1)
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
    prior = ind.donchian(df, lookback).shift(1)
    return (df["close"] > prior["upper"]).to_numpy(), (df["close"] < prior["lower"]).to_numpy()


def _slow_eff(close: pd.Series, atr: pd.Series, lookback: int) -> pd.Series:
    """Slow drift ``(close - close[i-S]) / (atr * S)`` (0.0 when the denominator is not > 0)."""
    return ratio_or_zero(close - close.shift(lookback), atr * lookback)


def _slow_vetoes(
    df: pd.DataFrame, atr_period: int, lookback: int, threshold: float
) -> tuple[pd.Series, np.ndarray, np.ndarray]:
    """The slow drift and its long/short vetoes for fades; no veto when ``lookback`` is 0."""
    n = len(df)
    if lookback <= 0:
        return pd.Series(np.nan, index=df.index), np.zeros(n, dtype=bool), np.zeros(n, dtype=bool)
    slow = _slow_eff(df["close"], atr_rounded(df, atr_period), lookback)
    return slow, (slow <= -threshold).to_numpy(), (slow >= threshold).to_numpy()


def _fade_triggers(z: pd.Series, entry_z: float) -> tuple[np.ndarray, np.ndarray]:
    """Mean-reversion entries: z crossing back up through -entry_z, or down through +entry_z."""
    return cross_above(z, -entry_z).to_numpy(), cross_below(z, entry_z).to_numpy()


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
    ranges={
        "period": [14, 20],
        "adx_threshold": [20.0, 25.0],
        "breakout_lookback": [10, 20],
        "mr_entry_z": [1.5, 2.0],
    },
    can_short=True,
    variants=SHORT_ON_FUTURES,
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
    mr_long, mr_short = _fade_triggers(z, mr_entry_z)
    slow, veto_long, veto_short = _slow_vetoes(df, period, slow_trend_lookback, slow_veto_threshold)

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
    return frame(
        df,
        signal_from_position(pos),
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
    ranges={
        "htf_factor": [4, 6, 8],
        "confirm_buckets": [1, 2, 3],
        "period": [10, 14],
        "mr_entry_z": [1.75, 2.0, 2.25],
        "trend_entry": ["off", "breakout"],
        "slow_trend_lookback": [100],
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
    slow, veto_long, veto_short = _slow_vetoes(
        df, mr_lookback, slow_trend_lookback, slow_veto_threshold
    )
    if slow_trend_lookback > 0:
        drift_long = (slow >= trend_drift_confirm).to_numpy()
        drift_short = (slow <= -trend_drift_confirm).to_numpy()
    else:
        drift_long = drift_short = np.ones(n, dtype=bool)

    pos = np.zeros(n, dtype="int64")
    factor = max(int(htf_factor), 1)
    buckets, visible = htf_buckets(df, factor)
    if len(buckets) > min(period, 14):
        raw = _regime_labels(
            buckets,
            period=period,
            adx_threshold=adx_threshold,
            return_eff_threshold=return_eff_threshold,
            range_eff_threshold=range_eff_threshold,
            efficiency_threshold=efficiency_threshold,
        )["label"]
        labels = project(_confirm(raw, int(confirm_buckets)), visible, _WARM)
        bo_up, bo_dn = _breakouts(df, breakout_lookback)
        if trend_entry == "breakout":
            long_trig, short_trig = bo_up, bo_dn
        elif trend_entry == "pullback":
            long_trig, short_trig = (
                cross_above(z, -pullback_z).to_numpy(),
                cross_below(z, pullback_z).to_numpy(),
            )
        else:  # "transition" is decided per bar below; "off" (or anything else): none
            long_trig = short_trig = np.zeros(n, dtype=bool)
        transition = trend_entry == "transition"
        mr_long, mr_short = _fade_triggers(z, mr_entry_z)
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
    return frame(df, signal_from_position(pos), rah_z=z, rah_slow_eff=slow)
