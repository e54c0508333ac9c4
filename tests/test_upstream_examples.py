"""Upstream's operator-guide examples load here as a new user would load them (issue 20).

`scripts/check-upstream-examples.sh` loads every file of examples/upstream-guide/ with
`go-trader check-config`; no line of its log may say a key was "ignored": a key that changes
trading is either built or refused, never accepted and then skipped.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def _runs() -> dict[str, tuple[int, list[str]]]:
    out = subprocess.run(
        ["bash", "scripts/check-upstream-examples.sh"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    ).stdout
    runs: dict[str, tuple[int, list[str]]] = {}
    for block in out.split("== ")[1:]:
        head, *lines = block.strip().splitlines()
        code = int(re.fullmatch(r"exit (\d+)", lines.pop()).group(1))  # type: ignore[union-attr]
        runs[Path(head).name] = (code, lines)
    return runs


def test_upstream_guide_examples_load_and_nothing_is_ignored():
    runs = _runs()
    assert set(runs) >= {
        "common-entries.json",
        "manual.json",
        "options.json",
        "regime-policies.json",
    }
    log = [line for _code, lines in runs.values() for line in lines]
    assert sum("ignored" in line for line in log) == 0, log
    # Options (issue 21) load as upstream wrote them, theta_harvest included.
    for name in ("common-entries.json", "manual.json", "options.json", "regime-policies.json"):
        code, lines = runs[name]
        assert code == 0, (name, lines)
        assert lines[-1].startswith("check-config: OK"), (name, lines)
