"""The supervisor's in-memory book: what a strategy owns and what it has done.

Plain dataclasses (the position and trade shapes come from the pure-Python book in
``shared_tools/book``) so the state DB, the status server and the CLI speak about the same
objects. Times are ISO-8601 UTC strings (``...Z``) so they sort as text.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from shared_tools.book.model import Guard, Position, Trade
from shared_tools.book.options import OptionLeg
from shared_tools.book.options_life import Closed
from shared_tools.book.venues import mark_venue

__all__ = [
    "AppState",
    "Guard",
    "Intent",
    "Mark",
    "Message",
    "Position",
    "RiskState",
    "StrategyState",
    "Trade",
    "parse_iso",
    "utc_iso",
]


def utc_iso(dt: datetime | None = None) -> str:
    """ISO-8601 UTC with microseconds and a Z, sortable as text."""
    dt = dt or datetime.now(UTC)
    return dt.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_iso(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)


@dataclass
class RiskState:
    peak_value: float = 0.0
    max_drawdown_pct: float = 60.0
    current_drawdown_pct: float = 0.0
    daily_pnl: float = 0.0
    daily_pnl_date: str = ""
    consecutive_losses: int = 0
    circuit_breaker: bool = False
    circuit_breaker_until: str = ""
    circuit_breaker_reason: str = ""


@dataclass
class StrategyState:
    id: str
    type: str
    platform: str
    cash: float
    initial_capital: float
    positions: dict[str, Position] = field(default_factory=dict)
    risk: RiskState = field(default_factory=RiskState)
    trade_count: int = 0
    last_run: str = ""
    last_error: str = ""
    last_error_at: str = ""
    consecutive_failures: int = 0
    last_signal: int = 0
    last_price: float = 0.0
    # type options: the open option legs by leg id (shared_tools/book/options.py); an
    # assigned wheel's spot long lives in ``positions`` under the underlying ("BTC").
    legs: dict[str, OptionLeg] = field(default_factory=dict)
    # closed_option_positions rows made since the last save (appended with it, then cleared)
    closed_options: list[Closed] = field(default_factory=list)

    @property
    def venue(self) -> str:
        """Where the strategy's marks come from (OKX perps: the swap, not the spot market)."""
        return mark_venue(self.platform, self.type)

    def value(self, prices: dict[str, float]) -> float:
        """Cash plus positions at ``prices``; a symbol without a mark counts at its entry price.

        This is the one rule for a missing mark when valuing a book (status, summary, peaks):
        the latest known mark of any age, else the average cost. Risk decisions use only fresh
        marks (see ``AppState.fresh_prices``).
        """
        total = self.cash
        for pos in self.positions.values():
            mark = prices.get(pos.symbol) or pos.avg_cost
            total += pos.value(mark)
        return total + sum(leg.value() for leg in self.legs.values())

    def numbers(self) -> list[float]:
        """Every amount of the book, to prove it finite before it is saved."""
        r = self.risk
        out = [self.cash, self.initial_capital, self.last_price, r.peak_value]
        out += [r.current_drawdown_pct, r.daily_pnl, r.max_drawdown_pct]
        for p in self.positions.values():
            out += p.numbers()
        for leg in self.legs.values():
            out += [leg.quantity, leg.multiplier, leg.entry_premium, leg.mark, leg.strike]
        return out


@dataclass
class Message:
    """One chat message for the outbox, committed with the cycle that caused it.

    ``transport`` is ``discord`` or ``telegram``; ``target`` the channel/chat id (or ``owner``
    for the owner's DM); ``category`` what it is about (summary, trade, critical, test).
    """

    transport: str
    target: str
    category: str
    body: str
    created_at: str = ""
    cycle: int = 0


