"""What a book holds and what it records: positions, their stops and targets, trade rows.

Plain dataclasses (no pandas) shared by the supervisor's paper book, its state DB and the
backtester. Times are ISO-8601 UTC strings (``...Z``) so they sort as text.

The P&L convention is upstream's #954 one, the same for every instrument: a close row carries
the *gross* realized P&L and its own fee; every row's ledger delta is ``realized_pnl - fee``
(an open row: minus its fee; a funding row: the amount paid or received). So for a book that
is flat, ``sum(net_pnl) == value - initial capital``.
"""

from __future__ import annotations

import itertools
import math
import time
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeGuard

from shared_tools.domain import Action, Kind, Side

_nonce = itertools.count(1)


def usable(x: object) -> TypeGuard[float]:
    """A finite, positive amount (NaN fails every comparison, so test it explicitly)."""
    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x) and x > 0


def side_sign(side: str) -> int:
    return -1 if side == Side.SHORT else 1


def new_position_id(strategy_id: str, symbol: str) -> str:
    """``<strategy>:<symbol>:<ns>:<nonce>``: the round-trip key every leg of a position shares."""
    return f"{strategy_id}:{symbol}:{time.time_ns()}:{next(_nonce)}"


def fmt_money(x: float) -> str:
    return f"{x:,.2f}" if abs(x) >= 1 else f"{x:.6g}"


@dataclass
class Guard:
    """A position's protection, armed at open and checked against every cycle's mark.

    ``stop`` is the trigger price (0: none). A trailing stop follows ``best`` (the best mark
    since open: highest for a long, lowest for a short) at ``trail_pct`` of it or
    ``trail_distance`` below/above it, moving only when it improves by ``min_move`` (a
    fraction of the stop), as upstream's live stop updates do. ``targets`` are take-profit
    tiers: ``[price, cumulative fraction of the initial quantity closed once price is hit]``.
    """

    stop: float = 0.0
    stop_kind: str = ""  # stop_loss | trailing_stop ("" when no stop)
    best: float = 0.0
    trail_pct: float = 0.0
    trail_distance: float = 0.0
    min_move: float = 0.0
    targets: list[list[float]] = field(default_factory=list)
    stop_after: list[float] = field(default_factory=list)  # per target: stop once it fills (0)
    # Live only: the venue's resting orders that carry this guard (docs/architecture.md,
    # "Live"): the stop's order id, one slot per target (0 = none resting) and whether each
    # target was ever placed (0 + placed = the tier filled: never placed again).
    stop_oid: int = 0
    stop_qty: float = 0.0  # the quantity the resting stop covers (resized when it differs)
    stop_px: float = 0.0  # the trigger the resting stop was placed at (moved when it differs)
    target_oids: list[int] = field(default_factory=list)
    target_placed: list[bool] = field(default_factory=list)

    @property
    def trailing(self) -> bool:
        return self.trail_pct > 0 or self.trail_distance > 0

    def as_json(self) -> dict[str, Any]:
        return {
            "stop": self.stop,
            "stop_kind": self.stop_kind,
            "best": self.best,
            "trail_pct": self.trail_pct,
            "trail_distance": self.trail_distance,
            "min_move": self.min_move,
            "targets": [list(t) for t in self.targets],
            "stop_after": list(self.stop_after),
            "stop_oid": self.stop_oid,
            "stop_qty": self.stop_qty,
            "stop_px": self.stop_px,
            "target_oids": list(self.target_oids),
            "target_placed": list(self.target_placed),
        }

    @classmethod
    def from_json(cls, data: object) -> Guard:
        if not isinstance(data, dict):
            return cls()
        g = cls()
        for key in ("stop", "best", "trail_pct", "trail_distance", "min_move"):
            value = data.get(key, 0.0)
            setattr(g, key, float(value) if isinstance(value, (int, float)) else 0.0)
        g.stop_kind = str(data.get("stop_kind") or "")
        targets = data.get("targets") or []
        g.targets = [[float(p), float(f)] for p, f in targets if usable(p) and usable(f)]
        oid = data.get("stop_oid")
        g.stop_oid = oid if isinstance(oid, int) and oid > 0 else 0
        for key in ("stop_qty", "stop_px"):
            x = data.get(key)
            setattr(g, key, float(x) if isinstance(x, (int, float)) and x > 0 else 0.0)
        g.stop_after = [float(x) if usable(x) else 0.0 for x in data.get("stop_after") or []]
        g.target_oids = [
            o if isinstance(o, int) and o > 0 else 0 for o in data.get("target_oids") or []
        ]
        g.target_placed = [bool(x) for x in data.get("target_placed") or []]
        return g

    def numbers(self) -> list[float]:
        return [self.stop, self.best, self.trail_pct, self.trail_distance, self.min_move] + [
            x for t in self.targets for x in t
        ]


