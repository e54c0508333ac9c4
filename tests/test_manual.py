"""Manual trading (go-trader manual-*) against the local Hyperliquid venue, through the real
SDK: the CLI places the order under the manual-action lock with its queue row committed first;
the daemon's next cycle books it at the venue's numbers and protects it. Never twice."""

from __future__ import annotations

import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from live_rig import REPO, T0, Rig

COIN = "ETH"
SID = "hl-man"


def manual_strategy(**extra: object) -> dict:
    entry = {"id": SID, "type": "manual", "symbol": COIN, "capital": 10_000, "leverage": 2}
    entry.update(extra)
    return entry


@pytest.fixture
def rig(tmp_path: Path) -> Iterator[Rig]:
    r = Rig(tmp_path, [manual_strategy()])
    try:
        r.at(T0 + 3600)
        first = r.cycle()
        assert first.returncode == 0, first.stderr[-3000:]
        yield r
    finally:
        r.close()


def cli(rig: Rig, *args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "supervisor.cli", *args, "--config", str(rig.config)],
        cwd=REPO,
        env=rig.env(),
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def popen(rig: Rig, *args: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "supervisor.cli", *args, "--config", str(rig.config)],
        cwd=REPO,
        env=rig.env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def cycle(rig: Rig, t: int) -> str:
    rig.at(t)
    proc = rig.cycle()
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc.stderr


def rows(rig: Rig) -> list[tuple]:
    con = sqlite3.connect(rig.db)
    try:
        return con.execute(
            "SELECT id, action, status, fill_qty, oid, error, cloid FROM manual_actions ORDER BY id"
        ).fetchall()
    finally:
        con.close()


def venue_orders(rig: Rig) -> int:
    """Orders the venue accepted that opened or closed (not the resting protection)."""
    return len([f for f in rig.account().fills if f.coin == COIN]) if hasattr(
        rig.account(), "fills"
    ) else -1


def resting(rig: Rig) -> set[int]:
    return {o.oid for o in rig.server.venue.orders.values() if o.status == "open"}


def agree(rig: Rig) -> None:
    assert rig.book_size(COIN) == pytest.approx(rig.venue_size(COIN), abs=1e-9)
    assert rig.book()["cash"][SID] == pytest.approx(rig.venue_cash(), abs=0.01)


def test_open_then_cycle_books_the_venue_fill_and_protects_it(rig: Rig) -> None:
    t = T0 + 3600 + 60
    rig.at(t)
    out = cli(rig, "manual-open", SID, "--size", "0.5", "--atr", "25")
    assert out.returncode == 0, out.stderr
    assert rig.venue_size(COIN) == pytest.approx(0.5)
    assert rig.book()["positions"] == {}  # the daemon books it, not the CLI
    assert [r[2] for r in rows(rig)] == ["filled"]
    cycle(rig, t + 240)
    agree(rig)
    book = rig.book()
    (side, qty, guard), *_ = book["positions"].values()
    assert side == "long" and qty == pytest.approx(0.5)
    opens = [tr for tr in book["trades"] if tr[0] == SID]
    assert len(opens) == 1 and opens[0][4] > 0 and opens[0][6] == str(rows(rig)[0][4])
    entry = opens[0][3]
    assert guard["stop"] == pytest.approx(entry - 2.0 * 25)  # manual default: 2 ATR
    assert [p for p, _f in guard["targets"]] == pytest.approx([entry + 50, entry + 75])
    assert guard["stop_oid"] > 0 and all(guard["target_oids"])
    assert {guard["stop_oid"], *guard["target_oids"]} == resting(rig)
    assert [r[2] for r in rows(rig)] == ["applied"]
    cycle(rig, t + 540)  # booked once: the reconcile does not book the fill again
    agree(rig)
    assert len([tr for tr in rig.book()["trades"] if tr[5] == ""]) == 1

    out = cli(rig, "manual-close", SID)
    assert out.returncode == 0, out.stderr
    assert rig.venue_size(COIN) == 0.0
    assert not resting(rig)  # protection cancelled on the full close
    cycle(rig, t + 840)
    agree(rig)
    book = rig.book()
    assert book["positions"] == {}
    assert [tr[5] for tr in book["trades"] if tr[5] not in ("", "funding")] == ["manual"]
