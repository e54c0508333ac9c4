"""Structural actions over real HTTP (reference A.5, B.3): add-strategy, remove-strategy,
paper-to-live and apply-regime-gate, each confirmed by nonce then executed, against the status
server of an in-process supervisor on the simulated market (fake workers); the config file after
each write; every refusal at confirm and again at execute; the top-level notifications toggle;
and a later tuner/pause write while a structural change waits for its restart."""

from __future__ import annotations

import functools
import http.client
import json
import sqlite3
from pathlib import Path

import pytest
from conftest import fake_strategy

from shared_tools.config.load import load_config
from supervisor.http import structural
from supervisor.http.board import make_server
from supervisor.ops.init_options import load_catalogue

catalogue = functools.cache(load_catalogue)  # one registry listing for the whole module


def perps(sid: str, behaviour: str, symbol: str = "BTC", **extra) -> dict:
    return fake_strategy(
        sid,
        behaviour,
        symbol,
        type="perps",
        platform="hyperliquid",
        args=[behaviour, symbol, "1h", "--mode=paper"],
        **extra,
    )


ROSTER = [
    fake_strategy("alpha", "flip", "BTC/USDT"),
    perps("echo", "buy", "ETH"),  # flat until the first cycle, then holds ETH
    perps("hlp", "hold"),  # never trades: always flat
    perps("dorm", "hold", "SOL", allowed_regimes=["ranging_quiet"]),  # dormant: regime is off
]


class Rig:
    """A started supervisor (no loop) and its status server on a free loopback port."""

    def __init__(self, sup) -> None:
        self.sup = sup
        self.cfg = Path(sup.config.path)
        sup.board.actions.structural._load_catalogue = catalogue
        self.server = make_server(sup, sup.board, lambda _m: None)
        assert self.server is not None
        self.port, self.token = self.server.port, self.server.token
        self.restarts: list[str] = []
        sup.request_restart = self.restart  # the in-process test must not exec pytest

    def restart(self, why: str) -> bool:
        self.restarts.append(why)
        return True

    def post(self, path: str, body: object, *, origin: bool = True, token: bool = True):
        headers = {"Host": f"127.0.0.1:{self.port}", "Content-Type": "application/json"}
        if origin:
            headers["Origin"] = f"http://127.0.0.1:{self.port}"
        if token:
            headers["Authorization"] = f"Bearer {self.token}"
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
        try:
            conn.request("POST", path, body=json.dumps(body).encode(), headers=headers)
            resp = conn.getresponse()
            return resp.status, json.loads(resp.read() or b"{}")
        finally:
            conn.close()

    def confirm(self, action: str, sid: str, params: dict) -> tuple[int, dict]:
        return self.post("/api/confirm", {"action": action, "strategy_id": sid, "params": params})

    def execute(self, action: str, sid: str, nonce: str, params: dict) -> tuple[int, dict]:
        path = (
            "/api/config/add-strategy"
            if action == "add-strategy"
            else f"/api/strategies/{sid}/{action}"
        )
        return self.post(path, {"nonce": nonce, "params": params})

    def both(self, action: str, sid: str, params: dict) -> tuple[dict, tuple[int, dict]]:
        code, conf = self.confirm(action, sid, params)
        assert code == 200, conf
        return conf, self.execute(action, sid, conf["nonce"], params)

    def doc(self) -> dict:
        return json.loads(self.cfg.read_text())

    def entry(self, sid: str) -> dict:
        return next(e for e in self.doc()["strategies"] if e["id"] == sid)

    def cycle(self) -> None:
        self.sup.run_cycle(self.sup.config.strategies)


@pytest.fixture
def rig(sup_for):
    made: list[Rig] = []

    def make(strategies: list[dict] = ROSTER, **top) -> Rig:
        made.append(Rig(sup_for(strategies, **top)))
        return made[-1]

    yield make
    for r in made:
        r.server.stop()


