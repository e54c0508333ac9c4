"""Tuning-run reads and applying a suggestion (reference A.6), behind the confirm flow (A.2).

- ``GET /api/tuning/runs``, ``GET /api/tuning/runs/{id}``: the stored runs (supervisor/http/
  tuning.py); the detail overlays ``apply_eligibility`` and ``applied_at`` on every ranked row.
- ``POST /api/tuning/runs``: queue a run.
- ``POST /api/confirm {"action": "tuning-apply", "strategy_id", "params": {run_id,
  suggestion_key}}`` gives a nonce for one suggestion (refused at once when it is not eligible);
  ``POST /api/tuning/apply {nonce, run_id, strategy_id, suggestion_key}`` applies it. Upstream
  applies with no confirm step; the port puts this write behind a nonce (A.2 "For the port").

A suggestion is eligible when its run is ``completed``, its results are ``schema_version`` >= 2,
its row is a ``survivor`` other than ``baseline`` with a ``patch.open_strategy``, and the
run's ``promotion_baseline`` equals the live config's (shared_tools/promotion.py), checked again
by the write's own patch, under the config write lock (config_write.patch_document). The journal ``promotions.json`` in the run's
directory records ``pending`` before the write and ``applied`` after it, or ``manual_review``
when the write failed in an unknown state (a refused write wrote nothing: its entry is dropped
and a retry may pass), so a retry of an applied suggestion answers ``already_applied`` without
writing again, and a crash between the two is settled by looking at the live file. The write itself is the dashboard's one
config write path (Actions.write: validate with the loader, the reload's refusals, atomic write,
then the SIGHUP-path reload before the next cycle).
"""

from __future__ import annotations

import copy
import json
import threading
from pathlib import Path
from typing import Any

from shared_tools.clock import now_utc
from shared_tools.promotion import promotion_baseline, strategy_entry
from supervisor.http import config_write
from supervisor.http.tuning import read_json, write_json
from supervisor.state.models import utc_iso

ACTION = "tuning-apply"
APPLY_MAX_BYTES = 4096  # upstream's cap for /api/tuning/apply
MIN_SCHEMA = 2
_APPLY_KEYS = frozenset({"nonce", "run_id", "strategy_id", "suggestion_key"})
JOURNAL = "promotions.json"
APPLY_LOCK = threading.Lock()
BASELINE_CHANGED = (
    "its open_strategy, close or user_defaults blocks changed since the run; start a new run"
)


def get(board: Any, parts: list[str]) -> tuple[int, dict]:
    """``/api/tuning/runs`` and ``/api/tuning/runs/{id}`` (404 for anything else)."""
    runs = board.tuning
    if parts == ["runs"]:
        return 200, runs.list_doc()
    if len(parts) == 2 and parts[0] == "runs":
        code, doc = runs.detail_doc(parts[1])
        if code == 200:
            overlay(doc, _live_raw(board.sup), _journal(runs, parts[1]))
        return code, doc
    return 404, {"error": f"no such endpoint /api/tuning/{'/'.join(parts)}"}


def post(actions: Any, parts: list[str], body: dict) -> tuple[int, dict]:
    """``POST /api/tuning/runs`` and ``/api/tuning/apply``."""
    if parts == ["runs"]:
        return actions.board.tuning.submit(body)
    if parts == ["apply"]:
        return apply(actions, body)
    return 404, {"error": f"no such action /api/tuning/{'/'.join(parts)}"}


# -- eligibility -------------------------------------------------------------------------------
def _live_raw(sup: Any) -> dict:
    try:
        raw = json.loads(Path(sup.config.path).read_text(encoding="utf-8-sig"))
    except (OSError, ValueError):
        return {}
    return raw if isinstance(raw, dict) else {}


def _journal(runs: Any, run_id: str) -> dict:
    doc = read_json(runs.run_dir(run_id) / JOURNAL)
    return doc if isinstance(doc, dict) else {}


def _block(results: dict, sid: str) -> dict | None:
    for block in results.get("strategies") or []:
        if isinstance(block, dict) and block.get("strategy_id") == sid:
            return block
    return None


def _no(code: int, reason: str, message: str) -> tuple[int, dict]:
    return code, {"eligible": False, "reason": reason, "message": message}


