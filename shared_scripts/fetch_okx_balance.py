"""The OKX account's USDT equity and unrealized PnL (shared wallet); read-only.

    fetch_okx_balance.py

Output: ``{"balance": <USDT equity: cash + swap PnL>, "unrealized_pnl", "cash", "coins":
{ccy: qty} (spot holdings), "total_equity_usd", "platform", "timestamp"}``; a failed read is
exit 1 with ``error`` and no ``balance``.
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
        balance = common.adapter().balance()
    except Exception as exc:
        return common.base_doc(error=common.failure(exc))
    return common.base_doc(**balance)


def main(argv: list[str] | None = None) -> int:
    from shared_scripts.okx_live import common

    parser = ContractParser(prog="fetch_okx_balance.py", description=__doc__.splitlines()[0])
    return run_worker(parser, handle, prepare=common.prepare, argv=argv)


if __name__ == "__main__":
    sys.exit(main())
