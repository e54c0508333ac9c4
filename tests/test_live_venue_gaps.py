"""Issue 23's follow-ups against the venues' own local venues (platforms/<venue>/localvenue as
processes, the real worker scripts, 127.0.0.1 only): ``capital_pct`` on live OKX, TopStep and
Robinhood (one ``check_balance.py`` read per platform per cycle), live OKX swap funding read
from the venue's bills, and the live OKX spot holdings check."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from venue_local import T_OPEN, LocalRig, LocalVenues
from venue_rig import OKX_SWAP, REPO, ROBINHOOD, TOPSTEP, app_extra, strategy

SPECS = [OKX_SWAP, TOPSTEP, ROBINHOOD]
IDS = [s[0] for s in SPECS]


@pytest.fixture(scope="module")
def venues() -> Iterator[LocalVenues]:
    v = LocalVenues(seed=7)
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


def _balance(rig: LocalRig, venue: str) -> float:
    proc = subprocess.run(
        [sys.executable, str(REPO / "shared_scripts" / "check_balance.py"), f"--platform={venue}"],
        cwd=REPO,
        env=rig.env(),
        capture_output=True,
        text=True,
        timeout=60,
    )
    doc = json.loads(proc.stdout)
    assert proc.returncode == 0 and not doc.get("error"), doc
    return float(doc["balance"])


def _capital(rig: LocalRig, sid: str) -> dict:
    return app_extra(rig.db)["capital_pct"][sid]


# -- 1. capital_pct on the three venues -----------------------------------------------------
@pytest.mark.parametrize("spec", SPECS, ids=IDS)
def test_capital_pct_resolves_from_the_venue_balance(tmp_path: Path, venues, spec) -> None:
    sid, venue, coin, stype = spec
    entry = strategy(sid, venue, coin, stype, capital_pct=0.25)
    entry.pop("capital")
    rig = LocalRig(tmp_path, [entry], venues)
    balance = _balance(rig, venue)
    assert balance > 0
    err = _run(rig, T_OPEN, sid, coin, 0)
    got = _capital(rig, sid)
    assert got["capital"] == pytest.approx(balance * 0.25), err[-2000:]
    assert got["source"].startswith(f"{venue} balance")
    assert "[capital_pct] WARN" not in err


def test_a_failed_balance_read_keeps_the_previous_capital_and_warns(tmp_path: Path, venues):
    sid, venue, coin, stype = OKX_SWAP
    entry = strategy(sid, venue, coin, stype, capital_pct=0.5, capital=1234)
    rig = LocalRig(tmp_path, [entry], venues)
    balance = _balance(rig, venue)
    _run(rig, T_OPEN + 60, sid, coin, 0)
    assert _capital(rig, sid)["capital"] == pytest.approx(balance * 0.5)
    venues.fault(venue, "5xx", kind="GET account/balance", count=20)
    try:
        err = _run(rig, T_OPEN + 120, sid, coin, 0)
    finally:
        venues.control(venue, op="clear_faults")
    got = _capital(rig, sid)
    assert got["capital"] == pytest.approx(balance * 0.5)  # the previous one, not 1234 nor 0
    assert got["source"].startswith("previous")
    assert f"[capital_pct] WARN {sid}: no okx balance read" in err


def test_no_balance_and_no_capital_skips_the_strategy(tmp_path: Path, venues) -> None:
    sid, venue, coin, stype = OKX_SWAP
    entry = strategy(sid, venue, coin, stype, capital_pct=0.5)
    entry.pop("capital")
    rig = LocalRig(tmp_path, [entry], venues)
    venues.fault(venue, "5xx", kind="GET account/balance", count=20)
    try:
        err = _run(rig, T_OPEN + 180, sid, coin, 1)
    finally:
        venues.control(venue, op="clear_faults")
    assert "skipped: capital_pct capital resolves to 0" in err
    assert rig.book()["intents"] == []  # nothing was sent
