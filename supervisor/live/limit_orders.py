"""The operator's resting limit orders, watched by the daemon each cycle (upstream §4.4).

``go-trader manual-open --limit-price`` (supervisor/ops/manual_limit.py) commits a
``pending_limit_orders`` row before its order leaves. Right after the manual drain, :func:`sync`
takes the same manual-action lock and, per open row of a configured strategy:

* ``placing`` (the CLI died mid-flight): asks the venue by the row's cloid; an order it knows
  gets its oid recorded (then is read like any other); "unknown" twice a cycle apart fails it;
* reads ``--limit-status`` (fills since ``created_at`` - 60 s): a new cumulative fill is booked
  at the venue's numbers, the increment only (first: the position opens with the strategy's
  stop and targets armed; later: it grows, as ``manual-add``); the oid is kept in the
  reconcile's ``booked`` ledger while the row is open, so no fill of it books twice;
* off the book (``resting: false``) and booked: the row is ``done``; ``resting: null`` (open
  orders unreadable): no verdict;
* still resting with ``cancel_requested`` or past ``expires_at``: ``--cancel-order``; the next
  cycle books what filled and finalizes.

Row changes go to ``AppState.limit_updates`` and commit with the book in one transaction.
"""

from __future__ import annotations

import contextlib
import json
import math
from pathlib import Path
from typing import Any

from sqlalchemy import select

from shared_tools.config.model import Config, StrategyConfig
from supervisor.live import argv as hl
from supervisor.live import reconcile as rec
from supervisor.live.fills import book_fill
from supervisor.live.manual_queue import REASON, Runner, action_lock, grow, order_side, with_stop
from supervisor.risk.portfolio import RiskEvent
from supervisor.run.jobs import Job, Result
from supervisor.state.models import AppState, Intent, Trade, parse_iso
from supervisor.state.rows import pending_limit_orders

OPEN_STATES = ("placing", "resting", "filled")
SINCE_SLACK_MS = 60_000
TOLERANCE = 1e-9


def sync(
    app: AppState,
    config: Config,
    run_jobs: Runner,
    cy: Any,
    lock: contextlib.AbstractContextManager[Any] | None = None,
) -> list[Trade]:
    """One pass over the open limit rows; the book is touched only under ``lock``."""
    from supervisor.state.db import StateDB  # the daemon's DB module (no import cycle)

    if not Path(config.db_file).exists():
        return []
    db = StateDB.open_readonly(config.db_file)
    try:
        with action_lock(config.db_file) as held:
            if not held:
                _note(
                    cy, "[limit] the manual-action lock is busy: limit orders are read next cycle"
                )
                return []
            with db.engine.connect() as conn:
                t = pending_limit_orders
                found = conn.execute(select(t).where(t.c.status.in_(OPEN_STATES)).order_by(t.c.id))
                rows = [_row(r, app) for r in found]
            configured = {sc.id: sc for sc in config.strategies}
            rows = [
                r for r in rows if r["status"] in OPEN_STATES and r["strategy_id"] in configured
            ]
            if not rows:
                return []
            _resolve_placing(app, rows, run_jobs, cy)
            watched = [r for r in rows if r["order_oid"] > 0 and r["status"] != "failed"]
            status = _limit_status(watched, run_jobs)
            out: list[Trade] = []
            cancels: list[dict[str, Any]] = []
            with lock or contextlib.nullcontext():
                for row in watched:
                    sc = configured[row["strategy_id"]]
                    got = status.get(row["order_oid"])
                    out += _apply(app, sc, row, got, cy)
                    if got is not None and got.get("resting") is True and _should_cancel(row, cy):
                        cancels.append(row)
            _cancel(app, cancels, run_jobs, cy)
            return out
    finally:
        db.close()


def _row(r: Any, app: AppState) -> dict[str, Any]:
    """A row as a dict, with this process's not-yet-committed changes laid over it."""
    row = dict(r._mapping)
    row.update(app.limit_updates.get(row["id"], {}))
    try:
        extra = json.loads(row.get("extra_json") or "{}")
    except ValueError:
        extra = {}
    row["extra"] = extra if isinstance(extra, dict) else {}
    return row


