"""The live desk's balance reads for ``capital_pct`` (supervisor/risk/capital_pct.py).

One read per platform per cycle, beside the signal checks: Hyperliquid's is the reconcile's
``--account-state`` (its ``account_value``); OKX, TopStep and Robinhood each get one
``check_balance.py --platform=<p>`` run (``{balance, error?}``, upstream §C.2) when a live
``capital_pct`` strategy trades there. A failed read, an ``error``, or a value that is not a
finite number is "not read" (None): the resolution keeps the previous capital, never 0.
"""

from __future__ import annotations

import math

from shared_tools.config.model import Config
from supervisor.run.jobs import Job, Result

SCRIPT = "shared_scripts/check_balance.py"
HL = "hyperliquid"
VENUES = ("okx", "topstep", "robinhood")  # check_balance.py's platforms


def job_key(platform: str) -> str:
    return f"live:{platform}:balance"


def platforms(config: Config) -> list[str]:
    """The non-HL venues a live ``capital_pct`` strategy trades on, in a stable order."""
    return sorted(
        {sc.platform for sc in config.live_strategies if sc.capital_pct and sc.platform in VENUES}
    )


def jobs(config: Config, path: str = SCRIPT) -> list[Job]:
    """One ``check_balance.py`` run per such venue (read-only: no side effect)."""
    return [Job(key=job_key(p), script=path, args=(f"--platform={p}",)) for p in platforms(config)]


def _number(value: object) -> float | None:
    if isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value):
        return float(value)
    return None


def balance_of(r: Result | None) -> float | None:
    """``check_balance.py``'s ``balance`` (None: not read, or an ``error`` came with it)."""
    data = r.data if r is not None and r.ok and isinstance(r.data, dict) else {}
    if data.get("error"):
        return None
    return _number(data.get("balance"))


def account_value(r: Result | None) -> float | None:
    """Hyperliquid: ``accountValue`` in an ``--account-state`` answer (None: not read)."""
    data = r.data if r is not None and r.ok and isinstance(r.data, dict) else {}
    return _number(data.get("account_value"))


def read(results: dict[str, Result], config: Config) -> dict[str, float | None]:
    """platform -> balance for every venue :func:`jobs` asked (None where it failed)."""
    return {p: balance_of(results.get(job_key(p))) for p in platforms(config)}
