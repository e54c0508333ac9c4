"""The OKX account's bills since a time (the cash-flow journal); read-only.

    fetch_okx_bills.py --since-ms=N

Output: ``{"bills": [{"bill_id", "ts_ms", "ccy", "type", "sub_type", "bal_chg", "pnl", "fee",
"inst_id", "trade_id"}], "capped": bool, "platform", "timestamp"}``, newest first; ``capped``
when more than 10 pages of 100 were there (ask again from the oldest ``ts_ms``). A failed read
is exit 1 with ``error``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from shared_tools.worker import ContractParser, run_worker  # noqa: E402


def handle(ns: argparse.Namespace, _stdin: object = None) -> dict:
    from shared_scripts.okx_live import common

    if ns.since_ms < 0:
        return common.base_doc(error="--since-ms must be >= 0 (epoch milliseconds)")
    try:
        bills, capped = common.adapter().bills(ns.since_ms)
    except Exception as exc:
        return common.base_doc(error=common.failure(exc))
    return common.base_doc(bills=bills, capped=capped)


def main(argv: list[str] | None = None) -> int:
    from shared_scripts.okx_live import common

    parser = ContractParser(prog="fetch_okx_bills.py", description=__doc__.splitlines()[0])
    parser.add_argument("--since-ms", type=int, required=True)
    return run_worker(parser, handle, prepare=common.prepare, argv=argv)


if __name__ == "__main__":
    sys.exit(main())
