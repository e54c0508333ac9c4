"""scripts/demo-live.sh: the supervisor trading live against the local venue with a throwaway
key, no network; after every cycle the book's cash equals the venue's to the cent."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def test_demo_live_runs_offline_and_the_book_equals_the_venue() -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HYPERLIQUID_")}
    env.pop("GO_TRADER_NOW", None)
    proc = subprocess.run(
        ["bash", "scripts/demo-live.sh"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    rows = [line for line in proc.stdout.splitlines() if " book: " in line]
    assert len(rows) == 8
    assert all(" = venue: " in line for line in rows), proc.stdout
    assert any("open filled" in line for line in rows)
    assert "http://127.0.0.1:" in proc.stdout
