"""The classic indicator strategies of upstream go-trader (catalogue §3.1-§3.14, §3.17).

Names, param keys, defaults, constraints, platforms and output column names are
upstream's; the rules are written here from the catalogue's description.

Conventions (catalogue §0), as implemented in :mod:`shared_strategies.open.common`:

* cross above ``L``: ``x[i] > L[i]`` and ``x[i-1] <= L[i-1]``; cross below:
  ``x[i] < L[i]`` and ``x[i-1] >= L[i-1]``.  A NaN operand on either bar means no
  cross (comparisons with NaN are false).
* when a bar is both a buy and a sell, the sell wins ("-1 wins ties").
* state-diff strategies emit ``state[i] - state[i-1]`` (clipped to [-1, 1]).

Deliberate differences from upstream (kept on purpose, see also the module
docstring of :mod:`shared_tools.indicators`):

* indicators come from :mod:`shared_tools.indicators`: EMA/MACD have a NaN
  warm-up (upstream's EMA has none), RSI is TA-Lib seeded (upstream seeds with
  the first delta; same first valid bar, converging values, flat RSI 50 not NaN);
* a state change is never signalled from a bar where an operand is NaN.  Upstream
  maps a NaN comparison to state 0 and so fires e.g. ``sma_crossover`` +1 on bar
  ``slow_period-1`` when the fast SMA is already above the slow one: a warm-up
  artefact, not a cross.  Here a state that is already on when the indicators
  first exist is not signalled; the next real change is.
* threshold defaults are floats (``70.0`` where upstream writes ``70``) so a
  fractional override like ``30.5`` passes our type coercion; the values are equal.
* upstream's description-only platform variants (rsi, macd, mean_reversion) are
  not modelled: our registry has one description per strategy.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from shared_strategies.open.common import (
    buy_sell,
    cross_above,
    cross_below,
    frame,
    signal_from_position,
    stoch_rsi_parts,
)
from shared_strategies.open.specs import FUTURES_LIKE, register
from shared_tools import indicators as ind

__all__ = [
    "bollinger_bands",
    "ema_crossover",
    "macd_strategy",
    "mean_reversion",
    "momentum",
    "pairs_spread",
    "rsi_macd_combo",
    "rsi_strategy",
    "sma_crossover",
    "stoch_rsi",
    "tema_cross",
    "tema_cross_bd",
    "triple_ema",
    "triple_ema_bidir",
    "volume_weighted",
]


def _valid(*series: pd.Series) -> pd.Series:
    """True where every operand is a number."""
    ok = np.ones(len(series[0]), dtype=bool)
    for s in series:
        ok &= s.notna().to_numpy()
    return pd.Series(ok, index=series[0].index)


def _state_diff(state: pd.Series, valid: pd.Series) -> pd.Series:
    """Clipped ``state[i] - state[i-1]``, only where both bars have all operands.

    Upstream fills a NaN state with 0 and diffs it, firing on the first valid bar;
    requiring both bars valid is our deliberate no-warm-up-artefact rule.
    """
    v = valid.to_numpy(dtype=bool)
    st = state.to_numpy().astype("int64")
    step = np.zeros(len(st), dtype="int64")
    if len(st) > 1:
        step[1:] = np.clip(np.diff(st), -1, 1)
        step[1:][~(v[1:] & v[:-1])] = 0
    return pd.Series(step, index=state.index)


def _zscore_parts(x: pd.Series, lookback: int) -> tuple[pd.Series, pd.Series, pd.Series]:
    """Rolling mean, rolling sample std (ddof=1, as upstream) and the z-score.

    A zero std (flat window, where the numerator is 0 too) gives NaN: no opinion.
    """
    roll = x.rolling(lookback, min_periods=lookback)
    mean, std = roll.mean(), roll.std(ddof=1)
    z = (x - mean) / std.where(std > 0)
    return mean, std, z


def _emas(close: pd.Series, *periods: int) -> list[pd.Series]:
    return [ind.ema(close, p) for p in periods]


# ------------------------------------------------------------------ §3.1-§3.2


@register(
    "sma_crossover",
    short="sma",
    description="Long while SMA(fast_period) is above SMA(slow_period); signals on the crossovers.",
    defaults={"fast_period": 20, "slow_period": 50},
    ranges={"fast_period": [10, 15, 20, 25], "slow_period": [40, 50, 60, 80]},
    constraints=("fast_period > 0", "fast_period < slow_period"),
)
def sma_crossover(df: pd.DataFrame, *, fast_period: int, slow_period: int) -> pd.DataFrame:
    """State ``fast > slow``; +1 golden cross, -1 death cross (state diff)."""
    fast, slow = ind.sma(df["close"], fast_period), ind.sma(df["close"], slow_period)
    sig = _state_diff(fast > slow, _valid(fast, slow))
    return frame(df, sig, sma_fast=fast, sma_slow=slow)


@register(
    "ema_crossover",
    short="ema",
    description="Long while EMA(fast_period) is above EMA(slow_period); signals on the crossovers.",
    defaults={"fast_period": 12, "slow_period": 26},
    ranges={"fast_period": [8, 12, 16, 20], "slow_period": [21, 26, 34, 50]},
    constraints=("fast_period > 0", "fast_period < slow_period"),
)
def ema_crossover(df: pd.DataFrame, *, fast_period: int, slow_period: int) -> pd.DataFrame:
    """As sma_crossover with EMAs."""
    fast, slow = _emas(df["close"], fast_period, slow_period)
    sig = _state_diff(fast > slow, _valid(fast, slow))
    return frame(df, sig, ema_fast=fast, ema_slow=slow)


# ------------------------------------------------------------------ §3.3-§3.5


@register(
    "rsi",
    short="rsi",
    description="Wilder RSI: buy when it crosses back above oversold, sell when it crosses back below overbought.",
    defaults={"period": 14, "overbought": 70.0, "oversold": 30.0},
    ranges={
        "period": [10, 14, 21],
        "overbought": [65.0, 70.0, 75.0],
        "oversold": [25.0, 30.0, 35.0],
    },
    constraints=("period > 0", "oversold < overbought"),
)
def rsi_strategy(
    df: pd.DataFrame, *, period: int, overbought: float, oversold: float
) -> pd.DataFrame:
    """+1 RSI crosses above ``oversold``; -1 RSI crosses below ``overbought``."""
    r = ind.rsi(df["close"], period)
    sig = buy_sell(cross_above(r, oversold), cross_below(r, overbought))
    return frame(df, sig, rsi=r)


@register(
    "bollinger_bands",
    short="bb",
    description="Buy when close re-enters above the lower band, sell when it falls back under the upper band.",
    defaults={"period": 20, "num_std": 2.0},
    ranges={"period": [15, 20, 25, 30], "num_std": [1.5, 2.0, 2.5]},
    constraints=("period > 0",),
)
def bollinger_bands(df: pd.DataFrame, *, period: int, num_std: float) -> pd.DataFrame:
    """Bands on the *sample* std (ddof=1) like upstream, not TA-Lib's population std."""
    close = df["close"]
    bands = ind.bollinger(close, period, num_std, ddof=1)
    upper, middle, lower = bands["upper"], bands["middle"], bands["lower"]
    sig = buy_sell(cross_above(close, lower), cross_below(close, upper))
    return frame(df, sig, bb_middle=middle, bb_upper=upper, bb_lower=lower)


