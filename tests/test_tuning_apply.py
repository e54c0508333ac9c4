"""Applying a tuning suggestion (reference A.6, A.2 "For the port"; supervisor/http/
tuning_apply.py): only through a confirm nonce, only a survivor of a completed schema-2 run whose
baseline still matches the live config; the write is the dashboard's one config write path and
the next cycle runs the new params; the journal makes a retry idempotent."""

from __future__ import annotations

import http.client
import json
from pathlib import Path

import pytest
from tuning_rig import GAMMA, fake_run, gamma, raw_config

from supervisor.http import board as board_mod
from supervisor.http.tuning import read_json, write_json
from supervisor.http.tuning_apply import ACTION, JOURNAL


def confirm(sup, run_id: str, key: str, sid: str = GAMMA) -> tuple[int, dict]:
    params = {"run_id": run_id, "suggestion_key": key}
    return sup.board.actions.post(
        "/api/confirm", {"action": ACTION, "strategy_id": sid, "params": params}
    )


def apply(sup, run_id: str, key: str, nonce: object) -> tuple[int, dict]:
    body = {"run_id": run_id, "strategy_id": GAMMA, "suggestion_key": key}
    if nonce is not None:
        body["nonce"] = nonce
    return sup.board.actions.post("/api/tuning/apply", body)


def nonce_for(sup, run_id: str, key: str = "p-good") -> str:
    code, out = confirm(sup, run_id, key)
    assert code == 200, out
    assert out["confirm_phrase"] == GAMMA and "fast_period 20 -> 10" in out["description"]
    return out["nonce"]


def gamma_entry(sup) -> dict:
    return next(s for s in raw_config(sup)["strategies"] if s["id"] == GAMMA)


def test_apply_writes_the_config_and_the_next_cycle_uses_it(sup_for):
    sup = sup_for([gamma()])
    run_id = fake_run(sup)
    code, out = apply(sup, run_id, "p-good", nonce_for(sup, run_id))
    assert code == 200 and out["reason"] == "applied" and out["applied_at"], out
    assert gamma_entry(sup)["open_strategy"] == {
        "name": "sma_crossover",
        "params": {"fast_period": 10},
    }
    assert read_json(sup.board.tuning.run_dir(run_id) / JOURNAL)[f"{GAMMA}/p-good"]["status"] == (
        "applied"
    )
    # the SIGHUP path: the loop reloads before its next cycle, which runs the new params
    assert sup.reload_requested
    assert sup.reload()
    sc = sup.config.strategy(GAMMA)
    assert sc.open_strategy.params["fast_period"] == 10
    refs = next(a for a in sc.check_argv() if a.startswith("--strategy-refs="))
    assert json.loads(refs.split("=", 1)[1])["open"]["params"] == {"fast_period": 10}
    sup.run_cycle(sup.config.strategies)
    # the detail shows it applied, and nothing else is eligible against the new baseline
    doc = sup.board.api(f"/api/tuning/runs/{run_id}", {})[1]
    rows = {r["key"]: r for r in doc["results"]["strategies"][0]["ranked"]}
    assert rows["p-good"]["applied_at"] == out["applied_at"]
    assert rows["p-good"]["apply_eligibility"]["reason"] == "already_applied"


def test_a_retry_is_idempotent(sup_for):
    sup = sup_for([gamma()])
    run_id = fake_run(sup)
    first, second = nonce_for(sup, run_id), nonce_for(sup, run_id)  # a double click
    assert apply(sup, run_id, "p-good", first)[0] == 200
    before = Path(sup.config.path).read_bytes()
    code, out = apply(sup, run_id, "p-good", second)
    assert code == 200 and out["reason"] == "already_applied"
    assert Path(sup.config.path).read_bytes() == before
    code, out = confirm(sup, run_id, "p-good")  # a later confirm says so too
    assert code == 409 and out["reason"] == "already_applied"


