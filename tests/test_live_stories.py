"""Regression tests for upstream's live failure stories (section 8 of the upstream notes; the
upstream issue number is in each docstring).

Covered elsewhere: #885 (stop rests in the open's cycle), #621/#714 (stop never above the
on-chain size), #604 (no software target beside an on-chain one: live skips the book's
triggers), #585/#588 (the venue's fee, by order id) in test_live_hl.py; #1416 (trailing) and
#258/#601/#565/#1029 (shared coins) in test_live_shared.py; #341/#350/#356/#418/#433 (kill
switch and breakers) and #339 (missing state DB) in test_live_risk.py; #635/#619/#1261
(manual) in test_manual.py; rounding (#425, #421), lost answers and 429s (#768/#1128) and
consumed tiers at the worker (#749, #592/#628 tier sizes) in test_hl_execution.py.

Not applicable to this build: #822 (regime-direction orphans: no regime-driven direction
yet), #873/#882 and #1046 (no scale-ins by signal; a latched breaker closes instead of
managing), #596/#685/#777 (fills are matched by exact order id only, never by coin and
size), #346 (Robinhood).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import eth_account
import pytest
from hyperliquid.exchange import Exchange
from live_rig import AGENT_KEY, T0, Rig, owner, strategy

COIN = "ETH"


def run(rig: Rig, t: int, signals: dict[str, int], **extra) -> str:
    rig.at(t)
    for sid, sig in signals.items():
        rig.signal(sid, COIN, sig, **extra)
    proc = rig.cycle()
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc.stderr + proc.stdout


def agree(rig: Rig) -> None:
    assert rig.book_size(COIN) == pytest.approx(rig.venue_size(COIN), abs=1e-9)
    assert rig.book_cash() == pytest.approx(rig.venue_cash(), abs=0.01)


@pytest.fixture
def both(tmp_path: Path) -> Iterator[Rig]:
    rig = Rig(tmp_path, [strategy(direction="both")])
    try:
        yield rig
    finally:
        rig.close()


def test_298_every_skip_reason_is_decided_before_any_order(tmp_path: Path) -> None:
    """#298: a skip check ran after the live order (0.716 ETH filled, no trade row). Here a
    paused strategy's entry is held in the cycle, so no order ever reaches the venue."""
    rig = Rig(tmp_path, [strategy(paused=True)])
    try:
        out = run(rig, T0 + 3600, {"hl-live": 1})
        assert "paused" in out
        assert rig.server.venue.orders == {} and rig.book()["intents"] == []
    finally:
        rig.close()


def test_330_289_a_flip_is_a_close_and_an_open_each_with_its_own_fill_and_fee(both: Rig) -> None:
    """#330: a flip sized close-only or open-only; #289/#451/#453: the fee stamped on both
    legs. Here the close (reduce-only, the whole position) and the open are two orders, and
    each trade row carries its own order id and the venue's fee for it."""
    run(both, T0 + 3600, {"hl-live": 1})
    run(both, T0 + 3900, {"hl-live": -1})
    agree(both)
    (side, qty, _g), *_ = both.book()["positions"].values()
    assert side == "short" and both.venue_size(COIN) == pytest.approx(-qty)
    rows = [t for t in both.book()["trades"] if t[1] in ("buy", "sell")]
    assert [t[1] for t in rows] == ["buy", "sell", "sell"]
    assert len({t[6] for t in rows}) == 3 and all(t[4] > 0 for t in rows)
    fills = {f["oid"]: float(f["fee"]) for f in both.account().fills}
    assert all(t[4] == pytest.approx(fills[int(t[6])]) for t in rows)


def test_1009_a_fractional_close_under_both_never_flips(both: Rig) -> None:
    """#1009: a fractional close under direction both was sized as a flip and drove the
    position negative. Here close_fraction 0.5 closes half, reduce-only, and opens nothing."""
    run(both, T0 + 3600, {"hl-live": 1})
    (_s, qty, _g), *_ = both.book()["positions"].values()
    run(both, T0 + 3900, {"hl-live": -1}, close_fraction=0.5)
    agree(both)
    (side, left, _g), *_ = both.book()["positions"].values()
    assert side == "long" and 0 < left < qty and both.venue_size(COIN) > 0


