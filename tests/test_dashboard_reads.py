"""Three dashboard reads (reference A.3/A.5): ``/api/regime/transitions`` from the rows the
transitions step commits, ``/api/config/notifications`` (effective toggles and routing, never a
secret), and options books in the ``/api`` strategy shapes (the same legs and signed greeks as
/status: supervisor/http/views.py)."""

from __future__ import annotations

import http.client
import json
from datetime import timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy.exc import OperationalError
from test_cycle import answer as spot_answer
from test_cycle import marks as spot_marks
from test_cycle import strat
from test_options_cycle import FAKE, action, opt
from test_options_cycle import answer as opt_answer
from test_regime_transitions import T0

from supervisor import cycle_options
from supervisor.http import board as board_mod
from supervisor.http import notify_api, regime_api
from supervisor.http.views import options_view, strategy_view
from supervisor.state import regime_history

SHAPE = {"id", "platform", "symbol", "timeframe", "window", "old_label", "new_label", "ts"}


# -- /api/regime/transitions ---------------------------------------------------------------------
def test_transitions_are_the_committed_changes_newest_first(sup_for, monkeypatch, tmp_path):
    regime = {"enabled": True, "windows": {"medium": 14}, "transitions": {"enabled": True}}
    monkeypatch.setenv("GO_TRADER_NOW", T0.isoformat())
    sup = sup_for([strat("a", "a")], regime=regime)
    for i, label in enumerate(("ranging", "ranging", "trending_up", "trending_up")):
        monkeypatch.setenv("GO_TRADER_NOW", (T0 + timedelta(hours=i)).isoformat())
        spot_marks(tmp_path, BTC_USDT=100.0)
        doc = {"symbol": "BTC/USDT", "signal": 0, "price": 100.0}
        spot_answer(tmp_path, "a", {**doc, "regime": {"medium": {"regime": label}}})
        sup.run_cycle(sup.config.strategies)
    code, doc = sup.board.api("/api/regime/transitions", {})
    assert code == 200 and set(doc) == {"transitions"}
    change, first = doc["transitions"]  # newest first
    assert set(change) == SHAPE | {"bar_time", "alerted_at"}
    assert (change["platform"], change["symbol"], change["timeframe"]) == (
        "binanceus",
        "BTC/USDT",
        "1h",
    )
    assert (change["window"], change["old_label"], change["new_label"]) == (
        "medium",
        "ranging",
        "trending_up",
    )
    assert change["id"] > first["id"] and change["alerted_at"] == change["ts"]
    # the first stable label is recorded, never sent: no old label, no alerted_at
    assert first["old_label"] == "" and first["new_label"] == "ranging"
    assert "alerted_at" not in first and set(first) == SHAPE | {"bar_time"}


def _changes(n: int) -> list[dict]:
    return [
        {
            "bundle": "hyperliquid|ETH|4h|{}",
            "window": "short",
            "old_label": "ranging",
            "new_label": f"label{i}",
            "bar_time": "",
            "ts": f"2026-03-02T00:{i:02d}:00Z",
            "alerted_at": "",
        }
        for i in range(n)
    ]


@pytest.mark.parametrize(
    ("limit", "count"),
    [(None, 50), ("10", 10), ("500", 60), ("501", 50), ("0", 50), ("-3", 50), ("x", 50)]
    + [("0" * 20 + "12", 12), ("9" * 5000, 50)],
)
def test_transitions_limit_falls_back_to_50_as_upstream(sup_for, limit, count):
    sup = sup_for([strat("a", "a")])
    with sup.db.engine.begin() as conn:
        regime_history.write(conn, [], _changes(60), "")
    query = {} if limit is None else {"limit": limit}
    code, doc = sup.board.api("/api/regime/transitions", query)
    rows = doc["transitions"]
    assert code == 200 and len(rows) == count
    assert rows[0]["new_label"] == "label59" and rows[0]["platform"] == "hyperliquid"
    assert set(rows[0]) == SHAPE  # empty bar_time and alerted_at are left out


def test_transitions_read_error_is_a_500_naming_it(sup_for, monkeypatch):
    sup = sup_for([strat("a", "a")])

    def broken(_limit: int) -> list[dict]:
        raise OperationalError("SELECT", {}, Exception("disk I/O error"))

    monkeypatch.setattr(sup.db, "regime_transitions", broken)
    code, doc = sup.board.api("/api/regime/transitions", {})
    assert code == 500 and "regime transitions unreadable" in doc["error"]


# -- /api/config/notifications -------------------------------------------------------------------
FILE_SECRET, ENV_SECRET, OWNER_ID, DM_ID = "file-tok-123", "env-tok-456", "424242", "999999"


def _notified(sup_for, monkeypatch):
    monkeypatch.setenv("DISCORD_BOT_TOKEN", ENV_SECRET)
    monkeypatch.setenv("STATUS_AUTH_TOKEN", "tok")
    monkeypatch.delenv("DISCORD_OWNER_ID", raising=False)
    monkeypatch.delenv("TELEGRAM_BOT_TOKEN", raising=False)
    discord = {
        "enabled": True,
        "token": FILE_SECRET,  # ignored with a warning; must never come back out
        "owner_id": OWNER_ID,
        "channels": {"spot": "111", "hyperliquid": "222"},
        "trade_alert_channels": {"binanceus-paper": "333"},
        "dm_channels": {"okx-paper": DM_ID, "binanceus-live": True},
    }
    return sup_for(
        [
            strat("a", "a"),
            strat("b", "b", notify_ratchet_triggers=True),
            strat("okx-c", "c", platform="okx"),
        ],
        discord=discord,
        summary_frequency={"spot": "hourly"},
        notify_ratchet_triggers=False,
    )


