"""Perps and futures in the paper book: identities, direction, sizing, stops, targets, funding,
and the margin model (equity, maintenance, liquidation)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shared_tools import book
from shared_tools.book import Position, Protection, Rules, margin
from shared_tools.book.instruments import instrument
from shared_tools.book.venues import CONTRACT_SPECS


@dataclass
class Acct:
    id: str = "t"
    cash: float = 10_000.0
    positions: dict[str, Position] = field(default_factory=dict)
    trade_count: int = 0


PERPS = Rules(kind="perps", platform="hyperliquid", fee_rate=0.00045, direction="both")
ES = Rules(kind="futures", platform="topstep", direction="both", contract=CONTRACT_SPECS["ES"])

steps = st.lists(
    st.tuples(
        st.sampled_from([-1, 0, 1]),
        st.floats(min_value=50.0, max_value=150.0),
        st.sampled_from([None, 1.0, 0.5, 0.3]),  # None: plain signal; else composed close share
        st.floats(min_value=-5e-4, max_value=5e-4),  # funding rate per hour
    ),
    min_size=1,
    max_size=50,
)


@settings(max_examples=250, deadline=None)
@given(
    steps=steps,
    direction=st.sampled_from(["long", "short", "both"]),
    kind=st.sampled_from(["perps", "futures"]),
    invert=st.booleans(),
)
def test_margin_identities_and_direction_hold_for_any_sequence(steps, direction, kind, invert):
    rules = Rules(
        kind=kind,
        fee_rate=0.0005,
        direction=direction,
        invert_signal=invert,
        leverage=3.0,
        fee_per_contract=1.25,
        contract=CONTRACT_SPECS["MES"] if kind == "futures" else None,
        protection=Protection(trailing_stop_pct=3.0),
    )
    acct = Acct(cash=100_000.0)
    trades = []
    for i, (sig, price, share, rate) in enumerate(steps):
        now_s = 1_700_000_000 + i * 3600
        made = book.protect(acct, rules, "X", price, f"t{i}")
        if kind == "perps":
            t = book.accrue_funding(acct, rules, "X", rate, price, now_s, f"t{i}")
            made += [t] if t else []
        got, _ = book.apply_signal(
            acct,
            rules,
            "X",
            sig,
            price,
            f"t{i}",
            composed=share is not None,
            close_fraction=share or 1.0,
            entry_atr=price * 0.02,
            now_s=now_s,
        )
        trades += made + got
        # margin-style: cash moved only by P&L, fees and funding
        net = sum(t.net_pnl for t in trades)
        assert math.isclose(acct.cash, 100_000.0 + net, rel_tol=1e-12, abs_tol=1e-6)
        value = acct.cash + sum(p.unrealized_pnl(price) for p in acct.positions.values())
        positions_value = sum(p.value(price) for p in acct.positions.values())
        assert math.isclose(value, acct.cash + positions_value, abs_tol=1e-9)
        for p in acct.positions.values():
            assert p.quantity > 0
            assert direction == "both" or p.side == direction  # never against the direction
            if kind == "futures":
                assert p.quantity == int(p.quantity)
    # every close leg belongs to an open of the same position
    opened = {t.position_id for t in trades if not t.is_close and t.trade_type != "funding"}
    assert {t.position_id for t in trades if t.is_close} <= opened


def test_perps_sizing_fee_and_round_trip():
    acct = Acct(cash=1000.0)
    rules = Rules(kind="perps", fee_rate=0.00045, direction="both", leverage=5, sizing_leverage=2)
    (t,), _ = book.apply_signal(acct, rules, "BTC", -1, 100.0, "t0")
    assert t.side == "sell" and math.isclose(t.value, 2000.0)  # cash * sizing_leverage
    assert math.isclose(t.fee, 2000.0 * 0.00045) and math.isclose(acct.cash, 1000.0 - t.fee)
    pos = acct.positions["BTC"]
    assert pos.side == "short" and math.isclose(pos.margin, 400.0) and pos.leverage == 5
    assert math.isclose(pos.unrealized_pnl(90.0), 200.0)
    trades, _ = book.apply_signal(acct, rules, "BTC", 1, 90.0, "t1")  # flip: close, open long
    close, reopen = trades
    assert close.is_close and math.isclose(close.realized_pnl, 200.0)
    assert reopen.side == "buy" and acct.positions["BTC"].side == "long"
    margin_rules = Rules(kind="perps", fee_rate=0.0, leverage=4, margin_per_trade_usd=50)
    acct = Acct(cash=1000.0)
    (t,), _ = book.apply_signal(acct, margin_rules, "BTC", 1, 100.0, "t0")
    assert math.isclose(t.value, 200.0)  # min(50, cash) * leverage


def test_direction_long_never_shorts_and_invert_flips_entries():
    acct = Acct()
    rules = Rules(kind="perps", direction="long")
    assert book.apply_signal(acct, rules, "BTC", -1, 100.0, "t")[0] == []
    inverted = Rules(kind="perps", direction="short", invert_signal=True)
    (t,), _ = book.apply_signal(acct, inverted, "BTC", 1, 100.0, "t")  # +1 inverted: short
    assert t.side == "sell" and acct.positions["BTC"].side == "short"
    # a composed close (close evaluators) is never inverted
    (c,), _ = book.apply_signal(
        acct, inverted, "BTC", 1, 100.0, "t", composed=True, close_fraction=0.5
    )
    assert c.is_close and math.isclose(acct.positions["BTC"].quantity, t.quantity / 2)


def test_futures_whole_contracts_cap_and_partial_rounding():
    acct = Acct(cash=50_000.0)
    rules = Rules(
        kind="futures", direction="both", contract=CONTRACT_SPECS["ES"], fee_per_contract=2.5
    )
    (t,), _ = book.apply_signal(acct, rules, "ES", 1, 5000.0, "t")
    assert t.quantity == 3 and t.fee == 7.5  # floor(50000 / 15400)
    capped = Rules(kind="futures", contract=CONTRACT_SPECS["ES"], max_contracts=1)
    other = Acct(cash=50_000.0)
    (c,), _ = book.apply_signal(other, capped, "ES", 1, 5000.0, "t")
    assert c.quantity == 1
    trades, _ = book.apply_signal(
        acct, rules, "ES", -1, 5010.0, "t", composed=True, close_fraction=0.5
    )
    assert trades[0].quantity == 1 and acct.positions["ES"].quantity == 2  # floor(1.5)
    assert math.isclose(trades[0].realized_pnl, 1 * 50 * 10.0)
    assert book.apply_signal(Acct(cash=100.0), rules, "ES", 1, 5000.0, "t")[0] == []


def _open(rules: Rules, price: float = 100.0, atr: float = 2.0) -> tuple[Acct, Position]:
    acct = Acct()
    book.apply_signal(acct, rules, "BTC", 1, price, "t0", entry_atr=atr)
    return acct, acct.positions["BTC"]


def test_tiered_tp_atr_closes_half_at_one_atr_and_the_rest_at_two():
    tiers = ((1.0, 0.5), (2.0, 1.0))
    rules = Rules(kind="perps", fee_rate=0.0, protection=Protection(tp_atr_tiers=tiers))
    acct, pos = _open(rules)
    qty = pos.quantity
    assert book.protect(acct, rules, "BTC", 101.9, "t1") == []
    (half,) = book.protect(acct, rules, "BTC", 102.5, "t2")
    assert half.price == 102.0 and math.isclose(half.quantity, qty / 2)
    assert book.protect(acct, rules, "BTC", 103.0, "t3") == []  # tier 1 is done
    (rest,) = book.protect(acct, rules, "BTC", 104.2, "t4")
    assert rest.price == 104.0 and math.isclose(rest.quantity, qty / 2) and not acct.positions


def test_a_gap_through_both_tiers_books_each_at_its_own_price():
    rules = Rules(
        kind="perps", fee_rate=0.0, protection=Protection(tp_atr_tiers=((1, 0.5), (2, 1)))
    )
    acct, _ = _open(rules)
    hits = book.protect(acct, rules, "BTC", 110.0, "t1")
    assert [t.price for t in hits] == [102.0, 104.0] and not acct.positions


def test_atr_stop_closes_at_the_worse_of_its_trigger_and_the_mark():
    rules = Rules(kind="perps", fee_rate=0.0, protection=Protection(stop_loss_atr_mult=1.5))
    acct, pos = _open(rules)
    assert pos.guard.stop == 97.0 and pos.guard.stop_kind == "stop_loss"
    assert book.protect(acct, rules, "BTC", 97.5, "t1") == []
    (t,) = book.protect(acct, rules, "BTC", 95.0, "t2")  # the mark gapped through the stop
    assert t.price == 95.0 and t.reason == "stop_loss" and not acct.positions
    acct, _ = _open(rules)
    (t,) = book.protect(acct, rules, "BTC", 97.0, "t2")  # a mark at the trigger fills there
    assert t.price == 97.0


def test_trailing_stop_follows_the_high_and_fires_once():
    rules = Rules(
        kind="perps",
        fee_rate=0.0,
        protection=Protection(trailing_stop_pct=5.0, trailing_stop_min_move_pct=0.0),
    )
    acct, pos = _open(rules)
    assert math.isclose(pos.guard.stop, 95.0)
    for mark in (105.0, 110.0, 108.0):
        assert book.protect(acct, rules, "BTC", mark, "t") == []
    assert math.isclose(pos.guard.stop, 104.5) and pos.guard.best == 110.0
    (t,) = book.protect(acct, rules, "BTC", 104.0, "t")
    assert t.price == 104.0 and t.reason == "trailing_stop"  # the mark, past the 104.5 stop
    assert book.protect(acct, rules, "BTC", 90.0, "t") == []  # fired once: nothing left


def test_short_stops_and_targets_mirror():
    rules = Rules(
        kind="perps",
        fee_rate=0.0,
        direction="short",
        protection=Protection(stop_loss_pct=2.0),
    )
    acct = Acct()
    book.apply_signal(acct, rules, "BTC", -1, 100.0, "t0")
    assert acct.positions["BTC"].guard.stop == 102.0
    (t,) = book.protect(acct, rules, "BTC", 103.0, "t1")  # past the stop: fills at the mark
    assert t.price == 103.0 and t.side == "buy" and math.isclose(t.realized_pnl, -3.0 * t.quantity)


def test_a_larger_close_from_the_check_outranks_the_targets():
    rules = Rules(kind="perps", fee_rate=0.0, protection=Protection(tp_atr_tiers=((1, 0.5),)))
    acct, _ = _open(rules)
    assert book.protect(acct, rules, "BTC", 103.0, "t", outranked_by=1.0) == []
    assert acct.positions  # the caller books the check's full close instead


def test_funding_is_booked_per_hour_crossed_and_longs_pay_positive_rates():
    acct = Acct(cash=1000.0)
    rules = Rules(kind="perps", fee_rate=0.0)
    base = 1_700_000_000 - 1_700_000_000 % 3600 + 600  # ten minutes past an hour
    book.apply_signal(acct, rules, "BTC", 1, 100.0, "t0", now_s=base)
    assert book.accrue_funding(acct, rules, "BTC", 1e-4, 100.0, base + 1800, "t") is None
    t = book.accrue_funding(acct, rules, "BTC", 1e-4, 100.0, base + 3 * 3600, "t")
    assert t.trade_type == "funding" and math.isclose(t.realized_pnl, -10.0 * 100 * 1e-4 * 3)
    assert math.isclose(acct.cash, 1000.0 + t.realized_pnl) and t.net_pnl == t.realized_pnl


def test_entry_atr_above_half_the_price_is_refused():
    acct = Acct()
    rules = Rules(kind="perps", protection=Protection(stop_loss_atr_mult=1.0))
    _, action = book.apply_signal(acct, rules, "BTC", 1, 100.0, "t", entry_atr=60.0)
    pos = acct.positions["BTC"]
    assert pos.entry_atr == 0.0 and pos.guard.stop == 0.0 and "not armed" in action


# ------------------------------------------------------------------ margin model

HL20 = Rules(kind="perps", platform="hyperliquid", fee_rate=0.00045, leverage=20.0)


def _twenty_x(side: int = 1) -> tuple[Acct, Position]:
    acct = Acct(cash=1000.0)
    book.apply_signal(acct, replace(HL20, direction="both"), "BTC", side, 100.0, "t0")
    return acct, acct.positions["BTC"]


def test_a_20x_long_is_liquidated_when_equity_meets_maintenance():
    acct, pos = _twenty_x()
    cash = acct.cash  # 1000 less the open fee on $20,000
    trigger = margin.liquidation_price(acct, pos, HL20)
    assert trigger == pytest.approx((100 - cash / 200) / (1 - 1 / 80))  # BTC: 40x, maint 1.25%
    for mark in (99.0, 98.0, 97.0, 96.5):
        assert margin.liquidate(acct, HL20, {"BTC": mark}, "t") == []
        marks = {"BTC": mark}
        assert margin.equity(acct, marks) > margin.maintenance(acct, marks, HL20) > 0
    (t,) = margin.liquidate(acct, HL20, {"BTC": 96.0}, "t1")  # past the trigger (96.25)
    assert (t.reason, t.price, t.is_close) == ("liquidation", 96.0, True)  # worse of the two
    assert not acct.positions and acct.cash > 0
    assert math.isclose(acct.cash, cash + t.net_pnl) and acct.trade_count == 2


def test_inside_a_move_the_liquidation_fills_at_its_trigger():
    acct, pos = _twenty_x()
    trigger = margin.liquidation_price(acct, pos, HL20)
    # the first price seen was above the trigger (a bar's open): the fill is the trigger
    (t,) = margin.liquidate(acct, HL20, {"BTC": 95.5}, "t", seen={"BTC": 97.0})
    assert t.price == pytest.approx(trigger)


def test_a_gap_past_the_bankruptcy_price_never_leaves_negative_cash():
    acct, _ = _twenty_x()
    (t,) = margin.liquidate(acct, HL20, {"BTC": 90.0}, "t")
    assert acct.cash == pytest.approx(0.0, abs=1e-9) and acct.cash >= 0
    assert 90.0 < t.price < 96.0 and "insurance fund" in t.details  # the bankruptcy price
    assert math.isclose(t.realized_pnl, 200 * (t.price - 100.0), rel_tol=1e-9)


def test_a_20x_short_mirrors():
    acct, pos = _twenty_x(side=-1)
    trigger = margin.liquidation_price(acct, pos, HL20)
    assert trigger == pytest.approx((100 + acct.cash / 200) / (1 + 1 / 80))
    assert margin.liquidate(acct, HL20, {"BTC": trigger - 0.01}, "t") == []
    (t,) = margin.liquidate(acct, HL20, {"BTC": 104.0}, "t")
    assert (t.side, t.price, t.reason) == ("buy", 104.0, "liquidation") and acct.cash > 0


def test_futures_keep_the_maintenance_margin_per_contract():
    rules = replace(ES, fee_per_contract=0.0)
    acct = Acct(cash=16_000.0)
    book.apply_signal(acct, rules, "ES", 1, 5000.0, "t")  # one contract (margin 15,400)
    pos = acct.positions["ES"]
    # maintenance 14,000 (initial / 1.1): 16,000 + 50 (P - 5000) == 14,000 at P = 4960
    assert margin.liquidation_price(acct, pos, rules) == pytest.approx(4960.0)
    assert margin.liquidate(acct, rules, {"ES": 4961.0}, "t") == []
    (t,) = margin.liquidate(acct, rules, {"ES": 4950.0}, "t")
    assert t.price == 4950.0 and acct.cash == pytest.approx(13_500.0)


def test_spot_is_never_liquidated_and_a_missing_mark_defers():
    acct = Acct(cash=1000.0)
    spot = Rules(kind="spot", fee_rate=0.0)
    book.apply_signal(acct, spot, "BTC", 1, 100.0, "t")
    assert margin.liquidation_price(acct, acct.positions["BTC"], spot) == 0.0
    assert margin.liquidate(acct, spot, {"BTC": 1.0}, "t") == []
    acct, _ = _twenty_x()
    assert margin.liquidate(acct, HL20, {}, "t") == [] and acct.positions


def test_the_venues_liquidation_fee_is_charged_on_top():
    row = replace(instrument("hyperliquid", "BTC", "perps"), liquidation_fee=0.001)
    rules = replace(HL20, instrument=row)
    acct = Acct(cash=1000.0)
    book.apply_signal(acct, rules, "BTC", 1, 100.0, "t0")
    cash = acct.cash
    (t,) = margin.liquidate(acct, rules, {"BTC": 96.0}, "t")
    assert t.price == 96.0 and t.fee == pytest.approx(200 * 96.0 * (0.00045 + 0.001))
    assert math.isclose(acct.cash, cash + t.net_pnl) and acct.cash >= 0


path = st.lists(
    st.tuples(
        st.sampled_from([-1, 0, 0, 1]),
        st.floats(min_value=-0.25, max_value=0.25),  # log move of the price this step
        st.floats(min_value=-1e-3, max_value=1e-3),  # hourly funding rate
    ),
    min_size=1,
    max_size=40,
)


@settings(max_examples=200, deadline=None)
@given(steps=path, kind=st.sampled_from(["spot", "perps", "futures"]), lev=st.integers(1, 50))
def test_value_adds_up_and_equity_never_goes_negative(steps, kind, lev):
    from supervisor.state.models import StrategyState

    rules = {
        "spot": Rules(kind="spot", platform="binanceus", fee_rate=0.001),
        "perps": replace(HL20, leverage=float(lev), direction="both"),
        "futures": replace(ES, contract=CONTRACT_SPECS["MES"], fee_per_contract=0.5),
    }[kind]
    capital = 20_000.0 if kind == "futures" else 1000.0
    acct = StrategyState(
        id="p", type=kind, platform=rules.platform, cash=capital, initial_capital=capital
    )
    price = 5000.0 if kind == "futures" else 100.0
    trades = []
    for i, (sig, move, rate) in enumerate(steps):
        price *= math.exp(move)
        now_s = 1_700_000_000 + i * 3600
        # the price arrives: liquidation first (as the backtester at a bar's open), then the
        # signal, then funding, and the margin model again on what they left
        made = margin.liquidate(acct, rules, {"X": price}, f"t{i}")
        made += book.apply_signal(acct, rules, "X", sig, price, f"t{i}", now_s=now_s)[0]
        funded = book.accrue_funding(acct, rules, "X", rate, price, now_s, f"t{i}")
        made += [funded] if funded else []
        made += margin.liquidate(acct, rules, {"X": price}, f"t{i}")
        trades += made
        marks = {"X": price}
        held = sum(p.value(price) for p in acct.positions.values())
        assert math.isclose(acct.cash + held, acct.value(marks), rel_tol=1e-12, abs_tol=1e-9)
        assert math.isclose(margin.equity(acct, marks), acct.value(marks), abs_tol=1e-9)
        # every row's net P&L explains the cash (spot: with the cost of what it holds)
        basis = sum(p.cost_basis for p in acct.positions.values() if p.kind == "spot")
        ledger = capital + sum(t.net_pnl for t in trades)
        scale = capital + sum(abs(t.value) for t in trades)
        assert math.isclose(acct.cash + basis, ledger, rel_tol=1e-9, abs_tol=1e-9 * scale)
        assert margin.equity(acct, marks) >= -1e-9 and acct.cash >= 0
