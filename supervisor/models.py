"""The supervisor's in-memory book: what a strategy owns and what it has done.

Plain dataclasses so the state DB, the portfolio rules, the status server and the CLI all speak
about the same objects. Times are ISO-8601 UTC strings (``...Z``) so they sort as text.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime


def utc_iso(dt: datetime | None = None) -> str:
    """ISO-8601 UTC with microseconds and a Z, sortable as text."""
    dt = dt or datetime.now(UTC)
    return dt.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_iso(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)


@dataclass
class Position:
    symbol: str
    position_id: str
    quantity: float
    initial_quantity: float
    avg_cost: float  # average fill price (what the operator sees)
    cost_basis: float  # USD paid for the quantity still held, fees included
    side: str = "long"
    entry_atr: float = 0.0
    opened_at: str = ""

    def market_value(self, mark: float) -> float:
        return self.quantity * mark


@dataclass
class Trade:
    strategy_id: str
    timestamp: str
    symbol: str
    position_id: str
    side: str  # buy | sell (execution side)
    quantity: float
    price: float
    value: float  # quantity * price
    fee: float
    trade_type: str = "spot"
    is_close: bool = False
    realized_pnl: float = 0.0  # net of both legs' fees, on close legs only
    details: str = ""
    cycle: int = 0


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

    def value(self, prices: dict[str, float]) -> float:
        """Cash plus positions marked at ``prices`` (falling back to the average cost)."""
        total = self.cash
        for pos in self.positions.values():
            mark = prices.get(pos.symbol) or pos.avg_cost
            total += pos.market_value(mark)
        return total


@dataclass
class AppState:
    cycle_count: int = 0
    last_cycle: str = ""
    strategies: dict[str, StrategyState] = field(default_factory=dict)
    prices: dict[str, float] = field(default_factory=dict)
    in_cycle: bool = False  # not persisted: True while a cycle's workers run
    unsaved_trades: list[Trade] = field(default_factory=list)  # made but not yet committed
