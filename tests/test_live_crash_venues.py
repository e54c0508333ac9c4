"""kill -9 of the supervisor at random points of live cycles on OKX, TopStep and Robinhood:
after a restart every venue holds what the book holds and no client order id was sent twice.
A few points here (stand-in workers, then the venues' local venues); bench/
live_venue_crash_soak.py runs the full count."""

from __future__ import annotations

from pathlib import Path

from venue_soak import soak


def test_kill_minus_nine_across_three_venues_never_doubles_an_order(tmp_path: Path) -> None:
    report = soak(points=5, seed=7, tmp=tmp_path, max_delay_s=2.0)
    assert report.mismatches == [], report.line()
    assert report.duplicates == 0, report.line()
    assert report.killed_mid_cycle >= 1, report.line()
    assert all(n > 0 for n in report.orders.values()), report.line()


def test_kill_minus_nine_against_the_local_venues_never_doubles_an_order(tmp_path: Path) -> None:
    """The same against the venues' own local venues and their real workers (two points)."""
    report = soak(points=2, seed=3, tmp=tmp_path, max_delay_s=3.0, local=True)
    assert report.mismatches == [], report.line()