@register(
    "macd",
    short="macd",
    description="Long while the MACD line is above its signal line; signals on the crossovers.",
    defaults={"fast_period": 12, "slow_period": 26, "signal_period": 9},
    ranges={"fast_period": [8, 12, 16], "slow_period": [21, 26, 34], "signal_period": [7, 9, 12]},
    constraints=("fast_period > 0", "signal_period > 0", "fast_period < slow_period"),
)
def macd_strategy(
    df: pd.DataFrame, *, fast_period: int, slow_period: int, signal_period: int
) -> pd.DataFrame:
    """State ``macd_line > macd_signal``; state diff."""
    m = ind.macd(df["close"], fast_period, slow_period, signal_period)
    line, signal = m["macd"], m["signal"]
    sig = _state_diff(line > signal, _valid(line, signal))
    return frame(df, sig, macd_line=line, macd_signal=signal, macd_hist=m["hist"])


# ------------------------------------------------------------------ §3.6-§3.8


@register(
    "mean_reversion",
    short="mr",
    description="Z-score of close: buy when it climbs back through -entry_std, sell when it drops back through +exit_std.",
    defaults={"lookback": 30, "entry_std": 1.5, "exit_std": 0.5},
    ranges={"lookback": [20, 30, 40], "entry_std": [1.5, 2.0, 2.5], "exit_std": [0.0, 0.5]},
    constraints=("lookback > 0", "exit_std < entry_std"),
)
def mean_reversion(
    df: pd.DataFrame, *, lookback: int, entry_std: float, exit_std: float
) -> pd.DataFrame:
    """z = (close - SMA) / sample std; +1 z crosses above -entry_std, -1 below +exit_std."""
    mean, std, z = _zscore_parts(df["close"], lookback)
    sig = buy_sell(cross_above(z, -entry_std), cross_below(z, exit_std))
    return frame(df, sig, rolling_mean=mean, rolling_std=std, z_score=z)


