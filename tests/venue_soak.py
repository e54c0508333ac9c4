"""The crash soak of live orders on OKX, TopStep and Robinhood: kill -9 the supervisor at
random points of live cycles that trade all three, restart it, and check that every venue
holds what the book holds and that no client order id was ever placed twice. Used by
tests/test_live_crash_venues.py (a few points) and bench/live_venue_crash_soak.py (--count).

``local=None`` runs against the stand-in workers (tests/fakes/venue_standin.py).
"""

from __future__ import annotations

import random
import signal
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from venue_rig import OKX_SWAP, ROBINHOOD, T0, TOPSTEP, VenueRig, app_extra, strategy

SPECS = [OKX_SWAP, TOPSTEP, ROBINHOOD]


@dataclass
class SoakReport:
    points: int = 0
    killed_mid_cycle: int = 0
    orders: dict[str, int] = field(default_factory=dict)  # venue -> orders it received
    duplicates: int = 0  # the same client order id sent twice (the venue refused it)
    latches: int = 0  # cash reconcile latches left at the end
    mismatches: list[str] = field(default_factory=list)
    seconds: float = 0.0

    def line(self) -> str:
        orders = ", ".join(f"{v} {n}" for v, n in sorted(self.orders.items()))
        return (
            f"{self.points} kill -9 points ({self.killed_mid_cycle} mid-cycle, {self.latches} "
            "cash latches), orders: "
            f"{orders}; {self.duplicates} duplicate sends, {len(self.mismatches)} mismatches, "
            f"{self.seconds:.0f}s"
        )


def check(rig: VenueRig) -> list[str]:
    """What disagrees between the book and each venue ([] when they agree)."""
    out = []
    book = rig.book()
    filled = {c for c, _leg, status, *_ in book["intents"] if status == "filled"}
    for sid, venue, coin, stype in SPECS:
        b, v = rig.book_size(sid, coin), rig.venue_size(venue, coin, spot=stype == "spot")
        if abs(b - v) > 1e-9 * max(1.0, abs(v)):
            out.append(f"{venue} {coin}: book {b} vs venue {v}")
        unbooked = [c for c in rig.venue(venue)["orders"] if c not in filled]
        if unbooked:
            out.append(f"{venue}: venue orders never booked: {unbooked}")
    return out


def soak(
    points: int, seed: int = 1, tmp: Path | None = None, max_delay_s: float = 6.0
) -> SoakReport:
    rng = random.Random(seed)
    tmp = tmp or Path(tempfile.mkdtemp(prefix="go-trader-venue-soak-"))
    rig = VenueRig(tmp, [strategy(*spec) for spec in SPECS])
    report = SoakReport()
    started = time.monotonic()
    t = T0
    try:
        for n in range(points):
            t += 300
            rig.at(t)
            wishes = {spec[0]: rng.choice((1, 1, -1, -1, 0)) for spec in SPECS}
            for sid, _v, coin, _s in SPECS:
                rig.signal(sid, coin, wishes[sid])
            if rng.random() < 0.3:  # now and then the venue loses an answer
                rig.faults(rng.choice(SPECS)[1], drop=1)
            proc = rig.popen()
            time.sleep(rng.uniform(0.0, max_delay_s))
            if proc.poll() is None:
                report.killed_mid_cycle += 1
            proc.send_signal(signal.SIGKILL)
            proc.wait()
            for _ in range(2):  # restart (due again): resolve what the kill left, then settle
                t += 300
                rig.at(t)
                done = rig.cycle()
                if done.returncode != 0:
                    report.mismatches.append(f"point {n}: restart failed: {done.stderr[-300:]}")
            report.mismatches += [f"point {n}: {p}" for p in check(rig)]
            report.points += 1
    finally:
        for _sid, venue, _c, _s in SPECS:
            doc = rig.venue(venue)
            report.orders[venue] = len(doc["orders"])
            report.duplicates += len(doc.get("duplicates") or [])
        if rig.db.exists():
            report.latches = len(app_extra(rig.db).get("cash_reconcile_required") or {})
        report.seconds = time.monotonic() - started
    return report
