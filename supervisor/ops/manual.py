"""go-trader manual-open / manual-add / manual-close / manual-update-sl / manual-cancel-sl /
manual-cancel / force-close: the operator's own Hyperliquid orders (upstream §4).

Never twice: each command holds ``<db_file>.manual-action.lock`` from its guard reads until
the venue answered and the answer is on disk; its queue row (``sending``, carrying the
order's client order id) is committed BEFORE the order leaves, so a crash at any instant is
resolved by the daemon asking the venue for that cloid, never by sending again
(supervisor/live/manual_queue.py books the rows). Exit codes: 0 ok, 1 refused or failed,
2 usage.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from shared_tools.config.model import Config, StrategyConfig
from shared_tools.paths import REPO_ROOT
from supervisor.live import argv as hl
from supervisor.live.fills import fill_of
from supervisor.live.manual_queue import action_lock, lock_path, order_side, venue_calls
from supervisor.ops.manual_state import (
    ManualError,
    StateDB,
    View,
    insert_row,
    open_db,
    read_view,
    refuse_limits,
    refuse_queued,
    refuse_risk,
    update_row,
)
from supervisor.run.jobs import Job, Result
from supervisor.run.results import read_prices
from supervisor.run.workers import PRICE_SCRIPT, price_argv, worker_env

Echo = Callable[[str], None]
ORDER_TIMEOUT_S = 60.0
FORCE_CLOSE = ("hyperliquid", "okx")  # live perps venues force-close reaches (OKX: swaps)
MAX_ATR_SHARE = 0.5  # an ATR above half the price is a typo, not a market


class Desk:
    """One command's strategy, state DB and worker runner."""

    def __init__(self, config: Config, sc: StrategyConfig, echo: Echo) -> None:
        self.config, self.sc, self.echo = config, sc, echo
        self.db: StateDB = open_db(config)

    def close(self) -> None:
        self.db.close()

    def run(
        self, key: str, argv: list[str], side_effect: bool = False, script: str = hl.HL_SCRIPT
    ) -> Result:
        from supervisor.run.executor import Executor

        ex = Executor(
            REPO_ROOT, timeout_s=ORDER_TIMEOUT_S, batching=False, env=worker_env(self.config)
        )
        return ex.run_one(Job(key=key, script=script, args=tuple(argv), side_effect=side_effect))

    def mark(self) -> float:
        from supervisor.run.executor import Executor

        ex = Executor(REPO_ROOT, timeout_s=30.0, batching=False, env=worker_env(self.config))
        job = Job(
            key="price",
            script=PRICE_SCRIPT,
            args=tuple(price_argv("hyperliquid", [self.sc.symbol])),
        )
        price = read_prices(ex.run_one(job).data).get(self.sc.symbol)
        if not price:
            raise ManualError(
                f"error: no Hyperliquid mark for {self.sc.symbol}; give --size, or retry"
            )
        return price

    def atr(self, price: float) -> float:
        r = self.run(
            "atr",
            ["--fetch-atr", f"--symbol={self.sc.symbol}", f"--timeframe={self.sc.timeframe}"],
        )
        atr = r.data.get("atr") if isinstance(r.data, dict) else None
        if isinstance(atr, (int, float)) and 0 < atr < MAX_ATR_SHARE * price:
            return float(atr)
        fallback = 0.1 * price / max(self.sc.leverage, 1.0)  # upstream's fallback
        self.echo(f"warning: ATR not read ({r.error or 'no atr'}); using {fallback:.6g}")
        return fallback

    def locked(self, what: str) -> Any:
        return _Locked(self.config, what)

    def send(self, rid: int, cloid: str, argv: list[str]) -> dict[str, float]:
        """Send the order of row ``rid`` and record its outcome; returns the fill. The venue's
        worker (HL, or a live OKX swap's close worker) is the strategy's; a non-HL order id
        is not kept (the row's oid is HL's, read by its reconcile): the cloid finds it."""
        script, status_script, status = venue_calls(self.sc, cloid, self.sc.symbol)
        r = self.run(f"manual:{rid}", argv, side_effect=True, script=script)
        fill = fill_of(r.data)
        if fill is None:  # refused, or lost: the venue says which, by the cloid
            check = self.run(f"status:{rid}", status, script=status_script)
            data = check.data if isinstance(check.data, dict) else {}
            fill = fill_of(data)
            if fill is None:
                return self._no_fill(rid, r, check, str(data.get("status") or ""))
        fee = fill["fee"] if math.isfinite(fill["fee"]) else 0.0
        hl_oid = self.sc.platform == "hyperliquid" and math.isfinite(fill["oid"])
        oid = int(fill["oid"]) if hl_oid else 0
        update_row(
            self.db,
            rid,
            status="filled",
            fill_price=fill["price"],
            fill_qty=fill["qty"],
            fee=fee,
            oid=oid,
        )
        return {**fill, "fee": fee, "oid": oid}

    def _no_fill(self, rid: int, r: Result, check: Result, status: str) -> dict[str, float]:
        data = r.data if isinstance(r.data, dict) else {}
        why = str(data.get("error") or r.error or status or "no fill")[:300]
        # Failed only when the venue answered the order itself (a timeout may still land):
        answered = why.startswith(("order not filled", "close not filled")) or bool(
            data.get("already_flat")
        )
        if answered and check.ok and status in ("unknown", "canceled", "rejected"):
            update_row(self.db, rid, status="failed", error=why)
            raise ManualError(f"error: order not filled: {why} (queue row #{rid}, kept as failed)")
        raise ManualError(
            f"error: the order's outcome is not known ({why}); queue row #{rid} stays 'sending' "
            "and the daemon resolves it by its client order id next cycle — do not resend"
        )


