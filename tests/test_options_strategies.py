"""Each options strategy's decision on a fixed chain equals the reference's rules
(upstream-options §3.2-3.7): strikes = the nearest listed strike to spot x upstream's multiple,
expiry = the listed expiry nearest upstream's DTE target, the legs and their order.

The expected numbers are derived here from the reference, not read from the code under test.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from options_fakes import TODAY, FakeChain

from shared_strategies.options import registry
from shared_strategies.options.legs import Context

SPOT = {"BTC": 100_000.0, "ETH": 3_000.0}
GRID = {"BTC": 1000.0, "ETH": 50.0}
LISTED = [1, 7, 14, 21, 28, 35, 49, 63, 91]  # FakeChain's expiries (days from TODAY)


def expected_expiry(target: int) -> tuple[str, int]:
    """Deribit's rule (§5.1): nearest listed DTE, ties to the shorter, > 7 days off ->
    synthetic today + target."""
    best = sorted(LISTED, key=lambda d: (abs(d - target), d))[0]
    if abs(best - target) > 7:
        best = target
    return (TODAY + timedelta(days=best)).isoformat(), best


def snap(und: str, target: float) -> float:
    step = GRID[und]
    lo = (target // step) * step
    hi = lo + step
    return lo if target - lo <= hi - target else hi  # ties to the lower listed strike


def ctx(und="BTC", rank=50.0, positions=(), spot_positions=(), closes_4h=None, chain=None):
    return Context(
        und,
        SPOT[und],
        0.6,
        rank,
        list(positions),
        list(spot_positions),
        chain or FakeChain(),
        (lambda: closes_4h),
    )


def legs_of(decision):
    return [
        (a["action"], a["option_type"], a["strike"], a["expiry"], a["dte"], a["quantity"])
        for a in decision.actions
    ]


def expect(und, target_dte, *legs):
    """legs: (action, type, spot multiple, quantity)."""
    expiry, dte = expected_expiry(target_dte)
    return [(a, t, snap(und, SPOT[und] * m), expiry, dte, q) for a, t, m, q in legs]


SOLD_CALL = {"option_type": "call", "action": "sell", "strike": 112_000.0, "expiry": "x"}
SOLD_PUT = {"option_type": "put", "action": "sell", "strike": 94_000.0, "expiry": "x"}
BOUGHT_PUT = {"option_type": "put", "action": "buy", "strike": 88_000.0, "expiry": "x"}
BOUGHT_CALL = {"option_type": "call", "action": "buy", "strike": 88_000.0, "expiry": "x"}
SPOT_LONG = {
    "position_type": "spot",
    "symbol": "BTC",
    "quantity": 1.0,
    "avg_cost": 94_000.0,
    "side": "long",
}


@pytest.mark.parametrize("und", ["BTC", "ETH"])
@pytest.mark.parametrize(
    ("rank", "signal", "legs"),
    [
        (75.1, -1, [("sell", "call", 1.10, 1.0), ("sell", "put", 0.90, 1.0)]),
        (100.0, -1, [("sell", "call", 1.10, 1.0), ("sell", "put", 0.90, 1.0)]),
        (75.0, 0, []),  # strict inequality at 75
        (50.0, 0, []),
        (25.0, 0, []),  # strict inequality at 25
        (24.9, 1, [("buy", "call", 1.0, 1.0), ("buy", "put", 1.0, 1.0)]),
    ],
)
def test_vol_mean_reversion(und, rank, signal, legs):
    d = registry.evaluate("vol_mean_reversion", ctx(und, rank))
    assert d.signal == signal
    assert legs_of(d) == (expect(und, 30, *legs) if legs else [])


@pytest.mark.parametrize(
    ("positions", "signal", "legs"),
    [
        ([], 1, [("buy", "put", 0.88, 1.0)]),
        ([SOLD_PUT, BOUGHT_CALL], 1, [("buy", "put", 0.88, 1.0)]),  # only a *bought* put blocks
        ([BOUGHT_PUT], 0, []),
    ],
)
def test_protective_puts(positions, signal, legs):
    d = registry.evaluate("protective_puts", ctx(positions=positions))
    assert (d.signal, legs_of(d)) == (signal, expect("BTC", 45, *legs) if legs else [])


@pytest.mark.parametrize(
    ("positions", "signal", "legs"),
    [
        ([], -1, [("sell", "call", 1.12, 1.0)]),
        ([BOUGHT_CALL, SOLD_PUT], -1, [("sell", "call", 1.12, 1.0)]),
        ([SOLD_CALL], 0, []),
    ],
)
def test_covered_calls(positions, signal, legs):
    d = registry.evaluate("covered_calls", ctx(positions=positions))
    assert (d.signal, legs_of(d)) == (signal, expect("BTC", 21, *legs) if legs else [])


@pytest.mark.parametrize(
    ("positions", "spot", "signal", "target", "legs", "phase"),
    [
        ([], [], -1, 37, [("sell", "put", 0.94, 1.0)], 1),
        ([SOLD_PUT], [], 0, 37, [], None),
        ([SOLD_CALL], [], -1, 37, [("sell", "put", 0.94, 1.0)], 1),
        ([], [SPOT_LONG], -1, 21, [("sell", "call", 1.10, 1.0)], 2),
        ([SOLD_PUT], [SPOT_LONG], -1, 21, [("sell", "call", 1.10, 1.0)], 2),
        ([SOLD_CALL], [SPOT_LONG], 0, 21, [], None),
        # spot of another coin, a short or an empty lot is not an assignment
        ([], [{**SPOT_LONG, "symbol": "ETH"}], -1, 37, [("sell", "put", 0.94, 1.0)], 1),
        ([], [{**SPOT_LONG, "side": "short"}], -1, 37, [("sell", "put", 0.94, 1.0)], 1),
        ([], [{**SPOT_LONG, "quantity": 0}], -1, 37, [("sell", "put", 0.94, 1.0)], 1),
        ([], [{**SPOT_LONG, "symbol": "btc"}], -1, 21, [("sell", "call", 1.10, 1.0)], 2),
    ],
)
def test_wheel(positions, spot, signal, target, legs, phase):
    d = registry.evaluate("wheel", ctx(positions=positions, spot_positions=spot))
    assert (d.signal, legs_of(d)) == (signal, expect("BTC", target, *legs) if legs else [])
    assert [a["wheel_phase"] for a in d.actions] == ([phase] if phase else [])


@pytest.mark.parametrize("und", ["BTC", "ETH"])
@pytest.mark.parametrize(
    ("rank", "signal"), [(29.9, 0), (30.0, 1), (50.0, 1), (70.0, 1), (70.1, 0)]
)
def test_butterfly(und, rank, signal):
    d = registry.evaluate("butterfly", ctx(und, rank))
    legs = [("buy", "call", 0.95, 1.0), ("sell", "call", 1.00, 2.0), ("buy", "call", 1.05, 1.0)]
    assert (d.signal, legs_of(d)) == (signal, expect(und, 30, *legs) if signal else [])


def roc_series(prev_pct: float, now_pct: float, n: int = 40) -> list[float]:
    """4h closes whose ROC(14) is ``prev_pct`` one bar ago and ``now_pct`` now."""
    closes = [100.0] * n
    closes[-2] = 100.0 * (1 + prev_pct / 100)
    closes[-1] = 100.0 * (1 + now_pct / 100)
    return closes


@pytest.mark.parametrize(
    ("prev", "now", "signal", "legs"),
    [
        (4.0, 6.0, 1, [("buy", "call", 1.02, 1.0)]),  # crosses above +5
        (5.0, 5.5, 1, [("buy", "call", 1.02, 1.0)]),  # previous exactly 5 counts as below
        (6.0, 7.0, 0, []),  # a level, not a cross
        (-4.0, -6.0, -1, [("buy", "put", 0.98, 1.0)]),
        (-5.0, -5.5, -1, [("buy", "put", 0.98, 1.0)]),
        (-6.0, -7.0, 0, []),
        (0.0, 5.0, 0, []),  # not above 5
    ],
)
def test_momentum_options(prev, now, signal, legs):
    d = registry.evaluate("momentum_options", ctx(closes_4h=roc_series(prev, now)))
    assert (d.signal, legs_of(d)) == (signal, expect("BTC", 37, *legs) if legs else [])


def test_momentum_without_enough_candles_is_no_signal():
    assert registry.evaluate("momentum_options", ctx(closes_4h=None)).signal == 0
    assert registry.evaluate("momentum_options", ctx(closes_4h=[100.0] * 29)).signal == 0


def test_the_straddle_shares_one_atm_strike_and_every_leg_one_expiry():
    d = registry.evaluate("vol_mean_reversion", ctx(rank=10.0))
    assert len({a["strike"] for a in d.actions}) == 1
    assert len({a["expiry"] for a in d.actions}) == 1


def test_far_target_without_listing_is_synthetic():
    chain = FakeChain(expiry_days=[1, 7])  # nothing within 7 days of 45
    d = registry.evaluate("protective_puts", ctx(chain=chain))
    assert (d.actions[0]["expiry"], d.actions[0]["dte"]) == (
        (TODAY + timedelta(days=45)).isoformat(),
        45,
    )


def test_action_carries_the_quote_in_the_contract_units():
    chain = FakeChain(mult=0.1)
    d = registry.evaluate("covered_calls", ctx(chain=chain))
    a = d.actions[0]
    q = chain.quote("BTC", "call", a["strike"], a["expiry"])
    assert a["premium_usd"] == q.premium_usd and a["premium"] == q.premium
    assert a["multiplier"] == 0.1 and a["greeks"] == q.greeks
    assert a["expires_at"] == a["expiry"] + "T08:00:00Z"
    assert a["instrument"] == q.instrument


def test_a_zero_premium_leg_skips_the_whole_structure():
    class ZeroPut(FakeChain):
        def quote(self, und, kind, strike, expiry, *, vol=None):
            q = super().quote(und, kind, strike, expiry, vol=vol)
            if kind == "put":
                from dataclasses import replace

                return replace(q, premium_usd=0.0, premium=0.0)
            return q

    d = registry.evaluate("vol_mean_reversion", ctx(rank=90.0, chain=ZeroPut()))
    assert (d.signal, d.actions) == (0, [])  # never a naked call without its put


def test_registry_lists_upstreams_six_names(capsys):
    assert registry.names() == [
        "momentum_options",
        "vol_mean_reversion",
        "protective_puts",
        "covered_calls",
        "wheel",
        "butterfly",
    ]
    assert registry.main(["--list-json"]) == 0
    import json

    rows = json.loads(capsys.readouterr().out)
    assert [r["id"] for r in rows] == registry.names()
    assert [r["short_name"] for r in rows][:5] == ["momentum", "vol", "puts", "calls", "wheel"]
