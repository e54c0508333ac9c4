"""The crash soak of live orders on OKX, TopStep and Robinhood: kill -9 the supervisor at
random points of live cycles that trade all three, restart it, and check that every venue
holds what the book holds and that no client order id was ever placed twice. Used by
tests/test_live_crash_venues.py (a few points) and bench/live_venue_crash_soak.py (--count).

``local=False`` runs against the stand-in workers (tests/fakes/venue_standin.py); ``local=True``
against the venues' own local venues (platforms/<venue>/localvenue, as processes) and their real
workers: then a venue's orders are counted by its ``/control`` state.
"""

from __future__ import annotations

import random
import signal
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from venue_local import LocalRig, LocalVenues
from venue_rig import OKX_SWAP, ROBINHOOD, T0, TOPSTEP, VenueRig, app_extra, strategy

SPECS = [OKX_SWAP, TOPSTEP, ROBINHOOD]
T_LOCAL = 1_796_688_000  # 2026-12-08T00:00Z: CME Globex open for the next 21 hours


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


def check(rig: VenueRig, base: dict[str, int]) -> list[str]:
    """What disagrees between the book and each venue ([] when they agree): sizes, and every
    order the venue received booked exactly once (as a filled intent)."""
    out = []
    book = rig.book()
    for sid, venue, coin, stype in SPECS:
        b, v = rig.book_size(sid, coin), rig.venue_size(venue, coin, spot=stype == "spot")
        if abs(b - v) > 1e-9 * max(1.0, abs(v)):
            out.append(f"{venue} {coin}: book {b} vs venue {v}")
        filled = sum(
            1 for i in book["intents"] if i[2] == "filled" and rig.intent_owner(i[0]) == sid
        )
        orders = _orders(rig, venue) - base.get(venue, 0)
        # the stand-ins keep only orders that filled; a local venue also counts the ones it
        # rejected (those are failed intents): there, sizes equal is the proof
        if orders != filled and not (isinstance(rig, LocalRig) and orders >= filled):
            out.append(f"{venue}: {orders} orders on the venue, {filled} booked")
    return out


def _orders(rig: VenueRig, venue: str) -> int:
    if isinstance(rig, LocalRig):
        return rig.orders(venue)
    return len(rig.venue(venue)["orders"])


def soak(
    points: int,
    seed: int = 1,
    tmp: Path | None = None,
    max_delay_s: float = 6.0,
    local: bool = False,
) -> SoakReport:
    rng = random.Random(seed)
    tmp = tmp or Path(tempfile.mkdtemp(prefix="go-trader-venue-soak-"))
    venues = LocalVenues(seed=seed) if local else None
    strategies = [strategy(*spec) for spec in SPECS]
    rig = LocalRig(tmp, strategies, venues) if venues else VenueRig(tmp, strategies)
    base = {v: _orders(rig, v) for _s, v, _c, _t in SPECS}
    report = SoakReport()
    started = time.monotonic()
    t = T_LOCAL if local else T0
    rig.at(t)
    try:
        for n in range(points):
            t += 300
            rig.at(t)
            wishes = {spec[0]: rng.choice((1, 1, -1, -1, 0)) for spec in SPECS}
            for sid, _v, coin, _s in SPECS:
                rig.signal(sid, coin, wishes[sid])
            if rng.random() < 0.3:  # now and then the venue loses an answer
                lossy = rng.choice(SPECS)[1]
                if venues is not None:
                    venues.fault(lossy, "drop")
                else:
                    rig.faults(lossy, drop=1)
            proc = rig.popen()
            time.sleep(rng.uniform(0.0, max_delay_s))
            if proc.poll() is None:
                report.killed_mid_cycle += 1
            proc.send_signal(signal.SIGKILL)
            proc.wait()
            for _ in range(2):  # restart: resolve what the kill left, then settle
                t += 1 if local else 300  # local: CME hours; a killed cycle re-runs as due
                rig.at(t)
                done = rig.cycle()
                if done.returncode != 0:
                    report.mismatches.append(f"point {n}: restart failed: {done.stderr[-300:]}")
            report.mismatches += [f"point {n}: {p}" for p in check(rig, base)]
            report.points += 1
    finally:
        for _sid, venue, _c, _s in SPECS:
            report.orders[venue] = _orders(rig, venue) - base[venue]
            if venues is None:
                report.duplicates += len(rig.venue(venue).get("duplicates") or [])
        if rig.db.exists():
            report.latches = len(app_extra(rig.db).get("cash_reconcile_required") or {})
        report.seconds = time.monotonic() - started
        if venues is not None:
            venues.stop()
    return report
