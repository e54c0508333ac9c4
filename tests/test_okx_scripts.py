"""The OKX live scripts as the supervisor runs them: real argv, env, JSON and exit codes,
against the local OKX venue (in this process, or as its own process for restarts)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from platforms.okx.localvenue import LocalOkxServer

ROOT = Path(__file__).resolve().parents[1]
NOW_S = 1_767_225_600
SECRET, PASSPHRASE = "s3cr3t-okx-value", "p4ss-okx-value"  # throwaway, these tests only
CID = "gt" + "ab" * 12


@pytest.fixture
def venue(monkeypatch: pytest.MonkeyPatch) -> Iterator[LocalOkxServer]:
    monkeypatch.setenv("GO_TRADER_NOW", str(NOW_S))
    server = LocalOkxServer(port=0, seed=7, api_key="k-1", secret=SECRET, passphrase=PASSPHRASE)
    server.start()
    try:
        yield server
    finally:
        server.stop()


def script(name: str, args: list[str], url: str, **env: str) -> tuple[int, dict]:
    full = dict(os.environ)
    full.update(
        GO_TRADER_NOW=str(NOW_S),
        OKX_BASE_URL=url,
        OKX_API_KEY="k-1",
        OKX_API_SECRET=SECRET,
        OKX_PASSPHRASE=PASSPHRASE,
    )
    full.update(env)
    for k in [k for k, v in full.items() if v == ""]:
        del full[k]
    proc = subprocess.run(
        [sys.executable, str(ROOT / "shared_scripts" / name), *args],
        capture_output=True,
        text=True,
        env=full,
        timeout=60,
    )
    out = proc.stdout + proc.stderr
    for value in (SECRET, PASSPHRASE, env.get("OKX_API_SECRET") or SECRET):
        assert value not in out  # never printed, also not in errors
    return proc.returncode, json.loads(proc.stdout) if proc.stdout.strip() else {}


EXEC = ["--execute", "--symbol=BTC", "--side=buy", "--inst-type=swap"]


def test_execute_status_close_flat(venue: LocalOkxServer) -> None:
    code, doc = script("check_okx.py", [*EXEC, "--size=0.01", "--mode=paper"], venue.url)
    assert code == 1 and doc["execution"] is None and "requires --mode=live" in doc["error"]
    code, doc = script(
        "check_okx.py", [*EXEC, "--size=0.01", "--mode=live", f"--client-order-id={CID}"], venue.url
    )
    assert code == 0, doc
    ex = doc["execution"]
    assert (ex["action"], ex["symbol"], ex["client_order_id"], ex["status"]) == (
        "buy",
        "BTC",
        CID,
        "filled",
    )
    assert ex["fill"]["qty"] == 0.01 and ex["fill"]["contracts"] == 1.0  # one contract sent
    assert doc["platform"] == "okx" and doc["timestamp"].endswith("Z")
    acct = venue.venue.accounts["k-1"]
    (order,) = acct.orders.values()
    assert str(order.sz) == "1" and ex["fill"]["oid"] == order.ord_id

    status = ["--order-status", "--symbol=BTC", "--mode=live", f"--client-order-id={CID}"]
    code, doc = script("check_okx.py", status, venue.url)
    assert code == 0 and doc["status"] == "filled" and doc["fill"] == ex["fill"]
    code, doc = script("check_okx.py", [*status[:-1], "--client-order-id=gtnever"], venue.url)
    assert code == 0 and doc["status"] == "unknown" and doc["fill"] is None

    code, doc = script("fetch_okx_positions.py", [], venue.url)
    assert code == 0 and [(p["coin"], p["size"], p["side"]) for p in doc["positions"]] == [
        ("BTC", 0.01, "long")
    ]
    code, doc = script("close_okx_position.py", ["--symbol=BTC", "--mode=live"], venue.url)
    assert code == 0 and doc["already_flat"] is False
    assert doc["close"]["status"] == "filled" and doc["close"]["fill"]["qty"] == 0.01
    code, doc = script("close_okx_position.py", ["--symbol=BTC", "--mode=live"], venue.url)
    assert code == 0 and doc["already_flat"] is True and doc["close"]["fill"] == {}
    code, doc = script("fetch_okx_positions.py", [], venue.url)
    assert code == 0 and doc["positions"] == []

    # the book (the two read-back fills) equals the venue's account
    code, bal = script("fetch_okx_balance.py", [], venue.url)
    assert code == 0 and bal["balance"] == pytest.approx(acct.usdt) and bal["unrealized_pnl"] == 0
    code, doc = script("check_balance.py", ["--platform=okx"], venue.url)
    assert code == 0 and doc["balance"] == pytest.approx(acct.usdt)
    code, doc = script("fetch_okx_bills.py", ["--since-ms=0"], venue.url)
    assert code == 0 and doc["capped"] is False and len(doc["bills"]) == 2
    assert sum(b["bal_chg"] for b in doc["bills"]) == pytest.approx(acct.usdt - 10_000)


def test_dropped_answer_through_the_script_is_one_position(venue: LocalOkxServer) -> None:
    venue.faults.add("POST trade/order", "drop")
    argv = [*EXEC, "--size=0.02", "--mode=live", f"--client-order-id={CID}"]
    code, doc = script("check_okx.py", argv, venue.url)
    assert code == 0 and doc["execution"]["fill"]["qty"] == 0.02
    assert any("clOrdId" in n for n in doc["notes"])
    # the supervisor re-running the same intent after a crash finds the same order
    code, again = script("check_okx.py", argv, venue.url)
    assert code == 0 and again["execution"]["fill"]["oid"] == doc["execution"]["fill"]["oid"]
    acct = venue.venue.accounts["k-1"]
    assert len(acct.orders) == 1 and acct.positions["BTC-USDT-SWAP"].pos == 2


def test_no_fill_yet_is_an_error_naming_the_order_then_order_status(
    venue: LocalOkxServer,
) -> None:
    venue.faults.add("POST trade/order", "no_fill", reads=5)  # every read of the execute
    argv = [*EXEC, "--size=0.01", "--mode=live", f"--client-order-id={CID}"]
    code, doc = script("check_okx.py", argv, venue.url)
    assert code == 1 and doc["execution"] is None and doc["status"] == "open"
    assert doc["client_order_id"] == CID and "--order-status" in doc["error"]
    status = ["--order-status", "--symbol=BTC", "--mode=live", f"--client-order-id={CID}"]
    code, doc = script("check_okx.py", status, venue.url)
    assert code == 0 and doc["status"] == "filled" and doc["fill"]["qty"] == 0.01


def test_partial_close_reports_the_real_fill(venue: LocalOkxServer) -> None:
    script(
        "check_okx.py", [*EXEC, "--size=0.04", "--mode=live", f"--client-order-id={CID}"], venue.url
    )
    venue.faults.add("POST trade/order", "partial", fraction=0.5)
    code, doc = script("close_okx_position.py", ["--symbol=BTC", "--mode=live"], venue.url)
    assert code == 0 and doc["close"]["status"] == "partial"
    assert doc["close"]["fill"]["qty"] == pytest.approx(0.02)
    assert venue.venue.accounts["k-1"].positions["BTC-USDT-SWAP"].pos == 2


def test_refusals_and_errors(venue: LocalOkxServer) -> None:
    code, doc = script("close_okx_position.py", ["--symbol=BTC-USDT", "--mode=live"], venue.url)
    assert code == 1 and doc["error"] == "operator-only: OKX spot cannot be closed reduce-only"
    assert doc["close"] == {"symbol": "BTC-USDT", "fill": {}}
    code, doc = script(
        "close_okx_position.py", ["--symbol=BTC", "--inst-type=spot", "--mode=live"], venue.url
    )
    assert code == 1 and doc["error"].startswith("operator-only")
    code, doc = script("check_okx.py", [*EXEC, "--size=0.00005", "--mode=live"], venue.url)
    assert code == 1 and doc["execution"] is None and "0.005 contracts" in doc["error"]
    code, doc = script("fetch_okx_positions.py", [], venue.url, OKX_API_SECRET="wrong-secret-value")
    assert code == 1 and "OKX_API_SECRET" in doc["error"] and "positions" not in doc
    code, doc = script("fetch_okx_balance.py", [], venue.url, OKX_PASSPHRASE="")
    assert code == 1 and doc["error"].startswith("OKX_PASSPHRASE not set")
    venue.faults.add("GET account/positions", "5xx", count=5)
    code, doc = script("fetch_okx_positions.py", [], venue.url)
    assert code == 1 and "positions" not in doc and "ExchangeNotAvailable" in doc["error"]
    code, doc = script("check_balance.py", ["--platform=robinhood"], venue.url)
    assert code == 1 and doc["balance"] == 0 and "Robinhood" in doc["error"]


def test_probe_only_touches_no_network() -> None:
    dead = "http://127.0.0.1:9"  # nothing listens: any request would fail
    for name, args in [
        ("check_okx.py", [*EXEC, "--size=0.01", "--mode=live"]),
        ("check_okx.py", ["--order-status", "--symbol=BTC", "--client-order-id=gt1"]),
        ("close_okx_position.py", ["--symbol=BTC", "--mode=live"]),
        ("fetch_okx_positions.py", []),
        ("fetch_okx_balance.py", []),
        ("fetch_okx_bills.py", ["--since-ms=0"]),
        ("check_balance.py", ["--platform=okx"]),
    ]:
        code, doc = script(name, [*args, "--probe-only"], dead, OKX_API_KEY="")
        assert (code, doc) == (0, {}), name
    code, _ = script("check_okx.py", ["--execute", "--symbol=BTC", "--probe-only"], dead)
    assert code == 2  # argv that cannot run: no side/size


def test_venue_process_serves_until_sigterm_and_keeps_state(tmp_path: Path) -> None:
    env = {**os.environ, "GO_TRADER_NOW": str(NOW_S)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "platforms.okx.localvenue", "--port", "0", "--seed", "3"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline().strip()
        assert line.startswith("localvenue: http://127.0.0.1:")
        url = line.split(" ", 1)[1]
        creds = {
            "OKX_API_KEY": "test-key",
            "OKX_API_SECRET": "test-secret",
            "OKX_PASSPHRASE": "test-passphrase",
        }
        argv = [*EXEC, "--size=0.01", "--mode=live", f"--client-order-id={CID}"]
        code, doc = script("check_okx.py", argv, url, **creds)
        assert code == 0
        code, pos = script("fetch_okx_positions.py", [], url, **creds)  # a new client process
        assert code == 0 and pos["positions"][0]["contracts"] == 1.0
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=10) == 0