def test_notifications_effective_toggles_and_routes(sup_for, monkeypatch):
    sup = _notified(sup_for, monkeypatch)
    code, doc = sup.board.api("/api/config/notifications", {})
    assert code == 200
    # upstream's two keys: the global toggle as set, and its effective value
    assert doc["notify_ratchet_triggers"] is False and doc["effective"] is False
    assert doc["built"] is False  # this build sends no ratchet alerts
    rows = {r["id"]: r for r in doc["strategies"]}
    assert rows["a"]["notify_ratchet_triggers"] is None and rows["a"]["effective"] is False
    assert rows["b"]["notify_ratchet_triggers"] is True and rows["b"]["effective"] is True
    assert rows["a"]["routes"] == {"discord": {"summary": "spot", "trade_alerts": "333"}}
    assert rows["okx-c"]["routes"]["discord"] == {"summary": "spot", "trade_alerts": "dm"}
    chat = doc["channels"]["discord"]
    assert chat["enabled"] and chat["token_set"] and chat["owner_set"]
    assert chat["channels"] == {"spot": "111", "hyperliquid": "222"}
    assert chat["dm_channels"] == {"okx-paper": "dm", "binanceus-live": "owner"}
    assert chat["summary_frequency"] == {"spot": "hourly"}
    assert doc["channels"]["telegram"]["enabled"] is False
    text = json.dumps(doc)
    for secret in (FILE_SECRET, ENV_SECRET, OWNER_ID, DM_ID):
        assert secret not in text


def test_notifications_default_is_on_when_nothing_is_set(sup_for):
    sup = sup_for([strat("a", "a")])
    doc = sup.board.api("/api/config/notifications", {})[1]
    assert doc["notify_ratchet_triggers"] is None and doc["effective"] is True
    assert doc["strategies"] == [
        {"id": "a", "notify_ratchet_triggers": None, "effective": True, "routes": {}}
    ]


def test_redact_masks_secret_keys_at_any_depth():
    doc = {
        "webhook_url": "https://hooks.example/abc",
        "nested": [{"api_key": "k", "bot_token": "t", "token_set": True, "name": "ok"}],
        "password": "",
    }
    assert notify_api.redact(doc) == {
        "webhook_url": notify_api.REDACTED,
        "nested": [
            {
                "api_key": notify_api.REDACTED,
                "bot_token": notify_api.REDACTED,
                "token_set": True,
                "name": "ok",
            }
        ],
        "password": "",
    }


def test_both_reads_need_the_token_through_the_server(sup_for, monkeypatch):
    sup = _notified(sup_for, monkeypatch)
    sup.status_port = 0
    server = board_mod.make_server(sup, sup.board, lambda _msg: None)
    assert server is not None
    try:
        for path in ("/api/config/notifications", "/api/regime/transitions?limit=5"):
            for headers, want in (({}, 401), ({"Authorization": "Bearer tok"}, 200)):
                conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
                conn.request("GET", path, headers=headers)
                resp = conn.getresponse()
                body = resp.read()
                conn.close()
                assert resp.status == want, path
                assert ENV_SECRET.encode() not in body and FILE_SECRET.encode() not in body
    finally:
        server.stop()


@given(st.one_of(st.text(max_size=20), st.integers(-(10**15), 10**15).map(str)))
def test_transitions_limit_is_the_value_in_range_else_50(raw):
    got = regime_api.transitions_limit({"limit": raw})
    text = raw.strip()
    valid = text.isascii() and text.isdigit() and 0 < int(text) <= 500
    assert got == (int(text) if valid else 50)


# -- options books in the /api strategy shapes ---------------------------------------------------
def test_options_legs_and_signed_greeks_as_status_shows_them(sup_for, monkeypatch, tmp_path):
    monkeypatch.setattr(cycle_options, "MARK_SCRIPT", FAKE)
    monkeypatch.setenv("GO_TRADER_NOW", "2026-12-07T12:00:00Z")
    opt_answer(
        tmp_path,
        "covered_calls",
        [action("sell", "call", 110000, 1500.0), action("buy", "put", 90000, 900.0)],
    )
    sup = sup_for([opt("deribit-cc-btc", "covered_calls"), strat("a", "a")])
    sup.run_cycle(sup.config.strategies)
    strat_state = sup.app.strategies["deribit-cc-btc"]
    assert len(strat_state.legs) == 2
    want = options_view(strat_state)  # the one implementation /status uses
    code, detail = sup.board.api("/api/strategies/deribit-cc-btc/status", {})
    assert code == 200
    assert detail["option_positions"] == want["option_positions"]
    assert detail["portfolio_greeks"] == want["portfolio_greeks"] and detail["option_legs"] == 2
    # signed: a sold call (delta 0.3) and a bought put (delta -0.3) both short delta
    assert want["portfolio_greeks"]["delta"] < 0
    status = sup.status_view()["strategies"]["deribit-cc-btc"]
    assert detail["option_positions"] == status["option_positions"]
    rows = {r["id"]: r for r in sup.board.api("/api/strategies/overview", {})[1]["strategies"]}
    assert rows["deribit-cc-btc"]["option_legs"] == 2
    assert rows["deribit-cc-btc"]["portfolio_greeks"] == want["portfolio_greeks"]
    assert "option_legs" not in rows["a"] and "portfolio_greeks" not in rows["a"]
    spot = sup.board.api("/api/strategies/a/status", {})[1]
    assert spot["option_positions"] == {} and "portfolio_greeks" not in spot
    listed = {r["id"]: r for r in sup.board.api("/api/strategies", {})[1]["strategies"]}
    assert listed["deribit-cc-btc"]["type"] == "options"
    view = strategy_view(strat_state, {})
    assert view["portfolio_greeks"] == want["portfolio_greeks"]
