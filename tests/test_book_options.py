"""The options book (shared_tools/book/options.py): premium once, fees, multipliers, expiry."""

from __future__ import annotations

import random

import pytest

from shared_tools.book.options import (
    OPTION_VENUES,
    OptionsAccount,
    OptionsBook,
    intrinsic_value,
    option_venue,
)

NOW = "2025-01-01T00:00:00Z"
EXPIRY = "2025-01-31"


def one_leg(book: OptionsBook, acct: OptionsAccount, side: str, kind: str, strike: float, **kw):
    trade, msg = book.open(
        acct,
        kw.get("underlying", "BTC"),
        kind,
        strike,
        EXPIRY,
        side,
        kw.get("qty", 1.0),
        kw.get("premium", 1000.0),
        NOW,
    )
    assert trade is not None, msg
    return trade, acct.legs[trade.position_id]


def test_short_premium_is_counted_once_through_otm_expiry():
    """Upstream's bug case: sell a call for $1000, it expires worthless. Gain: $1000 - fee."""
    book = OptionsBook("deribit")
    acct = OptionsAccount("s", 10_000.0)
    open_row, leg = one_leg(book, acct, "short", "call", 110_000, premium=1000.0)
    fee = 1000.0 * 0.0003
    assert open_row.fee == pytest.approx(fee)
    assert acct.cash == pytest.approx(10_000 + 1000 - fee)
    assert acct.value == pytest.approx(10_000 - fee)  # the sold option is a $1000 liability
    rows = book.settle_expired(acct, "BTC", EXPIRY, spot=100_000.0)
    assert [r.reason for r in rows] == ["expiry_otm"]
    assert rows[0].realized_pnl == pytest.approx(1000.0) and rows[0].fee == 0.0
    assert acct.legs == {}
    # premium once: 11_000 - fee, not upstream's 12_000 - fee
    assert acct.cash == pytest.approx(11_000 - fee)
    assert acct.value == pytest.approx(acct.cash)


def test_short_itm_settles_at_intrinsic():
    book = OptionsBook("deribit")
    acct = OptionsAccount("s", 10_000.0)
    one_leg(book, acct, "short", "put", 90_000, premium=800.0)
    (row,) = book.settle_expired(acct, "BTC", EXPIRY, spot=87_000.0)
    assert row.reason == "expiry_itm" and row.price == 3000.0
    assert row.realized_pnl == pytest.approx(800.0 - 3000.0)
    assert acct.cash == pytest.approx(10_000 + 800 - 0.24 - 3000)


def test_long_itm_and_otm_settlement():
    book = OptionsBook("deribit")
    acct = OptionsAccount("s", 10_000.0)
    one_leg(book, acct, "long", "call", 100_000, premium=2000.0)
    one_leg(book, acct, "long", "put", 100_000, premium=1500.0)
    fees = 3500 * 0.0003
    assert acct.cash == pytest.approx(10_000 - 3500 - fees)
    rows = {r.symbol[-1]: r for r in book.settle_expired(acct, "BTC", "2025-02-01", 104_000.0)}
    assert rows["C"].reason == "expiry_itm" and rows["C"].realized_pnl == pytest.approx(2000)
    assert rows["P"].reason == "expiry_otm" and rows["P"].realized_pnl == pytest.approx(-1500)
    assert acct.cash == pytest.approx(10_000 - 3500 - fees + 4000)


def test_settle_expired_leaves_later_expiries_and_other_underlyings():
    book = OptionsBook("deribit")
    acct = OptionsAccount("s", 10_000.0)
    one_leg(book, acct, "long", "call", 100_000)
    one_leg(book, acct, "long", "call", 3_000, underlying="ETH", premium=50.0)
    assert book.settle_expired(acct, "BTC", "2025-01-30", 120_000.0) == []
    assert len(book.settle_expired(acct, "BTC", EXPIRY, 120_000.0)) == 1
    assert [leg.underlying for leg in acct.legs.values()] == ["ETH"]


def test_accounting_identity_under_random_trading():
    """cash + marked legs == value == capital + realized - fees + unrealized, at every step."""
    rng = random.Random(7)
    for venue in OPTION_VENUES:
        book = OptionsBook(venue)
        acct = OptionsAccount("s", 50_000.0)
        realized = fees = 0.0
        for step in range(300):
            action = rng.random()
            if action < 0.35 or not acct.legs:
                row, _ = book.open(
                    acct,
                    rng.choice(["BTC", "ETH"]),
                    rng.choice(["call", "put"]),
                    rng.choice([1000, 2000, 3000]),
                    EXPIRY,
                    rng.choice(["long", "short"]),
                    float(rng.randint(1, 5)),
                    rng.uniform(1, 300),
                    f"t{step}",
                )
            elif action < 0.6:
                leg_id = rng.choice(list(acct.legs))
                book.mark(acct, leg_id, rng.uniform(0, 400))
                row = None
            elif action < 0.85:
                leg_id = rng.choice(list(acct.legs))
                fraction = rng.choice([0.5, 1.0])
                row, _ = book.close(acct, leg_id, rng.uniform(0, 400), f"t{step}", fraction)
            else:
                leg_id = rng.choice(list(acct.legs))
                row, _ = book.settle(acct, leg_id, rng.uniform(500, 3500), f"t{step}")
            if row is not None:
                realized += row.realized_pnl
                fees += row.fee
            marked = sum(leg.value() for leg in acct.legs.values())
            assert acct.value == pytest.approx(acct.cash + marked)
            assert acct.value == pytest.approx(
                50_000 + realized - fees + acct.unrealized_pnl, abs=1e-6
            )


