"""Live Hyperliquid through the supervisor, against the local venue, through the real SDK.

Every cycle is a real ``go-trader --once``; the venue moves along the simulated market, fills
IOC orders, rests and triggers the stop and targets, and charges fees. After every cycle the
book must equal the venue's account: positions to the lot, cash to the cent.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from live_rig import T0, Rig, sim, strategy

COIN = "ETH"


@pytest.fixture
def rig(tmp_path: Path) -> Iterator[Rig]:
    r = Rig(tmp_path, [strategy()])
    try:
        yield r
    finally:
        r.close()


def venue_price(t: int) -> float:
    return float(f"{sim(COIN, t):.5g}")


def first_cross(start: int, level: float, above: bool, horizon_min: int = 24 * 60) -> int:
    for m in range(1, horizon_min):
        x = venue_price(start + 60 * m)
        if (x >= level) if above else (x <= level):
            return start + 60 * m
    raise AssertionError("the simulated path never crosses the level")


def agree(rig: Rig) -> None:
    assert rig.book_size(COIN) == pytest.approx(rig.venue_size(COIN), abs=1e-9)
    assert rig.book()["cash"]["hl-live"] == pytest.approx(rig.venue_cash(), abs=0.01)


def run(rig: Rig, t: int, signal: int) -> str:
    rig.at(t)
    rig.signal("hl-live", COIN, signal)
    proc = rig.cycle()
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc.stderr


def test_open_targets_and_stop_rest_then_fill_and_the_book_follows_the_venue(rig: Rig) -> None:
    """Open -> stop and both targets rest in the same cycle (upstream #885) -> target 1 fills
    on the venue -> booked at the venue's price and fee, the stop resized to what is left
    (#621) -> target 2 fills -> flat, the orphaned stop cancelled; book == venue each cycle."""
    t_open = T0 + 3600
    run(rig, t_open, 1)
    agree(rig)
    book = rig.book()
    (side, qty, guard), *_ = book["positions"].values()
    assert side == "long" and guard["stop_oid"] > 0 and all(guard["target_oids"])
    resting = {o.oid for o in rig.server.venue.orders.values() if o.status == "open"}
    assert {guard["stop_oid"], *guard["target_oids"]} == resting
    entry = book["trades"][0][3]
    tp1, tp2 = guard["targets"][0][0], guard["targets"][1][0]
    t1 = first_cross(t_open, tp1, above=True)
    t2 = first_cross(t_open, tp2, above=True)
    assert venue_price(t_open) == entry and t1 < t2
    mid = (t1 // 3600 + 1) * 3600
    if mid >= t2:
        pytest.skip("the simulated path crosses both targets within one hour")
    run(rig, mid, 0)
    agree(rig)
    book = rig.book()
    tp_rows = [t for t in book["trades"] if t[5] == "take_profit"]
    assert len(tp_rows) == 1 and tp_rows[0][6] == str(guard["target_oids"][0])
    assert tp_rows[0][4] > 0  # the venue's fee, not a model's
    (_, left, g2), *_ = book["positions"].values()
    assert left == pytest.approx(qty / 2)
    stop = rig.server.venue.orders[g2["stop_oid"]]
    assert stop.status == "open" and float(stop.sz) == pytest.approx(left)
    run(rig, (t2 // 3600 + 1) * 3600, 0)
    agree(rig)
    book = rig.book()
    assert book["positions"] == {}
    closes = [t[5] for t in book["trades"] if t[5] and t[5] != "funding"]
    assert closes == ["take_profit", "take_profit"]
    assert any(t[5] == "funding" for t in book["trades"])  # the venue's hourly payments
    assert not [o for o in rig.server.venue.orders.values() if o.status == "open"]


def test_signal_close_is_reduce_only_and_cancels_protection(rig: Rig) -> None:
    run(rig, T0 + 3600, 1)
    run(rig, T0 + 3600 + 300, -1)  # direction long: a sell signal closes
    agree(rig)
    book = rig.book()
    assert book["positions"] == {} and rig.venue_size(COIN) == 0.0
    assert [i[1] for i in book["intents"]] == ["open", "close"]
    assert all(i[2] == "filled" for i in book["intents"])
    assert not [o for o in rig.server.venue.orders.values() if o.status == "open"]


def test_a_close_made_on_the_venue_is_booked_as_external(rig: Rig) -> None:
    import eth_account
    from hyperliquid.exchange import Exchange
    from live_rig import AGENT_KEY, owner

    run(rig, T0 + 3600, 1)
    rig.at(T0 + 3600 + 120)
    ex = Exchange(eth_account.Account.from_key(AGENT_KEY), rig.server.url, account_address=owner())
    ex.market_close(COIN)
    assert rig.venue_size(COIN) == 0.0
    run(rig, T0 + 3600 + 300, 0)
    agree(rig)
    book = rig.book()
    assert book["positions"] == {}
    assert [t[5] for t in book["trades"]][-1] == "external"


def breakeven_path() -> tuple[int, int, int]:
    """An entry hour whose path crosses target 1 (+0.3%), then falls back through the entry
    before target 2 (+0.6%): (open, target-1 time, stop time)."""
    for k in range(1, 24 * 20):
        start = T0 + k * 3600
        e = venue_price(start)
        t1 = None
        for m in range(1, 24 * 60):
            t = start + 60 * m
            x = venue_price(t)
            if x <= e * 0.97 or x >= e * 1.006:
                break
            if t1 is None and x >= e * 1.003:
                t1 = t
            elif t1 is not None and t > t1 + 600 and x < e * 0.999:
                return start, t1, t
    raise AssertionError("no such path in the simulated market")


def test_the_stop_moves_to_break_even_after_target_one_then_fills_there(tmp_path: Path) -> None:
    """open -> stop and targets rest -> target 1 fills -> the stop moves to the entry on the
    venue (sl_after: breakeven) -> the price falls back -> the stop fills -> flat, the book
    equal to the venue to the cent at every cycle."""
    closes = [
        {
            "name": "tiered_tp_pct",
            "params": {
                "tp_tiers": [
                    {"profit_pct": 0.003, "close_fraction": 0.5, "sl_after": "breakeven"},
                    {"profit_pct": 0.006, "close_fraction": 1.0},
                ]
            },
        }
    ]
    rig = Rig(tmp_path, [strategy(close_strategies=closes)])
    try:
        t_open, t1, t_stop = breakeven_path()
        run(rig, t_open, 1)
        agree(rig)
        (_, qty, g), *_ = rig.book()["positions"].values()
        entry = rig.book()["trades"][0][3]
        assert g["stop_after"] == [entry, 0.0] and g["stop"] < entry
        run(rig, t1 + 120, 0)
        agree(rig)
        (_, left, g), *_ = rig.book()["positions"].values()
        assert left == pytest.approx(qty / 2) and g["stop"] == entry
        stop = rig.server.venue.orders[g["stop_oid"]]
        assert stop.status == "open" and float(stop.sz) == pytest.approx(left)
        assert float(stop.trigger_px) == pytest.approx(entry, rel=1e-4)  # 5 significant figures
        run(rig, t_stop + 120, 0)
        agree(rig)
        book = rig.book()
        assert book["positions"] == {}
        reasons = [t[5] for t in book["trades"] if t[5] not in ("", "funding")]
        assert reasons == ["take_profit", "stop_loss"]
        assert book["trades"][-1][6] == str(g["stop_oid"])  # booked from the stop's own fill
    finally:
        rig.close()


def test_inspect_shows_live_orders_and_outcomes(rig: Rig) -> None:
    import subprocess
    import sys

    from live_rig import REPO

    rig.server.venue.faults.add("order", "reject")
    run(rig, T0 + 3600, 1)
    run(rig, T0 + 3900, 1)
    proc = subprocess.run(
        [sys.executable, "-m", "supervisor.cli", "inspect", "hl-live", "--config", str(rig.config)],
        cwd=REPO,
        env=rig.env(),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    assert "live orders (2 newest)" in proc.stdout
    assert "open buy" in proc.stdout and "failed" in proc.stdout and "filled" in proc.stdout
