"""The cycle's options work: check jobs, marks, expiry, actions and theta harvest.

The two workers and their JSON are the contract in docs/architecture.md, "Options":
``check_options.py <strategy> <UND> --platform=p`` (positions on stdin, actions out) and
``mark_options.py --platform=p`` (one run per platform per cycle for every options strategy:
positions and underlyings on stdin, marks and spots out). In the cycle:

* ``marks`` step (:func:`apply_marks`): every leg takes its fresh mark (premium per unit,
  greeks, dte, real expiry instant); a leg the venue reports expired settles from the venue's
  ``settlement_price`` (none yet: it waits, never settles on a failed read); an assigned
  wheel's spot is marked from ``spots`` like any position;
* ``signals`` step (:func:`apply_check`): the check's actions through the entry gates
  (paused, daily loss, notional cap, exposure caps: they drop opens, buy and sell) and the
  book (shared_tools/book/options.py); then :func:`harvest` runs for every options strategy
  with sold legs, whether or not its check answered (upstream skipped it on a check error).
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from typing import Any, Protocol

from shared_tools.book.options import OptionLeg, OptionsBook
from shared_tools.book.options_life import apply_mark, expires_at, harvest, settle
from shared_tools.config.model import Config, StrategyConfig
from shared_tools.config.options import MARK_JOB_PREFIX, MARK_SCRIPT
from supervisor.cycle_report import CycleReport, Outcome
from supervisor.risk import exposure as risk_exposure
from supervisor.run.jobs import Job, Result
from supervisor.state.models import AppState, Mark, StrategyState, Trade, parse_iso

__all__ = [
    "MARK_JOB_PREFIX",
    "MAX_POSITIONS",
    "apply_check",
    "apply_marks",
    "check_job",
    "harvest_all",
    "mark_jobs",
    "positions_doc",
]

MAX_POSITIONS = 4  # upstream's MAX_POSITIONS_PER_STRATEGY: the supervisor enforces it too


class Cycle(Protocol):
    """What this step reads of :class:`supervisor.cycle.Cycle` (no import back up)."""

    app: AppState
    config: Config
    report: CycleReport
    stamp: str
    epoch: float
    results: dict[str, Result]
    halted: str
    daily_hold: str
    notional_hold: str
    exposure: risk_exposure.Exposure
    log: Callable[[str], None]

    def book_trades(
        self, sc: StrategyConfig, strat: StrategyState, trades: list[Trade], bar: float = 0.0
    ) -> None: ...

    def _fail(self, strat: StrategyState, reason: str) -> None: ...


def _book(sc: StrategyConfig) -> OptionsBook:
    return OptionsBook(sc.platform)


def positions_doc(strat: StrategyState) -> list[dict[str, Any]]:
    """The check's stdin (contract B): option entries with id, quantity, per-unit premium and
    the last marked greeks; spot entries for an assigned wheel's holdings."""
    out: list[dict[str, Any]] = []
    for leg in strat.legs.values():
        out.append(
            {
                "id": leg.leg_id,
                "underlying": leg.underlying,
                "option_type": leg.option_type,
                "strike": leg.strike,
                "expiry": leg.expiry,
                "dte": leg.dte_days,
                "action": leg.action,
                "quantity": leg.quantity,
                "multiplier": leg.multiplier,
                # upstream's total: a buy's cost (fee outside), a sale's premium net of fee
                "entry_premium_usd": leg.entry_premium * leg.units - (leg.sign < 0) * leg.entry_fee,
                "entry_premium_unit_usd": leg.entry_premium,
                **{g: leg.greeks.get(g, 0.0) for g in ("delta", "gamma", "theta", "vega")},
            }
        )
    for pos in strat.positions.values():
        out.append(
            {
                "position_type": "spot",
                "symbol": pos.symbol,
                "quantity": pos.quantity,
                "avg_cost": pos.avg_cost,
                "side": str(pos.side),
            }
        )
    return out


def check_job(sc: StrategyConfig, strat: StrategyState) -> Job:
    assert sc.options is not None
    doc = json.dumps(positions_doc(strat), allow_nan=False)
    return Job(key=sc.id, script=sc.script, args=tuple(sc.options.argv()), stdin=doc)


