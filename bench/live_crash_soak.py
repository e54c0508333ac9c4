"""kill -9 soak of live Hyperliquid orders against the local venue (no network).

    .venv/bin/python bench/live_crash_soak.py [--points 200] [--seed 1] [--max-delay 4]

Each point: a supervisor cycle with a random wish (open, close, hold) is killed with SIGKILL
after a random delay, then restarted twice with the same wish; the book and the venue must
agree (size to the lot, cash to the cent) and no client order id may have filled twice.
Prints one line of figures; exit 1 when anything disagreed.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from live_soak import soak  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--points", type=int, default=200)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--max-delay", type=float, default=4.0)
    ns = ap.parse_args()
    report = soak(ns.points, seed=ns.seed, max_delay_s=ns.max_delay)
    print(report.line())
    for line in report.mismatches[:20]:
        print("  " + line)
    return 0 if not report.mismatches and report.max_fills_per_cloid <= 1 else 1


if __name__ == "__main__":
    sys.exit(main())
