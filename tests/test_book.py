"""The paper book (shared_tools/book): accounting identities hold for every sequence of
signals and prices, on every instrument type; direction, stops, targets, funding, fees."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

from books import spot_signal as apply_spot_signal
from hypothesis import example, given, settings
from hypothesis import strategies as st

from shared_tools.book.venues import taker_fee
from shared_tools.config.model import StrategyConfig, StrategyRef
from supervisor.risk.breakers import evaluate_breakers, latched, record_trade_result
from supervisor.state.models import StrategyState

FEE = 0.001


def _strat(capital: float = 1000.0) -> StrategyState:
    s = StrategyState(
        id="s", type="spot", platform="binanceus", cash=capital, initial_capital=capital
    )
    s.risk.peak_value = capital
    return s


steps = st.lists(
    st.tuples(
        st.sampled_from([-1, 0, 1]),
        st.floats(min_value=0.01, max_value=1e6, allow_nan=False, allow_infinity=False),
        st.sampled_from([1.0, 1.0, 0.5, 0.25]),
    ),
    min_size=1,
    max_size=60,
)


@settings(max_examples=300, deadline=None)
@given(steps=steps, capital=st.floats(min_value=10, max_value=1e6))
@example(  # a book that grew to ~2.6e10 and fell back to ~1.9e3 (float-scale regression)
    steps=[(1, 1.0, 1.0), (-1, 690137.0, 1.0), (1, 217596.0, 1.0), (-1, 0.015625, 1.0)],
    capital=37777.0,
)
def test_identities_hold_for_any_signal_sequence(steps, capital):
    s = _strat(capital)
    realized = 0.0
    trades = []
    # Floats carry ~1e-16 relative error of the largest amount they ever held; a book that grew
    # to 1e10 and fell back can only be reconciled to that scale, not to the final cash.
    scale = capital
    for i, (sig, price, frac) in enumerate(steps):
        made, _ = apply_spot_signal(
            s, "BTC/USDT", sig, price, f"t{i}", fee_rate=FEE, close_fraction=frac
        )
        trades.extend(made)
        realized += sum(t.net_pnl for t in made)
        scale = max(scale, s.cash, *(t.value for t in made))
        tol = 1e-12 * scale
        # cash never goes negative; positions are positive
        assert s.cash >= -1e-9 * capital
        for p in s.positions.values():
            assert p.quantity > 0 and p.cost_basis > 0
        # cash + cost basis of what is held = initial capital + realized P&L
        basis = sum(p.cost_basis for p in s.positions.values())
        assert math.isclose(s.cash + basis, capital + realized, rel_tol=1e-9, abs_tol=tol)
        # value = cash + positions marked at the last price
        value = s.value({"BTC/USDT": price})
        expected = s.cash + sum(p.quantity * price for p in s.positions.values())
        assert math.isclose(value, expected, rel_tol=1e-12, abs_tol=1e-9)
    # sum of trade P&L = realized P&L; every trade's cash effect explains the cash
    cash = capital
    for t in trades:
        cash += (t.value - t.fee) if t.side == "sell" else -(t.value + t.fee)
    assert math.isclose(cash, s.cash, rel_tol=1e-9, abs_tol=1e-12 * scale)
    # every open position is explained by exactly one open trade with its id
    for p in s.positions.values():
        opens = [t for t in trades if t.position_id == p.position_id and not t.is_close]
        assert len(opens) == 1
        closed_qty = sum(
            t.quantity for t in trades if t.position_id == p.position_id and t.is_close
        )
        assert math.isclose(opens[0].quantity - closed_qty, p.quantity, rel_tol=1e-9)


def test_buy_spends_cash_less_fee_and_round_trip_pnl():
    s = _strat(1000)
    (buy,), _ = apply_spot_signal(s, "BTC/USDT", 1, 100.0, "t0", fee_rate=FEE)
    assert math.isclose(buy.value + buy.fee, 1000)
    assert math.isclose(buy.fee, buy.value * FEE)
    assert s.cash == 0.0
    made, why = apply_spot_signal(s, "BTC/USDT", 1, 100.0, "t1", fee_rate=FEE)
    assert made == [] and "already long" in why
    (sell,), _ = apply_spot_signal(s, "BTC/USDT", -1, 110.0, "t2", fee_rate=FEE)
    assert sell.is_close and sell.position_id == buy.position_id
    assert math.isclose(buy.net_pnl + sell.net_pnl, s.cash - 1000)
    assert math.isclose(sell.realized_pnl, buy.quantity * 10)  # gross: before either fee
    assert math.isclose(s.cash, buy.quantity * 110 * (1 - FEE))
    made, why = apply_spot_signal(s, "BTC/USDT", -1, 110.0, "t3", fee_rate=FEE)
    assert made == [] and "flat" in why


def test_fee_table():
    assert taker_fee("binanceus", "spot") == 0.001
    assert taker_fee("luno", "spot") == 0.01
    assert taker_fee("robinhood", "spot") == 0.0
    assert taker_fee("unknown-venue", "spot") == 0.001
    assert taker_fee("hyperliquid", "perps") == 0.00045
    assert taker_fee("okx", "perps") == 0.0005


def _sc(**kw) -> StrategyConfig:
    base = dict(
        id="s",
        type="spot",
        platform="binanceus",
        script="x.py",
        args=["momentum", "BTC/USDT", "1h"],
        capital=1000.0,
        initial_capital=1000.0,
        max_drawdown_pct=10.0,
        interval_seconds=0,
        open_strategy=StrategyRef("momentum"),
        close_strategies=[],
    )
    base.update(kw)
    return StrategyConfig(**base)


def test_drawdown_breaker_closes_latches_and_releases():
    s = _strat(1000)
    apply_spot_signal(s, "BTC/USDT", 1, 100.0, "t0", fee_rate=FEE)
    now = datetime(2025, 1, 1, tzinfo=UTC)
    assert latched(s, now) == ""
    reason, closes = evaluate_breakers(s, _sc(), {"BTC/USDT": 85.0}, now, 1)
    assert "max drawdown exceeded" in reason
    assert len(closes) == 1 and closes[0].price == 85.0 and not s.positions
    assert s.risk.circuit_breaker
    assert "circuit breaker active" in latched(s, now + timedelta(hours=1))
    # after the 24h cooldown the latch releases and the peak is rebased on today's value,
    # so the old drawdown does not re-fire on the next check
    assert latched(s, now + timedelta(hours=25)) == ""
    reason, closes = evaluate_breakers(s, _sc(), {}, now + timedelta(hours=25), 2)
    assert reason == "" and closes == []
    assert s.risk.peak_value == s.cash and s.risk.current_drawdown_pct == 0


def test_loss_streak_breaker():
    s = _strat(1000)
    now = datetime(2025, 1, 1, tzinfo=UTC)
    for _ in range(5):
        record_trade_result(s, -1.0, now)
    reason, _ = evaluate_breakers(s, _sc(max_drawdown_pct=99), {}, now, 1)
    assert "consecutive losses (5 in a row" in reason
    assert "circuit breaker active" in latched(s, now + timedelta(minutes=30))
    assert latched(s, now + timedelta(minutes=61)) == ""
    assert s.risk.consecutive_losses == 0


def test_breaker_disabled_still_tracks_drawdown():
    s = _strat(1000)
    apply_spot_signal(s, "BTC/USDT", 1, 100.0, "t0", fee_rate=FEE)
    reason, _ = evaluate_breakers(
        s, _sc(circuit_breaker=False), {"BTC/USDT": 50.0}, datetime(2025, 1, 1, tzinfo=UTC), 1
    )
    assert reason == "" and s.positions and s.risk.current_drawdown_pct > 40


def test_nan_and_inf_prices_book_nothing():
    for bad in (float("nan"), float("inf"), -1.0, 0.0):
        s = _strat()
        assert apply_spot_signal(s, "BTC/USDT", 1, bad, "t", fee_rate=FEE) == ([], "no valid price")
        assert s.cash == 1000.0 and not s.positions
    s = _strat()
    apply_spot_signal(s, "BTC/USDT", 1, 100.0, "t", fee_rate=FEE)
    for bad in (float("nan"), float("inf")):
        trades, _ = apply_spot_signal(s, "BTC/USDT", -1, bad, "t", fee_rate=FEE)
        assert trades == [] and s.positions


def test_a_price_that_makes_an_infinite_quantity_is_refused():
    s = _strat()
    trades, action = apply_spot_signal(s, "BTC/USDT", 1, 5e-324, "t", fee_rate=FEE)
    assert trades == [] and "refused" in action and s.cash == 1000.0


def test_a_partial_close_that_would_leave_dust_closes_everything():
    s = _strat(capital=20.0)
    apply_spot_signal(s, "BTC/USDT", 1, 100.0, "t", fee_rate=FEE)
    # 95% of a ~$20 position leaves ~$1: below Binance US's $10 minimum, so all of it goes
    trades, _ = apply_spot_signal(s, "BTC/USDT", -1, 100.0, "t", fee_rate=FEE, close_fraction=0.95)
    assert len(trades) == 1 and not s.positions
    opened = 20.0 - 20.0 / (1 + FEE)  # the open fee
    assert math.isclose(s.cash, 20.0 - opened + trades[0].net_pnl, rel_tol=1e-12)
    # an open below the venue minimum is refused with the venue's reason
    small = _strat(capital=5.0)
    made, why = apply_spot_signal(small, "BTC/USDT", 1, 100.0, "t", fee_rate=FEE)
    assert made == [] and small.cash == 5.0
    assert "binanceus BTC/USDT: order $5.00 below the venue minimum $10.00" in why
    s = _strat(capital=1000.0)
    apply_spot_signal(s, "BTC/USDT", 1, 100.0, "t", fee_rate=FEE)
    apply_spot_signal(s, "BTC/USDT", -1, 100.0, "t", fee_rate=FEE, close_fraction=0.5)
    assert s.positions  # half of $1000 is no dust
