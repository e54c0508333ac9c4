"""SIGHUP reload: which config changes apply to a running book and which need a restart.

Capital, drawdown limits, intervals, breaker settings, strategy params, sizing, stop values and
the regime gate apply at once; the roster, scripts, types, args, the futures block, DB, port and
market source are structural and refused whole. As upstream (config_reload.go), how a strategy
trades its position (direction, invert_signal, leverage, margin_mode, which stop it uses, the
gate's window) may change only while it is flat: a held position keeps the rules it opened under.

A capital change is a cashflow (supervisor/state/capital.py): no drawdown reading moves. New stop
values, trailing settings and take-profit tiers re-arm the guard of every open position of the
strategy (a trailing stop keeps the best mark it has seen); a change the guard cannot take (an
ATR stop for a position opened without an entry ATR) refuses the reload with the reason.
"""

from __future__ import annotations

import copy

from shared_tools.book.guard import Protection, arm
from shared_tools.book.model import Guard, Position
from shared_tools.config import schema
from shared_tools.config.model import Config, StrategyConfig
from shared_tools.config.trading import STOP_KEYS
from supervisor.state import capital
from supervisor.state.models import AppState

# The reload's safe subset, from the schema table (shared_tools/config/schema.py): the fields
# of keys whose change refuses the reload whole, per strategy and at the top level.
STRUCTURAL = (
    *schema.reload_fields(schema.STRATEGY, "structural"),
    *schema.reload_fields("strategies[].futures", "structural"),
)
STRUCTURAL_TOP = schema.reload_fields(schema.TOP, "structural")


def structural_changes(old: Config, new: Config) -> list[str]:
    """Changes a reload cannot apply safely (roster, scripts, types, DB, port, market)."""
    out = []
    old_ids = [s.id for s in old.strategies]
    new_ids = [s.id for s in new.strategies]
    added = sorted(set(new_ids) - set(old_ids))
    removed = sorted(set(old_ids) - set(new_ids))
    if added:
        out.append(f"strategies added: {', '.join(added)}")
    if removed:
        out.append(f"strategies removed: {', '.join(removed)}")
    for key in STRUCTURAL_TOP:
        if getattr(old, key) != getattr(new, key):
            out.append(f"{key} changed")
    for sc in new.strategies:
        if sc.id not in old_ids:
            continue
        prev = old.strategy(sc.id)
        for key in STRUCTURAL:
            if getattr(prev, key) != getattr(sc, key):
                out.append(f"strategy[{sc.id}]: {key} changed")
        if prev.open_strategy.name != sc.open_strategy.name:
            out.append(f"strategy[{sc.id}]: open_strategy.name changed")
    return out


# Changes refused while the strategy holds a position; they apply once it is flat.
FLAT_ONLY = schema.reload_fields(schema.STRATEGY, "flat-only")
STOPS = tuple(STOP_KEYS)
# Applied at once, positions or not (only later decisions read them). The stop values are live;
# a change of which stop is on is flat-only (:func:`_stop_mode`).
LIVE = schema.reload_fields(schema.STRATEGY, "live")


def _stop_mode(sc: StrategyConfig) -> tuple[str, ...]:
    return tuple(key for key in STOPS if getattr(sc, key))


def flat_only_problems(old: Config, new: Config, app: AppState) -> list[str]:
    """Changes to how a held position is traded: refused until the strategy is flat.

    Also the protection changes a held position's guard cannot take (:func:`rearm_problems`).
    """
    out = []
    for sc in new.strategies:
        strat = app.strategies.get(sc.id)
        if strat is None or not (any(p.quantity for p in strat.positions.values()) or strat.legs):
            continue
        try:
            prev = old.strategy(sc.id)
        except KeyError:
            continue
        changed = [
            (key, getattr(prev, key), getattr(sc, key))
            for key in FLAT_ONLY
            if getattr(prev, key) != getattr(sc, key)
        ]
        if _stop_mode(prev) != _stop_mode(sc):
            modes = (", ".join(_stop_mode(c)) or "none" for c in (prev, sc))
            changed.append(("the stop in use", *modes))
        if bool(prev.risk_per_trade_pct) != bool(sc.risk_per_trade_pct):  # upstream: on<->off
            changed.append(
                (
                    "risk_per_trade_pct",
                    prev.risk_per_trade_pct or "off",
                    sc.risk_per_trade_pct or "off",
                )
            )
        for what, was, now in changed:
            out.append(
                f"strategy[{sc.id}]: {what} changed ({was} -> {now}) while it holds a position; "
                "close the position first (or set it back), then reload"
            )
    return out + rearm_problems(old, new, app)


def _protected(old: Config, new: Config, app: AppState):
    """(old config, new config, held positions) of each strategy whose protection changed."""
    for sc in new.strategies:
        strat = app.strategies.get(sc.id)
        if strat is None or sc.type == "options":
            continue
        held = [p for p in strat.positions.values() if p.quantity]
        try:
            prev = old.strategy(sc.id)
        except KeyError:
            continue
        if held and prev.rules.protection != sc.rules.protection:
            yield prev, sc, held


