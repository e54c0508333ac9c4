"""Live OKX swap funding, booked from the venue's bills (docs/architecture.md, "Live").

The paper book accrues funding itself (supervisor/cycle_protect.py ``fund``, skipped for live
books); a live OKX swap's funding is what the venue actually settled. Each cycle, with the
signal checks, one ``fetch_okx_bills.py --since-ms`` read of the account (one account: one
read per cycle, not one per strategy) lists its bills; every funding-fee bill (OKX bill type
8) is booked once, by bill id (the ids seen are kept in ``app.extra["okx_funding"]`` for the
read window and an hour more, so a bill read twice books once), at the amount the venue moved
(``balChg``).

Who gets it: the live OKX swap strategies on the bill's coin. A sole owner gets all of it,
even when its book is flat again (the bill was settled on its position before the close). On
a coin several strategies share, the payment is split by their quantities now, as the
Hyperliquid reconcile splits its hourly funding (supervisor/live/reconcile.py
``funding_split``, the one implementation): the account holds one net position for all of
them, the venue cannot say whose it was, and the quantities are the book's best measure of
each one's share. Nobody holding it (all flat) leaves the bill unbooked, with a note.

Bills before the first live cycle are not ours. A failed read books nothing and says so; the
next read covers the gap (the window is 24 hours).
"""

from __future__ import annotations

import math
from typing import Any

from shared_tools.config.model import Config, StrategyConfig
from supervisor.live.reconcile import Outcome, funding_split
from supervisor.live.venues import coin, driver
from supervisor.run.jobs import Job, Result
from supervisor.state.models import StrategyState

KEY = "okx_funding"
JOB = "live:okx:bills"
SCRIPT = "shared_scripts/fetch_okx_bills.py"
WINDOW_MS = 24 * 3600 * 1000
FUNDING_TYPE = "8"  # OKX bill type: funding fee


def swaps(config: Config) -> list[StrategyConfig]:
    """The live OKX swap (perps) strategies."""
    return [sc for sc in config.live_strategies if sc.platform == "okx" and sc.type == "perps"]


def ledger(extra: dict[str, Any], now_ms: int) -> dict[str, Any]:
    st: dict[str, Any] = extra.setdefault(KEY, {})
    st.setdefault("start_ms", now_ms)  # bills from before the first live cycle are not ours
    st.setdefault("bills", {})  # bill id -> its time
    return st


def since_ms(extra: dict[str, Any], now_ms: int) -> int:
    return max(int(ledger(extra, now_ms)["start_ms"]), now_ms - WINDOW_MS)


def jobs(config: Config, extra: dict[str, Any], now_ms: int) -> list[Job]:
    """The cycle's bills read (none without a live OKX swap strategy)."""
    if not swaps(config):
        return []
    path = driver("okx").path(SCRIPT)
    return [Job(key=JOB, script=path, args=(f"--since-ms={since_ms(extra, now_ms)}",))]


def book(
    config: Config,
    strategies: dict[str, StrategyState],
    extra: dict[str, Any],
    r: Result | None,
    stamp: str,
    now_ms: int,
) -> Outcome:
    """Book every funding bill not booked yet; the trades go back for the cycle to record."""
    out = Outcome()
    mine = swaps(config)
    if not mine:
        return out
    st = ledger(extra, now_ms)
    data = r.data if r is not None and r.ok and isinstance(r.data, dict) else None
    rows = data.get("bills") if data is not None and not data.get("error") else None
    if not isinstance(rows, list):
        why = (r.error if r is not None else None) or "not read"
        out.notes.append(f"[live] okx bills not read ({why}): funding booked at the next read")
        return out
    if data is not None and data.get("capped"):
        out.notes.append("[live] okx bills capped at 1000 rows: older funding read next cycle")
    funding = [b for b in rows if isinstance(b, dict) and str(b.get("type")) == FUNDING_TYPE]
    for bill in sorted(funding, key=lambda b: (int(b.get("ts_ms") or 0), str(b.get("bill_id")))):
        _book_bill(mine, strategies, st, bill, stamp, out)
    cutoff = since_ms(extra, now_ms) - 3600 * 1000
    st["bills"] = {k: t for k, t in st["bills"].items() if int(t) >= cutoff}
    return out


def _book_bill(
    mine: list[StrategyConfig],
    strategies: dict[str, StrategyState],
    st: dict[str, Any],
    bill: dict[str, Any],
    stamp: str,
    out: Outcome,
) -> None:
    bid, at = str(bill.get("bill_id") or ""), int(bill.get("ts_ms") or 0)
    if not bid or bid in st["bills"]:
        return
    st["bills"][bid] = at
    if at < int(st["start_ms"]):
        return
    c = coin(str(bill.get("inst_id") or ""))
    try:
        amount = float(bill.get("bal_chg") or bill.get("pnl") or 0.0)
    except (TypeError, ValueError):
        amount = math.nan
    owners = [sc for sc in mine if coin(sc.symbol) == c and sc.id in strategies]
    held = [(sc, strategies[sc.id], _symbol(strategies[sc.id], sc, c)) for sc in owners]
    if len(owners) > 1:  # shared: the holders now, by quantity
        held = [(sc, s, sym) for sc, s, sym in held if sym in s.positions]
    why = f"venue bill {bid}"
    if not funding_split(held, amount, c, stamp, why, out):
        out.notes.append(f"[live] okx {c}: funding bill {bid} ${amount:+.4f} with no holder")


def _symbol(strat: StrategyState, sc: StrategyConfig, c: str) -> str:
    """The book's symbol for the coin (its open position's, else the configured one)."""
    for sym in strat.positions:
        if coin(sym) == c:
            return sym
    return sc.symbol