def eligibility(
    rec: dict | None, results: Any, sid: str, key: str, live_raw: dict, journal: dict
) -> tuple[int, dict]:
    """(HTTP code, ``{eligible, reason, message}``) for applying row ``key`` of ``sid``."""
    if rec is None:
        return _no(404, "unknown_run", "no such tuning run")
    done = journal.get(f"{sid}/{key}") or {}
    if done.get("status") == "applied":
        return _no(409, "already_applied", f"applied at {done.get('at')}")
    if done.get("status") == "manual_review":
        return _no(409, "manual_review", f"a previous apply failed: {done.get('error', '')}")
    if rec.get("status") != "completed":
        return _no(409, "run_not_completed", f"the run is {rec.get('status')}, not completed")
    if not isinstance(results, dict) or int(results.get("schema_version") or 0) < MIN_SCHEMA:
        return _no(409, "schema_too_old", f"results need schema_version >= {MIN_SCHEMA}")
    block = _block(results, sid)
    if block is None:
        return _no(404, "unknown_strategy", f"{sid} is not in this run")
    row = next((r for r in block.get("ranked") or [] if r.get("key") == key), None)
    if row is None:
        return _no(404, "unknown_suggestion", f"no suggestion {key!r} for {sid}")
    if key == "baseline":
        return _no(409, "baseline", "the baseline is the live params already")
    if row.get("verdict") != "survivor":
        return _no(409, "not_survivor", "; ".join(row.get("reasons") or ["rejected"]))
    if not isinstance((row.get("patch") or {}).get("open_strategy"), dict):
        return _no(409, "no_patch", "the suggestion carries no open_strategy patch")
    if promotion_baseline(live_raw, sid) != block.get("promotion_baseline"):
        return _no(409, "baseline_changed", f"{sid}: {BASELINE_CHANGED}")
    return 200, {"eligible": True, "reason": "eligible", "message": ""}


def overlay(doc: dict, live_raw: dict, journal: dict) -> None:
    """``apply_eligibility`` and ``applied_at`` on every ranked row of a run's detail."""
    results = doc.get("results")
    if not isinstance(results, dict):
        return
    for block in results.get("strategies") or []:
        sid = block.get("strategy_id", "")
        for row in block.get("ranked") or []:
            key = row.get("key", "")
            _code, row["apply_eligibility"] = eligibility(
                doc["run"], results, sid, key, live_raw, journal
            )
            entry = journal.get(f"{sid}/{key}") or {}
            row["applied_at"] = entry.get("at") if entry.get("status") == "applied" else None


def _find_row(results: Any, sid: str, key: str) -> dict:
    block = _block(results, sid) or {}
    return next(r for r in block.get("ranked") or [] if r.get("key") == key)


# -- confirm and apply -------------------------------------------------------------------------
def _params(params: object) -> dict | None:
    if not isinstance(params, dict) or set(params) != {"run_id", "suggestion_key"}:
        return None
    return params if all(isinstance(v, str) for v in params.values()) else None


def _state(actions: Any, sid: str, run_id: str, key: str) -> tuple[int, dict, Any]:
    runs = actions.board.tuning
    rec = runs.record(run_id)
    results = read_json(runs.run_dir(run_id) / "results.json") if rec else None
    code, elig = eligibility(
        rec, results, sid, key, _live_raw(actions.sup), _journal(runs, run_id) if rec else {}
    )
    return code, elig, results


def confirm(actions: Any, sid: object, params: object) -> tuple[int, dict]:
    """A nonce for one eligible suggestion; the description shows the param diff."""
    checked = _params(params)
    if checked is None:
        return 400, {"error": f"{ACTION} takes params {{run_id, suggestion_key}} (text)"}
    if not isinstance(sid, str) or all(s.id != sid for s in actions.sup.config.strategies):
        return 404, {"error": f"unknown strategy {sid!r}"}
    code, elig, results = _state(actions, sid, checked["run_id"], checked["suggestion_key"])
    if not elig["eligible"]:
        return code, {"error": elig["message"], "reason": elig["reason"]}
    row = _find_row(results, sid, checked["suggestion_key"])
    live = (_block(results, sid) or {}).get("live_params") or {}
    diff = ", ".join(
        f"{k} {live.get(k)} -> {v}" for k, v in sorted(row["params"].items()) if live.get(k) != v
    )
    nonce, ttl = actions.nonces.issue(ACTION, sid, checked)
    return 200, {
        "nonce": nonce,
        "expires_in_seconds": ttl,
        "confirm_phrase": sid,
        "description": f"apply tuning suggestion {checked['suggestion_key']} to {sid} ({diff})",
    }


def _patcher(sid: str, baseline: Any, block: dict, refused: list[str]):
    """The document patch: under the config write lock, refuse (409) unless the live file still
    gives the run's baseline, then replace the strategy's ``open_strategy``."""

    def patch(raw: dict) -> None:
        if promotion_baseline(raw, sid) != baseline:
            refused.append("baseline_changed")
            raise config_write.WriteRefused(409, [f"{sid}: {BASELINE_CHANGED}"])
        entry = strategy_entry(raw, sid)
        assert entry is not None  # the baseline matched, so the strategy is there
        entry["open_strategy"] = copy.deepcopy(block)

    return patch


