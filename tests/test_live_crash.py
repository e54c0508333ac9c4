"""kill -9 of the supervisor at random points of live cycles: after a restart the book and the
venue agree and no client order id filled twice. A few points here; bench/live_crash_soak.py
runs hundreds."""

from __future__ import annotations

from pathlib import Path

from live_soak import soak


def test_kill_minus_nine_at_random_points_never_doubles_an_order(tmp_path: Path) -> None:
    report = soak(points=6, seed=11, tmp=tmp_path)
    assert report.mismatches == [], report.line()
    assert report.max_fills_per_cloid == 1, report.line()
    assert report.killed_mid_cycle >= 1, report.line()