@dataclass
class Position:
    symbol: str
    position_id: str
    quantity: float  # units (spot, perps) or whole contracts (futures); always > 0
    initial_quantity: float
    avg_cost: float  # average fill price
    cost_basis: float  # entry notional of the quantity still held: qty * avg * multiplier
    side: Side = Side.LONG
    entry_atr: float = 0.0
    opened_at: str = ""
    kind: Kind = Kind.SPOT  # which book values it
    multiplier: float = 1.0  # dollars per 1.0 of price per unit (futures point value)
    leverage: float = 1.0
    margin: float = 0.0  # collateral tied up (perps: notional / leverage; futures: n * margin)
    regime: str = ""  # regime label when opened (sent back to the check as --position-regime)
    # regime_directional_policy at entry, frozen for the position's life: the directional
    # window's label and the certification verdict (shared_tools/regime_policy.py)
    policy_regime: str = ""
    policy_verdict: str = ""  # certified | expired | uncertified | "" (no policy)
    funded_at: float = 0.0  # epoch seconds funding was last accrued to (perps)
    guard: Guard = field(default_factory=Guard)
    # A hedge leg (book/hedge.py): the primary symbol it hedges ("" = not a hedge) and the
    # primary quantity it was last sized against (upstream's HedgePrimaryQtyBasis watermark).
    hedge_for: str = ""
    hedge_basis: float = 0.0
    # pyramiding (book/scale_in.py): adds made, the last add's price, the filled notional the
    # adds added, and the pre-blend average frozen by the first add (0: no add yet)
    scale_in_count: int = 0
    last_add_price: float = 0.0
    added_notional_usd: float = 0.0
    risk_anchor_price: float = 0.0

    @property
    def sign(self) -> int:
        return side_sign(self.side)

    def unrealized_pnl(self, mark: float) -> float:
        return self.sign * self.quantity * self.multiplier * (mark - self.avg_cost)

    def value(self, mark: float) -> float:
        """What the position adds to the account's value at ``mark``.

        Spot holds the asset (its market value); perps and futures are margin-style (only the
        unrealized P&L: the notional never left the cash).
        """
        if self.kind == Kind.SPOT:
            return self.quantity * mark
        return self.unrealized_pnl(mark)

    def notional(self, mark: float) -> float:
        return self.quantity * self.multiplier * mark

    def numbers(self) -> list[float]:
        return [
            self.quantity,
            self.initial_quantity,
            self.avg_cost,
            self.cost_basis,
            self.entry_atr,
            self.multiplier,
            self.leverage,
            self.margin,
            self.funded_at,
            self.hedge_basis,
            self.last_add_price,
            self.added_notional_usd,
            self.risk_anchor_price,
        ] + self.guard.numbers()


@dataclass
class Trade:
    strategy_id: str
    timestamp: str
    symbol: str
    position_id: str
    side: Action  # buy | sell (execution side); funding rows: funding
    quantity: float
    price: float
    value: float  # quantity * multiplier * price (notional)
    fee: float
    trade_type: str = Kind.SPOT  # a Kind, or "funding" (Action.FUNDING) for funding rows
    is_close: bool = False
    realized_pnl: float = 0.0  # gross (before this row's fee) on close legs; funding: amount
    details: str = ""
    cycle: int = 0
    mark_price: float = 0.0  # this cycle's check_price mark for the symbol (0: none)
    bar_price: float = 0.0  # the check's last closed bar close (0: not from a check)
    pnl_gross: bool = True  # False only for rows written before schema v3 (net P&L, see below)
    reason: str = ""  # what closed it: signal, stop_loss, trailing_stop, take_profit, ...
    order_id: str = ""  # live: the venue's order id (its fills carry the real price and fee)

    @property
    def net_pnl(self) -> float:
        """This row's effect on cash beyond moving notional: realized P&L net of its fee.

        Rows from before schema v3 stored the close's P&L net of both legs' fees and carried
        the open fee inside it, so they count as stored (opens 0).
        """
        if not self.pnl_gross:
            return self.realized_pnl if self.is_close else 0.0
        return self.realized_pnl - self.fee


class Account(Protocol):
    """What a book needs of an account: the supervisor's StrategyState and the backtester's."""

    id: str
    cash: float
    positions: dict[str, Position]
    trade_count: int
