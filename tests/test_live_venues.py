"""The live desk on OKX, TopStep and Robinhood against stand-in venue workers: per venue an
open, a close and flat with the book equal to the venue; orders by client order id, once."""

from __future__ import annotations

from pathlib import Path

import pytest
from venue_rig import OKX_SWAP, ROBINHOOD, T0, TOPSTEP, VenueRig, strategy

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