@register(
    "momentum",
    short="momentum",
    description="Rate of change (%): buy when it crosses above +threshold, sell when it crosses below -threshold.",
    defaults={"roc_period": 14, "threshold": 5.0},
    ranges={"roc_period": [10, 14, 21, 30], "threshold": [3.0, 5.0, 7.0, 10.0]},
    variants={platform: {"threshold": 3.0} for platform in FUTURES_LIKE},
    constraints=("roc_period > 0",),
)
def momentum(df: pd.DataFrame, *, roc_period: int, threshold: float) -> pd.DataFrame:
    """roc = 100 * (c - c[i-n]) / c[i-n] (upstream's float order: exact ties agree)."""
    roc = ind.roc(df["close"], roc_period)
    sig = buy_sell(cross_above(roc, threshold), cross_below(roc, -threshold))
    return frame(df, sig, roc=roc)


@register(
    "volume_weighted",
    short="vw",
    description="Close crossing its SMA on a bar whose volume is above vol_multiplier x its average volume.",
    defaults={"sma_period": 20, "vol_multiplier": 1.5},
    ranges={"sma_period": [10, 20, 30], "vol_multiplier": [1.2, 1.5, 2.0]},
    constraints=("sma_period > 0",),
)
def volume_weighted(df: pd.DataFrame, *, sma_period: int, vol_multiplier: float) -> pd.DataFrame:
    """+1 / -1 when close crosses above / below SMA(close) and this bar's volume is high."""
    close, volume = df["close"], df["volume"]
    price_sma = ind.sma(close, sma_period)
    vol_sma = ind.sma(volume, sma_period)
    high_volume = (volume > vol_sma * vol_multiplier).fillna(False).astype(bool)
    sig = buy_sell(
        cross_above(close, price_sma) & high_volume, cross_below(close, price_sma) & high_volume
    )
    return frame(df, sig, price_sma=price_sma, vol_sma=vol_sma, high_volume=high_volume)


# ----------------------------------------------------------------- §3.9-§3.12

_TRIPLE_CONSTRAINTS = ("short_period > 0", "short_period < mid_period", "mid_period < long_period")


@register(
    "triple_ema",
    short="tema",
    description="Long while EMA(short) > EMA(mid) > EMA(long); signals when that stack starts or ends.",
    defaults={"short_period": 8, "mid_period": 21, "long_period": 55},
    ranges={"short_period": [5, 8, 12], "mid_period": [21, 26], "long_period": [55, 89]},
    constraints=_TRIPLE_CONSTRAINTS,
)
def triple_ema(
    df: pd.DataFrame, *, short_period: int, mid_period: int, long_period: int
) -> pd.DataFrame:
    """State = strict bullish stack; state diff."""
    s, m, lg = _emas(df["close"], short_period, mid_period, long_period)
    sig = _state_diff((s > m) & (m > lg), _valid(s, m, lg))
    return frame(df, sig, ema_short=s, ema_mid=m, ema_long=lg)


