"""Run jobs as worker processes: bounded concurrency, batching, one deadline, shutdown.

The supervisor never imports strategy code: each tick it spawns
``<python> <repo_root>/<script> <args...>`` processes and reads one JSON document from
their stdout. One process under limits is :mod:`supervisor.run.process`, what its output means
is :mod:`supervisor.run.output`; this module decides what runs when, so that one bad
worker only costs its own job a one-line error and never stalls the tick.

Design notes:

* Threads, not asyncio: a ``ThreadPoolExecutor`` per ``run()`` call drives the units of
  work and a shared semaphore bounds the number of live processes across concurrent
  ``run()``/``run_one()`` calls.
* One deadline per ``run()`` (a cycle): by default what the run would take if every job used
  its whole timeout on perfectly packed slots. Waiting for a slot, every process limit and
  every fallback is cut to what is left of it, so a cycle cannot grow with the number of
  hung workers. Inside a ``--batch`` the worker enforces each job's timeout itself
  (``GO_TRADER_JOB_TIMEOUT``) and streams results as they finish, so a killed batch still
  yields the jobs it finished; a batch that timed out is not re-run job by job.
* ``cancel_read_only()`` may run in a signal handler on the thread that is inside
  ``run()``; the registry of live processes is therefore guarded by an ``RLock`` and the
  handler only sets a flag and sends signals.
"""

from __future__ import annotations

import json
import logging
import math
import os
import signal
import sys
import threading
import time
from collections.abc import Mapping, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

from shared_tools.check_argv import batch_host, script_name
from shared_tools.text import one_line
from supervisor.run.budget import (
    BATCH_OUTPUT_CAP,
    BATCH_SLACK_S,
    JOB_TIMEOUT_ENV,
    Deadline,
    ExecutorStats,
    split_evenly,
)
from supervisor.run.jobs import Job, Result
from supervisor.run.output import (
    batch_argv_rejected,
    batch_failure,
    batch_item,
    decode_stream,
    interpret_single,
)
from supervisor.run.process import ProcessOutcome, Running, child_env, run_process

__all__ = ["SHUTTING_DOWN", "Executor"]

log = logging.getLogger(__name__)

SHUTTING_DOWN = "shutting down"


# --------------------------------------------------------------------------- data types


# --------------------------------------------------------------------------- executor


@dataclass
class _Batch:
    script: str
    jobs: list[Job]


@dataclass
class _BatchOutcome:
    results: list[Result]  # the jobs that have an answer
    rerun: list[Job] = field(default_factory=list)  # to run singly: the batch failed as a whole
    reason: str | None = None
    argv_rejected: bool = False


class _Started(NamedTuple):
    out: ProcessOutcome
    timeout_reason: str  # what a timeout of this process means (own limit or the deadline)


_Unit = Job | _Batch


