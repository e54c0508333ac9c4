"""The instrument table (shared_tools/book/instruments.py), the funding function and the
minimums the paper book now takes from it."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import pytest

from shared_tools import book
from shared_tools.book import Position, Rules
from shared_tools.book.funding import funding_due
from shared_tools.book.instruments import from_ccxt_market, from_hl_asset, instrument
from shared_tools.config.model import StrategyConfig, StrategyRef


@dataclass
class Acct:
    id: str = "t"
    cash: float = 1000.0
    positions: dict[str, Position] = field(default_factory=dict)
    trade_count: int = 0


QTY, PRICE = 0.123456789, 97123.456789

# venue, symbol, kind, quantity on the lot, price on the tick, a too-small order, its reason
ROWS = [
    ("binanceus", "BTC/USDT", "spot", 0.12345, 97123.46, (0.0001, 50_000.0), "$10.00"),
    ("hyperliquid", "BTC", "perps", 0.12345, 97123.0, (0.00015, 50_000.0), "$10.00"),
    ("hyperliquid", "SOL", "perps", 0.12, 97123.0, (0.05, 150.0), "$10.00"),
    ("hyperliquid", "BTC", "spot", 0.12345, 97123.0, (0.0001, 50_000.0), "$10.00"),
    ("okx", "BTC/USDT", "spot", 0.12345678, 97123.5, (0.000005, 50_000.0), "1e-05"),
    ("okx", "BTC", "perps", 0.1234, 97123.5, (0.00005, 50_000.0), "0.0001"),
    ("okx-swap", "ETH-USDT-SWAP", "perps", 0.123, 97123.46, (0.0005, 3_000.0), "0.001"),
    ("topstep", "ES", "futures", 0.0, 97123.5, (0.5, 5_000.0), "(1)"),
    ("topstep", "NQ", "futures", 0.0, 97123.5, (0.5, 20_000.0), "(1)"),
    ("topstep", "MES", "futures", 0.0, 97123.5, (0.5, 5_000.0), "(1)"),
    ("topstep", "MNQ", "futures", 0.0, 97123.5, (0.5, 20_000.0), "(1)"),
    ("topstep", "CL", "futures", 0.0, 97123.46, (0.5, 70.0), "(1)"),
    ("topstep", "GC", "futures", 0.0, 97123.5, (0.5, 2_000.0), "(1)"),
    ("ibkr", "MBT", "futures", 0.0, 97125.0, (0.5, 97_000.0), "(1)"),
    ("ibkr", "AAPL", "spot", 0.0, 97123.46, (0.5, 200.0), "(1)"),
    ("robinhood", "BTC-USD", "spot", 0.12345678, 97123.46, (0.00001, 50_000.0), "$1.00"),
    ("luno", "XBT/ZAR", "spot", 0.123456, 97123.0, (0.0001, 1_500_000.0), "0.0005"),
    ("deribit", "BTC", "perps", 0.1234, 97123.5, (0.0001, 50_000.0), "$10.00"),
]


@pytest.mark.parametrize(("venue", "symbol", "kind", "qty", "price", "small", "minimum"), ROWS)
def test_every_venue_rounds_to_its_lot_and_tick_and_refuses_small_orders(
    venue, symbol, kind, qty, price, small, minimum
):
    row = instrument(venue, symbol, kind)
    assert row.round_qty(QTY) == qty
    assert row.round_price(PRICE) == price
    why = row.order_refusal(*small)
    assert why.startswith(f"{row.venue} {symbol}: ") and minimum in why and "\n" not in why
    assert row.order_refusal(row.round_qty(1.0), row.round_price(PRICE)) == ""


def test_rounding_is_robust_to_float_noise():
    row = instrument("okx", "BTC", "perps")  # lot 0.0001
    assert row.round_qty(0.3) == 0.3 and row.round_qty(0.0003) == 0.0003
    assert instrument("hyperliquid", "DOGE", "perps").round_qty(0.123456789) == 0.123  # sz 3
    assert instrument("topstep", "ES", "futures").round_qty(2.9999999999) == 3.0
    assert instrument("binanceus", "BTC", "spot").round_qty(float("nan")) == 0.0
    assert instrument("binanceus", "BTC", "spot").round_price(0.0) == 0.0


def test_hyperliquid_prices_keep_five_significant_figures_and_the_decimal_cap():
    eth = from_hl_asset({"name": "ETH", "szDecimals": 4, "maxLeverage": 25})
    assert (eth.lot_size, eth.max_leverage, eth.maint_margin_rate) == (0.0001, 25.0, 0.02)
    assert eth.round_price(3456.789) == 3456.8  # five significant figures
    assert eth.round_price(1.23456789) == 1.23  # at most 6 - szDecimals decimals
    assert eth.round_price(123456.7) == 123457.0  # an integer price is always allowed
    assert eth.funding_interval_s == 3600 and eth.min_notional == 10.0
    why = from_hl_asset({"name": "BTC", "szDecimals": 5}).order_refusal(0.00015, 50_000.0)
    assert why == "hyperliquid BTC: order $7.50 below the venue minimum $10.00"


def test_venue_defaults_for_a_symbol_without_a_row():
    hl = instrument("hyperliquid", "NEWCOIN", "perps")
    assert hl.lot_size == 0.001 and hl.min_notional == 10.0  # upstream's szDecimals 3
    assert hl.maint_margin_rate == 1 / (2 * hl.max_leverage)
    assert instrument("binanceus", "PEPE/USDT", "spot").min_notional == 10.0
    okx = instrument("okx", "PEPE", "perps")
    assert okx.funding_interval_s == 8 * 3600 and okx.maint_margin_rate > 0
    unknown = instrument("nowhere", "X", "perps")
    assert unknown.funding_interval_s == 3600 and unknown.taker_fee == 0.0005
    es = instrument("topstep", "es", "futures")
    assert (es.multiplier, es.initial_margin) == (50.0, 15400.0)
    assert es.maint_margin == pytest.approx(14000.0)  # CME: initial = 110% of maintenance
    zz = instrument("topstep", "ZZ", "futures")
    assert zz.multiplier == 1.0 and zz.initial_margin == 0.0


def test_from_ccxt_market_reads_steps_minimums_and_contract_size():
    swap = {
        "symbol": "BTC/USDT:USDT",
        "swap": True,
        "contract": True,
        "contractSize": 0.01,
        "precision": {"amount": 0.01, "price": 0.1},
        "limits": {"amount": {"min": 0.01}, "cost": {"min": None}, "leverage": {"max": 100}},
    }
    row = from_ccxt_market("okx", swap)
    assert (row.kind, row.lot_size, row.min_qty, row.tick_size) == ("perps", 0.0001, 0.0001, 0.1)
    assert row.funding_interval_s == 8 * 3600 and row.max_leverage == 100.0
    assert row.round_qty(QTY) == 0.1234 and row.round_price(PRICE) == 97123.5
    spot = {
        "symbol": "BTC/USDT",
        "spot": True,
        "precision": {"amount": 1e-05, "price": 0.01},
        "limits": {"cost": {"min": 10.0}},
    }
    row = from_ccxt_market("binanceus", spot)
    assert (row.kind, row.lot_size, row.min_notional) == ("spot", 0.00001, 10.0)
    assert "below the venue minimum $10.00" in row.order_refusal(0.0001, 50_000.0)


def test_rules_take_the_instrument_or_look_it_up_per_symbol():
    assert Rules(kind="perps", platform="okx").instrument_of("ETH").funding_interval_s == 28800
    fixed = instrument("hyperliquid", "BTC", "perps")
    assert Rules(kind="perps", instrument=fixed).instrument_of("ETH") is fixed
    sc = StrategyConfig(
        id="hl-x",
        type="perps",
        platform="hyperliquid",
        script="x.py",
        args=["momentum", "BTC", "1h"],
        capital=1000.0,
        initial_capital=1000.0,
        max_drawdown_pct=10.0,
        interval_seconds=0,
        open_strategy=StrategyRef("momentum"),
        close_strategies=[],
    )
    assert sc.rules.instrument == instrument("hyperliquid", "BTC", "perps")


def test_a_perps_open_below_the_venue_minimum_is_refused():
    rules = Rules(kind="perps", platform="hyperliquid", fee_rate=0.0)
    acct = Acct(cash=3.0)  # 1x: a $3 order
    made, why = book.apply_signal(acct, rules, "BTC", 1, 50_000.0, "t")
    assert made == [] and not acct.positions and acct.cash == 3.0
    assert why == "skip long (hyperliquid BTC: order $3.00 below the venue minimum $10.00)"
    lev = Rules(kind="perps", platform="hyperliquid", fee_rate=0.0, leverage=5.0)
    (t,), _ = book.apply_signal(acct, lev, "BTC", 1, 50_000.0, "t")  # $15 at 5x is enough
    assert t.value == pytest.approx(15.0)


# ------------------------------------------------------------------ funding

BASE = 1_700_000_000 - 1_700_000_000 % 28800 + 600  # ten minutes past an 8-hour boundary


def test_funding_due_counts_the_boundaries_crossed():
    hour = 3600
    assert funding_due(1, 10.0, 100.0, 1e-4, BASE, BASE + 7 * hour, 8 * hour) == (0.0, 0)
    amount, periods = funding_due(1, 10.0, 100.0, 1e-4, BASE, BASE + 8 * hour, 8 * hour)
    assert periods == 1 and amount == pytest.approx(-10 * 100 * 1e-4 * 8)  # longs pay
    amount, periods = funding_due(-1, 10.0, 100.0, 1e-4, BASE, BASE + 3 * hour, hour)
    assert periods == 3 and amount == pytest.approx(10 * 100 * 1e-4 * 3)  # shorts receive
    assert funding_due(1, 10.0, 100.0, 1e-4, BASE, BASE - 1, hour) == (0.0, 0)


@pytest.mark.parametrize(("platform", "held_h", "periods"), [("okx", 7, 0), ("okx", 8, 1)])
def test_the_book_funds_okx_every_8_hours(platform, held_h, periods):
    rules = Rules(kind="perps", platform=platform, fee_rate=0.0)
    acct = Acct()
    book.apply_signal(acct, rules, "BTC", 1, 100.0, "t0", now_s=BASE)
    t = book.accrue_funding(acct, rules, "BTC", 1e-4, 100.0, BASE + held_h * 3600, "t1")
    if periods == 0:
        assert t is None and acct.cash == 1000.0
        return
    assert t.realized_pnl == pytest.approx(-10.0 * 100.0 * 1e-4 * 8)  # 8x the hourly rate
    assert "1 x 8h" in t.details and math.isclose(acct.cash, 1000.0 + t.realized_pnl)


def test_the_book_funds_hyperliquid_every_hour():
    rules = Rules(kind="perps", platform="hyperliquid", fee_rate=0.0)
    acct = Acct()
    book.apply_signal(acct, rules, "BTC", 1, 100.0, "t0", now_s=BASE)
    t = book.accrue_funding(acct, rules, "BTC", 1e-4, 100.0, BASE + 7 * 3600, "t1")
    assert t.realized_pnl == pytest.approx(-10.0 * 100.0 * 1e-4 * 7) and "7 x 1h" in t.details


# ------------------------------------------------------------------ close_all


def test_close_all_never_invents_a_price():
    rules = Rules(kind="perps", platform="hyperliquid", fee_rate=0.0, direction="both")
    acct = Acct(cash=2000.0)
    book.apply_signal(acct, rules, "BTC", 1, 100.0, "t0")
    acct.cash = 2000.0
    book.apply_signal(acct, rules, "ETH", -1, 50.0, "t0")
    made = book.close_all(acct, rules, {"BTC": 110.0, "ETH": float("nan")}, "t1", "kill_switch")
    assert [(t.symbol, t.price, t.reason) for t in made] == [("BTC", 110.0, "kill_switch")]
    assert list(acct.positions) == ["ETH"]  # no mark: left open for the next cycle
    assert book.close_all(acct, rules, {}, "t2", "kill_switch") == [] and "ETH" in acct.positions