class _Locked:
    def __init__(self, config: Config, what: str) -> None:
        self.cm = action_lock(config.db_file)
        self.path, self.what = lock_path(config.db_file), what

    def __enter__(self) -> None:
        if not self.cm.__enter__():
            self.cm.__exit__(None, None, None)
            raise ManualError(
                f"error: another manual action holds {self.path} — {self.what} refusing to "
                "avoid double-firing an on-chain order; retry when it finished"
            )

    def __exit__(self, *exc: object) -> None:
        self.cm.__exit__(None, None, None)


def strategy(config: Config, sid: str, *, manual: bool = True) -> StrategyConfig:
    sc = next((s for s in config.strategies if s.id == sid), None)
    if sc is None:
        raise ManualError(f"error: no strategy {sid!r} in {config.path}; check the id", 2)
    if manual and sc.type != "manual":
        raise ManualError(
            f"error: {sid} is type {sc.type}, not manual; manual commands trade manual strategies only (force-close closes live perps)"
        )
    if not manual and not (sc.type == "perps" and sc.platform in FORCE_CLOSE and sc.live):
        raise ManualError(
            f"error: force-close is for live Hyperliquid perps and live OKX swap strategies; {sid} is not (use manual-close for manual ones)"
        )
    return sc


def open_position(
    config: Config,
    sid: str,
    echo: Echo,
    *,
    add: bool,
    side: str | None,
    size: float | None,
    notional: float | None,
    margin: float | None,
    atr: float | None,
    stop: dict[str, float],
    record_only: bool,
    fill_price: float | None,
    dry_run: bool,
) -> None:
    """manual-open / manual-add: size, guards, the queued row, then the order."""
    what = "manual-add" if add else "manual-open"
    if sum(x is not None for x in (size, notional, margin)) > 1:
        raise ManualError(f"error: {what}: give one of --size, --notional, --margin", 2)
    if record_only and (size is None or fill_price is None):
        raise ManualError(f"error: {what} --record-only needs --size and --fill-price", 2)
    if fill_price is not None and not record_only:
        raise ManualError(f"error: {what}: --fill-price goes only with --record-only", 2)
    sc = strategy(config, sid)
    d = Desk(config, sc, echo)
    try:
        view = read_view(d.db, sc)
        side = _side(view, sc, side or (None if add else config.manual_defaults.side), add, what)
        price = fill_price if record_only else d.mark()
        assert price is not None
        qty = size or (notional or (margin or sc.margin_per_trade_usd) * sc.leverage) / price
        if atr is None and not add:
            atr = d.atr(price)
        if atr is not None and not (0 < atr < MAX_ATR_SHARE * price):
            raise ManualError(
                f"error: --atr {atr:g} must be > 0 and under half the price {price:g}", 2
            )
        order = order_side("add" if add else "open", side)
        plan = f"{what} {sid}: {order} {qty:.6g} {sc.symbol} ({side}, ~${qty * price:,.2f} notional at {price:g})"
        if dry_run:
            _guards_open(view, sc, what, add)
            echo(f"dry run: {plan}; nothing sent")
            return
        with d.locked(what):
            view = read_view(d.db, sc)
            _guards_open(view, sc, what, add)
            row = dict(
                strategy_id=sid,
                action="add" if add else "open",
                symbol=sc.symbol,
                side=side,
                qty=qty,
                entry_atr=atr or 0.0,
                extra_json=dict(stop),
            )
            if record_only:
                row["extra_json"]["record_only"] = True
                rid, _ = insert_row(
                    d.db, view.salt, status="filled", fill_price=price, fill_qty=qty, **row
                )
                echo(
                    f"{plan}: recorded as queue row #{rid} (no order sent; place the stop-loss on the venue yourself or let the next cycle's protection sync do it)"
                )
                return
            rid, cloid = insert_row(d.db, view.salt, status="sending", **row)
            argv = [
                "--execute",
                f"--symbol={sc.symbol}",
                f"--side={order}",
                hl.LIVE,
                f"--cloid={cloid}",
                f"--size={qty!r}",
            ]
            if not add:
                argv += [f"--margin-mode={sc.margin_mode}", f"--leverage={sc.leverage!r}"]
            fill = d.send(rid, cloid, argv)
        echo(
            f"{what} {sid}: {order} {fill['qty']:g} {sc.symbol} @ {fill['price']:g} (fee {fill['fee']:g}, "
            f"oid {int(fill['oid'])}); queue row #{rid}: the daemon books it and arms the stop and targets next cycle"
        )
    finally:
        d.close()


def _side(view: View, sc: StrategyConfig, side: str | None, add: bool, what: str) -> str:
    if not add:
        return side or "long"
    if view.position is None:
        raise ManualError(
            f"error: {sc.id} holds no {sc.symbol} position — {what} needs one (use manual-open)"
        )
    held = str(view.position.side)
    if side and side != held:
        raise ManualError(
            f"error: {what} --side {side} differs from the {held} position; close it first", 2
        )
    return held


def _guards_open(view: View, sc: StrategyConfig, what: str, add: bool) -> None:
    refuse_risk(view, sc, what)
    if not add and view.position is not None:
        p = view.position
        raise ManualError(
            f"error: {sc.id} already holds {p.side} {p.quantity:g} {sc.symbol} — {what} refused (use manual-add)"
        )
    refuse_queued(view, sc, what)
    refuse_limits(view, sc, what)
