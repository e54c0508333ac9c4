"""go-trader manual-open --limit-price / manual-cancel: the operator's resting limit orders
(upstream §4.3-4.4).

Never twice, as the market opens (supervisor/ops/manual.py): under the manual-action lock the
row (``placing``, with the order's client order id) is committed BEFORE ``--limit-open``
leaves; the answer records the order id (``resting``), a fill at once (``filled``, a GTC that
crossed) or ``failed``. A lost answer is asked of the venue by the cloid; when it still is not
known the row stays ``placing`` and the daemon resolves it (supervisor/live/limit_orders.py),
which also books every fill at the venue's numbers and cancels the order when asked or
expired. No stop or target is placed here: the daemon protects the position once it fills.
"""

from __future__ import annotations

import re
from datetime import timedelta

from shared_tools.clock import now_utc
from shared_tools.config.model import Config
from supervisor.live import argv as hl
from supervisor.live.fills import fill_of
from supervisor.live.manual_queue import order_side
from supervisor.ops.manual import MAX_ATR_SHARE, Desk, Echo, strategy
from supervisor.ops.manual_state import (
    ManualError,
    insert_limit,
    read_view,
    refuse_limits,
    refuse_queued,
    refuse_risk,
    request_cancel,
    update_limit,
)
from supervisor.run.jobs import Result
from supervisor.state.models import utc_iso

TIFS = ("Alo", "Gtc")
_DURATION = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|ms|s|m|h)")
_UNIT_S = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}


def parse_duration(text: str) -> float:
    """A Go duration (``30m``, ``2h``, ``1h30m``, ``0``) in seconds; ValueError otherwise."""
    raw = text.strip()
    if raw in ("0", ""):
        return 0.0
    pos, total = 0, 0.0
    for m in _DURATION.finditer(raw):
        if m.start() != pos:
            break
        total += float(m.group(1)) * _UNIT_S[m.group(2)]
        pos = m.end()
    if pos != len(raw) or pos == 0:
        raise ValueError(raw)
    return total


def open_limit(
    config: Config,
    sid: str,
    echo: Echo,
    *,
    side: str | None,
    size: float | None,
    notional: float | None,
    margin: float | None,
    atr: float | None,
    stop: dict[str, float],
    limit_price: float,
    tif: str,
    expire_after: str,
    dry_run: bool,
) -> None:
    """manual-open --limit-price: sized at the limit price, the row first, then the order."""
    what = "manual-open --limit-price"
    if sum(x is not None for x in (size, notional, margin)) > 1:
        raise ManualError(f"error: {what}: give one of --size, --notional, --margin", 2)
    if tif not in TIFS:
        raise ManualError(f"error: --tif {tif} must be Alo (post-only) or Gtc", 2)
    try:
        ttl = parse_duration(expire_after)
    except ValueError:
        raise ManualError(
            f"error: --expire-after {expire_after!r} is not a duration; use e.g. 30m, 2h or 0 (never)",
            2,
        ) from None
    sc = strategy(config, sid)
    side = side or config.manual_defaults.side
    qty = size or (notional or (margin or sc.margin_per_trade_usd) * sc.leverage) / limit_price
    order = order_side("open", side)
    plan = (
        f"{what} {sid}: {tif} {order} {qty:.6g} {sc.symbol} @ {limit_price:g} ({side}, "
        f"~${qty * limit_price:,.2f} notional"
        + (f", expires after {expire_after})" if ttl else ", no expiry)")
    )
    d = Desk(config, sc, echo)
    try:
        if atr is None:
            atr = d.atr(limit_price)
        if not 0 < atr < MAX_ATR_SHARE * limit_price:
            raise ManualError(
                f"error: --atr {atr:g} must be > 0 and under half the limit price {limit_price:g}",
                2,
            )
        if dry_run:
            _guards(d, what)
            echo(f"dry run: {plan}; nothing sent")
            return
        with d.locked(what):
            salt = _guards(d, what)
            now = now_utc()
            rid, cloid = insert_limit(
                d.db,
                salt,
                strategy_id=sid,
                symbol=sc.symbol,
                side=side,
                limit_price=limit_price,
                order_size=qty,
                tif=tif,
                entry_atr=atr,
                created_at=utc_iso(now),
                expires_at=utc_iso(now + timedelta(seconds=ttl)) if ttl else "",
                status="placing",
                extra_json=dict(stop),
            )
            argv = [
                "--limit-open",
                f"--symbol={sc.symbol}",
                f"--side={order}",
                f"--size={qty!r}",
                f"--limit-price={limit_price!r}",
                f"--tif={tif}",
                hl.LIVE,
                f"--cloid={cloid}",
                f"--margin-mode={sc.margin_mode}",
                f"--leverage={sc.leverage!r}",
            ]
            r = d.run(f"manual-limit:{rid}", argv, side_effect=True)
            line = _record(d, rid, cloid, r)
        echo(f"{plan}: {line}; limit row #{rid}")
    finally:
        d.close()


