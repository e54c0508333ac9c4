"""The argv of Robinhood's live workers (upstream's flags plus ``--client-order-id``).

A buy is by dollar amount (``--amount_usd``, upstream's flag; the book's notional at the
cycle's mark, at least $1), a sell by coin quantity (the position's, or its
``close_fraction`` share). Robinhood crypto has no reduce-only order: a close is a sell of
the held quantity.
"""

from __future__ import annotations

import math

from shared_tools.config.model import StrategyConfig
from supervisor.state.models import Intent

SCRIPT = "shared_scripts/check_robinhood.py"
CLOSE_SCRIPT = "shared_scripts/close_robinhood_position.py"
POSITIONS_SCRIPT = "shared_scripts/fetch_robinhood_positions.py"
LIVE = "--mode=live"
MIN_BUY_USD = 1.0


def amount_usd(i: Intent) -> float:
    """The dollars a buy spends: the book's notional for the order, floored to the cent (a
    rounded-up cent is more than the book's cash, and the venue refuses it), at least $1."""
    return max(MIN_BUY_USD, math.floor(float(i.extra.get("notional") or 0.0) * 100) / 100)


def execute_argv(i: Intent, sc: StrategyConfig) -> list[str]:
    argv = ["--execute", f"--symbol={i.symbol}", f"--side={i.side}"]
    if i.side == "buy":
        argv.append(f"--amount_usd={amount_usd(i)!r}")
    else:
        argv.append(f"--quantity={i.size!r}")
    return [*argv, LIVE, f"--client-order-id={i.cloid}"]


def order_status_argv(i: Intent, sc: StrategyConfig) -> list[str]:
    return ["--order-status", f"--client-order-id={i.cloid}", f"--symbol={i.symbol}", LIVE]


def close_argv(i: Intent, sc: StrategyConfig) -> list[str]:
    """A sell of the held quantity (the whole holding for the symbol's sole owner)."""
    argv = [f"--symbol={i.symbol}", LIVE]
    if not i.extra.get("full_close"):
        argv.append(f"--sz={i.size!r}")
    return [*argv, f"--client-order-id={i.cloid}"]
