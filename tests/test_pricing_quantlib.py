"""shared_tools/pricing.py against QuantLib's analytic European engine, in upstream's units.

Conventions matched explicitly: time = calendar days / 365 (QuantLib's Actual365Fixed with the
maturity ``dte`` whole days after the evaluation date), the rate continuously compounded and
flat, no dividends, a flat Black vol. QuantLib's theta is per year (ours per calendar day:
/365) and its vega per 1.00 of vol (ours per vol point: /100). Skipped only when QuantLib is
not installed (it is in the ``test`` extra).
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shared_tools.pricing import bs_price_and_greeks

ql = pytest.importorskip("QuantLib")

TODAY = ql.Date(5, ql.January, 2026)
DC = ql.Actual365Fixed()


def quantlib(spot, strike, days, vol, rate, kind):
    ql.Settings.instance().evaluationDate = TODAY
    payoff = ql.PlainVanillaPayoff(ql.Option.Call if kind == "call" else ql.Option.Put, strike)
    option = ql.VanillaOption(payoff, ql.EuropeanExercise(TODAY + int(days)))
    process = ql.BlackScholesMertonProcess(
        ql.QuoteHandle(ql.SimpleQuote(spot)),
        ql.YieldTermStructureHandle(ql.FlatForward(TODAY, 0.0, DC, ql.Continuous)),
        ql.YieldTermStructureHandle(ql.FlatForward(TODAY, rate, DC, ql.Continuous)),
        ql.BlackVolTermStructureHandle(ql.BlackConstantVol(TODAY, ql.NullCalendar(), vol, DC)),
    )
    option.setPricingEngine(ql.AnalyticEuropeanEngine(process))
    return option.NPV(), {
        "delta": option.delta(),
        "gamma": option.gamma(),
        "theta": option.theta() / 365.0,  # per year -> per calendar day
        "vega": option.vega() / 100.0,  # per 1.00 of vol -> per vol point
    }


def close(a: float, b: float) -> bool:
    return abs(a - b) <= 1e-9 * max(1.0, abs(b))


@settings(max_examples=400, deadline=None)
@given(
    spot=st.floats(10.0, 200_000.0),
    moneyness=st.floats(0.5, 1.5),
    days=st.integers(1, 730),
    vol=st.floats(0.05, 2.0),
    rate=st.sampled_from([0.05, 0.0, 0.02, 0.1]),
    kind=st.sampled_from(["call", "put"]),
)
def test_pricing_agrees_with_quantlib(spot, moneyness, days, vol, rate, kind):
    strike = spot * moneyness
    price, greeks = bs_price_and_greeks(spot, strike, days, vol, rate, kind, rounded=False)
    ref_price, ref = quantlib(spot, strike, days, vol, rate, kind)
    assert close(price, ref_price), (price, ref_price)
    for name in ("delta", "gamma", "theta", "vega"):
        assert close(greeks[name], ref[name]), (name, greeks[name], ref[name])
