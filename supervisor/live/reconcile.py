"""Reconcile the book with the venue's account, every cycle (docs/architecture.md, "Live").

The venue is the truth for live money. From ``--account-state`` (positions, fills since a
window start, funding payments) this books, at the venue's price, quantity and fee:

* a fill of a position's resting stop (its exact order id) as the stop's close;
* a fill of a resting target as that tier's partial close (the tier is then consumed);
* any other fill that reduces a live position (a close made on the venue's UI, a liquidation)
  as an ``external`` close, split across the coin's live strategies by their quantities;
* each hourly funding payment, split the same way.

Fills already booked (an order's own fill, by its order id) and fills seen before (by trade
id) are skipped, so nothing books twice. ``closedPnl`` is never used: P&L is the book's
(fill - average cost) x quantity, fees apart (upstream #698).

What remains unexplained (the book's net quantity on a coin differs from the venue's) is a
*gap*: it is never guessed onto a strategy (upstream #964); entries on that coin are held
until it clears, and after three cycles the owner is alerted.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from shared_tools import book
from shared_tools.book.guard import after_target
from shared_tools.config.model import Config, StrategyConfig
from shared_tools.domain import Action, Reason
from supervisor.risk.portfolio import RiskEvent
from supervisor.state.models import StrategyState, Trade

KEY = "hl_live"
HL = "hyperliquid"
WINDOW_MS = 24 * 3600 * 1000
GAP_ALERT_CYCLES = 3
TOLERANCE = 1e-9


@dataclass
class Outcome:
    trades: list[tuple[str, Trade]] = field(default_factory=list)  # (strategy id, trade)
    events: list[RiskEvent] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    gaps: set[str] = field(default_factory=set)  # coins whose entries are held
    onchain: dict[str, float] = field(default_factory=dict)  # coin -> signed size
    orphans: list[tuple[str, int]] = field(default_factory=list)  # resting orders to cancel


def ledger(extra: dict[str, Any], now_ms: int) -> dict[str, Any]:
    """The reconcile's own memory in ``app.extra``: window start, trade ids seen, booked ids."""
    st: dict[str, Any] = extra.setdefault(KEY, {})
    st.setdefault("start_ms", now_ms)  # fills from before the first live cycle are not ours
    st.setdefault("seen", {})  # tid -> fill time
    st.setdefault("booked", {})  # order id -> time booked by the order path
    st.setdefault("funding", {})  # time|coin -> time
    st.setdefault("gaps", {})
    st.setdefault("fee_due", {})  # order id -> [strategy, coin, time]: booked without its fee
    return st


def since_ms(extra: dict[str, Any], now_ms: int) -> int:
    st = ledger(extra, now_ms)
    return max(int(st["start_ms"]), now_ms - WINDOW_MS)


def holders(
    config: Config, strategies: dict[str, StrategyState], coin: str
) -> list[tuple[StrategyConfig, StrategyState]]:
    """The live Hyperliquid strategies holding ``coin`` (another venue's book on the same coin
    is not this account's)."""
    out = []
    for sc in config.live_strategies:
        strat = strategies.get(sc.id)
        if strat is not None and sc.platform == HL and coin in strat.positions:
            out.append((sc, strat))
    return out


def reconcile(
    config: Config,
    strategies: dict[str, StrategyState],
    extra: dict[str, Any],
    data: dict[str, Any],
    stamp: str,
    now_ms: int,
) -> Outcome:
    st = ledger(extra, now_ms)
    out = Outcome()
    open_oids = {int(o.get("oid") or 0) for o in data.get("open_orders") or []}
    events = [(int(f.get("time") or 0), 0, f) for f in data.get("fills") or []]
    events += [(int(p.get("time") or 0), 1, p) for p in data.get("funding") or []]
    # in the venue's order: a payment made while a position was open is that position's
    for at, kind, ev in sorted(events, key=lambda e: (e[0], e[1], str(e[2].get("tid")))):
        if at < int(st["start_ms"]):
            continue
        if kind == 1:
            _book_funding(config, strategies, st, ev, stamp, out)
            continue
        tid = str(ev.get("tid") or f"{ev.get('oid')}|{at}|{ev.get('sz')}|{ev.get('px')}")
        if tid in st["seen"]:
            continue
        st["seen"][tid] = at
        oid = int(ev.get("oid") or 0)
        if str(oid) in st["fee_due"]:
            _book_fee(config, strategies, st["fee_due"].pop(str(oid)), ev, stamp, out)
        if str(oid) in st["booked"]:
            continue
        _book_fill(config, strategies, ev, oid, open_oids, stamp, out)
    _gaps(config, strategies, st, data.get("positions") or [], out)
    _strays(config, strategies, st, data.get("open_orders") or [], out)
    cutoff = since_ms(extra, now_ms) - 3600 * 1000
    for name in ("seen", "booked", "funding"):
        st[name] = {k: t for k, t in st[name].items() if int(t) >= cutoff}
    st["fee_due"] = {k: v for k, v in st["fee_due"].items() if int(v[2]) >= cutoff}
    return out


