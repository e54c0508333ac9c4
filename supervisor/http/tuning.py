"""Persistent tuning runs (reference A.6): ``/api/tuning/runs`` and the one worker thread.

A run is a directory ``<config dir>/tuning_runs/<id>/`` (mode 0700; the id is a UTC timestamp, a
dash and 12 hex chars from ``os.urandom``) holding ``run.json`` (the record the API shows),
``spec.json`` (what was asked), ``overrides.json``, and what the worker writes:
``tune_live.progress.json``, ``results.json`` and ``worker.log``. The worker is
``backtest/tune_live.py``, a subprocess (the supervisor never imports pandas), run by ONE thread at
the lowest CPU priority (nice 19), one run at a time. At most :data:`QUEUE_MAX` runs wait; past
that a run is stored as ``rejected`` and the POST answers 429. Statuses: queued, running,
completed, failed, interrupted (the daemon stopped or restarted under it), rejected.
``tuning.max_retained_runs`` prunes finished runs: those without results first, then the oldest.

Stricter than upstream: every body key is checked (unknown ones are 400) and the body cap is the
server's 64 KiB for every POST (upstream takes 1 MiB here); the ``--bars``/``--splits`` of the
worker come from ``tuning.lookback_bars`` / ``tuning.splits``.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import re
import subprocess
import sys
import threading
import time
from collections import deque
from pathlib import Path
from typing import Any

from shared_tools.clock import now_utc
from shared_tools.text import one_line
from supervisor.run.workers import worker_env
from supervisor.state.models import utc_iso

REPO = Path(__file__).resolve().parents[2]
WORKER = REPO / "backtest" / "tune_live.py"
RUNS_DIR = "tuning_runs"
QUEUE_MAX = 16
STATUSES = ("queued", "running", "completed", "failed", "interrupted", "rejected")
UNFINISHED = ("queued", "running")
MAX_IDS, MAX_VALUES = 64, 64
NICE = 19
_RUN_ID = re.compile(r"[0-9]{8}T[0-9]{6}Z-[0-9a-f]{12}", re.ASCII)
_RUN_KEYS = frozenset({"strategy_ids", "overrides"})
_OVERRIDE_KEYS = frozenset({"params", "freeze"})


class BadRun(ValueError):
    """A POST body the runs route does not take (HTTP 400)."""


def new_run_id() -> str:
    """``20261208T011500Z-`` + 12 hex chars (os.urandom: ``secrets`` would load OpenSSL)."""
    return time.strftime("%Y%m%dT%H%M%SZ", time.gmtime()) + "-" + os.urandom(6).hex()


def valid_id(run_id: object) -> bool:
    """True for a string shaped like :func:`new_run_id`'s (never a path)."""
    return isinstance(run_id, str) and _RUN_ID.fullmatch(run_id) is not None


def _scalar(value: object) -> bool:
    if isinstance(value, bool | str):
        return not isinstance(value, str) or len(value) <= 64
    return isinstance(value, int | float) and math.isfinite(value)


def parse_run(body: dict, configured: set[str]) -> dict:
    """``{strategy_ids, overrides}`` checked (raises :class:`BadRun` with one line)."""
    unknown = sorted(set(body) - _RUN_KEYS)
    if unknown:
        raise BadRun(f"unknown field(s) {', '.join(unknown)} (takes strategy_ids, overrides)")
    ids = body.get("strategy_ids")
    if not isinstance(ids, list) or not ids or len(ids) > MAX_IDS:
        raise BadRun(f'"strategy_ids" must be a list of 1 to {MAX_IDS} strategy ids')
    if not all(isinstance(i, str) for i in ids) or len(set(ids)) != len(ids):
        raise BadRun('"strategy_ids" must be unique strategy ids')
    missing = [i for i in ids if i not in configured]
    if missing:
        raise BadRun(f"unknown strategy id(s): {', '.join(missing)}")
    overrides = body.get("overrides") or {}
    if not isinstance(overrides, dict):
        raise BadRun('"overrides" must be an object {strategy_id: {params, freeze}}')
    for sid, ov in overrides.items():
        _check_override(sid, ov, ids)
    return {"strategy_ids": ids, "overrides": overrides}


