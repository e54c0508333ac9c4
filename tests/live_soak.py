"""The crash soak of live orders: kill -9 the supervisor at random points of live cycles,
restart it, and check that the book and the venue agree and that no client order id ever
filled twice. Used by tests/test_live_crash.py (a few points) and bench/live_crash_soak.py
(hundreds).
"""

from __future__ import annotations

import random
import signal
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from live_rig import T0, Rig, strategy

COIN = "ETH"


@dataclass
class SoakReport:
    points: int = 0
    killed_mid_cycle: int = 0  # the process was still running when it was killed
    orders: int = 0  # orders the venue received
    fills: int = 0
    max_fills_per_cloid: int = 0
    mismatches: list[str] = field(default_factory=list)
    seconds: float = 0.0

    def line(self) -> str:
        return (
            f"{self.points} kill -9 points ({self.killed_mid_cycle} mid-cycle), "
            f"{self.orders} orders, {self.fills} fills, max fills per cloid "
            f"{self.max_fills_per_cloid}, {len(self.mismatches)} mismatches, "
            f"{self.seconds:.0f}s"
        )


def check(rig: Rig) -> list[str]:
    """What disagrees between the book and the venue ([] when they agree)."""
    out = []
    book, venue = rig.book_size(COIN), rig.venue_size(COIN)
    if abs(book - venue) > 1e-9:
        out.append(f"size: book {book} vs venue {venue}")
    cash, vcash = rig.book()["cash"]["hl-live"], rig.venue_cash()
    if abs(cash - vcash) > 0.01:
        out.append(f"cash: book {cash:.6f} vs venue {vcash:.6f}")
    return out


def fills_per_cloid(rig: Rig) -> Counter:
    cloids = {o.oid: o.cloid for o in rig.server.venue.orders.values()}
    return Counter(cloids.get(f["oid"]) for f in rig.account().fills if cloids.get(f["oid"]))


def soak(
    points: int, seed: int = 1, tmp: Path | None = None, max_delay_s: float = 4.0
) -> SoakReport:
    rng = random.Random(seed)
    tmp = tmp or Path(tempfile.mkdtemp(prefix="go-trader-soak-"))
    rig = Rig(tmp, [strategy()])
    report = SoakReport()
    started = time.monotonic()
    t = T0 + 3600
    try:
        for n in range(points):
            t += 300
            rig.at(t)
            wanted = rng.choice((1, 1, -1, 0))
            rig.signal("hl-live", COIN, wanted)
            proc = rig.popen()
            time.sleep(rng.uniform(0.0, max_delay_s))
            if proc.poll() is None:
                report.killed_mid_cycle += 1
            proc.send_signal(signal.SIGKILL)
            proc.wait()
            for _ in range(2):  # restart: resolve what the kill left, then settle
                t += 60
                rig.at(t)
                rig.signal("hl-live", COIN, wanted)  # the same wish, after the restart
                done = rig.cycle()
                if done.returncode != 0:
                    report.mismatches.append(f"point {n}: restart failed: {done.stderr[-300:]}")
            problems = check(rig)
            report.mismatches += [f"point {n}: {p}" for p in problems]
            report.points += 1
    finally:
        counts = fills_per_cloid(rig)
        report.max_fills_per_cloid = max(counts.values() or [0])
        report.orders = len(rig.server.venue.orders)
        report.fills = len(rig.account().fills)
        report.seconds = time.monotonic() - started
        rig.close()
    return report