def _side(f: dict[str, Any]) -> int:
    s = str(f.get("side") or "").lower()
    return 1 if s in ("b", "buy", "bid") else -1


def _book_fill(
    config: Config,
    strategies: dict[str, StrategyState],
    f: dict[str, Any],
    oid: int,
    open_oids: set[int],
    stamp: str,
    out: Outcome,
) -> None:
    coin = str(f.get("coin") or "")
    px, sz, fee = float(f.get("px") or 0), float(f.get("sz") or 0), float(f.get("fee") or 0)
    if not (px > 0 and sz > 0 and math.isfinite(fee)):
        return
    held = holders(config, strategies, coin)
    for sc, strat in held:
        pos = strat.positions[coin]
        g = pos.guard
        if oid and oid == g.stop_oid:
            reason = g.stop_kind or Reason.STOP_LOSS
            rest = [o for o in g.target_oids if o > 0]
            _close(sc, strat, coin, px, sz, fee, str(reason), oid, stamp, out)
            if coin not in strat.positions:
                out.orphans += [(coin, o) for o in rest]
            return
        if oid and oid in g.target_oids:
            i = g.target_oids.index(oid)
            if oid not in open_oids:
                g.target_oids[i] = 0  # filled whole: the tier is consumed, never placed again
            _close(sc, strat, coin, px, sz, fee, "take_profit", oid, stamp, out)
            if coin in strat.positions and g.target_oids[i] == 0:
                after_target(strat.positions[coin], i)  # sl_after: the stop moves (tighter)
            if coin not in strat.positions:
                out.orphans += [(coin, o) for o in [g.stop_oid, *g.target_oids] if o > 0]
            return
    net = sum(s.positions[coin].sign * s.positions[coin].quantity for _, s in held)
    if not held or _side(f) * net >= 0:
        out.notes.append(
            f"[live] hyperliquid {coin}: fill of order {oid} ({sz:g} @ {px:g}) is not the "
            "book's; left to the gap check"
        )
        return
    total = sum(s.positions[coin].quantity for _, s in held)
    for sc, strat in held:  # a close made outside the bot: split by the strategies' shares
        share = strat.positions[coin].quantity / total
        _close(sc, strat, coin, px, sz * share, fee * share, Reason.EXTERNAL, oid, stamp, out)


def _close(
    sc: StrategyConfig,
    strat: StrategyState,
    coin: str,
    px: float,
    sz: float,
    fee: float,
    reason: str,
    oid: int,
    stamp: str,
    out: Outcome,
) -> None:
    trade, _ = book.book_for(sc.rules).close(strat, coin, px, stamp, reason=reason, fill=(sz, fee))
    if trade is not None:
        strat.trade_count += 1
        trade.order_id = str(oid) if oid else ""
        out.trades.append((sc.id, trade))


def _book_funding(
    config: Config,
    strategies: dict[str, StrategyState],
    st: dict[str, Any],
    p: dict[str, Any],
    stamp: str,
    out: Outcome,
) -> None:
    coin, at = str(p.get("coin") or ""), int(p.get("time") or 0)
    key = f"{at}|{coin}"
    if key in st["funding"]:
        return
    st["funding"][key] = at
    amount = float(p.get("usdc") or 0.0)
    held = [(sc, strat, coin) for sc, strat in holders(config, strategies, coin)]
    why = f"venue, rate {float(p.get('rate') or 0):.6%}"
    if not funding_split(held, amount, coin, stamp, why, out) and amount:
        out.notes.append(f"[live] hyperliquid {coin}: funding ${amount:+.4f} with no holder")


def funding_split(
    held: list[tuple[StrategyConfig, StrategyState, str]],
    amount: float,
    coin: str,
    stamp: str,
    why: str,
    out: Outcome,
) -> bool:
    """Book a venue's funding payment on ``held`` (strategy, book, its position's symbol),
    split by their quantities (one holder: all of it; a holder whose position is gone gets it
    whole only when it is the only one named). False when nothing could be booked."""
    sizes = [s.positions[sym].quantity if sym in s.positions else 0.0 for _, s, sym in held]
    total = sum(sizes)
    if not held or not math.isfinite(amount) or (total <= 0 and len(held) > 1):
        return False
    for (sc, strat, sym), qty in zip(held, sizes, strict=True):
        pos = strat.positions.get(sym)
        share = amount * qty / total if total > 0 else amount
        strat.cash += share
        trade = Trade(
            strategy_id=sc.id,
            timestamp=stamp,
            symbol=sym,
            position_id=pos.position_id if pos else "",
            side=Action.FUNDING,
            quantity=qty,
            price=0.0,
            value=0.0,
            fee=0.0,
            trade_type="funding",
            realized_pnl=share,
            reason=Reason.FUNDING,
            details=f"Funding {coin}: ${share:+,.4f} ({why})",
        )
        out.trades.append((sc.id, trade))
    return True


