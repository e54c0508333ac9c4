"""TopStep CME futures signal check (paper/signal mode): ES, NQ, MES, MNQ, CL, GC.

    check_topstep.py <strategy> <root> <timeframe> [--mode=paper] [--params JSON]
        [--strategy-refs JSON] [--position-side ...] [--regime-enabled ...] [--htf-filter]
        [--atr-method=simple|wilder]

Adds ``contract_spec`` {tick_size, tick_value, multiplier, margin} (the venue's contracts:
``platforms.topstep``)
and ``market_open`` to the upstream-contract §1.2 keys. Outside CME Globex hours (Sunday 17:00
to Friday 16:00 Chicago, daily halt 16:00-17:00 Monday-Thursday) it holds: ``signal`` 0,
``market_open`` false, no ``error``, exit 0, and no candles are read, since the last bar would
be stale. TopStep publishes no market data, so the check reads the simulated market or replay
files, or real CME candles from Yahoo Finance with the exchange source
(:mod:`platforms.topstep.market_data`). ``--mark-price`` is ignored.

Live modes (``--execute``, ``--order-status``, ``--mode=live``): :mod:`shared_scripts.topstep_live`.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from platforms.cme import cme_globex_open  # noqa: E402
from platforms.topstep.venue import ROOTS, TopStepVenue  # noqa: E402
from shared_scripts import signal_check, topstep_live  # noqa: E402


def _root(ns) -> str:
    return str(ns.symbol).strip().upper()


def check_root(ns) -> None:
    if _root(ns) not in ROOTS:
        known = ", ".join(ROOTS)
        raise ValueError(f"unknown CME root {ns.symbol!r} for topstep (known: {known})")


def spec_keys(ns) -> dict:
    return {"contract_spec": TopStepVenue.contract(_root(ns)).as_json()}


VENUE = signal_check.Venue(
    script="check_topstep.py",
    description="TopStep CME futures signal check (paper)",
    name="topstep",
    product="futures",
    paper_only=False,  # live orders: shared_scripts/topstep_live (the signal check reads only)
    check_symbol=check_root,
    extra=spec_keys,
    is_open=cme_globex_open,
)


def main(argv: list[str] | None = None) -> int:
    """The live modes (``--execute``, ``--order-status``: :mod:`shared_scripts.topstep_live`),
    else the signal check."""
    args = list(sys.argv[1:] if argv is None else argv)
    if topstep_live.wants_live_mode(args) and "--batch" not in args:
        return topstep_live.main(args)
    return signal_check.main(VENUE, argv=args)


if __name__ == "__main__":
    sys.exit(main())