def apply(actions: Any, body: dict) -> tuple[int, dict]:
    """``POST /api/tuning/apply``: nonce, eligibility, journal, then the write, whose patch
    checks the baseline again under the config write lock. Reply ``{reason, applied_at?,
    error?, message?}``."""
    # the server reads up to its 64 KiB cap; this route's 4 KiB is checked on the re-encoded
    # body (the raw bytes are not passed down), which is never longer than what was sent
    # by more than the escaping of non-ASCII text
    if len(json.dumps(body)) > APPLY_MAX_BYTES:
        return 413, {"reason": "too_large", "error": f"body over {APPLY_MAX_BYTES} bytes"}
    unknown = sorted(set(body) - _APPLY_KEYS)
    if unknown:
        return 400, {"reason": "bad_request", "error": f"unknown field(s) {', '.join(unknown)}"}
    sid, run_id, key = body.get("strategy_id"), body.get("run_id"), body.get("suggestion_key")
    if not all(isinstance(v, str) for v in (sid, run_id, key)):
        return 400, {
            "reason": "bad_request",
            "error": "needs run_id, strategy_id and suggestion_key (text) and a nonce",
        }
    params = {"run_id": run_id, "suggestion_key": key}
    if not actions.nonces.take(body.get("nonce"), ACTION, sid, params):
        return 403, {"reason": "confirmation", "error": "confirmation missing, used or expired"}
    runs = actions.board.tuning
    with APPLY_LOCK:  # one apply at a time: the journal is read and written whole
        journal = _journal(runs, run_id) if runs.record(run_id) else {}
        jkey = f"{sid}/{key}"
        entry = journal.get(jkey) or {}
        if entry.get("status") == "applied":
            return 200, {"reason": "already_applied", "applied_at": entry.get("at")}
        if entry.get("status") == "pending":  # a crash between the write and the journal
            settled = _settle(actions, runs, run_id, sid, key, journal)
            if settled is not None:
                return settled
            journal.pop(jkey)
        code, elig, results = _state(actions, sid, run_id, key)
        if not elig["eligible"]:
            return code, {"reason": elig["reason"], "error": elig["message"]}
        baseline = (_block(results, sid) or {}).get("promotion_baseline")
        block = _find_row(results, sid, key)["patch"]["open_strategy"]
        journal_path = runs.run_dir(run_id) / JOURNAL
        journal[jkey] = {"status": "pending", "at": utc_iso(now_utc())}
        write_json(journal_path, journal)
        refused: list[str] = []
        try:
            wcode, out = actions.write(None, _patcher(sid, baseline, block, refused))
        except Exception as exc:  # the write's outcome is unknown: a person looks at it
            journal[jkey] = {"status": "manual_review", "at": utc_iso(now_utc())}
            journal[jkey]["error"] = f"{type(exc).__name__}: {exc}"[:500]
            write_json(journal_path, journal)
            raise
        if wcode != 200:  # refused (WriteRefused): nothing was written, a retry may pass
            journal.pop(jkey)
            write_json(journal_path, journal)
            if refused:  # changed between the check above and the write lock
                return 409, {"reason": "baseline_changed", "error": f"{sid}: {BASELINE_CHANGED}"}
            return wcode, {"reason": "write_refused", **out}
        at = utc_iso(now_utc())
        journal[jkey] = {"status": "applied", "at": at}
        write_json(journal_path, journal)
    return 200, {"reason": "applied", "applied_at": at, "message": out.get("message", "")}


def _settle(
    actions: Any, runs: Any, run_id: str, sid: str, key: str, journal: dict
) -> tuple[int, dict] | None:
    """A ``pending`` entry: applied if the live file already holds the patch, else None (the
    normal checks decide)."""
    results = read_json(runs.run_dir(run_id) / "results.json")
    try:
        block = _find_row(results, sid, key)["patch"]["open_strategy"]
    except (StopIteration, KeyError, TypeError):
        return None
    live = (promotion_baseline(_live_raw(actions.sup), sid) or {}).get("open_strategy")
    if live != block:
        return None
    at = utc_iso(now_utc())
    journal[f"{sid}/{key}"] = {"status": "applied", "at": at}
    write_json(runs.run_dir(run_id) / JOURNAL, journal)
    return 200, {"reason": "already_applied", "applied_at": at}