def mark_jobs(app: AppState, config: Config) -> list[Job]:
    """One mark_options.py run per platform, for every options strategy holding legs or spot."""
    per: dict[str, tuple[list[dict[str, Any]], set[str]]] = {}
    for sc in config.strategies:
        strat = app.strategies.get(sc.id)
        if sc.options is None or strat is None or not (strat.legs or strat.positions):
            continue
        legs, unds = per.setdefault(sc.platform, ([], set()))
        unds.add(sc.options.underlying)
        unds.update(strat.positions)
        for leg in strat.legs.values():
            legs.append(
                {
                    "id": leg.leg_id,
                    "underlying": leg.underlying,
                    "option_type": leg.option_type,
                    "strike": leg.strike,
                    "expiry": leg.expiry,
                    "action": leg.action,
                    "quantity": leg.quantity,
                }
            )
    return [
        Job(
            key=MARK_JOB_PREFIX + platform,
            script=MARK_SCRIPT,
            args=(f"--platform={platform}",),
            stdin=json.dumps({"positions": legs, "underlyings": sorted(unds)}),
        )
        for platform, (legs, unds) in sorted(per.items())
    ]


def _mark_doc(cy: Cycle, platform: str) -> dict[str, Any]:
    result = cy.results.get(MARK_JOB_PREFIX + platform)
    if result is None:
        return {}
    if not isinstance(result.data, dict) or not result.ok:
        note = f"[options] {platform}: no marks ({result.error or 'bad answer'})"
        cy.report.notes.append(note)
        cy.log(note)
        return {}
    return result.data


def apply_marks(cy: Cycle) -> None:
    """Marks, expiry settlement and assigned-spot marks for every options strategy."""
    docs: dict[str, dict[str, Any]] = {}
    for sc in cy.config.strategies:
        strat = cy.app.strategies.get(sc.id)
        if sc.options is None or strat is None or not (strat.legs or strat.positions):
            continue
        if sc.platform not in docs:
            docs[sc.platform] = _mark_doc(cy, sc.platform)
        doc = docs[sc.platform]
        spots = doc.get("spots") if isinstance(doc.get("spots"), dict) else {}
        for und, price in (spots or {}).items():
            if isinstance(price, (int, float)) and math.isfinite(price) and price > 0:
                cy.app.marks[(strat.venue, str(und).upper())] = Mark(float(price), cy.epoch)
        marks = doc.get("marks") if isinstance(doc.get("marks"), dict) else {}
        trades: list[Trade] = []
        for leg in list(strat.legs.values()):
            mark = (marks or {}).get(leg.leg_id)
            if isinstance(mark, dict) and not mark.get("expired"):  # expired: settles below
                apply_mark(leg, mark, cy.stamp)
            trades += _expire(cy, sc, strat, leg, mark if isinstance(mark, dict) else None)
        cy.book_trades(sc, strat, trades)


def _expire(
    cy: Cycle, sc: StrategyConfig, strat: StrategyState, leg: OptionLeg, mark: dict[str, Any] | None
) -> list[Trade]:
    """Settle ``leg`` once past its real expiry instant and the venue's price is known."""
    if parse_iso(cy.stamp) < expires_at(leg):
        return []
    price = mark.get("settlement_price") if mark is not None else None
    if not isinstance(price, (int, float)) or not math.isfinite(price) or price <= 0:
        cy.report.notes.append(f"[{sc.id}] {leg.key} expired; settlement price not known yet")
        return []
    assert sc.options is not None
    made, row = settle(
        strat, strat.positions, _book(sc), leg, float(price), cy.stamp, wheel=sc.options.wheel
    )
    if row is not None:
        strat.closed_options.append(row)
        cy.log(f"[{sc.id}] EXPIRED {row.position_id} @ {price:g}: {row.close_reason}")
    return made


def _direction(action: dict[str, Any]) -> str:
    """Upstream's exposure direction: sign(action) x delta (delta 0: call +1, put -1)."""
    greeks = action.get("greeks") if isinstance(action.get("greeks"), dict) else {}
    delta = greeks.get("delta", 0.0) if greeks else 0.0
    if not isinstance(delta, (int, float)) or not delta:
        delta = 1.0 if action.get("option_type") == "call" else -1.0
    sign = 1.0 if action.get("action") == "buy" else -1.0
    return "long" if sign * delta > 0 else "short"


def _gate(cy: Cycle, sc: StrategyConfig, action: dict[str, Any]) -> str:
    """Upstream's filters of an options open, in order (buy and sell alike); "" = may open."""
    if sc.paused:
        return "paused"
    if cy.daily_hold:
        return cy.daily_hold
    if cy.notional_hold:
        return cy.notional_hold
    side = _direction(action)
    assert sc.options is not None
    settings = cy.config.risk
    return risk_exposure.same_direction(cy.exposure, settings, side) or risk_exposure.concentration(
        cy.exposure, settings, sc.options.underlying, side
    )