def test_add_strategy_confirm_execute_and_the_file(rig):
    r = rig()
    before = r.doc()
    conf, (code, out) = r.both(
        "add-strategy", "", {"name": "sma", "platform": "hyperliquid", "asset": "BTC"}
    )
    assert set(conf) == {"nonce", "expires_in_seconds", "confirm_phrase", "description"}
    assert conf["confirm_phrase"] == "hl-sma-BTC" and conf["expires_in_seconds"] == 60
    assert "sma_crossover" in conf["description"] and "paper" in conf["description"]
    assert code == 200, out
    assert set(out) >= {"ok", "message", "id", "restart_required", "restarting"}
    assert out["ok"] and out["id"] == "hl-sma-BTC"
    assert out["restart_required"] is True and out["restarting"] is False
    assert "systemctl restart go-trader" in out["message"]
    after = r.doc()
    assert list(after) == list(before)  # untouched parts keep their keys and order
    assert json.dumps(after["strategies"][:4]) == json.dumps(before["strategies"])  # in order
    new = after["strategies"][4]
    assert new["id"] == "hl-sma-BTC" and new["type"] == "perps"
    assert new["args"] == ["sma_crossover", "BTC", "1h", "--mode=paper"]
    assert new["script"] == "shared_scripts/check_hyperliquid.py"
    assert (new["capital"], new["max_drawdown_pct"], new["leverage"]) == (100, 10, 1)
    assert (new["margin_mode"], new["interval_seconds"]) == ("isolated", 3600)
    assert new["direction"] == "long"  # the registry: sma_crossover cannot short ("both" if so)
    assert load_config(r.cfg).strategy("hl-sma-BTC").live is False  # the loader takes it
    # binanceus: spot, <short>-<asset>, ASSET/USDT, upstream's capital and drawdown
    conf, (code, out) = r.both(
        "add-strategy", "", {"name": "rsi", "platform": "binanceus", "asset": "ETH"}
    )
    assert code == 200 and out["id"] == conf["confirm_phrase"] == "rsi-ETH", out
    spot = r.entry("rsi-ETH")
    assert (spot["type"], spot["args"], spot["capital"], spot["max_drawdown_pct"]) == (
        "spot",
        ["rsi", "ETH/USDT", "1h"],
        1000,
        5,
    )


@pytest.mark.parametrize(
    ("params", "code", "text"),
    [
        ({"name": "nope", "platform": "hyperliquid", "asset": "BTC"}, 400, "unknown strategy"),
        ({"name": "sma", "platform": "okx", "asset": "BTC"}, 400, "platform"),
        ({"name": "sma", "platform": "hyperliquid", "asset": "btc"}, 400, "[A-Z0-9]+"),
        ({"name": "sma", "platform": "hyperliquid"}, 400, "asset"),
        ({"name": "sma", "platform": "hyperliquid", "asset": "BTC", "x": 1}, 400, "unknown"),
        ({"name": "sma", "platform": "hyperliquid", "asset": "BTC", "restart": 1}, 400, "restart"),
    ],
)
def test_add_strategy_bad_params(rig, params, code, text):
    r = rig()
    before = r.cfg.read_bytes()
    got, out = r.confirm("add-strategy", "", params)
    assert got == code and text in out["error"], out
    assert r.cfg.read_bytes() == before


def test_add_strategy_refuses_an_existing_id(rig):
    r = rig()
    params = {"name": "sma", "platform": "hyperliquid", "asset": "BTC"}
    assert r.both("add-strategy", "", params)[1][0] == 200
    code, out = r.confirm("add-strategy", "", params)
    assert code == 400 and "already exists" in out["error"]


def test_the_nonce_binds_params_and_restart_and_works_once(rig):
    r = rig()
    params = {"name": "sma", "platform": "hyperliquid", "asset": "BTC"}
    before = r.cfg.read_bytes()
    conf = r.confirm("add-strategy", "", params)[1]
    code, out = r.execute("add-strategy", "", conf["nonce"], {**params, "restart": True})
    assert code == 403 and out["ok"] is False
    # spent on the failed lookup: the right params do not revive it
    assert r.execute("add-strategy", "", conf["nonce"], params)[0] == 403
    conf = r.confirm("add-strategy", "", params)[1]
    code, _ = r.execute("add-strategy", "", conf["nonce"], {**params, "asset": "ETH"})
    assert code == 403
    conf = r.confirm("remove-strategy", "alpha", {})[1]
    assert r.execute("remove-strategy", "hlp", conf["nonce"], {})[0] == 403  # another id
    conf = r.confirm("remove-strategy", "alpha", {})[1]
    assert r.execute("paper-to-live", "alpha", conf["nonce"], {})[0] == 403  # another action
    assert r.cfg.read_bytes() == before and r.restarts == []
    conf = r.confirm("remove-strategy", "alpha", {"restart": False})[1]
    assert r.execute("remove-strategy", "alpha", conf["nonce"], {})[0] == 200  # default false
    assert r.execute("remove-strategy", "alpha", conf["nonce"], {})[0] == 403  # reuse


