"""The worker side of the supervisor <-> check-script contract.

The contract is docs/architecture.md, "The worker contract".

Every ``shared_scripts/check_*.py`` hands its argparse parser and a ``handle`` function to
:func:`run_worker`, which owns the rules that must be identical across scripts:

* stdout carries exactly one JSON document (NaN/Inf become ``null``); logs go to stderr;
* exit 0 on success, 1 with a JSON ``{"error": ...}`` envelope, 2 when argv is rejected
  (usage on stderr, nothing on stdout);
* ``--probe-only`` validates argv and imports, touches no network, prints nothing, exits 0;
* ``--batch`` reads ``[{"args": [...], "stdin": ...}, ...]`` on stdin and prints one result
  object per job, in order, each carrying its own ``error``. One interpreter start and one
  pandas import then serve many strategies. The array is streamed (``[``, then each result as
  it finishes, then ``]``) so a supervisor that kills a slow batch still gets the results of
  the jobs that finished. ``GO_TRADER_JOB_TIMEOUT`` (seconds) bounds each job: one that
  overruns answers ``{"error": "timed out after Ns"}`` and the batch goes on.
* ``--batch --probe-only`` validates every job (parse, validate, prepare) and answers
  ``{"ok": true}`` or ``{"error": "<cause>"}`` per job, so the start-up probe needs one
  process per core instead of one per strategy.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import json
import math
import os
import signal
import sys
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

Handler = Callable[[argparse.Namespace, Any], dict]
Check = Callable[[argparse.Namespace], None]
JOB_TIMEOUT_ENV = "GO_TRADER_JOB_TIMEOUT"


class UsageError(Exception):
    """Argv that parses but makes no sense (e.g. missing positionals); maps to exit 2."""


class _ArgvRejected(Exception):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class ContractParser(argparse.ArgumentParser):
    """argparse that raises instead of exiting, so a bad job inside a batch stays contained."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("allow_abbrev", False)
        super().__init__(*args, **kwargs)
        self.add_argument("--probe-only", action="store_true", help="validate argv and exit 0")
        self.add_argument("--batch", action="store_true", help="read a JSON array of jobs on stdin")

    def error(self, message: str) -> None:  # type: ignore[override]
        raise _ArgvRejected(message)


def clean_json(value: Any) -> Any:
    """Recursively replace non-finite floats with None so the output is strict JSON."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {str(k): clean_json(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [clean_json(v) for v in value]
    if hasattr(value, "item") and callable(value.item):  # numpy scalars
        return clean_json(value.item())
    return value


def dumps(doc: Any) -> str:
    return json.dumps(clean_json(doc), allow_nan=False, separators=(", ", ": "))


def _emit(doc: Any) -> None:
    sys.stdout.write(dumps(doc) + "\n")
    sys.stdout.flush()


def error_message(exc: BaseException) -> str:
    """One line for an operator: the exception text, or its type when it has none."""
    text = str(exc).strip()
    if isinstance(exc, KeyError) and text.startswith("'") and text.endswith("'"):
        text = text[1:-1]
    first = text.splitlines()[0] if text else ""
    return first or type(exc).__name__


def _read_stdin_json() -> Any:
    if sys.stdin is None or sys.stdin.isatty():
        return None
    raw = sys.stdin.read()
    if not raw.strip():
        return None
    return json.loads(raw)


@dataclass(frozen=True)
class WorkerSpec:
    """One script's worker: its parser and hooks (what ``run_worker`` runs for it)."""

    parser: ContractParser
    handle: Handler
    validate: Check | None = None
    prepare: Check | None = None


Route = Callable[[str], "WorkerSpec | None"]


def run_worker(
    parser: ContractParser,
    handle: Handler,
    *,
    validate: Callable[[argparse.Namespace], None] | None = None,
    prepare: Callable[[argparse.Namespace], None] | None = None,
    argv: Sequence[str] | None = None,
    route: Route | None = None,
) -> int:
    """Parse argv, dispatch probe/batch/single mode, print one JSON document, return the exit code.

    ``validate(ns)`` raises :class:`UsageError` for argv that argparse accepts but the script
    cannot run (exit 2). ``prepare(ns)`` imports the heavy modules and checks names offline
    (strategy, timeframe, params), so ``--probe-only`` proves the deploy tree can serve this
    exact argv without touching the network; a ValueError there is exit 2.

    ``route`` lets a batch carry jobs of sibling scripts (``{"script": "check_okx.py",
    "args": [...]}``): it returns that script's :class:`WorkerSpec`, or None when the script
    cannot join this batch. One interpreter then serves every venue's checks in a cycle.
    """
    args = list(sys.argv[1:] if argv is None else argv)
    try:
        ns = parser.parse_args(args)
        if not ns.batch and validate is not None:
            validate(ns)
    except (_ArgvRejected, UsageError) as exc:
        parser.print_usage(sys.stderr)
        print(f"{parser.prog}: error: {exc}", file=sys.stderr)
        return 2

    if ns.batch:
        own = WorkerSpec(parser, handle, validate, prepare)
        return _run_batch(own, route, probe=ns.probe_only)

    if ns.probe_only:
        if prepare is not None:
            try:
                prepare(ns)
            except (UsageError, ValueError) as exc:  # e.g. a strategy name this tree lacks
                parser.print_usage(sys.stderr)
                print(f"{parser.prog}: error: {error_message(exc)}", file=sys.stderr)
                return 2
        return 0

    try:
        stdin_doc = _read_stdin_json() if _wants_stdin(parser) else None
        result = handle(ns, stdin_doc)
    except Exception as exc:  # the contract: any failure is a JSON error, exit 1
        _emit({"error": error_message(exc)})
        return 1
    _emit(result)
    return 1 if result.get("error") else 0


