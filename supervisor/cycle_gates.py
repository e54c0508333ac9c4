"""The entry gates of one open, in upstream's order (§2.6); the first refusal is the one named.

A gate holds an *open* (a fresh entry, the open half of a flip, or a scale-in add); closes
never reach the gates. Every gate reads one fact of :class:`Entry`, so the order is the only thing that decides
which refusal an operator sees when several would refuse. :data:`GATES` is that order:

1. ``live``: the live desk's venue holds (account not read, a reconcile gap, an order not
   resolved yet); upstream judges the venue before the check runs;
2. ``market_closed``: the check's own answer (step 1, the check script; the HTF filter is
   applied inside the check script, so it never reaches the supervisor as a gate);
3. ``regime_gate``: ``allowed_regimes`` against the label of ``regime_gate_window``;
4. ``hurst_gate``: not built (upstream #1411); its slot is skipped;
5. ``paused``: the strategy's ``paused`` flag;
6. ``daily_loss``: ``portfolio_risk.daily_max_loss_usd``/``_pct``;
7. ``max_notional_usd``: the book's notional cap;
8. ``max_same_direction_notional_usd`` then ``max_asset_concentration_pct``: the exposure caps
   (supervisor/risk/exposure.py).

Not gates here: ``regime_directional_policy`` changes the direction rules (not built), the
correlation warnings are advisory only, and the breakers stop a strategy before its check runs.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from shared_tools import book
from shared_tools.config.model import Config, StrategyConfig
from shared_tools.config.risk import RiskSettings
from shared_tools.regime_labels import gate_allows, payload_label
from supervisor.risk import exposure as risk_exposure
from supervisor.risk.exposure import Exposure
from supervisor.risk.portfolio import base_asset
from supervisor.run.results import WorkerSignal
from supervisor.state.models import AppState, StrategyState


@dataclass(frozen=True)
class Refusal:
    """The gate that holds an open, and why; shown as ``<gate>: <reason>``."""

    gate: str
    reason: str

    def __str__(self) -> str:
        return f"{self.gate}: {self.reason}"


@dataclass(frozen=True)
class Entry:
    """What the gates judge: one strategy's open of ``side`` on ``asset`` in this cycle."""

    side: str  # long | short
    asset: str  # the base asset (supervisor.risk.portfolio.base_asset)
    live_hold: str = ""
    market_open: bool = True
    regime_enabled: bool = False  # the gate needs the top-level regime section (as upstream)
    regime_label: str = ""
    allowed_regimes: tuple[str, ...] = ()
    regime_on_failure: str = "open"
    paused: bool = False
    daily_loss: str = ""  # why today's losses hold entries ("" = not)
    notional: str = ""  # why the book's notional holds entries ("" = not)
    exposure: Exposure = field(default_factory=Exposure)
    settings: RiskSettings = field(default_factory=RiskSettings)


def _regime(e: Entry) -> str:
    if not e.regime_enabled or gate_allows(e.regime_label, e.allowed_regimes, e.regime_on_failure):
        return ""
    return f"{e.regime_label or 'unknown regime'} not in allowed_regimes"


Gate = Callable[[Entry], str]

GATES: tuple[tuple[str, Gate | None], ...] = (
    ("live", lambda e: e.live_hold),
    ("market_closed", lambda e: "" if e.market_open else "the check reports its market closed"),
    ("regime_gate", _regime),
    ("hurst_gate", None),  # not built: skipped in its slot
    ("paused", lambda e: "the strategy is paused" if e.paused else ""),
    ("daily_loss", lambda e: e.daily_loss),
    ("max_notional_usd", lambda e: e.notional),
    (
        "max_same_direction_notional_usd",
        lambda e: risk_exposure.same_direction(e.exposure, e.settings, e.side),
    ),
    (
        "max_asset_concentration_pct",
        lambda e: risk_exposure.concentration(e.exposure, e.settings, e.asset, e.side),
    ),
)
ORDER: tuple[str, ...] = tuple(name for name, _ in GATES)


def first_refusal(entry: Entry) -> Refusal | None:
    """The first gate, in upstream's order, that holds this open (None: it may open)."""
    for name, gate in GATES:
        reason = gate(entry) if gate is not None else ""
        if reason:
            return Refusal(name, reason)
    return None


class _Live(Protocol):
    def entry_hold(self, sc: StrategyConfig) -> str: ...


HOLDS_KEY = "entry_holds"  # AppState.extra: each strategy's latest held open (inspect shows it)


def record_hold(app: AppState, sid: str, side: str, refusal: Refusal, stamp: str) -> None:
    """Keep the latest refusal per strategy, so `inspect` can name the gate after the fact."""
    holds = app.extra.get(HOLDS_KEY)
    holds = (
        {k: v for k, v in holds.items() if k in app.strategies} if isinstance(holds, dict) else {}
    )
    holds[sid] = {
        "gate": refusal.gate,
        "reason": refusal.reason,
        "side": side,
        "at": stamp,
        "cycle": app.cycle_count,
    }
    app.extra[HOLDS_KEY] = holds


def last_hold(app: AppState, sid: str) -> dict[str, Any] | None:
    """The latest held open of ``sid`` ({gate, reason, side, at, cycle}), or None."""
    holds = app.extra.get(HOLDS_KEY)
    hold = holds.get(sid) if isinstance(holds, dict) else None
    return hold if isinstance(hold, dict) else None


class Cycle(Protocol):
    """What the gates read of :class:`supervisor.cycle.Cycle` (no import back up)."""

    app: AppState
    stamp: str
    config: Config
    daily_hold: str
    notional_hold: str
    exposure: Exposure

    @property
    def live(self) -> _Live | None: ...

    def log(self, line: str) -> None: ...


def entry_hold(cy: Cycle, sc: StrategyConfig, strat: StrategyState, sig: WorkerSignal) -> str:
    """Why this check's open is held ("" when it may open, or opens nothing at all)."""
    pos = strat.positions.get(sc.symbol)
    plan = book.decide(
        pos.side if pos else "",
        sig.signal,
        sc.rules,
        composed=sig.composed,
        close_fraction=sig.close_fraction,
    )
    side = plan.open_side or (str(pos.side) if plan.add and pos is not None else "")
    if not side:  # an add (scale_in) increases the position: gated like an open
        return ""
    entry = Entry(
        side=side,
        asset=base_asset(sc.symbol),
        live_hold=cy.live.entry_hold(sc) if cy.live is not None else "",
        market_open=sig.market_open,
        regime_enabled="--regime-enabled" in sc.regime_args,
        regime_label=payload_label(sig.regime, sc.regime_gate_window),
        allowed_regimes=tuple(sc.allowed_regimes),
        regime_on_failure=sc.regime_gate_on_failure,
        paused=sc.paused,
        daily_loss=cy.daily_hold,
        notional=cy.notional_hold,
        exposure=cy.exposure,
        settings=cy.config.risk,
    )
    refusal = first_refusal(entry)
    if refusal is None:
        return ""
    cy.log(f"[{sc.id}] {side} {'add' if plan.add else 'entry'} held ({refusal})")
    record_hold(cy.app, sc.id, side, refusal, cy.stamp)
    return str(refusal)
