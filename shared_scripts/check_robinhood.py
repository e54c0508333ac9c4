"""Robinhood crypto spot signal check (paper/signal mode).

    check_robinhood.py <strategy> <symbol> <timeframe> [--mode=paper] [--params JSON]
        [--strategy-refs JSON] [--position-side ...] [--regime-enabled ...] [--htf-filter]
        [--atr-method=simple|wilder]

Robinhood publishes no market data without an account, so the check reads the simulated
market or replay files (``market_data``); in exchange mode it fails with a one-line cause.
``platform`` is "robinhood"; ``--mode=live`` is refused, ``--mark-price`` ignored.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from shared_scripts import signal_check  # noqa: E402

VENUE = signal_check.Venue(
    script="check_robinhood.py",
    description="Robinhood crypto spot signal check (paper)",
    name="robinhood",
    product="spot",
    paper_only=True,
)

if __name__ == "__main__":
    sys.exit(signal_check.main(VENUE))
