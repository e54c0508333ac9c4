"""Shared helpers of the tuning-run tests: a supervisor with a registered strategy on the
simulated market, and a hand-made completed run (the apply rules need no real walk-forward)."""

from __future__ import annotations

import json
import time
from pathlib import Path

from shared_tools.promotion import promotion_baseline
from supervisor.http.tuning import new_run_id, write_json

GAMMA = "gamma"


def gamma(**extra) -> dict:
    entry = {
        "id": GAMMA,
        "type": "spot",
        "script": "shared_scripts/check_strategy.py",
        "args": ["sma_crossover", "BTC/USDT", "1h"],
        "capital": 1000,
        "max_drawdown_pct": 99,
        "allow_deprecated": True,
    }
    entry.update(extra)
    return entry


def raw_config(sup) -> dict:
    return json.loads(Path(sup.config.path).read_text())


def fake_run(
    sup, status: str = "completed", schema: int = 2, results: bool = True, run_id: str = ""
) -> str:
    """A stored run of :data:`GAMMA` with a survivor ``p-good``, a rejected ``p-bad`` and the
    baseline, measured against the config as it is now."""
    return seed_run(sup.board.tuning.root, raw_config(sup), status, schema, results, run_id)


def seed_run(
    root: Path,
    raw: dict,
    status: str = "completed",
    schema: int = 2,
    results: bool = True,
    run_id: str = "",
) -> str:
    """:func:`fake_run` under ``root`` (``<config dir>/tuning_runs``) for the config ``raw``."""
    run_id = run_id or new_run_id()
    folder = root / run_id
    folder.mkdir(parents=True, mode=0o700)
    write_json(folder / "run.json", {"id": run_id, "status": status, "strategy_ids": [GAMMA]})
    write_json(folder / "spec.json", {"strategy_ids": [GAMMA], "overrides": {}})
    live = {"fast_period": 20, "slow_period": 50}

    def row(key: str, params: dict, verdict: str) -> dict:
        out = {"key": key, "params": params, "metrics": {}, "verdict": verdict, "reasons": []}
        if key != "baseline":
            changed = {k: v for k, v in params.items() if live[k] != v}
            out["patch"] = {"open_strategy": {"name": "sma_crossover", "params": changed}}
        return out

    block = {
        "strategy_id": GAMMA,
        "open_strategy": "sma_crossover",
        "live_params": live,
        "ranked": [
            row("p-good", {"fast_period": 10, "slow_period": 50}, "survivor"),
            row("baseline", live, "rejected"),
            row("p-bad", {"fast_period": 25, "slow_period": 50}, "rejected"),
        ],
        "promotion_baseline": promotion_baseline(raw, GAMMA),
    }
    if results:
        write_json(folder / "results.json", {"schema_version": schema, "strategies": [block]})
    return run_id


def wait_status(runs, run_id: str, statuses: tuple[str, ...], timeout: float = 90) -> dict:
    deadline = time.time() + timeout
    rec: dict = {}
    while time.time() < deadline:
        rec = runs.record(run_id) or {}
        if rec.get("status") in statuses:
            return rec
        time.sleep(0.1)
    log = runs.run_dir(run_id) / "worker.log"
    raise AssertionError(f"run {run_id}: {rec}; {log.read_text() if log.exists() else ''}")
