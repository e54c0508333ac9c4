"""``go-trader force-close`` on a live OKX swap, against the local OKX venue (real workers,
127.0.0.1): the queue row is committed before the order leaves; the close goes through the
swap's reduce-only close worker (close_okx_position.py) with the row's client order id; the
daemon's next cycle books it once. A lost answer is one order, never two; a CLI killed with
kill -9 at random points leaves the book equal to the venue after the next cycle, with at most
one order per row."""

from __future__ import annotations

import random
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from venue_local import T_OPEN, LocalRig, LocalVenues
from venue_rig import REPO, strategy

from supervisor.live.venues import venue_cloid

VENUE = "okx"
ORDER = "POST trade/order"


@pytest.fixture(scope="module")
def venues() -> Iterator[LocalVenues]:
    v = LocalVenues(seed=11)
    try:
        yield v
    finally:
        v.stop()


def _cycle(rig: LocalRig, t: int, sid: str, coin: str, signal_: int) -> str:
    rig.at(t)
    rig.signal(sid, coin, signal_)
    done = rig.cycle()
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stderr


def _cli(rig: LocalRig, *args: str) -> list[str]:
    return [sys.executable, "-m", "supervisor.cli", *args, "--config", str(rig.config)]


def _rows(rig: LocalRig) -> list[tuple]:
    con = sqlite3.connect(rig.db)
    try:
        return con.execute(
            "SELECT id, action, status, fill_qty, cloid FROM manual_actions ORDER BY id"
        ).fetchall()
    finally:
        con.close()


def _wait_for_worker(cloid: str, limit_s: float = 90.0) -> None:
    """Until no process carries ``cloid`` in its argv (read from /proc; nothing is killed)."""
    deadline = time.monotonic() + limit_s
    while time.monotonic() < deadline:
        alive = False
        for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
            try:
                if cloid.encode() in cmdline.read_bytes():
                    alive = True
                    break
            except OSError:
                continue
        if not alive:
            return
        time.sleep(0.2)
    raise AssertionError(f"a worker with {cloid} still runs after {limit_s:g}s")


def _opened(tmp: Path, venues: LocalVenues, sid: str, coin: str, t: int) -> LocalRig:
    rig = LocalRig(tmp, [strategy(sid, VENUE, coin, "perps")], venues)
    _cycle(rig, t, sid, coin, 1)
    assert rig.book_size(sid, coin) > 0
    assert rig.venue_size(VENUE, coin) == pytest.approx(rig.book_size(sid, coin))
    return rig


def test_a_lost_answer_is_one_close_and_the_daemon_books_it_once(tmp_path: Path, venues) -> None:
    sid, coin = "okx-fc", "BTC"
    rig = _opened(tmp_path, venues, sid, coin, T_OPEN)
    orders = rig.orders(VENUE)
    venues.fault(VENUE, "drop", kind=ORDER)  # placed, the answer never arrives
    done = subprocess.run(
        _cli(rig, "force-close", sid), cwd=REPO, env=rig.env(), capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert rig.orders(VENUE) == orders + 1  # asked by its clOrdId, never sent again
    assert rig.venue_size(VENUE, coin) == 0
    again = subprocess.run(
        _cli(rig, "force-close", sid), cwd=REPO, env=rig.env(), capture_output=True, text=True
    )
    assert again.returncode == 1 and "queued action" in again.stderr  # not booked yet
    _cycle(rig, T_OPEN + 300, sid, coin, 0)
    assert [r[2] for r in _rows(rig)] == ["applied"]
    assert rig.book_size(sid, coin) == 0
    closes = [t for t in rig.book()["trades"] if t[0] == sid and t[5] == "force_close"]
    assert len(closes) == 1
    _cycle(rig, T_OPEN + 600, sid, coin, 0)
    assert rig.orders(VENUE) == orders + 1 and rig.book_size(sid, coin) == 0


@pytest.mark.parametrize("point", range(3))
def test_a_cli_killed_at_a_random_point_leaves_the_book_equal_to_the_venue(
    tmp_path: Path, venues, point: int
) -> None:
    coin = ("ETH", "SOL", "BTC")[point]
    sid = f"okx-kill-{point}"
    t = T_OPEN + 1200 + 900 * point
    rig = _opened(tmp_path, venues, sid, coin, t)
    orders = rig.orders(VENUE)
    hold = 2.0
    venues.fault(VENUE, "timeout", kind=ORDER, hold_s=hold)  # the request sits at the venue
    rnd = random.Random(1000 + point)
    proc = subprocess.Popen(
        _cli(rig, "force-close", sid),
        cwd=REPO,
        env=rig.env(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    if point == 0:  # early: before (or while) the row is committed
        delay = rnd.uniform(0.1, 1.5)
    else:  # the row is committed: before, while or after its order sits at the venue
        deadline = time.monotonic() + 60
        while not _rows(rig) and time.monotonic() < deadline:
            time.sleep(0.05)
        delay = rnd.uniform(0.0, hold + 2.0)
    time.sleep(delay)
    proc.send_signal(signal.SIGKILL)
    proc.wait(10)
    at_kill = [r[2] for r in _rows(rig)]
    for row in _rows(rig):  # the CLI's worker outlives it (own session): its order may land
        _wait_for_worker(venue_cloid(VENUE, row[4]))
    venues.control(VENUE, op="clear_faults")
    _cycle(rig, t + 300, sid, coin, 0)
    _cycle(rig, t + 600, sid, coin, 0)
    sent = rig.orders(VENUE) - orders
    assert sent <= 1, (delay, at_kill, _rows(rig))  # at most one order for the row
    if sent:  # it landed: booked once, by the CLI's answer or by its cloid (killed mid-flight)
        assert [r[2] for r in _rows(rig)] == ["applied"] and rig.book_size(sid, coin) == 0
    assert rig.book_size(sid, coin) == pytest.approx(rig.venue_size(VENUE, coin)), (
        delay,
        _rows(rig),
    )
