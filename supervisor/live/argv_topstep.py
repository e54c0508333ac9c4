"""The argv of TopStep's live workers (upstream's flags plus ``--client-order-id``).

Sizes are whole contracts, the book's unit for futures: the book sized them as upstream,
floor(budget / margin per contract) capped by ``futures.max_contracts``, fewer than one
refused (shared_tools/book/futures.py), so the desk only passes the integer on.
"""

from __future__ import annotations

from shared_tools.config.model import StrategyConfig
from supervisor.state.models import Intent

SCRIPT = "shared_scripts/check_topstep.py"
CLOSE_SCRIPT = "shared_scripts/close_topstep_position.py"
POSITIONS_SCRIPT = "shared_scripts/fetch_topstep_positions.py"
LIVE = "--mode=live"


def contracts(size: float) -> int:
    """Whole contracts (the book never holds a fraction; a float's last bit is not one)."""
    return int(round(size))


def execute_argv(i: Intent, sc: StrategyConfig) -> list[str]:
    return [
        "--execute",
        f"--symbol={i.symbol}",
        f"--side={i.side}",
        f"--contracts={contracts(i.size)}",
        LIVE,
        f"--client-order-id={i.cloid}",
    ]


def order_status_argv(i: Intent, sc: StrategyConfig) -> list[str]:
    return ["--order-status", f"--client-order-id={i.cloid}", f"--symbol={i.symbol}", LIVE]


def close_argv(i: Intent, sc: StrategyConfig) -> list[str]:
    """The symbol's whole position for its sole owner, else ``--sz`` contracts (its share)."""
    argv = [f"--symbol={i.symbol}", LIVE]
    if not i.extra.get("full_close"):
        argv.append(f"--sz={contracts(i.size)}")
    return [*argv, f"--client-order-id={i.cloid}"]
