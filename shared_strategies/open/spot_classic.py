"""The eleven classic strategies (ported rules, own implementation).

Signals are events: +1 / -1 only on the bar where the condition starts.  A
"cross" compares bar ``i`` with bar ``i-1``; any NaN on either bar (indicator
warm-up) means no signal, because comparisons with NaN are False.  All
indicators are causal, so every strategy honours the closed-bar contract.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from shared_strategies.open.specs import register
from shared_tools import indicators as ind


def _state_changes(state: pd.Series, valid: pd.Series) -> pd.Series:
    """+1 where ``state`` turns True, -1 where it turns False (both bars valid)."""
    prev_state = state.shift(1, fill_value=False)
    both_valid = valid & valid.shift(1, fill_value=False)
    up = both_valid & state & ~prev_state
    down = both_valid & ~state & prev_state
    return up.astype("int64") - down.astype("int64")


def _above_changes(a: pd.Series, b: pd.Series) -> pd.Series:
    """State-change signal for the state ``a > b`` (e.g. fast MA above slow MA)."""
    return _state_changes((a > b).fillna(False), a.notna() & b.notna())


def _rises_through(x: pd.Series, level: float | pd.Series) -> pd.Series:
    """True where x was below ``level`` on the previous bar and is at/above it now."""
    level = level if isinstance(level, pd.Series) else pd.Series(level, index=x.index)
    return (x.shift(1) < level.shift(1)) & (x >= level)


def _falls_through(x: pd.Series, level: float | pd.Series) -> pd.Series:
    """True where x was above ``level`` on the previous bar and is at/below it now."""
    level = level if isinstance(level, pd.Series) else pd.Series(level, index=x.index)
    return (x.shift(1) > level.shift(1)) & (x <= level)


def _events(buy: pd.Series, sell: pd.Series) -> pd.Series:
    """Combine boolean buy/sell events into an int signal (both at once -> 0)."""
    return buy.fillna(False).astype("int64") - sell.fillna(False).astype("int64")


def _frame(df: pd.DataFrame, signal: pd.Series, **columns: pd.Series) -> pd.DataFrame:
    out = pd.DataFrame({"signal": signal.astype("int64")}, index=df.index)
    for key, col in columns.items():
        out[key] = col.astype("float64")
    return out


def _reversion_signal(z: pd.Series, entry: float, exit_: float) -> pd.Series:
    """+1 when z climbs back up through -entry; -1 when it drops back through +exit."""
    return _events(_rises_through(z, -entry), _falls_through(z, exit_))


@register(
    "sma_crossover",
    short="sma",
    description="Long while SMA(fast) is above SMA(slow); signals on the crossovers.",
    defaults={"fast": 20, "slow": 50},
)
def sma_crossover(df: pd.DataFrame, *, fast: int, slow: int) -> pd.DataFrame:
    f, s = ind.sma(df["close"], fast), ind.sma(df["close"], slow)
    return _frame(df, _above_changes(f, s), sma_fast=f, sma_slow=s)


@register(
    "ema_crossover",
    short="ema",
    description="Long while EMA(fast) is above EMA(slow); signals on the crossovers.",
    defaults={"fast": 12, "slow": 26},
)
def ema_crossover(df: pd.DataFrame, *, fast: int, slow: int) -> pd.DataFrame:
    f, s = ind.ema(df["close"], fast), ind.ema(df["close"], slow)
    return _frame(df, _above_changes(f, s), ema_fast=f, ema_slow=s)


@register(
    "rsi",
    short="rsi",
    description="Wilder RSI: buy when it recovers above oversold, sell when it drops back below overbought.",
    defaults={"period": 14, "overbought": 70.0, "oversold": 30.0},
)
def rsi_strategy(
    df: pd.DataFrame, *, period: int, overbought: float, oversold: float
) -> pd.DataFrame:
    r = ind.rsi(df["close"], period)
    sig = _events(_rises_through(r, oversold), _falls_through(r, overbought))
    return _frame(df, sig, rsi=r)


@register(
    "bollinger_bands",
    short="bb",
    description="Buy when close re-enters above the lower band, sell when it falls back under the upper band.",
    defaults={"period": 20, "num_std": 2.0},
)
def bollinger_bands(df: pd.DataFrame, *, period: int, num_std: float) -> pd.DataFrame:
    close = df["close"]
    bands = ind.bollinger(close, period, num_std)
    sig = _events(_rises_through(close, bands["lower"]), _falls_through(close, bands["upper"]))
    return _frame(
        df, sig, bb_upper=bands["upper"], bb_middle=bands["middle"], bb_lower=bands["lower"]
    )


@register(
    "macd",
    short="macd",
    description="Long while the MACD line is above its signal line; signals on the crossovers.",
    defaults={"fast": 12, "slow": 26, "signal": 9},
)
def macd_strategy(df: pd.DataFrame, *, fast: int, slow: int, signal: int) -> pd.DataFrame:
    m = ind.macd(df["close"], fast, slow, signal)
    sig = _above_changes(m["macd"], m["signal"])
    return _frame(df, sig, macd=m["macd"], macd_signal=m["signal"], macd_hist=m["hist"])


@register(
    "mean_reversion",
    short="mr",
    description="Z-score of close: buy when it climbs back through -entry_std, sell when it drops back through +exit_std.",
    defaults={"lookback": 30, "entry_std": 1.5, "exit_std": 0.5},
)
def mean_reversion(
    df: pd.DataFrame, *, lookback: int, entry_std: float, exit_std: float
) -> pd.DataFrame:
    z = ind.zscore(df["close"], lookback)
    return _frame(df, _reversion_signal(z, entry_std, exit_std), zscore=z)


@register(
    "momentum",
    short="momentum",
    description="Rate of change (%): buy when it crosses above +threshold, sell when it crosses below -threshold.",
    defaults={"roc_period": 14, "threshold": 5.0},
    variants={"perps": {"threshold": 3.0}, "futures": {"threshold": 3.0}},
)
def momentum(df: pd.DataFrame, *, roc_period: int, threshold: float) -> pd.DataFrame:
    r = ind.roc(df["close"], roc_period)
    prev = r.shift(1)
    sig = _events((prev <= threshold) & (r > threshold), (prev >= -threshold) & (r < -threshold))
    return _frame(df, sig, roc=r)


@register(
    "volume_weighted",
    short="vw",
    description="Close crossing its SMA on volume above vol_multiplier x its average volume.",
    defaults={"sma_period": 20, "vol_multiplier": 1.5},
)
def volume_weighted(df: pd.DataFrame, *, sma_period: int, vol_multiplier: float) -> pd.DataFrame:
    close, volume = df["close"], df["volume"]
    price_sma = ind.sma(close, sma_period)
    volume_sma = ind.sma(volume, sma_period)
    heavy = volume > vol_multiplier * volume_sma
    crosses = _above_changes(close, price_sma)
    sig = crosses.where(heavy, 0)
    return _frame(df, sig, sma=price_sma, volume_sma=volume_sma)


@register(
    "triple_ema",
    short="tema",
    description="Long while EMA(short) > EMA(mid) > EMA(long); signals when that alignment starts or ends.",
    defaults={"short": 8, "mid": 21, "long": 55},
)
def triple_ema(df: pd.DataFrame, *, short: int, mid: int, long: int) -> pd.DataFrame:
    close = df["close"]
    s, m, lg = ind.ema(close, short), ind.ema(close, mid), ind.ema(close, long)
    state = ((s > m) & (m > lg)).fillna(False)
    valid = s.notna() & m.notna() & lg.notna()
    return _frame(df, _state_changes(state, valid), ema_short=s, ema_mid=m, ema_long=lg)


@register(
    "rsi_macd_combo",
    short="rmc",
    description="MACD crossovers filtered by RSI: bullish cross with RSI below rsi_long_max, bearish cross with RSI above rsi_short_min.",
    defaults={
        "rsi_period": 14,
        "macd_fast": 12,
        "macd_slow": 26,
        "macd_signal": 9,
        "rsi_long_max": 50.0,
        "rsi_short_min": 50.0,
    },
)
def rsi_macd_combo(
    df: pd.DataFrame,
    *,
    rsi_period: int,
    macd_fast: int,
    macd_slow: int,
    macd_signal: int,
    rsi_long_max: float,
    rsi_short_min: float,
) -> pd.DataFrame:
    close = df["close"]
    r = ind.rsi(close, rsi_period)
    m = ind.macd(close, macd_fast, macd_slow, macd_signal)
    cross = _above_changes(m["macd"], m["signal"])
    sig = _events((cross == 1) & (r < rsi_long_max), (cross == -1) & (r > rsi_short_min))
    return _frame(df, sig, rsi=r, macd=m["macd"], macd_signal=m["signal"], macd_hist=m["hist"])


@register(
    "pairs_spread",
    short="ps",
    description="Z-score of log(close) - log(close_b): buy when it climbs back through -entry_z, sell when it drops back through +exit_z.",
    defaults={"lookback": 30, "entry_z": 2.0, "exit_z": 0.5},
    platforms=("spot",),
    needs_pair=True,
)
def pairs_spread(df: pd.DataFrame, *, lookback: int, entry_z: float, exit_z: float) -> pd.DataFrame:
    spread = np.log(df["close"])
    if "close_b" in df.columns:
        spread = spread - np.log(df["close_b"])
    z = ind.zscore(spread, lookback)
    return _frame(df, _reversion_signal(z, entry_z, exit_z), spread=spread, zscore=z)
