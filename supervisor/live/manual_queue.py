"""The manual-order queue: what ``go-trader manual-*`` did on the venue, booked by the daemon.

Never twice (docs/architecture.md, "Live"): the CLI (supervisor/ops/manual.py) takes the
cross-process lock ``<db_file>.manual-action.lock``, reads its guards, commits a queue row
(``sending``, with a client order id) BEFORE the order leaves, sends it, and records the fill
(``filled``) or ``failed``. The daemon's :func:`drain`, at the top of each cycle, takes the same
lock (so it never sees a row whose order is still in flight), books every ``filled`` row into
the strategy's book at the venue's numbers and marks it ``applied`` in the same transaction as
the book (``AppState.manual_updates``). A ``sending`` row means the CLI died mid-flight: the
venue is asked by the row's cloid (``--order-status``); a fill is booked, an order the venue
never saw fails, no answer leaves it for the next cycle. Failed rows are reported once and
kept (``dead``), never deleted (upstream silently dropped them).
"""

from __future__ import annotations

import contextlib
import dataclasses
import fcntl
import json
import math
import os
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select

from shared_tools.config.model import Config, StrategyConfig
from supervisor.live import argv as hl
from supervisor.live import argv_okx
from supervisor.live import reconcile as rec
from supervisor.live.fills import book_fill, fill_of
from supervisor.live.venues import HL, driver, venue_cloid
from supervisor.risk.portfolio import RiskEvent
from supervisor.run.jobs import Job, Result
from supervisor.state.models import (
    AppState,
    Intent,
    Position,
    StrategyState,
    Trade,
    parse_iso,
)
from supervisor.state.rows import manual_actions

LOCK_POLL_S = 0.025
LOCK_WAIT_S = 8.0
ORDER_ACTIONS = ("open", "add", "close")
OPEN_STATES = ("sending", "filled", "failed")  # rows the drain still has to act on
REASON = "manual"
SETTLE_S = 120.0  # a request the CLI sent may still land this long after its row was committed

Runner = Callable[[list[Job]], dict[str, Result]]


def lock_path(db_file: str | Path) -> Path:
    return Path(f"{db_file}.manual-action.lock")


@contextlib.contextmanager
def action_lock(db_file: str | Path, wait_s: float = LOCK_WAIT_S) -> Iterator[bool]:
    """The manual-action flock, polled every 25 ms up to ``wait_s``; yields whether it is held.

    flock is released by the kernel when its holder dies, so a killed CLI never wedges it.
    """
    path = lock_path(db_file)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    deadline = time.monotonic() + wait_s
    held = False
    try:
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                held = True
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    break
                time.sleep(LOCK_POLL_S)
        yield held
    finally:
        if held:
            fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)


def row_extra(row: Any) -> dict[str, Any]:
    try:
        value = json.loads(row.extra_json or "{}")
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def venue_calls(sc: StrategyConfig | None, cloid: str, symbol: str) -> tuple[str, str, list[str]]:
    """(order script, status script, ``--order-status`` argv) of a manual order's venue: HL's
    worker, or for a live OKX swap (``go-trader force-close``) its close worker and
    ``check_okx.py``, by the row's cloid in OKX's form (the same id the order carried)."""
    if sc is not None and sc.platform == "okx":
        d = driver("okx")
        status = argv_okx.status_argv(venue_cloid("okx", cloid), symbol)
        return d.path(d.close_script), d.path(d.script), status
    return hl.HL_SCRIPT, hl.HL_SCRIPT, hl.order_status_argv(cloid)


def order_side(action: str, side: str) -> str:
    """The order's buy/sell for an action on a position of ``side`` (long | short)."""
    opening = action in ("open", "add")
    return "buy" if (side == "long") == opening else "sell"


def drain(
    app: AppState,
    config: Config,
    run_jobs: Runner,
    cy: Any,
    lock: contextlib.AbstractContextManager[Any] | None = None,
) -> list[Trade]:
    """Book every finished manual action; resolve those a dead CLI left ``sending``.

    The book is touched only under ``lock`` (the daemon's book lock); workers run outside it.
    """
    from supervisor.state.db import StateDB  # the daemon's DB module (no import cycle)

    if not Path(config.db_file).exists():
        return []
    db = StateDB.open_readonly(config.db_file)
    try:
        with action_lock(config.db_file) as held:
            if not held:
                _note(cy, "[manual] the manual-action lock is busy: the queue is read next cycle")
                return []
            with db.engine.connect() as conn:
                rows = list(
                    conn.execute(
                        select(manual_actions)
                        .where(manual_actions.c.status.in_(OPEN_STATES))
                        .order_by(manual_actions.c.id)
                    )
                )
            rows = [r for r in rows if r.id not in app.manual_updates]
            answers = _resolve(rows, run_jobs, config)
            out: list[Trade] = []
            with lock or contextlib.nullcontext():
                for row in rows:
                    out += _apply(app, config, row, answers.get(row.id), cy)
            return out
    finally:
        db.close()


