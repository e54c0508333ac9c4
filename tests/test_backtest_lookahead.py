"""No lookahead: changing bars after N never changes a signal, a trade or the equity before N.

Runs over every registered open strategy on every platform, through the backtest engine with
the settings that exercise most of it (flips, stops, close evaluators, funding).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from backtest.backtester import BacktestSettings, run_signals
from shared_strategies.open import registry

BARS = 300
CASES = [(p, name) for p in ("spot", "perps", "futures") for name in registry.names(p)]
ENGINE = {
    "spot": BacktestSettings(fee_pct=0.1, slippage_bps=5.0, stop_loss_pct=3.0),
    "perps": BacktestSettings(
        instrument="perps",
        direction="both",
        leverage=2.0,
        fee_pct=0.05,
        trailing_stop_pct=4.0,
        close_strategies=({"name": "time_stop", "params": {"max_bars": 30}},),
    ),
    "futures": BacktestSettings(
        instrument="futures",
        direction="both",
        symbol="MES",
        capital=20_000.0,
        fee_per_contract=0.5,
        close_strategies=({"name": "tiered_tp_pct"},),
    ),
}


def series(seed: int, n: int = BARS) -> pd.DataFrame:
    """A random OHLCV walk with the extra columns some strategies read."""
    rng = np.random.default_rng(seed)
    close = 100.0 * np.exp(np.cumsum(rng.normal(0, 0.015, n)))
    opens = np.r_[100.0, close[:-1]] * np.exp(rng.normal(0, 0.003, n))
    wick = np.abs(rng.normal(0, 0.006, (2, n)))
    return pd.DataFrame(
        {
            "open": opens,
            "high": np.maximum(opens, close) * (1 + wick[0]),
            "low": np.minimum(opens, close) * (1 - wick[1]),
            "close": close,
            "volume": rng.lognormal(3, 1, n),
            "funding_rate": rng.normal(0, 1e-4, n),
            "close_b": 50.0 * np.exp(np.cumsum(rng.normal(0, 0.01, n))),
        },
        index=pd.date_range("2024-01-01", periods=n, freq="1h", tz="UTC"),
    )


def rewrite_after(df: pd.DataFrame, cut: int, seed: int) -> pd.DataFrame:
    """The same bars up to ``cut``; a different random path after it."""
    other = series(seed + 1_000_003)
    scale = df["close"].iloc[cut] / other["close"].iloc[cut]
    out = df.copy()
    for col in ("open", "high", "low", "close", "close_b"):
        out.iloc[cut + 1 :, out.columns.get_loc(col)] = other[col].iloc[cut + 1 :] * scale
    for col in ("volume", "funding_rate"):
        out.iloc[cut + 1 :, out.columns.get_loc(col)] = other[col].iloc[cut + 1 :]
    return out


def closed_before(result, when: pd.Timestamp) -> list:
    return [t for t in result.trades if t.exit_time <= when]


@pytest.mark.parametrize(("platform", "name"), CASES, ids=[f"{p}-{n}" for p, n in CASES])
@settings(max_examples=4, deadline=None)
@given(seed=st.integers(0, 2**31 - 1), cut=st.integers(60, BARS - 20))
def test_bars_after_n_never_change_the_past(platform, name, seed, cut):
    df = series(seed)
    changed = rewrite_after(df, cut, seed)
    sig = registry.signals(name, df, None, platform)
    sig2 = registry.signals(name, changed, None, platform)
    assert sig.iloc[: cut + 1].equals(sig2.iloc[: cut + 1]), "a signal before N changed"
    engine = ENGINE[platform]
    a = run_signals(df, sig, engine, strategy=name)
    b = run_signals(changed, sig2, engine, strategy=name)
    when = df.index[cut]
    assert closed_before(a, when) == closed_before(b, when), "a trade closed before N changed"
    assert a.equity.loc[:when].equals(b.equity.loc[:when]), "the equity before N changed"
    assert a.position.loc[:when].equals(b.position.loc[:when])
