"""The kill switch and the circuit breakers close live positions on the venue, and the book
is cleared only when the venue confirms (upstream #341, #350, #356, #418).

Also the start-up refusals that protect real money: a live config without its keys, or with
its state DB missing (upstream #339: the daemon started from an empty book while positions
were open on the venue).
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest
from live_rig import T0, Rig, strategy

COIN = "ETH"


@pytest.fixture
def rig(tmp_path: Path) -> Iterator[Rig]:
    r = Rig(tmp_path, [strategy()])
    try:
        yield r
    finally:
        r.close()


def run(rig: Rig, t: int, signal: int) -> str:
    rig.at(t)
    rig.signal("hl-live", COIN, signal)
    proc = rig.cycle()
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc.stderr


def latch_kill_switch(rig: Rig) -> None:
    con = sqlite3.connect(rig.db)
    (extra,) = con.execute("SELECT extra_json FROM app_state WHERE id = 1").fetchone()
    doc = json.loads(extra)
    doc.setdefault("portfolio_risk", {}).update(
        kill_switch=True, kill_switch_at="2026-01-01T01:00:00Z", reason="test: drawdown"
    )
    con.execute("UPDATE app_state SET extra_json = ? WHERE id = 1", (json.dumps(doc),))
    con.commit()
    con.close()


def latch_breaker(rig: Rig) -> None:
    con = sqlite3.connect(rig.db)
    con.execute(
        "UPDATE strategies SET risk_circuit_breaker = 1, risk_circuit_breaker_until = ?, "
        "risk_circuit_breaker_reason = 'circuit breaker: test'",
        ("2026-01-09T00:00:00.000000Z",),
    )
    con.commit()
    con.close()


def open_orders(rig: Rig) -> list:
    return [o for o in rig.server.venue.orders.values() if o.status == "open"]


def test_the_kill_switch_closes_on_the_venue_and_clears_only_when_flat(rig: Rig) -> None:
    """#341: the book is cleared only after the venue confirms flat; retried while latched."""
    run(rig, T0 + 3600, 1)
    assert rig.venue_size(COIN) > 0
    latch_kill_switch(rig)
    rig.server.venue.faults.add("order", "reject")  # the first close is refused
    run(rig, T0 + 3900, 1)
    assert rig.venue_size(COIN) > 0 and rig.book_size(COIN) == rig.venue_size(COIN)
    assert [i[2] for i in rig.book()["intents"]][-1] == "failed"
    run(rig, T0 + 4200, 1)  # still latched: the close is sent again, and fills
    assert rig.venue_size(COIN) == 0 and rig.book()["positions"] == {}
    kills = [t for t in rig.book()["trades"] if t[5] == "kill_switch"]
    assert len(kills) == 1 and kills[0][6]  # the venue's order id on the booked close
    assert open_orders(rig) == []  # protection cancelled with the close
    run(rig, T0 + 4500, 1)  # latched: nothing opens
    assert rig.venue_size(COIN) == 0


def test_a_latched_breaker_closes_its_position_until_the_venue_confirms(rig: Rig) -> None:
    """#356: a breaker latched while the venue was unreachable still closes when it is back."""
    run(rig, T0 + 3600, 1)
    latch_breaker(rig)
    rig.server.venue.faults.add("clearinghouseState", "5xx", count=1)
    rig.server.venue.faults.add("order", "5xx", count=2)  # the close and its one resend
    run(rig, T0 + 3900, 0)
    assert rig.venue_size(COIN) > 0 and rig.book()["intents"][-1][2] == "pending"
    run(rig, T0 + 4200, 0)  # unknown a second time: failed, and a new close goes out
    assert rig.venue_size(COIN) == 0 and rig.book()["positions"] == {}
    assert [i[2] for i in rig.book()["intents"]] == ["filled", "failed", "filled"]
    closes = [t for t in rig.book()["trades"] if t[5] == "circuit_breaker"]
    assert len(closes) == 1
    assert rig.book()["cash"]["hl-live"] == pytest.approx(rig.venue_cash(), abs=0.01)


def test_a_breaker_close_that_fills_in_part_keeps_closing_the_rest(rig: Rig) -> None:
    """#418: a partial close is booked as filled; the remainder is closed next cycle."""
    run(rig, T0 + 3600, 1)
    latch_breaker(rig)
    rig.server.venue.faults.add("order", "partial", fraction=0.5)
    run(rig, T0 + 3900, 0)
    assert 0 < rig.venue_size(COIN) == pytest.approx(rig.book_size(COIN))
    run(rig, T0 + 4200, 0)
    assert rig.venue_size(COIN) == 0 and rig.book()["positions"] == {}


def test_live_without_keys_refuses_to_start(rig: Rig) -> None:
    env = rig.env()
    env.pop("HYPERLIQUID_SECRET_KEY")
    import subprocess
    import sys

    from live_rig import REPO

    proc = subprocess.run(
        [sys.executable, "-m", "supervisor.cli", "--config", str(rig.config), "--once"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 78
    assert "HYPERLIQUID_SECRET_KEY" in proc.stderr and "0x" + "22" * 32 not in proc.stderr


def test_a_missing_state_db_refuses_a_live_start_unless_allowed(rig: Rig) -> None:
    """#339: refuse, naming the override, rather than trade from an empty book."""
    import subprocess
    import sys

    from live_rig import REPO

    env = rig.env()
    env.pop("GO_TRADER_ALLOW_MISSING_STATE")
    proc = subprocess.run(
        [sys.executable, "-m", "supervisor.cli", "--config", str(rig.config), "--once"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 78 and "GO_TRADER_ALLOW_MISSING_STATE=1" in proc.stderr
    assert not rig.db.exists() and rig.server.venue.orders == {}
    run(rig, T0 + 3600, 0)  # with the override (the rig sets it), it starts
    assert rig.db.exists()


def test_an_upstream_testnet_switch_with_a_mainnet_url_refuses_to_start(rig: Rig) -> None:
    """Upstream chose the network with HYPERLIQUID_TESTNET=1; here the URL decides, so the old
    switch beside a mainnet URL must not silently trade mainnet."""
    import subprocess
    import sys

    from live_rig import REPO

    cfg = json.loads(rig.config.read_text())
    cfg["hyperliquid"]["base_url"] = "https://api.hyperliquid.xyz"
    rig.config.write_text(json.dumps(cfg))
    env = rig.env()
    env["HYPERLIQUID_TESTNET"] = "1"
    proc = subprocess.run(
        [sys.executable, "-m", "supervisor.cli", "--config", str(rig.config), "--once"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 78 and "HYPERLIQUID_TESTNET" in proc.stderr