def test_698_realized_pnl_is_the_books_own_never_closed_pnl(both: Rig) -> None:
    """#698: HL's closedPnl is gross of fees; booking it double-counted the fee. Here the close
    row's P&L is (fill - entry) x qty from the venue's prices, the fee apart."""
    run(both, T0 + 3600, {"hl-live": 1})
    both.at(T0 + 4200)
    both.signal("hl-live", COIN, -1, close_fraction=1.0)
    assert both.cycle().returncode == 0
    import sqlite3

    con = sqlite3.connect(both.db)
    rows = con.execute(
        "SELECT side, quantity, price, fee, realized_pnl, is_close FROM trades "
        "WHERE side IN ('buy', 'sell') ORDER BY rowid"
    ).fetchall()
    con.close()
    (_, q, entry, _f0, _p0, _c0), (_, q2, exit_px, fee, pnl, is_close) = rows[:2]
    assert is_close and q2 == pytest.approx(q)
    assert pnl == pytest.approx((exit_px - entry) * q, abs=1e-9)  # gross; the fee is its own
    assert fee > 0


def test_479_an_open_order_cap_rejection_is_a_critical_unprotected_alert(tmp_path: Path) -> None:
    """#479: the venue's open-order cap rejected new stops silently. Here the refusal text
    escalates to a CRITICAL "UNPROTECTED" alert to the owner (queued in the outbox)."""
    rig = Rig(tmp_path, [strategy()])
    try:
        run(rig, T0 + 3600, {"hl-live": 1})
        (_s, _q, g), *_ = rig.book()["positions"].values()
        rig.at(T0 + 3700)
        Exchange(
            eth_account.Account.from_key(AGENT_KEY), rig.server.url, account_address=owner()
        ).cancel(COIN, g["stop_oid"])  # the stop is gone; re-placing it meets the cap
        rig.server.venue.faults.add(
            "order", "reject", count=10, error="Too many open trigger orders (max 1000)"
        )
        out = run(rig, T0 + 3900, {"hl-live": 0})
        assert "OPEN-ORDER CAP HIT" in out and "UNPROTECTED" in out
    finally:
        rig.close()


def test_749_758_a_filled_tier_is_neither_placed_again_nor_booked_twice(tmp_path: Path) -> None:
    """#749: after TP1 filled, OID 0 read as "never placed" and TP1 came back; #758: the same
    TP fill booked twice. Here the consumed tier stays consumed over later cycles and its fill
    is booked once."""
    from test_live_hl import first_cross

    rig = Rig(tmp_path, [strategy()])
    try:
        t_open = T0 + 3600
        run(rig, t_open, {"hl-live": 1})
        (_s, _q, g), *_ = rig.book()["positions"].values()
        t1 = first_cross(t_open, g["targets"][0][0], above=True)
        for k in range(3):
            run(rig, t1 + 60 + 60 * k, {"hl-live": 0})
        tp_orders = [o for o in rig.server.venue.orders.values() if o.oid in g["target_oids"]]
        assert len(tp_orders) == 2  # tier 1 was never placed again
        again = [
            o
            for o in rig.server.venue.orders.values()
            if o.reduce_only and not o.trigger_px and o.oid not in g["target_oids"]
        ]
        assert again == []
        tp_rows = [t for t in rig.book()["trades"] if t[5] == "take_profit"]
        assert len(tp_rows) == len({t[6] for t in tp_rows})
    finally:
        rig.close()


def test_964_971_an_unexplained_change_is_a_gap_that_holds_entries_and_alerts(
    tmp_path: Path,
) -> None:
    """#964/#965/#971: unexplained drops were guessed onto an owner. Here a position grown on
    the venue's UI is never adopted or guessed: a gap holds entries on the coin, the owner is
    alerted after three cycles, and the recovery is announced."""
    rig = Rig(tmp_path, [strategy()])
    try:
        run(rig, T0 + 3600, {"hl-live": 1})
        rig.at(T0 + 3650)
        ex = Exchange(
            eth_account.Account.from_key(AGENT_KEY), rig.server.url, account_address=owner()
        )
        ex.market_open(COIN, True, 0.1)
        outs = [run(rig, T0 + 3900 + 300 * k, {"hl-live": 0}) for k in range(3)]
        assert all("gap" in o for o in outs)
        assert "HL RECONCILE GAP ETH" in outs[2] and "HL RECONCILE GAP" not in outs[1]
        assert rig.book_size(COIN) == pytest.approx(rig.venue_size(COIN) - 0.1)
        rig.at(T0 + 4900)
        ex.market_close(COIN)  # the operator closes the coin on the venue
        out = run(rig, T0 + 5100, {"hl-live": 0})
        assert "RESOLVED" in out and rig.book()["positions"] == {}
        assert rig.book()["trades"][-1][5] == "external"
    finally:
        rig.close()


