"""Perps and futures in the paper book: identities, direction, sizing, stops, targets, funding."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from hypothesis import given, settings
from hypothesis import strategies as st

from shared_tools import book
from shared_tools.book import Position, Protection, Rules
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


def test_atr_stop_closes_at_its_trigger_price():
    rules = Rules(kind="perps", fee_rate=0.0, protection=Protection(stop_loss_atr_mult=1.5))
    acct, pos = _open(rules)
    assert pos.guard.stop == 97.0 and pos.guard.stop_kind == "stop_loss"
    assert book.protect(acct, rules, "BTC", 97.5, "t1") == []
    (t,) = book.protect(acct, rules, "BTC", 95.0, "t2")
    assert t.price == 97.0 and t.reason == "stop_loss" and not acct.positions


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
    assert math.isclose(t.price, 104.5) and t.reason == "trailing_stop"
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
    (t,) = book.protect(acct, rules, "BTC", 103.0, "t1")
    assert t.price == 102.0 and t.side == "buy" and math.isclose(t.realized_pnl, -2.0 * t.quantity)


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
