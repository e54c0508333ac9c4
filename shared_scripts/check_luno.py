"""Luno spot signal check (paper/signal mode), e.g. ``momentum XBT/ZAR 1h``.

    check_luno.py <strategy> <symbol> <timeframe> [--mode=paper] [--params JSON]
        [--strategy-refs JSON] [--position-side ...] [--regime-enabled ...] [--htf-filter]
        [--atr-method=simple|wilder]

Candles come from Luno through ccxt in exchange mode (Luno's XBT is ccxt's BTC, both
spellings work). ``platform`` is "luno"; ``--mode=live`` is refused, ``--mark-price`` ignored.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from shared_scripts import signal_check  # noqa: E402

VENUE = signal_check.Venue(
    script="check_luno.py",
    description="Luno spot signal check (paper)",
    name="luno",
    product="spot",
    paper_only=True,
)

if __name__ == "__main__":
    sys.exit(signal_check.main(VENUE))
