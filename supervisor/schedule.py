"""When things run: which strategies are due, when the next wake-up is, how long to back off.

Pure functions of the config, the book and a clock, so the loop in ``daemon.py`` stays a loop.
"""

from __future__ import annotations

from datetime import datetime

from shared_tools.config.model import Config, StrategyConfig
from supervisor.state.models import AppState, parse_iso

MIN_WAIT_S = 1.0
SAVE_BACKOFF_FIRST_S = 2.0
SAVE_BACKOFF_MAX_S = 300.0
MARK_MAX_AGE_CYCLES = 3
MARK_MAX_AGE_FLOOR_S = 60.0


def due_strategies(config: Config, app: AppState, now: datetime) -> list[StrategyConfig]:
    """Strategies whose interval has passed since their last run (never-run ones included)."""
    due = []
    for sc in config.strategies:
        last = app.strategies[sc.id].last_run
        interval = sc.effective_interval(config.interval_seconds)
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
        last = app.strategies[sc.id].last_run
        if not last:
            return MIN_WAIT_S
        interval = sc.effective_interval(config.interval_seconds)
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
