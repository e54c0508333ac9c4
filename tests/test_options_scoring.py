"""Scoring of proposed option legs against the open book (upstream-options §4).

Each case's expected score is worked out by hand from upstream's terms in the comment beside
it (base 0.5; strike distance +0.4/+0.2/-0.3; expiry +0.3/-0.1; delta -0.3/+0.2 with the 0.5
tolerance; premium +0.1 over 1.1x the sells' average), with our two fixes where they apply:
delta signed by action and sized by quantity x multiplier, siblings in the book.
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from options_fakes import FakeChain

from shared_strategies.options import check, scoring

SPOT = 100_000.0


def pos(kind, action, strike, expiry, delta, qty=1.0, mult=1.0, unit=1000.0):
    return {
        "id": f"{kind}-{action}-{strike}-{expiry}",
        "underlying": "BTC",
        "option_type": kind,
        "action": action,
        "strike": strike,
        "expiry": expiry,
        "quantity": qty,
        "multiplier": mult,
        "delta": delta,
        "entry_premium_unit_usd": unit,
        "entry_premium_usd": unit * qty * mult * (1 - 0.0003),
    }


def leg(kind, action, strike, expiry, delta, premium=1000.0, qty=1.0, mult=1.0):
    return {
        "option_type": kind,
        "action": action,
        "strike": strike,
        "expiry": expiry,
        "quantity": qty,
        "multiplier": mult,
        "premium_usd": premium,
        "greeks": {"delta": delta, "gamma": 0.0, "theta": 0.0, "vega": 0.0},
    }


B1 = pos("call", "sell", 120_000.0, "E1", 0.2, unit=1000.0)
B2 = pos("put", "buy", 85_000.0, "E1", -0.2)
B3 = pos("put", "sell", 90_000.0, "E2", -0.3, unit=1500.0)
B4 = pos("call", "buy", 130_000.0, "E3", 0.1, qty=2.0)

CASES = [
    # 0 open: upstream's first position
    ([], leg("call", "buy", 100_000.0, "E2", 0.5), 1.0, "first position"),
    # 1 open (the reference's worked example): -0.3 overlap, -0.1 same expiry, delta
    # -0.25 -> -0.5 not beyond 0.5, same premium -> 0.1
    (
        [pos("call", "sell", 110_000.0, "E", 0.25)],
        leg("call", "sell", 110_000.0, "E", 0.25),
        0.1,
        "overlapping strikes; same expiry",
    ),
    # 2 open: call 20% away +0.4, new expiry +0.3, signed net -0.2-0.2=-0.4 -> +0.1 balancing +0.2
    (
        [B1, B2],
        leg("call", "buy", 100_000.0, "E2", 0.5),
        1.4,
        "strike distance 20.0%; different expiry; delta balancing",
    ),
    # 3 open: put 4% from 90k -0.3, E2 open -0.1, net -0.1 -> +0.25 (worse, within 0.5) 0,
    # sells' unit average 1250 x 1.1 = 1375 < 2000 +0.1
    (
        [B1, B2, B3],
        leg("put", "sell", 94_000.0, "E2", -0.35, premium=2000.0),
        0.2,
        "overlapping strikes; same expiry; better premium",
    ),
    # 4 open: calls 120k/130k, nearest 19% +0.4, new expiry +0.3, net -0.2-0.2+0.3+0.2=0.1 ->
    # -0.35 (worse, within 0.5) 0, 1300 < 1375 no premium term
    (
        [B1, B2, B3, B4],
        leg("call", "sell", 101_000.0, "E4", 0.45, premium=1300.0),
        1.2,
        "strike distance 19.0%; different expiry",
    ),
    # 5-10% apart: moderate +0.2; same expiry; delta +0.25 -> +0.75 concentration -0.3
    (
        [pos("call", "buy", 100_000.0, "E", 0.25)],
        leg("call", "buy", 107_000.0, "E", 0.5),
        0.3,
        "moderate strike distance; same expiry; delta concentration",
    ),
]


@pytest.mark.parametrize(("book", "proposal", "score", "reason"), CASES)
def test_score_equals_upstreams_terms(book, proposal, score, reason):
    assert scoring.score_new_trade(proposal, book, SPOT) == (score, reason)


def test_the_reference_worked_example_is_dropped():
    book = [pos("call", "sell", 110_000.0, "E", 0.25)]
    scored = scoring.score_proposal([leg("call", "sell", 110_000.0, "E", 0.25)], book, SPOT)
    assert scored.kept == [] and scored.dropped[0]["score"] == 0.1


def test_signed_sized_delta_fix():
    """A 2-lot sold call is -0.6 of delta, not +0.3: buying a call then balances the book.
    Upstream (unsigned, unsized) called it a concentration."""
    book = [pos("call", "sell", 140_000.0, "E1", 0.3, qty=2.0)]
    proposal = leg("call", "buy", 100_000.0, "E2", 0.5)
    # ours: net -0.6 -> -0.1: +0.4 (40% away) +0.3 (new expiry) +0.2 (balancing)
    assert scoring.score_new_trade(proposal, book, SPOT) == (
        1.4,
        "strike distance 40.0%; different expiry; delta balancing",
    )
    # upstream: net +0.3 -> +0.8, beyond 0.5: -0.3
    assert scoring.score_new_trade(proposal, book, SPOT, upstream=True) == (
        0.9,
        "strike distance 40.0%; different expiry; delta concentration",
    )


def test_delta_tolerance_is_half_a_contract_of_the_venue():
    """CME micro BTC (0.1 BTC a contract): two 0.6-delta calls are 0.12 BTC, beyond half a
    contract (0.05 BTC); a 100-share equity contract's tolerance is 50 shares."""
    book = [pos("call", "buy", 100_000.0, "E1", 0.6, mult=0.1)]
    p = leg("call", "buy", 115_000.0, "E2", 0.6, mult=0.1)
    assert scoring.score_new_trade(p, book, SPOT)[1].endswith("delta concentration")
    rh_book = [pos("call", "buy", 500.0, "E1", 0.2, mult=100.0)]
    rh = leg("call", "buy", 600.0, "E2", 0.2, mult=100.0)  # 20 -> 40 shares: within 50
    assert "delta" not in scoring.score_new_trade(rh, rh_book, 550.0)[1]


