"""The dashboard's POSTs against a daemon on the simulated market (reference A.4, A.5): the tuner's
form, its atomic config write hot-reloaded through the SIGHUP path, refusals that leave the file
untouched, pause, the simulate preview, and the guard on every POST."""

from __future__ import annotations

import http.client
import json
import os
import stat
import time

import pytest
from conftest import Daemon, base_env, fake_strategy, free_port, run_cli, write_config

GAMMA = "gamma"  # a registered open strategy (sma_crossover) on the simulated market


def post(d: Daemon, path: str, body: object, *, origin: bool = True, token: bool = True):
    headers = {"Host": f"127.0.0.1:{d.port}", "Content-Type": "application/json"}
    if origin:
        headers["Origin"] = f"http://127.0.0.1:{d.port}"
    if token:
        headers["Authorization"] = f"Bearer {d.token}"
    conn = http.client.HTTPConnection("127.0.0.1", d.port, timeout=120)
    try:
        conn.request("POST", path, body=json.dumps(body).encode(), headers=headers)
        resp = conn.getresponse()
        return resp.status, json.loads(resp.read() or b"{}")
    finally:
        conn.close()


def wait_log(d: Daemon, text: str, timeout: float = 30) -> str:
    deadline = time.time() + timeout
    while time.time() < deadline:
        log = d.log()
        if text in log:
            return log
        time.sleep(0.2)
    raise AssertionError(f"{text!r} not in the daemon log:\n{d.log()[-3000:]}")


