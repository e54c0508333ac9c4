"""mark_options.py end to end on the simulated market (the worker contract, options contract C)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from platforms.options_chains import chain_for
from shared_tools import pricing
from shared_tools.market import sim_model

REPO = Path(__file__).resolve().parent.parent
SCRIPT = REPO / "shared_scripts" / "mark_options.py"
NOW = "2026-03-02T12:00:00Z"
NOW_DT = datetime(2026, 3, 2, 12, tzinfo=UTC)


def _run(args: list[str], stdin: object, tmp_path: Path) -> subprocess.CompletedProcess:
    env = dict(os.environ)
    env.update(
        GO_TRADER_MARKET_DATA="simulated",
        GO_TRADER_NOW=NOW,
        GO_TRADER_OHLCV_CACHE=str(tmp_path / "ohlcv.db"),
    )
    env.pop("GO_TRADER_SIM_SEED", None)
    return subprocess.run(
        [sys.executable, str(SCRIPT), *args],
        input="" if stdin is None else json.dumps(stdin),
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )


def _pos(pid: str, und: str, kind: str, strike: float, expiry: str, action: str = "sell") -> dict:
    return {
        "id": pid,
        "underlying": und,
        "option_type": kind,
        "strike": strike,
        "expiry": expiry,
        "action": action,
        "quantity": 1,
    }


def test_marks_spots_expiry_and_per_position_errors(tmp_path):
    chain = chain_for("deribit", source="simulated", now=NOW_DT)
    expiry, _ = chain.real_expiry("BTC", 30)
    strike = chain.real_strike("BTC", expiry, "put", chain.spot("BTC") * 0.9)
    doc = {
        "positions": [
            _pos("open-put", "BTC", "put", strike, expiry),
            _pos("expired-call", "BTC", "call", 40000.0, "2026-02-27", "buy"),
            {"id": "broken", "underlying": "BTC", "option_type": "call"},
        ],
        "underlyings": ["ETH"],
    }
    proc = _run(["--platform=deribit"], doc, tmp_path)
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert out["platform"] == "deribit" and out["timestamp"] == NOW
    seed = sim_model.DEFAULT_SEED
    assert out["spots"]["BTC"] == pytest.approx(
        sim_model.price("BTC/USDT", NOW_DT.timestamp(), seed)
    )
    assert set(out["spots"]) == {"BTC", "ETH"}  # ETH asked for without a position
    mark = out["marks"]["open-put"]
    want = chain.quote("BTC", "put", strike, expiry)
    assert mark["premium_usd"] == pytest.approx(want.premium_usd, rel=1e-12)
    assert mark["expires_at"] == f"{expiry}T08:00:00Z" and mark["expired"] is False
    assert mark["dte"] == pytest.approx(want.dte) and mark["multiplier"] == 1.0
    assert mark["source"] == "venue" and set(mark["greeks"]) == {"delta", "gamma", "theta", "vega"}
    gone = out["marks"]["expired-call"]
    settle = sim_model.price("BTC", datetime(2026, 2, 27, 8, tzinfo=UTC).timestamp(), seed)
    assert gone["expired"] is True and gone["settlement_price"] == pytest.approx(settle)
    assert gone["premium_usd"] == pytest.approx(pricing.intrinsic(settle, 40000.0, "call"))
    assert "broken" in out["errors"] and "broken" not in out["marks"]


def test_cme_and_equity_marks_carry_their_multiplier_and_close_time(tmp_path):
    ibkr = _run(
        ["--platform=ibkr"],
        {"positions": [_pos("m", "BTC", "call", 50000.0, "2026-03-27")]},
        tmp_path,
    )
    mark = json.loads(ibkr.stdout)["marks"]["m"]
    assert mark["multiplier"] == 0.1 and mark["expires_at"] == "2026-03-27T21:00:00Z"  # 16:00 CDT
    rh = _run(
        ["--platform=robinhood"],
        {"positions": [_pos("s", "SPY", "put", 500.0, "2026-03-20")]},
        tmp_path,
    )
    out = json.loads(rh.stdout)
    assert (
        out["marks"]["s"]["multiplier"] == 100.0
        and out["marks"]["s"]["expires_at"] == "2026-03-20T20:00:00Z"
    )
    assert 400 <= out["spots"]["SPY"] <= 650


def test_expired_before_the_instant_is_still_marked(tmp_path):
    # 2026-03-02 12:00 UTC: an expiry dated today already passed at 08:00 on Deribit
    out = json.loads(
        _run(
            ["--platform=deribit"],
            {"positions": [_pos("t", "BTC", "call", 1.0, "2026-03-02")]},
            tmp_path,
        ).stdout
    )
    assert out["marks"]["t"]["expired"] is True and out["marks"]["t"]["dte"] == pytest.approx(
        -4 / 24
    )
    # ... while the same date on the CME (16:00 Chicago = 22:00 UTC) has not expired yet
    out = json.loads(
        _run(
            ["--platform=ibkr"],
            {"positions": [_pos("t", "BTC", "call", 60000.0, "2026-03-02")]},
            tmp_path,
        ).stdout
    )
    assert out["marks"]["t"]["expired"] is False and out["marks"]["t"]["settlement_price"] is None
    assert date.fromisoformat(out["marks"]["t"]["expires_at"][:10]) == date(2026, 3, 2)


def test_nothing_readable_is_exit_1_with_error(tmp_path):
    proc = _run(["--platform=okx"], {"positions": [{"id": "x"}]}, tmp_path)
    assert proc.returncode == 1 and "nothing could be read" in json.loads(proc.stdout)["error"]


def test_probe_batch_and_bad_platform(tmp_path):
    probe = _run(["--platform=okx", "--probe-only"], None, tmp_path)
    assert probe.returncode == 0 and probe.stdout == ""
    bad = _run(["--platform=binanceus", "--probe-only"], None, tmp_path)
    assert bad.returncode == 2 and bad.stdout == ""
    jobs = [
        {"args": ["--platform=deribit"], "stdin": {"positions": [], "underlyings": ["BTC"]}},
        {"args": ["--platform=nowhere"]},
    ]
    batch = _run(["--batch"], jobs, tmp_path)
    first, second = json.loads(batch.stdout)
    assert batch.returncode == 0 and "BTC" in first["spots"] and "error" in second
