"""The Robinhood live scripts as the supervisor runs them: real argv, env, JSON and exit codes,
against the local venue started as its own process (``python -m platforms.robinhood.localvenue``).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from platforms.robinhood.execution import ref_id
from platforms.robinhood.localvenue.exchange import DEFAULT_TOTP_SECRET

ROOT = Path(__file__).resolve().parents[1]
SCRIPTS = ROOT / "shared_scripts"
PASSWORD = "s3cret-Pass-xyz"
SECRETS = (PASSWORD, DEFAULT_TOTP_SECRET)


@pytest.fixture(scope="module")
def venue() -> Iterator[str]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "platforms.robinhood.localvenue", "--port", "0", "--seed", "5"]
        + ["--password", PASSWORD],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "GO_TRADER_NOW": "2026-01-01T00:00:00Z"},  # pinned venue prices
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline().strip()
        assert line.startswith("localvenue: http://127.0.0.1:"), line
        yield line.split(" ", 1)[1]
    finally:
        proc.terminate()
        assert proc.wait(timeout=10) == 0  # SIGTERM: a clean exit


def control(url: str, **body: object) -> dict:
    return requests.post(f"{url}/control", json=body, timeout=5).json()


def run(name: str, args: list[str], url: str, **env: str) -> tuple[int, dict]:
    full = {k: v for k, v in os.environ.items() if not k.startswith("ROBINHOOD_")}
    full.update(
        ROBINHOOD_USERNAME="test-user",
        ROBINHOOD_PASSWORD=PASSWORD,
        ROBINHOOD_TOTP_SECRET=DEFAULT_TOTP_SECRET,
        ROBINHOOD_BASE_URL=url,
    )
    full.update(env)
    for k in [k for k, v in full.items() if v == ""]:
        del full[k]
    proc = subprocess.run(
        [sys.executable, str(SCRIPTS / name), *args],
        capture_output=True,
        text=True,
        env=full,
        timeout=60,
    )
    out = proc.stdout + proc.stderr
    assert not any(s in out for s in SECRETS)  # never printed, also not in errors
    assert "access_token" not in out and "Bearer" not in out
    return proc.returncode, json.loads(proc.stdout) if proc.stdout.strip() else {}


def test_open_close_flat_through_the_scripts(venue: str) -> None:
    buy = ["--execute", "--symbol=BTC", "--side=buy", "--amount_usd=300", "--mode=live"]
    code, doc = run("check_robinhood.py", [*buy, "--client-order-id=gt" + "a1" * 12], venue)
    assert code == 0, doc
    ex = doc["execution"]
    assert (ex["action"], ex["symbol"], ex["status"], ex["amount_usd"]) == (
        "buy",
        "BTC",
        "filled",
        300,
    )
    assert ex["client_order_id"] == "gt" + "a1" * 12 and doc["platform"] == "robinhood"
    assert set(ex["fill"]) == {"avg_px", "quantity", "fee", "oid", "qty"}
    book = ex["fill"]["qty"]

    code, pos = run("fetch_robinhood_positions.py", ["--symbol=BTC"], venue)
    assert code == 0 and pos["flat"] is False
    assert [(p["coin"], p["size"]) for p in pos["positions"]] == [("BTC", pytest.approx(book))]

    code, st = run(
        "check_robinhood.py",
        ["--order-status", "--symbol=BTC", "--mode=live", "--client-order-id=gt" + "a1" * 12],
        venue,
    )
    assert code == 0 and st["status"] == "filled" and st["fill"]["qty"] == book
    assert st["oid"] == ex["fill"]["oid"]

    code, closed = run("close_robinhood_position.py", ["--symbol=BTC", "--mode=live"], venue)
    assert code == 0 and closed["already_flat"] is False, closed
    assert closed["close"]["fill"]["total_sz"] == pytest.approx(book)
    assert closed["close"]["client_order_id"].startswith("gt")

    code, pos = run("fetch_robinhood_positions.py", ["--symbol=BTC", "--strict"], venue)
    assert code == 0 and pos["flat"] is True and pos["positions"] == []
    code, again = run("close_robinhood_position.py", ["--symbol=BTC", "--mode=live"], venue)
    assert code == 0 and again["already_flat"] is True and again["close"] is None


def test_check_balance_reads_the_buying_power(venue: str) -> None:
    code, doc = run("check_balance.py", ["--platform=robinhood"], venue)
    cash = control(venue, op="state")["cash"]
    assert code == 0 and doc["balance"] == pytest.approx(cash, abs=0.005)
    assert doc["platform"] == "robinhood"
    code, doc = run("check_balance.py", ["--platform=robinhood"], venue, ROBINHOOD_USERNAME="")
    assert code == 1 and doc["balance"] == 0 and "ROBINHOOD_USERNAME is not set" in doc["error"]


def test_a_dropped_execute_answer_still_books_one_fill(venue: str) -> None:
    control(venue, op="fault", kind="order", mode="drop")
    cid = "gt" + "b2" * 12
    args = ["--execute", "--symbol=ETH", "--side=buy", "--amount_usd=100", "--mode=live"]
    code, doc = run("check_robinhood.py", [*args, f"--client-order-id={cid}"], venue)
    assert code == 0 and doc["execution"]["status"] == "filled"
    (note,) = doc["notes"]  # the operator sees how the lost answer was resolved
    assert note.startswith("resolved by client order id after: POST ") and "/nummus/orders/" in note
    state = control(venue, op="state")
    assert state["holdings"]["ETH"]["quantity"] == pytest.approx(doc["execution"]["fill"]["qty"])
    sell = [
        "--execute",
        "--symbol=ETH",
        "--side=sell",
        "--mode=live",
        "--client-order-id=gt" + "b3" * 12,
    ]
    code, doc = run(
        "check_robinhood.py", [*sell, f"--quantity={doc['execution']['fill']['qty']}"], venue
    )
    assert (
        code == 0
        and doc["execution"]["quantity"] > 0
        and "ETH" not in control(venue, op="state")["holdings"]
    )
    assert ref_id(cid) != ref_id("gt" + "b3" * 12)


def test_failures_are_exit_1_with_one_line_and_never_an_empty_list(venue: str) -> None:
    control(venue, op="fault", kind="holdings", mode="5xx")
    code, doc = run("fetch_robinhood_positions.py", [], venue)
    assert code == 1 and "positions" not in doc and "HTTP 500" in doc["error"]

    control(venue, op="fault", kind="orders", mode="5xx")
    st = ["--order-status", "--symbol=BTC", "--mode=live", "--client-order-id=gt" + "c4" * 12]
    code, doc = run("check_robinhood.py", st, venue)
    assert code == 1 and "status" not in doc and "HTTP 500" in doc["error"]
    code, doc = run("check_robinhood.py", st, venue)
    assert code == 0 and doc["status"] == "unknown" and doc["fill"] is None and doc["oid"] is None

    control(venue, op="fault", kind="order", mode="reject")
    buy = ["--execute", "--symbol=BTC", "--side=buy", "--amount_usd=50", "--mode=live"]
    code, doc = run("check_robinhood.py", [*buy, "--client-order-id=gt" + "c5" * 12], venue)
    assert code == 1 and doc["execution"] is None and "rejected" in doc["error"]

    code, doc = run(
        "check_robinhood.py",
        [*buy, "--client-order-id=gt" + "c6" * 12],
        venue,
        ROBINHOOD_TOTP_SECRET="GEZDGNBVGY3TQOJQ",
    )
    assert code == 1 and doc["execution"] is None and "refused the login" in doc["error"]
    code, doc = run(
        "check_robinhood.py",
        [*buy, "--client-order-id=gt" + "c7" * 12],
        venue,
        ROBINHOOD_PASSWORD="",
    )
    assert code == 1 and "ROBINHOOD_PASSWORD is not set" in doc["error"]

    paper = [a.replace("live", "paper") for a in buy]
    code, doc = run("check_robinhood.py", [*paper, "--client-order-id=gt" + "c8" * 12], venue)
    assert code == 1 and doc["error"] == "--execute requires --mode=live"
    code, doc = run("close_robinhood_position.py", ["--symbol=BTC"], venue)
    assert code == 1 and doc["close"] == {"symbol": "BTC", "fill": {}}
    code, _ = run("check_robinhood.py", [*buy], venue)  # no client order id: argv rejected
    assert code == 2


def test_every_script_probes_offline_without_credentials() -> None:
    env = {"ROBINHOOD_USERNAME": "", "ROBINHOOD_PASSWORD": "", "ROBINHOOD_TOTP_SECRET": ""}
    nowhere = "http://127.0.0.1:9"
    cid = "--client-order-id=gt" + "d9" * 12
    for name, args in (
        (
            "check_robinhood.py",
            ["--execute", "--symbol=BTC", "--side=buy", "--amount_usd=5", "--mode=live", cid],
        ),
        ("check_robinhood.py", ["--order-status", "--symbol=BTC", "--mode=live", cid]),
        ("close_robinhood_position.py", ["--symbol=BTC", "--mode=live"]),
        ("fetch_robinhood_positions.py", []),
    ):
        code, doc = run(name, [*args, "--probe-only"], nowhere, **env)
        assert (code, doc) == (0, {}), name


def _popen(name: str, args: list[str], url: str) -> subprocess.Popen[str]:
    full = {k: v for k, v in os.environ.items() if not k.startswith("ROBINHOOD_")}
    full.update(
        ROBINHOOD_USERNAME="test-user",
        ROBINHOOD_PASSWORD=PASSWORD,
        ROBINHOOD_TOTP_SECRET=DEFAULT_TOTP_SECRET,
        ROBINHOOD_BASE_URL=url,
    )
    return subprocess.Popen(
        [sys.executable, str(SCRIPTS / name), *args],
        env=full,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        text=True,
    )


@pytest.mark.parametrize("kill_after_s", [0.05, 0.4, 0.8, 1.6])
def test_a_worker_killed_mid_order_is_resolved_by_its_id_and_never_doubled(
    venue: str, kill_after_s: float
) -> None:
    """kill -9 of the execute worker at some point of its life (the order held at the venue
    for a moment): the venue's answer by client order id is the truth, and running the same
    order again (same id) never places a second one."""
    import signal
    import time

    cid = "gt" + f"{int(kill_after_s * 1000):024x}"
    before = control(venue, op="state")["orders"]
    control(venue, op="fault", kind="order", mode="timeout", hold_s=0.6)
    buy = ["--execute", "--symbol=LTC", "--side=buy", "--amount_usd=40", "--mode=live"]
    proc = _popen("check_robinhood.py", [*buy, f"--client-order-id={cid}"], venue)
    time.sleep(kill_after_s)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=10)
    time.sleep(0.8)  # a held request lands (or not) after its worker died
    control(venue, op="clear_faults")
    status = ["--order-status", "--symbol=LTC", "--mode=live", f"--client-order-id={cid}"]
    code, st = run("check_robinhood.py", status, venue)
    placed = control(venue, op="state")["orders"] - before
    assert code == 0 and st["status"] == ("filled" if placed else "unknown") and placed <= 1
    code, again = run("check_robinhood.py", [*buy, f"--client-order-id={cid}"], venue)
    assert code == 0 and again["execution"]["status"] == "filled"
    if placed:  # the same order, reported again: not a second one
        assert again["execution"]["fill"]["oid"] == st["oid"]
    assert control(venue, op="state")["orders"] - before == 1
    code, _ = run("close_robinhood_position.py", ["--symbol=LTC", "--mode=live"], venue)
    assert code == 0
