"""When things run: which strategies are due, when the next wake-up is, how long to back off.

Pure functions of the config, the book and a clock, so the loop in ``daemon.py`` stays a loop.
"""

from __future__ import annotations

from datetime import datetime

from shared_tools.config.model import Config, StrategyConfig
from supervisor.state.models import AppState, StrategyState, parse_iso

MIN_WAIT_S = 1.0
SAVE_BACKOFF_FIRST_S = 2.0
SAVE_BACKOFF_MAX_S = 300.0
MARK_MAX_AGE_CYCLES = 3
MARK_MAX_AGE_FLOOR_S = 60.0
DRAWDOWN_FAST_INTERVAL_S = 90  # upstream's strategyDrawdownFastIntervalSeconds


def in_drawdown_warn_band(strat: StrategyState | None, warn_threshold_pct: float) -> bool:
    """The strategy's drawdown is past max_drawdown_pct x warn%, so it is watched closely.

    As upstream: no upper bound (a drawdown past the max whose breaker has not fired yet keeps
    the fast cadence, so the next check fires it sooner); a latched breaker leaves the band.
    """
    if strat is None or strat.risk.circuit_breaker:
        return False
    risk = strat.risk
    if risk.max_drawdown_pct <= 0 or warn_threshold_pct <= 0:
        return False
    return risk.current_drawdown_pct > risk.max_drawdown_pct * warn_threshold_pct / 100.0


def strategy_interval(config: Config, sc: StrategyConfig, strat: StrategyState | None) -> int:
    """Seconds between a strategy's checks: its own interval_seconds, else the global one;
    in the drawdown warn band that drops to 90 s (an interval already at or under 90 s stays)."""
    interval = sc.effective_interval(config.interval_seconds)
    if in_drawdown_warn_band(strat, config.risk.warn_threshold_pct) and (
        interval <= 0 or interval > DRAWDOWN_FAST_INTERVAL_S
    ):
        return DRAWDOWN_FAST_INTERVAL_S
    return interval


def fast_cadence_ids(config: Config, app: AppState) -> set[str]:
    """Ids of the strategies the warn band has put on the 90 s cadence."""
    return {
        sc.id
        for sc in config.strategies
        if strategy_interval(config, sc, app.strategies.get(sc.id))
        != sc.effective_interval(config.interval_seconds)
    }


def cadence_changes(config: Config, app: AppState, before: set[str]) -> tuple[set[str], list[str]]:
    """The fast-cadence set now, and one log line per strategy that entered or left it
    since ``before`` (so the daemon logs a change once, not every cycle)."""
    now = fast_cadence_ids(config, app)
    warn = config.risk.warn_threshold_pct
    lines = []
    for sid in sorted(now - before):
        risk = app.strategies[sid].risk
        lines.append(
            f"{sid}: drawdown {risk.current_drawdown_pct:.1f}% is past {warn:g}% of its "
            f"{risk.max_drawdown_pct:g}% max; checking every {DRAWDOWN_FAST_INTERVAL_S}s"
        )
    configured = {sc.id: sc.effective_interval(config.interval_seconds) for sc in config.strategies}
    for sid in sorted((before - now) & set(configured)):
        lines.append(f"{sid}: out of the drawdown warning band; back to every {configured[sid]}s")
    return now, lines


def due_strategies(config: Config, app: AppState, now: datetime) -> list[StrategyConfig]:
    """Strategies whose interval has passed since their last run (never-run ones included)."""
    due = []
    for sc in config.strategies:
        strat = app.strategies[sc.id]
        last = strat.last_run
        interval = strategy_interval(config, sc, strat)
        if not last or (now - parse_iso(last)).total_seconds() >= interval - 0.5:
            due.append(sc)
    return due


def risk_interval(config: Config) -> float:
    """How often breakers judge held positions even when no strategy is due: the global
    interval, or the fastest strategy's when that is shorter (a lone 1d strategy that holds
    a position is still watched every ``interval_seconds``)."""
    return float(min(config.interval_seconds, config.tick_seconds))


def holds_positions(app: AppState) -> bool:
    return any(strat.positions for strat in app.strategies.values())


def risk_pass_due(config: Config, app: AppState, now: datetime) -> bool:
    """A marks-and-breakers cycle is due: positions are held and the last cycle is old enough."""
    if not holds_positions(app):
        return False
    if not app.last_cycle:
        return True
    return (now - parse_iso(app.last_cycle)).total_seconds() >= risk_interval(config) - 0.5


def seconds_until_due(config: Config, app: AppState, now: datetime) -> float:
    """Sleep until the next strategy (or risk pass) is due, at least MIN_WAIT_S."""
    waits = []
    for sc in config.strategies:
        strat = app.strategies[sc.id]
        last = strat.last_run
        if not last:
            return MIN_WAIT_S
        interval = strategy_interval(config, sc, strat)
        waits.append(interval - (now - parse_iso(last)).total_seconds())
    if holds_positions(app) and app.last_cycle:
        waits.append(risk_interval(config) - (now - parse_iso(app.last_cycle)).total_seconds())
    return max(MIN_WAIT_S, min(waits or [config.tick_seconds]))


def mark_max_age(config: Config) -> float:
    """Marks older than a few cycles are too old to judge risk on."""
    return max(MARK_MAX_AGE_CYCLES * config.tick_seconds, MARK_MAX_AGE_FLOOR_S)


def save_backoff(failures: int) -> float:
    """Seconds to wait before retrying a failed state save: 2, 4, 8, ... capped at 5 minutes."""
    if failures <= 0:
        return 0.0
    return float(min(SAVE_BACKOFF_FIRST_S * 2 ** min(failures - 1, 20), SAVE_BACKOFF_MAX_S))
