"""Live orders under faults: the venue drops, refuses, throttles or half-fills; never twice.

Each test arms a fault on the local venue, runs real supervisor cycles, and checks that the
book holds exactly what the venue holds and that no client order id ever filled twice.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
from live_rig import T0, Rig, strategy

COIN = "ETH"


@pytest.fixture
def rig(tmp_path: Path) -> Iterator[Rig]:
    r = Rig(tmp_path, [strategy()])
    try:
        yield r
    finally:
        r.close()


def run(rig: Rig, t: int, signal: int) -> str:
    rig.at(t)
    rig.signal("hl-live", COIN, signal)
    proc = rig.cycle()
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc.stderr


def agree(rig: Rig) -> None:
    assert rig.book_size(COIN) == pytest.approx(rig.venue_size(COIN), abs=1e-9)
    assert rig.book()["cash"]["hl-live"] == pytest.approx(rig.venue_cash(), abs=0.01)


def fills_per_cloid(rig: Rig) -> Counter:
    orders = {o.oid: o.cloid for o in rig.server.venue.orders.values()}
    return Counter(orders.get(f["oid"]) for f in rig.account().fills if orders.get(f["oid"]))


def opened_once(rig: Rig) -> None:
    counts = fills_per_cloid(rig)
    assert counts and max(counts.values()) == 1
    opens = [f for f in rig.account().fills if f["dir"] == "Open Long"]
    assert len({f["oid"] for f in opens}) == 1


def test_a_dropped_answer_after_the_order_is_accepted_leaves_one_position(rig: Rig) -> None:
    rig.server.venue.faults.add("order", "drop")
    run(rig, T0 + 3600, 1)
    agree(rig)
    opened_once(rig)
    assert [i[2] for i in rig.book()["intents"]] == ["filled"]


@pytest.mark.parametrize("mode", ["5xx", "429"])
def test_a_throttled_or_failing_venue_never_gets_the_order_twice(rig: Rig, mode: str) -> None:
    rig.server.venue.faults.add("order", mode, count=1)
    run(rig, T0 + 3600, 1)
    run(rig, T0 + 3900, 1)  # the next cycle holds the position: nothing more is sent
    agree(rig)
    opened_once(rig)


def test_a_partial_fill_is_booked_as_the_venue_holds_it(rig: Rig) -> None:
    rig.server.venue.faults.add("order", "partial", fraction=0.5)
    run(rig, T0 + 3600, 1)
    agree(rig)
    book = rig.book()
    (_side, qty, guard), *_ = book["positions"].values()
    assert book["intents"][0][4] == pytest.approx(qty)  # the intent records what filled
    stop = rig.server.venue.orders[guard["stop_oid"]]
    assert float(stop.sz) == pytest.approx(qty)  # protection covers what is held, no more


def test_a_refused_order_is_a_failed_intent_never_a_trade(rig: Rig) -> None:
    rig.server.venue.faults.add("order", "reject")
    run(rig, T0 + 3600, 1)
    book = rig.book()
    assert book["positions"] == {} and book["trades"] == [] and rig.venue_size(COIN) == 0
    assert book["intents"][0][2] == "failed" and "rejected" in book["intents"][0][5]
    assert book["cash"]["hl-live"] == rig.venue_cash() == 10_000
    run(rig, T0 + 3900, 1)  # the next cycle decides afresh, with a new client order id
    agree(rig)
    intents = rig.book()["intents"]
    assert [i[2] for i in intents] == ["failed", "filled"] and intents[0][0] != intents[1][0]


def test_an_unreadable_account_holds_entries(rig: Rig) -> None:
    rig.server.venue.faults.add("clearinghouseState", "5xx", count=10)
    err = run(rig, T0 + 3600, 1)
    assert "account not read" in err
    assert rig.book()["positions"] == {} and rig.venue_size(COIN) == 0


def test_a_late_fill_is_a_gap_until_it_shows_then_booked_once(rig: Rig) -> None:
    """The stop fills on the venue but its fill shows in userFills only later: the book
    keeps the position (a gap holds entries) and books the stop once the fill appears."""
    run(rig, T0 + 3600, 1)
    (_side, _qty, guard), *_ = rig.book()["positions"].values()
    rig.server.venue.faults.add("*", "late_fill", count=5, delay_s=900)
    rig.at(T0 + 3900)
    import eth_account
    from hyperliquid.exchange import Exchange
    from live_rig import AGENT_KEY, owner

    ex = Exchange(eth_account.Account.from_key(AGENT_KEY), rig.server.url, account_address=owner())
    ex.market_close(COIN)
    err = run(rig, T0 + 4000, 0)
    assert "gap" in err and rig.book_size(COIN) > 0 and rig.venue_size(COIN) == 0
    run(rig, T0 + 5000, 0)  # the fill is visible now: booked once
    book = rig.book()
    assert [t[5] for t in book["trades"] if t[5] not in ("", "funding")] == ["external"]
    agree(rig)
    run(rig, T0 + 5300, 0)
    agree(rig)  # and never again


def test_a_fee_the_venue_reports_late_is_booked_when_it_shows(rig: Rig) -> None:
    rig.server.venue.faults.add("order", "late_fill", delay_s=600)
    run(rig, T0 + 3600, 1)
    assert rig.book_size(COIN) == pytest.approx(rig.venue_size(COIN))
    gap = rig.book()["cash"]["hl-live"] - rig.venue_cash()
    assert gap > 0.1  # the fee was not known when the fill was booked
    run(rig, T0 + 3600 + 900, 0)
    agree(rig)
    fees = [t for t in rig.book()["trades"] if t[1] == "fee"]
    assert len(fees) == 1 and fees[0][4] == pytest.approx(gap, abs=0.01)
