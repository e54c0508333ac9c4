"""Two live strategies on one coin (one venue account), and the trailing stop on the venue.

The venue nets the coin; the book keeps each strategy's own (virtual) quantity, and their sum
must be the on-chain size (upstream #258: shared coins are never resynced to the chain's
quantity). Each strategy's protection is sized to its own quantity (#601); an aggregate fill
is split by their shares (#1029); the kill switch closes each share reduce-only.
"""

from __future__ import annotations

import eth_account
import pytest
from hyperliquid.exchange import Exchange
from live_rig import AGENT_KEY, T0, Rig, owner, strategy

COIN = "ETH"


def run(rig: Rig, t: int, signals: dict[str, int]) -> str:
    rig.at(t)
    for sid, sig in signals.items():
        rig.signal(sid, COIN, sig)
    proc = rig.cycle()
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc.stderr


def agree(rig: Rig) -> None:
    assert rig.book_size(COIN) == pytest.approx(rig.venue_size(COIN), abs=1e-9)
    assert rig.book_cash() == pytest.approx(rig.venue_cash(), abs=0.01)


@pytest.fixture
def pair(tmp_path):
    rig = Rig(tmp_path, [strategy("hl-a"), strategy("hl-b", margin_per_trade_usd=500)], usd=20_000)
    try:
        yield rig
    finally:
        rig.close()


def test_two_strategies_share_a_coin_and_each_protects_its_own_share(pair: Rig) -> None:
    """#258/#601: quantities sum to the chain; each stop is sized to its owner's share."""
    run(pair, T0 + 3600, {"hl-a": 1, "hl-b": 1})
    agree(pair)
    pos = pair.book()["positions"]
    qa, qb = pos[("hl-a", COIN)][1], pos[("hl-b", COIN)][1]
    assert qa == pytest.approx(2 * qb, rel=1e-3)
    for sid, qty in (("hl-a", qa), ("hl-b", qb)):
        stop = pair.server.venue.orders[pos[(sid, COIN)][2]["stop_oid"]]
        assert float(stop.sz) == pytest.approx(qty)
    run(pair, T0 + 3900, {"hl-a": -1, "hl-b": 0})  # one closes its share, reduce-only
    agree(pair)
    assert ("hl-a", COIN) not in pair.book()["positions"]
    assert pair.venue_size(COIN) == pytest.approx(qb)


def test_a_close_of_the_whole_coin_on_the_venue_is_split_by_share(pair: Rig) -> None:
    """#1029: one aggregate external fill is split by the strategies' quantities."""
    run(pair, T0 + 3600, {"hl-a": 1, "hl-b": 1})
    pair.at(T0 + 3700)
    ex = Exchange(eth_account.Account.from_key(AGENT_KEY), pair.server.url, account_address=owner())
    ex.market_close(COIN)
    run(pair, T0 + 3900, {"hl-a": 0, "hl-b": 0})
    agree(pair)
    ext = [t for t in pair.book()["trades"] if t[5] == "external"]
    assert sorted(t[0] for t in ext) == ["hl-a", "hl-b"]
    assert ext[0][2] / ext[1][2] == pytest.approx(2.0 if ext[0][0] == "hl-a" else 0.5, rel=1e-3)


def venue_price(t: int) -> float:
    from live_rig import sim

    return float(f"{sim(COIN, t):.5g}")


def rise_path() -> tuple[int, int]:
    """An entry hour whose price rises 0.8% before it falls 0.9% (the 1% trail never fires)."""
    for k in range(1, 24 * 20):
        start = T0 + k * 3600
        e = venue_price(start)
        for m in range(1, 24 * 60):
            x = venue_price(start + 60 * m)
            if x < e * 0.991:
                break
            if x > e * 1.008:
                return start, start + 60 * m
    raise AssertionError("no such path in the simulated market")


def test_the_trailing_stop_rests_on_the_venue_and_only_tightens(tmp_path) -> None:
    """#1416 and the walker: the resting stop follows the best price, never back."""
    rig = Rig(tmp_path, [strategy(stop_loss_pct=0, trailing_stop_pct=1.0, close_strategies=[])])
    try:
        t0, up = rise_path()
        run(rig, t0, {"hl-live": 1})
        (_, _, g0), *_ = rig.book()["positions"].values()
        first = float(rig.server.venue.orders[g0["stop_oid"]].trigger_px)
        run(rig, up, {"hl-live": 0})
        (_, _, g1), *_ = rig.book()["positions"].values()
        assert g1["stop"] > g0["stop"]
        higher = float(rig.server.venue.orders[g1["stop_oid"]].trigger_px)
        assert higher > first and rig.server.venue.orders[g0["stop_oid"]].status == "canceled"
        later = next(
            up + 60 * m for m in range(1, 600) if venue_price(up + 60 * m) < venue_price(up)
        )
        if venue_price(later) > g1["stop"]:  # still above the stop: a lower mark, no loosening
            run(rig, later, {"hl-live": 0})
            (_, _, g2), *_ = rig.book()["positions"].values()
            assert g2["stop"] == g1["stop"] and g2["stop_oid"] == g1["stop_oid"]
        agree(rig)
    finally:
        rig.close()
