"""The live desk on OKX, TopStep and Robinhood against stand-in venue workers: per venue an
open, a close and flat with the book equal to the venue; orders by client order id, once."""

from __future__ import annotations

from pathlib import Path

import pytest
from venue_rig import (
    OKX_SPOT,
    OKX_SWAP,
    ROBINHOOD,
    T0,
    TOPSTEP,
    VenueRig,
    app_extra,
    latch_breaker,
    latch_kill_switch,
    strategy,
)

VENUES = [OKX_SWAP, TOPSTEP, ROBINHOOD]


def _spot(venue: str, stype: str) -> bool:
    return stype == "spot"


@pytest.mark.parametrize("spec", VENUES, ids=[s[0] for s in VENUES])
def test_open_close_flat_book_equals_venue(tmp_path: Path, spec) -> None:
    sid, venue, coin, stype = spec
    rig = VenueRig(tmp_path, [strategy(sid, venue, coin, stype)])
    rig.signal(sid, coin, 1)
    done = rig.cycle()
    assert done.returncode == 0, done.stderr[-2000:]
    held = rig.venue_size(venue, coin, _spot(venue, stype))
    assert held > 0, done.stderr[-2000:]
    assert rig.book_size(sid, coin) == pytest.approx(held)
    if venue == "topstep":
        assert held == int(held)
    rig.at(T0 + 3600)
    rig.signal(sid, coin, -1)
    done = rig.cycle()
    assert done.returncode == 0, done.stderr[-2000:]
    assert rig.venue_size(venue, coin, _spot(venue, stype)) == 0
    assert rig.book_size(sid, coin) == 0
    book = rig.book()
    assert [i[2] for i in book["intents"]] == ["filled", "filled"]
    assert all(c.startswith("gt") and len(c) == 26 for c, *_ in book["intents"])
    sends = rig.venue(venue)["sends"]
    assert len(sends) == len(set(sends)) == 2
    fees = [t[4] for t in book["trades"]]
    assert all(f > 0 for f in fees)  # the venue's fee, not a model's
    assert all(t[6].startswith(f"{venue}-") for t in book["trades"])  # the venue's order id


def _run(rig: VenueRig, t: int, sid: str, coin: str, signal: int) -> str:
    rig.at(t)
    rig.signal(sid, coin, signal)
    done = rig.cycle()
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stderr


@pytest.mark.parametrize("spec", VENUES, ids=[s[0] for s in VENUES])
def test_a_dropped_answer_after_acceptance_is_one_position(tmp_path: Path, spec) -> None:
    """The order reached the venue and the answer was lost: the desk asks by client order
    id and books what the venue knows; it never sends it again."""
    sid, venue, coin, stype = spec
    rig = VenueRig(tmp_path, [strategy(sid, venue, coin, stype)])
    rig.faults(venue, drop=1)
    _run(rig, T0, sid, coin, 1)
    _run(rig, T0 + 300, sid, coin, 1)
    held = rig.venue_size(venue, coin, _spot(venue, stype))
    assert held > 0 and rig.book_size(sid, coin) == pytest.approx(held)
    assert len(rig.venue(venue)["orders"]) == 1
    assert rig.venue(venue).get("duplicates") is None
    assert [i[2] for i in rig.book()["intents"]] == ["filled"]


@pytest.mark.parametrize("spec", VENUES, ids=[s[0] for s in VENUES])
def test_an_order_with_no_fill_yet_is_asked_again_never_resent(tmp_path: Path, spec) -> None:
    sid, venue, coin, stype = spec
    rig = VenueRig(tmp_path, [strategy(sid, venue, coin, stype)])
    rig.faults(venue, nofill=1)
    _run(rig, T0, sid, coin, 1)
    assert rig.book()["intents"][-1][2] == "pending" and rig.book_size(sid, coin) == 0
    _run(rig, T0 + 300, sid, coin, 1)  # resolved first thing, then the book equals the venue
    held = rig.venue_size(venue, coin, _spot(venue, stype))
    assert held > 0 and rig.book_size(sid, coin) == pytest.approx(held)
    assert len(rig.venue(venue)["sends"]) == 1


@pytest.mark.parametrize("spec", VENUES, ids=[s[0] for s in VENUES])
def test_the_kill_switch_flattens_and_clears_the_book_only_once_the_venue_confirms(
    tmp_path: Path, spec
) -> None:
    sid, venue, coin, stype = spec
    rig = VenueRig(tmp_path, [strategy(sid, venue, coin, stype)])
    _run(rig, T0, sid, coin, 1)
    assert rig.venue_size(venue, coin, _spot(venue, stype)) > 0
    latch_kill_switch(rig.db)
    _run(rig, T0 + 300, sid, coin, 1)
    assert rig.venue_size(venue, coin, _spot(venue, stype)) == 0
    kills = [t for t in rig.book()["trades"] if t[5] == "kill_switch"]
    assert len(kills) == 1 and kills[0][6].startswith(f"{venue}-")
    assert rig.book()["positions"] == {}
    _run(rig, T0 + 600, sid, coin, 1)  # latched: nothing opens, nothing is sent
    assert rig.venue_size(venue, coin, _spot(venue, stype)) == 0
    assert len(rig.venue(venue)["sends"]) == 2


@pytest.mark.parametrize("spec", VENUES, ids=[s[0] for s in VENUES])
def test_a_failed_read_after_a_kill_switch_close_keeps_the_book(tmp_path: Path, spec) -> None:
    """#346/#350: a positions read that fails is never "flat": the close's fill is booked only
    once a read succeeds (the next cycle asks the venue by client order id)."""
    sid, venue, coin, stype = spec
    rig = VenueRig(tmp_path, [strategy(sid, venue, coin, stype)])
    _run(rig, T0, sid, coin, 1)
    latch_kill_switch(rig.db)
    rig.faults(venue, positions_pass=1, positions_fail=1)  # the cycle's read, then the confirm
    _run(rig, T0 + 300, sid, coin, 1)
    assert rig.venue_size(venue, coin, _spot(venue, stype)) == 0
    assert rig.book_size(sid, coin) > 0  # not cleared: the venue did not confirm
    assert rig.book()["intents"][-1][2] == "pending"
    _run(rig, T0 + 600, sid, coin, 1)
    assert rig.book()["positions"] == {}
    assert [i[2] for i in rig.book()["intents"]] == ["filled", "filled"]
    assert len(rig.venue(venue)["sends"]) == 2  # the close went out once
