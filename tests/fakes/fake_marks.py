"""Test double for check_price.py: the marks a test wrote to ``$GO_TRADER_FAKE_STATE_DIR/marks.json``.

Symbols missing from the file are left out of the answer, like a venue that cannot price them.
With ``--funding`` the file's ``_funding`` map ({symbol: hourly rate}) is passed on too.
"""

import json
import os
import sys
from pathlib import Path

argv = sys.argv[1:]
if "--probe-only" in argv:
    if "--batch" in argv:
        print(json.dumps([{"ok": True} for _ in json.loads(sys.stdin.read())]))
    sys.exit(0)
state = Path(os.environ.get("GO_TRADER_FAKE_STATE_DIR") or os.environ.get("FAKE_STATE_DIR", "/tmp"))
path = state / "marks.json"
marks = json.loads(path.read_text()) if path.exists() else {}


def one(args: list[str]) -> dict:
    out = {s: marks[s] for s in args if not s.startswith("--") and s in marks}
    if "--funding" in args and "_funding" in marks:  # perps venues: hourly funding rates
        out["_funding"] = {s: r for s, r in marks["_funding"].items() if s in out}
    return out


if "--batch" in argv:
    print(json.dumps([one(job["args"]) for job in json.loads(sys.stdin.read())]))
else:
    print(json.dumps(one(argv)))
