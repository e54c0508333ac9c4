"""Test double that answers whatever a test wrote for it, to feed the supervisor hostile results.

    fake_answer.py <name> <symbol> <timeframe>

Prints the text of ``$GO_TRADER_FAKE_STATE_DIR/answer-<name>.json`` verbatim (so it may hold
``NaN``, ``1e308`` or a wrong symbol), or a hold at price 100 when that file is missing.
``--probe-only`` sleeps ``$GO_TRADER_FAKE_PROBE_SLEEP`` seconds first (a slow start-up probe);
``--batch`` answers every job the same way.
"""

import json
import os
import sys
import time
from pathlib import Path


def state_dir() -> Path:
    return Path(
        os.environ.get("GO_TRADER_FAKE_STATE_DIR") or os.environ.get("FAKE_STATE_DIR", "/tmp")
    )


def answer(args: list[str]) -> str:
    pos = [a for a in args if not a.startswith("--")]
    name, symbol, timeframe = (pos + ["x", "X/USDT", "1h"])[:3]
    path = state_dir() / f"answer-{name}.json"
    if path.exists():
        return path.read_text().strip()
    doc = {"symbol": symbol, "timeframe": timeframe, "signal": 0, "price": 100.0}
    return json.dumps(doc)


def main() -> int:
    argv = sys.argv[1:]
    if "--probe-only" in argv:
        time.sleep(float(os.environ.get("GO_TRADER_FAKE_PROBE_SLEEP", "0")))
        if "--batch" in argv:
            jobs = json.loads(sys.stdin.read())
            print(json.dumps([{"ok": True} for _ in jobs]))
        return 0
    if "--batch" in argv:
        jobs = json.loads(sys.stdin.read())
        print("[" + ", ".join(answer(job["args"]) for job in jobs) + "]")
        return 0
    print(answer(argv))
    return 0


if __name__ == "__main__":
    sys.exit(main())
