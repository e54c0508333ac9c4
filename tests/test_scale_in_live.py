"""Scale-in live on the local Hyperliquid venue: an add is a same-side order (not reduce-only),
the resting stop grows to the new size in the same cycle at the same trigger, and a supervisor
killed mid-add never fills the add twice."""

from __future__ import annotations

import signal
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from live_rig import T0, Rig, sim, strategy
from live_soak import check, fills_per_cloid

COIN = "ETH"
ATR = 20.0


def scaling(**extra) -> dict:
    return strategy(
        stop_loss_pct=0,
        stop_loss_atr_mult=2,
        allow_scale_in=True,
        scale_in={"add_notional_usd": 500, "max_adds": 3},
        **extra,
    )


@pytest.fixture
def rig(tmp_path: Path) -> Iterator[Rig]:
    r = Rig(tmp_path, [scaling()])
    try:
        yield r
    finally:
        r.close()


def run(rig: Rig, t: int, sig: int) -> str:
    rig.at(t)
    rig.signal("hl-live", COIN, sig, indicators={"atr": ATR})
    proc = rig.cycle()
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc.stderr


def held(rig: Rig) -> tuple[float, dict]:
    ((_side, qty, guard),) = rig.book()["positions"].values()
    return qty, guard


def test_an_add_is_a_same_side_order_and_the_stop_grows_in_the_same_cycle(rig: Rig) -> None:
    run(rig, T0 + 3600, 1)
    qty, guard = held(rig)
    stop = rig.server.venue.orders[guard["stop_oid"]]
    assert float(stop.sz) == pytest.approx(qty) and check(rig) == []
    t = T0 + 3600 + 300
    run(rig, t, 1)  # the same side again: an add
    book = rig.book()
    assert [i[1] for i in book["intents"]] == ["open", "add"]
    assert all(i[2] == "filled" for i in book["intents"])
    add = [tr for tr in book["trades"] if tr[7] == "scale_in"]
    assert len(add) == 1 and add[0][1] == "buy"
    assert add[0][2] * add[0][3] == pytest.approx(500, rel=0.01)  # add_notional_usd at the fill
    grown, g2 = held(rig)
    assert grown == pytest.approx(qty + add[0][2]) and check(rig) == []
    assert g2["stop"] == guard["stop"]  # the trigger stays at the anchor
    stop2 = rig.server.venue.orders[g2["stop_oid"]]
    assert stop2.status == "open" and float(stop2.sz) == pytest.approx(grown)
    assert float(stop2.trigger_px) == pytest.approx(float(stop.trigger_px))
    assert rig.venue_size(COIN) == pytest.approx(grown)
    assert sim(COIN, t) > 0


def test_a_kill_mid_add_never_fills_it_twice(tmp_path: Path) -> None:
    mid_cycle = 0
    for n, delay in enumerate((1.0, 2.2)):
        (tmp_path / f"k{n}").mkdir()
        rig = Rig(tmp_path / f"k{n}", [scaling()])
        try:
            run(rig, T0 + 3600, 1)
            qty, _ = held(rig)
            rig.at(T0 + 3600 + 300)
            rig.signal("hl-live", COIN, 1, indicators={"atr": ATR})
            proc = rig.popen()
            time.sleep(delay)
            mid_cycle += proc.poll() is None
            proc.send_signal(signal.SIGKILL)
            proc.wait()
            for k in (2, 3):  # restart: resolve what the kill left, then settle
                run(rig, T0 + 3600 + 300 * k, 0)
            assert check(rig) == []
            assert max(fills_per_cloid(rig).values()) == 1
            adds = [i for i in rig.book()["intents"] if i[1] == "add" and i[2] == "filled"]
            grown, g = held(rig)
            assert len(adds) <= 1 and (grown > qty) == bool(adds)
            stop = rig.server.venue.orders[g["stop_oid"]]
            assert float(stop.sz) == pytest.approx(grown)
        finally:
            rig.close()
    assert mid_cycle >= 1  # at least one kill landed inside the add's cycle