def _update(app: AppState, row: dict[str, Any], **values: Any) -> None:
    """Change ``row`` now and queue the change for the cycle's commit."""
    if "extra" in values:
        values["extra_json"] = json.dumps(values.pop("extra"), sort_keys=True)
        row["extra"] = json.loads(values["extra_json"])
    row.update(values)
    app.limit_updates.setdefault(row["id"], {}).update(values)


def _resolve_placing(app: AppState, rows: list[dict[str, Any]], run_jobs: Runner, cy: Any) -> None:
    """Rows a dead CLI left ``placing``: the venue, asked by cloid, says what became of them."""
    jobs = {
        r["id"]: Job(
            key=f"limit-resolve:{r['id']}",
            script=hl.HL_SCRIPT,
            args=tuple(hl.order_status_argv(r["cloid"])),
        )
        for r in rows
        if r["status"] == "placing" and r["cloid"]
    }
    if not jobs:
        return
    results = run_jobs(list(jobs.values()))
    for row in rows:
        job = jobs.get(row["id"])
        answer = results.get(job.key) if job is not None else None
        data = answer.data if answer is not None and isinstance(answer.data, dict) else {}
        word, oid = str(data.get("status") or ""), data.get("oid")
        if job is None:
            continue
        if isinstance(oid, int) and oid > 0 and word in ("resting", "filled", "canceled"):
            _update(app, row, status="resting", order_oid=oid)
            _note(
                cy, f"[limit] #{row['id']} {row['symbol']}: the venue holds it ({word}, oid {oid})"
            )
        elif answer is not None and answer.ok and word in ("unknown", "rejected"):
            extra = dict(row["extra"])
            seen = extra.get("unknown_cycle")
            if word == "rejected" or (seen is not None and int(seen) < cy.app.cycle_count):
                why = "never reached the venue" if word == "unknown" else "the venue rejected it"
                _update(app, row, status="failed", error=why)
                _alert(cy, row, why)
            else:
                extra["unknown_cycle"] = cy.app.cycle_count
                _update(app, row, extra=extra)
                _note(cy, f"[limit] #{row['id']} {row['symbol']}: not on the venue yet")
        else:
            _note(cy, f"[limit] #{row['id']} {row['symbol']}: outcome not known yet")


def _limit_status(rows: list[dict[str, Any]], run_jobs: Runner) -> dict[int, dict[str, Any]]:
    """One ``--limit-status`` per coin for its watched oids; oid -> its entry."""
    jobs = []
    for symbol in sorted({r["symbol"] for r in rows}):
        mine = [r for r in rows if r["symbol"] == symbol]
        since = min(_ms(r["created_at"]) for r in mine) - SINCE_SLACK_MS
        argv = (
            "--limit-status",
            f"--symbol={symbol}",
            "--oids-json=" + json.dumps([r["order_oid"] for r in mine]),
            f"--since-ms={since}",
            hl.LIVE,
        )
        jobs.append(Job(key=f"limit-status:{symbol}", script=hl.HL_SCRIPT, args=argv))
    out: dict[int, dict[str, Any]] = {}
    for result in run_jobs(jobs).values() if jobs else ():
        data = result.data if isinstance(result.data, dict) else {}
        orders = data.get("orders")
        if isinstance(orders, list):
            out.update({int(o["oid"]): o for o in orders if isinstance(o, dict) and o.get("oid")})
    return out


def _apply(
    app: AppState, sc: StrategyConfig, row: dict[str, Any], got: dict[str, Any] | None, cy: Any
) -> list[Trade]:
    """Book the row's new fill, keep its oid in the reconcile ledger, finalize it when off."""
    now_ms = int(cy.epoch * 1000)
    rec.ledger(app.extra, now_ms)["booked"][str(row["order_oid"])] = now_ms
    if got is None or got.get("fills_error"):
        _note(cy, f"[limit] #{row['id']} {row['symbol']}: status not read; next cycle")
        return []
    trades: list[Trade] = []
    total = float(got.get("filled_size") or 0.0)
    if total > row["filled_qty"] + TOLERANCE:
        trade = _book(app, sc, row, got, cy)
        if trade is not None:
            trades.append(trade)
    if got.get("resting") is False:
        how = "cancelled" if row["cancel_requested"] or _expired(row, cy) else "off the book"
        _update(app, row, status="done", error="" if total else how)
        _note(
            cy, f"[limit] #{row['id']} {row['symbol']} done: {row['filled_qty']:g} filled ({how})"
        )
    return trades