def _resolve(rows: list[Any], run_jobs: Runner, config: Config) -> dict[int, Result]:
    """Ask the venue, by cloid, about every order row a dead CLI left ``sending``."""
    jobs = {}
    for r in rows:
        if r.status == "sending" and r.action in ORDER_ACTIONS and r.cloid:
            sc = next((s for s in config.strategies if s.id == r.strategy_id), None)
            _, script, argv = venue_calls(sc, r.cloid, r.symbol)
            jobs[r.id] = Job(key=f"manual-resolve:{r.id}", script=script, args=tuple(argv))
    if not jobs:
        return {}
    results = run_jobs(list(jobs.values()))
    return {rid: results[j.key] for rid, j in jobs.items() if j.key in results}


def _apply(app: AppState, config: Config, row: Any, answer: Result | None, cy: Any) -> list[Trade]:
    stamp = cy.stamp
    if row.status == "failed":
        _report_failed(app, row, row.error or "failed", cy)
        return []
    fill: dict[str, float] | None = None
    if row.status == "sending":
        if row.action not in ORDER_ACTIONS:
            why = "the CLI died before it recorded the venue's answer; the protection sync keeps the book's stop"
            _report_failed(app, row, why, cy)
            return []
        data = answer.data if answer is not None and isinstance(answer.data, dict) else {}
        fill = fill_of(data)
        status = str(data.get("status") or "")
        if fill is None:
            if status == "unknown" and _age_s(row.created_at) < SETTLE_S:
                _note(cy, f"[manual] #{row.id} {row.action} {row.symbol}: not on the venue yet")
            elif answer is not None and answer.ok and status in ("unknown", "canceled", "rejected"):
                why = "never reached the venue" if status == "unknown" else f"the venue {status} it"
                _report_failed(app, row, why, cy)
            else:
                _note(cy, f"[manual] #{row.id} {row.action} {row.symbol}: outcome not known yet")
            return []
    else:
        fill = {"price": row.fill_price, "qty": row.fill_qty, "fee": row.fee, "oid": row.oid}
    sc = next((s for s in config.strategies if s.id == row.strategy_id), None)
    strat = app.strategies.get(row.strategy_id)
    if sc is None or strat is None:
        _report_failed(app, row, f"strategy {row.strategy_id} is no longer configured", cy)
        return []
    trade, error = _book(sc, strat, row, fill, stamp, cy.epoch)
    if fill.get("oid") and sc.platform == HL:
        booked = rec.ledger(app.extra, int(cy.epoch * 1000))["booked"]
        booked[str(int(fill["oid"]))] = int(cy.epoch * 1000)  # the reconcile skips its fill
    app.manual_updates[row.id] = {
        "status": "applied",
        "applied_at": stamp,
        "fill_price": fill["price"],
        "fill_qty": fill["qty"],
        "fee": fill["fee"],
        "oid": int(fill.get("oid") or 0),
        "error": error[:500],
    }
    note = f"[manual] #{row.id} {row.action} {row.symbol} for {row.strategy_id} booked"
    _note(cy, note + (f" ({error})" if error else ""))
    if trade is None:
        return []
    cy.book_trades(sc, strat, [trade])
    return [trade]


