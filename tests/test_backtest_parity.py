"""Trade-by-trade parity with backtesting.py on an SMA crossover under the same fill model.

The shared model: a signal on bar N fills at bar N+1's open; a buy spends all the cash with
the commission taken on top of the notional (units = cash / (price * (1 + fee))); the
commission is charged on each fill; long/flat only; optionally a fixed stop below the fill
that can trigger on the entry bar and fills at its level (at the open on a gap). backtesting.py trades whole units, so it
runs through ``FractionalBacktest`` with a unit of 1e-12 (its rounding is then ~1e-12 relative).
backtesting.py is a test/bench-only dependency.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

from backtest.backtester import BacktestSettings, run_signals
from shared_strategies.open import registry

backtesting = pytest.importorskip("backtesting")
from backtesting import Strategy  # noqa: E402
from backtesting.lib import FractionalBacktest  # noqa: E402


def series(seed: int, n: int = 1500) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    close = 20_000.0 * np.exp(np.cumsum(rng.normal(0, 0.01, n)))
    opens = np.r_[20_000.0, close[:-1]] * np.exp(rng.normal(0, 0.002, n))
    wick = np.abs(rng.normal(0, 0.004, (2, n)))
    return pd.DataFrame(
        {
            "open": opens,
            "high": np.maximum(opens, close) * (1 + wick[0]),
            "low": np.minimum(opens, close) * (1 - wick[1]),
            "close": close,
            "volume": 1.0,
        },
        index=pd.date_range("2022-01-01", periods=n, freq="1h", tz="UTC"),
    )


def crossover_signal(df: pd.DataFrame, fast: int, slow: int) -> np.ndarray:
    """The registry's SMA crossover, with a final exit two bars before the end so both engines
    finish flat (their end-of-data conventions differ and are not what is compared)."""
    sig = registry.signals("sma_crossover", df, {"fast_period": fast, "slow_period": slow})
    sig = sig.to_numpy().copy()
    events = np.flatnonzero(sig)
    if len(events) and sig[events[-1]] == 1:
        sig[-3] = -1
    return sig


UNIT = 1e-12  # FractionalBacktest's unit: prices inside it are scaled by this


def reference(df: pd.DataFrame, sig: np.ndarray, fee: float, cash: float, stop_pct=None):
    opens = df["open"].to_numpy()

    class Crossover(Strategy):
        def init(self):
            self.sig = self.I(lambda: sig.astype(float), name="sig")

        def next(self):
            if self.sig[-1] > 0 and not self.position:
                if stop_pct is None:
                    self.buy()
                else:
                    # our stop sits stop_pct below the fill (the next open); backtesting.py
                    # wants an absolute level when ordering, so the reference reads that open
                    fill = opens[len(self.data)]
                    self.buy(sl=fill * (1 - stop_pct / 100.0) * UNIT)
            elif self.sig[-1] < 0 and self.position:
                self.position.close()

    data = df.rename(columns=str.capitalize).tz_convert(None)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        bt = FractionalBacktest(data, Crossover, cash=cash, commission=fee, fractional_unit=UNIT)
        return bt.run()


@pytest.mark.parametrize(
    ("seed", "fast", "slow", "fee_pct", "stop_pct"),
    [
        (42, 10, 30, 0.1, None),
        (7, 20, 50, 0.1, None),
        (3, 5, 60, 0.0, None),
        (11, 12, 26, 1.0, None),
        (42, 10, 30, 0.1, 2.0),
        (5, 10, 40, 0.1, 2.0),
    ],
)
def test_sma_crossover_matches_backtesting_py(seed, fast, slow, fee_pct, stop_pct):
    df = series(seed)
    sig = crossover_signal(df, fast, slow)
    settings = BacktestSettings(capital=1000.0, fee_pct=fee_pct, stop_loss_pct=stop_pct)
    ours = run_signals(df, pd.Series(sig), settings)
    stats = reference(df, sig, fee_pct / 100.0, 1000.0, stop_pct)
    theirs = stats["_trades"]
    assert len(ours.trades) == len(theirs) > 5
    if stop_pct is not None:  # both exits happen: stops (same bar as the entry too) and signals
        reasons = {t.reason for t in ours.trades}
        assert reasons == {"stop_loss", "signal"}
    for mine, (_, ref) in zip(ours.trades, theirs.iterrows(), strict=True):
        assert mine.entry_time == df.index[ref["EntryBar"]]
        assert mine.exit_time == df.index[ref["ExitBar"]]
        assert mine.entry_price == pytest.approx(ref["EntryPrice"], rel=1e-12)
        assert mine.exit_price == pytest.approx(ref["ExitPrice"], rel=1e-12)
        assert mine.quantity == pytest.approx(ref["Size"], rel=1e-6)
        assert mine.pnl == pytest.approx(ref["PnL"], rel=1e-6, abs=1e-6)
        assert mine.fee == pytest.approx(ref["Commission"], rel=1e-6, abs=1e-9)
    assert ours.final_equity == pytest.approx(stats["Equity Final [$]"], rel=1e-6)
    # the equity curves agree bar by bar too (backtesting.py marks at each close)
    curve = stats["_equity_curve"]["Equity"].to_numpy()
    assert np.allclose(ours.equity.to_numpy(), curve, rtol=1e-6)