def _book(
    app: AppState, sc: StrategyConfig, row: dict[str, Any], got: dict[str, Any], cy: Any
) -> Trade | None:
    """The increment since the last booking, at its own price and fee."""
    total, avg, fee_total = (float(got.get(k) or 0.0) for k in ("filled_size", "avg_px", "fee"))
    extra = dict(row["extra"])
    done_qty = row["filled_qty"]
    done_notional = float(extra.get("booked_notional") or 0.0)
    done_fee = float(extra.get("booked_fee") or 0.0)
    qty = total - done_qty
    px = (total * avg - done_notional) / qty
    fill = {"price": px, "qty": qty, "fee": fee_total - done_fee, "oid": float(row["order_oid"])}
    if not (math.isfinite(px) and px > 0):
        return None
    strat = app.strategies.get(sc.id)
    if strat is None:
        return None
    pos = strat.positions.get(row["symbol"])
    trade: Trade | None
    if pos is None:
        intent = Intent(
            cloid=row["cloid"] or f"limit-{row['id']}",
            strategy_id=sc.id,
            cycle=0,
            leg="manual-limit",
            symbol=row["symbol"],
            side=order_side("open", row["side"]),
            size=qty,
            reduce_only=False,
            purpose="open",
            position_side=row["side"],
            reason=REASON,
            extra={"entry_atr": row["entry_atr"]},
        )
        trade = book_fill(with_stop(sc, extra), strat, intent, fill, cy.stamp, cy.epoch)
    elif str(pos.side) == row["side"]:
        trade = grow(sc, strat, pos, fill, cy.stamp)
    else:
        _alert(
            cy,
            row,
            f"filled {qty:g} while the book holds a {pos.side} position; left to the reconcile",
        )
        trade = None
    extra.update(booked_notional=total * avg, booked_fee=fee_total)
    _update(app, row, filled_qty=total, extra=extra)
    if trade is not None:
        _note(cy, f"[limit] #{row['id']} {row['symbol']} for {sc.id}: booked {qty:g} @ {px:g}")
        cy.book_trades(sc, strat, [trade])
    return trade


def _should_cancel(row: dict[str, Any], cy: Any) -> bool:
    return bool(row["cancel_requested"]) or _expired(row, cy)


def _expired(row: dict[str, Any], cy: Any) -> bool:
    if not row["expires_at"]:
        return False
    try:
        return bool(parse_iso(row["expires_at"]).timestamp() <= float(cy.epoch))
    except ValueError:
        return False


def _cancel(app: AppState, rows: list[dict[str, Any]], run_jobs: Runner, cy: Any) -> None:
    """``--cancel-order`` for each row to cancel; the next cycle's status finalizes it."""
    jobs = {
        r["id"]: Job(
            key=f"limit-cancel:{r['id']}",
            script=hl.HL_SCRIPT,
            args=tuple(hl.cancel_argv(r["symbol"], r["order_oid"])),
            side_effect=True,
        )
        for r in rows
    }
    if not jobs:
        return
    results: dict[str, Result] = {}
    for job in jobs.values():  # one signed action at a time per account (nonces)
        results.update(run_jobs([job]))
    for row in rows:
        answer = results.get(jobs[row["id"]].key)
        data = answer.data if answer is not None and isinstance(answer.data, dict) else {}
        why = "cancel requested" if row["cancel_requested"] else "expired"
        if data.get("cancelled"):
            _note(cy, f"[limit] #{row['id']} {row['symbol']}: cancelled on the venue ({why})")
        else:
            err = data.get("cancel_error") or (answer.error if answer else "") or "no answer"
            _note(
                cy,
                f"[limit] #{row['id']} {row['symbol']}: cancel failed ({err}); retried next cycle",
            )


def _ms(iso: str) -> int:
    try:
        return int(parse_iso(iso).timestamp() * 1000)
    except ValueError:
        return 0


def _alert(cy: Any, row: dict[str, Any], why: str) -> None:
    text = f"MANUAL LIMIT ORDER [{row['strategy_id']}] #{row['id']} {row['symbol']}: {why}"
    cy.events([RiskEvent("manual", text, critical=True)])
    _note(cy, f"[limit] {text}")


def _note(cy: Any, text: str) -> None:
    cy.report.notes.append(text)
    cy.log(text)