class Executor:
    """Runs jobs as worker processes with bounded concurrency, batching and shutdown.

    Beyond the contract: scripts whose ``--batch`` run exits 2 without JSON (argv
    rejected, i.e. no batch support) are remembered and not batched again.
    """

    def __init__(
        self,
        repo_root: str | Path,
        *,
        python: str = sys.executable,
        max_concurrent: int | None = None,
        timeout_s: float = 30.0,
        max_output_bytes: int = 1 << 20,
        batching: bool = True,
        env: dict[str, str] | None = None,
    ) -> None:
        self.repo_root = Path(repo_root)
        self.python = python
        self.max_concurrent = max(1, max_concurrent or os.cpu_count() or 1)
        self.timeout_s = timeout_s
        self.max_output_bytes = max_output_bytes
        self.batching = batching
        self.env_overlay = dict(env) if env else None
        self.stats = ExecutorStats()
        self._slots = threading.BoundedSemaphore(self.max_concurrent)
        self._registry_lock = threading.RLock()  # RLock: may be re-entered by a signal handler
        self._running: dict[int, Running] = {}
        self._shutting_down = False
        self._no_batch: set[str] = set()

    # ----------------------------------------------------------------- public API

    @property
    def shutting_down(self) -> bool:
        return self._shutting_down

    def run_deadline(self, n_jobs: int) -> float:
        """Default budget of a run: every job using its whole timeout on perfectly packed
        slots (at least two timeouts, so a failed batch still leaves room for its singles)."""
        return self.timeout_s * max(2, math.ceil(n_jobs / self.max_concurrent))

    def batch_deadline(self, n_jobs: int) -> float:
        """A batch runs its jobs one after another, each may use its whole timeout; plus a
        little for the interpreter start. The run's deadline may cut it shorter."""
        return max(n_jobs, 1) * self.timeout_s + BATCH_SLACK_S

    def run(self, jobs: Sequence[Job], deadline_s: float | None = None) -> dict[str, Result]:
        """Run all jobs within one deadline and return a result for every key, in job order.

        ``deadline_s`` defaults to :meth:`run_deadline`. Read-only work never outlives it;
        a side-effect job (a live order) only has to *start* before it and then gets its
        whole timeout, since killing an order half-way is worse than a late cycle.
        """
        jobs = list(jobs)
        keys = [j.key for j in jobs]
        if len(set(keys)) != len(keys):
            dupes = sorted({k for k in keys if keys.count(k) > 1})
            raise ValueError(f"duplicate job keys: {dupes}")
        self.stats.add(runs=1, jobs=len(jobs))
        if not jobs:
            return {}
        if self._shutting_down:
            return {j.key: self._refused(j, SHUTTING_DOWN) for j in jobs}

        budget = Deadline.start(self.run_deadline(len(jobs)) if deadline_s is None else deadline_s)
        results: dict[str, Result] = {}
        pool = ThreadPoolExecutor(
            max_workers=min(self.max_concurrent, len(jobs)), thread_name_prefix="executor"
        )
        pending: dict[Future, _Unit] = {}
        try:
            for unit in self._plan(jobs):
                pending[pool.submit(self._run_unit, unit, budget)] = unit
            while pending:
                # No timeout needed: every unit is bounded by the budget (or its own limit).
                done, _ = wait(pending, return_when=FIRST_COMPLETED)
                for fut in done:
                    unit = pending.pop(fut)
                    outcome = fut.result()
                    if isinstance(outcome, Result):
                        results[outcome.key] = outcome
                        continue
                    assert isinstance(unit, _Batch)
                    for res in outcome.results:
                        results[res.key] = res
                    for job in self._fallback(unit, outcome):
                        pending[pool.submit(self._run_unit, job, budget)] = job
        finally:
            pool.shutdown(wait=not pending, cancel_futures=True)
        return {
            k: results.get(k) or self._refused(j, budget.message)
            for k, j in zip(keys, jobs, strict=True)
        }

    def run_one(self, job: Job, *, timeout_s: float | None = None) -> Result:
        """Run one job singly in the calling thread (never batched, no run deadline)."""
        self.stats.add(jobs=1)
        return self._run_single(job, self.timeout_s if timeout_s is None else timeout_s, None)

    def cancel_read_only(self) -> None:
        """Shutdown step 1: refuse new spawns and SIGKILL running read-only groups now.

        Safe from a signal handler and from any thread.
        """
        self._shutting_down = True
        with self._registry_lock:
            live = list(self._running.values())
        for running in live:
            if not running.side_effect:
                running.kill(SHUTTING_DOWN)

    def drain(self, timeout_s: float = 15.0) -> None:
        """Shutdown step 2: let side-effect runs (live orders) finish, kill them at the cap.

        Also performs ``cancel_read_only()`` so nothing new starts and no read-only run
        keeps the process alive.
        """
        self.cancel_read_only()
        deadline = time.monotonic() + timeout_s
        while self._live(side_effect=True) and time.monotonic() < deadline:
            time.sleep(0.02)
        leftovers = self._live(side_effect=True)
        for running in leftovers:
            log.error("killing side-effect run (pgid %d) after drain cap", running.pgid)
            running.kill(f"killed after drain timeout ({timeout_s:g}s)")
        # Give runner threads a moment to reap what was just killed.
        end = time.monotonic() + 2.0
        while self._live() and time.monotonic() < end:
            time.sleep(0.01)

    # ----------------------------------------------------------------- internals

    def _live(self, side_effect: bool | None = None) -> list[Running]:
        with self._registry_lock:
            return [
                r
                for r in self._running.values()
                if side_effect is None or r.side_effect == side_effect
            ]

    def _env(self, extra: Mapping[str, str] | None = None) -> dict[str, str]:
        return child_env({**(self.env_overlay or {}), **(extra or {})})

    def _refused(self, job: Job, reason: str) -> Result:
        return Result(job.key, None, reason, None, "", 0.0)

    def _plan(self, jobs: list[Job]) -> list[_Unit]:
        """Group read-only jobs of one script into batches, one per slot (one interpreter per
        core, not one doing all the work while the others idle); the rest run singly."""
        if not self.batching:
            return list(jobs)
        groups: dict[str, list[Job]] = {}
        units: list[_Unit | str] = []
        for job in jobs:
            host = batch_host(job.script)  # the signal checks of every venue share one host
            if job.side_effect or host in self._no_batch or not _stdin_batchable(job):
                units.append(job)
                continue
            if host not in groups:
                groups[host] = []
                units.append(host)  # placeholder keeps first-appearance order
            groups[host].append(job)
        planned: list[_Unit] = []
        for unit in units:
            if not isinstance(unit, str):
                planned.append(unit)
                continue
            for chunk in split_evenly(groups[unit], self.max_concurrent):
                planned.extend(chunk if len(chunk) == 1 else [_Batch(unit, chunk)])
        return planned

    def _fallback(self, batch: _Batch, outcome: _BatchOutcome) -> list[Job]:
        """The jobs of a batch that failed as a whole, to be run singly (within the budget)."""
        if not outcome.rerun:
            return []
        if outcome.argv_rejected:
            self._no_batch.add(batch.script)
        self.stats.add(batch_fallbacks=1)
        log.warning(
            "batch of %d jobs for %s failed as a whole (%s); running %d of them singly",
            len(batch.jobs),
            batch.script,
            outcome.reason,
            len(outcome.rerun),
        )
        return outcome.rerun

    def _run_unit(self, unit: _Unit, budget: Deadline) -> Result | _BatchOutcome:
        """Pool entry point; never raises so that every key gets an answer."""
        try:
            if isinstance(unit, _Batch):
                return self._run_batch(unit, budget)
            return self._run_single(unit, self.timeout_s, budget)
        except Exception as exc:  # a bug here must not lose a key
            log.exception("executor internal error")
            reason = f"internal error: {one_line(repr(exc))}"
            if isinstance(unit, _Batch):
                return _BatchOutcome([], list(unit.jobs), reason)
            return Result(unit.key, None, reason, None, "", 0.0)

    def _spawn(
        self,
        script: str,
        args: Sequence[str],
        stdin: bytes | None,
        *,
        limit_s: float,
        timeout_reason: str,
        side: bool,
        budget: Deadline | None,
        max_output_bytes: int,
        env_extra: Mapping[str, str] | None = None,
    ) -> _Started | str:
        """Run one process inside a concurrency slot, within its limit and the run's budget.

        Returns why it never started instead (shutdown, or the budget ran out before a slot
        or any time was left). A side-effect process is never cut short by the budget.
        """
        wait_s = None if budget is None else max(budget.remaining(), 0.0)
        if not self._slots.acquire(timeout=wait_s):
            assert budget is not None
            return budget.message
        try:
            if self._shutting_down:
                return SHUTTING_DOWN
            if budget is not None:
                if budget.remaining() <= 0:
                    return budget.message
                if not side:
                    limit_s, timeout_reason = budget.cap(limit_s, timeout_reason)
            self.stats.add(spawned=1)

            def register(pid: int) -> Running:
                running = Running(pid, side)
                with self._registry_lock:
                    self._running[pid] = running
                if self._shutting_down and not side:
                    running.kill(SHUTTING_DOWN)
                return running

            def unregister(running: Running) -> None:
                with self._registry_lock:
                    self._running.pop(running.pgid, None)

            out = run_process(
                [self.python, str(self.repo_root / script), *args],
                cwd=self.repo_root,
                env=self._env(env_extra),
                stdin=stdin,
                timeout_s=limit_s,
                max_output_bytes=max_output_bytes,
                register=register,
                unregister=unregister,
            )
        finally:
            self._slots.release()
        self.stats.add(
            timeouts=int(out.timed_out),
            output_overflows=int(out.overflow),
            killed=int(out.kill_reason is not None),
        )
        return _Started(out, timeout_reason)

    def _run_single(self, job: Job, timeout_s: float, budget: Deadline | None) -> Result:
        if not (self.repo_root / job.script).is_file():
            return self._refused(job, f"script not found: {job.script}")
        started = self._spawn(
            job.script,
            job.args,
            job.stdin.encode() if job.stdin is not None else None,
            limit_s=timeout_s,
            timeout_reason=f"timed out after {timeout_s:g}s",
            side=job.side_effect,
            budget=budget,
            max_output_bytes=self.max_output_bytes,
        )
        if isinstance(started, str):
            return self._refused(job, started)
        self.stats.add(singles=1)
        return interpret_single(job.key, started.out, started.timeout_reason, self.max_output_bytes)

    def _run_batch(self, batch: _Batch, budget: Deadline) -> _BatchOutcome:
        if not (self.repo_root / batch.script).is_file():
            return _BatchOutcome(
                [self._refused(j, f"script not found: {j.script}") for j in batch.jobs]
            )
        payload = []
        for job in batch.jobs:
            item: dict[str, Any] = {"args": list(job.args)}
            if job.script != batch.script:  # a sibling's job: the host routes it by name
                item["script"] = script_name(job.script)
            if job.stdin is not None:
                item["stdin"] = json.loads(job.stdin)
            payload.append(item)
        n = len(batch.jobs)
        limit = self.batch_deadline(n)
        cap = min(self.max_output_bytes * n, max(self.max_output_bytes, BATCH_OUTPUT_CAP))
        started = self._spawn(
            batch.script,
            ["--batch"],
            json.dumps(payload).encode(),
            limit_s=limit,
            timeout_reason=f"timed out after {limit:g}s in a batch of {n} jobs",
            side=False,
            budget=budget,
            max_output_bytes=cap,
            env_extra={JOB_TIMEOUT_ENV: repr(float(self.timeout_s))},
        )
        if isinstance(started, str):
            return _BatchOutcome([self._refused(j, started) for j in batch.jobs])
        self.stats.add(batches=1, batched_jobs=n)
        return self._interpret_batch(batch, started, cap)

    def _interpret_batch(self, batch: _Batch, started: _Started, cap: int) -> _BatchOutcome:
        """Complete answers are taken as they are. A batch killed by its limit or a shutdown
        keeps the results it streamed and the rest get the reason, without a re-run (a slow
        venue would only make each single wait again). Any other failure re-runs the jobs
        without an answer singly."""
        out, n = started.out, len(batch.jobs)
        items, complete = decode_stream(out.stdout)
        if complete and len(items) == n:
            return _BatchOutcome(
                [batch_item(j, it, out) for j, it in zip(batch.jobs, items, strict=True)]
            )
        done: list[Any] = []
        for item in [] if complete else items:
            if not isinstance(item, dict):
                break
            done.append(item)
        results = [batch_item(j, it, out) for j, it in zip(batch.jobs, done, strict=False)]
        rest = batch.jobs[len(done) :]
        killed = out.kill_reason if out.kill_reason and out.exit_code == -signal.SIGKILL else None
        if killed or out.timed_out:
            reason = killed or started.timeout_reason
            if not killed:
                log.warning(
                    "batch of %d jobs for %s: %s; %d without an answer are not re-run",
                    n,
                    batch.script,
                    reason,
                    len(rest),
                )
            results += [
                Result(j.key, None, reason, out.exit_code, out.stderr_tail, out.duration_s, True)
                for j in rest
            ]
            return _BatchOutcome(results)
        return _BatchOutcome(
            results,
            rerun=rest,
            reason=batch_failure(out, items, complete, n, cap),
            argv_rejected=batch_argv_rejected(out, items),
        )


def _stdin_batchable(job: Job) -> bool:
    """A job's stdin can ride in a batch only as parsed JSON."""
    if job.stdin is None:
        return True
    try:
        json.loads(job.stdin)
    except ValueError:
        return False
    return True
