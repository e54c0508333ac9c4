"""The dashboard's board inside a supervisor (no subprocess daemon): the candle fallback to
trade prices when the fetch fails (upstream's ``source: "trades"``), the 502 when there is
nothing to draw, draining and start-up answers through the real server wiring."""

from __future__ import annotations

import http.client
import json

from conftest import fake_strategy

from supervisor.http import board as board_mod
from supervisor.http import candles


def _traded(sup_for, monkeypatch):
    monkeypatch.setenv("STATUS_AUTH_TOKEN", "tok")
    sup = sup_for([fake_strategy("a", "flip"), fake_strategy("idle", "hold", "ETH/USDT")])
    for _ in range(3):
        sup.run_cycle(sup.config.strategies)
    return sup


def test_candles_fall_back_to_trade_prices_then_502(sup_for, monkeypatch):
    sup = _traded(sup_for, monkeypatch)
    monkeypatch.setattr(candles, "SCRIPT", "shared_scripts/no_such_script.py")
    code, (body, ctype) = sup.board.api("/api/strategies/a/candles", {})
    doc = json.loads(body)
    assert code == 200 and ctype == "application/json"
    assert doc["source"] == "trades" and doc["strategy_id"] == "a"
    rows, _ = sup.db.trade_history(strategy="a", limit=100)
    prices = {r["price"] for r in rows}
    assert doc["candles"] and all(c["close"] in prices for c in doc["candles"])
    again = json.loads(sup.board.api("/api/strategies/a/candles", {})[1][0])
    assert again["source"] == "trades:cached"
    code, body = sup.board.api("/api/strategies/idle/candles", {})
    assert code == 502 and "no candles" in body["error"]


def test_drain_and_unknown_ids_through_the_server(sup_for, monkeypatch):
    sup = _traded(sup_for, monkeypatch)
    sup.status_port = 0
    server = board_mod.make_server(sup, sup.board, lambda _msg: None)
    assert server is not None and server.token == "tok"
    try:

        def get(path: str) -> tuple[int, dict]:
            conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
            conn.request("GET", path, headers={"Authorization": "Bearer tok"})
            resp = conn.getresponse()
            out = resp.status, json.loads(resp.read())
            conn.close()
            return out

        assert get("/api/strategies/nope/status") == (404, {"error": "unknown strategy 'nope'"})
        assert get("/api/strategies/a/status")[0] == 200
        sup.ready = False
        assert get("/api/strategies")[1] == {"status": "starting"}
        sup.ready, sup.draining = True, True
        assert get("/api/strategies") == (503, {"status": "draining"})
        assert get("/health")[0] == 503
    finally:
        server.stop()
