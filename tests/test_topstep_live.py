"""TopStep live against its local venue: the scripts in-process with the contract's argv.

Book units are contracts; every test checks the venue's account, never just the script's word.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # shared_scripts is not a package
from platforms.topstep.execution import adapter as adapter_mod  # noqa: E402
from platforms.topstep.localvenue import LocalVenueServer  # noqa: E402
from shared_scripts import (  # noqa: E402
    check_topstep,
    close_topstep_position,
    fetch_topstep_balance,
    fetch_topstep_fills,
    fetch_topstep_positions,
)

OPEN_NOW = "2026-12-08T15:00:00Z"  # a Tuesday, 09:00 in Chicago: Globex trades
CLOSED_NOW = "2026-12-12T15:00:00Z"  # a Saturday
ACCOUNT = 4242
SECRET = "s3cret-api-key-value"


@pytest.fixture
def venue(monkeypatch: pytest.MonkeyPatch) -> Iterator[LocalVenueServer]:
    monkeypatch.setenv("GO_TRADER_NOW", OPEN_NOW)
    server = LocalVenueServer(port=0, seed=7, api_key="trader@example.com", secret=SECRET)
    server.start()
    server.venue.add_account(ACCOUNT)
    monkeypatch.setenv("TOPSTEP_BASE_URL", server.url)
    monkeypatch.setenv("TOPSTEP_API_KEY", "trader@example.com")
    monkeypatch.setenv("TOPSTEP_API_SECRET", SECRET)
    monkeypatch.setenv("TOPSTEP_ACCOUNT_ID", str(ACCOUNT))
    monkeypatch.setenv("TOPSTEP_TIMEOUT_S", "0.5")
    monkeypatch.setattr(adapter_mod, "FILL_BACKOFF_S", (0.0, 0.01, 0.01, 0.01, 0.01))
    monkeypatch.setattr(adapter_mod, "LOOKUP_BACKOFF_S", (0.0, 0.01, 0.05, 0.1))
    try:
        yield server
    finally:
        server.stop()


def run(
    capsys: pytest.CaptureFixture[str], main: Callable[[list[str]], int], argv: list[str]
) -> tuple[int, dict[str, Any]]:
    code = main(argv)
    out = capsys.readouterr()
    assert SECRET not in out.out and SECRET not in out.err  # never printed
    return code, json.loads(out.out) if out.out.strip() else {}


def execute(capsys, side: str, contracts: str, cid: str, sym: str = "ES"):
    argv = ["--execute", f"--symbol={sym}", f"--side={side}", f"--contracts={contracts}"]
    return run(capsys, check_topstep.main, [*argv, "--mode=live", f"--client-order-id={cid}"])


def held(server: LocalVenueServer, root: str = "ES") -> int:
    acct = server.venue.accounts[ACCOUNT]
    pos = acct.positions.get(server.venue.contracts[root].id)
    return pos.size if pos else 0


def orders(server: LocalVenueServer) -> int:
    return len(server.venue.orders)


CID = "gt" + "ab" * 12


def test_open_close_flat_book_equals_venue(venue, capsys) -> None:
    code, doc = execute(capsys, "buy", "2", CID)
    assert code == 0, doc
    ex = doc["execution"]
    assert ex["status"] == "filled" and ex["client_order_id"] == CID
    assert ex["fill"]["qty"] == 2.0 == held(venue) and ex["fill"]["total_contracts"] == 2
    trade = venue.venue.accounts[ACCOUNT].trades[-1]
    assert ex["fill"]["avg_px"] == trade["price"] and ex["fill"]["fee"] == trade["fees"]
    assert ex["fill"]["oid"] == str(trade["orderId"])
    code, doc = run(capsys, fetch_topstep_positions.main, [])
    assert code == 0 and doc["positions"][0]["coin"] == "ES" and doc["positions"][0]["size"] == 2
    code, doc = run(capsys, close_topstep_position.main, ["--symbol=ES", "--mode=live"])
    assert code == 0 and not doc["already_flat"], doc
    assert doc["close"]["fill"]["qty"] == 2.0 and held(venue) == 0
    code, doc = run(capsys, fetch_topstep_positions.main, [])
    assert code == 0 and doc["positions"] == []
    code, doc = run(capsys, close_topstep_position.main, ["--symbol=ES", "--mode=live"])
    assert code == 0 and doc["already_flat"] is True
    code, doc = run(capsys, fetch_topstep_balance.main, [])
    assert doc["balance"] == pytest.approx(venue.venue.accounts[ACCOUNT].balance, abs=0.01)
    code, doc = run(capsys, fetch_topstep_fills.main, ["--since-ms=0"])
    assert code == 0 and len(doc["fills"]) == 2 and doc["fills"][1]["realized_pnl"] is not None


@pytest.mark.parametrize("mode", ["drop", "429", "5xx", "timeout"])
def test_lost_place_answer_gives_one_position(venue, capsys, mode: str) -> None:
    venue.faults.add("Order/place", mode, hold_s=1.0)
    code, doc = execute(capsys, "sell", "1", CID)
    assert code == 0, doc
    assert doc["execution"]["fill"]["qty"] == 1.0
    if mode == "timeout":  # the held copy lands later and is refused by its tag
        import time

        time.sleep(1.2)
    assert held(venue) == -1 and orders(venue) == 1
    assert doc["notes"]


def test_read_faults_are_retried_not_reported_flat(venue, capsys) -> None:
    code, _ = execute(capsys, "buy", "1", CID)
    venue.faults.add("Position/searchOpen", "5xx")
    code, doc = run(capsys, fetch_topstep_positions.main, [])
    assert code == 1 and "error" in doc and "positions" not in doc
    venue.faults.add("Position/searchOpen", "429")
    code, doc = run(capsys, close_topstep_position.main, ["--symbol=ES", "--mode=live"])
    assert code == 1 and "not confirmed" in doc["error"] and held(venue) == 1


def test_partial_fill_books_what_filled(venue, capsys) -> None:
    venue.faults.add("Order/place", "partial", fraction=0.5)
    code, doc = execute(capsys, "buy", "3", CID)
    assert code == 0 and doc["execution"]["status"] == "partial"
    assert doc["execution"]["fill"]["qty"] == 1.0 == held(venue)


def test_no_fill_yet_then_order_status(venue, capsys) -> None:
    venue.faults.add("Order/place", "no_fill", reads=20)
    code, doc = execute(capsys, "buy", "1", CID)
    assert code == 1 and doc["execution"] is None and doc["status"] == "open"
    assert held(venue) == 0 and orders(venue) == 1
    status = "open"
    for _ in range(20):
        argv = ["--order-status", f"--client-order-id={CID}", "--symbol=ES", "--mode=live"]
        code, doc = run(capsys, check_topstep.main, argv)
        assert code == 0
        status = doc["status"]
        if status == "filled":
            break
    assert status == "filled" and doc["fill"]["qty"] == 1.0 == held(venue)
    assert orders(venue) == 1


def test_short_no_fill_settles_within_execute(venue, capsys) -> None:
    venue.faults.add("Order/place", "no_fill", reads=2)
    code, doc = execute(capsys, "buy", "1", CID)
    assert code == 0 and doc["execution"]["fill"]["qty"] == 1.0 == held(venue)


def test_order_status_unknown_and_failed_read(venue, capsys) -> None:
    argv = ["--order-status", "--client-order-id=gtnothere", "--symbol=ES", "--mode=live"]
    code, doc = run(capsys, check_topstep.main, argv)
    assert code == 0 and doc["status"] == "unknown" and doc["fill"] is None
    venue.faults.add("Order/search", "5xx")
    code, doc = run(capsys, check_topstep.main, argv)
    assert code == 1 and "error" in doc and doc.get("status") != "unknown"


def test_whole_contract_rounding(venue, capsys) -> None:
    code, doc = execute(capsys, "buy", "2.7", CID, sym="MES")
    assert code == 0 and doc["execution"]["contracts"] == 2 and held(venue, "MES") == 2
    code, doc = execute(capsys, "buy", "0.6", "gt" + "cd" * 12, sym="MES")
    assert code == 1 and "zero whole contracts" in doc["error"] and orders(venue) == 1


def test_close_flattens_and_sized_close(venue, capsys) -> None:
    execute(capsys, "buy", "3", CID, sym="NQ")
    code, doc = run(capsys, close_topstep_position.main, ["--symbol=NQ", "--mode=live", "--sz=1"])
    assert code == 0 and doc["close"]["fill"]["qty"] == 1.0 and held(venue, "NQ") == 2
    assert doc["close"]["status"] == "filled"
    argv = ["--symbol=NQ", "--mode=live", "--client-order-id=gt" + "ef" * 12]
    venue.faults.add("Order/place", "drop")
    code, doc = run(capsys, close_topstep_position.main, argv)
    assert code == 0 and doc["close"]["fill"]["qty"] == 2.0 and held(venue, "NQ") == 0


def test_close_answer_dropped_is_not_doubled(venue, capsys) -> None:
    execute(capsys, "sell", "2", CID)
    venue.faults.add("Position/closeContract", "drop")
    code, doc = run(capsys, close_topstep_position.main, ["--symbol=ES", "--mode=live"])
    assert code == 0 and doc["close"]["fill"]["qty"] == 2.0 and held(venue) == 0
    assert orders(venue) == 2


def test_market_closed_refuses_before_sending(venue, capsys, monkeypatch) -> None:
    monkeypatch.setenv("GO_TRADER_NOW", CLOSED_NOW)
    code, doc = execute(capsys, "buy", "1", CID)
    assert code == 1 and "closed" in doc["error"] and orders(venue) == 0


def test_bad_secret_names_the_variable(venue, capsys, monkeypatch) -> None:
    monkeypatch.setenv("TOPSTEP_API_SECRET", "wrong-" + SECRET)
    code, doc = execute(capsys, "buy", "1", CID)
    assert code == 1 and "TOPSTEP_API_SECRET" in doc["error"]
    assert "wrong-" not in json.dumps(doc)
    monkeypatch.delenv("TOPSTEP_ACCOUNT_ID")
    code, doc = run(capsys, fetch_topstep_balance.main, [])
    assert code == 1 and "TOPSTEP_ACCOUNT_ID is not set" in doc["error"]


def test_paper_mode_refused_and_probe_only(venue, capsys) -> None:
    argv = ["--execute", "--symbol=ES", "--side=buy", "--contracts=1", "--mode=paper"]
    code, doc = run(capsys, check_topstep.main, argv)
    assert code == 1 and doc["execution"] is None and "--mode=live" in doc["error"]
    for main in (check_topstep.main, close_topstep_position.main):
        args = argv if main is check_topstep.main else ["--symbol=ES"]
        assert main([*args, "--probe-only"]) == 0
    assert fetch_topstep_fills.main(["--since-ms=0", "--probe-only"]) == 0
    assert capsys.readouterr().out == "" and orders(venue) == 0


def test_execute_again_with_the_same_id_reports_the_first_order(venue, capsys) -> None:
    """A desk that crashed after sending re-runs the intent: the tag maps to the first order."""
    code, first = execute(capsys, "buy", "1", CID)
    code, again = execute(capsys, "buy", "1", CID)
    assert code == 0 and again["execution"]["fill"]["oid"] == first["execution"]["fill"]["oid"]
    assert held(venue) == 1 and orders(venue) == 1 and "already used" in again["notes"][0]


def test_venue_refusal_is_an_error_without_an_order(venue, capsys) -> None:
    venue.venue.clock.step(4 * 86_400)  # the venue's Saturday while the desk's clock says Tuesday
    code, doc = execute(capsys, "buy", "1", CID)
    assert code == 1 and doc["execution"] is None and "Outside trading hours" in doc["error"]
    assert orders(venue) == 0


def test_an_expired_token_logs_in_again(venue) -> None:
    from platforms.topstep.execution import TopStepExecution

    ex = TopStepExecution()
    assert ex.positions() == []
    venue.venue.tokens.clear()  # the gateway forgot the session (tokens last 24 h)
    assert ex.positions() == [] and ex.balance() == pytest.approx(50_000.0)


@given(st.floats(0.0, 1e4, allow_nan=False))
def test_whole_contracts_floor_and_never_exceed(qty: float) -> None:
    from platforms.topstep.execution import whole_contracts

    if qty < 1:
        with pytest.raises(ValueError):
            whole_contracts(qty)
        return
    out = whole_contracts(qty)
    assert isinstance(out, int) and 1 <= out <= qty + 1e-9 and qty - out < 1


def test_lost_reads_after_the_fill_do_not_fail_the_execute(venue, capsys) -> None:
    venue.faults.add("Order/search", "drop")
    venue.faults.add("Trade/search", "5xx", count=3)  # every trade read lost: the order's fill
    code, doc = execute(capsys, "buy", "2", CID)
    assert code == 0 and doc["execution"]["fill"]["qty"] == 2.0 == held(venue)
    assert doc["execution"]["fill"]["fee"] is None  # said, not invented
    assert doc["execution"]["fill"]["avg_px"] == venue.venue.accounts[ACCOUNT].trades[-1]["price"]


def test_close_rerun_with_its_id_reports_the_first_close(venue, capsys) -> None:
    execute(capsys, "buy", "2", CID)
    argv = ["--symbol=ES", "--mode=live", "--client-order-id=gt" + "77" * 12]
    code, first = run(capsys, close_topstep_position.main, argv)
    code, again = run(capsys, close_topstep_position.main, argv)
    assert code == 0 and not again["already_flat"] and held(venue) == 0 and orders(venue) == 2
    assert again["close"]["fill"] == first["close"]["fill"] and again["close"]["contracts"] == 2


def test_a_fault_kind_may_be_the_bare_verb(venue, capsys) -> None:
    venue.faults.add("place", "drop")  # as "Order/place"
    code, doc = execute(capsys, "buy", "1", CID)
    assert code == 0 and held(venue) == 1 and orders(venue) == 1 and doc["notes"]


def test_close_outside_hours_is_an_error_and_keeps_the_position(venue, capsys) -> None:
    execute(capsys, "sell", "1", CID)
    venue.venue.clock.step(4 * 86_400)  # Saturday at the venue
    for argv in (
        ["--symbol=ES", "--mode=live"],
        ["--symbol=ES", "--mode=live", "--client-order-id=gtx"],
    ):
        code, doc = run(capsys, close_topstep_position.main, argv)
        assert code == 1 and "Outside trading hours" in doc["error"] and doc["close"]["fill"] == {}
    assert held(venue) == -1
    venue.venue.enforce_hours = False  # --ignore-hours
    code, doc = run(capsys, close_topstep_position.main, ["--symbol=ES", "--mode=live"])
    assert code == 0 and held(venue) == 0
