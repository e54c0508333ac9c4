"""The per-venue drivers of the live desk: which worker and argv for each order and read.

Hyperliquid is one driver among four. It keeps its own account read (``--account-state``:
fills, funding, resting orders) and its venue-side stops and targets. OKX, TopStep and
Robinhood have none of that upstream: their close evaluators (stops, targets, trailing) run
in the supervisor as for paper and close by market order; the desk checks each cycle that
the book and the venue hold the same positions (``fetch_<venue>_positions.py``), and closes
for the kill switch and breakers with the venue's close worker within upstream's budgets
(90 s; Robinhood 150 s: a TOTP login per submit).

``GO_TRADER_LIVE_SCRIPT_DIR`` (ours, for rehearsals and tests) takes those three venues'
workers from another directory by file name; the supervisor logs it at start.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from shared_tools.config.model import StrategyConfig
from shared_tools.domain import Reason
from supervisor.live import argv as hl
from supervisor.live import argv_okx, argv_robinhood, argv_topstep
from supervisor.state.models import Intent

SCRIPT_DIR_ENV = "GO_TRADER_LIVE_SCRIPT_DIR"
HL = "hyperliquid"
FORCED = (Reason.KILL_SWITCH, Reason.CIRCUIT_BREAKER)

Argv = Callable[[Intent, StrategyConfig], list[str]]


@dataclass(frozen=True)
class Driver:
    """One venue's live workers and rules."""

    platform: str
    script: str  # --execute / --order-status
    close_script: str  # kill switch and breaker closes ("" for HL: reduce-only --execute)
    positions_script: str  # the flat confirmation and the per-cycle position check
    execute: Argv
    order_status: Argv
    close: Argv
    close_budget_s: float = 90.0
    venue_protection: bool = False  # stops and targets rest on the venue (HL only)

    def path(self, script: str) -> str:
        """The worker's path; the rehearsal directory when one is set (not for HL)."""
        alt = (os.environ.get(SCRIPT_DIR_ENV) or "").strip()
        if alt and self.platform != HL:
            return str(Path(alt) / Path(script).name)
        return script

    def operator_only(self, sc: StrategyConfig) -> str:
        """Why a forced close (kill switch, breaker) of ``sc`` cannot be sent ("" if it can)."""
        if self.platform == "okx" and sc.type == "spot":
            return "cannot auto-close spot (OKX spot has no reduce-only order)"
        return ""  # a shared symbol: a close sized to the strategy's share (--sz), as HL's


def _hl_execute(i: Intent, sc: StrategyConfig) -> list[str]:
    return hl.execute_argv(i)


def _hl_status(i: Intent, sc: StrategyConfig) -> list[str]:
    return hl.order_status_argv(i.cloid)


DRIVERS: dict[str, Driver] = {
    HL: Driver(
        HL, hl.HL_SCRIPT, "", "", _hl_execute, _hl_status, _hl_execute, venue_protection=True
    ),
    "okx": Driver(
        "okx",
        argv_okx.SCRIPT,
        argv_okx.CLOSE_SCRIPT,
        argv_okx.POSITIONS_SCRIPT,
        argv_okx.execute_argv,
        argv_okx.order_status_argv,
        argv_okx.close_argv,
    ),
    "topstep": Driver(
        "topstep",
        argv_topstep.SCRIPT,
        argv_topstep.CLOSE_SCRIPT,
        argv_topstep.POSITIONS_SCRIPT,
        argv_topstep.execute_argv,
        argv_topstep.order_status_argv,
        argv_topstep.close_argv,
    ),
    "robinhood": Driver(
        "robinhood",
        argv_robinhood.SCRIPT,
        argv_robinhood.CLOSE_SCRIPT,
        argv_robinhood.POSITIONS_SCRIPT,
        argv_robinhood.execute_argv,
        argv_robinhood.order_status_argv,
        argv_robinhood.close_argv,
        close_budget_s=150.0,
    ),
}


def driver(platform: str) -> Driver:
    return DRIVERS[platform]


def venue_cloid(platform: str, cloid: str) -> str:
    """The client order id a venue carries: HL's 0x + 32 hex as is; elsewhere ``gt`` + 24 hex
    (valid as an OKX clOrdId, a TopStep tag and a Robinhood client id): the book's salt, the
    strategy-and-leg checksum and the cycle of the HL form."""
    if platform == HL or not cloid.startswith("0x") or len(cloid) != 34:
        return cloid
    h = cloid[2:]
    return "gt" + h[0:8] + h[8:16] + h[24:32]


def forced(i: Intent) -> bool:
    """A kill-switch or breaker close: sent with the venue's close worker."""
    return i.purpose == "close" and i.reason in FORCED


def coin(symbol: str) -> str:
    """A venue's symbol as the book's (``BTC/USDT:USDT``, ``BTC-USDT-SWAP`` -> ``BTC``)."""
    return symbol.split("/")[0].split("-")[0].split(":")[0].upper()


def hold_key(sc: StrategyConfig) -> str:
    """Entries are held per HL coin (as before) or per venue and coin elsewhere."""
    return sc.symbol if sc.platform == HL else f"{sc.platform}:{coin(sc.symbol)}"