def test_a_pending_entry_is_settled_by_the_live_file(sup_for):
    """A crash after the write but before the journal said ``applied``."""
    sup = sup_for([gamma()])
    run_id = fake_run(sup)
    nonce = nonce_for(sup, run_id)
    journal = sup.board.tuning.run_dir(run_id) / JOURNAL
    # the write landed (by the same path), the journal still says pending
    code, _ = sup.board.actions.write(
        GAMMA,
        lambda e: e.update(open_strategy={"name": "sma_crossover", "params": {"fast_period": 10}}),
    )
    assert code == 200
    write_json(journal, {f"{GAMMA}/p-good": {"status": "pending", "at": "x"}})
    code, out = apply(sup, run_id, "p-good", nonce)
    assert code == 200 and out["reason"] == "already_applied"
    assert read_json(journal)[f"{GAMMA}/p-good"]["status"] == "applied"


@pytest.mark.parametrize(
    ("make", "key", "code", "reason"),
    [
        (lambda sup: fake_run(sup, status="running"), "p-good", 409, "run_not_completed"),
        (lambda sup: fake_run(sup, schema=1), "p-good", 409, "schema_too_old"),
        (lambda sup: fake_run(sup), "p-bad", 409, "not_survivor"),
        (lambda sup: fake_run(sup), "baseline", 409, "baseline"),
        (lambda sup: fake_run(sup), "p-none", 404, "unknown_suggestion"),
    ],
)
def test_confirm_refuses_what_cannot_be_applied(sup_for, make, key, code, reason):
    sup = sup_for([gamma()])
    run_id = make(sup)
    before = Path(sup.config.path).read_bytes()
    got, out = confirm(sup, run_id, key)
    assert (got, out["reason"]) == (code, reason), out
    assert Path(sup.config.path).read_bytes() == before


def test_a_baseline_changed_meanwhile_is_409(sup_for):
    sup = sup_for([gamma()])
    run_id = fake_run(sup)
    nonce = nonce_for(sup, run_id)
    # the operator changes the params (the tuner) between the confirm and the apply
    code, _ = sup.board.actions.post(
        f"/api/strategies/{GAMMA}/config", {"overrides": {"open_strategy.params.fast_period": 15}}
    )
    assert code == 200
    before = Path(sup.config.path).read_bytes()
    code, out = apply(sup, run_id, "p-good", nonce)
    assert code == 409 and out["reason"] == "baseline_changed"
    assert Path(sup.config.path).read_bytes() == before
    assert not (sup.board.tuning.run_dir(run_id) / JOURNAL).exists()
    # user_defaults belongs to the baseline as well
    run2 = fake_run(sup)
    raw = raw_config(sup)
    raw["user_defaults"] = {"close": {}}
    Path(sup.config.path).write_text(json.dumps(raw))
    assert confirm(sup, run2, "p-good")[1]["reason"] == "baseline_changed"


def test_nonce_missing_or_for_another_suggestion_is_403(sup_for):
    sup = sup_for([gamma()])
    run_id = fake_run(sup)
    before = Path(sup.config.path).read_bytes()
    assert apply(sup, run_id, "p-good", None)[0] == 403
    assert apply(sup, run_id, "p-good", "0" * 32)[0] == 403
    other = fake_run(sup)
    code, out = apply(sup, run_id, "p-good", nonce_for(sup, other))  # issued for another run
    assert code == 403 and out["reason"] == "confirmation"
    assert Path(sup.config.path).read_bytes() == before


def test_apply_body_caps_and_unknown_fields(sup_for):
    sup = sup_for([gamma()])
    run_id = fake_run(sup)
    body = {"run_id": run_id, "strategy_id": GAMMA, "suggestion_key": "p-good", "nonce": "x"}
    code, out = sup.board.actions.post("/api/tuning/apply", {**body, "force": True})
    assert code == 400 and "force" in out["error"]
    code, _ = sup.board.actions.post("/api/tuning/apply", {**body, "suggestion_key": "k" * 5000})
    assert code == 413
    code, out = confirm(sup, run_id, "p-good", sid="nope")
    assert code == 404
    code, out = sup.board.actions.post(
        "/api/confirm", {"action": ACTION, "strategy_id": GAMMA, "params": {"run_id": run_id}}
    )
    assert code == 400