def _book_fee(
    config: Config,
    strategies: dict[str, StrategyState],
    due: list[Any],
    f: dict[str, Any],
    stamp: str,
    out: Outcome,
) -> None:
    """The fee of an order booked before the venue reported it (its fill showed late)."""
    sid, coin = str(due[0]), str(due[1])
    strat, fee = strategies.get(sid), float(f.get("fee") or 0.0)
    if strat is None or not math.isfinite(fee) or fee == 0:
        return
    strat.cash -= fee
    pos = strat.positions.get(coin)
    out.trades.append(
        (
            sid,
            Trade(
                strategy_id=sid,
                timestamp=stamp,
                symbol=coin,
                position_id=pos.position_id if pos else "",
                side=Action.FEE,
                quantity=0.0,
                price=0.0,
                value=0.0,
                fee=fee,
                trade_type="fee",
                reason=Reason.FEE,
                details=f"Fee {coin}: ${fee:.4f} (venue, order {f.get('oid')}, reported late)",
                order_id=str(f.get("oid") or ""),
            ),
        )
    )


def _strays(
    config: Config,
    strategies: dict[str, StrategyState],
    st: dict[str, Any],
    orders: list[dict[str, Any]],
    out: Outcome,
) -> None:
    """Resting reduce-only orders no live position claims (a crash between placing a stop
    and saving its id, a position closed by its stop with its targets left): cancelled once
    seen in two cycles in a row (a manual command may be about to record one)."""
    coins = {sc.symbol for sc in config.live_strategies}
    claimed: set[int] = set()
    for sc in config.live_strategies:
        strat = strategies.get(sc.id)
        pos = strat.positions.get(sc.symbol) if strat else None
        if pos is not None:
            claimed.update(o for o in [pos.guard.stop_oid, *pos.guard.target_oids] if o > 0)
    stray = {
        str(o.get("oid")): str(o.get("coin"))
        for o in orders
        if o.get("reduce_only") and o.get("coin") in coins and int(o.get("oid") or 0) not in claimed
    }
    before = st.get("strays") or {}
    out.orphans += [(coin, int(oid)) for oid, coin in stray.items() if oid in before]
    st["strays"] = {oid: coin for oid, coin in stray.items() if oid not in before}


def _gaps(
    config: Config,
    strategies: dict[str, StrategyState],
    st: dict[str, Any],
    positions: list[dict[str, Any]],
    out: Outcome,
) -> None:
    chain = {str(p.get("coin")): float(p.get("szi") or 0.0) for p in positions}
    out.onchain = chain
    coins = {sc.symbol for sc in config.live_strategies if sc.platform == "hyperliquid"}
    for coin in sorted(coins | {c for c in st["gaps"]}):
        held = holders(config, strategies, coin)
        virtual = sum(s.positions[coin].sign * s.positions[coin].quantity for _, s in held)
        onchain = chain.get(coin, 0.0)
        delta = onchain - virtual
        gap = st["gaps"].get(coin)
        if abs(delta) <= TOLERANCE * max(1.0, abs(onchain), abs(virtual)):
            if gap is not None:
                del st["gaps"][coin]
                if gap.get("alerted"):
                    out.events.append(
                        RiskEvent("reconcile", f"HL RECONCILE GAP RESOLVED {coin}", critical=True)
                    )
            continue
        gap = gap or {"cycles": 0, "alerted": False}
        gap.update(cycles=gap["cycles"] + 1, virtual=virtual, onchain=onchain, delta=delta)
        gap["strategies"] = [sc.id for sc, _ in held]
        st["gaps"][coin] = gap
        out.gaps.add(coin)
        note = (
            f"[live] hyperliquid {coin}: book {virtual:+g} vs venue {onchain:+g} "
            f"(gap {delta:+g}, {gap['cycles']} cycle(s)); entries on {coin} held"
        )
        out.notes.append(note)
        if gap["cycles"] >= GAP_ALERT_CYCLES and not gap["alerted"]:
            gap["alerted"] = True
            text = (
                f"HL RECONCILE GAP {coin} ({gap['cycles']} consecutive cycles): virtual="
                f"{virtual:+g} vs on-chain={onchain:+g}, residual={delta:+g} could not be "
                "explained by a fill. Entries on the coin are held; check the venue and close "
                "or adopt the difference by hand."
            )
            out.events.append(RiskEvent("reconcile", text, critical=True))