def _wants_stdin(parser: ContractParser) -> bool:
    return bool(getattr(parser, "reads_stdin", False))


class JobTimeout(BaseException):
    """Raised into a batch job that overran its time. A BaseException, so strategy code
    that catches ``Exception`` cannot swallow it and keep the batch waiting."""


def job_timeout_s(environ: dict[str, str] | None = None) -> float | None:
    """The per-job limit the supervisor passes to batch processes (None: no limit)."""
    raw = (os.environ if environ is None else environ).get(JOB_TIMEOUT_ENV, "")
    try:
        value = float(raw)
    except ValueError:
        return None
    return value if math.isfinite(value) and value > 0 else None


def call_with_timeout(fn: Callable[[], dict], timeout_s: float | None) -> dict:
    """Run ``fn`` under a SIGALRM deadline; an overrun becomes a one-job error, not a hung batch.

    Only the main thread receives signals, and only POSIX has ``setitimer``; elsewhere the job
    runs unbounded and the supervisor's whole-batch limit still applies.
    """
    usable = hasattr(signal, "setitimer") and threading.current_thread() is threading.main_thread()
    if timeout_s is None or not usable:
        return fn()
    armed = [True]

    def on_alarm(_signum: int, _frame: Any) -> None:
        if armed[0]:  # a late alarm after the job returned is ignored
            armed[0] = False
            raise JobTimeout

    previous = signal.signal(signal.SIGALRM, on_alarm)
    try:
        try:
            signal.setitimer(signal.ITIMER_REAL, timeout_s)
            return fn()
        finally:
            armed[0] = False
            signal.setitimer(signal.ITIMER_REAL, 0)
    except JobTimeout:
        return {"error": f"timed out after {timeout_s:g}s"}
    finally:
        signal.signal(signal.SIGALRM, previous)


def _run_batch(own: WorkerSpec, route: Route | None, *, probe: bool) -> int:
    try:
        jobs = _read_stdin_json()
        if not isinstance(jobs, list):
            raise ValueError("--batch expects a JSON array of jobs on stdin")
    except (ValueError, json.JSONDecodeError) as exc:
        _emit({"error": f"bad batch input: {error_message(exc)}"})
        return 1

    limit = job_timeout_s()
    out = sys.stdout
    out.write("[")
    out.flush()
    for i, job in enumerate(jobs):
        spec = _job_worker(own, route, job)
        if isinstance(spec, dict):
            run_one: Callable[[], dict] = functools.partial(dict, spec)
        elif probe:
            run_one = functools.partial(
                _probe_job, spec.parser, spec.validate, spec.prepare, i, job
            )
        else:
            run_one = functools.partial(_run_job, spec.parser, spec.handle, spec.validate, i, job)
        with contextlib.redirect_stdout(sys.stderr):  # a stray print must not break the array
            result = call_with_timeout(run_one, limit)
        out.write((", " if i else "") + _dumps_result(result))
        out.flush()
    out.write("]\n")
    out.flush()
    return 0


def _job_worker(own: WorkerSpec, route: Route | None, job: Any) -> WorkerSpec | dict:
    """The worker a batch job names with ``script`` (default: this script's own)."""
    script = job.get("script") if isinstance(job, dict) else None
    if script is None:
        return own
    try:
        spec = route(str(script)) if route is not None else None
    except Exception as exc:  # an unimportable sibling costs its jobs only
        return {"error": f"script {str(script)[:80]!r} cannot run here: {error_message(exc)}"}
    if spec is None:
        return {"error": f"script {str(script)[:80]!r} cannot join this batch"}
    return spec


def _dumps_result(result: Any) -> str:
    try:
        return dumps(result)
    except (TypeError, ValueError) as exc:  # a handler bug must not break the whole array
        return dumps({"error": f"result is not JSON: {error_message(exc)}"})


def _job_argv(parser: ContractParser, index: int, job: Any) -> argparse.Namespace | dict:
    """Parse one batch job's args; an error dict when the job itself is malformed."""
    if not isinstance(job, dict) or not isinstance(job.get("args"), list):
        return {"error": f"job {index}: expected an object with an 'args' list"}
    ns = parser.parse_args([str(a) for a in job["args"]])
    if ns.batch or ns.probe_only:
        raise UsageError("--batch/--probe-only are not allowed inside a batch job")
    return ns


def _run_job(
    parser: ContractParser,
    handle: Handler,
    validate: Check | None,
    index: int,
    job: Any,
) -> dict:
    try:
        ns = _job_argv(parser, index, job)
        if isinstance(ns, dict):
            return ns
        if validate is not None:
            validate(ns)
    except (_ArgvRejected, UsageError) as exc:
        return {"error": f"bad args {[str(a) for a in job['args']]}: {exc}"}
    try:
        result = handle(ns, job.get("stdin"))
    except Exception as exc:
        return {"error": error_message(exc)}
    return result


def _probe_job(
    parser: ContractParser,
    validate: Check | None,
    prepare: Check | None,
    index: int,
    job: Any,
) -> dict:
    """What ``--probe-only`` checks for one argv, as a result object instead of an exit code."""
    try:
        ns = _job_argv(parser, index, job)
        if isinstance(ns, dict):
            return ns
        if validate is not None:
            validate(ns)
        if prepare is not None:
            prepare(ns)
    except Exception as exc:  # usage, unknown names, a missing module: all one-line causes
        return {"error": error_message(exc)}
    return {"ok": True}