def test_remove_strategy_keeps_the_db_rows_and_refuses_the_last(rig):
    r = rig([fake_strategy("alpha", "flip", "BTC/USDT"), perps("hlp", "hold")])
    r.cycle()
    r.cycle()  # flip: bought, then sold: flat with trades in the DB
    db = r.sup.config.db_file
    conf, (code, out) = r.both("remove-strategy", "alpha", {})
    assert conf["confirm_phrase"] == "alpha" and "remove" in conf["description"]
    assert code == 200 and out["id"] == "alpha" and out["restart_required"], out
    assert [e["id"] for e in r.doc()["strategies"]] == ["hlp"]
    con = sqlite3.connect(db)
    try:
        trades = con.execute("SELECT COUNT(*) FROM trades WHERE strategy_id='alpha'").fetchone()
    finally:
        con.close()
    assert trades[0] >= 1  # upstream: the removed strategy's rows stay
    code, out = r.confirm("remove-strategy", "hlp", {})
    assert code == 409 and "last strategy" in out["error"]
    assert r.confirm("remove-strategy", "nope", {})[0] == 404


def test_a_position_refuses_at_confirm_and_at_execute(rig, monkeypatch):
    monkeypatch.setenv("HYPERLIQUID_SECRET_KEY", "0x" + "1" * 64)  # paper-to-live needs them
    monkeypatch.setenv("HYPERLIQUID_ACCOUNT_ADDRESS", "0x" + "2" * 40)
    r = rig()
    gate = r.confirm("apply-regime-gate", "echo", {})[1]  # flat now
    live = r.confirm("paper-to-live", "echo", {})[1]
    remove = r.confirm("remove-strategy", "echo", {})[1]
    before = r.cfg.read_bytes()
    r.cycle()  # echo buys
    assert r.sup.app.strategies["echo"].positions
    for action, conf in (
        ("apply-regime-gate", gate),
        ("paper-to-live", live),
        ("remove-strategy", remove),
    ):
        code, out = r.execute(action, "echo", conf["nonce"], {})
        assert code == 409 and "holds a position" in out["error"], (action, out)
        code, out = r.confirm(action, "echo", {})
        assert code == 409 and "holds a position" in out["error"], (action, out)
    assert r.cfg.read_bytes() == before


def test_paper_to_live_needs_the_keys_then_refuses_already_live(rig, monkeypatch):
    r = rig()
    monkeypatch.delenv("HYPERLIQUID_SECRET_KEY", raising=False)
    monkeypatch.delenv("HYPERLIQUID_ACCOUNT_ADDRESS", raising=False)
    before = r.cfg.read_bytes()
    code, out = r.confirm("paper-to-live", "hlp", {})  # the next start would exit 78
    assert code == 409 and "HYPERLIQUID_SECRET_KEY" in out["error"], out
    monkeypatch.setenv("HYPERLIQUID_SECRET_KEY", "0x" + "1" * 64)
    monkeypatch.setenv("HYPERLIQUID_ACCOUNT_ADDRESS", "0x" + "2" * 40)
    conf = r.confirm("paper-to-live", "hlp", {})[1]
    monkeypatch.delenv("HYPERLIQUID_SECRET_KEY")  # gone between confirm and execute
    code, out = r.execute("paper-to-live", "hlp", conf["nonce"], {})
    assert code == 409 and "HYPERLIQUID_SECRET_KEY" in out["error"], out  # re-checked
    assert r.cfg.read_bytes() == before
    monkeypatch.setenv("HYPERLIQUID_SECRET_KEY", "0x" + "1" * 64)
    monkeypatch.setenv("HYPERLIQUID_ACCOUNT_ADDRESS", "0x" + "2" * 40)
    conf, (code, out) = r.both("paper-to-live", "hlp", {})
    assert conf["confirm_phrase"] == "hlp" and "LIVE" in conf["description"]
    assert code == 200 and out["restart_required"], out
    assert r.entry("hlp")["args"] == ["hold", "BTC", "1h", "--mode=live"]
    assert load_config(r.cfg).strategy("hlp").live
    code, out = r.confirm("paper-to-live", "hlp", {})
    assert code == 409 and "already live" in out["error"]
    code, out = r.confirm("paper-to-live", "alpha", {})  # no --mode=paper to switch
    assert code == 409


