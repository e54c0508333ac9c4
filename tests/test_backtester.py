"""The backtest engine's fill model and accounting (backtest/backtester.py)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from backtest.backtester import BacktestSettings, rules_for, run, run_signals
from shared_strategies.open import registry
from shared_tools import book
from shared_tools.book import Position, margin

T0 = pd.Timestamp("2024-01-01", tz="UTC")


@dataclass
class Acct:
    id: str = "t"
    cash: float = 1000.0
    positions: dict[str, Position] = field(default_factory=dict)
    trade_count: int = 0


def frame(opens, highs=None, lows=None, closes=None, freq="1h", funding=None) -> pd.DataFrame:
    """A frame from explicit prices; highs/lows default to the bar's open/close range +-1."""
    o = np.asarray(opens, float)
    c = np.asarray(closes if closes is not None else opens, float)
    h = np.asarray(highs, float) if highs is not None else np.maximum(o, c) + 1.0
    lo = np.asarray(lows, float) if lows is not None else np.minimum(o, c) - 1.0
    df = pd.DataFrame(
        {"open": o, "high": h, "low": lo, "close": c, "volume": 1.0},
        index=pd.date_range(T0, periods=len(o), freq=freq),
    )
    if funding is not None:
        df["funding"] = funding
    return df


def signal(n: int, events: dict[int, int]) -> pd.Series:
    s = np.zeros(n, dtype=np.int64)
    for i, v in events.items():
        s[i] = v
    return pd.Series(s)


FREE = dict(fee_pct=0.0, slippage_bps=0.0)
PRICES = [100, 101, 102, 104, 103, 107, 110, 108, 105, 106, 109, 111]


def test_signal_fills_at_next_bar_open():
    df = frame(PRICES)
    r = run_signals(df, signal(len(df), {2: 1, 5: -1}), BacktestSettings(**FREE))
    (t,) = r.trades
    assert (t.entry_time, t.exit_time) == (df.index[3], df.index[6])
    assert (t.entry_price, t.exit_price) == (104.0, 110.0)
    assert t.quantity == pytest.approx(1000.0 / 104.0)
    assert t.pnl == pytest.approx(1000.0 / 104.0 * 6.0)
    assert t.reason == "signal"
    assert r.final_equity == pytest.approx(1000.0 + t.pnl)
    # flat until the fill bar, marked at each close while held, flat again after the exit
    assert r.position.iloc[2] == 0 and r.position.iloc[3] == pytest.approx(t.quantity)
    assert r.equity.iloc[4] == pytest.approx(t.quantity * 103.0)
    assert r.position.iloc[6] == 0


def test_fees_and_slippage_arithmetic():
    df = frame(PRICES)
    s = BacktestSettings(fee_pct=0.1, slippage_bps=10.0)
    (t,) = run_signals(df, signal(len(df), {2: 1, 5: -1}), s).trades
    buy = 104.0 * 1.001
    notional = 1000.0 / 1.001  # the whole cash buys, fee included
    qty = notional / buy
    sell = 110.0 * 0.999
    entry_fee, exit_fee = notional * 0.001, qty * sell * 0.001
    assert t.entry_price == pytest.approx(buy) and t.exit_price == pytest.approx(sell)
    assert t.quantity == pytest.approx(qty)
    assert t.fee == pytest.approx(entry_fee + exit_fee)
    assert t.pnl == pytest.approx(qty * (sell - buy) - entry_fee - exit_fee)


def test_venue_fee_table_applies_without_fee_pct():
    df = frame(PRICES)
    sig = signal(len(df), {2: 1, 5: -1})
    luno = run_signals(df, sig, BacktestSettings(platform="luno")).trades[0]
    robinhood = run_signals(df, sig, BacktestSettings(platform="robinhood")).trades[0]
    assert robinhood.fee == 0.0
    assert luno.fee == pytest.approx(1000.0 / 1.01 * 0.01 + luno.quantity * 110.0 * 0.01)


def test_short_only_perps():
    df = frame(PRICES)
    s = BacktestSettings(instrument="perps", direction="short", **FREE)
    r = run_signals(df, signal(len(df), {2: -1, 5: 1, 8: 1}), s)
    (t,) = r.trades
    assert t.side == "short" and (t.entry_price, t.exit_price) == (104.0, 110.0)
    assert t.pnl == pytest.approx(-(1000.0 / 104.0) * 6.0)
    assert r.position.iloc[4] == pytest.approx(-1000.0 / 104.0)


