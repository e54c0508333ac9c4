"""``go-trader backfill hl-fees|trade-ledger``: repair live Hyperliquid trade rows from the venue.

Why: a live fill is booked with the fee the order's answer carried; when it was missing (0) or
estimated, the book's fees, P&L and cash drift from the account. Both targets fetch every fill
of the account since the selected strategies' earliest trade minus 10 minutes through the
worker ``shared_scripts/fetch_hl_user_fills.py`` (the supervisor never imports the SDK), match
trade rows by their ``order_id`` and rewrite them; the rules are in
:mod:`supervisor.ops.backfill_plan`:

* ``hl-fees``: fee <- the order's real fee (rows sharing an order split it by quantity); close
  legs keep their gross ``realized_pnl`` (the fee is a separate column here).
* ``trade-ledger``: legacy net rows (``pnl_gross`` False, from before schema v3) become gross
  without moving cash (a close gets back its fee and its position's legacy open fees); then
  matched rows get the fill's VWAP price and value and the real fee, and the close legs of each
  touched position get their gross P&L recomputed from the position's entry (the VWAP of its
  open legs). A second run finds nothing to change. Open positions' ``avg_cost`` is not touched.

Then cash is replayed from the journaled cashflows and every row's ``net_pnl``. Dry run by
default. ``--apply`` takes the supervisor's own state lock (refused while the daemon runs), and
per strategy refuses when replaying the rows as they are does not give the stored cash within
$1 (a change this replay cannot see) unless ``--reset-cash``; everything applied commits in one
transaction. Only live Hyperliquid strategies are touched.

Exit codes: 0 ok, 1 runtime error or refusal, 2 usage.
"""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from shared_tools.paths import REPO_ROOT
from supervisor.ops.backfill_plan import Plan, oid_quantities, plan

if TYPE_CHECKING:
    from collections.abc import Callable

    from shared_tools.config.model import Config, StrategyConfig

EXIT_USAGE = 2
WORKER = "shared_scripts/fetch_hl_user_fills.py"
# Tests point this at a stub (a command line; the worker's flags are appended): no network.
FETCH_CMD_ENV = "GO_TRADER_FETCH_FILLS_CMD"
FETCH_TIMEOUT_S = 300.0
LOOKBACK_MS = 10 * 60 * 1000
CASH_TOLERANCE = 1.0
PLATFORM = "hyperliquid"


class BackfillError(Exception):
    """Why the backfill cannot go on; one line for the operator."""


# -- selection ------------------------------------------------------------------------------


def choose(config: Config, strategy_id: str | None, *, all_: bool) -> list[StrategyConfig]:
    """The live HL strategies to backfill; UsageError for a bad --strategy/--all."""
    from supervisor.ops.inspect import UsageError, select

    if bool(strategy_id) == all_:
        both = " (not both)" if all_ else ""
        raise UsageError(f"backfill: give --strategy <id> or --all{both}")
    chosen = select(config, [strategy_id] if strategy_id else [], all_=all_, what="backfill")
    if not all_ and not is_live_hl(chosen[0]):
        sc = chosen[0]
        raise UsageError(
            f"backfill: strategy {sc.id} is not a live Hyperliquid strategy "
            f"(platform {sc.platform}, {'live' if sc.live else 'paper'}); only those are backfilled"
        )
    return chosen


def is_live_hl(sc: StrategyConfig) -> bool:
    return bool(sc.live) and sc.platform == PLATFORM


# -- fills ----------------------------------------------------------------------------------


def fetch_command() -> list[str]:
    """The worker's command line (without its flags): this python and the repo's script."""
    override = os.environ.get(FETCH_CMD_ENV, "").strip()
    if override:
        return shlex.split(override)
    return [sys.executable, str(REPO_ROOT / WORKER)]


