"""kill -9 soak of live OKX, TopStep and Robinhood orders (stand-in venue workers, offline).

    .venv/bin/python bench/live_venue_crash_soak.py [--count 120] [--seed 1] [--max-delay 6]
        [--local]

Each point: a supervisor cycle trading the three venues with random wishes (open, close,
hold; now and then an answer lost after acceptance) is killed with SIGKILL after a random
delay, then restarted twice; every venue must hold what the book holds, every venue order
must be booked, and no client order id may be sent twice. Prints one line of figures; exit 1
when anything disagreed. ``--local`` runs the venues' own local venues (processes) and their
real workers instead of the stand-in workers.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from venue_soak import soak  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--count", type=int, default=120)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--max-delay", type=float, default=6.0)
    ap.add_argument("--local", action="store_true", help="the venues' local venues, real workers")
    ns = ap.parse_args()
    report = soak(ns.count, seed=ns.seed, max_delay_s=ns.max_delay, local=ns.local)
    print(report.line())
    for line in report.mismatches[:20]:
        print("  " + line)
    return 0 if not report.mismatches and report.duplicates == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
