"""Turn what a cycle did to a live strategy's virtual book into orders, and undo it.

The cycle decides for live strategies exactly as for paper (signals, flips, partial closes,
breakers, the kill switch), booking at the mark. For real money that booking is only a
wish: :func:`orders_from_cycle` compares each live strategy with its state before the
cycle, turns every change of a position into an order (an :class:`Intent`), and puts the
book back as it was (cash, positions, trade count, the day's P&L and loss streak), keeping
what the cycle decided about risk (a breaker's latch, peaks). The fills, when the venue
reports them, are booked by :mod:`supervisor.live.fills` at the venue's numbers.

Closes are always reduce-only (a close can never open the other side, upstream's #1009),
a full close by the coin's sole live owner closes the whole on-chain size (no dust left) and
cancels the position's resting stop and targets first; a flip is two orders, close then open.
A scale-in add (book/scale_in.py) is a same-side order that is not reduce-only, sized as the
add; the protection sync then grows the resting stop to the new size in the same cycle.
A strategy whose breaker is latched while it still holds a position gets its close again every
cycle until the venue confirms it (upstream #356), and so does every position the kill switch
flattened.
"""

from __future__ import annotations

import binascii
import copy

from shared_tools.book.model import Position
from shared_tools.config.model import Config, StrategyConfig
from shared_tools.domain import Reason, Side
from supervisor.live.venues import HL, venue_cloid
from supervisor.state.models import Intent, StrategyState, Trade

SALT_KEY = "live_cloid_salt"


def cloid_for(salt: str, strategy_id: str, cycle: int, leg: str) -> str:
    """The client order id of one leg of one strategy's cycle: stable across restarts (a re-run
    of the same leg carries the same id, which the venue refuses twice), distinct per book.

    16 bytes: the book's random salt (4), the strategy and leg (8, two CRC-32s: no hashlib,
    which would load OpenSSL into the supervisor) and the cycle (4).
    """
    name = f"{strategy_id}|{leg}".encode()
    head = int(salt[:8] or "0", 16) & 0xFFFFFFFF
    a, b = binascii.crc32(name), binascii.crc32(b"go-trader|" + name)
    return f"0x{head:08x}{a:08x}{b:08x}{cycle & 0xFFFFFFFF:08x}"


def owners(config: Config, symbol: str, platform: str) -> list[str]:
    """Live strategies trading ``symbol`` on ``platform`` (the coin's on-chain owners)."""
    return [
        sc.id
        for sc in config.live_strategies
        if sc.platform == platform and sc.symbol.upper() == symbol.upper()
    ]


def protection_oids(pos: Position) -> list[int]:
    return [o for o in [pos.guard.stop_oid, *pos.guard.target_oids] if o > 0]


def orders_from_cycle(
    config: Config,
    strategies: dict[str, StrategyState],
    before: dict[str, StrategyState],
    trades: list[Trade],
    *,
    cycle: int,
    salt: str,
    stamp: str,
) -> tuple[list[Intent], list[Trade]]:
    """The intents for every live strategy's changed positions; returns them and the trades
    left in the report (the live strategies' virtual trades are removed)."""
    intents: list[Intent] = []
    live = {sc.id: sc for sc in config.live_strategies}
    for sid, sc in live.items():
        strat, old = strategies.get(sid), before.get(sid)
        if strat is None or old is None:
            continue
        wanted = {sym: copy.deepcopy(p) for sym, p in strat.positions.items()}
        reasons = {t.symbol: t.reason for t in trades if t.strategy_id == sid and t.is_close}
        _restore(strat, old)
        for sym in sorted(set(old.positions) | set(wanted)):
            intents += _legs(
                config,
                sc,
                strat,
                old.positions.get(sym),
                wanted.get(sym),
                reasons.get(sym, ""),
                cycle,
                salt,
                stamp,
            )
    kept = [t for t in trades if t.strategy_id not in live]
    return intents, kept