def test_both_flips_and_invert():
    df = frame(PRICES)
    sig = signal(len(df), {2: 1, 5: -1, 8: 1})
    s = BacktestSettings(instrument="perps", direction="both", **FREE)
    r = run_signals(df, sig, s)
    assert [(t.side, t.entry_price, t.exit_price, t.reason) for t in r.trades] == [
        ("long", 104.0, 110.0, "signal"),
        ("short", 110.0, 106.0, "signal"),
        ("long", 106.0, 111.0, "end"),  # closed at the last close
    ]
    inverted = run_signals(df, sig, BacktestSettings(**{**s.__dict__, "invert_signal": True}))
    assert [t.side for t in inverted.trades] == ["short", "long", "short"]
    long_only = run_signals(df, sig, BacktestSettings(instrument="perps", **FREE))
    assert [t.side for t in long_only.trades] == ["long", "long"]


def test_spot_refuses_short_directions():
    with pytest.raises(ValueError, match="spot is long-only"):
        run_signals(frame(PRICES), signal(12, {}), BacktestSettings(direction="both"))


def test_stop_wins_when_stop_and_target_share_a_bar():
    # entry 100; stop 5% (95), target 5% (105); bar 4 spans 90..110: both touched
    opens = [100] * 8
    highs = [101, 101, 101, 101, 110, 101, 101, 101]
    lows = [99, 99, 99, 99, 90, 99, 99, 99]
    df = frame(opens, highs, lows)
    tier = {
        "name": "tiered_tp_pct",
        "params": {"tp_tiers": [{"profit_pct": 0.05, "close_fraction": 1.0}]},
    }
    s = BacktestSettings(stop_loss_pct=5.0, close_strategies=(tier,), **FREE)
    (t,) = run_signals(df, signal(8, {1: 1}), s).trades
    assert (t.reason, t.exit_price, t.exit_time) == ("stop_loss", 95.0, df.index[4])
    # the same bar without the stop: the target fills at its own price
    s2 = BacktestSettings(close_strategies=(tier,), **FREE)
    (t2,) = run_signals(df, signal(8, {1: 1}), s2).trades
    assert (t2.reason, t2.exit_price) == ("take_profit", 105.0)


def test_stop_fills_at_trigger_or_at_open_on_a_gap():
    opens = [100, 100, 100, 100, 100, 100]
    lows = [99, 99, 99, 96, 99, 99]
    df = frame(opens, lows=lows)
    s = BacktestSettings(stop_loss_pct=2.0, **FREE)
    (t,) = run_signals(df, signal(6, {1: 1}), s).trades
    assert (t.exit_price, t.exit_time, t.reason) == (98.0, df.index[3], "stop_loss")
    # bar 3 opens at 90, below the 98 stop: the stop fills at the open
    gap = frame([100, 100, 100, 90, 91, 92], lows=[99, 99, 99, 89, 90, 91])
    (g,) = run_signals(gap, signal(6, {1: 1}), s).trades
    assert (g.exit_price, g.exit_time) == (90.0, gap.index[3])
    # a short's stop is above: the high crosses it
    short = BacktestSettings(instrument="perps", direction="short", stop_loss_pct=2.0, **FREE)
    up = frame(opens, highs=[101, 101, 101, 103, 101, 101])
    (u,) = run_signals(up, signal(6, {1: -1}), short).trades
    assert (u.side, u.exit_price, u.reason) == ("short", 102.0, "stop_loss")


def test_trailing_stop_follows_the_high_from_the_next_bar():
    opens = [100, 100, 100, 110, 118, 119]
    highs = [101, 101, 105, 120, 119, 120]
    lows = [99, 99, 99, 109, 107, 118]
    df = frame(opens, highs, lows, closes=opens)
    s = BacktestSettings(trailing_stop_pct=10.0, **FREE)
    (t,) = run_signals(df, signal(6, {1: 1}), s).trades
    # best 120 on bar 3 -> stop 108, hit by bar 4's low of 107
    assert (t.reason, t.exit_price, t.exit_time) == (
        "trailing_stop",
        pytest.approx(108.0),
        df.index[4],
    )


