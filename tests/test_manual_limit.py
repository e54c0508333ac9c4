"""Resting limit orders of manual strategies (go-trader manual-open --limit-price, manual-cancel)
against the local Hyperliquid venue: the CLI commits its row before the order leaves; the
daemon books each new fill once at the venue's numbers, protects the position, cancels when
asked or expired, and resolves a row a killed CLI left ``placing`` by its cloid."""

from __future__ import annotations

import signal
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from live_rig import T0, Rig, sim
from test_manual import COIN, SID, agree, cli, cycle, manual_strategy, popen, resting

T = T0 + 3600 + 60  # the CLI's time; the mid is about 1478 and dips under 1476 within 90 min


@pytest.fixture
def rig(tmp_path: Path) -> Iterator[Rig]:
    r = Rig(tmp_path, [manual_strategy()])
    try:
        r.at(T0 + 3600)
        first = r.cycle()
        assert first.returncode == 0, first.stderr[-3000:]
        r.at(T)
        yield r
    finally:
        r.close()


def limits(rig: Rig) -> list[tuple]:
    con = sqlite3.connect(rig.db)
    try:
        return con.execute(
            "SELECT id, status, order_oid, filled_qty, cancel_requested, error, cloid "
            "FROM pending_limit_orders ORDER BY id"
        ).fetchall()
    finally:
        con.close()


def venue_fills(rig: Rig) -> list[dict]:
    return list(rig.account().fills)


def opens(rig: Rig) -> list[tuple]:
    return [tr for tr in rig.book()["trades"] if tr[0] == SID and tr[5] in ("", "manual")]


def test_an_alo_buy_rests_then_the_crossing_is_booked_at_the_venue_price(rig: Rig) -> None:
    assert sim(COIN, T) > 1476
    out = cli(rig, "manual-open", SID, "--limit-price", "1476", "--size", "0.5", "--atr", "25")
    assert out.returncode == 0, out.stderr
    assert "resting" in out.stdout
    ((rid, status, oid, *_),) = limits(rig)
    assert status == "resting" and oid in resting(rig)
    refused = cli(rig, "manual-open", SID, "--size", "0.5", "--atr", "25")
    assert refused.returncode == 1 and "resting limit order" in refused.stderr
    cycle(rig, T + 240)  # still resting: no position, and the stray sweep leaves it alone
    cycle(rig, T + 540)
    assert oid in resting(rig) and rig.book()["positions"] == {}
    assert limits(rig)[0][1] == "resting"
    cycle(rig, T + 90 * 60)  # the mid crossed 1476 in between
    (fill,) = venue_fills(rig)
    assert fill["oid"] == oid and float(fill["px"]) == pytest.approx(1476)
    agree(rig)
    ((side, qty, guard),) = rig.book()["positions"].values()
    assert side == "long" and qty == pytest.approx(0.5)
    (trade,) = opens(rig)
    assert trade[3] == pytest.approx(1476) and trade[4] == pytest.approx(float(fill["fee"]))
    assert trade[6] == str(oid)
    assert guard["stop"] == pytest.approx(1476 - 2 * 25) and guard["stop_oid"] > 0
    assert {guard["stop_oid"], *guard["target_oids"]} == resting(rig)
    assert limits(rig)[0][1:4] == ("done", oid, pytest.approx(0.5))
    cycle(rig, T + 95 * 60)  # booked once: the reconcile does not book it again
    agree(rig)
    assert len(opens(rig)) == 1