def _check_override(sid: str, ov: object, ids: list[str]) -> None:
    here = f"overrides.{sid}"
    if sid not in ids:
        raise BadRun(f"{here}: {sid!r} is not in strategy_ids")
    if not isinstance(ov, dict) or set(ov) - _OVERRIDE_KEYS:
        raise BadRun(f"{here} must be an object with only params and freeze")
    params, freeze = ov.get("params") or {}, ov.get("freeze") or []
    if not isinstance(params, dict) or not isinstance(freeze, list):
        raise BadRun(f"{here}: params must be {{name: [values]}} and freeze [names]")
    for name, values in params.items():
        if not isinstance(values, list) or not 0 < len(values) <= MAX_VALUES:
            raise BadRun(f"{here}.params.{name} must be a list of 1 to {MAX_VALUES} values")
        if not all(_scalar(v) for v in values):
            raise BadRun(f"{here}.params.{name}: values must be numbers, booleans or short text")
    if not all(isinstance(n, str) for n in freeze):
        raise BadRun(f"{here}.freeze must list param names")
    both = sorted(set(params) & set(freeze))
    if both:
        raise BadRun(f"{here}: {', '.join(both)} cannot be both overridden and frozen")


def read_json(path: Path) -> Any:
    """A JSON file's value, None when absent or unreadable (a half-written worker file)."""
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def write_json(path: Path, doc: Any) -> None:
    """Atomic, mode 0600 (a run directory is the operator's alone)."""
    tmp = path.with_name(f".{path.name}.{os.urandom(4).hex()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as fh:
        json.dump(doc, fh, indent=1)
    os.replace(tmp, path)


class TuningRuns:
    """The runs store and its worker, for the supervisor ``sup`` (config, stopping)."""

    def __init__(self, sup: Any) -> None:
        self.sup = sup
        self._lock = threading.Lock()
        self._wake = threading.Condition(self._lock)
        self._queue: deque[str] = deque()
        self._thread: threading.Thread | None = None
        self._proc: subprocess.Popen | None = None
        self._recovered = False
        self._stopping = False

    @property
    def root(self) -> Path:
        return Path(self.sup.config.path).resolve().parent / RUNS_DIR

    def run_dir(self, run_id: str) -> Path:
        return self.root / run_id

    # -- records ---------------------------------------------------------------------------------
    def record(self, run_id: str) -> dict | None:
        doc = read_json(self.run_dir(run_id) / "run.json") if valid_id(run_id) else None
        return doc if isinstance(doc, dict) else None

    def _save(self, rec: dict) -> None:
        write_json(self.run_dir(rec["id"]) / "run.json", rec)

    def _set(self, run_id: str, **fields: Any) -> dict:
        rec = self.record(run_id) or {"id": run_id}
        rec.update({k: v for k, v in fields.items() if v is not None})
        self._save(rec)
        return rec

    def ids(self) -> list[str]:
        """Every stored run id, newest first."""
        try:
            names = [p.name for p in self.root.iterdir() if valid_id(p.name)]
        except OSError:
            return []
        return sorted(names, reverse=True)

    def recover(self) -> None:
        """Once per daemon: runs left queued or running by a previous one are ``interrupted``."""
        with self._lock:
            if self._recovered:
                return
            self._recovered = True
            for run_id in self.ids():
                rec = self.record(run_id)
                if rec and rec.get("status") in UNFINISHED:
                    rec.update(status="interrupted", error="the daemon restarted during the run")
                    rec["completed_at"] = utc_iso(now_utc())
                    self._save(rec)

    # -- the routes ------------------------------------------------------------------------------
    def list_doc(self) -> dict:
        self.recover()
        return {"runs": [r for r in map(self.record, self.ids()) if r]}

    def detail_doc(self, run_id: str) -> tuple[int, dict]:
        """``{run, spec, progress?, results?}`` (the apply overlay is tuning_apply's)."""
        self.recover()
        rec = self.record(run_id)
        if rec is None:
            return 404, {"error": f"no tuning run {run_id!r}"}
        folder = self.run_dir(run_id)
        doc: dict[str, Any] = {"run": rec, "spec": read_json(folder / "spec.json") or {}}
        for key, name in (("progress", "tune_live.progress.json"), ("results", "results.json")):
            value = read_json(folder / name)
            if value is not None:
                doc[key] = value
        return 200, doc

    def submit(self, body: dict) -> tuple[int, dict]:
        """POST /api/tuning/runs: 202 and the queued record, 429 and a ``rejected`` one."""
        self.recover()
        try:
            spec = parse_run(body, {s.id for s in self.sup.config.strategies})
        except BadRun as exc:
            return 400, {"error": str(exc)}
        run_id = new_run_id()
        folder = self.run_dir(run_id)
        self.root.mkdir(mode=0o700, parents=True, exist_ok=True)
        os.chmod(self.root, 0o700)
        folder.mkdir(mode=0o700)
        rec = {
            "id": run_id,
            "status": "queued",
            "strategy_ids": spec["strategy_ids"],
            "created_at": utc_iso(now_utc()),
        }
        write_json(folder / "spec.json", spec)
        write_json(folder / "overrides.json", spec["overrides"])
        with self._lock:
            full = len(self._queue) >= QUEUE_MAX
            if full:
                rec.update(status="rejected", error=f"the queue is full ({QUEUE_MAX} runs wait)")
            self._save(rec)
            if not full:
                self._queue.append(run_id)
                self._start_locked()
                self._wake.notify()
        self.prune()
        if full:
            return 429, {"error": rec["error"], "run": rec}
        return 202, rec

    # -- the worker ------------------------------------------------------------------------------
    def _start_locked(self) -> None:
        if self._thread is None or not self._thread.is_alive():
            self._thread = threading.Thread(target=self._loop, name="tuning", daemon=True)
            self._thread.start()

    def _loop(self) -> None:
        while True:
            with self._lock:
                while not self._queue and not self._stopping:
                    self._wake.wait()
                if self._stopping:
                    return
                run_id = self._queue.popleft()
            try:
                self._run(run_id)
            except Exception as exc:  # a broken run never stops the queue
                self._set(run_id, status="failed", error=one_line(f"{type(exc).__name__}: {exc}"))
            self.prune()

    def argv(self, run_id: str, ids: list[str]) -> list[str]:
        """The worker's command line (upstream's, plus the tuning block's bars and splits)."""
        folder, t = self.run_dir(run_id), self.sup.config.tuning
        return [
            sys.executable,
            str(WORKER),
            "--config",
            str(Path(self.sup.config.path).resolve()),
            "--strategy",
            *ids,
            "--out-dir",
            str(folder),
            "--json",
            str(folder / "results.json"),
            "--overrides",
            str(folder / "overrides.json"),
            f"--bars={t.lookback_bars}",
            f"--splits={t.splits}",
        ]

    def _env(self) -> dict[str, str]:
        env = {**os.environ, **worker_env(self.sup.config)}
        # the candle cache next to the config, as upstream; the daemon's own choice wins
        env.setdefault("GO_TRADER_OHLCV_CACHE", str(self.root.parent / "ohlcv_cache.sqlite3"))
        return env

    def _run(self, run_id: str) -> None:
        rec = self.record(run_id)
        if rec is None or rec.get("status") != "queued":
            return
        folder = self.run_dir(run_id)
        argv = self.argv(run_id, list(rec["strategy_ids"]))
        self._set(run_id, status="running", started_at=utc_iso(now_utc()))
        with open(folder / "worker.log", "wb") as log:
            with self._lock:
                if self._stopping:
                    self._set(run_id, status="interrupted", error="the daemon stopped")
                    return
                self._proc = proc = subprocess.Popen(
                    argv, cwd=REPO, env=self._env(), stdout=log, stderr=subprocess.STDOUT
                )
            with contextlib.suppress(OSError):  # the lowest CPU priority: trading comes first
                os.setpriority(os.PRIO_PROCESS, proc.pid, NICE)
            code = proc.wait()
        with self._lock:
            self._proc = None
            stopping = self._stopping
        done = utc_iso(now_utc())
        if stopping:
            self._set(run_id, status="interrupted", completed_at=done, error="the daemon stopped")
        elif code == 0 and (folder / "results.json").exists():
            self._set(run_id, status="completed", completed_at=done)
        else:
            self._set(run_id, status="failed", completed_at=done, error=self._why(folder, code))

    @staticmethod
    def _why(folder: Path, code: int) -> str:
        try:
            lines = (folder / "worker.log").read_text(errors="replace").strip().splitlines()
        except OSError:
            lines = []
        return one_line(f"tune_live.py exited {code}" + (f": {lines[-1]}" if lines else ""), 500)

    def stop(self) -> None:
        """The daemon stops: end the running worker; its run becomes ``interrupted``."""
        with self._lock:
            self._stopping = True
            proc = self._proc
            self._wake.notify_all()
        if proc is not None and proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(5)
            except subprocess.TimeoutExpired:
                proc.kill()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(10)

    # -- pruning ---------------------------------------------------------------------------------
    def prune(self) -> list[str]:
        """Remove finished runs past ``tuning.max_retained_runs``: result-less first, then the
        oldest. Queued and running runs are never removed. Returns the removed ids."""
        keep = self.sup.config.tuning.max_retained_runs
        with self._lock:
            done = []
            for run_id in self.ids():
                rec = self.record(run_id)
                if rec is None or rec.get("status") not in UNFINISHED:
                    done.append(run_id)
            extra = len(done) - keep
            if extra <= 0:
                return []
            oldest_first = sorted(done)
            order = [i for i in oldest_first if not (self.run_dir(i) / "results.json").exists()]
            order += [i for i in oldest_first if i not in order]
            gone = order[:extra]
            for run_id in gone:
                _remove(self.run_dir(run_id))
            return gone


def _remove(folder: Path) -> None:
    """A run directory (flat: the worker writes no subdirectories), without shutil."""
    with contextlib.suppress(OSError):
        for item in folder.iterdir():
            item.unlink()
        folder.rmdir()
