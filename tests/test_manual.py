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


def fills(rig: Rig) -> int:
    """Orders that traded on the venue (distinct order ids of the account's fills)."""
    return len({f["oid"] for f in rig.account().fills})


def set_db(rig: Rig, sql: str) -> None:
    con = sqlite3.connect(rig.db)
    try:
        con.execute(sql)
        con.commit()
    finally:
        con.close()


def refused(rig: Rig, text: str, *args: str) -> None:
    before = fills(rig), len(rows(rig))
    out = cli(rig, *args)
    assert out.returncode == 1, (out.stdout, out.stderr)
    assert text in out.stderr, out.stderr
    assert (fills(rig), len(rows(rig))) == before  # nothing reached the venue or the queue


def test_guards_refuse_before_any_order(rig: Rig) -> None:
    rig.at(T0 + 3600 + 60)
    open_ = ("manual-open", SID, "--size", "0.5", "--atr", "25")
    set_db(
        rig,
        "UPDATE app_state SET extra_json = json_set(extra_json, '$.portfolio_risk.kill_switch', json('true'))",
    )
    refused(rig, "kill switch is latched", *open_)
    set_db(
        rig,
        "UPDATE app_state SET extra_json = json_set(extra_json, '$.portfolio_risk.kill_switch', json('false'))",
    )
    set_db(rig, f"UPDATE strategies SET risk_circuit_breaker = 1 WHERE id = '{SID}'")
    refused(rig, "circuit breaker is latched", *open_)
    set_db(rig, f"UPDATE strategies SET risk_circuit_breaker = 0 WHERE id = '{SID}'")
    refused(rig, "holds no ETH position", "manual-close", SID)
    assert cli(rig, *open_).returncode == 0
    refused(rig, "queued action", *open_)  # not booked yet: the daemon has not run
    cycle(rig, T0 + 3600 + 300)
    refused(rig, "already holds long 0.5 ETH", *open_)
    out = cli(rig, "manual-update-sl", SID, "--trigger", "999999")
    assert out.returncode == 1 and "would fire at once" in out.stderr
    out = cli(rig, "force-close", SID)
    assert out.returncode == 1 and "live Hyperliquid perps" in out.stderr
    assert cli(rig, "manual-open", "--size", "1", "--notional", "5", SID).returncode == 2


def test_dry_run_sends_nothing(rig: Rig) -> None:
    rig.at(T0 + 3600 + 60)
    out = cli(rig, "manual-open", "--dry-run", SID, "--notional", "500", "--atr", "25")
    assert out.returncode == 0 and "dry run" in out.stdout and "nothing sent" in out.stdout
    assert fills(rig) == 0 and rows(rig) == [] and rig.venue_size(COIN) == 0.0


def test_a_held_lock_refuses_the_second_action(rig: Rig) -> None:
    import fcntl
    import os

    from supervisor.live.manual_queue import lock_path

    rig.at(T0 + 3600 + 60)
    fd = os.open(lock_path(rig.db), os.O_RDWR | os.O_CREAT, 0o600)
    fcntl.flock(fd, fcntl.LOCK_EX)  # another manual action in flight
    try:
        started = time.monotonic()
        refused(
            rig,
            "refusing to avoid double-firing an on-chain order",
            "manual-open",
            SID,
            "--size",
            "0.5",
            "--atr",
            "25",
        )
        assert time.monotonic() - started >= 8.0
    finally:
        os.close(fd)


def test_manual_open_racing_a_daemon_cycle_is_one_order(rig: Rig) -> None:
    t = T0 + 3600 + 60
    rig.at(t)
    daemon = rig.popen()
    manual = popen(rig, "manual-open", SID, "--size", "0.5", "--atr", "25")
    assert manual.wait(120) == 0, manual.communicate()[1]
    assert daemon.wait(120) == 0, daemon.communicate()[1]
    cycle(rig, t + 300)
    agree(rig)
    assert fills(rig) == 1 and rig.venue_size(COIN) == pytest.approx(0.5)
    assert [r[2] for r in rows(rig)] == ["applied"]
    assert len([tr for tr in rig.book()["trades"] if tr[0] == SID and tr[5] == ""]) == 1


def test_a_cli_killed_mid_flight_is_resolved_by_its_cloid(rig: Rig) -> None:
    """kill -9 after the row is committed and while the venue holds the order request: the
    order lands anyway; a second action is refused (queued); the daemon's next cycle asks the
    venue by the row's cloid and books the one position once."""
    t = T0 + 3600 + 60
    rig.at(t)
    rig.server.venue.faults.add("order", "timeout", hold_s=6)
    proc = popen(rig, "manual-open", SID, "--size", "0.5", "--atr", "25")
    deadline = time.monotonic() + 60
    while not rows(rig) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert [r[2] for r in rows(rig)] == ["sending"]
    time.sleep(1.5)  # the worker's request is in the venue's hands
    proc.send_signal(signal.SIGKILL)
    proc.wait(10)
    refused(rig, "queued action", "manual-open", SID, "--size", "0.5", "--atr", "25")
    while rig.venue_size(COIN) == 0.0 and time.monotonic() < deadline:
        time.sleep(0.2)
    assert rig.venue_size(COIN) == pytest.approx(0.5)
    cycle(rig, t + 300)
    agree(rig)
    (row,) = rows(rig)
    assert row[2] == "applied" and row[3] == pytest.approx(0.5) and row[4] > 0
    assert fills(rig) == 1
    cycle(rig, t + 600)
    agree(rig)
    assert len([tr for tr in rig.book()["trades"] if tr[0] == SID and tr[5] == ""]) == 1


def test_a_failed_action_is_kept_and_reported(rig: Rig) -> None:
    rig.at(T0 + 3600 + 60)
    rig.server.venue.faults.add("order", "reject")
    out = cli(rig, "manual-open", SID, "--size", "0.5", "--atr", "25")
    assert out.returncode == 1 and "not filled" in out.stderr, out.stderr
    assert [r[2] for r in rows(rig)] == ["failed"]
    err = cycle(rig, T0 + 3600 + 300)
    assert "MANUAL ACTION FAILED" in err
    (row,) = rows(rig)
    assert row[2] == "dead" and row[5]  # kept, with why
    assert rig.book()["positions"] == {} and rig.venue_size(COIN) == 0.0
    out = cli(rig, "manual-open", SID, "--size", "0.5", "--atr", "25")  # not in the way
    assert out.returncode == 0, out.stderr
