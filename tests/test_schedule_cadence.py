"""The drawdown-warning cadence: a strategy deep in drawdown is checked every 90 s.

Upstream (scheduler/strategy_interval.go): the configured interval is the strategy's own
interval_seconds, else the global one; while the strategy's drawdown is past
max_drawdown_pct x portfolio_risk.warn_threshold_pct it drops to 90 s, unless already shorter.
"""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest
from conftest import write_config

from shared_tools.config.load import load_config
from supervisor.schedule import (
    DRAWDOWN_FAST_INTERVAL_S,
    cadence_changes,
    due_strategies,
    in_drawdown_warn_band,
    seconds_until_due,
    strategy_interval,
)
from supervisor.state.models import AppState, RiskState, StrategyState, parse_iso

FAKES = Path(__file__).resolve().parent / "fakes"
ANSWER = str(FAKES / "fake_answer.py")
NOW = parse_iso("2026-03-02T12:00:00Z")


def _entry(sid: str, **extra) -> dict:
    entry = {
        "id": sid,
        "type": "spot",
        "script": ANSWER,
        "allow_external_script": True,
        "args": [sid, "BTC/USDT", "1h"],
        "capital": 1000,
        "max_drawdown_pct": 50,
    }
    entry.update(extra)
    return entry


def _book(config, drawdowns: dict[str, float], ran_ago_s: float = 0.0) -> AppState:
    app = AppState()
    for sc in config.strategies:
        risk = RiskState(max_drawdown_pct=sc.max_drawdown_pct)
        risk.current_drawdown_pct = drawdowns.get(sc.id, 0.0)
        app.strategies[sc.id] = StrategyState(
            sc.id, sc.type, sc.platform, 1000.0, 1000.0, risk=risk,
            last_run=(NOW - timedelta(seconds=ran_ago_s)).isoformat(),
        )  # fmt: skip
    return app


@pytest.mark.parametrize(
    "drawdown, latched, warn, want",
    [
        (30.1, False, 60, True),  # past 50% x 60% = 30%
        (30.0, False, 60, False),  # strictly past
        (10.0, False, 60, False),
        (55.0, False, 60, True),  # past the max, breaker not fired yet: still fast
        (55.0, True, 60, False),  # a latched breaker leaves the band
        (41.0, False, 80, True),
        (39.0, False, 80, False),
    ],
)
def test_warn_band(drawdown, latched, warn, want):
    strat = StrategyState("s", "spot", "binanceus", 1000.0, 1000.0)
    strat.risk.max_drawdown_pct = 50
    strat.risk.current_drawdown_pct = drawdown
    strat.risk.circuit_breaker = latched
    assert in_drawdown_warn_band(strat, warn) is want
    assert in_drawdown_warn_band(None, warn) is False


def test_precedence_own_interval_then_global_then_fast(tmp_path):
    cfg = load_config(
        write_config(
            tmp_path,
            [
                _entry("own", interval_seconds=3600),
                _entry("glob"),
                _entry("short", interval_seconds=60),
            ],
            interval_seconds=600,
        )
    )
    calm = _book(cfg, {})
    deep = _book(cfg, {"own": 40.0, "glob": 40.0, "short": 40.0})
    by_id = {sc.id: sc for sc in cfg.strategies}
    got = {sid: strategy_interval(cfg, sc, calm.strategies[sid]) for sid, sc in by_id.items()}
    assert got == {"own": 3600, "glob": 600, "short": 60}
    got = {sid: strategy_interval(cfg, sc, deep.strategies[sid]) for sid, sc in by_id.items()}
    assert got == {"own": DRAWDOWN_FAST_INTERVAL_S, "glob": DRAWDOWN_FAST_INTERVAL_S, "short": 60}


def test_due_and_next_wake_follow_the_band(tmp_path):
    cfg = load_config(write_config(tmp_path, [_entry("a"), _entry("b")], interval_seconds=600))
    calm = _book(cfg, {}, ran_ago_s=100)
    assert due_strategies(cfg, calm, NOW) == []
    assert seconds_until_due(cfg, calm, NOW) == pytest.approx(500)
    deep = _book(cfg, {"b": 35.0}, ran_ago_s=100)  # only b is in the band (past 30%)
    assert [sc.id for sc in due_strategies(cfg, deep, NOW)] == ["b"]
    deep = _book(cfg, {"b": 35.0}, ran_ago_s=30)
    assert seconds_until_due(cfg, deep, NOW) == pytest.approx(60)


def test_warn_threshold_comes_from_portfolio_risk(tmp_path):
    cfg = load_config(
        write_config(tmp_path, [_entry("a")], portfolio_risk={"warn_threshold_pct": 90})
    )
    app = _book(cfg, {"a": 40.0})  # past 60% of 50, not past 90%
    assert strategy_interval(cfg, cfg.strategies[0], app.strategies["a"]) == 300


def test_entering_and_leaving_is_logged_once(tmp_path):
    cfg = load_config(write_config(tmp_path, [_entry("a"), _entry("b")]))
    app = _book(cfg, {"a": 40.0})
    fast, lines = cadence_changes(cfg, app, set())
    assert fast == {"a"} and len(lines) == 1 and "a: drawdown 40.0%" in lines[0]
    assert "every 90s" in lines[0]
    fast, lines = cadence_changes(cfg, app, fast)
    assert fast == {"a"} and lines == []
    app.strategies["a"].risk.current_drawdown_pct = 5.0
    fast, lines = cadence_changes(cfg, app, fast)
    assert fast == set() and lines == ["a: out of the drawdown warning band; back to every 300s"]


def _marks(tmp: Path, price: float) -> None:
    (tmp / "marks.json").write_text(json.dumps({"BTC/USDT": price}))


def _answer(tmp: Path, signal: int, price: float) -> None:
    doc = {"symbol": "BTC/USDT", "signal": signal, "price": price, "indicators": {"atr": 1.0}}
    (tmp / "answer-a.json").write_text(json.dumps(doc))


@pytest.mark.parametrize("drop_to, wait", [(100.0, 300), (60.0, DRAWDOWN_FAST_INTERVAL_S)])
def test_a_deep_drawdown_brings_the_next_check_forward(tmp_path, sup_for, drop_to, wait):
    """Same config; only the mark differs. Buy at 100, then the market falls (or not)."""
    _marks(tmp_path, 100.0)
    _answer(tmp_path, 1, 100.0)
    sup = sup_for([_entry("a")])
    sup.run_cycle(sup.config.strategies)
    assert sup.app.strategies["a"].positions
    _marks(tmp_path, drop_to)
    _answer(tmp_path, 0, drop_to)
    sup.run_cycle(sup.config.strategies)
    strat = sup.app.strategies["a"]
    assert not strat.last_error and not strat.risk.circuit_breaker
    ran = parse_iso(strat.last_run)
    assert seconds_until_due(sup.config, sup.app, ran) == pytest.approx(wait, abs=1)
    later = ran + timedelta(seconds=DRAWDOWN_FAST_INTERVAL_S)
    assert bool(due_strategies(sup.config, sup.app, later)) is (wait == DRAWDOWN_FAST_INTERVAL_S)
