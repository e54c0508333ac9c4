"""What a worker's output means under the worker contract.

The contract is docs/architecture.md, "The worker contract".

Turns the raw facts of a finished process (:class:`~supervisor.run.process.ProcessOutcome`) into
a :class:`~supervisor.run.jobs.Result` with a one-line error: exit codes, a JSON document or a
``{"error": ...}`` soft error on stdout, and the streamed JSON array of a ``--batch`` run
(also when the batch was killed half-way).
"""

from __future__ import annotations

import json
import signal
from typing import Any

from shared_tools.text import one_line
from supervisor.run.jobs import Job, Result
from supervisor.run.process import ProcessOutcome

__all__ = [
    "batch_argv_rejected",
    "batch_failure",
    "batch_item",
    "decode_stream",
    "describe_exit",
    "interpret_single",
    "last_stderr_line",
]


def last_stderr_line(stderr_tail: str) -> str:
    """The last non-blank stderr line: usually the exception or the usage error."""
    for line in reversed(stderr_tail.splitlines()):
        if line.strip():
            return one_line(line)
    return "(no stderr)"


def describe_exit(code: int) -> str:
    """``exit N`` or ``killed by SIGKILL`` for a Popen return code."""
    if code < 0:
        try:
            name = signal.Signals(-code).name
        except ValueError:
            name = f"signal {-code}"
        return f"killed by {name}"
    return f"exit {code}"


_UNPARSED = object()


def _decode(stdout: bytes) -> Any:
    text = stdout.decode("utf-8", "replace").strip()
    if not text:
        return _UNPARSED
    try:
        return json.loads(text)
    except ValueError:
        return _UNPARSED


def _skip_ws(text: str, i: int) -> int:
    while i < len(text) and text[i] in " \t\r\n":
        i += 1
    return i


def decode_stream(stdout: bytes) -> tuple[list[Any], bool]:
    """The items of a streamed JSON array, also when the writer was killed half-way.

    Returns ``(items, complete)``: ``complete`` only for a whole array with nothing after
    it. Output that does not start with ``[`` gives ``([], False)``.
    """
    text = stdout.decode("utf-8", "replace")
    i = _skip_ws(text, 0)
    if not text.startswith("[", i):
        return [], False
    decoder = json.JSONDecoder()
    items: list[Any] = []
    i = _skip_ws(text, i + 1)
    if text.startswith("]", i):
        return items, not text[i + 1 :].strip()
    while True:
        try:
            item, i = decoder.raw_decode(text, i)
        except ValueError:
            return items, False
        items.append(item)
        i = _skip_ws(text, i)
        if text.startswith(",", i):
            i = _skip_ws(text, i + 1)
        elif text.startswith("]", i):
            return items, not text[i + 1 :].strip()
        else:
            return items, False


def _unparsable(stdout: bytes) -> str:
    text = stdout.decode("utf-8", "replace").strip()
    return "unparsable output: " + (one_line(text[:120], 200) if text else "<empty>")


def _soft_error(doc: Any) -> str | None:
    if isinstance(doc, dict):
        err = doc.get("error")
        if err:
            return one_line(err if isinstance(err, str) else json.dumps(err, default=str))
    return None


def _failure_reason(out: ProcessOutcome, timeout_reason: str, max_output_bytes: int) -> str | None:
    """Reason for runs that produced no usable stdout at all (independent of content)."""
    if out.spawn_error:
        return out.spawn_error
    if out.kill_reason and out.exit_code == -signal.SIGKILL:
        return out.kill_reason
    if out.timed_out:
        return timeout_reason
    if out.overflow:
        return f"output exceeded {max_output_bytes} bytes"
    return None


def interpret_single(
    key: str, out: ProcessOutcome, timeout_reason: str, max_output_bytes: int
) -> Result:
    """Apply the worker contract's exit-code/stdout rules to one single run."""
    reason = _failure_reason(out, timeout_reason, max_output_bytes)
    data: Any = None
    if reason is None:
        doc = _decode(out.stdout)
        if doc is not _UNPARSED and isinstance(doc, dict | list):
            data = doc
        reason = _soft_error(doc)
        if reason is None and out.exit_code != 0:
            reason = f"{describe_exit(out.exit_code or 0)}: {last_stderr_line(out.stderr_tail)}"
        if reason is None and doc is _UNPARSED:
            reason = _unparsable(out.stdout)
        if reason is None and data is None:
            reason = f"unexpected JSON type {type(doc).__name__}: {one_line(repr(doc)[:120])}"
    return Result(
        key=key,
        data=data,
        error=reason,
        exit_code=out.exit_code,
        stderr_tail=out.stderr_tail,
        duration_s=out.duration_s,
    )


def batch_item(job: Job, item: Any, out: ProcessOutcome) -> Result:
    """One streamed answer of a ``--batch`` run as its job's result."""
    data = item if isinstance(item, dict | list) else None
    error = _soft_error(item)
    if error is None and data is None:
        error = f"invalid batch item: {one_line(repr(item)[:120])}"
    return Result(job.key, data, error, out.exit_code, out.stderr_tail, out.duration_s, True)


def batch_failure(out: ProcessOutcome, items: list, complete: bool, n: int, cap: int) -> str:
    """Why a batch that was neither complete nor timed out failed as a whole."""
    reason = _failure_reason(out, "", cap)
    if reason:
        return reason
    if complete:
        return f"batch returned {len(items)} results for {n} jobs"
    if out.exit_code != 0:
        return f"{describe_exit(out.exit_code or 0)}: {last_stderr_line(out.stderr_tail)}"
    if items or out.stdout.lstrip().startswith(b"["):
        return f"batch output ended after {len(items)} of {n} results"
    doc = _decode(out.stdout)
    if doc is _UNPARSED:
        return _unparsable(out.stdout)
    return _soft_error(doc) or f"batch output is {type(doc).__name__}, not a list"


def batch_argv_rejected(out: ProcessOutcome, items: list) -> bool:
    """A ``--batch`` run that exited 2 without JSON: the script rejected the argv, i.e. it
    has no batch support."""
    no_json = not items and _decode(out.stdout) is _UNPARSED
    return out.exit_code == 2 and no_json
