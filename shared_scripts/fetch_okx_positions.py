"""The OKX account's swap positions (kill switch, reconcile); read-only.

    fetch_okx_positions.py

Output: ``{"positions": [{"coin", "size" (signed, coins), "entry_price", "side",
"unrealized_pnl", "inst_id", "contracts"}], "platform", "timestamp"}``. ``size`` is in coins
(converted from contracts through ``contractSize``); a failed read is exit 1 with ``error`` and
no ``positions`` (never an empty list: that would read as flat, failure story #346).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from shared_tools.worker import ContractParser, run_worker  # noqa: E402


def handle(ns: argparse.Namespace, _stdin: object = None) -> dict:
    from shared_scripts.okx_live import common

    try:
        positions = common.adapter().positions()
    except Exception as exc:
        return common.base_doc(error=common.failure(exc))
    return common.base_doc(positions=positions)


def main(argv: list[str] | None = None) -> int:
    from shared_scripts.okx_live import common

    parser = ContractParser(prog="fetch_okx_positions.py", description=__doc__.splitlines()[0])
    return run_worker(parser, handle, prepare=common.prepare, argv=argv)


if __name__ == "__main__":
    sys.exit(main())
