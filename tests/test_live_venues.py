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
    assert all(f >= 0 for f in fees) and fees[-1] > 0  # the venue's fee, not a model's
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


def test_okx_spot_is_an_operator_gap_reported_every_cycle(tmp_path: Path) -> None:
    """OKX spot has no reduce-only order: the kill switch never sells it; it says so loudly
    every cycle, with upstream's texts, and keeps the book until a person closes it."""
    sid, venue, coin, stype = OKX_SPOT
    rig = VenueRig(tmp_path, [strategy(sid, venue, coin, stype)])
    _run(rig, T0, sid, coin, 1)
    held = rig.venue_size(venue, coin, spot=True)
    assert held > 0 and rig.book_size(sid, coin) == pytest.approx(held)
    latch_kill_switch(rig.db)
    for k in (1, 2):
        err = _run(rig, T0 + 300 * k, sid, coin, 1)
        assert "[CRITICAL] okx-close: [okx-spot] ETH" in err and "cannot auto-close spot" in err
        assert "PORTFOLIO KILL SWITCH (GAPS — VERIFY MANUALLY)" in err
    assert rig.venue_size(venue, coin, spot=True) == held  # nothing was sent
    assert rig.book_size(sid, coin) == pytest.approx(held)
    assert len(rig.venue(venue)["sends"]) == 1


def test_a_breaker_on_a_shared_topstep_symbol_closes_its_own_share(tmp_path: Path) -> None:
    """Upstream sent nothing (/order/close flattens the symbol for all, §6.2 Obs); here the
    tripped strategy's own contracts are closed (--sz) and the peer keeps its position."""
    a = strategy("ts-a", "topstep", "ES", "futures")
    b = strategy("ts-b", "topstep", "ES", "futures")
    rig = VenueRig(tmp_path, [a, b])
    rig.signal("ts-b", "ES", 1)
    _run(rig, T0, "ts-a", "ES", 1)
    assert rig.venue_size("topstep", "ES") == 4
    latch_breaker(rig.db, "ts-a")
    _run(rig, T0 + 300, "ts-a", "ES", 0)
    assert rig.venue_size("topstep", "ES") == 2
    assert rig.book_size("ts-a", "ES") == 0 and rig.book_size("ts-b", "ES") == 2


def test_a_latched_breaker_closes_a_sole_owner_with_the_close_worker(tmp_path: Path) -> None:
    sid, venue, coin, stype = ROBINHOOD
    rig = VenueRig(tmp_path, [strategy(sid, venue, coin, stype)])
    _run(rig, T0, sid, coin, 1)
    latch_breaker(rig.db, sid)
    _run(rig, T0 + 300, sid, coin, 0)
    assert rig.venue_size(venue, coin, spot=True) == 0 and rig.book()["positions"] == {}
    assert [t[5] for t in rig.book()["trades"]][-1] == "circuit_breaker"


@pytest.mark.parametrize("spec", VENUES, ids=[s[0] for s in VENUES])
def test_book_and_venue_that_differ_hold_entries_and_alert_after_three_cycles(
    tmp_path: Path, spec
) -> None:
    sid, venue, coin, stype = spec
    rig = VenueRig(tmp_path, [strategy(sid, venue, coin, stype)])
    doc = rig.venue(venue)
    doc["spot" if stype == "spot" else "positions"][coin] = 1.0  # opened by hand on the venue
    (rig.tmp / f"venue-{venue}.json").write_text(__import__("json").dumps(doc))
    errs = [_run(rig, T0 + 300 * k, sid, coin, 1) for k in range(3)]
    assert all("entries on" in e for e in errs)
    assert f"{venue.upper()} RECONCILE GAP {coin}" in errs[2]
    assert rig.book_size(sid, coin) == 0 and rig.venue(venue)["sends"] == []


@pytest.mark.parametrize("spec", VENUES, ids=[s[0] for s in VENUES])
def test_a_failed_positions_read_holds_entries(tmp_path: Path, spec) -> None:
    sid, venue, coin, stype = spec
    rig = VenueRig(tmp_path, [strategy(sid, venue, coin, stype)])
    rig.faults(venue, positions_fail=1)
    err = _run(rig, T0, sid, coin, 1)
    assert f"{venue} positions not read" in err
    assert "workers are taken from" in err  # the rehearsal directory is never silent
    assert rig.venue(venue)["sends"] == []
    _run(rig, T0 + 300, sid, coin, 1)
    assert len(rig.venue(venue)["sends"]) == 1


def test_a_robinhood_buy_over_the_books_cash_latches_cash_reconcile(tmp_path: Path) -> None:
    """#1394: a live spot buy that debits more than the book's cash latches the strategy:
    further live buys are held until the operator clears it."""
    sid, venue, coin, stype = ROBINHOOD
    rig = VenueRig(tmp_path, [strategy(sid, venue, coin, stype)])
    rig.faults(venue, overfill=1)  # the venue fills 2% more than asked
    err = _run(rig, T0, sid, coin, 1)
    assert f"[{sid}] CASH RECONCILE REQUIRED" in err
    assert sid in app_extra(rig.db)["cash_reconcile_required"]
    _run(rig, T0 + 300, sid, coin, -1)  # a sell still goes out
    _run(rig, T0 + 600, sid, coin, 1)  # a buy is held
    assert len(rig.venue(venue)["sends"]) == 2
    import subprocess
    import sys

    from venue_rig import REPO

    cleared = subprocess.run(
        [
            sys.executable,
            "-m",
            "supervisor.cli",
            "--config",
            str(rig.config),
            "clear-cash-reconcile",
            sid,
        ],
        cwd=REPO,
        env=rig.env(),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert cleared.returncode == 0, cleared.stderr
    assert sid not in app_extra(rig.db).get("cash_reconcile_required", {})
    _run(rig, T0 + 900, sid, coin, 1)
    assert len(rig.venue(venue)["sends"]) == 3