def test_515_a_breaker_on_a_shared_coin_closes_only_its_own_share(tmp_path: Path) -> None:
    """#515: a per-strategy breaker flattened a coin shared with peers (upstream then chose to
    close nothing on-chain). Here the tripped strategy closes exactly its share, reduce-only;
    the peer keeps its position."""
    import sqlite3

    rig = Rig(tmp_path, [strategy("hl-a"), strategy("hl-b")], usd=20_000)
    try:
        run(rig, T0 + 3600, {"hl-a": 1, "hl-b": 1})
        con = sqlite3.connect(rig.db)
        con.execute(
            "UPDATE strategies SET risk_circuit_breaker = 1, risk_circuit_breaker_until = "
            "'2026-01-09T00:00:00.000000Z' WHERE id = 'hl-a'"
        )
        con.commit()
        con.close()
        run(rig, T0 + 3900, {"hl-a": 0, "hl-b": 0})
        agree(rig)
        pos = rig.book()["positions"]
        assert ("hl-a", COIN) not in pos and ("hl-b", COIN) in pos
        assert rig.venue_size(COIN) == pytest.approx(pos[("hl-b", COIN)][1])
    finally:
        rig.close()


def test_464_kill_switch_closes_on_a_shared_coin_book_each_share_at_its_fill(
    tmp_path: Path,
) -> None:
    """#464/#469: kill-switch closes were booked at the pre-close mark and mis-attributed
    across peers. Here each share closes with its own order and is booked at its own fill."""
    from test_live_risk import latch_kill_switch

    rig = Rig(tmp_path, [strategy("hl-a"), strategy("hl-b")], usd=20_000)
    try:
        run(rig, T0 + 3600, {"hl-a": 1, "hl-b": 1})
        latch_kill_switch(rig)
        run(rig, T0 + 3900, {"hl-a": 0, "hl-b": 0})
        agree(rig)
        kills = [t for t in rig.book()["trades"] if t[5] == "kill_switch"]
        assert sorted(t[0] for t in kills) == ["hl-a", "hl-b"] and len({t[6] for t in kills}) == 2
        fills = {f["oid"]: float(f["px"]) for f in rig.account().fills}
        assert all(t[3] == pytest.approx(fills[int(t[6])]) for t in kills)
        assert rig.venue_size(COIN) == 0
    finally:
        rig.close()


def test_412_a_stop_that_fills_as_it_is_placed_is_booked_as_the_stop(tmp_path: Path) -> None:
    """#412/#421: a stop filling at submit was logged as an error, leaving a phantom position.
    Here the stop is gone from the venue while the price falls through its level; the next
    sync places it, it fills at once, and the fill is booked as the stop (its own order id)."""
    from test_live_hl import first_cross

    rig = Rig(tmp_path, [strategy(stop_loss_pct=0.3, close_strategies=[])])
    try:
        t_open = T0 + 3600
        run(rig, t_open, {"hl-live": 1})
        (_s, _q, g), *_ = rig.book()["positions"].values()
        rig.at(t_open + 30)
        Exchange(
            eth_account.Account.from_key(AGENT_KEY), rig.server.url, account_address=owner()
        ).cancel(COIN, g["stop_oid"])
        t_below = first_cross(t_open, g["stop"] * 0.999, above=False)
        run(rig, t_below, {"hl-live": 0})  # the sync re-places the stop: it fills at once
        run(rig, t_below + 120, {"hl-live": 0})  # the reconcile books that fill as the stop
        agree(rig)
        book = rig.book()
        assert book["positions"] == {}
        stops = [t for t in book["trades"] if t[5] == "stop_loss"]
        assert len(stops) == 1 and stops[0][6] not in ("", str(g["stop_oid"]))
    finally:
        rig.close()


def test_486_leverage_and_margin_mode_are_set_when_opening_from_flat(tmp_path: Path) -> None:
    """#486/#491: update_leverage on an open position is refused by the venue and aborted
    peers' orders. Here leverage and margin mode go with opens only (from flat), and the venue
    holds the configured isolated leverage."""
    rig = Rig(tmp_path, [strategy(leverage=3)])
    try:
        run(rig, T0 + 3600, {"hl-live": 1})
        lev = rig.account().leverage.get(COIN)
        assert lev == (3, False)  # isolated
        intents = rig.book()["intents"]
        assert len(intents) == 1 and intents[0][2] == "filled"
    finally:
        rig.close()
