"""Persistent tuning runs (reference A.6; supervisor/http/tuning.py, backtest/tune_live.py): a run
queued by POST completes on the simulated market with the results shape the page reads; the
queue of 16 answers 429 and stores the run as ``rejected``; a daemon that stops or restarts
leaves its runs ``interrupted``; ``tuning.max_retained_runs`` prunes; bodies are checked."""

from __future__ import annotations

import stat
import sys

import pytest
from tuning_rig import GAMMA, fake_run, gamma, wait_status

from supervisor.http import tuning as tuning_mod
from supervisor.http.tuning import QUEUE_MAX, TuningRuns, valid_id

SMALL = {"lookback_bars": 400, "splits": 2}


def post(sup, path: str, body: dict):
    return sup.board.actions.post(path, body)


def test_a_run_completes_on_the_simulated_market(sup_for):
    sup = sup_for([gamma()], tuning=SMALL)
    body = {
        "strategy_ids": [GAMMA],
        "overrides": {GAMMA: {"params": {"fast_period": [10, 20]}, "freeze": ["slow_period"]}},
    }
    code, rec = post(sup, "/api/tuning/runs", body)
    assert code == 202, rec
    assert set(rec) == {"id", "status", "strategy_ids", "created_at"} and valid_id(rec["id"])
    assert rec["status"] == "queued" and rec["strategy_ids"] == [GAMMA]
    runs = sup.board.tuning
    folder = runs.run_dir(rec["id"])
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    assert stat.S_IMODE(runs.root.stat().st_mode) == 0o700
    done = wait_status(runs, rec["id"], ("completed", "failed"))
    assert done["status"] == "completed", done
    assert done["started_at"] and done["completed_at"]
    code, doc = sup.board.api(f"/api/tuning/runs/{rec['id']}", {})
    assert code == 200 and set(doc) == {"run", "spec", "progress", "results"}
    assert doc["spec"] == body
    assert doc["progress"]["strategies"][GAMMA]["status"] == "completed"
    results = doc["results"]
    # the tuning block's lookback_bars and splits reach the worker
    assert results["schema_version"] == 2 and results["bars"] == 400 and results["splits"] == 2
    (block,) = results["strategies"]
    assert block["strategy_id"] == GAMMA and len(block["folds"]) == 2
    assert block["grid_size"] == 2  # fast_period narrowed to 2 values, slow_period frozen
    assert block["live_params"] == {"fast_period": 20, "slow_period": 50}
    assert block["promotion_baseline"]["has_open_strategy"] is False
    keys = [r["key"] for r in block["ranked"]]
    assert "baseline" in keys and len(keys) == len(set(keys))
    for row in block["ranked"]:
        assert row["verdict"] in ("survivor", "rejected") and row["reasons"]
        assert row["params"]["slow_period"] == 50  # frozen at its live value
        assert {"oos_mean_return_pct", "oos_total_trades", "oos_worst_drawdown_pct"} <= set(
            row["metrics"]
        )
        assert set(row["apply_eligibility"]) == {"eligible", "reason", "message"}
        assert row["applied_at"] is None
        if row["key"] != "baseline":
            assert row["patch"]["open_strategy"]["name"] == "sma_crossover"
    assert sup.board.api("/api/tuning/runs", {}) == (200, {"runs": [done]})


def test_the_queue_holds_16_then_429_with_a_stored_rejected_run(sup_for, monkeypatch):
    sup = sup_for([gamma()])
    monkeypatch.setattr(TuningRuns, "_start_locked", lambda self: None)  # nothing is taken
    for _ in range(QUEUE_MAX):
        assert post(sup, "/api/tuning/runs", {"strategy_ids": [GAMMA]})[0] == 202
    code, out = post(sup, "/api/tuning/runs", {"strategy_ids": [GAMMA]})
    assert code == 429 and out["run"]["status"] == "rejected" and "queue is full" in out["error"]
    assert sup.board.tuning.record(out["run"]["id"])["status"] == "rejected"
    runs = sup.board.api("/api/tuning/runs", {})[1]["runs"]
    assert len(runs) == QUEUE_MAX + 1
    assert [r["id"] for r in runs] == sorted((r["id"] for r in runs), reverse=True)


SLEEPER = "import time, sys; time.sleep(60)"


def test_stop_and_restart_leave_runs_interrupted(sup_for, monkeypatch, tmp_path):
    sup = sup_for([gamma()])
    script = tmp_path / "sleeper.py"
    script.write_text(SLEEPER)
    monkeypatch.setattr(tuning_mod, "WORKER", script)
    runs = sup.board.tuning
    code, rec = post(sup, "/api/tuning/runs", {"strategy_ids": [GAMMA]})
    assert code == 202
    wait_status(runs, rec["id"], ("running",))
    runs.stop()  # the daemon stops under a running worker
    assert runs.record(rec["id"])["status"] == "interrupted"
    # a run a previous daemon left queued or running is interrupted by the next one
    stale_running = fake_run(sup, status="running", results=False)
    stale_queued = fake_run(sup, status="queued", results=False)
    finished = fake_run(sup)
    again = TuningRuns(sup)
    statuses = {r["id"]: r["status"] for r in again.list_doc()["runs"]}
    assert statuses[stale_running] == statuses[stale_queued] == "interrupted"
    assert statuses[finished] == "completed"
    assert "restarted" in again.record(stale_running)["error"]


