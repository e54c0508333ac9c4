"""The argv of OKX's live workers (upstream's flags plus ``--client-order-id``).

Sizes are in coins, the book's unit: ``check_okx.py`` converts to contracts with the market's
``contractSize`` for swaps (upstream sent coins where ccxt expects contracts). ``--inst-type``
picks spot (``SYM/USDT``) or the USDT swap (``SYM/USDT:USDT``) in every mode.
"""

from __future__ import annotations

from shared_tools.config.model import StrategyConfig
from supervisor.state.models import Intent

SCRIPT = "shared_scripts/check_okx.py"
CLOSE_SCRIPT = "shared_scripts/close_okx_position.py"
POSITIONS_SCRIPT = "shared_scripts/fetch_okx_positions.py"
LIVE = "--mode=live"


def inst_type(sc: StrategyConfig) -> str:
    """``spot`` for a spot book, ``swap`` for a perps book (upstream's ``--inst-type``)."""
    return "spot" if sc.type == "spot" else "swap"


def execute_argv(i: Intent, sc: StrategyConfig) -> list[str]:
    return [
        "--execute",
        f"--symbol={i.symbol}",
        f"--side={i.side}",
        f"--size={i.size!r}",
        LIVE,
        f"--inst-type={inst_type(sc)}",
        f"--client-order-id={i.cloid}",
    ]


def order_status_argv(i: Intent, sc: StrategyConfig) -> list[str]:
    return status_argv(i.cloid, i.symbol, inst_type(sc))


def status_argv(cloid: str, symbol: str, inst: str = "swap") -> list[str]:
    """``--order-status`` of one client order id (the desk's and ``go-trader force-close``'s)."""
    return [
        "--order-status",
        f"--client-order-id={cloid}",
        f"--symbol={symbol}",
        LIVE,
        f"--inst-type={inst}",
    ]


def close_argv(i: Intent, sc: StrategyConfig) -> list[str]:
    """A reduce-only swap close: the whole position, or ``--sz`` coins on a shared symbol."""
    return swap_close_argv(i.symbol, None if i.extra.get("full_close") else i.size, i.cloid)


def swap_close_argv(symbol: str, size: float | None, cloid: str) -> list[str]:
    """``close_okx_position.py``: the whole swap position (``size`` None) or ``--sz`` coins."""
    argv = [f"--symbol={symbol}", LIVE]
    if size is not None:
        argv.append(f"--sz={size!r}")
    return [*argv, f"--client-order-id={cloid}"]
