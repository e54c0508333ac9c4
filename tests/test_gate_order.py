"""Entry gates: when several would hold an open, the one reported is the first in upstream's
order (reference §2.6; supervisor/cycle_gates.py GATES). Issue 20's "Must show"."""

from __future__ import annotations

from dataclasses import replace

from hypothesis import given, settings
from hypothesis import strategies as st

from shared_tools.config.risk import RiskSettings
from supervisor import cycle_gates
from supervisor.cycle_gates import Entry, first_refusal
from supervisor.risk.exposure import Exposure

BASE = Entry(side="long", asset="BTC")

# How to make each gate refuse, by itself, an open of BASE. Every gate in GATES must have one:
# a gate added without a way to trip it here fails test_every_gate_can_be_tripped.
TRIP = {
    "live": lambda e: replace(e, live_hold="an order is not resolved yet"),
    "market_closed": lambda e: replace(e, market_open=False),
    "regime_gate": lambda e: replace(
        e, regime_enabled=True, regime_label="ranging", allowed_regimes=("trending_up",)
    ),
    "paused": lambda e: replace(e, paused=True),
    "daily_loss": lambda e: replace(e, daily_loss="today's loss $120 >= $100"),
    "max_notional_usd": lambda e: replace(e, notional="book notional $9,000 >= $5,000"),
    "max_same_direction_notional_usd": lambda e: replace(
        e,
        exposure=Exposure({"ETH": 5000.0, "BTC": 10.0}, e.exposure.book_value or 1e9),
        settings=replace(e.settings, max_same_direction_notional_usd=1000.0),
    ),
    "max_asset_concentration_pct": lambda e: replace(
        e,
        exposure=Exposure({**e.exposure.nets, "BTC": 900.0}, 1000.0),
        settings=replace(e.settings, max_asset_concentration_pct=50.0),
    ),
}
BUILT = [name for name, gate in cycle_gates.GATES if gate is not None]


def test_every_gate_can_be_tripped_alone():
    assert set(BUILT) <= set(TRIP), set(BUILT) - set(TRIP)
    assert first_refusal(BASE) is None
    for name in BUILT:
        refusal = first_refusal(TRIP[name](BASE))
        assert refusal is not None and refusal.gate == name, (name, refusal)


@settings(max_examples=200, deadline=None)
@given(st.sets(st.sampled_from(BUILT), min_size=1))
def test_the_first_gate_in_upstreams_order_is_the_one_reported(tripped):
    entry = replace(BASE, settings=RiskSettings())
    for name in sorted(tripped, key=cycle_gates.ORDER.index, reverse=True):
        entry = TRIP[name](entry)
    refusal = first_refusal(entry)
    expected = min(tripped, key=cycle_gates.ORDER.index)
    assert refusal is not None and refusal.gate == expected, (tripped, refusal)
    assert str(refusal).startswith(f"{expected}: ")


def test_the_order_is_upstreams():
    """§2.6: the check, then regime gate, Hurst, paused, daily loss, notional cap, exposure."""
    order = list(cycle_gates.ORDER)
    upstream = [
        "market_closed",
        "regime_gate",
        "hurst_gate",
        "paused",
        "daily_loss",
        "max_notional_usd",
        "max_same_direction_notional_usd",
        "max_asset_concentration_pct",
    ]
    assert [g for g in order if g in upstream] == upstream