def rearmed(pos: Position, rules: Protection) -> tuple[Guard, list[str]]:
    """The guard ``pos`` gets under ``rules`` (as at its open), keeping a trailing stop's best
    mark so far; and the notes on what could not be armed. ``pos`` is not changed."""
    trial = copy.copy(pos)
    notes = arm(trial, rules)
    g, old, s = trial.guard, pos.guard, pos.sign
    if g.trailing and old.trailing and (old.best - g.best) * s > 0:
        g.best = old.best
        stop = g.best * (1 - s * g.trail_pct) if g.trail_pct else g.best - s * g.trail_distance
        if stop > 0:
            g.stop = stop
    return g, notes


def rearm_problems(old: Config, new: Config, app: AppState) -> list[str]:
    """Protection changes a held position cannot take: refused, with the reason."""
    out = []
    for prev, sc, held in _protected(old, new, app):
        if _stop_mode(prev) != _stop_mode(sc):
            continue  # refused above as a change of the stop in use
        p_old, p_new = prev.rules.protection, sc.rules.protection
        stop_changed = _stop_part(p_old) != _stop_part(p_new)
        tiers_changed = (p_old.tp_atr_tiers, p_old.tp_pct_tiers) != (
            p_new.tp_atr_tiers,
            p_new.tp_pct_tiers,
        )
        wants_stop = stop_changed and any(_stop_part(p_new)[:5])
        wants_targets = tiers_changed and bool(p_new.tp_atr_tiers or p_new.tp_pct_tiers)
        for pos in held:
            g, notes = rearmed(pos, p_new)
            if (wants_stop and not g.stop) or (wants_targets and not g.targets):
                why = "; ".join(notes) or "the new level is not a valid price"
                out.append(
                    f"strategy[{sc.id}]: the new protection cannot be armed on {pos.symbol} "
                    f"({why}); close the position first (or set it back), then reload"
                )
    return out


def _stop_part(p: Protection) -> tuple[float, ...]:
    return (
        p.stop_loss_pct,
        p.stop_loss_margin_pct,
        p.stop_loss_atr_mult,
        p.trailing_stop_pct,
        p.trailing_stop_atr_mult,
        p.trailing_stop_min_move_pct,
    )


def capital_problems(new: Config, app: AppState) -> list[str]:
    """Capital cuts the book cannot pay for from free cash (it would go negative)."""
    out = []
    for sc in new.strategies:
        strat = app.strategies.get(sc.id)
        if sc.capital_pct:  # the resolved capital is its baseline: capital is only a fallback
            continue
        if strat is not None and (why := capital.cut_problem(strat, capital.baseline(sc))):
            out.append(why)
    return out


def _levels(g: Guard) -> str:
    stop = f"stop {g.stop:,.6g}" if g.stop else "no stop"
    return stop + (f", targets {', '.join(f'{t[0]:,.6g}' for t in g.targets)}" if g.targets else "")


def rearm(old: Config, new: Config, app: AppState) -> list[str]:
    """Re-arm the guard of every held position whose strategy's protection changed; one line
    each (old -> new levels). Run after :func:`rearm_problems` found nothing to refuse."""
    changes = []
    for _prev, sc, held in _protected(old, new, app):
        marks = app.prices_for(app.strategies[sc.id].venue)
        for pos in held:
            was = _levels(pos.guard)
            pos.guard, _notes = rearmed(pos, sc.rules.protection)
            line = f"{sc.id} {pos.symbol} re-armed: {was} -> {_levels(pos.guard)}"
            mark = marks.get(pos.symbol)
            if pos.guard.stop and mark and (mark - pos.guard.stop) * pos.sign <= 0:
                line += f" (the mark {mark:,.6g} is already past it: it closes next cycle)"
            changes.append(line)
    return changes


def apply_reload(old: Config, new: Config, app: AppState) -> list[str]:
    """Apply the reloadable fields of ``new``; capital is measured against the stored book.

    Run after the problem checks: a capital change is a cashflow, protection re-arms guards.
    """
    changes = []
    if old.interval_seconds != new.interval_seconds:
        changes.append(f"interval_seconds {old.interval_seconds} -> {new.interval_seconds}")
    for sc in new.strategies:
        prev = old.strategy(sc.id)
        strat = app.strategies[sc.id]
        was = strat.initial_capital
        # upstream: capital is hot-reloaded only when capital_pct is off (a cashflow)
        flow = (
            None
            if sc.capital_pct
            else capital.set_capital(app, strat, capital.baseline(sc), "reload")
        )
        if flow is not None:
            changes.append(
                f"{sc.id} capital {was:g} -> {strat.initial_capital:g} ({capital.describe(flow)})"
            )
        for key in (*LIVE, *FLAT_ONLY):
            if getattr(prev, key) != getattr(sc, key):
                changes.append(f"{sc.id} {key} {getattr(prev, key)} -> {getattr(sc, key)}")
        if prev.open_strategy.params != sc.open_strategy.params:
            changes.append(f"{sc.id} params")
        if prev.close_strategies != sc.close_strategies:
            changes.append(f"{sc.id} close_strategies")
        strat.risk.max_drawdown_pct = sc.max_drawdown_pct
    return changes + rearm(old, new, app)
