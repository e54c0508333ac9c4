"""How one strategy trades: the terms its book uses and the direction rules for a signal.

``Rules`` is built once per strategy from its config (the supervisor) or from the backtest's
arguments (the backtester); both then hand signals to :func:`shared_tools.book.apply_signal`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from shared_tools.book.guard import Protection
from shared_tools.book.instruments import Instrument, instrument
from shared_tools.book.scale_in import ScaleIn
from shared_tools.book.venues import ContractSpec
from shared_tools.domain import Direction, Kind, Side

__all__ = ["DIRECTIONS", "Plan", "Rules", "decide"]

DIRECTIONS = tuple(Direction)


@dataclass(frozen=True)
class Rules:
    kind: Kind = Kind.SPOT  # spot | perps | futures
    platform: str = "binanceus"
    fee_rate: float = 0.001  # fraction of notional (spot, perps)
    direction: Direction = Direction.LONG
    invert_signal: bool = False
    leverage: float = 1.0
    sizing_leverage: float = 0.0  # 0 = leverage
    margin_per_trade_usd: float = 0.0
    risk_per_trade_pct: float = 0.0  # perps: size so a stop hit loses this % of cash; 0 = off
    fee_per_contract: float = 0.0  # futures
    max_contracts: int = 0  # futures; 0 = no cap
    contract: ContractSpec | None = None  # futures; None = multiplier 1, margin = price
    protection: Protection = field(default_factory=Protection)
    scale_in: ScaleIn = field(default_factory=ScaleIn)  # perps: allow_scale_in + scale_in
    instrument: Instrument | None = None  # None: the table's row for each symbol traded

    def instrument_of(self, symbol: str) -> Instrument:
        """The venue's terms for ``symbol``: minimums, margin rates, funding interval."""
        if self.instrument is not None:
            return self.instrument
        return instrument(self.platform, symbol, self.kind)

    def allows(self, side: Side | str) -> bool:
        """May a position of ``side`` be opened? Spot is long-only whatever the config."""
        if self.kind == Kind.SPOT:
            return side == Side.LONG
        return self.direction == Direction.BOTH or self.direction == side


@dataclass(frozen=True)
class Plan:
    """What a signal means for the held position: close a share of it, then maybe open."""

    close_fraction: float = 0.0  # of the held quantity
    open_side: str = ""  # long | short | "" (none)
    add: bool = False  # scale in: add to the held side (allow_scale_in, book/scale_in.py)
    note: str = ""  # why nothing (or less) happens


def decide(
    held: str,
    signal: int,
    rules: Rules,
    *,
    composed: bool = False,
    close_fraction: float = 1.0,
) -> Plan:
    """Turn a signal into a plan under the strategy's direction (upstream §1.4).

    ``held`` is the held side ("" when flat). A *composed* answer (the check ran close
    evaluators) never reverses: a signal against the held side closes ``close_fraction`` of
    it and opens nothing, and ``invert_signal`` does not apply to it (the evaluators already
    reason about the held side). A plain signal against the held side closes all of it and,
    when the direction allows the other side, opens that side (a flip). A signal for the held
    side adds to it when ``allow_scale_in`` is on (never a flip), else it is skipped.
    """
    if signal not in (-1, 1):
        return Plan(note="hold")
    if rules.invert_signal and not (composed and held):
        signal = -signal
    want = Side.LONG if signal > 0 else Side.SHORT
    if held:
        if held == want:
            return Plan(add=rules.scale_in.enabled, note=f"hold (already {held})")
        if composed:
            return Plan(close_fraction=close_fraction)
        return Plan(close_fraction=1.0, open_side=want if rules.allows(want) else "")
    if rules.allows(want):
        return Plan(open_side=want)
    if rules.kind == Kind.SPOT:
        return Plan(note="hold (flat, spot does not short)")
    return Plan(note=f"hold (direction {rules.direction}: no {want} entries)")