def test_apply_regime_gate_writes_the_window_and_the_reload_takes_it(rig):
    r = rig()
    conf, (code, out) = r.both("apply-regime-gate", "hlp", {})
    assert conf["also_activated"] == ["dorm"] and "dorm" in conf["description"]
    assert code == 200 and out["id"] == "hlp", out
    doc = r.doc()
    assert doc["regime"]["enabled"] is True
    assert doc["regime"]["windows"] == {"comp_p21": {"classifier": "composite", "period": 21}}
    hlp = r.entry("hlp")
    assert list(hlp)[-2:] == ["regime_gate_window", "allowed_regimes"]  # appended, rest in place
    assert list(hlp)[:-2] == list(next(e for e in ROSTER if e["id"] == "hlp"))
    assert hlp["regime_gate_window"] == "comp_p21"
    assert hlp["allowed_regimes"] == ["trending_up_clean"]
    # no structural change for the reload: applied through it, no restart needed
    assert out["restart_required"] is False and "SIGHUP" in out["message"]
    assert r.sup.reload_requested and r.sup.reload()
    assert r.sup.config.strategy("hlp").regime_gate_window == "comp_p21"
    # a second gate: the window exists with the same spec, nothing else is activated
    conf = r.confirm("apply-regime-gate", "dorm", {"gate": "comp_up_clean_p21"})[1]
    assert conf["also_activated"] == []


def test_apply_regime_gate_refusals(rig):
    r = rig()
    code, out = r.confirm("apply-regime-gate", "alpha", {})  # spot
    assert code == 409 and "perps or futures" in out["error"]
    assert r.confirm("apply-regime-gate", "hlp", {"gate": "other"})[0] == 400
    assert r.confirm("apply-regime-gate", "nope", {})[0] == 404


def test_the_gate_refuses_a_window_of_another_classifier(rig):
    windows = {"comp_p21": {"classifier": "adx", "period": 21}}
    r = rig(regime={"enabled": False, "windows": windows})
    code, out = r.confirm("apply-regime-gate", "hlp", {})
    assert code == 409 and "regime.windows.comp_p21 is adx" in out["error"]


def test_a_grown_blast_radius_between_confirm_and_execute_is_409(rig):
    r = rig()
    conf = r.confirm("apply-regime-gate", "hlp", {})[1]
    assert conf["also_activated"] == ["dorm"]
    doc = r.doc()  # meanwhile, by hand: echo gets dormant allowed_regimes too
    next(e for e in doc["strategies"] if e["id"] == "echo")["allowed_regimes"] = ["ranging_quiet"]
    r.cfg.write_text(json.dumps(doc, indent=2))
    before = r.cfg.read_bytes()
    code, out = r.execute("apply-regime-gate", "hlp", conf["nonce"], {})
    assert code == 409 and "echo" in out["error"] and "confirm again" in out["error"], out
    assert r.cfg.read_bytes() == before


def test_restart_true_is_bound_and_asks_the_daemon_to_restart(rig):
    r = rig()
    params = {"name": "ema", "platform": "binanceus", "asset": "SOL", "restart": True}
    conf, (code, out) = r.both("add-strategy", "", params)
    assert "restart" in conf["description"]
    assert code == 200 and out["restarting"] is True and out["restart_required"] is False, out
    assert len(r.restarts) == 1 and "ema-SOL" in r.restarts[0]


def test_a_later_write_names_the_pending_structural_change(rig):
    r = rig()
    params = {"name": "sma", "platform": "hyperliquid", "asset": "BTC"}
    assert r.both("add-strategy", "", params)[1][0] == 200
    before = r.cfg.read_bytes()
    code, out = r.post("/api/strategies/alpha/pause", {"paused": True})
    assert code == 409, out
    assert "strategies added: hl-sma-BTC" in out["error"] and "restart" in out["error"]
    code, out = r.post("/api/config/notifications", {"notify_ratchet_triggers": False})
    assert code == 409 and "hl-sma-BTC" in out["error"]
    assert r.cfg.read_bytes() == before


def test_notifications_toggle_sets_and_deletes_the_top_level_key(rig):
    r = rig()
    path = "/api/config/notifications"
    code, out = r.post(path, {"notify_ratchet_triggers": False})
    assert code == 200, out
    assert out["ok"] and out["notify_ratchet_triggers"] is False and out["effective"] is False
    assert "SIGHUP" in out["message"] and r.doc()["notify_ratchet_triggers"] is False
    assert r.sup.reload_requested
    assert r.post(path, {"notify_ratchet_triggers": "on"})[0] == 400
    assert r.post(path, {})[0] == 400
    code, out = r.post(path, {"notify_ratchet_triggers": None})
    assert code == 200 and out["effective"] is True and out["notify_ratchet_triggers"] is None
    assert "notify_ratchet_triggers" not in r.doc()
    assert r.post(path, {"notify_ratchet_triggers": True}, token=False)[0] == 401
    assert r.post(path, {"notify_ratchet_triggers": True}, origin=False)[0] == 403


