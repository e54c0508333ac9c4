"""Hyperliquid live modes against the local venue, in process (the handlers behind the argv).

The real SDK talks to ``LocalVenueServer`` on 127.0.0.1; throwaway keys; the clock is pinned.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path

import eth_account
import pytest

from platforms.hyperliquid.execution import adapter as hl_adapter
from platforms.hyperliquid.localvenue import LocalVenueServer

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # shared_scripts is not a package
from shared_scripts.hl_live import cli  # noqa: E402

NOW_MS = 1_767_225_600_000  # 2026-01-01T00:00:00Z
OWNER_KEY = "0x" + "11" * 32  # throwaway keys, for these tests only
AGENT_KEY = "0x" + "22" * 32
CLOID = "0x" + "ab" * 16
TIERS = json.dumps(
    [
        {"atr_multiple": 1.5, "close_fraction": 0.4},
        {"atr_multiple": 3.0, "close_fraction": 0.8},
        {"atr_multiple": 5.0, "close_fraction": 1.0},
    ]
)


def owner() -> str:
    return eth_account.Account.from_key(OWNER_KEY).address


@pytest.fixture
def venue(monkeypatch: pytest.MonkeyPatch) -> Iterator[LocalVenueServer]:
    monkeypatch.setenv("GO_TRADER_NOW", str(NOW_MS // 1000))
    monkeypatch.setattr(hl_adapter, "_sleep", lambda s: None)  # no real backoff in tests
    server = LocalVenueServer(port=0, seed=7).start()
    agent = eth_account.Account.from_key(AGENT_KEY)
    server.venue.add_account(owner())
    server.venue.add_agent(owner(), agent.address)
    monkeypatch.setenv("GO_TRADER_HL_BASE_URL", server.url)
    monkeypatch.setenv("HYPERLIQUID_SECRET_KEY", AGENT_KEY)
    monkeypatch.setenv("HYPERLIQUID_ACCOUNT_ADDRESS", owner())
    try:
        yield server
    finally:
        server.stop()


def run(*args: str) -> dict:
    ns = cli.build_parser().parse_args([*args, "--mode=live"])
    cli.validate(ns)
    return cli.handle(ns)


def info(server: LocalVenueServer) -> dict:
    from hyperliquid.info import Info

    i = Info(server.url, skip_ws=True, timeout=5)
    return {
        "fills": i.user_fills(owner()),
        "orders": i.frontend_open_orders(owner()),
        "state": i.user_state(owner()),
    }


def szi(server: LocalVenueServer, coin: str = "ETH") -> float:
    for p in info(server)["state"]["assetPositions"]:
        if p["position"]["coin"] == coin:
            return float(p["position"]["szi"])
    return 0.0


def buy(size: str = "1", *extra: str) -> dict:
    return run("--execute", "--symbol=ETH", "--side=buy", f"--size={size}", *extra)


def test_open_with_stop_resting_and_size_rounded(venue: LocalVenueServer) -> None:
    doc = buy("1.23456", "--stop-loss-pct=2", f"--cloid={CLOID}")
    assert "error" not in doc, doc
    ex = doc["execution"]
    assert ex["size"] == 1.2345  # floored to szDecimals 4: the size actually sent
    fill = ex["fill"]
    assert fill["total_sz"] == 1.2345 and fill["cloid"] == CLOID and fill["fee"] > 0
    trigger = doc["stop_loss_trigger_px"]
    assert trigger == float(f"{fill['avg_px'] * 0.98:.5g}")  # 5 significant figures
    orders = info(venue)["orders"]
    assert [o["oid"] for o in orders] == [doc["stop_loss_oid"]]
    assert orders[0]["reduceOnly"] and orders[0]["isTrigger"] and orders[0]["sz"] == "1.2345"


def test_size_rounding_to_zero_is_an_error(venue: LocalVenueServer) -> None:
    doc = buy("0.00001")
    assert doc["execution"] is None and "size rounded to zero" in doc["error"]
    assert info(venue)["fills"] == []


def test_close_full_position_and_reduce_only(venue: LocalVenueServer) -> None:
    refused = run("--execute", "--symbol=ETH", "--side=sell", "--size=1", "--reduce-only")
    assert refused["execution"] is None and "Reduce only" in refused["error"]
    buy("1")
    part = run("--execute", "--symbol=ETH", "--side=sell", "--size=5", "--reduce-only")
    assert part["execution"]["fill"]["total_sz"] == 1.0 and szi(venue) == 0.0
    buy("0.5")
    doc = run("--execute", "--symbol=ETH", "--side=sell", "--close-full-position")
    assert doc["execution"]["fill"]["total_sz"] == 0.5 and szi(venue) == 0.0


def test_non_live_is_refused() -> None:
    ns = cli.build_parser().parse_args(["--execute", "--symbol=ETH", "--side=buy", "--size=1"])
    assert cli.handle(ns) == {"error": "--execute requires --mode=live", "execution": None}
    ns = cli.build_parser().parse_args(["--sync-protection", "--symbol=ETH", "--mode=paper"])
    assert cli.handle(ns) == {"error": "--sync-protection requires --mode=live"}


def test_rejected_order_is_a_failure_not_a_fill(venue: LocalVenueServer) -> None:
    venue.faults.add("order", "reject")
    doc = buy("1")
    assert doc["execution"] is None and "rejected by the local venue" in doc["error"]
    assert info(venue)["fills"] == []


def test_dropped_answer_is_resolved_by_cloid(venue: LocalVenueServer) -> None:
    venue.faults.add("order", "drop")
    doc = buy("1", f"--cloid={CLOID}")
    assert doc["execution"]["fill"]["total_sz"] == 1.0, doc
    assert "resolved by cloid" in doc["notes"][0]
    assert len(info(venue)["fills"]) == 1 and szi(venue) == 1.0


@pytest.mark.parametrize("mode", ["5xx", "429"])
def test_refused_transport_is_resent_once_never_twice(venue: LocalVenueServer, mode: str) -> None:
    venue.faults.add("order", mode)
    doc = buy("1", f"--cloid={CLOID}")
    assert doc["execution"]["fill"]["total_sz"] == 1.0, doc
    assert "resent once" in doc["notes"][0]
    assert len(info(venue)["fills"]) == 1 and szi(venue) == 1.0


def test_lost_answer_without_cloid_is_never_resent(venue: LocalVenueServer) -> None:
    venue.faults.add("order", "5xx")
    doc = buy("1")
    assert doc["execution"] is None and "not resent (no cloid)" in doc["error"]
    assert info(venue)["fills"] == []


def test_partial_fill_reports_partial_size(venue: LocalVenueServer) -> None:
    venue.faults.add("order", "partial", fraction=0.5)
    doc = buy("1")
    assert doc["execution"]["fill"]["total_sz"] == 0.5 and szi(venue) == 0.5


def sync(*extra: str, size: str = "1.2345") -> dict:
    return run(
        "--sync-protection",
        "--symbol=ETH",
        "--side=long",
        f"--size={size}",
        "--avg-cost=2900",
        "--entry-atr=30",
        "--stop-loss-atr-mult=2",
        f"--tp-tiers-json={TIERS}",
        *extra,
    )


def test_sync_protection_places_is_idempotent_and_caps(venue: LocalVenueServer) -> None:
    buy("1.2345")
    first = sync()
    assert first["stop_loss_trigger_px"] == 2840.0 and first["tp_pxs"] == [2945.0, 2990.0, 3050.0]
    orders = {o["oid"]: o for o in info(venue)["orders"]}
    assert orders[first["stop_loss_oid"]]["sz"] == "1.2345"
    assert [orders[o]["sz"] for o in first["tp_oids"]] == ["0.4938", "0.4938", "0.2469"]
    again = sync(f"--stop-loss-oid={first['stop_loss_oid']}", f"--tp-oids-json={first['tp_oids']}")
    assert again["stop_loss_oid"] == first["stop_loss_oid"] and again["tp_oids"] == first["tp_oids"]
    assert sorted(o["oid"] for o in info(venue)["orders"]) == sorted(orders)
    # a fresh sync capped at the on-chain size (and one consumed tier: OID 0 + armed)
    for oid in orders:
        run("--cancel-order", "--symbol=ETH", f"--oid={oid}")
    capped = sync("--onchain-size=1.0", "--tp-oids-json=[0,0,0]", "--tp-armed-tiers-json=[true]")
    assert capped["tp_oids"][0] == 0 and capped["size_capped_to"] == 1.0
    live = {o["oid"]: o for o in info(venue)["orders"]}
    assert float(live[capped["stop_loss_oid"]]["sz"]) == 1.0
    assert [float(live[o]["sz"]) for o in capped["tp_oids"][1:]] == [0.4, 0.2]


def test_sync_protection_explicit_prices(venue: LocalVenueServer) -> None:
    buy("1")
    tiers = json.dumps(
        [{"price": 3000.123, "close_fraction": 0.5}, {"price": 3100, "close_fraction": 1}]
    )
    doc = run(
        "--sync-protection",
        "--symbol=ETH",
        "--side=long",
        "--size=1",
        "--avg-cost=2900",
        "--stop-loss-trigger-px=2800.456",
        f"--tp-tiers-json={tiers}",
    )
    assert doc["stop_loss_trigger_px"] == 2800.5 and doc["tp_pxs"] == [3000.1, 3100.0]
    assert all(doc["tp_oids"]) and doc["stop_loss_oid"]


def test_update_stop_loss_cancels_then_places(venue: LocalVenueServer) -> None:
    first = buy("1", "--stop-loss-pct=2")
    old = first["stop_loss_oid"]
    doc = run(
        "--update-stop-loss",
        "--symbol=ETH",
        "--side=long",
        "--size=1",
        "--trigger-px=2880",
        f"--cancel-stop-loss-oid={old}",
    )
    assert doc["cancel_stop_loss_succeeded"] and doc["stop_loss_oid"] != old
    assert [o["oid"] for o in info(venue)["orders"]] == [doc["stop_loss_oid"]]
    assert float(info(venue)["orders"][0]["triggerPx"]) == 2880.0


def test_order_status_and_account_state(venue: LocalVenueServer) -> None:
    buy("1", f"--cloid={CLOID}")
    resting_cloid = "0x" + "cd" * 16
    lim = run(
        "--limit-open", "--symbol=ETH", "--side=buy", "--size=0.5", "--limit-price=2000",
        "--tif=Gtc", f"--cloid={resting_cloid}",
    )  # fmt: skip
    assert lim["status"] == "resting", lim
    filled = run("--order-status", f"--cloid={CLOID}")
    assert filled["status"] == "filled" and filled["fill"]["total_sz"] == 1.0
    assert filled["fill"]["fee"] > 0
    resting = run("--order-status", f"--cloid={resting_cloid}")
    assert resting["status"] == "resting" and resting["oid"] == lim["order_oid"]
    unknown = run("--order-status", "--cloid=0x" + "ef" * 16)
    assert unknown == {"status": "unknown", "oid": None, "fill": None, "cloid": "0x" + "ef" * 16}
    state = run("--account-state", f"--since-ms={NOW_MS - 1000}")
    assert state["account_value"] > 0 and state["server_time_ms"] == NOW_MS
    assert state["positions"][0]["coin"] == "ETH" and state["positions"][0]["szi"] == 1.0
    assert state["open_orders"][0]["cloid"] == resting_cloid
    assert state["fills"][0]["cloid"] == CLOID and state["funding"] == []
    status = run("--limit-status", "--symbol=ETH", f"--oids-json=[{lim['order_oid']}]")
    assert status["orders"][0]["resting"] is True and status["orders"][0]["filled_size"] == 0
    cancel = run("--cancel-order", "--symbol=ETH", f"--oid={lim['order_oid']}")
    assert cancel == {"oid": lim["order_oid"], "cancelled": True, "cancel_error": None}
    assert run("--order-status", f"--cloid={resting_cloid}")["status"] == "canceled"


def test_close_script_already_flat_and_fetch_fills(venue: LocalVenueServer) -> None:
    from shared_scripts import close_hyperliquid_position as close
    from shared_scripts import fetch_hl_user_fills as fetch

    flat = close.handle(close.build_parser().parse_args(["--symbol=ETH", "--mode=live"]))
    assert flat["already_flat"] is True and "error" not in flat
    buy("1")
    buy("0.5")
    done = close.handle(close.build_parser().parse_args(["--symbol=ETH", "--mode=live"]))
    assert done["close"]["fill"]["total_sz"] == 1.5 and szi(venue) == 0.0
    doc = fetch.handle(fetch.build_parser().parse_args([f"--since-ms={NOW_MS}", "--mode=live"]))
    assert doc["count"] == 3 and set(doc["by_oid"]) == {"1", "2", "3"}
    assert doc["by_oid"]["3"]["qty"] == 1.5 and doc["by_oid"]["3"]["fee"] > 0
    empty = fetch.handle(
        fetch.build_parser().parse_args([f"--since-ms={NOW_MS + 1}", "--mode=live"])
    )
    assert empty["count"] == 0 and "0 fills" in empty["warning"]