def fetch_fills(since_ms: int, end_ms: int | None = None) -> dict:
    """The account's fills since ``since_ms`` as the worker prints them (BackfillError if not)."""
    cmd = [*fetch_command(), f"--since-ms={since_ms}", "--mode=live"]
    if end_ms is not None:
        cmd.insert(-1, f"--end-ms={end_ms}")
    try:
        proc = subprocess.run(
            cmd,
            cwd=REPO_ROOT,
            capture_output=True,
            text=True,
            timeout=FETCH_TIMEOUT_S,
            check=False,
        )
    except subprocess.TimeoutExpired:
        raise BackfillError(f"{WORKER} timed out after {FETCH_TIMEOUT_S:.0f}s") from None
    except OSError as exc:
        raise BackfillError(f"cannot run {WORKER} ({exc.strerror or exc})") from None
    try:
        doc = json.loads(proc.stdout)
    except ValueError:
        doc = None
    if not isinstance(doc, dict):
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-1:] or ["no output"]
        raise BackfillError(f"{WORKER} failed (exit {proc.returncode}): {tail[0]}")
    if doc.get("error") or proc.returncode != 0:
        raise BackfillError(f"{WORKER}: {doc.get('error') or f'exit {proc.returncode}'}")
    if not isinstance(doc.get("by_oid"), dict):
        raise BackfillError(f"{WORKER} printed no by_oid map")
    return doc


def epoch_ms(timestamp: str) -> int:
    from supervisor.state.models import parse_iso

    return int(parse_iso(timestamp).timestamp() * 1000)


# -- state ----------------------------------------------------------------------------------


def read_book(engine, ids: list[str]) -> tuple[dict, dict, dict, list[dict]]:
    """(strategy rows, trades by strategy, cashflows by strategy, every order-id row)."""
    from sqlalchemy import select

    from supervisor.state.rows import cashflows, strategies, trades

    with engine.connect() as conn:
        strats = {r.id: r for r in conn.execute(select(strategies).where(strategies.c.id.in_(ids)))}
        by_sid: dict[str, list[dict]] = {sid: [] for sid in ids}
        q = select(trades).where(trades.c.strategy_id.in_(ids))
        for r in conn.execute(q.order_by(trades.c.timestamp, trades.c.rowid)):
            by_sid[r.strategy_id].append(dict(r._mapping))
        flows: dict[str, list[tuple[float, str]]] = {sid: [] for sid in ids}
        q = select(cashflows).where(cashflows.c.strategy_id.in_(ids)).order_by(cashflows.c.id)
        for r in conn.execute(q):
            flows[r.strategy_id].append((float(r.amount), str(r.reason)))
        with_oid = [
            dict(r._mapping) for r in conn.execute(select(trades).where(trades.c.order_id != ""))
        ]
    return strats, by_sid, flows, with_oid


def write(engine, plans: list[Plan]) -> None:
    """Every plan's rows and cash in ONE transaction."""
    from sqlalchemy import update

    from supervisor.state.rows import strategies, trades

    with engine.begin() as conn:
        for p in plans:
            for c in p.changes:
                conn.execute(update(trades).where(trades.c.rowid == c.rowid).values(**c.new))
            conn.execute(
                update(strategies).where(strategies.c.id == p.strategy_id).values(cash=p.cash_after)
            )


# -- output ---------------------------------------------------------------------------------


def _num(x: float) -> str:
    return f"{x:,.6f}".rstrip("0").rstrip(".") if abs(x) < 1 else f"{x:,.2f}"


def describe(p: Plan, *, verbose_rows: bool = True) -> list[str]:
    """The plan as lines: a summary, then one line per changed row."""
    fees = p.fee_after - p.fee_before
    head = (
        f"{p.strategy_id}: {len(p.changes)} row(s) change ({p.matched} matched by order id); "
        f"fees {_num(p.fee_before)} -> {_num(p.fee_after)} ({fees:+,.6g}); "
        f"cash {p.cash_stored:,.2f} -> {p.cash_after:,.2f}"
    )
    lines = [head]
    if p.skipped_legacy:
        lines.append(
            f"  {p.skipped_legacy} matched legacy net row(s) left as they are; "
            "run `go-trader backfill trade-ledger` to convert them"
        )
    if abs(p.cash_drift) > CASH_TOLERANCE:
        lines.append(
            f"  stored cash {p.cash_stored:,.2f} != replay of the current rows "
            f"{p.cash_replayed:,.2f} (off by {p.cash_drift:+,.2f}); --apply needs --reset-cash"
        )
    if verbose_rows:
        for c in p.changes:
            r = c.row
            what = "; ".join(f"{k} {_fmt(r[k])} -> {_fmt(v)}" for k, v in c.new.items())
            kind = "close" if r["is_close"] else "open"
            lines.append(
                f"  row {c.rowid} {r['timestamp']} {r['symbol']} {r['side']} {kind} "
                f"oid {r['order_id'] or '-'}: {what}"
            )
    return lines


def _fmt(v: object) -> str:
    return str(bool(v)) if isinstance(v, bool) else f"{float(v):.10g}"  # type: ignore[arg-type]


