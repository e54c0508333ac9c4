"""The Robinhood crypto holdings, strictly: a failed read is an error, never an empty list.

    fetch_robinhood_positions.py [--symbol=BTC] [--strict]

Output: ``{"positions": [{"coin", "size" (unsigned), "avg_price"}], "platform", "timestamp"}``;
with ``--symbol`` also ``"flat": true|false`` for that coin (the kill switch's flat check).
Upstream's fetcher swallowed errors and returned ``[]``, which read as flat (#346); here every
read is the strict variant (``--strict`` is accepted and changes nothing): any failure is
``{"error"}``, exit 1.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from shared_tools.worker import ContractParser, run_worker  # noqa: E402


def build_parser() -> ContractParser:
    p = ContractParser(prog="fetch_robinhood_positions.py", description=__doc__.splitlines()[0])
    p.add_argument("--symbol")
    p.add_argument("--strict", action="store_true", help="accepted; every read is strict")
    return p


def handle(ns: argparse.Namespace, _stdin: object = None) -> dict:
    from platforms.robinhood.execution import RobinhoodExecution, coin_of
    from shared_scripts.rh_live import stamp

    positions = RobinhoodExecution().positions()  # raises on any failure: exit 1
    doc: dict = {"positions": positions, "platform": "robinhood", "timestamp": stamp()}
    if ns.symbol:
        coin = coin_of(ns.symbol)
        doc["flat"] = not any(p["coin"] == coin and p["size"] > 0 for p in positions)
    return doc


def prepare(ns: argparse.Namespace) -> None:
    import requests  # noqa: F401

    from platforms.robinhood.execution import adapter  # noqa: F401


def main(argv: list[str] | None = None) -> int:
    return run_worker(build_parser(), handle, prepare=prepare, argv=argv)


if __name__ == "__main__":
    sys.exit(main())