def test_the_tuning_routes_behind_the_guard(sup_for, monkeypatch):
    """Through the real server: token, same-origin Origin, the 64 KiB cap, the /tuning page."""
    monkeypatch.setenv("STATUS_AUTH_TOKEN", "tok")
    sup = sup_for([gamma()])
    sup.status_port = 0
    server = board_mod.make_server(sup, sup.board, lambda _msg: None)
    assert server is not None
    try:

        def req(method: str, path: str, body: bytes = b"", **headers: str):
            conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
            base = {"Host": f"127.0.0.1:{server.port}", "Content-Type": "application/json"}
            conn.request(method, path, body=body, headers={**base, **headers})
            resp = conn.getresponse()
            data = resp.read()
            conn.close()
            return resp.status, data, resp.getheader("Content-Security-Policy") or ""

        auth = {"Authorization": "Bearer tok"}
        origin = {"Origin": f"http://127.0.0.1:{server.port}"}
        ok = json.dumps({"strategy_ids": ["nope"]}).encode()
        assert req("POST", "/api/tuning/runs", ok, **origin)[0] == 401
        assert req("POST", "/api/tuning/runs", ok, **auth)[0] == 403  # no Origin
        foreign = {"Origin": "http://evil.example"}
        assert req("POST", "/api/tuning/runs", ok, **auth, **foreign)[0] == 403
        assert req("POST", "/api/tuning/runs", ok, **auth, **origin)[0] == 400  # unknown id
        big = json.dumps({"strategy_ids": [GAMMA], "pad": "x" * 70_000}).encode()
        assert req("POST", "/api/tuning/runs", big, **auth, **origin)[0] == 413
        assert req("GET", "/api/tuning/runs")[0] == 401
        code, data, _ = req("GET", "/api/tuning/runs", **auth)
        assert code == 200 and json.loads(data) == {"runs": []}
        code, html, csp = req("GET", "/tuning")  # the page holds no data: no token
        assert code == 200 and b"/dashboard/tuning.js" in html and b"<script>" not in html
        assert "script-src 'self'" in csp
        assert req("POST", "/tuning", ok, **auth, **origin)[0] == 405
        code, js, _ = req("GET", "/dashboard/tuning.js")
        assert code == 200 and b"/api/tuning/apply" in js
        code, dash, _ = req("GET", "/dashboard")
        assert b'href="/tuning"' in dash
    finally:
        server.stop()


def test_the_baseline_is_checked_again_under_the_write_lock(sup_for, monkeypatch):
    """A change landing after the eligibility check but before the write: the write's own
    patch (under config_write's lock) refuses it and nothing is written."""
    from supervisor.http import tuning_apply

    sup = sup_for([gamma()])
    run_id = fake_run(sup)
    nonce = nonce_for(sup, run_id)
    real = tuning_apply.eligibility
    stale = real(
        sup.board.tuning.record(run_id),
        read_json(sup.board.tuning.run_dir(run_id) / "results.json"),
        GAMMA,
        "p-good",
        raw_config(sup),
        {},
    )
    assert stale[1]["eligible"]
    code, _ = sup.board.actions.post(
        f"/api/strategies/{GAMMA}/config", {"overrides": {"open_strategy.params.fast_period": 15}}
    )
    assert code == 200
    monkeypatch.setattr(tuning_apply, "eligibility", lambda *a: stale)  # the check ran before
    before = Path(sup.config.path).read_bytes()
    code, out = apply(sup, run_id, "p-good", nonce)
    assert code == 409 and out["reason"] == "baseline_changed"
    assert Path(sup.config.path).read_bytes() == before
    assert read_json(sup.board.tuning.run_dir(run_id) / JOURNAL) == {}


def test_a_refused_write_can_be_retried_and_a_failed_one_needs_review(sup_for, monkeypatch):
    sup = sup_for([gamma()])
    run_id = fake_run(sup)
    journal = sup.board.tuning.run_dir(run_id) / JOURNAL
    actions = sup.board.actions
    real = actions.write
    monkeypatch.setattr(actions, "write", lambda sid, patch: (409, {"ok": False, "error": "no"}))
    code, out = apply(sup, run_id, "p-good", nonce_for(sup, run_id))
    assert code == 409 and out["reason"] == "write_refused" and read_json(journal) == {}

    def boom(sid, patch):
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(actions, "write", boom)
    with pytest.raises(RuntimeError):
        apply(sup, run_id, "p-good", nonce_for(sup, run_id))
    assert read_json(journal)[f"{GAMMA}/p-good"]["status"] == "manual_review"
    monkeypatch.setattr(actions, "write", real)
    code, out = confirm(sup, run_id, "p-good")
    assert code == 409 and out["reason"] == "manual_review" and "disk on fire" in out["error"]
