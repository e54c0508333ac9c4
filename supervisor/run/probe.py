"""Startup probe: prove every configured worker accepts the exact argv it will get.

A broken deploy (missing script, missing dependency, argv the script rejects) should stop
the supervisor at startup with a list of every problem, not surface one strategy at a time
as tick errors hours later. Probes touch no network.

It has to scale to thousands of strategies: the distinct argvs of one script are probed in
``--batch --probe-only`` processes, one per slot (one interpreter start and one pandas import
per core, not per strategy), all under one overall deadline. A script without batch support
(exit 2 without JSON), or a batch that fails as a whole, is probed one argv at a time with
``--probe-only`` instead; there the exit status is the verdict. Every failure is one line that
names the strategy ids and the cause, without argparse's usage block.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import sys
from collections.abc import Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from shared_tools.check_argv import batch_host, script_name
from shared_tools.config.options import MARK_JOB_PREFIX, MARK_SCRIPT
from shared_tools.paths import REPO_ROOT
from shared_tools.text import clean, one_line
from supervisor.run.budget import (
    BATCH_OUTPUT_CAP,
    BATCH_SLACK_S,
    JOB_TIMEOUT_ENV,
    Deadline,
    split_evenly,
)
from supervisor.run.output import decode_stream, describe_exit
from supervisor.run.process import ProcessOutcome, child_env, run_process
from supervisor.run.workers import PRICE_SCRIPT, price_argv, price_job_key, worker_env

if TYPE_CHECKING:
    from shared_tools.config.model import Config

__all__ = [
    "ProbeFailure",
    "ProbeRequest",
    "probe_config",
    "probe_jobs",
    "probe_requests",
]

PROBE_FLAG = "--probe-only"
_PROBE_OUTPUT_CAP = 1 << 20
_IDS_SHOWN = 5
_ERROR_PREFIX = re.compile(r"^\S+: error: ")


@dataclass
class ProbeRequest:
    """One script with one exact argv, and the strategy ids that will run it."""

    script: str
    argv: list[str]
    ids: list[str] = field(default_factory=list)


@dataclass
class ProbeFailure:
    """A request that failed its probe. ``kind``: missing, rejected (the script's own answer
    in a batch), exit, timeout, deadline, output or spawn."""

    script: str
    argv: list[str]
    ids: list[str]
    cause: str
    kind: str = "rejected"
    exit_code: int | None = None

    def line(self) -> str:
        """One line for the journal: who is affected and why."""
        return f"probe failed for {_who(self.ids, self.argv)} ({self.script}): {self.cause}"


def _who(ids: Sequence[str], argv: Sequence[str]) -> str:
    if not ids:
        return f"argv {shlex.join(argv)}" if argv else "no argv"
    shown = ", ".join(ids[:_IDS_SHOWN])
    if len(ids) > _IDS_SHOWN:
        shown += f" and {len(ids) - _IDS_SHOWN} more"
    if all(":" in i for i in ids):  # pseudo-ids such as prices:binanceus
        return shown
    return ("strategy " if len(ids) == 1 else "strategies ") + shown


def failure_cause(stderr: str, stdout: str = "") -> str:
    """The one line that says what went wrong: the last meaningful stderr line, without
    argparse's ``usage:`` block and ``prog: error:`` prefix (stdout's last line if stderr is
    empty)."""
    kept: list[str] = []
    in_usage = False
    for raw in clean(stderr).splitlines():
        if raw.startswith("usage:"):
            in_usage = True
            continue
        if in_usage and raw.startswith(" "):
            continue  # argparse wraps a long usage over indented lines
        in_usage = False
        if raw.strip():
            kept.append(raw.strip())
    if not kept:
        kept = [ln.strip() for ln in clean(stdout[-4096:]).splitlines() if ln.strip()]
    return one_line(_ERROR_PREFIX.sub("", kept[-1])) if kept else ""


# --------------------------------------------------------------------------- the prober


@dataclass
class _Batch:
    script: str
    indexes: list[int]


class _Prober:
    """Runs probe units against one deadline; answers are keyed by request index."""

    def __init__(
        self,
        root: Path,
        requests: list[ProbeRequest],
        python: str,
        timeout_s: float,
        env: dict[str, str],
        deadline: Deadline,
    ) -> None:
        self.root = root
        self.requests = requests
        self.python = python
        self.timeout_s = timeout_s
        self.env = env
        self.deadline = deadline

    def fail(self, i: int, cause: str, kind: str, code: int | None = None) -> ProbeFailure:
        req = self.requests[i]
        return ProbeFailure(req.script, req.argv, req.ids, cause, kind, code)

    def _spawn(
        self, script: str, args: list[str], stdin: bytes | None, limit_s: float, reason: str
    ) -> tuple[ProcessOutcome, str] | None:
        """Run one process within ``limit_s`` and the deadline; None when no time is left.
        With ``stdin`` it is a batch: per-job timeout in the environment, a larger output cap."""
        if self.deadline.remaining() <= 0:
            return None
        limit_s, reason = self.deadline.cap(limit_s, reason)
        env, cap = self.env, _PROBE_OUTPUT_CAP
        if stdin is not None:
            env, cap = {**env, JOB_TIMEOUT_ENV: repr(float(self.timeout_s))}, BATCH_OUTPUT_CAP
        out = run_process(
            [self.python, str(self.root / script), *args],
            cwd=self.root,
            env=env,
            stdin=stdin,
            timeout_s=limit_s,
            max_output_bytes=cap,
        )
        return out, reason

    def single(self, i: int) -> tuple[dict[int, ProbeFailure | None], list[int]]:
        """``script argv --probe-only``: the exit status is the verdict."""
        req = self.requests[i]
        got = self._spawn(
            req.script,
            [*req.argv, PROBE_FLAG],
            None,
            self.timeout_s,
            f"timed out after {self.timeout_s:g}s",
        )
        if got is None:
            return {}, []
        out, reason = got
        return {i: self._verdict(i, out, reason)}, []

    def _verdict(self, i: int, out: ProcessOutcome, reason: str) -> ProbeFailure | None:
        if out.spawn_error:
            return self.fail(i, out.spawn_error, "spawn")
        if out.timed_out:
            kind = "deadline" if reason == self.deadline.message else "timeout"
            return self.fail(i, reason, kind, out.exit_code)
        if out.overflow:
            return self.fail(i, f"more than {_PROBE_OUTPUT_CAP} bytes on stdout", "output")
        if out.exit_code == 0:
            return None
        code = out.exit_code if out.exit_code is not None else -1
        what = describe_exit(code).replace("exit ", "exited ", 1)
        detail = failure_cause(out.stderr_tail, out.stdout.decode("utf-8", "replace"))
        return self.fail(i, f"{what}: {detail or 'no output'}", "exit", out.exit_code)

    def batch(self, unit: _Batch) -> tuple[dict[int, ProbeFailure | None], list[int]]:
        """``script --batch --probe-only`` with the argvs on stdin; returns the answers and
        the requests to probe singly because the batch failed as a whole."""
        n = len(unit.indexes)
        jobs = []
        for i in unit.indexes:
            job: dict = {"args": self.requests[i].argv}
            if self.requests[i].script != unit.script:  # a sibling's argv, as a cycle sends it
                job["script"] = script_name(self.requests[i].script)
            jobs.append(job)
        payload = json.dumps(jobs).encode()
        limit = n * self.timeout_s + BATCH_SLACK_S
        got = self._spawn(
            unit.script,
            ["--batch", PROBE_FLAG],
            payload,
            limit,
            f"timed out after {limit:g}s in a batch of {n} probes",
        )
        if got is None:
            return {}, []
        out, reason = got
        items, complete = decode_stream(out.stdout)
        if complete and len(items) != n:
            items = []
        answers: dict[int, ProbeFailure | None] = {}
        for i, item in zip(unit.indexes, items, strict=False):
            if not isinstance(item, dict):
                break
            answers[i] = self._answer(i, item)
        rest = [i for i in unit.indexes if i not in answers]
        if out.timed_out:  # a slow script: probing each argv again would only wait again
            kind = "deadline" if reason == self.deadline.message else "timeout"
            answers.update({i: self.fail(i, reason, kind) for i in rest})
            return answers, []
        return answers, rest

    def _answer(self, i: int, item: dict[str, Any]) -> ProbeFailure | None:
        if item.get("ok") is True and not item.get("error"):
            return None
        err = item.get("error")
        cause = err if isinstance(err, str) else json.dumps(item, default=str)
        return self.fail(i, one_line(cause) or "probe answered without ok", "rejected")


def _merge(requests: Sequence[ProbeRequest]) -> list[ProbeRequest]:
    """One request per distinct (script, argv), with the ids of all its users, in order."""
    merged: dict[tuple[str, tuple[str, ...]], ProbeRequest] = {}
    for req in requests:
        key = (req.script, tuple(req.argv))
        if key not in merged:
            merged[key] = ProbeRequest(req.script, list(req.argv), [])
        merged[key].ids.extend(i for i in req.ids if i not in merged[key].ids)
    return list(merged.values())


def probe_jobs(
    repo_root: str | Path,
    requests: Sequence[ProbeRequest],
    *,
    python: str = sys.executable,
    max_concurrent: int | None = None,
    timeout_s: float = 15.0,
    deadline_s: float = 60.0,
    env: dict[str, str] | None = None,
    batching: bool = True,
) -> list[ProbeFailure]:
    """Probe every distinct (script, argv) within ``deadline_s``; return the failures in order.

    ``env`` is overlaid on the allowlisted worker environment (:func:`child_env`). Requests
    not answered by the deadline fail with "probe deadline of Ns passed". ``batching=False``
    probes one process per argv (the old way; kept for benchmarks).
    """
    root = Path(repo_root)
    reqs = _merge(requests)
    if not reqs:
        return []
    slots = max(1, max_concurrent or os.cpu_count() or 1)
    prober = _Prober(
        root, reqs, python, timeout_s, child_env(env), Deadline.start(deadline_s, "probe")
    )
    answers: dict[int, ProbeFailure | None] = {}
    units: list[_Batch | int] = []
    by_script: dict[str, list[int]] = {}
    for i, req in enumerate(reqs):
        if not (root / req.script).is_file():
            answers[i] = prober.fail(i, "script missing from deploy tree", "missing")
        else:  # grouped by the batch host a cycle will use (one host for all signal checks)
            by_script.setdefault(batch_host(req.script), []).append(i)
    for script, indexes in by_script.items():
        if not (root / script).is_file():
            answers.update(
                {i: prober.fail(i, "script missing from deploy tree", "missing") for i in indexes}
            )
        elif batching:
            units.extend(_Batch(script, chunk) for chunk in split_evenly(indexes, slots))
        else:
            units.extend(indexes)
    _drive(prober, units, slots, answers)
    failures: list[ProbeFailure] = []
    for i in range(len(reqs)):
        if i not in answers:
            failures.append(prober.fail(i, prober.deadline.message, "deadline"))
        elif (failure := answers[i]) is not None:
            failures.append(failure)
    return failures


def _drive(
    prober: _Prober, units: list[_Batch | int], slots: int, answers: dict[int, ProbeFailure | None]
) -> None:
    """Run the units on ``slots`` threads; a batch that failed as a whole comes back as singles."""
    if not units:
        return

    def run(unit: _Batch | int) -> tuple[dict[int, ProbeFailure | None], list[int]]:
        return prober.batch(unit) if isinstance(unit, _Batch) else prober.single(unit)

    with ThreadPoolExecutor(max_workers=min(slots, len(units)), thread_name_prefix="probe") as pool:
        pending: set[Future] = {pool.submit(run, u) for u in units}
        while pending:
            done, pending = wait(pending, return_when=FIRST_COMPLETED)
            for fut in done:
                got, rerun = fut.result()
                answers.update(got)
                pending.update(pool.submit(run, i) for i in rerun)


# --------------------------------------------------------------------------- from a config


def probe_requests(config: Config) -> list[ProbeRequest]:
    """Every strategy's script with the exact argv it gets each cycle, plus one price check
    per mark venue with the sorted symbols of the strategies marked there."""
    requests = [ProbeRequest(sc.script, sc.check_argv(), [sc.id]) for sc in config.strategies]
    by_platform: dict[str, set[str]] = {}
    marked: set[str] = set()  # options platforms: mark_options.py, not check_price
    for sc in config.strategies:
        if sc.options is not None:
            marked.add(sc.platform)
        else:
            by_platform.setdefault(sc.venue, set()).update(sc.symbols())
    for platform, symbols in sorted(by_platform.items()):
        argv = price_argv(platform, symbols or {"BTC/USDT"})
        requests.append(ProbeRequest(PRICE_SCRIPT, argv, [price_job_key(platform)]))
    for platform in sorted(marked):
        argv = [f"--platform={platform}"]
        requests.append(ProbeRequest(MARK_SCRIPT, argv, [MARK_JOB_PREFIX + platform]))
    return requests


def probe_config(config: Config, *, deadline_s: float = 60.0) -> list[str]:
    """Probe everything ``config`` will run; one line per failure (empty: all good)."""
    env = worker_env(config) or None
    failures = probe_jobs(
        REPO_ROOT,
        probe_requests(config),
        max_concurrent=config.max_concurrent_checks,
        deadline_s=deadline_s,
        env=env,
    )
    return [f.line() for f in failures]