def _guards(d: Desk, what: str) -> str:
    """The open guards (risk latches, a position, a queued action, a resting limit); the salt."""
    view = read_view(d.db, d.sc)
    refuse_risk(view, d.sc, what)
    if view.position is not None:
        p = view.position
        raise ManualError(
            f"error: {d.sc.id} already holds {p.side} {p.quantity:g} {d.sc.symbol} — {what} refused"
        )
    refuse_queued(view, d.sc, what)
    refuse_limits(view, d.sc, what)
    return view.salt


def _record(d: Desk, rid: int, cloid: str, r: Result) -> str:
    """Record the venue's answer on row ``rid``; returns what happened, or raises."""
    data = r.data if isinstance(r.data, dict) else {}
    status, oid = str(data.get("status") or ""), data.get("order_oid")
    if status in ("resting", "filled") and isinstance(oid, int) and oid > 0:
        values: dict[str, object] = {"status": status, "order_oid": oid}
        for key, col in (("limit_price", "limit_price"), ("size", "order_size")):
            if isinstance(data.get(key), (int, float)) and data[key] > 0:
                values[col] = float(data[key])  # as the venue rounded it
        update_limit(d.db, rid, **values)
        if status == "filled":
            return f"filled at once (oid {oid}): the daemon books it and arms the stop next cycle"
        return f"resting (oid {oid}): the daemon books its fills and protects them"
    check = d.run(f"status:limit:{rid}", hl.order_status_argv(cloid))
    known = check.data if isinstance(check.data, dict) else {}
    word = str(known.get("status") or "")
    if isinstance(known.get("oid"), int) and word in ("resting", "filled", "canceled"):
        update_limit(d.db, rid, status="resting", order_oid=int(known["oid"]))
        fill = fill_of(known)
        return (
            f"{word} (oid {known['oid']}{', filled ' + format(fill['qty'], 'g') if fill else ''})"
        )
    why = str(data.get("error") or r.error or word or "no answer")[:300]
    if data and check.ok and word in ("unknown", "rejected"):  # the worker answered: refused
        update_limit(d.db, rid, status="failed", error=why)
        raise ManualError(
            f"error: limit order not placed: {why} (limit row #{rid}, kept as failed)"
        )
    raise ManualError(
        f"error: the limit order's outcome is not known ({why}); limit row #{rid} stays 'placing' "
        "and the daemon resolves it by its client order id next cycle — do not resend"
    )


def cancel_limits(config: Config, sid: str, echo: Echo) -> None:
    """manual-cancel: flag the strategy's resting limit orders; the daemon cancels them."""
    sc = strategy(config, sid)
    d = Desk(config, sc, echo)
    try:
        with d.locked("manual-cancel"):
            rows = request_cancel(d.db, sid)
    finally:
        d.close()
    if not rows:
        echo(f"manual-cancel {sid}: no resting limit order")
        return
    names = ", ".join(f"#{r['id']} {r['tif']} @ {r['limit_price']:g}" for r in rows)
    echo(f"manual-cancel {sid}: cancel requested for {names}; the daemon cancels next cycle")
