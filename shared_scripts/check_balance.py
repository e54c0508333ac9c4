"""The live account balance of OKX, TopStep or Robinhood (the supervisor's balance read).

    check_balance.py --platform=okx|topstep|robinhood

Output: ``{"balance": F, "platform", "timestamp"}``; a failure is exit 1 with
``{"balance": 0, "error"}`` (upstream-contract §1.10). OKX: the USDT equity (cash + swap PnL),
as ``fetch_okx_balance.py``. Robinhood: ``platforms.robinhood.execution.account_balance()``,
imported only when asked (a tree without the Robinhood adapter says so in ``error``).
TopStep (ours: upstream's script knows OKX and Robinhood only, so upstream's capital_pct never
resolves on TopStep): the account's balance, as ``fetch_topstep_balance.py``. The supervisor
reads it once per platform per cycle for ``capital_pct`` (supervisor/risk/capital_pct.py).
"""

from __future__ import annotations

import argparse
import importlib
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from shared_tools.worker import ContractParser, run_worker  # noqa: E402

ROBINHOOD = "platforms.robinhood.execution"


def _robinhood() -> float:
    try:
        module = importlib.import_module(ROBINHOOD)
    except ImportError:
        raise RuntimeError(
            f"Robinhood live execution is not in this tree ({ROBINHOOD} is missing)"
        ) from None
    fn = getattr(module, "account_balance", None)
    if fn is None:
        raise RuntimeError(f"{ROBINHOOD} has no account_balance(): not wired to check_balance.py")
    return float(fn())


def handle(ns: argparse.Namespace, _stdin: object = None) -> dict:
    from shared_scripts.okx_live import common

    doc = {"platform": ns.platform, "timestamp": common.stamp()}
    try:
        if ns.platform == "okx":
            balance = float(common.adapter().balance()["balance"])
        elif ns.platform == "topstep":
            from platforms.topstep.execution import TopStepExecution

            balance = float(TopStepExecution().balance())
        else:
            balance = _robinhood()
    except Exception as exc:
        return {**doc, "balance": 0, "error": common.failure(exc)}
    return {**doc, "balance": balance}


def prepare(ns: argparse.Namespace) -> None:
    if ns.platform == "okx":
        from shared_scripts.okx_live import common

        common.prepare(ns)


def main(argv: list[str] | None = None) -> int:
    parser = ContractParser(prog="check_balance.py", description=__doc__.splitlines()[0])
    parser.add_argument("--platform", choices=("okx", "topstep", "robinhood"), required=True)
    return run_worker(parser, handle, prepare=prepare, argv=argv)


if __name__ == "__main__":
    sys.exit(main())
