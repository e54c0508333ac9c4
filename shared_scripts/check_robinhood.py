"""Robinhood crypto spot signal check, and the live ``--execute`` / ``--order-status`` modes.

    check_robinhood.py <strategy> <symbol> <timeframe> [--mode=paper] [--params JSON]
        [--strategy-refs JSON] [--position-side ...] [--regime-enabled ...] [--htf-filter]
        [--atr-method=simple|wilder]

Robinhood publishes no market data without an account, so in exchange mode the check reads
public USD candles from Binance US (``platforms/robinhood/market_data.py``); simulated and
replay work as everywhere. ``platform`` is "robinhood"; ``--mark-price`` is ignored. With
``--mode=live`` the signal check is the same read-only evaluation (the supervisor sends orders
through the live modes).

``--execute`` and ``--order-status`` are routed by their flag to ``shared_scripts/rh_live.py``
(see its docstring for argv and JSON); each needs ``--mode=live``.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from shared_scripts import signal_check  # noqa: E402

VENUE = signal_check.Venue(
    script="check_robinhood.py",
    description="Robinhood crypto spot signal check",
    name="robinhood",
    product="spot",
    paper_only=False,  # live orders: shared_scripts/rh_live.py (the signal check is read-only)
)


def main(argv: list[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    from shared_scripts import rh_live

    if rh_live.wants_live_mode(args) and "--batch" not in args:
        return rh_live.main(args)
    return signal_check.main(VENUE, argv=args)


if __name__ == "__main__":
    sys.exit(main())
