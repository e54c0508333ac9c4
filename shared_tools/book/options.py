"""Options legs: premium, contract multiplier, per-venue fees, settlement at expiry.

The cash rule, which counts the premium exactly once:

* open: ``cash -= sign * qty * multiplier * premium + fee`` (a buy pays the premium, a sale
  receives it; the fee leaves either way);
* close (a trade at ``exit`` premium): ``cash += sign * qty * multiplier * exit - fee``;
* expiry: the same close at the intrinsic value and without a fee: an in-the-money leg pays
  (or is paid) its intrinsic value, an out-of-the-money leg expires worthless and moves no cash.

A leg's value is ``sign * qty * multiplier * mark`` (a sold option is a liability), so
``cash + sum(leg values)`` is the account's value at every moment, and a close row's gross
``realized_pnl = sign * qty * multiplier * (exit - entry)`` follows the book's P&L convention
(:mod:`shared_tools.book.model`: every row's ledger delta is ``realized_pnl - fee``). Upstream's
research backtests added the premium at open and again inside the expiry P&L; this book does not.

Premiums are USD per unit of underlying (Deribit quotes in coin: multiply by spot first).
Pure Python, like the rest of the book.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from types import MappingProxyType
from typing import Protocol

from shared_tools.book.model import Trade, fmt_money, new_position_id, side_sign, usable
from shared_tools.domain import Action, Side

__all__ = [
    "OPTION_VENUES",
    "LegAccount",
    "OptionLeg",
    "OptionVenue",
    "OptionsAccount",
    "OptionsBook",
    "intrinsic_value",
    "leg_symbol",
    "option_key",
    "option_venue",
    "put_collateral_refusal",
]


@dataclass(frozen=True)
class OptionVenue:
    """How a venue sizes and charges an option: multiplier per underlying, fee per fill."""

    name: str
    fee_pct: float = 0.0  # fraction of the premium notional (premium * qty * multiplier)
    fee_per_contract: float = 0.0  # dollars per contract
    default_multiplier: float = 1.0  # units of underlying per contract
    multipliers: Mapping[str, float] = field(default_factory=lambda: MappingProxyType({}))
    whole_contracts: bool = False  # listed contracts trade in whole numbers

    def multiplier(self, underlying: str) -> float:
        return self.multipliers.get(str(underlying).upper(), self.default_multiplier)

    def fee(self, premium: float, quantity: float, multiplier: float) -> float:
        return premium * quantity * multiplier * self.fee_pct + quantity * self.fee_per_contract


_CME = MappingProxyType({"BTC": 0.1, "ETH": 0.5})  # MBT (Micro Bitcoin), MET (Micro Ether)
_OKX = MappingProxyType({"BTC": 0.01, "ETH": 0.1})  # OKX options: ctVal x ctMult per contract

# Upstream go-trader's tables (scheduler/fees.go, the adapters' get_multiplier).
OPTION_VENUES: Mapping[str, OptionVenue] = MappingProxyType(
    {
        "deribit": OptionVenue("deribit", fee_pct=0.0003),  # premium per 1 unit of underlying
        # OKX option contracts are 0.01 BTC / 0.1 ETH (ctVal x ctMult; upstream assumed 1 coin)
        "okx": OptionVenue("okx", fee_pct=0.0003, multipliers=_OKX),
        "ibkr": OptionVenue("ibkr", fee_per_contract=0.25, multipliers=_CME, whole_contracts=True),
        "cme": OptionVenue("cme", fee_per_contract=0.25, multipliers=_CME, whole_contracts=True),
        "robinhood": OptionVenue(
            "robinhood", fee_per_contract=0.03, default_multiplier=100.0, whole_contracts=True
        ),
    }
)


def option_venue(name: str) -> OptionVenue:
    """The venue's option spec; KeyError names the known venues."""
    venue = OPTION_VENUES.get(str(name).strip().lower())
    if venue is None:
        raise KeyError(f"no options venue {name!r} (known: {', '.join(OPTION_VENUES)})")
    return venue


def intrinsic_value(option_type: str, strike: float, spot: float) -> float:
    """Per unit of underlying: ``max(S - K, 0)`` for a call, ``max(K - S, 0)`` for a put."""
    if option_type == "call":
        return max(spot - strike, 0.0)
    return max(strike - spot, 0.0)


def option_key(underlying: str, option_type: str, action: str, strike: float, expiry: str) -> str:
    """Upstream's position key ``<UND>-<type>-<action>-<strike %.0f>-<expiry>``."""
    return f"{underlying.upper()}-{option_type}-{action}-{strike:.0f}-{expiry}"


def leg_symbol(underlying: str, expiry: str, strike: float, option_type: str) -> str:
    """A Deribit-like instrument name: ``BTC-20250627-100000-C``."""
    return f"{underlying.upper()}-{expiry.replace('-', '')}-{strike:g}-{option_type[0].upper()}"