def test_partial_take_profits_share_the_entry_fee():
    opens = [100, 100, 100, 100, 100, 100]
    highs = [101, 101, 103, 105, 101, 101]
    df = frame(opens, highs)
    tiers = [
        {"profit_pct": 0.02, "close_fraction": 0.5},
        {"profit_pct": 0.04, "close_fraction": 1.0},
    ]
    s = BacktestSettings(
        fee_pct=0.1, close_strategies=({"name": "tiered_tp_pct", "params": {"tp_tiers": tiers}},)
    )
    r = run_signals(df, signal(6, {1: 1}), s)
    assert [(t.reason, t.exit_price) for t in r.trades] == [
        ("take_profit", 102.0),
        ("take_profit", 104.0),
    ]
    a, b = r.trades
    assert a.quantity == pytest.approx(b.quantity)
    entry_fee = 1000.0 / 1.001 * 0.001
    assert a.fee + b.fee == pytest.approx(entry_fee + a.quantity * 0.001 * (102.0 + 104.0))
    assert r.final_equity == pytest.approx(1000.0 + a.pnl + b.pnl)


def test_close_evaluator_closes_at_next_open_and_never_reverses():
    df = frame(PRICES)
    ref = {"name": "time_stop", "params": {"max_bars": 2}}
    s = BacktestSettings(instrument="perps", direction="both", close_strategies=(ref,), **FREE)
    r = run_signals(df, signal(len(df), {2: 1, 3: -1, 4: -1}), s)
    # opened at bar 3's open; 2 bars held at bar 4's close -> closed at bar 5's open; the -1
    # signals while held neither close nor reverse; flat again, bar 4's -1 is gone
    (t,) = r.trades
    assert (t.side, t.entry_price, t.exit_price, t.reason) == (
        "long",
        104.0,
        107.0,
        "close:time_stop",
    )
    assert r.position.iloc[5:].eq(0).all()


def test_perps_leverage_sizes_and_funding_accrues():
    n = 8
    rate = 0.0001  # hourly; positive: longs pay
    df = frame(PRICES[:n], funding=np.full(n, rate))
    s = BacktestSettings(instrument="perps", leverage=3.0, **FREE)
    r = run_signals(df, signal(n, {1: 1, 4: -1}), s)
    (t,) = r.trades
    qty = 3000.0 / 102.0  # filled at bar 2's open
    assert t.quantity == pytest.approx(qty)
    assert t.pnl == pytest.approx(qty * (107.0 - 102.0))
    # held over the closes of bars 2, 3 and 4: one funding hour each at that close
    assert r.funding_pnl == pytest.approx(-qty * rate * (102.0 + 104.0 + 103.0))
    assert r.final_equity == pytest.approx(1000.0 + t.pnl + r.funding_pnl)
    short = run_signals(
        df,
        signal(n, {1: -1, 4: 1}),
        BacktestSettings(instrument="perps", direction="short", **FREE),
    )
    assert short.funding_pnl > 0
    no_column = run_signals(frame(PRICES[:n]), signal(n, {1: 1, 4: -1}), s)
    assert no_column.funding_pnl == 0.0


def test_futures_trade_whole_contracts_with_the_multiplier():
    df = frame([5000, 5000, 5000, 5010, 5020, 5030, 5040, 5050])
    s = BacktestSettings(
        instrument="futures", symbol="MES", capital=10_000.0, fee_per_contract=1.25
    )
    (t,) = run_signals(df, signal(8, {2: 1, 5: -1}), s).trades
    assert t.quantity == 6.0  # floor(10000 / 1540 margin)
    assert t.pnl == pytest.approx(6 * 5.0 * (5040 - 5010) - 2 * 6 * 1.25)
    unknown = BacktestSettings(instrument="futures", symbol="ZZ", capital=12_000.0)
    (u,) = run_signals(df, signal(8, {2: 1, 5: -1}), unknown).trades
    assert u.quantity == 2.0  # no spec: multiplier 1, margin = price