def test_a_partial_fill_across_cycles_books_each_increment_once(rig: Rig) -> None:
    mid = sim(COIN, T)
    rig.server.venue.faults.add("order", "partial", fraction=0.5)
    out = cli(
        rig, "manual-open", SID, "--limit-price", "1480", "--tif", "Gtc", "--size", "0.5",
        "--atr", "25",
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    assert mid < 1480 and limits(rig)[0][1] == "filled"
    cycle(rig, T)  # the venue's clock has not moved: only the half that crossed at once
    agree(rig)
    assert rig.venue_size(COIN) == pytest.approx(0.25)
    assert limits(rig)[0][1] == "resting" or limits(rig)[0][1] == "filled"
    assert limits(rig)[0][3] == pytest.approx(0.25)
    cycle(rig, T + 300)  # the rest rested and filled at its limit
    agree(rig)
    assert rig.venue_size(COIN) == pytest.approx(0.5)
    trades = opens(rig)
    assert [t[2] for t in trades] == pytest.approx([0.25, 0.25])
    first, rest = venue_fills(rig)  # the half at the (rounded) mid, the rest at its limit
    assert float(first["px"]) == pytest.approx(mid, abs=0.5) and float(rest["px"]) == 1480
    assert [t[3] for t in trades] == pytest.approx([float(first["px"]), 1480])
    assert [t[4] for t in trades] == pytest.approx([float(first["fee"]), float(rest["fee"])])
    assert limits(rig)[0][1] == "done"
    ((_side, qty, guard),) = rig.book()["positions"].values()
    assert qty == pytest.approx(0.5) and guard["stop_oid"] in resting(rig)
    cycle(rig, T + 600)
    agree(rig)
    assert len(opens(rig)) == 2


def test_manual_cancel_and_expiry_cancel_on_the_venue(rig: Rig) -> None:
    out = cli(rig, "manual-cancel", SID)
    assert out.returncode == 0 and "no resting limit order" in out.stdout
    args = ("--size", "0.5", "--atr", "25", "--limit-price", "1400")
    assert cli(rig, "manual-open", SID, *args).returncode == 0
    ((rid, _s, oid, *_),) = limits(rig)
    out = cli(rig, "manual-cancel", SID)
    assert out.returncode == 0 and f"#{rid}" in out.stdout
    cycle(rig, T + 240)
    assert oid not in resting(rig)
    cycle(rig, T + 540)
    assert limits(rig)[0][1] == "done" and rig.book()["positions"] == {}
    assert rig.venue_size(COIN) == 0.0

    out = cli(rig, "manual-open", SID, *args, "--expire-after", "30m")
    assert out.returncode == 0, out.stderr
    oid2 = limits(rig)[1][2]
    cycle(rig, T + 20 * 60)
    assert oid2 in resting(rig)
    cycle(rig, T + 40 * 60)
    assert oid2 not in resting(rig)
    cycle(rig, T + 45 * 60)
    assert limits(rig)[1][1] == "done" and rig.book()["positions"] == {}
    agree(rig)


def test_an_alo_that_would_cross_is_rejected_and_kept_failed(rig: Rig) -> None:
    out = cli(rig, "manual-open", SID, "--limit-price", "1500", "--size", "0.5", "--atr", "25")
    assert out.returncode == 1 and "not placed" in out.stderr, out.stderr
    ((_rid, status, oid, _q, _c, error, _cl),) = limits(rig)
    assert status == "failed" and oid == 0 and "Post only" in error
    assert not resting(rig) and rig.venue_size(COIN) == 0.0
    bad = cli(rig, "manual-open", SID, "--limit-price", "1470", "--record-only", "--size", "1")
    assert bad.returncode == 2
    bad = cli(rig, "manual-open", SID, "--limit-price", "1470", "--tif", "Ioc")
    assert bad.returncode == 2
    cycle(rig, T + 240)
    assert rig.book()["positions"] == {} and limits(rig)[0][1] == "failed"


def test_a_cli_killed_after_its_placing_row_is_resolved_by_cloid(rig: Rig) -> None:
    rig.server.venue.faults.add("order", "timeout", hold_s=6)
    proc = popen(rig, "manual-open", SID, "--limit-price", "1476", "--size", "0.5", "--atr", "25")
    deadline = time.monotonic() + 60
    while not limits(rig) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert limits(rig)[0][1] == "placing"
    time.sleep(1.5)  # the worker's request is in the venue's hands
    proc.send_signal(signal.SIGKILL)
    proc.wait(10)
    while not resting(rig) and time.monotonic() < deadline:
        time.sleep(0.2)
    (oid,) = resting(rig)
    again = cli(rig, "manual-open", SID, "--limit-price", "1476", "--size", "0.5", "--atr", "25")
    assert again.returncode == 1 and "resting limit order" in again.stderr
    cycle(rig, T + 240)
    assert limits(rig)[0][1:3] == ("resting", oid)
    cycle(rig, T + 90 * 60)
    agree(rig)
    assert limits(rig)[0][1] == "done" and len(opens(rig)) == 1
    assert len({f["oid"] for f in venue_fills(rig)}) == 1


def test_user_defaults_manual_fill_manual_strategies_and_manual_open(tmp_path: Path) -> None:
    import json

    from shared_tools.config.load import load_config

    tiers = [{"atr_multiple": 1.5, "close_fraction": 1.0}]
    r = Rig(tmp_path, [manual_strategy(), manual_strategy(id="own", margin_per_trade_usd=80)])
    try:
        doc = json.loads(r.config.read_text())
        doc["user_defaults"] = {
            "manual": {
                "side": "short",
                "margin_usd": 120,
                "stop_loss_atr_mult": 3,
                "tp_tiers": tiers,
            }
        }
        r.config.write_text(json.dumps(doc))
        config = load_config(r.config)
        sc, own = config.strategies
        assert config.manual_defaults.side == "short"
        assert sc.margin_per_trade_usd == 120 and own.margin_per_trade_usd == 80
        assert sc.stop_loss_atr_mult == 3
        assert sc.close_strategies[0].params["tp_tiers"] == tiers
        r.at(T0 + 3600)
        assert r.cycle().returncode == 0
        r.at(T)
        out = cli(r, "manual-open", SID, "--dry-run", "--limit-price", "1500", "--atr", "25")
        assert out.returncode == 0, out.stderr
        assert "sell" in out.stdout and "short" in out.stdout and "0.16 ETH" in out.stdout
        doc["user_defaults"]["manual"]["side"] = "up"
        r.config.write_text(json.dumps(doc))
        bad = cli(r, "manual-open", SID, "--dry-run", "--size", "1", "--atr", "25")
        assert bad.returncode == 1 and "user_defaults.manual.side" in bad.stderr
    finally:
        r.close()
