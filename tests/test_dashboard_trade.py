"""A dashboard trade action end to end, against the local Hyperliquid venue: the confirm nonce,
then the manual CLI's own core (supervisor/ops/manual.py) sends one order and queues one row.
A replayed POST, and a second open while the first is held, never send another order (story
PR #1260: a re-click doubled the position)."""

from __future__ import annotations

import os
import sqlite3
import types
from collections.abc import Iterator
from pathlib import Path

import pytest
from live_rig import T0, Rig

from shared_tools.config.load import load_config
from supervisor.http.post import Actions

COIN = "ETH"
SID = "hl-man"


@pytest.fixture
def rig(tmp_path: Path, monkeypatch) -> Iterator[Rig]:
    r = Rig(
        tmp_path, [{"id": SID, "type": "manual", "symbol": COIN, "capital": 10_000, "leverage": 2}]
    )
    try:
        r.at(T0 + 3600)
        assert r.cycle().returncode == 0
        r.at(T0 + 3600 + 60)
        for key, value in r.env().items():  # the workers this process runs see the rig's venue
            # not the clock: the Rig sets and restores GO_TRADER_NOW itself, and monkeypatch
            # would put the rig's T0 back after r.close() (later tests ran on a frozen clock)
            if key != "GO_TRADER_NOW":
                monkeypatch.setenv(key, value)
        os.environ["GO_TRADER_NOW"] = str(r.now)
        yield r
    finally:
        r.close()


def queued(rig: Rig) -> list[tuple]:
    con = sqlite3.connect(rig.db)
    try:
        return con.execute("SELECT action, status FROM manual_actions ORDER BY id").fetchall()
    finally:
        con.close()


def test_an_open_runs_once_per_confirmation(rig: Rig) -> None:
    sup = types.SimpleNamespace(config=load_config(rig.config), ready=True, db=object())
    actions = Actions(sup, board=None)
    params = {"size": 0.5, "atr": 25}
    code, c = actions.post("/api/confirm", {"action": "open", "strategy_id": SID, "params": params})
    assert code == 200 and c["description"] == f"open on {SID} (atr=25, size=0.5)"
    body = {"nonce": c["nonce"], "params": params}
    code, out = actions.post(f"/api/strategies/{SID}/open", body)
    assert code == 200 and out["ok"] and out["queued"], out
    assert rig.venue_size(COIN) == pytest.approx(0.5)
    assert queued(rig) == [("open", "filled")]
    # the same POST again (a double click, a retry): the nonce is spent
    assert actions.post(f"/api/strategies/{SID}/open", body)[0] == 403
    # a fresh confirmation for a second open: the CLI core's guard refuses it (already held)
    c2 = actions.post("/api/confirm", {"action": "open", "strategy_id": SID, "params": params})[1]
    code, out = actions.post(
        f"/api/strategies/{SID}/open", {"nonce": c2["nonce"], "params": params}
    )
    assert code == 409, out
    assert "already" in out["error"] or "queued" in out["error"], out
    assert rig.venue_size(COIN) == pytest.approx(0.5)  # never doubled
    assert queued(rig) == [("open", "filled")]