def test_every_structural_post_needs_the_guard(rig):
    r = rig()
    body = {"nonce": "0" * 32, "params": {}}
    assert r.post("/api/strategies/hlp/paper-to-live", body, token=False)[0] == 401
    assert r.post("/api/strategies/hlp/paper-to-live", body, origin=False)[0] == 403
    assert r.post("/api/config/add-strategy", body, origin=False)[0] == 403
    assert r.post("/api/strategies/hlp/paper-to-live", body)[0] == 403  # no such nonce


def test_the_blast_radius_rule():
    raw = {
        "strategies": [
            {"id": "a", "allowed_regimes": ["x"]},
            {"id": "b"},
            {"id": "c", "allowed_regimes": ["y"]},
        ]
    }
    assert structural.also_activated(raw, "a") == ["c"]
    raw["regime"] = {"enabled": True}
    assert structural.also_activated(raw, "a") == []
    assert structural.window_problem({"regime": {"windows": {"comp_p21": 21}}}) is not None
    same = {"regime": {"windows": {"comp_p21": {"classifier": "composite", "period": 21}}}}
    assert structural.window_problem(same) is None


def test_a_stop_signal_wins_over_a_requested_restart(sup_for):
    import signal

    sup = sup_for([fake_strategy("alpha", "hold", "BTC/USDT")])
    assert sup.request_restart("test") is True
    assert sup.restart_requested and sup.stopping and sup.draining
    sup._on_stop(signal.SIGTERM, None)  # systemctl stop during the drain: exit, no exec
    assert sup.restart_requested is False
    assert sup.request_restart("again") is False  # stopping: no restart


def test_the_whole_document_write_keeps_a_hand_edit_made_meanwhile(tmp_path):
    from conftest import write_config

    from supervisor.http import config_write

    cfg = write_config(tmp_path, [fake_strategy("alpha", "hold"), fake_strategy("beta", "hold")])

    def patch(doc: dict) -> None:
        cfg.write_text(cfg.read_text() + "\n")  # the operator saves the file right now
        doc["strategies"].pop()

    with pytest.raises(config_write.WriteRefused) as err:
        config_write.patch_document(cfg, patch, lambda _new: [])
    edited = cfg.read_text()
    assert err.value.code == 409 and "changed while" in err.value.lines[0]
    assert len(json.loads(edited)["strategies"]) == 2  # the hand edit stays, ours is dropped
    with pytest.raises(config_write.WriteRefused) as err:  # the loader's verdict: 400
        config_write.patch_document(cfg, lambda doc: doc.update(strategies=[]), lambda _n: [])
    assert err.value.code == 400 and cfg.read_text() == edited


def test_a_config_the_next_start_would_refuse_is_not_written(tmp_path, monkeypatch):
    from conftest import write_config

    monkeypatch.delenv("HYPERLIQUID_SECRET_KEY", raising=False)
    live = perps("hlp", "hold")
    live["args"][-1] = "--mode=live"
    cfg = write_config(tmp_path, [live])
    lines = structural.Structural._startable(load_config(cfg))
    assert lines and "HYPERLIQUID_SECRET_KEY" in lines[0]


def test_the_chat_bridges_requests_meet_the_contract(rig):
    """The chat side (chat_bridge/structural.py) against this server: its params confirm and
    execute as sent, restart true from chat."""
    from chat_bridge import structural as chat
    from chat_bridge.daemon_api import DaemonAPI

    r = rig()
    api = DaemonAPI(f"http://127.0.0.1:{r.port}", r.token)
    commands = [
        ("add-strategy", {"name": "SMA", "platform": "Hyperliquid", "asset": "eth"}),
        ("apply-regime-gate", {"strategy": "hlp"}),
        ("remove-strategy", {"id": "alpha"}),
    ]
    for name, options in commands:
        req = chat.request(name, options)
        assert isinstance(req, tuple), req
        sid, params = req
        code, doc = api.post("/api/confirm", {"action": name, "strategy_id": sid, "params": params})
        assert code == 200, (name, doc)
        assert chat.prompt(name, doc)
        code, out = api.post(chat.path(api, name, sid), {"nonce": doc["nonce"], "params": params})
        assert code == 200 and out["ok"] and out["restarting"], (name, out)
    assert len(r.restarts) == 3
    ids = [e["id"] for e in r.doc()["strategies"]]
    assert "hl-sma-ETH" in ids and "alpha" not in ids
