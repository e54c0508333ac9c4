"""The options book's life: open -> mark -> expiry keeps the accounting identity on every
venue's multiplier; theta harvest's arms in upstream's order; collateral; one leg per key."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shared_tools.book.model import Position
from shared_tools.book.options import OptionsAccount, OptionsBook, option_venue
from shared_tools.book.options_life import (
    ThetaHarvest,
    apply_mark,
    close_legs,
    harvest,
    portfolio_greeks,
    settle,
)

NOW = "2026-12-07T12:00:00.000000Z"
VENUES = [
    ("deribit", "BTC", 1.0),
    ("ibkr", "BTC", 0.1),
    ("ibkr", "ETH", 0.5),
    ("robinhood", "SPY", 100.0),
    ("okx", "ETH", 0.1),
]


def account(cash: float = 1e7) -> OptionsAccount:
    return OptionsAccount("s", cash)


@settings(max_examples=150, deadline=None)
@given(
    venue=st.sampled_from(VENUES),
    otype=st.sampled_from(["call", "put"]),
    side=st.sampled_from(["long", "short"]),
    strike=st.floats(50, 200_000),
    spot_ratio=st.floats(0.5, 1.5),
    qty=st.integers(1, 5),
    premium=st.floats(0.5, 5000),
    mark=st.floats(0, 8000),
)
def test_identity_open_mark_expiry(venue, otype, side, strike, spot_ratio, qty, premium, mark):
    name, und, mult = venue
    book = OptionsBook(name)
    acct = account()
    trade, why = book.open(acct, und, otype, strike, "2026-12-18", side, qty, premium, NOW)
    assert trade is not None, why
    leg = next(iter(acct.legs.values()))
    assert leg.multiplier == option_venue(name).multiplier(und) == mult
    rows = [trade]
    apply_mark(leg, {"premium_usd": mark}, NOW)
    assert acct.value == pytest.approx(acct.cash + leg.sign * qty * mult * mark)
    settlement = strike * spot_ratio
    made, closed = settle(acct, {}, book, leg, settlement, NOW)
    rows += made
    assert not acct.legs and closed is not None
    intrinsic = max(settlement - strike, 0) if otype == "call" else max(strike - settlement, 0)
    sign = 1 if side == "long" else -1
    # cash-settled at intrinsic x qty x multiplier: longs credited, shorts debited
    expected = 1e7 - sign * qty * mult * premium - trade.fee + sign * qty * mult * intrinsic
    assert acct.cash == pytest.approx(expected, rel=1e-12, abs=1e-6)
    assert sum(t.net_pnl for t in rows) == pytest.approx(acct.cash - 1e7, abs=1e-6)
    assert closed.close_reason == ("expired_itm" if intrinsic > 0 else "expired_worthless")
    assert closed.realized_pnl == pytest.approx(sign * qty * mult * (intrinsic - premium))


def sold(acct, book, premium=100.0, strike=90.0, otype="put"):
    trade, why = book.open(acct, "BTC", otype, strike, "2026-12-18", "short", 1, premium, NOW)
    assert trade is not None, why
    return acct.legs[trade.position_id]


@pytest.mark.parametrize(
    "mark, dte, reason",
    [
        (30.0, 10.0, "Theta harvest: 70% profit captured ($70.00 of $100.00 premium)"),
        (300.0, 10.0, "Stop loss: 200% loss on sold option ($200.00)"),
        (90.0, 2.5, "DTE exit: 2.5 days to expiry (min: 3)"),
        (30.0, 2.0, "Theta harvest"),  # the profit arm comes first
        (300.0, 2.0, "Stop loss"),  # then the stop, then the DTE arm
    ],
)
def test_theta_harvest_arms_in_order(mark, dte, reason):
    acct, book = account(), OptionsBook("deribit")
    leg = sold(acct, book)
    apply_mark(leg, {"premium_usd": mark, "dte": dte}, NOW)
    trades, closed, lines = harvest(acct, book, ThetaHarvest(60, 200, 3), NOW)
    assert len(trades) == 1 and reason in lines[0] and closed[0].close_reason == "theta_harvest"
    assert lines[0].startswith("[s] CLOSE BTC-put-sell-90-2026-12-18 — ")


def test_theta_harvest_zero_disables_an_arm_and_bought_legs_are_left():
    acct, book = account(), OptionsBook("deribit")
    leg = sold(acct, book)
    book.open(acct, "BTC", "call", 120, "2026-12-18", "long", 1, 10.0, NOW)
    apply_mark(leg, {"premium_usd": 300.0, "dte": 1.0}, NOW)
    assert harvest(acct, book, ThetaHarvest(60, 0, 0), NOW)[0] == []
    assert harvest(acct, book, None, NOW)[0] == []
    assert len(harvest(acct, book, ThetaHarvest(0, 0, 3), NOW)[0]) == 1  # DTE arm only
    assert len(acct.legs) == 1 and next(iter(acct.legs.values())).side == "long"


def test_naked_put_collateral_counts_other_short_puts_and_the_multiplier():
    book = OptionsBook("ibkr")  # BTC micro: x0.1
    acct = account(cash=15_000)
    t1, _ = book.open(
        acct, "BTC", "put", 100_000, "2026-12-18", "short", 1, 1000, NOW, collateral=True
    )
    assert t1 is not None  # 100000 x 0.1 = 10000 <= cash
    t2, why = book.open(
        acct, "BTC", "put", 90_000, "2026-12-18", "short", 1, 900, NOW, collateral=True
    )
    assert t2 is None and "naked put needs $19,000.00" in why  # 9000 + the open 10000


def test_a_second_open_with_the_same_key_is_refused_not_overwritten():
    acct, book = account(), OptionsBook("deribit")
    sold(acct, book)
    cash = acct.cash
    trade, why = book.open(acct, "BTC", "put", 90, "2026-12-18", "short", 1, 100.0, NOW)
    assert trade is None and "already open" in why and acct.cash == cash and len(acct.legs) == 1


def test_wheel_call_delivers_the_spot_held_and_cash_settles_the_rest():
    acct, book = account(cash=0.0), OptionsBook("deribit")
    leg = sold(acct, book, premium=50.0, strike=100.0, otype="call")
    acct.cash = 0.0
    positions = {"BTC": Position("BTC", "p", 0.5, 0.5, 90.0, 45.0)}
    made, row = settle(acct, positions, book, leg, 120.0, NOW, wheel=True)
    assert not positions and not acct.legs and row is not None
    # 0.5 delivered at K=100 (+50 = basis 45 + gain 5), 0.5 cash-settled at S-K=20 (-10)
    assert acct.cash == pytest.approx(50.0 - 10.0)
    assert sum(t.net_pnl for t in made) == pytest.approx(5.0 + 0.5 * 50.0 + 0.5 * (50.0 - 20.0))


def test_forced_close_at_last_mark_and_signed_greeks():
    acct, book = account(), OptionsBook("ibkr")
    short = sold(acct, book)
    t, _ = book.open(acct, "BTC", "call", 120, "2026-12-18", "long", 2, 10.0, NOW)
    long_ = acct.legs[t.position_id]
    apply_mark(short, {"premium_usd": 80.0, "greeks": {"delta": -0.4, "vega": 5}}, NOW)
    apply_mark(long_, {"premium_usd": 12.0, "greeks": {"delta": 0.3, "vega": 4}}, NOW)
    g = portfolio_greeks(acct.legs)
    assert g["delta"] == pytest.approx(-1 * 0.1 * -0.4 + 2 * 0.1 * 0.3)
    assert g["vega"] == pytest.approx(-0.1 * 5 + 0.2 * 4)
    value = acct.value
    trades = close_legs(acct, book, "circuit_breaker", NOW)
    assert not acct.legs and len(trades) == 2
    assert acct.cash == pytest.approx(value - sum(x.fee for x in trades))


def test_summary_line_is_upstreams_opt_line():
    from supervisor.notify.messages import option_lines
    from supervisor.state.models import StrategyState

    strat = StrategyState("deribit-wheel-btc", "options", "deribit", 1e6, 1e6)
    book = OptionsBook("deribit")
    book.open(strat, "BTC", "put", 90000, "2027-01-02", "short", 1, 1234.5, "2026-12-07T15:04:00Z")
    assert option_lines(strat) == [
        "deribit-wheel-btc OPT BTC-put-sell-90000-2027-01-02 ($-1,234.50) [Dec 07 15:04]"
    ]
