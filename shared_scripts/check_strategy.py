"""Spot signal check: one strategy on one symbol (or a pair) at one timeframe -> one JSON document.

    check_strategy.py <strategy> <symbol> <timeframe> [symbol_b] [--params JSON] [--atr-method=simple|wilder]
        [--strategy-refs JSON] [--position-side long|short --position-avg-cost F ...]
        [--regime-enabled [--regime-windows-spec-json J] [--regime-atr-window W]
         [--regime-payload-json RAW]] [--htf-filter] [--platform VENUE]

With ``--strategy-refs`` closes or a ``--position-side`` the check composes open and close
decisions (shared_strategies/composition.py) and adds ``open_strategy``, ``close_strategies``,
``open_action``, ``close_fraction`` and ``close_strategy``; ``signal`` is then the composed one.

The argv is declared once in shared_tools/check_argv.py; the supervisor parses a strategy's
config ``args`` with the same spec, so both agree on the symbol, the params and the venue.
``--help`` lists the strategies and timeframes this tree accepts. The check itself is
shared_scripts/signal_check.py, which the venue scripts (check_hyperliquid.py, ...) share.

The decision is made on the last CLOSED bar, so a restart or a second process asking at the
same clock gets the same answer. See shared_tools/worker.py for the exit-code/batch contract.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from shared_scripts import signal_check  # noqa: E402
from shared_tools.worker import ContractParser  # noqa: E402

MIN_CANDLES = signal_check.MIN_CANDLES
PLATFORM = "binanceus"
VENUE = signal_check.Venue(script="check_strategy.py", description="Spot strategy signal check")


def build_parser() -> ContractParser:
    """The worker's argv, built from the spec the supervisor parses config args with."""
    return signal_check.build_parser(VENUE)


def validate(ns) -> None:
    signal_check.validate(VENUE, ns)


def handle(ns, stdin=None) -> dict:
    return signal_check.handle(VENUE, ns, stdin)


def prepare(ns) -> None:
    """Import what a real check needs and check its names offline (used by --probe-only)."""
    signal_check.prepare(VENUE, ns)


if __name__ == "__main__":
    sys.exit(signal_check.main(VENUE))