def _restore(strat: StrategyState, old: StrategyState) -> None:
    """Put the book back as before the cycle, keeping risk decisions and trailing stops."""
    moved = {sym: p.guard for sym, p in strat.positions.items()}
    strat.cash = old.cash
    strat.trade_count = old.trade_count
    strat.positions = copy.deepcopy(old.positions)
    for sym, pos in strat.positions.items():
        guard = moved.get(sym)
        if guard is not None and guard.stop_oid == pos.guard.stop_oid:
            pos.guard = guard  # the same position, its stop trailed this cycle
    r, o = strat.risk, old.risk
    r.consecutive_losses = o.consecutive_losses
    r.daily_pnl = o.daily_pnl if r.daily_pnl_date == o.daily_pnl_date else 0.0


def _legs(
    config: Config,
    sc: StrategyConfig,
    strat: StrategyState,
    old: Position | None,
    new: Position | None,
    reason: str,
    cycle: int,
    salt: str,
    stamp: str,
) -> list[Intent]:
    out: list[Intent] = []

    def intent(leg: str, **kw: object) -> Intent:
        i = Intent(
            cloid=venue_cloid(sc.platform, cloid_for(salt, sc.id, cycle, leg)),
            strategy_id=sc.id,
            cycle=cycle,
            leg=leg,
            created_at=stamp,
            **kw,  # type: ignore[arg-type]
        )
        out.append(i)
        return i

    sole = owners(config, (old or new).symbol, sc.platform) == [sc.id]  # type: ignore[union-attr]
    latched = strat.risk.circuit_breaker
    same = old is not None and new is not None and old.side == new.side

    def close(leg: str, held: Position, size: float, why: str, whole: bool) -> None:
        """A reduce-only close of ``size``; a whole close also cancels the protection."""
        intent(
            leg,
            symbol=held.symbol,
            side="sell" if held.side == Side.LONG else "buy",
            size=size,
            reduce_only=True,
            purpose="close",
            position_side=str(held.side),
            reason=str(why),
            extra={"full_close": sole, "cancel_oids": protection_oids(held)} if whole else {},
        )

    if old is not None and (new is None or not same):
        why = reason or (Reason.CIRCUIT_BREAKER if latched else Reason.SIGNAL)
        close("close", old, old.quantity, why, whole=True)
    elif old is not None and new is not None and new.quantity < old.quantity - 1e-12:
        close("reduce", old, old.quantity - new.quantity, reason or Reason.SIGNAL, whole=False)
    elif old is not None and new is not None and latched:
        # a latched breaker still holding: close again (upstream #356)
        close("close", old, old.quantity, Reason.CIRCUIT_BREAKER, whole=True)
    if same and not latched and new.scale_in_count > old.scale_in_count:  # type: ignore[union-attr]
        add = intent(
            "add",
            symbol=new.symbol,  # type: ignore[union-attr]
            side="buy" if new.side == Side.LONG else "sell",  # type: ignore[union-attr]
            size=new.quantity - old.quantity,  # type: ignore[union-attr]
            reduce_only=False,
            purpose="add",
            position_side=str(new.side),  # type: ignore[union-attr]
        )
        if sc.platform != HL:  # Robinhood buys by dollar amount: the book's notional
            add.extra["notional"] = add.size * new.avg_cost  # type: ignore[union-attr]
    if new is not None and (old is None or not same):
        opened = intent(
            "open",
            symbol=new.symbol,
            side="buy" if new.side == Side.LONG else "sell",
            size=new.quantity,
            reduce_only=False,
            purpose="open",
            position_side=str(new.side),
            extra={
                "entry_atr": new.entry_atr,
                "regime": new.regime,
                "policy_regime": new.policy_regime,
                "policy_verdict": new.policy_verdict,
                "margin_mode": sc.margin_mode,
                "leverage": sc.leverage,
            },
        )
        if sc.platform != HL:
            opened.extra["notional"] = new.quantity * new.avg_cost
    return out