def _id(n: int) -> str:
    return f"2026010{n}T000000Z-{n:012x}"


def test_max_retained_runs_prunes_resultless_first_then_oldest(sup_for):
    sup = sup_for([gamma()], tuning={"max_retained_runs": 3})
    with_results = [fake_run(sup, run_id=_id(n)) for n in (1, 2, 3)]
    failed = fake_run(sup, status="failed", results=False, run_id=_id(4))
    queued = fake_run(sup, status="queued", results=False, run_id=_id(5))
    newest = fake_run(sup, run_id=_id(6))
    runs = sup.board.tuning
    runs._recovered = True  # the queued one is this daemon's own (not interrupted)
    gone = runs.prune()
    assert gone == [failed, with_results[0]]  # result-less first, then the oldest
    assert set(runs.ids()) == {queued, newest, *with_results[1:]}  # queued: never pruned
    assert not runs.run_dir(failed).exists()


def test_max_retained_runs_default_and_bounds(tmp_path):
    from conftest import write_config

    from shared_tools.config.load import load_config
    from shared_tools.config.model import ConfigError
    from shared_tools.config.tuning import TuningSettings

    cfg = load_config(write_config(tmp_path, [gamma()]))
    assert cfg.tuning == TuningSettings(max_retained_runs=20, lookback_bars=1500, splits=3)
    with pytest.raises(ConfigError, match=r"tuning\.max_retained_runs must be"):
        load_config(write_config(tmp_path, [gamma()], tuning={"max_retained_runs": 0}))
    with pytest.raises(ConfigError, match=r"tuning\.splits must be"):
        load_config(write_config(tmp_path, [gamma()], tuning={"splits": 1.5}))


@pytest.mark.parametrize(
    ("body", "needle"),
    [
        ({"strategy_ids": [GAMMA], "extra": 1}, "unknown field"),
        ({"strategy_ids": []}, "strategy_ids"),
        ({"strategy_ids": [GAMMA, GAMMA]}, "unique"),
        ({"strategy_ids": ["nope"]}, "unknown strategy"),
        ({"strategy_ids": [GAMMA], "overrides": {"other": {}}}, "not in strategy_ids"),
        ({"strategy_ids": [GAMMA], "overrides": {GAMMA: {"grid": {}}}}, "only params and freeze"),
        (
            {
                "strategy_ids": [GAMMA],
                "overrides": {GAMMA: {"params": {"fast_period": [5]}, "freeze": ["fast_period"]}},
            },
            "both overridden and frozen",
        ),
        ({"strategy_ids": [GAMMA], "overrides": {GAMMA: {"params": {"x": 3}}}}, "list of 1"),
        (
            {"strategy_ids": [GAMMA], "overrides": {GAMMA: {"params": {"x": [float("nan")]}}}},
            "values must be",
        ),
    ],
)
def test_bad_run_bodies_are_400(sup_for, body, needle):
    sup = sup_for([gamma()])
    code, out = post(sup, "/api/tuning/runs", body)
    assert code == 400 and needle in out["error"]
    assert sup.board.tuning.ids() == []


def test_get_shapes_and_404s(sup_for):
    sup = sup_for([gamma()])
    assert sup.board.api("/api/tuning/runs", {}) == (200, {"runs": []})
    run_id = fake_run(sup)
    code, doc = sup.board.api(f"/api/tuning/runs/{run_id}", {})
    assert code == 200 and set(doc) == {"run", "spec", "results"}  # no progress file
    for path in ("/api/tuning/runs/nope", "/api/tuning/runs/..%2f..", "/api/tuning/other"):
        assert sup.board.api(path, {})[0] == 404


def test_the_worker_runs_at_the_lowest_priority(sup_for, monkeypatch, tmp_path):
    sup = sup_for([gamma()])
    script = tmp_path / "nice.py"
    script.write_text("import os, time; time.sleep(0.5); print(os.nice(0))")
    monkeypatch.setattr(tuning_mod, "WORKER", script)
    code, rec = post(sup, "/api/tuning/runs", {"strategy_ids": [GAMMA]})
    runs = sup.board.tuning
    done = wait_status(runs, rec["id"], ("failed", "completed"))
    assert done["status"] == "failed"  # it wrote no results.json
    assert (runs.run_dir(rec["id"]) / "worker.log").read_text().split()[-1] == "19"
    assert sys.executable in runs.argv(rec["id"], [GAMMA])


def test_the_tuning_block_reloads_live(sup_for):
    import json
    from pathlib import Path

    sup = sup_for([gamma()], tuning={"max_retained_runs": 3})
    path = Path(sup.config.path)
    raw = json.loads(path.read_text())
    raw["tuning"] = {"max_retained_runs": 1, "splits": 4}
    path.write_text(json.dumps(raw))
    assert sup.reload()
    assert sup.config.tuning.max_retained_runs == 1
    assert "--splits=4" in sup.board.tuning.argv(_id(1), [GAMMA])
