"""The local Hyperliquid venue, driven only through the real hyperliquid-python-sdk."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import eth_account
import pytest
import requests
from hyperliquid.exchange import Exchange
from hyperliquid.info import Info
from hyperliquid.utils.error import ClientError
from hyperliquid.utils.types import Cloid

from platforms.hyperliquid.localvenue import LocalVenueServer
from platforms.hyperliquid.localvenue.exchange import MAKER_FEE, TAKER_FEE
from shared_tools.market import sim_model

ROOT = Path(__file__).resolve().parents[1]
NOW_MS = 1_767_225_600_000  # 2026-01-01T00:00:00Z
SEED = 7
# throwaway keys, generated for these tests only
OWNER_KEY = "0x" + "11" * 32
AGENT_KEY = "0x" + "22" * 32
STRANGER_KEY = "0x" + "33" * 32


@pytest.fixture
def venue(monkeypatch: pytest.MonkeyPatch) -> Iterator[LocalVenueServer]:
    monkeypatch.setenv("GO_TRADER_NOW", str(NOW_MS // 1000))
    server = LocalVenueServer(port=0, seed=SEED).start()
    owner = eth_account.Account.from_key(OWNER_KEY)
    agent = eth_account.Account.from_key(AGENT_KEY)
    server.venue.add_account(owner.address)
    server.venue.add_agent(owner.address, agent.address)
    try:
        yield server
    finally:
        server.stop()


def _owner() -> str:
    return eth_account.Account.from_key(OWNER_KEY).address


def _exchange(server: LocalVenueServer, key: str = AGENT_KEY) -> Exchange:
    wallet = eth_account.Account.from_key(key)
    return Exchange(wallet, server.url, account_address=_owner(), timeout=5)


def _info(server: LocalVenueServer) -> Info:
    return Info(server.url, skip_ws=True, timeout=5)


def _sim_mid(coin: str, ms: int) -> float:
    raw = sim_model.price(coin, ms / 1000.0, SEED)
    return round(float(f"{raw:.5g}"), 6 - {"BTC": 5, "ETH": 4, "SOL": 2}[coin])


def test_market_data_answers(venue: LocalVenueServer) -> None:
    info = _info(venue)
    meta = info.meta()
    assert [a["name"] for a in meta["universe"]][:2] == ["BTC", "ETH"]
    assert meta["universe"][0]["szDecimals"] == 5
    mids = info.all_mids()
    assert float(mids["BTC"]) == _sim_mid("BTC", NOW_MS)
    candles = info.candles_snapshot("ETH", "1h", NOW_MS - 5 * 3_600_000, NOW_MS)
    assert len(candles) == 6
    assert {"t", "T", "o", "h", "l", "c", "v", "n", "s", "i"} <= set(candles[0])
    assert all(float(c["l"]) <= float(c["c"]) <= float(c["h"]) for c in candles)
    ctx = info.meta_and_asset_ctxs()
    assert ctx[1][0]["markPx"] == mids["BTC"]
    funding = info.funding_history("BTC", NOW_MS - 3 * 3_600_000)
    assert [f["time"] for f in funding] == [NOW_MS - k * 3_600_000 for k in (3, 2, 1, 0)]
    assert info.spot_meta()["tokens"][0]["name"] == "USDC"


def test_unknown_info_type_is_a_4xx(venue: LocalVenueServer) -> None:
    with pytest.raises(ClientError) as err:
        _info(venue).post("/info", {"type": "noSuchThing"})
    assert err.value.status_code == 422
    assert "noSuchThing" in err.value.error_message


def test_ioc_market_open_fills_at_mid_with_fee(venue: LocalVenueServer) -> None:
    ex = _exchange(venue)
    mid = _sim_mid("ETH", NOW_MS)
    res = ex.market_open("ETH", True, 0.5)
    assert res["status"] == "ok", res
    filled = res["response"]["data"]["statuses"][0]["filled"]
    assert float(filled["avgPx"]) == mid and filled["totalSz"] == "0.5"
    info = _info(venue)
    fills = info.user_fills(_owner())
    assert len(fills) == 1 and fills[0]["oid"] == filled["oid"]
    assert float(fills[0]["fee"]) == pytest.approx(0.5 * mid * TAKER_FEE, abs=1e-6)
    assert fills[0]["dir"] == "Open Long" and fills[0]["side"] == "B"
    state = info.user_state(_owner())
    pos = state["assetPositions"][0]["position"]
    assert pos["coin"] == "ETH" and float(pos["szi"]) == 0.5 and float(pos["entryPx"]) == mid
    assert float(state["marginSummary"]["accountValue"]) == pytest.approx(
        10_000 - 0.5 * mid * TAKER_FEE, abs=1e-3
    )
    # a full close through the SDK's market_close (reads clearinghouseState, reduce-only IOC)
    closed = ex.market_close("ETH")
    assert "filled" in closed["response"]["data"]["statuses"][0]
    assert _info(venue).user_state(_owner())["assetPositions"] == []


def test_ioc_limit_that_cannot_match_is_cancelled(venue: LocalVenueServer) -> None:
    mid = _sim_mid("ETH", NOW_MS)
    res = _exchange(venue).order("ETH", True, 0.5, round(mid * 0.9, 1), {"limit": {"tif": "Ioc"}})
    err = res["response"]["data"]["statuses"][0]["error"]
    assert err.startswith("Order could not immediately match")


def test_reduce_only_stop_rests_and_fires_when_clock_passes(venue: LocalVenueServer) -> None:
    ex = _exchange(venue)
    ex.market_open("BTC", True, 0.01)
    # find the first minute the BTC mid falls 0.3% below the entry, then stop just above it
    entry = _sim_mid("BTC", NOW_MS)
    step = next(m for m in range(1, 3000) if _sim_mid("BTC", NOW_MS + m * 60_000) < entry * 0.997)
    trigger = float(f"{entry * 0.997:.5g}")
    order_type = {"trigger": {"triggerPx": trigger, "isMarket": True, "tpsl": "sl"}}
    res = ex.order("BTC", False, 0.01, round(trigger * 0.95), order_type, reduce_only=True)
    oid = res["response"]["data"]["statuses"][0]["resting"]["oid"]
    info = _info(venue)
    assert [o["oid"] for o in info.open_orders(_owner())] == [oid]
    venue.venue.clock.step((step - 1) * 60)  # the minute before the crossing: still resting
    assert info.user_state(_owner())["assetPositions"]
    venue.venue.clock.step(60)
    assert info.user_state(_owner())["assetPositions"] == []
    assert info.open_orders(_owner()) == []
    closing = info.user_fills(_owner())[0]
    assert closing["oid"] == oid and closing["dir"] == "Close Long"
    assert float(closing["px"]) <= trigger


def test_resting_gtc_fills_as_maker_when_mid_crosses(venue: LocalVenueServer) -> None:
    ex = _exchange(venue)
    mid = _sim_mid("SOL", NOW_MS)
    limit = float(f"{mid * 0.998:.5g}")
    res = ex.order("SOL", True, 1.0, limit, {"limit": {"tif": "Gtc"}})
    assert "resting" in res["response"]["data"]["statuses"][0]
    step = next(m for m in range(1, 5000) if _sim_mid("SOL", NOW_MS + m * 60_000) <= limit)
    venue.venue.clock.step(step * 60)
    fill = _info(venue).user_fills(_owner())[0]
    assert float(fill["px"]) == limit and fill["crossed"] is False
    assert float(fill["fee"]) == pytest.approx(limit * MAKER_FEE, abs=1e-6)


def test_alo_that_would_cross_is_refused(venue: LocalVenueServer) -> None:
    mid = _sim_mid("SOL", NOW_MS)
    res = _exchange(venue).order(
        "SOL", True, 1.0, float(f"{mid * 1.01:.5g}"), {"limit": {"tif": "Alo"}}
    )
    assert (
        "Post only order would have immediately matched"
        in res["response"]["data"]["statuses"][0]["error"]
    )


def test_cancel_by_cloid(venue: LocalVenueServer) -> None:
    ex = _exchange(venue)
    cloid = Cloid.from_int(42)
    mid = _sim_mid("ETH", NOW_MS)
    res = ex.order(
        "ETH", True, 0.5, float(f"{mid * 0.9:.5g}"), {"limit": {"tif": "Gtc"}}, cloid=cloid
    )
    assert res["response"]["data"]["statuses"][0]["resting"]["cloid"] == cloid.to_raw()
    assert _info(venue).open_orders(_owner())[0]["cloid"] == cloid.to_raw()
    res = ex.cancel_by_cloid("ETH", cloid)
    assert res["response"]["data"]["statuses"] == ["success"]
    assert _info(venue).open_orders(_owner()) == []
    again = ex.cancel_by_cloid("ETH", cloid)
    assert (
        "never placed, already canceled, or filled"
        in again["response"]["data"]["statuses"][0]["error"]
    )


def test_wrong_key_is_refused(venue: LocalVenueServer) -> None:
    res = _exchange(venue, STRANGER_KEY).market_open("ETH", True, 0.5)
    stranger = eth_account.Account.from_key(STRANGER_KEY).address.lower()
    assert res == {"status": "err", "response": f"User or API Wallet {stranger} does not exist."}
    assert _info(venue).user_fills(_owner()) == []


def test_owner_key_signs_too(venue: LocalVenueServer) -> None:
    res = _exchange(venue, OWNER_KEY).market_open("ETH", False, 0.5)
    assert "filled" in res["response"]["data"]["statuses"][0]


def test_replayed_nonce_is_refused(venue: LocalVenueServer) -> None:
    ex = _exchange(venue)
    sent: list[dict] = []
    original = ex.post

    def spy(path: str, payload: dict | None = None) -> dict:
        sent.append(payload or {})
        return original(path, payload)

    ex.post = spy  # type: ignore[method-assign]
    ex.update_leverage(5, "ETH")
    replay = original("/exchange", sent[-1])
    assert replay["status"] == "err" and "nonce" in replay["response"]


def test_size_and_price_rounding_rejections(venue: LocalVenueServer) -> None:
    ex = _exchange(venue)
    mid = _sim_mid("ETH", NOW_MS)
    gtc = {"limit": {"tif": "Gtc"}}
    low = float(f"{mid * 0.9:.5g}")

    def status(sz: float, px: float) -> str:
        return ex.order("ETH", True, sz, px, gtc)["response"]["data"]["statuses"][0].get(
            "error", ""
        )

    assert status(0.12345, low) == "Order has invalid size. asset=1"  # szDecimals 4
    assert status(0.5, low + 0.123) == "Order has invalid price. asset=1"  # > 2 decimals
    assert status(0.5, 1234.56) == "Order has invalid price. asset=1"  # 6 significant figures
    assert status(0.001, low) == "Order must have minimum value of $10. asset=1"
    assert status(100.0, low) == "Insufficient margin to place order. asset=1"
    assert status(0.5, low) == ""


def test_reduce_only_never_opens(venue: LocalVenueServer) -> None:
    res = _exchange(venue).order(
        "ETH", False, 0.5, 1.0, {"limit": {"tif": "Ioc"}}, reduce_only=True
    )
    assert res["response"]["data"]["statuses"][0]["error"].startswith(
        "Reduce only order would increase"
    )


def test_429_fault_then_success(venue: LocalVenueServer) -> None:
    venue.faults.add("order", "429")
    ex = _exchange(venue)
    with pytest.raises(ClientError) as err:
        ex.market_open("ETH", True, 0.5)
    assert err.value.status_code == 429
    assert _info(venue).user_fills(_owner()) == []
    assert "filled" in ex.market_open("ETH", True, 0.5)["response"]["data"]["statuses"][0]


def test_dropped_connection_order_still_exists(venue: LocalVenueServer) -> None:
    import requests

    venue.faults.add("order", "drop")
    ex = _exchange(venue)
    cloid = Cloid.from_int(7)
    with pytest.raises(requests.exceptions.ConnectionError):
        ex.market_open("ETH", True, 0.5, cloid=cloid)
    info = _info(venue)
    status = info.query_order_by_cloid(_owner(), cloid)
    assert status["status"] == "order" and status["order"]["status"] == "filled"
    fills = info.user_fills_by_time(_owner(), NOW_MS - 60_000)
    assert [f["cloid"] for f in fills] == [cloid.to_raw()]


def test_partial_and_late_fill_faults(venue: LocalVenueServer) -> None:
    ex = _exchange(venue)
    venue.faults.add("order", "partial", fraction=0.5)
    res = ex.market_open("ETH", True, 1.0)
    assert res["response"]["data"]["statuses"][0]["filled"]["totalSz"] == "0.5"
    venue.faults.add("order", "late_fill", delay_s=20)
    ex.market_open("ETH", True, 0.5)
    info = _info(venue)
    assert len(info.user_fills_by_time(_owner(), NOW_MS - 60_000)) == 1
    venue.venue.clock.step(20)
    assert len(info.user_fills_by_time(_owner(), NOW_MS - 60_000)) == 2


def test_reject_and_5xx_faults_through_control(venue: LocalVenueServer) -> None:
    import requests
    from hyperliquid.utils.error import ServerError

    requests.post(
        venue.url + "/control", json={"op": "fault", "kind": "allMids", "mode": "5xx"}, timeout=5
    )
    with pytest.raises(ServerError):
        _info(venue).all_mids()
    requests.post(
        venue.url + "/control", json={"op": "fault", "kind": "order", "mode": "reject"}, timeout=5
    )
    res = _exchange(venue).market_open("ETH", True, 0.5)
    assert "rejected" in res["response"]["data"]["statuses"][0]["error"]
    now = requests.post(
        venue.url + "/control", json={"op": "clock", "step_s": 3600}, timeout=5
    ).json()
    assert now["now_ms"] == NOW_MS + 3_600_000


def test_timeout_fault_holds_the_request(venue: LocalVenueServer) -> None:
    import requests

    venue.faults.add("allMids", "timeout", hold_s=2)
    info = Info(venue.url, skip_ws=True, timeout=0.5)
    with pytest.raises(requests.exceptions.Timeout):
        info.all_mids()


def test_hourly_funding_is_paid(venue: LocalVenueServer) -> None:
    ex = _exchange(venue)
    ex.market_open("BTC", True, 0.01)
    venue.venue.clock.step(2 * 3600)
    rows = _info(venue).user_funding_history(_owner(), NOW_MS)
    assert [r["time"] for r in rows] == [NOW_MS + 3_600_000, NOW_MS + 7_200_000]
    first = rows[0]["delta"]
    rate = sim_model.funding_rate("BTC", (NOW_MS + 3_600_000) / 1000.0, SEED)
    px = _sim_mid("BTC", NOW_MS + 3_600_000)
    assert float(first["usdc"]) == pytest.approx(-0.01 * px * rate, abs=1e-6)


def test_cli_prints_url_and_exits_on_sigterm() -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "platforms.hyperliquid.localvenue", "--port", "0", "--seed", "3"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline().strip()
        assert line.startswith("localvenue: http://127.0.0.1:")
        url = line.split(" ", 1)[1]
        assert "BTC" in Info(url, skip_ws=True, timeout=5).all_mids()
        owner = eth_account.Account.from_key(OWNER_KEY).address
        agent = eth_account.Account.from_key(AGENT_KEY)
        for op in (
            {"op": "account", "address": owner},
            {"op": "agent", "account": owner, "agent": agent.address},
        ):
            assert requests.post(url + "/control", json=op, timeout=5).status_code == 200
        ex = Exchange(agent, url, account_address=owner, timeout=5)
        assert "filled" in ex.market_open("ETH", True, 0.5)["response"]["data"]["statuses"][0]
        state = Info(url, skip_ws=True, timeout=5).user_state(owner)
        assert state["assetPositions"][0]["position"]["szi"] == "0.5"
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=10) == 0
    finally:
        if proc.poll() is None:
            proc.kill()


def test_unknown_coin_is_refused(venue: LocalVenueServer) -> None:
    meta = _info(venue).meta()
    meta["universe"].append({"name": "DOGE", "szDecimals": 0, "maxLeverage": 10})
    wallet = eth_account.Account.from_key(AGENT_KEY)
    ex = Exchange(wallet, venue.url, meta=meta, account_address=_owner(), timeout=5)
    res = ex.order("DOGE", True, 100, 0.2, {"limit": {"tif": "Gtc"}})
    assert res["response"]["data"]["statuses"][0]["error"] == "Order has invalid asset. asset=3"


def test_liquidation_at_maintenance_margin(venue: LocalVenueServer) -> None:
    ex = _exchange(venue)
    assert ex.update_leverage(40, "BTC")["status"] == "ok"
    entry = _sim_mid("BTC", NOW_MS)
    sz = round(300_000 / entry, 5)
    assert "filled" in ex.market_open("BTC", False, sz)["response"]["data"]["statuses"][0]
    cash = 10_000 - sz * entry * TAKER_FEE

    def underwater(m: int) -> bool:  # account value at or below maintenance (1 / (2 x 40))
        t = NOW_MS + m * 60_000
        px = _sim_mid("BTC", t)
        return cash - sz * (px - entry) <= sz * px / 80

    step = 0
    for m in range(1, 7 * 1440):
        if m % 60 == 0:  # the short receives (or pays) the hourly funding
            t = NOW_MS + m * 60_000
            cash += sz * _sim_mid("BTC", t) * sim_model.funding_rate("BTC", t / 1000.0, SEED)
        if underwater(m):
            step = m
            break
    venue.venue.clock.step((step - 1) * 60)
    assert _info(venue).user_state(_owner())["assetPositions"]  # not a minute early
    venue.venue.clock.step(60)
    info = _info(venue)
    assert info.user_state(_owner())["assetPositions"] == []
    last = info.user_fills(_owner())[0]
    assert last["dir"] == "Close Short" and last["liquidation"]["method"] == "market"


def test_take_profit_limit_trigger_fires(venue: LocalVenueServer) -> None:
    ex = _exchange(venue)
    ex.market_open("SOL", True, 1.0)
    entry = _sim_mid("SOL", NOW_MS)
    trigger = float(f"{entry * 1.002:.5g}")
    step = next(m for m in range(1, 5000) if _sim_mid("SOL", NOW_MS + m * 60_000) >= trigger)
    order_type = {"trigger": {"triggerPx": trigger, "isMarket": False, "tpsl": "tp"}}
    res = ex.order("SOL", False, 1.0, trigger, order_type, reduce_only=True)
    oid = res["response"]["data"]["statuses"][0]["resting"]["oid"]
    venue.venue.clock.step(step * 60)
    info = _info(venue)
    assert info.user_state(_owner())["assetPositions"] == []
    fill = info.user_fills(_owner())[0]
    assert fill["oid"] == oid and float(fill["px"]) >= trigger and float(fill["closedPnl"]) > 0
    assert info.query_order_by_oid(_owner(), oid)["order"]["status"] == "filled"


def test_ledger_and_leverage(venue: LocalVenueServer) -> None:
    info = _info(venue)
    ledger = info.user_non_funding_ledger_updates(_owner(), 0)
    assert ledger[0]["delta"] == {"type": "deposit", "usdc": "10000"}
    ex = _exchange(venue)
    assert ex.update_leverage(41, "BTC")["status"] == "err"  # BTC's max is 40
    assert ex.update_leverage(3, "ETH", is_cross=False)["status"] == "ok"
    ex.market_open("ETH", True, 0.5)
    pos = info.user_state(_owner())["assetPositions"][0]["position"]
    assert pos["leverage"] == {"type": "isolated", "value": 3}
    assert float(pos["marginUsed"]) == pytest.approx(float(pos["positionValue"]) / 3, rel=1e-6)