@dataclass
class Intent:
    """One live order, committed before it is sent (docs/architecture.md, "Live").

    ``cloid`` is the client order id the order carries, derived from the intent, so a crash,
    a timeout or a dropped connection is resolved by asking the venue for it, never by sending
    again. ``status``: ``pending`` (committed, maybe sent), ``filled``, ``failed`` (the venue
    refused it or never saw it), ``resting``. ``purpose`` says how a fill is booked: ``open``
    (a new position of ``position_side``) or ``close`` (with ``reason``).
    """

    cloid: str
    strategy_id: str
    cycle: int
    leg: str  # which order of the strategy's cycle: open, close, ...
    symbol: str
    side: str  # the order's side: buy | sell
    size: float  # requested quantity (coin units)
    reduce_only: bool
    purpose: str  # open | close
    position_side: str  # long | short: the position opened or closed
    reason: str = ""  # the book's close reason (signal, kill_switch, circuit_breaker, ...)
    status: str = "pending"
    created_at: str = ""
    resolved_at: str = ""
    oid: int = 0
    fill_price: float = 0.0
    fill_qty: float = 0.0
    fee: float = 0.0
    error: str = ""
    extra: dict[str, Any] = field(default_factory=dict)  # entry_atr, regime, cancels, full

    @property
    def open(self) -> bool:
        return self.status == "pending"


@dataclass
class Mark:
    """A venue's price for a symbol and when the supervisor read it (epoch seconds)."""

    price: float
    at: float


@dataclass
class AppState:
    cycle_count: int = 0
    last_cycle: str = ""
    strategies: dict[str, StrategyState] = field(default_factory=dict)
    marks: dict[tuple[str, str], Mark] = field(default_factory=dict)  # (platform, symbol)
    in_cycle: bool = False  # not persisted: True while a cycle's workers run
    unsaved_trades: list[Trade] = field(default_factory=list)  # made but not yet committed
    unsaved_messages: list[Message] = field(default_factory=list)  # outbox rows not committed
    # Live orders not yet resolved, plus those resolved since the last save (cloid -> intent).
    intents: dict[str, Intent] = field(default_factory=dict)
    # Manual-queue rows booked this cycle (row id -> column values), written with the book in
    # one transaction (supervisor/live/manual_queue.py), so a row is applied exactly once.
    manual_updates: dict[int, dict[str, Any]] = field(default_factory=dict)
    # Resting-limit rows changed this cycle (row id -> column values), committed with the book
    # the fills they booked (supervisor/live/limit_orders.py).
    limit_updates: dict[int, dict[str, Any]] = field(default_factory=dict)
    # Book-wide state that must survive a restart and has no table of its own (portfolio
    # risk latch and peak, summary cadence, ...): JSON-able values, saved as app_state.extra_json.
    extra: dict[str, Any] = field(default_factory=dict)
    # Regime transitions' rows made this cycle, committed with the book
    # (supervisor/state/regime_history.py): history rows, alerted changes, prune cutoff.
    regime_history: list[dict[str, Any]] = field(default_factory=list)
    regime_changes: list[dict[str, Any]] = field(default_factory=list)
    regime_prune_before: str = ""

    def prices_for(self, platform: str) -> dict[str, float]:
        """The latest mark of every symbol on ``platform``, whatever its age (for valuation)."""
        return {sym: m.price for (plat, sym), m in self.marks.items() if plat == platform}

    def fresh_prices(self, platform: str, now: float, max_age_s: float) -> dict[str, float]:
        """Marks on ``platform`` read within ``max_age_s`` of ``now``: the only ones risk uses."""
        return {
            sym: m.price
            for (plat, sym), m in self.marks.items()
            if plat == platform and now - m.at <= max_age_s
        }

    @property
    def prices(self) -> dict[str, float]:
        """Symbol -> newest mark across platforms (the flat upstream ``/status`` shape)."""
        out: dict[str, tuple[float, float]] = {}
        for (_plat, sym), m in self.marks.items():
            if sym not in out or m.at > out[sym][1]:
                out[sym] = (m.price, m.at)
        return {sym: price for sym, (price, _at) in out.items()}