# -- the command ----------------------------------------------------------------------------


def run(
    config: Config,
    target: str,
    strategy_id: str | None,
    *,
    all_: bool,
    apply: bool,
    reset_cash: bool,
    echo: Callable[..., None],
) -> int:
    """Backfill ``target`` for the chosen strategies; return the exit code."""
    from supervisor.ops.inspect import UsageError

    try:
        chosen = choose(config, strategy_id, all_=all_)
    except UsageError as exc:
        echo(str(exc), err=True)
        return EXIT_USAGE
    for sc in chosen:
        if not is_live_hl(sc):
            echo(f"{sc.id}: skipped (not a live Hyperliquid strategy)")
    ids = [sc.id for sc in chosen if is_live_hl(sc)]
    if not ids:
        echo(f"backfill {target}: no live Hyperliquid strategy in {config.path}; nothing to do")
        return 0
    db_file = Path(config.db_file)
    if not db_file.is_file():
        echo(f"backfill {target}: state DB {db_file} does not exist (check db_file)", err=True)
        return 1
    lock = None
    if apply:
        from supervisor.service.lock import AlreadyRunning, acquire_lock

        try:
            lock = acquire_lock(db_file)
        except AlreadyRunning as exc:
            echo(
                f"backfill {target}: the supervisor is running (it holds {exc.lock_path}); "
                "stop it first",
                err=True,
            )
            return 1
    try:
        return _run_locked(db_file, target, ids, apply=apply, reset_cash=reset_cash, echo=echo)
    except BackfillError as exc:
        echo(f"backfill {target}: {exc}", err=True)
        return 1
    finally:
        if lock is not None:
            lock.release()


def _run_locked(
    db_file: Path,
    target: str,
    ids: list[str],
    *,
    apply: bool,
    reset_cash: bool,
    echo: Callable[..., None],
) -> int:
    from supervisor.state.db import StateDB, StateError

    try:
        db = StateDB.open_readonly(db_file)
    except StateError as exc:
        raise BackfillError(str(exc)) from None
    try:
        strats, by_sid, flows, with_oid = read_book(db.engine, ids)
    finally:
        db.close()
    stamps = [r["timestamp"] for rows in by_sid.values() for r in rows]
    if not stamps:
        echo(f"backfill {target}: no trades stored for {', '.join(ids)}; nothing to do")
        return 0
    since_ms = epoch_ms(min(stamps)) - LOOKBACK_MS
    doc = fetch_fills(since_ms)
    by_oid = {str(k): v for k, v in doc["by_oid"].items() if isinstance(v, dict)}
    since = datetime.fromtimestamp(since_ms / 1000, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    mode = "apply" if apply else "dry run"
    echo(
        f"backfill {target} ({mode}): {doc.get('count', 0)} fill(s) in {len(by_oid)} order(s) "
        f"since {since}"
    )
    if not doc.get("count"):
        echo(f"warning: {doc.get('warning') or 'the worker returned no fills'}")
    qty_by_oid = oid_quantities(with_oid)
    plans, refused = [], []
    for sid in ids:
        srow = strats.get(sid)
        if srow is None:
            echo(f"{sid}: no state stored yet; skipped")
            continue
        p = plan(
            target,
            sid,
            by_sid[sid],
            by_oid,
            qty_by_oid,
            cash=float(srow.cash),
            initial_capital=float(srow.initial_capital),
            flows=flows[sid],
        )
        for line in describe(p):
            echo(line)
        if not p.changes and not p.cash_changes:
            continue
        if abs(p.cash_drift) > CASH_TOLERANCE and not reset_cash:
            refused.append(sid)
            continue
        plans.append(p)
    if not apply:
        echo("dry run: nothing written; add --apply to write (the supervisor must be stopped)")
        return 0
    if plans:
        db = StateDB(db_file)  # same schema (checked above): opens without an upgrade
        try:
            write(db.engine, plans)
        finally:
            db.close()
    if plans:
        rows = sum(len(p.changes) for p in plans)
        done = ", ".join(p.strategy_id for p in plans)
        echo(f"backfill {target}: applied {rows} row change(s) and the cash of {done}")
    else:
        echo(f"backfill {target}: nothing applied")
    if refused:
        echo(
            f"backfill {target}: refused {', '.join(refused)}: stored cash does not match the "
            "replay of its trades within $1; rerun with --reset-cash to set it to the replay",
            err=True,
        )
        return 1
    return 0
