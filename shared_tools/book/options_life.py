"""An option leg's life after the open: marks, theta harvest, expiry and wheel assignment.

The supervisor runs these every cycle (supervisor/cycle_options.py) and a backtest can run the
same functions, so there is one implementation of each rule (docs/architecture.md, "Options").

Where we deliberately differ from upstream (reference: upstream's Go scheduler):

* marks are per unit of underlying and a leg's value is ``sign x qty x multiplier x mark``
  (upstream marked per contract against entries x qty, so a 2-lot looked 50% profitable);
* expiry settles at the venue's real expiry instant from the venue's settlement price, never
  on a failed read (upstream settled at 00:00 UTC on one spot read, a failure as worthless);
* every expiry is cash-settled at intrinsic x qty x multiplier, crediting longs and debiting
  shorts (upstream never credited a bought ITM option, and credited ``K x qty`` to a sold
  call assigned without the spot held); physical assignment only for ``wheel``;
* theta harvest measures profit on the gross premium per unit (fees are their own rows).

Pure Python, like the rest of the book.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from shared_tools.book.model import Position, Trade, fmt_money, new_position_id, usable
from shared_tools.book.options import LegAccount, OptionLeg, OptionsBook, intrinsic_value
from shared_tools.domain import Action, Kind, Side

__all__ = [
    "DEFAULT_THETA_HARVEST",
    "Closed",
    "ThetaHarvest",
    "apply_mark",
    "close_legs",
    "expires_at",
    "harvest",
    "leg_exposure",
    "leg_notional",
    "portfolio_greeks",
    "settle",
]

GREEKS = ("delta", "gamma", "theta", "vega")


@dataclass(frozen=True)
class ThetaHarvest:
    """Early exits for sold legs (upstream's ``theta_harvest``); 0 disables one arm."""

    profit_target_pct: float = 60.0
    stop_loss_pct: float = 200.0
    min_dte_close: float = 3.0


DEFAULT_THETA_HARVEST = ThetaHarvest()  # upstream's defaults when the block is absent (#56)


@dataclass
class Closed:
    """One ``closed_option_positions`` row (upstream's columns)."""

    strategy_id: str
    position_id: str  # the upstream key
    underlying: str
    option_type: str
    strike: float
    expiry: str
    action: str
    quantity: float
    entry_premium_usd: float  # per unit of underlying, gross (ours: upstream stored a total)
    close_price_usd: float  # per unit of underlying
    realized_pnl: float  # gross: sign x qty x multiplier x (close - entry)
    opened_at: str
    closed_at: str
    close_reason: str
    multiplier: float = 1.0

    @property
    def duration_seconds(self) -> float:
        try:
            a = datetime.fromisoformat(self.opened_at.replace("Z", "+00:00"))
            b = datetime.fromisoformat(self.closed_at.replace("Z", "+00:00"))
        except ValueError:
            return 0.0
        return max((b - a).total_seconds(), 0.0)


def closed_row(
    acct: LegAccount, leg: OptionLeg, qty: float, price: float, now: str, why: str
) -> Closed:
    """The closed row of ``qty`` contracts of ``leg`` closed at ``price`` for ``why``."""
    return Closed(
        acct.id,
        leg.key or leg.symbol,
        leg.underlying,
        leg.option_type,
        leg.strike,
        leg.expiry,
        leg.action,
        qty,
        leg.entry_premium,
        price,
        leg.sign * qty * leg.multiplier * (price - leg.entry_premium),
        leg.opened_at,
        now,
        why,
        leg.multiplier,
    )


def expires_at(leg: OptionLeg) -> datetime:
    """The leg's real expiry instant (from the chain); 08:00 UTC of its date when unknown."""
    if leg.expires_at:
        try:
            return datetime.fromisoformat(leg.expires_at.replace("Z", "+00:00")).astimezone(UTC)
        except ValueError:
            pass
    day = datetime.fromisoformat(leg.expiry[:10])
    return day.replace(hour=8, tzinfo=UTC)


def apply_mark(leg: OptionLeg, mark: Mapping[str, Any], now: str) -> bool:
    """Take one mark_options.py mark: premium per unit, greeks, dte, expiry instant.

    Returns False (and changes nothing) when the premium is not a finite number >= 0.
    """
    premium = mark.get("premium_usd")
    if not isinstance(premium, (int, float)) or not math.isfinite(premium) or premium < 0:
        return False
    leg.mark = float(premium)
    greeks = mark.get("greeks")
    if isinstance(greeks, dict):
        leg.greeks = {
            g: float(greeks[g])
            for g in GREEKS
            if isinstance(greeks.get(g), (int, float)) and math.isfinite(greeks[g])
        }
    dte = mark.get("dte")
    if isinstance(dte, (int, float)) and math.isfinite(dte):
        leg.dte_days = float(dte)
    if isinstance(mark.get("expires_at"), str) and mark["expires_at"]:
        leg.expires_at = mark["expires_at"]
    leg.marked_at = now
    return True


def harvest(
    acct: LegAccount, book: OptionsBook, th: ThetaHarvest | None, now: str
) -> tuple[list[Trade], list[Closed], list[str]]:
    """Upstream's CheckThetaHarvest on the last marks: sold legs only, first rule wins.

    Order: profit target, stop loss, DTE exit. Runs every cycle, whether or not the check
    worked (upstream skipped it when the check errored, suspending the stop on sold options).
    Returns the close trades, the closed rows and upstream's detail lines.
    """
    if th is None:
        return [], [], []
    trades: list[Trade] = []
    closed: list[Closed] = []
    lines: list[str] = []
    for leg in list(acct.legs.values()):
        if leg.sign > 0 or not usable(leg.entry_premium):
            continue
        entry = leg.entry_premium * leg.units
        buyback = max(0.0, leg.mark) * leg.units
        profit_pct = (entry - buyback) / entry * 100.0
        reason = ""
        if th.profit_target_pct > 0 and profit_pct >= th.profit_target_pct:
            reason = (
                f"🎯 Theta harvest: {profit_pct:.0f}% profit captured "
                f"(${entry - buyback:.2f} of ${entry:.2f} premium)"
            )
        elif th.stop_loss_pct > 0 and -profit_pct >= th.stop_loss_pct:
            reason = (
                f"🛑 Stop loss: {-profit_pct:.0f}% loss on sold option (${buyback - entry:.2f})"
            )
        elif th.min_dte_close > 0 and 0 < leg.dte_days <= th.min_dte_close:
            reason = f"⏰ DTE exit: {leg.dte_days:.1f} days to expiry (min: {th.min_dte_close:g})"
        if not reason:
            continue
        qty = leg.quantity
        row = closed_row(acct, leg, qty, leg.mark, now, "theta_harvest")
        trade, _ = book.close(acct, leg.leg_id, leg.mark, now, 1.0, "theta_harvest")
        if trade is None:
            continue
        line = f"[{acct.id}] CLOSE {row.position_id} — {reason} (PnL: ${trade.net_pnl:.2f})"
        trade.details = f"{line} | {trade.details}"  # the book's "Close short ..." for the DM
        trades.append(trade)
        closed.append(row)
        lines.append(line)
    return trades, closed, lines


def settle(
    acct: LegAccount,
    positions: dict[str, Position],
    book: OptionsBook,
    leg: OptionLeg,
    price: float,
    now: str,
    *,
    wheel: bool = False,
) -> tuple[list[Trade], Closed | None]:
    """Expire ``leg`` against the venue's settlement ``price``.

    Cash settlement (every strategy but ``wheel``): the leg closes at its intrinsic value,
    no fee: a long ITM is credited, a short ITM debited, OTM moves no cash. ``wheel`` sold
    legs ITM are assigned physically: a put buys ``qty x multiplier`` of the underlying at the
    strike (a spot long keyed by the underlying, marked every cycle), a call delivers the
    spot held at the strike (any part not held is cash-settled at intrinsic).
    """
    if not usable(price):
        return [], None
    value = intrinsic_value(leg.option_type, leg.strike, price)
    itm = value > 0
    if not (wheel and itm and leg.sign < 0):
        row = closed_row(acct, leg, leg.quantity, value, now, _expiry_reason(leg, itm))
        trade, _ = book._exit(acct, leg, leg.quantity, value, 0.0, now, row.close_reason)
        return [trade], row
    units = leg.units
    if leg.option_type == "put":
        row = closed_row(acct, leg, leg.quantity, 0.0, now, "expired_itm")
        close, _ = book._exit(acct, leg, leg.quantity, 0.0, 0.0, now, "assignment")
        return [close, _assign_put(acct, positions, leg, units, now)], row
    held = positions.get(leg.underlying)
    deliver = min(units, held.quantity) if held is not None and held.side == Side.LONG else 0.0
    rest = (units - deliver) / leg.multiplier  # contracts not covered by the spot held
    out: list[Trade] = []
    if deliver > 0:
        out.append(_deliver_call(acct, positions, leg, deliver, now))
    row = closed_row(acct, leg, leg.quantity, value if rest > 0 else 0.0, now, "expired_itm")
    if rest > 1e-12:  # uncovered part: cash-settled (upstream credited K x qty: a windfall)
        covered = leg.quantity - rest
        if covered > 1e-12:
            t, _ = book._exit(acct, leg, covered, 0.0, 0.0, now, "assignment")
            out.append(t)
        t, _ = book._exit(acct, leg, rest, value, 0.0, now, "expired_itm")
        out.append(t)
    else:
        t, _ = book._exit(acct, leg, leg.quantity, 0.0, 0.0, now, "assignment")
        out.append(t)
    return out, row


def _expiry_reason(leg: OptionLeg, itm: bool) -> str:
    """Upstream's reasons: ``expired_itm`` for an ITM sold leg, else ``expired_worthless``;
    ours adds ``expired_itm`` for a bought ITM leg too (it is credited, not worthless)."""
    return "expired_itm" if itm else "expired_worthless"


def _assign_put(
    acct: LegAccount, positions: dict[str, Position], leg: OptionLeg, units: float, now: str
) -> Trade:
    """A wheel put assigned: buy ``units`` at the strike (merged into a held spot long)."""
    sym = leg.underlying
    cost = units * leg.strike
    acct.cash -= cost
    pos = positions.get(sym)
    if pos is not None and pos.side == Side.LONG:
        total = pos.quantity + units
        pos.avg_cost = (pos.avg_cost * pos.quantity + cost) / total
        pos.quantity = total
        pos.initial_quantity += units
        pos.cost_basis += cost
    else:
        pos = Position(sym, new_position_id(acct.id, sym), units, units, leg.strike, cost)
        pos.kind, pos.opened_at = Kind.SPOT, now
        positions[sym] = pos
    return Trade(
        acct.id,
        now,
        sym,
        pos.position_id,
        Action.BUY,
        units,
        leg.strike,
        cost,
        0.0,
        trade_type="assignment",
        reason="assignment",
        details=f"Assigned {leg.key}: bought {units:g} {sym} @ ${fmt_money(leg.strike)}",
    )


def _deliver_call(
    acct: LegAccount, positions: dict[str, Position], leg: OptionLeg, units: float, now: str
) -> Trade:
    """A wheel call assigned with spot held: deliver ``units`` of it at the strike."""
    pos = positions[leg.underlying]
    gross = units * (leg.strike - pos.avg_cost)
    basis = pos.cost_basis * units / pos.quantity
    acct.cash += basis + gross
    if pos.quantity - units <= pos.quantity * 1e-9:
        del positions[leg.underlying]
    else:
        pos.quantity -= units
        pos.cost_basis -= basis
    return Trade(
        acct.id,
        now,
        leg.underlying,
        pos.position_id,
        Action.SELL,
        units,
        leg.strike,
        units * leg.strike,
        0.0,
        trade_type="assignment",
        is_close=True,
        realized_pnl=gross,
        reason="assignment",
        details=(
            f"Called away {leg.key}: delivered {units:g} {leg.underlying} @ "
            f"${fmt_money(leg.strike)}, PnL: ${gross:,.2f}"
        ),
    )


def close_legs(acct: LegAccount, book: OptionsBook, reason: str, now: str) -> list[Trade]:
    """Close every leg at its last mark (a breaker or the kill switch): a long is credited
    its value, a short debited the buyback; the closed rows go to ``acct.closed_options``
    when the account keeps them (the supervisor's StrategyState)."""
    trades: list[Trade] = []
    rows = getattr(acct, "closed_options", None)
    for leg in list(acct.legs.values()):
        row = closed_row(acct, leg, leg.quantity, leg.mark, now, reason)
        trade, _ = book.close(acct, leg.leg_id, leg.mark, now, 1.0, reason)
        if trade is None:
            continue
        trades.append(trade)
        if isinstance(rows, list):
            rows.append(row)
    return trades


def leg_notional(leg: OptionLeg) -> float:
    """Upstream's notional of a leg for the book's cap: a sold leg its strike, a bought one its
    value, each x qty x multiplier (upstream ignored the multiplier)."""
    return leg.strike * leg.units if leg.sign < 0 else max(leg.value(), 0.0)


def leg_exposure(leg: OptionLeg, spot: float) -> float:
    """Signed USD exposure to the underlying: sign x delta x qty x multiplier x spot (delta
    not marked yet: a call +1, a put -1, as upstream)."""
    delta = leg.greeks.get("delta", 0.0) or (1.0 if leg.option_type == "call" else -1.0)
    return leg.sign * delta * leg.units * spot


def portfolio_greeks(legs: Mapping[str, OptionLeg]) -> dict[str, float]:
    """Signed book greeks: each leg's long-option greeks x sign x qty x multiplier.

    (Upstream showed per-position greeks only; its unused class helper summed them unsigned.)
    """
    out = dict.fromkeys(GREEKS, 0.0)
    for leg in legs.values():
        for g in GREEKS:
            out[g] += leg.sign * leg.units * leg.greeks.get(g, 0.0)
    return out
