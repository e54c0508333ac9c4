"""Startup probe: run every configured worker once with ``--probe-only``.

A broken deploy (missing script, missing dependency, argv the script rejects) should
stop the supervisor at startup with a list of every problem, not surface one strategy
at a time as tick errors hours later. Probes touch no network, so they are cheap to run
all at once in parallel.
"""

from __future__ import annotations

import os
import shlex
import sys
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from supervisor.executor import ProcessOutcome, describe_exit, run_process

__all__ = ["ProbeFailure", "probe_scripts"]

PROBE_FLAG = "--probe-only"
_DETAIL_LINES = 5
_PROBE_OUTPUT_CAP = 1 << 20


@dataclass
class ProbeFailure:
    """One script/argv pair that failed its probe.

    ``kind`` (beyond the spec) says how: "missing", "exit", "timeout", "output" or
    "spawn"; ``line()`` words itself after it.
    """

    script: str
    argv: list[str]
    exit_code: int | None
    detail: str
    kind: str = "exit"

    def line(self) -> str:
        """One human-readable line for logs and the startup error."""
        if self.kind == "missing":
            return f"probe failed: {self.script} missing from deploy tree"
        what = {
            "timeout": "timed out",
            "output": "flooded stdout",
            "spawn": "could not be started",
        }.get(self.kind)
        if what is None:
            what = describe_exit(self.exit_code) if self.exit_code is not None else "failed"
            what = what.replace("exit ", "exited ", 1)
        argv = shlex.join(self.argv) if self.argv else "none"
        detail = " | ".join(ln.strip() for ln in self.detail.splitlines() if ln.strip())
        return f"probe failed: {self.script} {what} (argv: {argv}): {detail or 'no output'}"


def _excerpt(text: str, lines: int = _DETAIL_LINES) -> str:
    kept = [ln.rstrip() for ln in text.splitlines() if ln.strip()]
    return "\n".join(kept[-lines:])


def _probe_one(
    repo_root: Path,
    script: str,
    argv: list[str],
    python: str,
    timeout_s: float,
    env: dict[str, str] | None,
) -> ProbeFailure | None:
    path = repo_root / script
    if not path.is_file():
        return ProbeFailure(script, argv, None, f"{path} does not exist", kind="missing")
    out: ProcessOutcome = run_process(
        [python, str(path), *argv, PROBE_FLAG],
        cwd=repo_root,
        env=env,
        stdin=None,
        timeout_s=timeout_s,
        max_output_bytes=_PROBE_OUTPUT_CAP,
    )
    if out.spawn_error:
        return ProbeFailure(script, argv, None, out.spawn_error, kind="spawn")
    stdout = out.stdout.decode("utf-8", "replace")
    detail = _excerpt(out.stderr_tail) or _excerpt(stdout[-4096:])
    if out.timed_out:
        return ProbeFailure(
            script, argv, out.exit_code, detail or f"no answer within {timeout_s:g}s", "timeout"
        )
    if out.overflow:
        return ProbeFailure(
            script, argv, out.exit_code, f"more than {_PROBE_OUTPUT_CAP} bytes on stdout", "output"
        )
    if out.exit_code != 0:
        return ProbeFailure(script, argv, out.exit_code, detail, kind="exit")
    return None


def probe_scripts(
    repo_root: str | Path,
    probes: Sequence[tuple[str, list[str]]],
    *,
    python: str = sys.executable,
    timeout_s: float = 15.0,
    env: dict[str, str] | None = None,
) -> list[ProbeFailure]:
    """Probe each distinct (script, argv) pair in parallel; return every failure in order.

    ``env`` is overlaid on ``os.environ``. Stdout content is deliberately not checked:
    exit status is the whole verdict.
    """
    root = Path(repo_root)
    unique: list[tuple[str, list[str]]] = []
    seen: set[tuple[str, tuple[str, ...]]] = set()
    for script, argv in probes:
        ident = (script, tuple(argv))
        if ident not in seen:
            seen.add(ident)
            unique.append((script, list(argv)))
    if not unique:
        return []
    full_env = {**os.environ, **env} if env else None
    workers = max(1, min(len(unique), os.cpu_count() or 1))
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="probe") as pool:
        outcomes = list(
            pool.map(lambda p: _probe_one(root, p[0], p[1], python, timeout_s, full_env), unique)
        )
    return [f for f in outcomes if f is not None]