def _number(x: object, default: float = 0.0) -> float:
    ok = isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)
    return float(x) if ok else default  # type: ignore[arg-type]


def _open(
    cy: Cycle, sc: StrategyConfig, strat: StrategyState, a: dict[str, Any], spot: float
) -> tuple[Trade | None, str]:
    """Book one check action; returns (trade or None, what happened)."""
    side = {"buy": "long", "sell": "short"}.get(str(a.get("action")))
    if side is None:
        return None, f"skipped action {a.get('action')!r} (only buy and sell)"
    if len(strat.legs) >= MAX_POSITIONS:
        return None, f"refused: max positions reached ({len(strat.legs)}/{MAX_POSITIONS})"
    premium = _number(a.get("premium_usd"))
    if premium <= 0:
        premium = _number(a.get("premium")) * spot
    if premium <= 0:
        return None, "skipped: premium <= 0 (no zero-premium trades)"
    held = _gate(cy, sc, a)
    if held:
        return None, f"held ({held})"
    assert sc.options is not None
    trade, why = _book(sc).open(
        strat,
        sc.options.underlying,
        str(a.get("option_type")),
        _number(a.get("strike")),
        str(a.get("expiry", ""))[:10],
        side,
        _number(a.get("quantity"), 1.0) or 1.0,
        premium,
        cy.stamp,
        multiplier=_number(a.get("multiplier")),
        collateral=True,
    )
    if trade is None:
        return None, why
    leg = strat.legs[trade.position_id]
    greeks = a.get("greeks") if isinstance(a.get("greeks"), dict) else {}
    apply_mark(
        leg,
        {
            "premium_usd": premium,
            "greeks": greeks,
            "dte": a.get("dte"),
            "expires_at": a.get("expires_at"),
        },
        cy.stamp,
    )
    leg.instrument = str(a.get("instrument") or "")
    return trade, why


def apply_check(cy: Cycle, sc: StrategyConfig, strat: StrategyState) -> None:
    """The check's answer: its actions booked (gated), the cycle's detail line."""
    result = cy.results.get(sc.id)
    doc = result.data if result is not None and isinstance(result.data, dict) else None
    error = (result.error if result is not None else "no result") or ""
    if doc is None or error or doc.get("error"):
        cy._fail(strat, error or str(doc.get("error") if doc else "no answer"))
        cy.log(f"[{sc.id}] options check failed: {strat.last_error}")
        return
    strat.last_error, strat.last_error_at, strat.consecutive_failures = "", "", 0
    strat.last_run = cy.stamp
    signal = int(_number(doc.get("signal")))
    spot = _number(doc.get("spot_price"))
    strat.last_signal, strat.last_price = signal, spot
    actions = doc.get("actions") if isinstance(doc.get("actions"), list) else []
    trades: list[Trade] = []
    notes: list[str] = []
    if signal != 0 and not cy.halted:
        for a in actions or []:
            if isinstance(a, dict):
                trade, why = _open(cy, sc, strat, a, spot)
                notes.append(why)
                if trade is not None:
                    trades.append(trade)
    cy.book_trades(sc, strat, trades, bar=spot)
    assert sc.options is not None
    mood = {1: "BULLISH", -1: "BEARISH"}.get(signal, "HOLD")
    iv = _number(doc.get("iv_rank"))
    line = f"{mood} {sc.options.underlying} spot=${spot:.2f} IV={iv:.1f}"
    if doc.get("skip_reason"):
        line += f" ({doc['skip_reason']})"
    action = "; ".join([line, *notes])
    cy.report.outcomes.append(Outcome(sc.id, signal, spot, action))


def harvest_all(cy: Cycle) -> None:
    """theta_harvest for every options strategy with legs, every cycle (even when its check
    failed or was not due), unless the kill switch holds the book."""
    if cy.halted:
        return
    for sc in cy.config.strategies:
        strat = cy.app.strategies.get(sc.id)
        if sc.options is None or strat is None or not strat.legs or strat.risk.circuit_breaker:
            continue
        trades, closed, lines = harvest(strat, _book(sc), sc.options.theta_harvest, cy.stamp)
        strat.closed_options.extend(closed)
        cy.book_trades(sc, strat, trades)
        if lines:  # joined to the check's outcome when it ran (one summary row per strategy)
            text = "; ".join(lines)
            mine = [o for o in cy.report.outcomes if o.id == sc.id]
            if mine:
                head = mine[-1].action or (f"ERROR: {mine[-1].error}" if mine[-1].error else "")
                mine[-1].action = f"{head}; {text}" if head else text
            else:
                cy.report.outcomes.append(Outcome(sc.id, action=text))