def _random_walk(n: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    close = 100.0 * np.exp(np.cumsum(rng.normal(0, 0.01, n)))
    opens = np.r_[100.0, close[:-1]] * np.exp(rng.normal(0, 0.002, n))
    wick = np.abs(rng.normal(0, 0.005, (2, n)))
    high = np.maximum(opens, close) * (1 + wick[0])
    low = np.minimum(opens, close) * (1 - wick[1])
    return frame(opens, high, low, close)


def test_since_warms_indicators_up_and_trades_only_from_since():
    df = _random_walk(600, 7)
    params = {"fast_period": 10, "slow_period": 40}
    full = registry.signals("sma_crossover", df, params)
    events = np.flatnonzero(full.to_numpy() == 1)  # golden crosses
    # a cross 5 bars after `since`: a frame cut at `since` could not know it (40-bar warm-up)
    cross = int(events[events > 200][0])
    since = df.index[cross - 5]
    r = run(df, "sma_crossover", params, BacktestSettings(**FREE), since=since)
    assert r.equity.index[0] == since and len(r.equity) == len(df) - (cross - 5)
    assert all(t.entry_time >= since for t in r.trades)
    assert r.trades[0].entry_time == df.index[cross + 1]
    cut = run(df.loc[since:], "sma_crossover", params, BacktestSettings(**FREE))
    assert not cut.trades or cut.trades[0].entry_time > df.index[cross + 1]


@settings(max_examples=40, deadline=None)
@given(
    seed=st.integers(0, 10_000),
    kind=st.sampled_from(["spot", "perps-long", "perps-short", "perps-both", "futures"]),
    fee=st.sampled_from([0.0, 0.05, 0.1, 1.0]),
    slip=st.sampled_from([0.0, 5.0, 25.0]),
    stop=st.sampled_from(
        [None, ("stop_loss_pct", 2.0), ("trailing_stop_pct", 3.0), ("stop_loss_atr_mult", 1.5)]
    ),
    closes=st.sampled_from(
        [
            (),
            ({"name": "tiered_tp_pct"},),
            ({"name": "time_stop", "params": {"max_bars": 5}}, {"name": "tiered_tp_atr"}),
            ({"name": "ema_crossover", "params": {"fast_period": 5, "slow_period": 12}},),
            ({"name": "tiered_tp_atr_live"}, {"name": "atr_stop", "params": {"atr_mult": 1.0}}),
        ]
    ),
    funding=st.booleans(),
)
def test_accounting_identities(seed, kind, fee, slip, stop, closes, funding):
    df = _random_walk(150, seed)
    if funding:
        df["funding"] = np.random.default_rng(seed).normal(0, 1e-4, len(df))
    rng = np.random.default_rng(seed + 1)
    sig = pd.Series(rng.choice([-1, 0, 0, 0, 1], size=len(df)))
    instrument, _, direction = kind.partition("-")
    extra = dict([stop]) if stop else {}
    s = BacktestSettings(
        instrument=instrument,
        direction=direction or "long",
        fee_pct=fee,
        slippage_bps=slip,
        leverage=2.0 if instrument == "perps" else 1.0,
        symbol="MES" if instrument == "futures" else "BTC/USDT",
        capital=20_000.0 if instrument == "futures" else 1000.0,
        fee_per_contract=0.5,
        close_strategies=closes,
        **extra,
    )
    r = run_signals(df, sig, s)
    total = s.capital + sum(t.pnl for t in r.trades) + r.funding_pnl
    assert r.final_equity == pytest.approx(total, rel=1e-9, abs=1e-9)
    assert r.equity.iloc[-1] == r.final_equity
    assert r.position.iloc[-1] == 0
    assert len(r.equity) == len(df) and r.equity.index.equals(df.index)
    for t in r.trades:
        assert t.entry_time <= t.exit_time and t.quantity > 0 and t.fee >= 0
        sign = 1 if t.side == "long" else -1
        mult = 5.0 if instrument == "futures" else 1.0
        gross = sign * t.quantity * mult * (t.exit_price - t.entry_price)
        assert t.pnl == pytest.approx(gross - t.fee, rel=1e-9, abs=1e-9)
        assert math.isfinite(t.pnl)
    if instrument == "spot":
        assert (r.position >= 0).all()
    if direction == "short":
        assert all(t.side == "short" for t in r.trades)


def test_atr_stop_uses_the_signal_bars_atr():
    n = 30
    lows = [99.0] * n
    lows[22] = 96.0
    df = frame([100.0] * n, lows=lows)  # true range 2 on every bar: ATR(14) = 2
    s = BacktestSettings(stop_loss_atr_mult=1.5, **FREE)
    (t,) = run_signals(df, signal(n, {19: 1}), s).trades
    assert (t.reason, t.exit_price, t.exit_time) == ("stop_loss", 97.0, df.index[22])
    # no ATR yet (warm-up): the stop is not armed and the run says so
    early = run_signals(df, signal(n, {5: 1}), s)
    assert early.trades[0].reason == "end"
    assert any("ATR stop is not armed" in note for note in early.notes)


def test_regime_gate_holds_entries_but_not_exits():
    n = 80
    falling = [200.0 - 2 * i for i in range(n)]
    df = frame(falling)
    sig = signal(n, {60: 1, 70: -1})
    up_only = BacktestSettings(regime_enabled=True, allowed_regimes=("trending_up",), **FREE)
    assert run_signals(df, sig, up_only).trades == []
    down_ok = BacktestSettings(regime_enabled=True, allowed_regimes=("trending_down",), **FREE)
    (t,) = run_signals(df, sig, down_ok).trades
    assert (t.entry_time, t.exit_time) == (df.index[61], df.index[71])


def test_leveraged_perps_are_liquidated_by_the_margin_model():
    # 5x on a venue without a row: maintenance is 0.5% of the notional (the instrument table)
    opens = [100, 100, 100, 95, 90, 90, 90, 90]
    lows = [99, 99, 99, 94, 75, 89, 89, 89]
    df = frame(opens, lows=lows)
    s = BacktestSettings(instrument="perps", leverage=5.0, **FREE)
    r = run_signals(df, signal(8, {1: 1}), s)
    (t,) = r.trades  # qty 50 at 100: equity 1000 + 50 (P - 100) meets 0.5% of 50 P
    trigger = (100 - 1000 / 50) / (1 - 0.005)
    assert (t.reason, t.exit_time) == ("liquidation", df.index[4])
    assert t.exit_price == pytest.approx(trigger)
    assert r.final_equity == pytest.approx(0.005 * 50 * trigger)  # the maintenance is left
    assert r.equity.min() >= 0
    # opening past the bankruptcy price (80, where the cash is gone): the loss is capped at
    # the collateral, booked at 80, and the account ends at 0, never below
    gap = frame([100, 100, 100, 70, 70, 70], lows=[99, 99, 99, 69, 69, 69])
    rg = run_signals(gap, signal(6, {1: 1}), s)
    (g,) = rg.trades
    assert (g.reason, g.exit_price) == ("liquidation", pytest.approx(80.0))
    assert rg.final_equity == pytest.approx(0.0, abs=1e-9) and rg.equity.min() >= 0


def test_a_20x_long_is_liquidated_at_the_books_liquidation_price():
    hl = BacktestSettings(
        instrument="perps", platform="hyperliquid", symbol="BTC", leverage=20.0, **FREE
    )
    falling = [100, 100, 100, 99, 98, 97, 96, 95]
    r = run_signals(frame(falling), signal(8, {1: 1}), hl)
    (t,) = r.trades
    # the same position in the paper book: its liquidation price is the backtest's fill
    acct = Acct(cash=1000.0)
    book.apply_signal(acct, rules_for(hl), "BTC", 1, 100.0, "t")
    price = margin.liquidation_price(acct, acct.positions["BTC"], rules_for(hl))
    assert price == pytest.approx((100 - 1000 / 200) / (1 - 1 / 80))  # maint 1/(2 x 40x)
    assert (t.reason, t.exit_time) == ("liquidation", r.equity.index[5])  # low 96 < 96.2
    assert t.exit_price == pytest.approx(price)
    # a bar opening past the trigger (but above the bankruptcy price 95) fills at its open
    gap = run_signals(frame([100, 100, 100, 99, 95.5, 95]), signal(6, {1: 1}), hl)
    assert [(g.reason, g.exit_price) for g in gap.trades] == [("liquidation", 95.5)]
    assert gap.final_equity == pytest.approx(1000 + 200 * (95.5 - 100))


def test_okx_perps_pay_funding_every_8_hours_and_hyperliquid_hourly():
    n = 14
    rate = 0.0001  # hourly (OKX's 8-hour rate / 8)
    df = frame([100.0] * n, funding=np.full(n, rate))
    sig = signal(n, {0: 1, 10: -1})  # held from 01:00 to 11:00
    okx = BacktestSettings(instrument="perps", platform="okx", symbol="BTC/USDT", **FREE)
    r = run_signals(df, sig, okx)
    qty = 1000.0 / 100.0
    assert r.funding_pnl == pytest.approx(-qty * 100.0 * rate * 8)  # one boundary: 08:00
    hl = BacktestSettings(instrument="perps", platform="hyperliquid", symbol="BTC", **FREE)
    assert run_signals(df, sig, hl).funding_pnl == pytest.approx(-qty * 100.0 * rate * 10)


def test_bad_settings_fail_with_one_line_errors():
    df, sig = frame(PRICES), signal(12, {2: 1})
    with pytest.raises(ValueError, match="neither a close evaluator"):
        run_signals(df, sig, BacktestSettings(close_strategies=({"name": "nope"},)))
    with pytest.raises(ValueError, match="at most one stop"):
        run_signals(df, sig, BacktestSettings(stop_loss_pct=2.0, trailing_stop_pct=3.0))
    with pytest.raises(ValueError, match="instrument must be"):
        run_signals(df, sig, BacktestSettings(instrument="options"))
    with pytest.raises(ValueError, match="unknown strategy"):
        run(df, "no_such_strategy")
