"""go-trader manual-close / force-close / manual-update-sl / manual-cancel-sl: orders that
shrink a position or move its stop, under the same lock and queue as the opens
(supervisor/ops/manual.py).

Closes are always reduce-only (a close can never open the other side); a full close by the
coin's sole live owner closes the whole on-chain size (``--close-full-position``, no dust) and
cancels the position's resting stop and targets first; on a shared coin the close is sized to
the strategy's own quantity, so a peer's exposure is never touched (upstream #619/#620).
"""

from __future__ import annotations

from shared_tools.config.model import Config
from supervisor.live import argv as hl
from supervisor.live import argv_okx
from supervisor.live.decide import owners, protection_oids
from supervisor.live.manual_queue import order_side
from supervisor.live.venues import venue_cloid
from supervisor.ops.manual import Desk, Echo, strategy
from supervisor.ops.manual_state import (
    ManualError,
    insert_row,
    read_view,
    refuse_queued,
    update_row,
)

TOLERANCE = 1e-12


def close_position(
    config: Config, sid: str, echo: Echo, *, qty: float | None, dry_run: bool, force: bool
) -> None:
    """manual-close (manual strategies) or force-close (live HL perps, live OKX swaps: their
    reduce-only close worker, ``close_okx_position.py``, with the row's cloid)."""
    what = "force-close" if force else "manual-close"
    sc = strategy(config, sid, manual=not force)
    d = Desk(config, sc, echo)
    try:
        with d.locked(what):
            view = read_view(d.db, sc)
            pos = view.position
            if pos is None:
                raise ManualError(
                    f"error: {sid} holds no {sc.symbol} position (already flat) — nothing to close"
                )
            if qty is not None and not 0 < qty <= pos.quantity + TOLERANCE:
                raise ManualError(
                    f"error: --qty {qty:g} must be > 0 and at most the position's {pos.quantity:g}",
                    2,
                )
            size = min(qty or pos.quantity, pos.quantity)
            full = size >= pos.quantity - TOLERANCE
            refuse_queued(view, sc, what)
            side = str(pos.side)
            order = order_side("close", side)
            whole = full and owners(config, sc.symbol, sc.platform) == [sid]
            cancels = protection_oids(pos) if full else []
            plan = (
                f"{what} {sid}: {order} {size:g} {sc.symbol} reduce-only"
                + (" (whole on-chain position)" if whole else "")
                + (f", cancelling orders {cancels}" if cancels else "")
            )
            if dry_run:
                echo(f"dry run: {plan}; nothing sent")
                return
            rid, cloid = insert_row(
                d.db,
                view.salt,
                status="sending",
                strategy_id=sid,
                action="close",
                symbol=sc.symbol,
                side=side,
                qty=size,
                extra_json={"reason": "force_close" if force else "manual", "cancel_oids": cancels},
            )
            if sc.platform == "okx":  # the swap's reduce-only close worker, OKX's cloid form
                vc = venue_cloid("okx", cloid)
                argv = argv_okx.swap_close_argv(sc.symbol, None if whole else size, vc)
            else:
                argv = [
                    "--execute",
                    f"--symbol={sc.symbol}",
                    f"--side={order}",
                    hl.LIVE,
                    f"--cloid={cloid}",
                    "--reduce-only",
                ]
                argv.append("--close-full-position" if whole else f"--size={size!r}")
                argv += [f"--cancel-stop-loss-oid={o}" for o in cancels]
            fill = d.send(rid, cloid, argv)
        echo(
            f"{what} {sid}: {order} {fill['qty']:g} {sc.symbol} @ {fill['price']:g} (fee {fill['fee']:g}, "
            f"cloid {cloid}); queue row #{rid}: the daemon books it next cycle"
        )
    finally:
        d.close()