@pytest.fixture(scope="module")
def rig(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("dashpost")
    gamma = {
        "id": GAMMA,
        "type": "spot",
        "script": "shared_scripts/check_strategy.py",
        "args": ["sma_crossover", "BTC/USDT", "1h"],
        "capital": 1000,
        "max_drawdown_pct": 99,
    }
    cfg = write_config(
        tmp,
        [
            fake_strategy("alpha", "flip", "BTC/USDT"),
            fake_strategy("delta", "buy", "ETH", type="perps", leverage=2),
            gamma,
        ],
        interval_seconds=3600,
    )
    os.chmod(cfg, 0o640)
    env = base_env(tmp)
    for _ in range(2):
        out = run_cli(["--config", str(cfg), "--once"], env)
        assert out.returncode == 0, out.stdout + out.stderr
    d = Daemon(cfg, env, free_port(), tmp / "daemon.log")
    d.wait_status(lambda s: s["cycle_count"] >= 2 and not s["cycle_in_progress"])
    yield d, cfg
    d.stop()


def test_tuner_config_shape(rig):
    d, _cfg = rig
    code, doc = d.get(f"/api/strategies/{GAMMA}/config")
    assert code == 200, doc
    for key in (
        "strategy_id",
        "type",
        "platform",
        "symbol",
        "timeframe",
        "open_strategy",
        "paused",
    ):
        assert key in doc
    assert doc["open_strategy"]["name"] == "sma_crossover"
    assert doc["default_params"] == {"fast_period": 20, "slow_period": 50}
    keys = {f["key"]: f for f in doc["editable_fields"]}
    assert keys["open_strategy.params.fast_period"]["type"] == "int"
    assert keys["open_strategy.params.fast_period"]["default"] == 20
    assert "interval_seconds" in keys and "leverage" not in keys  # spot: no perps fields
    assert d.get("/api/strategies/nope/config")[0] == 404


def test_tuner_apply_writes_atomically_and_the_reload_applies_it(rig):
    d, cfg = rig
    code, out = post(
        d,
        f"/api/strategies/{GAMMA}/config",
        {"overrides": {"open_strategy.params.fast_period": 12}},
    )
    assert code == 200, out
    assert out["ok"] and out["restart_required"] is False and "SIGHUP" in out["message"]
    raw = json.loads(cfg.read_text())
    entry = next(s for s in raw["strategies"] if s["id"] == GAMMA)
    assert entry["open_strategy"]["params"] == {"fast_period": 12}
    assert stat.S_IMODE(cfg.stat().st_mode) == 0o640  # the live file's mode is kept
    assert not [p for p in cfg.parent.iterdir() if p.name.startswith(".config.json.")]
    wait_log(d, f"[reload] applied: {GAMMA} params")
    deadline = time.time() + 10
    while time.time() < deadline:
        doc = d.get(f"/api/strategies/{GAMMA}/config")[1]
        if doc["open_strategy"]["params"]["fast_period"] == 12:
            break
        time.sleep(0.2)
    assert doc["open_strategy"]["params"] == {"fast_period": 12, "slow_period": 50}


@pytest.mark.parametrize(
    ("overrides", "code"),
    [
        ({"max_drawdown_pct": 5}, 400),  # not a tuner key: refused, not ignored (upstream ignores)
        ({"leverage": "high"}, 400),
        ({"interval_seconds": -5}, 400),  # the loader's own check
        ({}, 400),
    ],
)
def test_bad_overrides_leave_the_file_untouched(rig, overrides, code):
    d, cfg = rig
    before = cfg.read_bytes()
    got, out = post(d, f"/api/strategies/{GAMMA}/config", {"overrides": overrides})
    assert got == code, out
    assert out["ok"] is False and out["error"]
    assert cfg.read_bytes() == before


def test_a_change_the_reload_refuses_is_reported_and_not_written(rig):
    d, cfg = rig
    code, status = d.get("/api/strategies/delta/status")  # "buy": it holds ETH
    assert code == 200 and status["positions"], status
    before = cfg.read_bytes()
    code, out = post(d, "/api/strategies/delta/config", {"overrides": {"leverage": 3}})
    assert code == 409, out
    assert "while it holds a position" in out["error"]
    assert cfg.read_bytes() == before


def test_pause_and_resume(rig):
    d, cfg = rig
    code, out = post(d, "/api/strategies/alpha/pause", {"paused": True})
    assert code == 200 and out["message"].startswith("Strategy alpha paused."), out
    entry = next(s for s in json.loads(cfg.read_text())["strategies"] if s["id"] == "alpha")
    assert entry["paused"] is True
    wait_log(d, "alpha paused False -> True")
    assert post(d, "/api/strategies/alpha/pause", {"paused": "yes"})[0] == 400
    code, out = post(d, "/api/strategies/alpha/pause", {"paused": False})
    assert code == 200 and "resumed" in out["message"]
    entry = next(s for s in json.loads(cfg.read_text())["strategies"] if s["id"] == "alpha")
    assert "paused" not in entry  # paused:false deletes the key, as upstream


def test_notifications_set_then_inherit(rig):
    d, cfg = rig
    path = "/api/strategies/alpha/notifications"
    code, out = post(d, path, {"notify_ratchet_triggers": True})
    assert code == 200 and out["ok"], out
    assert any("notify_ratchet_triggers" in w and "config.json" in w for w in out["warnings"])
    entry = next(s for s in json.loads(cfg.read_text())["strategies"] if s["id"] == "alpha")
    assert entry["notify_ratchet_triggers"] is True
    assert post(d, path, {"notify_ratchet_triggers": "on"})[0] == 400
    assert post(d, path, {"notify_ratchet_triggers": None})[0] == 200  # null: inherit
    entry = next(s for s in json.loads(cfg.read_text())["strategies"] if s["id"] == "alpha")
    assert "notify_ratchet_triggers" not in entry


def test_simulate_returns_live_and_simulated_markers(rig):
    d, _cfg = rig
    path = f"/api/strategies/{GAMMA}/simulate"
    code, out = post(d, path, {"overrides": {"open_strategy.params.fast_period": 5}, "limit": 300})
    assert code == 200, out
    assert set(out["markers"]) == {"live", "simulated"}
    for m in out["markers"]["live"] + out["markers"]["simulated"]:
        assert set(m) >= {"time", "position", "color", "shape", "text", "price"}
    assert out["markers"]["live"] != out["markers"]["simulated"]
    # stricter than upstream: simulate needs a same-origin Origin too
    assert post(d, path, {}, origin=False)[0] == 403
    assert post(d, path, {}, token=False)[0] == 401


def test_trade_actions_need_a_manual_strategy_at_confirm(rig):
    d, _cfg = rig
    code, out = post(d, "/api/confirm", {"action": "open", "strategy_id": "alpha", "params": {}})
    assert code == 409 and "manual" in out["error"]
    code, out = post(d, "/api/strategies/alpha/open", {"nonce": "0" * 32, "params": {}})
    assert code == 403
    assert post(d, "/api/confirm", {"action": "rm -rf", "strategy_id": "alpha"})[0] == 400


# -- ops panels (reference A.3) ------------------------------------------------------------------
def test_leaderboard_ranks_by_pnl_pct_then_id(rig):
    d, _cfg = rig
    code, doc = d.get("/api/leaderboard")
    assert code == 200
    entries = doc["entries"]
    assert {e["id"] for e in entries} == {"alpha", "delta", GAMMA}
    keys = {"id", "type", "value", "capital", "pnl", "pnl_pct", "trades", "sharpe", "timeframe"}
    assert all(keys | {"interval", "positions_opened", "wins", "losses"} <= set(e) for e in entries)
    assert [(-e["pnl_pct"], e["id"]) for e in entries] == sorted(
        (-e["pnl_pct"], e["id"]) for e in entries
    )


def test_diagnostics_pages_in_sql_with_caps(rig):
    d, _cfg = rig
    code, doc = d.get("/api/diagnostics")
    assert code == 200 and set(doc) == {"rows", "total", "limit", "offset"}
    assert doc["limit"] == 50 and doc["offset"] == 0
    assert d.get("/api/diagnostics?limit=9999")[1]["limit"] == 500  # clamped
    total = doc["total"]
    if total:
        row = doc["rows"][0]
        assert {"net_pnl", "metrics_status", "llm_verdict", "mfe_pct"} <= set(row)
        one = d.get("/api/diagnostics?limit=1&offset=0")[1]
        assert len(one["rows"]) == 1 and one["total"] == total
    assert d.get("/api/diagnostics?offset=-1")[0] == 400
    assert d.get("/api/diagnostics?strategy=nope")[1]["total"] == 0


def test_other_panels_shapes(rig):
    d, _cfg = rig
    code, doc = d.get("/api/cashflow")
    assert code == 200 and {"wallets", "drift", "alarm_enabled", "journal"} <= set(doc)
    code, doc = d.get("/api/strategies/dead")
    assert code == 200 and doc["total"] == len(doc["dead"])
    code, doc = d.get("/api/closing-strategies")
    assert code == 200 and doc["evaluators"]
    assert {"name", "description", "platforms", "default_params"} <= set(doc["evaluators"][0])
    code, doc = d.get("/api/correlation")
    assert code == 200 and "correlation" in doc
    if doc["correlation"] is not None:
        assert doc["correlation"]["portfolio_gross_usd"] > 0
    code, doc = d.get("/api/regime")
    assert code == 200 and set(doc) == {"built_at", "regimes"}