def test_premium_compares_per_unit_gross_premiums():
    """Upstream compared a per-unit premium with a net, x quantity entry; a 2-lot sold at the
    same unit premium then never looked 'better'."""
    book = [pos("put", "sell", 80_000.0, "E1", -0.1, qty=2.0, unit=1000.0)]
    p = leg("put", "sell", 60_000.0, "E2", -0.05, premium=1200.0)
    assert "better premium" in scoring.score_new_trade(p, book, SPOT)[1]
    assert "better premium" not in scoring.score_new_trade(p, book, SPOT, upstream=True)[1]
    # an older entry without the unit field: entry_premium_usd / (quantity x multiplier)
    old = {k: v for k, v in book[0].items() if k != "entry_premium_unit_usd"}
    assert "better premium" in scoring.score_new_trade(p, [old], SPOT)[1]


def test_siblings_see_each_other_and_structures_go_whole():
    """An open sold put at 90k: a new strangle's put overlaps it. Upstream kept the call alone
    (a naked call); we drop the strangle whole."""
    book = [pos("put", "sell", 90_000.0, "E", -0.2)]
    strangle = [
        leg("call", "sell", 110_000.0, "E", 0.25, premium=1200.0),
        leg("put", "sell", 90_000.0, "E", -0.2, premium=1000.0),
    ]
    up = scoring.score_proposal(strangle, book, SPOT, upstream=True)
    assert [a["option_type"] for a in up.kept] == ["call"]  # the naked leg
    ours = scoring.score_proposal(strangle, book, SPOT)
    assert ours.kept == [] and len(ours.dropped) == 2
    # on an empty book the second leg is scored against the first, not as a first position
    fresh = scoring.score_proposal(strangle, [], SPOT)
    assert [a["score_reason"] for a in fresh.kept][0] == "first position"
    # put vs the call: different type (no strike term), same expiry -0.1, signed delta
    # -0.25 -> -0.05 balancing +0.2, 1000 < 1.1 x 1200 (no premium term)
    assert fresh.kept[1]["score_reason"] == "same expiry; delta balancing"
    assert fresh.kept[1]["score"] == 0.6


def test_a_fifth_position_is_refused_before_the_venue_is_asked():
    chain = FakeChain()
    book = [B1, B2, B3, B4]
    res = check.run(
        check.Request("covered_calls", "BTC", option_positions=book), lambda: chain, now_iso="t"
    )
    assert res.doc["skip_reason"] == "Max positions reached (4/4)"
    assert (res.doc["signal"], res.doc["actions"], res.doc["spot_price"]) == (0, [], 0.0)
    assert chain.calls == []  # no spot read for a full book
    three = check.run(
        check.Request("protective_puts", "BTC", option_positions=[B1, B3, B4]),
        lambda: chain,
        now_iso="t",
    )
    assert three.doc["signal"] == 1 and len(three.doc["actions"]) == 1


def test_all_legs_dropped_clears_the_signal():
    """A butterfly on top of last month's identical butterfly wing: its first wing overlaps
    (-0.3), shares the expiry (-0.1) and doubles the delta beyond 0.5 (-0.3): -0.2, dropped,
    and with it the whole structure; the signal goes to 0 (upstream §1.4 step 10)."""
    chain = FakeChain()  # no closes: upstream's fallback rank 50, inside butterfly's 30..70
    expiry, _ = chain.real_expiry("BTC", 30)
    wing = pos("call", "buy", 95_000.0, expiry, 0.6)
    res = check.run(
        check.Request("butterfly", "BTC", option_positions=[wing]), lambda: chain, now_iso="t"
    )
    assert (res.doc["signal"], res.doc["actions"], res.doc["iv_rank"]) == (0, [], 50.0)


finite = st.floats(allow_nan=True, allow_infinity=True, width=32)
anything = st.one_of(finite, st.text(max_size=3), st.none(), st.integers(-5, 5))
legs = st.fixed_dictionaries(
    {},
    optional={
        "option_type": st.sampled_from(["call", "put", "CALL", "", 3]),
        "action": st.sampled_from(["buy", "sell", "close", None]),
        "strike": anything,
        "expiry": st.sampled_from(["E1", "E2", "", None]),
        "quantity": anything,
        "multiplier": anything,
        "delta": anything,
        "greeks": st.one_of(st.none(), st.fixed_dictionaries({"delta": anything})),
        "premium_usd": anything,
        "entry_premium_usd": anything,
        "entry_premium_unit_usd": anything,
    },
)


@settings(max_examples=300, deadline=None)
@given(
    proposal=legs,
    book=st.lists(st.one_of(legs, st.none(), st.integers()), max_size=5),
    spot=anything,
    upstream=st.booleans(),
)
def test_scoring_never_raises_and_stays_in_range(proposal, book, spot, upstream):
    score, reason = scoring.score_new_trade(proposal, book, spot, upstream=upstream)
    assert -0.2 <= score <= 1.5 and isinstance(reason, str) and reason
    scored = scoring.score_proposal([proposal, proposal], book, spot, upstream=upstream)
    assert len(scored.kept) + len(scored.dropped) == 2