@dataclass
class OptionLeg:
    leg_id: str  # the position id every row of this leg shares
    symbol: str
    underlying: str
    option_type: str  # call | put
    strike: float
    expiry: str  # YYYY-MM-DD
    side: str  # long (bought) | short (sold)
    quantity: float  # contracts
    multiplier: float  # units of underlying per contract
    entry_premium: float  # USD per unit of underlying
    mark: float  # current premium, USD per unit of underlying
    opened_at: str = ""
    # The supervisor's lifecycle fields (docs/architecture.md, "Options"): upstream's key
    # (``<UND>-<type>-<action>-<strike>-<expiry>``), the open fee, the last mark's greeks
    # (long-option, per unit), fractional days to the venue's real expiry instant and that
    # instant (ISO UTC; "" = unknown: 08:00 UTC of the expiry date is assumed).
    key: str = ""
    entry_fee: float = 0.0
    greeks: dict[str, float] = field(default_factory=dict)
    dte_days: float = 0.0
    expires_at: str = ""
    instrument: str = ""
    marked_at: str = ""

    @property
    def action(self) -> str:
        """Upstream's ``action``: ``buy`` for a bought (long) leg, ``sell`` for a sold one."""
        return "buy" if self.sign > 0 else "sell"

    @property
    def sign(self) -> int:
        return side_sign(self.side)

    @property
    def units(self) -> float:
        return self.quantity * self.multiplier

    def value(self) -> float:
        """What the leg adds to the account at its mark (negative for a sold option)."""
        return self.sign * self.units * self.mark

    def unrealized_pnl(self) -> float:
        return self.sign * self.units * (self.mark - self.entry_premium)

    def dte(self, today: str) -> float:
        """Calendar days from ``today`` (YYYY-MM-DD...) to expiry."""
        return float((date.fromisoformat(self.expiry) - date.fromisoformat(today[:10])).days)


class LegAccount(Protocol):
    """What the options book needs of an account: the backtests' OptionsAccount and the
    supervisor's StrategyState (whose ``legs`` are its option legs)."""

    id: str
    cash: float
    legs: dict[str, OptionLeg]
    trade_count: int


@dataclass
class OptionsAccount:
    """A strategy's options sleeve: cash and open legs (the backtests use it directly)."""

    id: str
    cash: float
    legs: dict[str, OptionLeg] = field(default_factory=dict)
    trade_count: int = 0

    @property
    def value(self) -> float:
        return self.cash + sum(leg.value() for leg in self.legs.values())

    @property
    def unrealized_pnl(self) -> float:
        return sum(leg.unrealized_pnl() for leg in self.legs.values())


def put_collateral_refusal(acct: LegAccount, strike: float, qty: float, mult: float) -> str:
    """Upstream's naked-put check, fixed: the strike of this sale plus every open short put,
    each x qty x multiplier, must be covered by cash (upstream compared ``strike x qty`` with
    the whole cash, ignoring other short puts and the contract size)."""
    held = sum(
        leg.strike * leg.units
        for leg in acct.legs.values()
        if leg.option_type == "put" and leg.sign < 0
    )
    need = strike * qty * mult + held
    if need > acct.cash:
        return (
            f"refused: naked put needs ${need:,.2f} of collateral (open short puts included), "
            f"cash ${acct.cash:,.2f}"
        )
    return ""