@register(
    "triple_ema_bidir",
    short="temab",
    description="State +1 on a bullish EMA stack, -1 on a bearish one, 0 otherwise; signals the clipped change.",
    defaults={"short_period": 8, "mid_period": 21, "long_period": 55},
    ranges={"short_period": [5, 8, 12], "mid_period": [21, 26], "long_period": [55, 89]},
    platforms=FUTURES_LIKE,
    can_short=True,
    constraints=_TRIPLE_CONSTRAINTS,
)
def triple_ema_bidir(
    df: pd.DataFrame, *, short_period: int, mid_period: int, long_period: int
) -> pd.DataFrame:
    """Clipped diff of the -1/0/+1 stack state (e.g. +1 -> -1 is a single -1)."""
    s, m, lg = _emas(df["close"], short_period, mid_period, long_period)
    state = ((s > m) & (m > lg)).astype("int64") - ((s < m) & (m < lg)).astype("int64")
    sig = _state_diff(state, _valid(s, m, lg))
    return frame(df, sig, ema_short=s, ema_mid=m, ema_long=lg)


def _tema_parts(
    df: pd.DataFrame, short_period: int, mid_period: int, long_period: int
) -> tuple[list[pd.Series], pd.Series, pd.Series, pd.Series]:
    """EMAs, bull/bear crosses of short over mid (only with all EMAs valid), and validity."""
    s, m, lg = _emas(df["close"], short_period, mid_period, long_period)
    valid = _valid(s, m, lg)
    return [s, m, lg], cross_above(s, m) & valid, cross_below(s, m) & valid, valid


@register(
    "tema_cross",
    short="temac",
    description="Long on EMA(short) crossing above EMA(mid) while EMA(mid) > EMA(long); flat on the next bearish cross.",
    defaults={"short_period": 5, "mid_period": 13, "long_period": 34},
    ranges={"short_period": [3, 5, 8], "mid_period": [13, 21], "long_period": [34, 55]},
    constraints=_TRIPLE_CONSTRAINTS,
)
def tema_cross(
    df: pd.DataFrame, *, short_period: int, mid_period: int, long_period: int
) -> pd.DataFrame:
    """Carried 0/1 position: bull cross in an uptrend -> 1, any bear cross -> 0; signal = diff."""
    (s, m, lg), bull, bear, _ = _tema_parts(df, short_period, mid_period, long_period)
    events = pd.Series(np.nan, index=df.index)
    events[bull & (m > lg)] = 1.0
    events[bear] = 0.0
    sig = signal_from_position(events.ffill().fillna(0.0))
    return frame(df, sig, ema_short=s, ema_mid=m, ema_long=lg)


@register(
    "tema_cross_bd",
    short="temacb",
    description="Long on a bull EMA cross in an uptrend, short on a bear cross in a downtrend; an unconfirmed cross flattens.",
    defaults={"short_period": 5, "mid_period": 13, "long_period": 34},
    ranges={"short_period": [3, 5, 8], "mid_period": [13, 21], "long_period": [34, 55]},
    platforms=FUTURES_LIKE,
    can_short=True,
    constraints=_TRIPLE_CONSTRAINTS,
)
def tema_cross_bd(
    df: pd.DataFrame, *, short_period: int, mid_period: int, long_period: int
) -> pd.DataFrame:
    """Carried -1/0/+1 position from the cross events; signal = clipped diff."""
    (s, m, lg), bull, bear, _ = _tema_parts(df, short_period, mid_period, long_period)
    events = pd.Series(np.nan, index=df.index)
    events[bull] = np.where((m > lg)[bull], 1.0, 0.0)
    events[bear] = np.where((m < lg)[bear], -1.0, 0.0)
    sig = signal_from_position(events.ffill().fillna(0.0))
    return frame(df, sig, ema_short=s, ema_mid=m, ema_long=lg)


# ---------------------------------------------------------------- §3.13-§3.14