def _book(
    sc: StrategyConfig,
    strat: StrategyState,
    row: Any,
    fill: dict[str, float],
    stamp: str,
    now_s: float,
) -> tuple[Trade | None, str]:
    """Book one row into the strategy's book; returns the trade and what did not fit."""
    extra = row_extra(row)
    pos = strat.positions.get(row.symbol)
    if row.action == "update-sl":
        if pos is None:
            return None, "no position any more: the new stop is an orphan the reconcile cancels"
        g = pos.guard
        g.stop, g.stop_oid, g.stop_qty = float(row.trigger), int(row.oid), pos.quantity
        g.stop_kind = g.stop_kind or "stop_loss"
        return None, ""
    if row.action == "cancel-sl":
        if pos is not None:
            pos.guard.stop, pos.guard.stop_oid, pos.guard.stop_kind = 0.0, 0, ""
        return None, ""
    if row.action == "add":
        if pos is None or str(pos.side) != row.side:
            return None, "the book holds no such position to add to; left to the reconcile"
        return grow(sc, strat, pos, fill, stamp), ""
    if row.action == "open" and pos is not None:
        return None, "the book already holds a position; left to the reconcile"
    if row.action == "close" and pos is None:
        return None, "the book no longer holds the position (booked by the reconcile)"
    intent = Intent(
        cloid=row.cloid or f"manual-{row.id}",
        strategy_id=sc.id,
        cycle=0,
        leg=f"manual-{row.action}",
        symbol=row.symbol,
        side=order_side(row.action, row.side),
        size=row.qty,
        reduce_only=row.action == "close",
        purpose="open" if row.action == "open" else "close",
        position_side=row.side,
        reason=str(extra.get("reason") or REASON),
        extra={"entry_atr": row.entry_atr},
    )
    trade = book_fill(with_stop(sc, extra), strat, intent, fill, stamp, now_s)
    return trade, intent.error


def with_stop(sc: StrategyConfig, extra: dict[str, Any]) -> StrategyConfig:
    """The strategy with the open's own stop (``--stop-loss-atr-mult`` / ``--stop-loss-pct``)."""
    keys: tuple[str, ...] = ("stop_loss_atr_mult", "stop_loss_pct")
    stops: dict[str, float] = {k: float(extra[k]) for k in keys if k in extra}
    if not stops:
        return sc
    cleared: dict[str, float] = dict.fromkeys(
        (
            "stop_loss_pct",
            "stop_loss_margin_pct",
            "stop_loss_atr_mult",
            "trailing_stop_pct",
            "trailing_stop_atr_mult",
        ),
        0.0,
    )
    merged: dict[str, Any] = {**cleared, **stops}
    return dataclasses.replace(sc, **merged)


def grow(
    sc: StrategyConfig, strat: StrategyState, pos: Position, fill: dict[str, float], stamp: str
) -> Trade:
    """Add a same-side fill to ``pos``: average cost, margin and fee; the guard's triggers stay
    at their anchor and the desk's protection sync re-sizes the resting stop (upstream #873)."""
    qty, px, fee = fill["qty"], fill["price"], fill["fee"]
    total = pos.quantity + qty
    pos.avg_cost = (pos.quantity * pos.avg_cost + qty * px) / total
    pos.quantity, pos.initial_quantity = total, pos.initial_quantity + qty
    pos.cost_basis += qty * px * pos.multiplier
    pos.margin += qty * px * pos.multiplier / max(pos.leverage, 1.0)
    strat.cash -= fee
    strat.trade_count += 1
    verb = "buy" if pos.side == "long" else "sell"
    oid = int(fill.get("oid") or 0)
    trade = Trade(
        strat.id,
        stamp,
        pos.symbol,
        pos.position_id,
        verb,  # type: ignore[arg-type]
        qty,
        px,
        qty * px * pos.multiplier,
        fee,
        sc.rules.kind,
    )
    trade.details = f"Add {pos.side} {qty:.6g} {pos.symbol} @ ${px:,.2f} (manual, fee ${fee:.2f})"
    trade.order_id = str(oid) if oid else ""
    return trade


def _age_s(created_at: str) -> float:
    """Seconds (wall clock) since a row was committed; large when unreadable."""
    try:
        return (datetime.now(UTC) - parse_iso(created_at)).total_seconds()
    except ValueError:
        return math.inf


def _report_failed(app: AppState, row: Any, why: str, cy: Any) -> None:
    """Report a failed action once and keep its row (``dead``), with why."""
    text = f"MANUAL ACTION FAILED [{row.strategy_id}] #{row.id} {row.action} {row.symbol}: {why}"
    app.manual_updates[row.id] = {"status": "dead", "applied_at": cy.stamp, "error": why[:500]}
    cy.events([RiskEvent("manual", text, critical=True)])
    _note(cy, f"[manual] {text}")


def _note(cy: Any, text: str) -> None:
    cy.report.notes.append(text)
    cy.log(text)