class OptionsBook:
    """Open, mark, close and settle option legs of one venue on an :class:`OptionsAccount`."""

    kind = "options"  # upstream's trade_type

    def __init__(self, venue: OptionVenue | str = "deribit") -> None:
        self.venue = option_venue(venue) if isinstance(venue, str) else venue

    def open(
        self,
        acct: LegAccount,
        underlying: str,
        option_type: str,
        strike: float,
        expiry: str,
        side: str,
        quantity: float,
        premium: float,
        now: str,
        *,
        multiplier: float = 0.0,
        collateral: bool = False,
    ) -> tuple[Trade | None, str]:
        """Buy (``side="long"``) or sell (``"short"``) ``quantity`` contracts at ``premium``.

        ``multiplier`` is the venue's contract size as the chain reported it (0: the venue
        table's). A second open with the same upstream key is refused (upstream overwrote the
        first: cash charged twice, one position lost). ``collateral`` applies the naked-put
        check (below).
        """
        if option_type not in ("call", "put") or side not in ("long", "short"):
            return None, f"refused: option_type {option_type!r} / side {side!r}"
        if not (usable(strike) and usable(quantity) and usable(premium)):
            return None, f"refused: strike {strike!r}, quantity {quantity!r}, premium {premium!r}"
        if self.venue.whole_contracts and abs(quantity - round(quantity)) > 1e-9:
            return None, f"refused: {self.venue.name} trades whole contracts, not {quantity:g}"
        mult = multiplier if usable(multiplier) else self.venue.multiplier(underlying)
        action = "buy" if side == Side.LONG else "sell"
        key = option_key(underlying, option_type, action, strike, expiry)
        if any(leg.key == key for leg in acct.legs.values()):
            return None, f"refused: {key} is already open (one position per key)"
        fee = self.venue.fee(premium, quantity, mult)
        sign = side_sign(side)
        if sign > 0 and quantity * mult * premium + fee > acct.cash:
            return None, f"refused: premium ${quantity * mult * premium:,.2f} + fee exceeds cash"
        if collateral and option_type == "put" and sign < 0:
            why = put_collateral_refusal(acct, strike, quantity, mult)
            if why:
                return None, why
        acct.cash -= sign * quantity * mult * premium + fee
        symbol = leg_symbol(underlying, expiry, strike, option_type)
        leg = OptionLeg(
            leg_id=new_position_id(acct.id, symbol),
            symbol=symbol,
            underlying=underlying.upper(),
            option_type=option_type,
            strike=float(strike),
            expiry=expiry,
            side=side,
            quantity=float(quantity),
            multiplier=mult,
            entry_premium=float(premium),
            mark=float(premium),
            opened_at=now,
            key=key,
            entry_fee=fee,
        )
        acct.legs[leg.leg_id] = leg
        acct.trade_count += 1
        verb = Action.BUY if side == Side.LONG else Action.SELL
        notional = quantity * mult * premium
        trade = Trade(acct.id, now, symbol, leg.leg_id, verb, quantity, premium, notional, fee)
        trade.trade_type = self.kind
        trade.details = (
            f"Open {side} {quantity:g} {symbol} @ ${fmt_money(premium)} "
            f"(x{mult:g}, premium ${notional:,.2f}, fee ${fee:.2f})"
        )
        return trade, f"{verb.upper()} {quantity:g} {symbol} @ {fmt_money(premium)}"

    def mark(self, acct: LegAccount, leg_id: str, premium: float) -> None:
        """Revalue a leg at ``premium`` (ignored unless finite and >= 0)."""
        if isinstance(premium, (int, float)) and math.isfinite(premium) and premium >= 0:
            acct.legs[leg_id].mark = float(premium)

    def close(
        self,
        acct: LegAccount,
        leg_id: str,
        premium: float,
        now: str,
        fraction: float = 1.0,
        reason: str = "",
    ) -> tuple[Trade | None, str]:
        """Trade ``fraction`` (0..1] of a leg back at ``premium``; the venue fee applies."""
        if not (isinstance(premium, (int, float)) and math.isfinite(premium) and premium >= 0):
            return None, f"no valid premium {premium!r}"
        leg = acct.legs[leg_id]
        fraction = min(max(fraction, 0.0), 1.0) if math.isfinite(fraction) else 0.0
        qty = leg.quantity if fraction >= 1.0 - 1e-12 else leg.quantity * fraction
        if self.venue.whole_contracts:
            qty = float(math.floor(qty + 1e-9))
        if qty <= 0:
            return None, "hold (close rounds to zero contracts)"
        fee = self.venue.fee(premium, qty, leg.multiplier)
        return self._exit(acct, leg, qty, float(premium), fee, now, reason or "close")

    def settle(
        self, acct: LegAccount, leg_id: str, spot: float, now: str
    ) -> tuple[Trade | None, str]:
        """Expire a leg against ``spot``: in the money it settles at intrinsic, else worthless."""
        if not usable(spot):
            return None, f"no valid spot {spot!r}"
        leg = acct.legs[leg_id]
        value = intrinsic_value(leg.option_type, leg.strike, spot)
        reason = "expiry_itm" if value > 0 else "expiry_otm"
        return self._exit(acct, leg, leg.quantity, value, 0.0, now, reason)

    def settle_expired(
        self, acct: LegAccount, underlying: str, today: str, spot: float, now: str = ""
    ) -> list[Trade]:
        """Settle every ``underlying`` leg whose expiry date is on or before ``today``."""
        trades = []
        for leg in list(acct.legs.values()):
            if leg.underlying == underlying.upper() and leg.expiry <= today[:10]:
                trade, _ = self.settle(acct, leg.leg_id, spot, now or today)
                if trade is not None:
                    trades.append(trade)
        return trades

    def _exit(
        self,
        acct: LegAccount,
        leg: OptionLeg,
        qty: float,
        premium: float,
        fee: float,
        now: str,
        reason: str,
    ) -> tuple[Trade, str]:
        units = qty * leg.multiplier
        gross = leg.sign * units * (premium - leg.entry_premium)
        acct.cash += leg.sign * units * premium - fee
        if qty >= leg.quantity - 1e-12:
            del acct.legs[leg.leg_id]
        else:
            leg.quantity -= qty
        acct.trade_count += 1
        verb = Action.SELL if leg.sign > 0 else Action.BUY
        trade = Trade(
            strategy_id=acct.id,
            timestamp=now,
            symbol=leg.symbol,
            position_id=leg.leg_id,
            side=verb,
            quantity=qty,
            price=premium,
            value=units * premium,
            fee=fee,
            trade_type=self.kind,
            is_close=True,
            realized_pnl=gross,
            reason=reason,
            details=(
                f"Close {leg.side} {qty:g} {leg.symbol} @ ${fmt_money(premium)}, "
                f"PnL: ${gross - fee:,.2f} (fee ${fee:.2f}) [{reason}]"
            ),
        )
        return trade, f"{verb.upper()} {qty:g} {leg.symbol} @ {fmt_money(premium)} [{reason}]"
