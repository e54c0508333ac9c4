"""Issue 23's follow-ups against the venues' own local venues (platforms/<venue>/localvenue as
processes, the real worker scripts, 127.0.0.1 only): ``capital_pct`` on live OKX, TopStep and
Robinhood (one ``check_balance.py`` read per platform per cycle), live OKX swap funding read
from the venue's bills, and the live OKX spot holdings check."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from venue_local import T_OPEN, LocalRig, LocalVenues
from venue_rig import (
    OKX_SPOT,
    OKX_SWAP,
    REPO,
    ROBINHOOD,
    TOPSTEP,
    VenueRig,
    app_extra,
    strategy,
)

from shared_tools.book.model import Position
from shared_tools.domain import Kind
from supervisor.live import venue_check, venue_funding
from supervisor.run.jobs import Result
from supervisor.state.models import StrategyState

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


# -- 3. OKX spot holdings are checked ------------------------------------------------------
def _cfg(tmp_path: Path, entries: list[dict]):
    from shared_tools.config.load import load_config

    rig = LocalRig.__new__(LocalRig)  # only its config writer: no venue needed
    VenueRig.__init__(rig, tmp_path, entries)
    return load_config(rig.config)


def _strat(sid: str, coin: str, qty: float, kind: Kind = Kind.SPOT) -> StrategyState:
    strat = StrategyState(sid, kind.value, "okx", 0.0, 1000.0)
    if qty:
        strat.positions[coin] = Position(coin, f"p-{sid}", qty, qty, 100.0, qty * 100.0, kind=kind)
    return strat


def _spot_entries() -> list[dict]:
    return [
        strategy("s1", "okx", "ETH", "spot"),
        strategy("s2", "okx", "ETH", "spot"),
        strategy("w1", "okx", "ETH", "perps"),  # a swap on the same coin: another book
    ]


def test_spot_holdings_check_sums_strategies_ignores_dust_and_surplus(tmp_path: Path) -> None:
    cfg = _cfg(tmp_path, _spot_entries())
    books = {"s1": _strat("s1", "ETH", 1.0), "s2": _strat("s2", "ETH", 0.5)}
    books["w1"] = _strat("w1", "ETH", 7.0, Kind.PERPS)  # never summed into the spot book
    assert "okx:spot" in venue_check.venues(cfg)
    extra: dict = {}
    assert not venue_check.check(cfg, books, extra, "okx:spot", {"ETH": 1.5}).gaps
    assert not venue_check.check(cfg, books, extra, "okx:spot", {"ETH": 9.0}).gaps  # surplus
    dust = 1.5 - 0.0001  # one lot under: dust (or a fee taken in the coin)
    assert not venue_check.check(cfg, books, extra, "okx:spot", {"ETH": dust}).gaps
    # each strategy alone is covered by 1.2; the two together are not: a gap
    for n in range(1, 4):
        out = venue_check.check(cfg, books, extra, "okx:spot", {"ETH": 1.2})
        assert out.gaps == {"ETH"} and "book +1.5 vs venue +1.2" in out.notes[0]
        assert bool(out.events) == (n == 3)  # the alert after three cycles, once
    assert "OKX:SPOT RECONCILE GAP ETH" in out.events[0].text
    assert books["s1"].positions["ETH"].quantity == 1.0  # the book is never changed
    out = venue_check.check(cfg, books, extra, "okx:spot", {"ETH": 1.5})
    assert not out.gaps and "RESOLVED" in out.events[0].text
    assert venue_check.holdings_of(None) is None  # a failed read is never "nothing held"


def _execute(rig: LocalRig, *args: str) -> dict:
    proc = subprocess.run(
        [sys.executable, str(REPO / "shared_scripts" / "check_okx.py"), "--execute", *args],
        cwd=REPO,
        env=rig.env(),
        capture_output=True,
        text=True,
        timeout=60,
    )
    return json.loads(proc.stdout)


def test_okx_spot_coins_sold_outside_the_book_are_a_gap_that_holds_buys(
    tmp_path: Path, venues
) -> None:
    sid, venue, coin, stype = OKX_SPOT
    other = "okx-spot-2"
    entries = [strategy(s, venue, coin, stype, capital=2000) for s in (sid, other)]
    rig = LocalRig(tmp_path, entries, venues)
    rig.signal(other, coin, 0)
    _run(rig, T_OPEN + 240, sid, coin, 1)
    held = rig.book_size(sid, coin)
    assert held > 0
    # someone sells most of it on the venue's UI: the holding falls below the book
    sold = _execute(
        rig,
        f"--symbol={coin}",
        "--side=sell",
        f"--size={round(held * 0.6, 4)!r}",
        "--mode=live",
        "--inst-type=spot",
        "--client-order-id=gtmanual0000000000000001",
    )
    assert "error" not in sold, sold
    rig.signal(other, coin, 1)  # the other strategy wants to buy: held while the gap lasts
    errs = [_run(rig, T_OPEN + 300 * k, sid, coin, 0) for k in (2, 3, 4)]
    assert f"okx:spot {coin}: book +{held:g}" in errs[0], errs[0][-3000:]
    assert f"entries on {coin} held" in errs[0]
    assert f"OKX:SPOT RECONCILE GAP {coin} (3 consecutive cycles)" in errs[2]
    assert rig.book_size(sid, coin) == pytest.approx(held)  # never silently fixed
    assert rig.book_size(other, coin) == 0
    assert [rig.intent_owner(i[0]) for i in rig.book()["intents"]] == [sid]  # no buy went out


# -- 2. live OKX swap funding from the venue's bills ---------------------------------------
def _bills(rig: LocalRig, since_ms: int) -> list[dict]:
    proc = subprocess.run(
        [sys.executable, str(REPO / "shared_scripts" / "fetch_okx_bills.py")]
        + [f"--since-ms={since_ms}"],
        cwd=REPO,
        env=rig.env(),
        capture_output=True,
        text=True,
        timeout=60,
    )
    doc = json.loads(proc.stdout)
    assert proc.returncode == 0, doc
    return [b for b in doc["bills"] if b["type"] == "8"]


def _bill_result(*bills: dict) -> Result:
    data = {"bills": list(bills), "capped": False}
    return Result(venue_funding.JOB, data, None, 0, "", 0.0)


def _bill(bid: str, amount: float, ts: int = 2_000, inst: str = "ETH-USDT-SWAP") -> dict:
    return {"bill_id": bid, "ts_ms": ts, "type": "8", "bal_chg": amount, "inst_id": inst}


def test_funding_bills_split_by_quantity_on_a_shared_coin_and_book_once(tmp_path: Path) -> None:
    entries = [
        strategy(s, "okx", c, "perps") for s, c in (("a", "ETH"), ("b", "ETH"), ("c", "SOL"))
    ]
    cfg = _cfg(tmp_path, entries)
    books = {s: _strat(s, "ETH", q, Kind.PERPS) for s, q in (("a", 3.0), ("b", 1.0))}
    books["c"] = _strat("c", "SOL", 0.0, Kind.PERPS)  # the sole SOL owner, flat again
    extra: dict = {}
    venue_funding.ledger(extra, 1_000)
    r = _bill_result(_bill("1", -4.0), _bill("2", 0.5, inst="SOL-USDT-SWAP"), _bill("3", 9, 10))
    out = venue_funding.book(cfg, books, extra, r, "2026-01-01T00:00:00Z", 3_000)
    got = {(sid, t.realized_pnl) for sid, t in out.trades}
    assert got == {("a", -3.0), ("b", -1.0), ("c", 0.5)}  # bill 3 predates the first cycle
    assert books["a"].cash == -3.0 and books["c"].cash == 0.5
    again = venue_funding.book(cfg, books, extra, r, "2026-01-01T00:05:00Z", 4_000)
    assert again.trades == []  # each bill once, by its id
    failed = Result(venue_funding.JOB, None, "HTTP 502", 1, "", 0.0)
    out = venue_funding.book(cfg, books, extra, failed, "2026-01-01T00:10:00Z", 5_000)
    assert out.trades == [] and "okx bills not read" in out.notes[0]


def test_okx_swap_funding_is_booked_from_the_venue_once(tmp_path: Path, venues) -> None:
    """Last in the module: it moves the venue clock past a funding time (16:00 UTC)."""
    sid, venue, coin, stype = OKX_SWAP
    rig = LocalRig(tmp_path, [strategy(sid, venue, coin, stype)], venues)
    _run(rig, T_OPEN + 2400, sid, coin, 1)
    assert rig.book_size(sid, coin) > 0
    funding_at = T_OPEN + 3600  # 2026-12-08T16:00Z, an OKX funding time
    venues.control(venue, op="clock", set_ms=(funding_at + 100) * 1000)
    _run(rig, funding_at + 100, sid, coin, 1)
    _run(rig, funding_at + 400, sid, coin, 1)  # read again: nothing twice
    bills = [b for b in _bills(rig, (T_OPEN + 2400) * 1000) if b["inst_id"].startswith(coin)]
    assert [b["ts_ms"] for b in bills] == [funding_at * 1000]
    rows = [t for t in rig.book()["trades"] if t[1] == "funding"]
    assert len(rows) == 1
    con = sqlite3.connect(rig.db)
    (pnl,) = con.execute("SELECT realized_pnl FROM trades WHERE side = 'funding'").fetchone()
    con.close()
    assert pnl == pytest.approx(bills[0]["bal_chg"]) and pnl != 0
    assert bills[0]["bill_id"] in app_extra(rig.db)["okx_funding"]["bills"]
