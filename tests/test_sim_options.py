"""The simulated market's options: calendars per venue, strike grids, the smile, settlement."""

from __future__ import annotations

import math
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from platforms.options_chains import chain_for
from shared_tools import pricing
from shared_tools.market import sim_model, sim_options

NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)  # a Monday; CME/US daylight saving starts 8 March


def _days(venue: str) -> set[date]:
    return {t.date() for t in sim_options.expiry_instants(venue, NOW)}


def test_deribit_and_okx_calendar_dailies_weeklies_monthlies_quarterlies_at_0800():
    for venue in ("deribit", "okx"):
        instants = sim_options.expiry_instants(venue, NOW)
        assert all((t.hour, t.minute, t.tzinfo) == (8, 0, UTC) for t in instants)
        days = _days(venue)
        assert {date(2026, 3, 3), date(2026, 3, 4), date(2026, 3, 5)} <= days  # dailies
        assert date(2026, 3, 2) not in days  # today's 08:00 has passed
        assert {date(2026, 3, d) for d in (6, 13, 20, 27)} <= days  # Friday weeklies
        assert {date(2026, 4, 24), date(2026, 5, 29)} <= days  # last-Friday monthlies
        assert {date(2026, 6, 26), date(2026, 9, 25), date(2026, 12, 25)} <= days  # quarterlies
        assert instants == sorted(instants) and instants[0] > NOW


def test_cme_calendar_weeklies_and_monthlies_at_the_chicago_close_with_dst():
    instants = {t.date(): t for t in sim_options.expiry_instants("ibkr", NOW)}
    assert set(instants) == {
        date(2026, 3, 6),
        date(2026, 3, 13),
        date(2026, 3, 20),
        date(2026, 3, 27),
        date(2026, 4, 24),
        date(2026, 5, 29),
        date(2026, 6, 26),  # this month's and 3 more
    }
    assert instants[date(2026, 3, 6)] == datetime(2026, 3, 6, 22, tzinfo=UTC)  # CST
    assert instants[date(2026, 3, 13)] == datetime(2026, 3, 13, 21, tzinfo=UTC)  # CDT


def test_robinhood_calendar_weeklies_and_third_friday_monthlies_at_the_new_york_close():
    instants = {t.date(): t for t in sim_options.expiry_instants("robinhood", NOW)}
    assert {date(2026, 3, 6) + (date(2026, 3, 13) - date(2026, 3, 6)) * i for i in range(8)} <= set(
        instants
    )
    assert {date(2026, 4, 17), date(2026, 5, 15), date(2026, 6, 19), date(2026, 9, 18)} <= set(
        instants
    )
    assert instants[date(2026, 3, 6)] == datetime(2026, 3, 6, 21, tzinfo=UTC)  # EST close
    assert instants[date(2026, 3, 20)] == datetime(2026, 3, 20, 20, tzinfo=UTC)  # EDT close
    assert all(t.weekday() == 4 for t in instants)


@pytest.mark.parametrize(
    ("venue", "underlying", "spot", "step"),
    [
        ("deribit", "BTC", 66000, 1000),
        ("deribit", "ETH", 3400, 50),
        ("okx", "BTC", 66000, 1000),
        ("ibkr", "BTC", 66000, 1000),
        ("ibkr", "BTC", 45000, 500),
        ("ibkr", "ETH", 3400, 50),
        ("ibkr", "ETH", 900, 25),
        ("robinhood", "SPY", 520, 10),
        ("robinhood", "QQQ", 450, 5),
        ("robinhood", "F", 12, 1),
    ],
)
def test_strike_steps_per_venue(venue, underlying, spot, step):
    assert sim_options.strike_step(venue, underlying, spot) == step


def test_listing_is_stable_between_cycles_and_spans_the_spot():
    a = sim_options.listing("deribit", "BTC", NOW, 42)
    b = sim_options.listing("deribit", "BTC", datetime(2026, 3, 2, 16, 0, tzinfo=UTC), 42)
    assert [(x.expiry, x.strikes) for x in a] == [(x.expiry, x.strikes) for x in b]
    spot = sim_model.price("BTC", NOW.timestamp(), 42)
    for item in a:
        assert min(item.strikes) < spot * 0.7 and max(item.strikes) > spot * 1.3
        assert all(k % 1000 == 0 for k in item.strikes)


def test_simulated_chain_is_deterministic_and_seeded(monkeypatch):
    def quotes() -> list[float]:
        chain = chain_for("deribit", source="simulated", now=NOW)
        expiry, _ = chain.real_expiry("BTC", 30)
        k = chain.real_strike("BTC", expiry, "call", chain.spot("BTC") * 1.05)
        return [chain.quote("BTC", kind, k, expiry).premium_usd for kind in ("call", "put")]

    monkeypatch.setenv("GO_TRADER_SIM_SEED", "7")
    first, again = quotes(), quotes()
    monkeypatch.setenv("GO_TRADER_SIM_SEED", "8")
    assert first == again and quotes() != first


@settings(max_examples=60, deadline=None)
@given(
    moneyness=st.floats(0.5, 1.6),
    dte=st.floats(0.05, 300.0),
    atm=st.floats(0.1, 1.5),
    underlying=st.sampled_from(["BTC", "ETH", "SPY"]),
)
def test_put_call_parity_at_one_strike_to_1e9(moneyness, dte, atm, underlying):
    spot = 1000.0
    strike = spot * moneyness
    call, _, v_call = sim_options.sim_quote(underlying, "call", strike, spot, dte, atm)
    put, _, v_put = sim_options.sim_quote(underlying, "put", strike, spot, dte, atm)
    assert v_call == v_put
    forward_gap = spot - strike * math.exp(-pricing.RISK_FREE_RATE * dte / 365.0)
    assert call - put == pytest.approx(forward_gap, abs=1e-9 * spot)


