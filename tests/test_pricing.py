"""Black-Scholes pricing (shared_tools/pricing.py): parity, textbook values, greeks, IV."""

from __future__ import annotations

import math
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shared_tools import pricing
from shared_tools.pricing import bs_greeks, bs_price, bs_price_and_greeks, implied_volatility

REPO = Path(__file__).resolve().parent.parent
HALF_YEAR = 182.5  # days: T = 0.5 with T = dte / 365


def test_textbook_values_hull():
    # Hull, Options Futures and Other Derivatives, example 15.6: S=42, K=40, r=10%, vol=20%,
    # T=0.5 -> call 4.76, put 0.81.
    assert bs_price(42, 40, HALF_YEAR, 0.20, 0.10, "call") == pytest.approx(4.7594, abs=1e-3)
    assert bs_price(42, 40, HALF_YEAR, 0.20, 0.10, "put") == pytest.approx(0.8086, abs=1e-3)


def test_textbook_atm_one_year():
    # S=K=100, r=5%, vol=20%, T=1: call 10.4506, put 5.5735 (widely tabulated)
    assert bs_price(100, 100, 365, 0.20, 0.05, "call") == pytest.approx(10.4506, abs=1e-3)
    assert bs_price(100, 100, 365, 0.20, 0.05, "put") == pytest.approx(5.5735, abs=1e-3)


@settings(max_examples=200, deadline=None)
@given(
    spot=st.floats(1, 200_000),
    moneyness=st.floats(0.5, 2.0),
    dte=st.floats(0.5, 720),
    vol=st.floats(0.05, 3.0),
    r=st.floats(-0.01, 0.10),
)
def test_put_call_parity(spot, moneyness, dte, vol, r):
    strike = spot * moneyness
    t = dte / 365
    call = bs_price(spot, strike, dte, vol, r, "call")
    put = bs_price(spot, strike, dte, vol, r, "put")
    assert call - put == pytest.approx(spot - strike * math.exp(-r * t), abs=1e-7 * spot)


def test_put_delta_is_call_delta_minus_one():
    c = bs_greeks(50_000, 55_000, 30, 0.6, option_type="call", rounded=False)
    p = bs_greeks(50_000, 55_000, 30, 0.6, option_type="put", rounded=False)
    assert p["delta"] == pytest.approx(c["delta"] - 1.0, abs=1e-12)
    assert p["gamma"] == pytest.approx(c["gamma"])
    assert p["vega"] == pytest.approx(c["vega"])


@pytest.mark.parametrize("kind", ["call", "put"])
@pytest.mark.parametrize("spot,strike", [(100.0, 90.0), (100.0, 100.0), (60_000.0, 70_000.0)])
def test_greeks_match_finite_differences(kind, spot, strike):
    dte, vol, r = 30.0, 0.55, 0.05
    g = bs_greeks(spot, strike, dte, vol, r, kind, rounded=False)

    def price(s=spot, d=dte, v=vol):
        return bs_price(s, strike, d, v, r, kind)

    h = spot * 1e-4
    assert g["delta"] == pytest.approx((price(s=spot + h) - price(s=spot - h)) / (2 * h), rel=1e-5)
    gamma_fd = (price(s=spot + h) - 2 * price() + price(s=spot - h)) / (h * h)
    assert g["gamma"] == pytest.approx(gamma_fd, rel=1e-3)
    # theta per calendar day: value lost when one day passes (dte shrinks by one day)
    dd = 1e-3
    theta_fd = (price(d=dte - dd) - price(d=dte + dd)) / (2 * dd)
    assert g["theta"] == pytest.approx(theta_fd, rel=1e-5)
    # vega per vol point: value gained when vol rises by 0.01
    dv = 1e-5
    vega_fd = (price(v=vol + dv) - price(v=vol - dv)) / (2 * dv) / 100
    assert g["vega"] == pytest.approx(vega_fd, rel=1e-5)


def test_rounding_follows_upstream():
    exact = bs_greeks(60_000, 66_000, 30, 0.6, option_type="call", rounded=False)
    shown = bs_greeks(60_000, 66_000, 30, 0.6, option_type="call")
    assert shown == {
        "delta": round(exact["delta"], 4),
        "gamma": round(exact["gamma"], 6),
        "theta": round(exact["theta"], 2),
        "vega": round(exact["vega"], 2),
    }
    assert shown["theta"] < 0 < shown["vega"]


@pytest.mark.parametrize(
    "spot,strike,dte,vol",
    [
        (100, 90, 0, 0.5),  # expired
        (100, 90, -3, 0.5),  # past expiry
        (100, 90, 30, 0.0),  # no vol
        (100, 90, 30, float("nan")),
        (100, 90, float("inf"), 0.5),
    ],
)
def test_expired_or_bad_inputs_give_intrinsic_and_zero_greeks(spot, strike, dte, vol):
    call, cg = bs_price_and_greeks(spot, strike, dte, vol, option_type="call")
    put, pg = bs_price_and_greeks(spot, strike, dte, vol, option_type="put")
    assert call == 10.0 and put == 0.0
    assert cg == pg == {"delta": 0.0, "gamma": 0.0, "theta": 0.0, "vega": 0.0}


def test_bad_spot_is_worth_nothing_and_bad_type_is_refused():
    assert bs_price(float("nan"), 100, 30, 0.5) == 0.0
    assert bs_price(-5, 100, 30, 0.5, option_type="put") == 0.0
    with pytest.raises(ValueError, match="option_type"):
        bs_price(100, 100, 30, 0.5, option_type="straddle")


@pytest.mark.parametrize("kind", ["call", "put"])
@pytest.mark.parametrize("vol", [0.2, 0.45, 0.8, 2.5])
@pytest.mark.parametrize("moneyness", [0.8, 1.0, 1.2])
def test_implied_volatility_round_trip(kind, vol, moneyness):
    spot = 50_000.0
    strike = spot * moneyness
    price = bs_price(spot, strike, 30, vol, 0.05, kind)
    iv = implied_volatility(price, spot, strike, 30, 0.05, kind)
    assert iv == pytest.approx(vol, rel=1e-5)


def test_implied_volatility_without_a_root_is_none():
    assert implied_volatility(120.0, 100, 100, 30) is None  # a call is never worth more than S
    assert implied_volatility(0.0, 100, 100, 30) is None
    assert implied_volatility(float("nan"), 100, 100, 30) is None
    assert implied_volatility(5.0, 100, 100, 0) is None  # expired


def test_bisection_fallback_agrees():
    spot, strike, vol = 3_000.0, 3_300.0, 0.7
    price = bs_price(spot, strike, 14, vol, option_type="call")

    def gap(v):
        return bs_price(spot, strike, 14, v, option_type="call") - price

    assert pricing._bisect(gap, 0.01, 10.0, 1e-10) == pytest.approx(vol, rel=1e-6)


def test_importing_pricing_loads_no_scipy_or_numpy():
    code = (
        "import sys; import shared_tools.pricing as p; p.bs_price_and_greeks(1e5, 1e5, 30, 0.5);"
        "bad = [m for m in ('numpy', 'scipy', 'pandas') if m in sys.modules];"
        "print(','.join(bad))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == ""
