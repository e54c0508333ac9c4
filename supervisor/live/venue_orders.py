"""OKX, TopStep and Robinhood on the live desk: what may be sent, how, and how it is booked.

The desk (supervisor/live/desk.py) calls these for every live strategy that is not on
Hyperliquid. Orders carry the intent's client order id as HL's do, and the same rule holds:
an answer that may hide an accepted order is resolved with ``--order-status`` before any
re-send. What differs (upstream §6/§7):

* kill-switch and breaker closes go through the venue's close worker (OKX swap reduce-only,
  TopStep ``/order/close``, Robinhood a sell of the held quantity) within a close budget per
  venue (90 s; Robinhood 150 s); an order not submitted before it runs out is failed and the
  latched switch or breaker asks again next cycle;
* such a close is booked at the venue's fill only once a positions read after it succeeded:
  a failed read leaves the intent pending (the book keeps the position) and the next cycle
  asks the venue again;
* a forced close on a symbol several live strategies share is sized to the strategy's own
  share (``--sz``; upstream sent nothing for TopStep and Robinhood, §6.2 Obs), a sole owner's
  closes the whole holding;
* closes a person must make (OKX spot: no reduce-only) are never sent: they are reported as
  CRITICAL every cycle, and while the kill switch holds its headline says
  "(GAPS — VERIFY MANUALLY)";
* live spot books (OKX spot, Robinhood) latch ``cash_reconcile_required`` (upstream #1394)
  when a buy's real debit exceeds the book's cash by more than $0.01: further live buys of
  that strategy are held until ``go-trader clear-cash-reconcile <strategy>``.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable
from typing import Any, Protocol

from shared_tools.config.model import Config, StrategyConfig
from supervisor.live import venue_check
from supervisor.live.fills import fail, fill_of, refused
from supervisor.live.venues import Driver, coin, driver, forced, hold_key
from supervisor.risk import portfolio as risk_portfolio
from supervisor.risk.portfolio import RiskEvent
from supervisor.run.jobs import Job, Result
from supervisor.state.models import AppState, Intent, Trade


class CycleView(Protocol):
    """What these steps need of a cycle (supervisor/cycle.py)."""

    stamp: str
    results: dict[str, Result]
    report: Any

    def events(self, events: list[RiskEvent]) -> None: ...


class LiveDesk(Protocol):
    """What these steps need of the desk (supervisor/live/desk.py; no import: no cycle)."""

    config: Config
    app: AppState
    log: Callable[[str], None]
    lock: contextlib.AbstractContextManager[Any]
    holds: dict[str, str]
    venue_read: dict[str, bool]
    venue_held: dict[str, dict[str, float]]
    operator_gaps: list[str]
    run: Callable[[list[Job]], dict[str, Result]]

    def driver_of(self, i: Intent) -> tuple[Driver, StrategyConfig | None]: ...

    def status_job(self, i: Intent) -> Job: ...

    def book_answer(self, i: Intent, r: Result | None, cy: Any, *, resolving: bool) -> None: ...


CASH_KEY = "cash_reconcile_required"
CASH_TOLERANCE = 0.01  # upstream's spotLiveCashBudgetTolerance
SPOT_LATCH_VENUES = ("okx", "robinhood")


class Budgets:
    """One close budget per venue and cycle, started by its first forced close."""

    def __init__(self) -> None:
        self.deadline: dict[str, float] = {}

    def left(self, d: Driver) -> bool:
        now = time.monotonic()
        return now < self.deadline.setdefault(d.platform, now + d.close_budget_s)


# -- the per-cycle position check ------------------------------------------------------------
def check_positions(desk: LiveDesk, platform: str, cy: CycleView) -> None:
    """Read a checked book's venue side from the cycle's results (``platform``: a venue, or
    ``okx:spot`` for OKX's coin balances); gaps and a failed read hold."""
    r = cy.results.get(venue_check.job_key(platform))
    held = venue_check.read_of(platform, r)
    mine = [sc for sc in desk.config.live_strategies if venue_check.book_of(sc) == platform]
    if held is None:
        desk.venue_read[platform] = False
        why = (r.error if r is not None else None) or "not read"
        note = f"[live] {platform} positions not read ({why}): live entries on {platform} held"
        cy.report.notes.append(note)
        desk.log(note)
        for sc in mine:
            desk.holds[hold_key(sc)] = "venue positions not read"
        return
    desk.venue_read[platform], desk.venue_held[platform] = True, held
    out = venue_check.check(desk.config, desk.app.strategies, desk.app.extra, platform, held)
    for note in out.notes:
        cy.report.notes.append(note)
        desk.log(note)
    cy.events(out.events)
    for sc in mine:
        if coin(sc.symbol) in out.gaps:
            desk.holds[hold_key(sc)] = f"reconcile gap on {coin(sc.symbol)}"


def confirm_jobs(desk: LiveDesk, intents: list[Intent]) -> list[Job]:
    """One positions read per venue with a forced close to confirm."""
    out: dict[str, Job] = {}
    for i in intents:
        d, _ = desk.driver_of(i)
        key = f"confirm:{d.platform}"
        out.setdefault(
            d.platform, venue_check.positions_job(d.platform, d.path(d.positions_script), key)
        )
    return list(out.values())


def confirmed(
    desk: LiveDesk, i: Intent, r: Result | None, results: dict[str, Result], cy: CycleView
) -> bool:
    """May the forced close ``i`` be booked now? Only after a positions read succeeded."""
    data = r.data if r is not None and isinstance(r.data, dict) else {}
    if fill_of(data) is None:
        return True  # nothing to book: settled as any answer without a fill
    d, _ = desk.driver_of(i)
    if venue_check.positions_of(results.get(f"confirm:{d.platform}")) is not None:
        return True
    i.error = "filled; booked once a positions read confirms the venue (asked again next cycle)"
    note = f"[live] {d.platform} [{i.strategy_id}] {i.symbol}: close filled but positions not read: book kept"
    cy.report.notes.append(note)
    desk.log(note)
    return False


# -- what may be sent ------------------------------------------------------------------------
def may_send(desk: LiveDesk, sc: StrategyConfig, i: Intent, cy: CycleView) -> bool:
    d = driver(sc.platform)
    if forced(i):
        why = d.operator_only(sc)
        if why:
            desk.operator_gaps.append(
                f"[CRITICAL] {sc.platform}-close: [{sc.id}] {i.symbol} {i.position_side} "
                f"{i.size:g}: {why}; close it by hand on {sc.platform} (the {i.reason} close "
                "is asked again every cycle until the book is flat)"
            )
            return False
        return True
    if i.purpose in ("open", "add"):
        if not desk.venue_read.get(venue_check.book_of(sc)) and venue_check.checked(sc):
            return False
        if desk.holds.get(hold_key(sc)) or (i.side == "buy" and cash_hold(desk.app, sc)):
            return False
    return True


def report_gaps(desk: LiveDesk, cy: CycleView) -> None:
    """The operator-only closes and the cash latches, loudly, every cycle."""
    events = [RiskEvent("operator_close", text, critical=True) for text in desk.operator_gaps]
    if desk.operator_gaps and risk_portfolio.state(desk.app)["kill_switch"]:
        events.append(
            RiskEvent(
                "kill_switch",
                "PORTFOLIO KILL SWITCH (GAPS — VERIFY MANUALLY): "
                + " | ".join(desk.operator_gaps)
                + " Virtual state of these positions preserved until they are closed by hand.",
                critical=True,
            )
        )
    for sid, latch in sorted((desk.app.extra.get(CASH_KEY) or {}).items()):
        note = (
            f"[live] [{sid}] CASH RECONCILE REQUIRED since {latch.get('at')}: live buys held; "
            f"reconcile the book's cash, then `go-trader clear-cash-reconcile {sid}`"
        )
        cy.report.notes.append(note)
    cy.events(events)


def cash_hold(app: AppState, sc: StrategyConfig) -> str:
    latch = (app.extra.get(CASH_KEY) or {}).get(sc.id)
    return f"cash reconcile required since {latch.get('at')}" if latch else ""


# -- send and book ---------------------------------------------------------------------------
def send(
    desk: LiveDesk, d: Driver, sc: StrategyConfig, i: Intent, cy: CycleView, budgets: Budgets
) -> None:
    if forced(i):
        if not budgets.left(d):
            with desk.lock:
                fail(i, "close budget exhausted before submit (asked again next cycle)", cy.stamp)
            desk.log(f"[CRITICAL] {d.platform}-close: [{sc.id}] {i.symbol}: {i.error}")
            return
        job = Job(
            key=f"order:{i.cloid}",
            script=d.path(d.close_script),
            args=tuple(d.close(i, sc)),
            side_effect=True,
        )
    else:
        job = Job(
            key=f"order:{i.cloid}",
            script=d.path(d.script),
            args=tuple(d.execute(i, sc)),
            side_effect=True,
        )
    r = desk.run([job]).get(job.key)
    resolving = False
    if r is not None and not r.ok:  # refused, or lost: the venue says which, by client id
        if refused(r):
            i.extra["refused"] = (r.error or "refused")[:300]
        check = desk.status_job(i)
        r, resolving = desk.run([check]).get(check.key) or r, True
    results = desk.run(confirm_jobs(desk, [i])) if forced(i) else {}
    with desk.lock:
        if forced(i) and not confirmed(desk, i, r, results, cy):
            return
        desk.book_answer(i, r, cy, resolving=resolving)


def after_fill(
    desk: LiveDesk,
    sc: StrategyConfig,
    i: Intent,
    data: dict[str, Any],
    trade: Trade | None,
    cash_before: float,
    stamp: str,
) -> list[RiskEvent]:
    """The venue's order id on the row; the cash latch of a live spot buy (upstream #1394)."""
    raw = _raw_fill(data)
    oid = str(raw.get("oid") or "")
    if oid:
        i.extra["venue_oid"] = oid
        if trade is not None:
            trade.order_id = oid
    if not (sc.type == "spot" and sc.platform in SPOT_LATCH_VENUES and i.side == "buy"):
        return []
    debit = i.fill_price * i.fill_qty + i.fee
    if debit <= cash_before + CASH_TOLERANCE:
        return []
    latches = desk.app.extra.setdefault(CASH_KEY, {})
    latches[sc.id] = {"at": stamp, "debit": debit, "cash": cash_before, "order": oid}
    text = (
        f"[{sc.id}] CASH RECONCILE REQUIRED: a live {sc.platform} buy debited ${debit:,.2f} "
        f"but the book held ${cash_before:,.2f}; further live buys are held until the cash is "
        f"reconciled and `go-trader clear-cash-reconcile {sc.id}` is run"
    )
    return [RiskEvent("cash_reconcile", text, critical=True)]


def _raw_fill(data: dict[str, Any]) -> dict[str, Any]:
    fill = data.get("fill")
    for outer in ("execution", "close"):
        if fill is None and isinstance(data.get(outer), dict):
            fill = data[outer].get("fill")
    return fill if isinstance(fill, dict) else {}
