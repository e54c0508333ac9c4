"""The live desk against the venues' own local venues (platforms/<venue>/localvenue as
processes, the real worker scripts): per venue open -> close -> flat with the book equal to
the venue; a dropped connection after acceptance is one position; the kill switch flattens a
live position and clears the book (booked only after a positions read confirmed the close: a
failed confirmation keeps the book, tests/test_live_venues.py, since these venues' close workers
read positions themselves and a counted fault cannot tell the two reads apart)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from venue_local import POSITIONS_KIND, T_OPEN, LocalRig, LocalVenues
from venue_rig import OKX_SWAP, ROBINHOOD, TOPSTEP, latch_kill_switch, strategy

SPECS = [OKX_SWAP, TOPSTEP, ROBINHOOD]
IDS = [s[0] for s in SPECS]
SMALL = {"robinhood": {"capital": 2_000}}  # the venues live for the module: cash to spare


@pytest.fixture(scope="module")
def venues() -> Iterator[LocalVenues]:
    v = LocalVenues()
    try:
        yield v
    finally:
        v.stop()


def _run(rig: LocalRig, t: int, sid: str, coin: str, signal: int) -> str:
    rig.at(t)
    rig.signal(sid, coin, signal)
    done = rig.cycle()
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stderr


@pytest.mark.parametrize("spec", SPECS, ids=IDS)
def test_open_close_flat_with_the_book_equal_to_the_venue(tmp_path: Path, venues, spec) -> None:
    sid, venue, coin, stype = spec
    rig = LocalRig(tmp_path, [strategy(sid, venue, coin, stype, **SMALL.get(venue, {}))], venues)
    before = rig.venue_size(venue, coin)
    err = _run(rig, T_OPEN, sid, coin, 1)
    held = rig.venue_size(venue, coin) - before
    assert held > 0, err[-3000:]
    assert rig.book_size(sid, coin) == pytest.approx(held)
    _run(rig, T_OPEN + 300, sid, coin, -1)
    assert rig.venue_size(venue, coin) == pytest.approx(before)
    assert rig.book_size(sid, coin) == 0
    assert [i[2] for i in rig.book()["intents"]] == ["filled", "filled"]
    trades = rig.book()["trades"]
    assert len(trades) == 2 and all(t[6] for t in trades)  # the venue's order ids


@pytest.mark.parametrize("spec", SPECS, ids=IDS)
def test_a_dropped_connection_after_acceptance_is_one_position(
    tmp_path: Path, venues, spec
) -> None:
    sid, venue, coin, stype = spec
    rig = LocalRig(tmp_path, [strategy(sid, venue, coin, stype, **SMALL.get(venue, {}))], venues)
    before, orders = rig.venue_size(venue, coin), rig.orders(venue)
    venues.fault(venue, "drop")
    _run(rig, T_OPEN + 600, sid, coin, 1)
    _run(rig, T_OPEN + 900, sid, coin, 1)
    held = rig.venue_size(venue, coin) - before
    assert held > 0 and rig.book_size(sid, coin) == pytest.approx(held)
    assert rig.orders(venue) == orders + 1  # one order, never a second
    _run(rig, T_OPEN + 1200, sid, coin, -1)
    assert rig.venue_size(venue, coin) == pytest.approx(before)


@pytest.mark.parametrize("spec", SPECS, ids=IDS)
def test_the_kill_switch_flattens_and_clears_the_book_only_once_the_venue_confirms(
    tmp_path: Path, venues, spec
) -> None:
    sid, venue, coin, stype = spec
    rig = LocalRig(tmp_path, [strategy(sid, venue, coin, stype, **SMALL.get(venue, {}))], venues)
    before = rig.venue_size(venue, coin)
    _run(rig, T_OPEN + 1500, sid, coin, 1)
    assert rig.venue_size(venue, coin) > before
    latch_kill_switch(rig.db)
    # the cycle's own positions read fails: the close still goes out (entries are held)
    venues.fault(venue, "5xx", kind=POSITIONS_KIND[venue], count=1)
    err = _run(rig, T_OPEN + 1800, sid, coin, 1)
    assert f"{venue} positions not read" in err
    assert rig.venue_size(venue, coin) == pytest.approx(before)
    _run(rig, T_OPEN + 2100, sid, coin, 1)  # latched: nothing opens
    assert rig.venue_size(venue, coin) == pytest.approx(before)
    assert rig.book()["positions"] == {}
    kills = [t for t in rig.book()["trades"] if t[5] == "kill_switch"]
    assert len(kills) == 1 and kills[0][6]
