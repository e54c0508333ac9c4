"""The entry gates of one open, in upstream's order (§2.6); the first refusal is the one named.

A gate holds an *open* (a fresh entry, the open half of a flip, or a scale-in add); closes
never reach the gates. Every gate reads one fact of :class:`Entry`, so the order is the only thing that decides
which refusal an operator sees when several would refuse. :data:`GATES` is that order:

1. ``live``: the live desk's venue holds (account not read, a reconcile gap, an order not
   resolved yet); upstream judges the venue before the check runs;
2. ``market_closed``: the check's own answer (step 1, the check script; the HTF filter is
   applied inside the check script, so it never reaches the supervisor as a gate);
3. ``regime_gate``: ``allowed_regimes`` against the label of ``regime_gate_window``;
3b. ``regime_directional_policy``: a certified policy's direction for the directional window's
   label holds an open the base rules would make (shared_tools/regime_policy.py); the
   open it allows instead (e.g. the inverted side) passes the remaining gates;
4. ``hurst_gate``: not built (upstream #1411); its slot is skipped;
5. ``paused``: the strategy's ``paused`` flag;
6. ``daily_loss``: ``portfolio_risk.daily_max_loss_usd``/``_pct``;
7. ``max_notional_usd``: the book's notional cap;
8. ``max_same_direction_notional_usd`` then ``max_asset_concentration_pct``: the exposure caps
   (supervisor/risk/exposure.py).

Not gates here: the correlation warnings are advisory only, and the breakers stop a strategy before its check runs.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from shared_tools import book, regime_policy
from shared_tools.book.rules import Rules
from shared_tools.config.model import Config, StrategyConfig
from shared_tools.config.risk import RiskSettings
from shared_tools.regime_labels import gate_allows, payload_label
from shared_tools.regime_policy import Effective
from supervisor.risk import exposure as risk_exposure
from supervisor.risk.exposure import Exposure
from supervisor.risk.portfolio import base_asset
from supervisor.run.results import WorkerSignal
from supervisor.state.models import AppState, Position, StrategyState


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
    policy_hold: str = ""  # why regime_directional_policy holds this open ("" = not)
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
    ("regime_directional_policy", lambda e: e.policy_hold),
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
    config: Config
    stamp: str
    daily_hold: str
    notional_hold: str
    exposure: Exposure

    @property
    def live(self) -> _Live | None: ...

    def log(self, line: str) -> None: ...


def directional(
    sc: StrategyConfig, strat: StrategyState, sig: WorkerSignal
) -> tuple[Rules, regime_policy.Effective]:
    """The rules this check trades under: ``regime_directional_policy`` when certified (a held
    position keeps its frozen verdict and stamped label), else the base ``sc.rules``."""
    policy = sc.directional_policy
    if not policy:
        return sc.rules, regime_policy.Effective(sc.direction, sc.invert_signal, "", "")
    eff = regime_policy.judge(
        sc.direction,
        sc.invert_signal,
        policy,
        sc.symbol,
        sc.timeframe,
        payload_label(sig.regime, policy.window),
        strat.positions.get(sc.symbol),
    )
    return regime_policy.apply(sc.rules, eff), eff


def entry_hold(
    cy: Cycle,
    sc: StrategyConfig,
    strat: StrategyState,
    sig: WorkerSignal,
    rules: Rules | None = None,
    eff: regime_policy.Effective | None = None,
) -> str:
    """Why this check's open is held ("" when it may open, or opens nothing at all)."""
    pos = strat.positions.get(sc.symbol)
    held_side = pos.side if pos else ""
    composed, fraction = sig.composed, sig.close_fraction
    plan = book.decide(
        held_side, sig.signal, rules or sc.rules, composed=composed, close_fraction=fraction
    )
    policy_hold = ""
    if not plan.open_side and rules is not None and eff is not None and eff.overridden:
        base = book.decide(
            held_side, sig.signal, sc.rules, composed=composed, close_fraction=fraction
        )
        if base.open_side:
            plan = base
            policy_hold = (
                f"{eff.regime}: policy direction {eff.direction} holds a {base.open_side} entry"
            )
    side = plan.open_side or (str(pos.side) if plan.add and pos is not None else "")
    if not side:  # an add (scale_in) increases the position: gated like an open
        return ""
    entry = Entry(
        side=side,
        policy_hold=policy_hold,
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


def outcome(action: str, held: str) -> str:
    """The book's action with the gate that held its open named. A policy hold leaves the book
    nothing to open under the effective rules, so the held side is taken from the refusal."""
    if not held:
        return action
    if action.endswith("entry held"):
        return f"{action} ({held})"
    if held.startswith("regime_directional_policy: "):
        side = held.rsplit(" holds a ", 1)[-1].split(" ", 1)[0]
        return f"{action}; {side} entry held ({held})"
    return action


def freeze_verdict(
    sc: StrategyConfig, strat: StrategyState, sig: WorkerSignal, had: Position | None
) -> None:
    """A position this check opened gets the policy's verdict frozen (upstream #1085), judged
    flat: a flip's new position never inherits the closed one's (upstream #1026)."""
    pos = strat.positions.get(sc.symbol)
    if pos is None or pos is had or not sc.directional_policy:
        return
    flat = StrategyState(strat.id, strat.type, strat.platform, 0.0, 0.0)
    regime_policy.stamp(pos, directional(sc, flat, sig)[1])


VIEW_KEY = "regime_view"  # app.extra: strategy id -> its regime view (status and inspect)


def show_regime(
    app: AppState, config: Config, sc: StrategyConfig, sig: WorkerSignal, eff: Effective
) -> None:
    """Keep this cycle's regime view of ``sc`` for /status and inspect (saved with the book)."""
    if sc.regime_args:
        app.extra.setdefault(VIEW_KEY, {})[sc.id] = regime_view(sc, config, sig, eff)


def regime_view(
    sc: StrategyConfig, config: Config, sig: WorkerSignal, eff: regime_policy.Effective
) -> dict[str, object]:
    """What an operator reads about a strategy's regime this cycle: the labels of the display
    windows (all windows when none are named), the base and effective direction rules, the
    policy's label and its certification status (upstream's /status fields)."""
    windows = config.regime.display_windows or tuple(sorted(config.regime.windows)) or ("",)
    return {
        "labels": {w or "primary": payload_label(sig.regime, w) for w in windows},
        "base_direction": sc.direction,
        "base_invert_signal": sc.invert_signal,
        "effective_direction": eff.direction,
        "effective_invert_signal": eff.invert_signal,
        "regime_directional_policy": bool(sc.directional_policy),
        "effective_policy_regime": eff.regime,
        "directional_certification_status": eff.status,
    }