def test_smile_shape_skewed_convex_and_bounded():
    spot, dte, atm = 100.0, 30.0, 0.6
    vols = {k: sim_options.smile_vol(atm, spot, k, dte, equity=False) for k in range(60, 161, 5)}
    assert sim_options.smile_vol(atm, spot, spot, dte, equity=False) == atm
    assert vols[80] > vols[100] > vols[110]  # puts richer than near calls (skew)
    keys = sorted(vols)
    logk = [math.log(k / spot) for k in keys]
    slopes = [
        (vols[b] - vols[a]) / (lb - la)
        for a, b, la, lb in zip(keys, keys[1:], logk, logk[1:], strict=False)
    ]
    assert all(
        s2 >= s1 - 1e-12 for s1, s2 in zip(slopes, slopes[1:], strict=False)
    )  # convex in log-moneyness
    assert all(0.5 * atm <= v <= 3 * atm for v in vols.values())
    eq = sim_options.smile_vol(atm, spot, 90, dte, equity=True)
    assert eq > sim_options.smile_vol(atm, spot, 90, dte, equity=False)  # equity skew is steeper


def test_atm_vol_from_realized_vol_and_history_ends_today():
    vol = sim_options.atm_vol("BTC", NOW, 42)
    closes = sim_options.daily_closes("BTC", NOW, sim_options.RV_WINDOW + 1, 42)
    rv = sim_options.realized_vol(closes, sim_options.RV_WINDOW)
    assert rv * 1.0 - 1e-12 <= vol <= rv * 1.2 + 1e-12
    hist = sim_options.implied_vol_history("BTC", NOW, 10, 42)
    assert len(hist) == 10 and hist[-1] == pytest.approx(vol, rel=1e-12)
    chain = chain_for("okx", source="simulated", now=NOW)
    assert chain.implied_vol_history("BTC", 10) == hist


def test_simulated_settlement_is_the_price_at_the_expiry_instant():
    chain = chain_for("deribit", source="simulated", now=datetime(2026, 3, 6, 7, 59, tzinfo=UTC))
    assert chain.settlement_price("BTC", "2026-03-06") is None
    later = chain_for("deribit", source="simulated", now=datetime(2026, 3, 9, tzinfo=UTC))
    want = sim_model.price(
        "BTC", datetime(2026, 3, 6, 8, tzinfo=UTC).timestamp(), sim_model.seed_from_env()
    )
    assert later.settlement_price("BTC", "2026-03-06") == want


def test_simulated_daily_closes_match_the_market_door():
    from shared_tools import market

    closes = chain_for("deribit", source="simulated", now=NOW).daily_closes("BTC", 5)
    frame = market.fetch_ohlcv("BTC/USDT", "1d", 5, source="simulated", now=NOW)
    assert closes == pytest.approx(frame["close"].tolist(), rel=1e-9)


@pytest.mark.parametrize(
    ("venue", "underlying", "multiplier"),
    [
        ("deribit", "BTC", 1.0),
        ("okx", "ETH", 0.1),
        ("ibkr", "BTC", 0.1),
        ("ibkr", "ETH", 0.5),
        ("robinhood", "SPY", 100.0),
    ],
)
def test_simulated_venues_quote_with_their_multiplier_and_expiry_time(
    venue, underlying, multiplier
):
    chain = chain_for(venue, source="simulated", now=NOW)
    spot = chain.spot(underlying)
    expiry, dte = chain.real_expiry(underlying, 21)
    strike = chain.real_strike(underlying, expiry, "put", spot * 0.95)
    q = chain.quote(underlying, "put", strike, expiry)
    assert q.multiplier == multiplier and q.source == "venue" and q.premium_usd > 0
    assert q.expires_at == sim_options.expiry_instant(venue, date.fromisoformat(expiry))
    assert math.floor(q.dte) == dte and q.greeks["delta"] < 0 and q.instrument
    if underlying == "SPY":
        assert 400 <= spot <= 650  # the simulated market serves equities


def test_simulated_instruments_are_named_like_deribit_lists_them():
    chain = chain_for("deribit", source="simulated", now=NOW)
    q = chain.quote("BTC", "call", 60000.0, "2026-03-06")
    assert q.instrument == "BTC-6MAR26-60000-C"  # the day unpadded, as Deribit lists it


def test_simulated_chains_import_no_venue_client(tmp_path):
    import subprocess
    import sys

    code = (
        "import sys\n"
        "from platforms.options_chains import chain_for\n"
        "for v in ('deribit', 'ibkr', 'okx', 'robinhood'):\n"
        "    c = chain_for(v, source='simulated')\n"
        "    u = 'SPY' if v == 'robinhood' else 'BTC'\n"
        "    e, _ = c.real_expiry(u, 30)\n"
        "    c.quote(u, 'call', c.real_strike(u, e, 'call', c.spot(u)), e)\n"
        "bad = [m for m in ('ib_async', 'ccxt', 'requests', 'pandas') if m in sys.modules]\n"
        "assert not bad, bad\n"
    )
    env = {**__import__("os").environ, "GO_TRADER_NOW": "2026-03-02T12:00:00Z"}
    proc = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        cwd=Path(__file__).resolve().parent.parent,
    )
    assert proc.returncode == 0, proc.stderr