def update_stop(
    config: Config, sid: str, echo: Echo, *, trigger: float, symbol: str | None, dry_run: bool
) -> None:
    """manual-update-sl: replace the resting stop (the old oid is cancelled first)."""
    sc = strategy(config, sid)
    _symbol(sc.symbol, symbol)
    if sc.trailing_stop_pct or sc.trailing_stop_atr_mult:
        raise ManualError(
            f"error: {sid} trails its stop, which would move it back; remove the trailing stop from the config first"
        )
    if not trigger > 0:
        raise ManualError("error: --trigger must be a price > 0", 2)
    d = Desk(config, sc, echo)
    try:
        mark = d.mark()
        with d.locked("manual-update-sl"):
            view = read_view(d.db, sc)
            pos = view.position
            if pos is None:
                raise ManualError(f"error: {sid} holds no {sc.symbol} position — no stop to move")
            if (trigger >= mark) if pos.side == "long" else (trigger <= mark):
                raise ManualError(
                    f"error: --trigger {trigger:g} would fire at once against the mark {mark:g} "
                    f"for a {pos.side}; a {pos.side} stop goes {'below' if pos.side == 'long' else 'above'} it"
                )
            refuse_queued(view, sc, "manual-update-sl")
            old = pos.guard.stop_oid
            if dry_run:
                echo(
                    f"dry run: manual-update-sl {sid}: stop {pos.guard.stop:g} -> {trigger:g} (old order {old}); nothing sent"
                )
                return
            rid, cloid = insert_row(
                d.db,
                view.salt,
                status="sending",
                strategy_id=sid,
                action="update-sl",
                symbol=sc.symbol,
                side=str(pos.side),
                qty=pos.quantity,
                trigger=trigger,
            )
            argv = [
                "--update-stop-loss",
                f"--symbol={sc.symbol}",
                f"--side={pos.side}",
                f"--size={pos.quantity!r}",
                f"--trigger-px={trigger!r}",
                f"--sl-cloid={cloid}",
                hl.LIVE,
            ]
            if old:
                argv.append(f"--cancel-stop-loss-oid={old}")
            r = d.run(f"manual:{rid}", argv, side_effect=True)
            data = r.data if isinstance(r.data, dict) else {}
            oid = data.get("stop_loss_oid")
            if isinstance(oid, int) and oid > 0:
                px = float(data.get("stop_loss_trigger_px") or trigger)
                update_row(d.db, rid, status="filled", oid=oid, trigger=px)
                echo(f"manual-update-sl {sid}: stop {px:g} resting (oid {oid}); queue row #{rid}")
                return
            why = str(
                data.get("stop_loss_error")
                or data.get("cancel_stop_loss_error")
                or data.get("error")
                or r.error
                or "no stop placed"
            )
            if data.get("cancel_stop_loss_succeeded"):
                why = f"UNPROTECTED: the old stop was cancelled but the new one failed: {why}"
            else:
                why = f"previous stop-loss still resting: {why}"
            update_row(d.db, rid, status="failed", error=why[:500])
            raise ManualError(f"error: {why} (queue row #{rid})")
    finally:
        d.close()


def cancel_stop(config: Config, sid: str, echo: Echo, *, symbol: str | None, dry_run: bool) -> None:
    """manual-cancel-sl: cancel the resting stop; the book keeps no stop afterwards."""
    sc = strategy(config, sid)
    _symbol(sc.symbol, symbol)
    d = Desk(config, sc, echo)
    try:
        with d.locked("manual-cancel-sl"):
            view = read_view(d.db, sc)
            pos = view.position
            if pos is None or not pos.guard.stop_oid:
                raise ManualError(f"error: {sid} has no resting {sc.symbol} stop-loss to cancel")
            refuse_queued(view, sc, "manual-cancel-sl")
            oid = pos.guard.stop_oid
            if dry_run:
                echo(f"dry run: manual-cancel-sl {sid}: cancel stop order {oid}; nothing sent")
                return
            rid, _ = insert_row(
                d.db,
                view.salt,
                status="sending",
                strategy_id=sid,
                action="cancel-sl",
                symbol=sc.symbol,
                side=str(pos.side),
                oid=oid,
            )
            r = d.run(f"manual:{rid}", hl.cancel_argv(sc.symbol, oid), side_effect=True)
            data = r.data if isinstance(r.data, dict) else {}
            if data.get("cancelled"):
                update_row(d.db, rid, status="filled")
                echo(
                    f"manual-cancel-sl {sid}: stop order {oid} cancelled; {sc.symbol} is UNPROTECTED until you set one (queue row #{rid})"
                )
                return
            why = str(data.get("cancel_error") or data.get("error") or r.error or "not cancelled")
            update_row(
                d.db, rid, status="failed", error=f"cancel failed (it may have filled): {why}"[:500]
            )
            raise ManualError(
                f"error: stop order {oid} not cancelled (it may have filled): {why} (queue row #{rid})"
            )
    finally:
        d.close()


def _symbol(own: str, given: str | None) -> None:
    if given and given.upper() != own.upper():
        raise ManualError(f"error: --symbol {given} is not the strategy's symbol {own}", 2)