@register(
    "rsi_macd_combo",
    short="rmc",
    description="MACD crossovers filtered by RSI: bullish cross with RSI < rsi_long_max, bearish cross with RSI > rsi_short_min.",
    defaults={
        "rsi_period": 14,
        "rsi_oversold": 35.0,
        "rsi_overbought": 65.0,
        "macd_fast": 12,
        "macd_slow": 26,
        "macd_signal": 9,
        "rsi_short_min": 50.0,
        "rsi_long_max": 50.0,
    },
    ranges={
        "rsi_period": [10, 14, 21],
        "macd_fast": [8, 12],
        "macd_slow": [21, 26],
        "macd_signal": [7, 9],
    },
    constraints=(
        "rsi_period > 0",
        "macd_fast > 0",
        "macd_signal > 0",
        "macd_fast < macd_slow",
        "rsi_oversold < rsi_overbought",
    ),
)
def rsi_macd_combo(
    df: pd.DataFrame,
    *,
    rsi_period: int,
    rsi_oversold: float,  # noqa: ARG001 - upstream's dead param: only its constraint uses it
    rsi_overbought: float,  # noqa: ARG001 - idem
    macd_fast: int,
    macd_slow: int,
    macd_signal: int,
    rsi_short_min: float,
    rsi_long_max: float,
) -> pd.DataFrame:
    """+1 MACD bull cross with RSI < rsi_long_max; -1 bear cross with RSI > rsi_short_min."""
    close = df["close"]
    r = ind.rsi(close, rsi_period)
    m = ind.macd(close, macd_fast, macd_slow, macd_signal)
    line, signal = m["macd"], m["signal"]
    sig = buy_sell(
        cross_above(line, signal) & (r < rsi_long_max),
        cross_below(line, signal) & (r > rsi_short_min),
    )
    return frame(df, sig, rsi=r, macd_line=line, macd_signal_line=signal)


@register(
    "stoch_rsi",
    short="stochrsi",
    description="Stochastic RSI: %K crossing above %D below oversold buys, crossing below %D above overbought sells.",
    defaults={
        "rsi_period": 14,
        "stoch_period": 14,
        "k_smooth": 3,
        "d_smooth": 3,
        "overbought": 80.0,
        "oversold": 20.0,
    },
    ranges={
        "rsi_period": [10, 14],
        "stoch_period": [10, 14],
        "overbought": [75.0, 80.0, 85.0],
        "oversold": [15.0, 20.0, 25.0],
    },
    constraints=(
        "rsi_period > 0",
        "stoch_period > 0",
        "k_smooth > 0",
        "d_smooth > 0",
        "oversold < overbought",
    ),
)
def stoch_rsi(
    df: pd.DataFrame,
    *,
    rsi_period: int,
    stoch_period: int,
    k_smooth: int,
    d_smooth: int,
    overbought: float,
    oversold: float,
) -> pd.DataFrame:
    """+1 %K crosses above %D with %K < oversold; -1 crosses below with %K > overbought."""
    st, buy, sell = stoch_rsi_parts(
        df["close"], rsi_period, stoch_period, k_smooth, d_smooth, overbought, oversold
    )
    return frame(df, buy_sell(buy, sell), rsi=st["rsi"], stoch_k=st["k"], stoch_d=st["d"])


# ---------------------------------------------------------------------- §3.17


@register(
    "pairs_spread",
    short="ps",
    description="Z-score of the price ratio close / close_b (close alone without a pair): buy when it climbs back through -entry_z, sell when it drops back through +exit_z.",
    defaults={"lookback": 30, "entry_z": 2.0, "exit_z": 0.5},
    ranges={"lookback": [20, 30, 60], "entry_z": [1.5, 2.0, 2.5], "exit_z": [0.0, 0.5]},
    platforms=("spot",),
    needs_pair=True,
    constraints=("lookback > 0", "exit_z < entry_z"),
)
def pairs_spread(df: pd.DataFrame, *, lookback: int, entry_z: float, exit_z: float) -> pd.DataFrame:
    """spread = close / close_b (plain ratio, as upstream); z with sample std; mean_reversion rule."""
    spread = df["close"] / df["close_b"] if "close_b" in df.columns else df["close"].copy()
    mean, std, z = _zscore_parts(spread, lookback)
    sig = buy_sell(cross_above(z, -entry_z), cross_below(z, exit_z))
    return frame(df, sig, spread=spread, spread_mean=mean, spread_std=std, z_score=z)