def test_sum_of_leg_pnl_equals_realized():
    book = OptionsBook("ibkr")
    acct = OptionsAccount("s", 20_000.0)
    rows = []
    row, leg = one_leg(book, acct, "short", "call", 110_000, qty=4, premium=900.0)
    rows.append(row)
    rows.append(book.close(acct, leg.leg_id, 300.0, NOW, 0.5, "profit_target")[0])
    rows.append(book.settle(acct, leg.leg_id, 112_000.0, NOW)[0])
    row, leg = one_leg(book, acct, "long", "put", 90_000, qty=2, premium=700.0)
    rows.append(row)
    rows.append(book.close(acct, leg.leg_id, 1100.0, NOW)[0])
    per_leg: dict[str, float] = {}
    for r in rows:
        per_leg[r.position_id] = per_leg.get(r.position_id, 0.0) + r.net_pnl
    assert acct.legs == {}
    assert sum(per_leg.values()) == pytest.approx(acct.cash - 20_000)
    # leg 1: 4 MBT (0.1 BTC) sold at 900: +2*0.1*600 on the buy-back, 2*0.1*(900-2000) at expiry
    first = next(iter(per_leg.values()))
    assert first == pytest.approx(2 * 0.1 * 600 + 2 * 0.1 * (900 - 2000) - 0.25 * 6)


def test_fee_and_multiplier_tables():
    assert option_venue("Deribit").multiplier("BTC") == 1.0
    assert option_venue("ibkr").multiplier("BTC") == 0.1
    assert option_venue("cme").multiplier("eth") == 0.5
    assert option_venue("robinhood").multiplier("SPY") == 100.0
    with pytest.raises(KeyError, match="known: deribit"):
        option_venue("binance")


@pytest.mark.parametrize(
    "venue,underlying,qty,premium,cash_delta,fee",
    [
        ("deribit", "BTC", 0.5, 2000.0, -(0.5 * 2000) - 0.3, 0.5 * 2000 * 0.0003),
        (
            "okx",
            "ETH",
            3.0,
            40.0,
            -(3 * 0.1 * 40) - 0.0036,
            3 * 0.1 * 40 * 0.0003,
        ),  # 0.1 ETH/contract
        ("ibkr", "BTC", 2.0, 1500.0, -(2 * 0.1 * 1500) - 0.5, 0.5),
        ("ibkr", "ETH", 4.0, 100.0, -(4 * 0.5 * 100) - 1.0, 1.0),
        ("robinhood", "SPY", 3.0, 2.5, -(3 * 100 * 2.5) - 0.09, 0.09),
    ],
)
def test_buy_pays_premium_times_qty_times_multiplier_plus_fee(
    venue, underlying, qty, premium, cash_delta, fee
):
    book = OptionsBook(venue)
    acct = OptionsAccount("s", 10_000.0)
    row, _ = book.open(acct, underlying, "call", 100.0, EXPIRY, "long", qty, premium, NOW)
    assert row.fee == pytest.approx(fee)
    assert acct.cash - 10_000 == pytest.approx(cash_delta)
    # a sale receives the same premium, minus the same fee
    acct2 = OptionsAccount("s", 10_000.0)
    book.open(acct2, underlying, "call", 100.0, EXPIRY, "short", qty, premium, NOW)
    assert acct2.cash - 10_000 == pytest.approx(-cash_delta - 2 * fee)


def test_refusals_leave_the_account_untouched():
    book = OptionsBook("ibkr")
    acct = OptionsAccount("s", 1000.0)
    for args in [
        ("BTC", "call", 100.0, EXPIRY, "long", 1.5, 10.0),  # fractional contract on CME
        ("BTC", "call", 100.0, EXPIRY, "long", 1.0, float("nan")),
        ("BTC", "call", 0.0, EXPIRY, "long", 1.0, 10.0),
        ("BTC", "straddle", 100.0, EXPIRY, "long", 1.0, 10.0),
        ("BTC", "call", 100.0, EXPIRY, "flat", 1.0, 10.0),
    ]:
        row, msg = book.open(acct, *args, NOW)
        assert row is None and msg
    assert acct.cash == 1000.0 and acct.legs == {} and acct.trade_count == 0


def test_partial_close_on_whole_contract_venue_rounds_down():
    book = OptionsBook("ibkr")
    acct = OptionsAccount("s", 10_000.0)
    _, leg = one_leg(book, acct, "long", "call", 100_000, qty=3, premium=500.0)
    row, _ = book.close(acct, leg.leg_id, 600.0, NOW, 0.5)
    assert row.quantity == 1.0 and leg.quantity == 2.0
    row, msg = book.close(acct, leg.leg_id, 600.0, NOW, 0.1)
    assert row is None and "zero contracts" in msg


def test_mark_ignores_bad_prices_and_intrinsic_helper():
    book = OptionsBook("deribit")
    acct = OptionsAccount("s", 10_000.0)
    _, leg = one_leg(book, acct, "long", "call", 100_000, premium=500.0)
    book.mark(acct, leg.leg_id, float("nan"))
    book.mark(acct, leg.leg_id, -1.0)
    assert leg.mark == 500.0
    book.mark(acct, leg.leg_id, 700.0)
    assert leg.unrealized_pnl() == pytest.approx(200.0)
    assert leg.dte("2025-01-01") == 30.0
    assert intrinsic_value("call", 100, 130) == 30 and intrinsic_value("put", 100, 130) == 0
