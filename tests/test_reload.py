"""SIGHUP rules: what applies to a running book, what needs a restart."""

from __future__ import annotations

import pytest
from books import spot_signal as apply_spot_signal
from conftest import fake_strategy, write_config

from shared_tools.config.load import load_config
from supervisor.reload import (
    apply_reload,
    capital_problems,
    rearm,
    rearm_problems,
    structural_changes,
)
from supervisor.state import capital
from supervisor.state.models import AppState, StrategyState


def _book(cash: float = 1000.0) -> AppState:
    app = AppState()
    s = StrategyState(id="a", type="spot", platform="binanceus", cash=cash, initial_capital=1000)
    s.risk.peak_value = 1000
    app.strategies["a"] = s
    return app


def _cfg(tmp_path, **kw):
    return load_config(write_config(tmp_path, [fake_strategy("a", "hold", **kw)]))


def test_capital_is_measured_against_the_stored_book(tmp_path):
    old, new = _cfg(tmp_path, capital=2000), _cfg(tmp_path, capital=2000)
    app = _book()  # stored book says 1000 although the config says 2000 already
    changes = apply_reload(old, new, app)
    a = app.strategies["a"]
    assert changes == ["a capital 1000 -> 2000 (cashflow +1,000.00)"]
    assert a.cash == 2000 and a.initial_capital == 2000 and a.risk.peak_value == 2000
    assert [(r["amount"], r["reason"]) for r in capital.pending(app)] == [(1000.0, "reload")]


def test_capital_cut_beyond_free_cash_is_refused(tmp_path):
    app = _book()
    apply_spot_signal(app.strategies["a"], "BTC/USDT", 1, 100.0, "t0", fee_rate=0.001)  # all in
    problems = capital_problems(_cfg(tmp_path, capital=500), app)
    assert problems and "exceeds free cash" in problems[0]
    assert capital_problems(_cfg(tmp_path, capital=1500), app) == []


def test_structural_changes_are_listed(tmp_path):
    old = _cfg(tmp_path)
    new = load_config(
        write_config(tmp_path, [fake_strategy("a", "flip"), fake_strategy("b", "hold")])
    )
    problems = structural_changes(old, new)
    assert "strategies added: b" in problems
    assert "strategy[a]: args changed" in problems


# -- reloaded protection re-arms the open position's guard (issue 17 item 5) --------------------


def _perp(**extra) -> dict:
    from test_cycle_perps import perp

    return perp("p", "p", **extra)


def _opened(tmp_path, sup_for, atr: float = 2.0, **extra):
    from test_cycle_perps import mark, say

    sup = sup_for([_perp(**extra)])
    mark(tmp_path, 100.0)
    say(tmp_path, "p", 1, 100.0, atr=atr)
    sup.run_cycle(sup.config.strategies)
    say(tmp_path, "p", 0, 100.0, atr=atr)
    return sup, sup.app.strategies["p"].positions["BTC"]


def _sighup(sup, **extra) -> bool:
    """Rewrite the config and apply it as the daemon does on SIGHUP."""
    write_config(sup.config.path.parent, [_perp(**extra)])
    return sup.reload()


def test_a_tighter_stop_re_arms_the_open_position(tmp_path, sup_for, capsys):
    from test_cycle_perps import mark

    sup, pos = _opened(tmp_path, sup_for, stop_loss_pct=10)
    assert pos.guard.stop == 90.0
    assert _sighup(sup, stop_loss_pct=4)
    err = capsys.readouterr().err
    assert "p BTC re-armed: stop 90 -> stop 96" in err and "[reload] applied" in err
    assert sup.app.strategies["p"].positions["BTC"].guard.stop == 96.0
    mark(tmp_path, 97.0)
    sup.run_cycle([])
    assert sup.app.strategies["p"].positions  # above the new stop: still open
    mark(tmp_path, 95.5)  # past the new level (the old one, 90, is far away)
    report = sup.run_cycle([])
    assert not sup.app.strategies["p"].positions
    assert [t.reason for t in report.trades] == ["stop_loss"]


def test_a_reloaded_trailing_stop_keeps_its_best_mark(tmp_path, sup_for, capsys):
    from test_cycle_perps import mark

    sup, pos = _opened(tmp_path, sup_for, trailing_stop_pct=10)
    mark(tmp_path, 120.0)
    sup.run_cycle([])
    guard = sup.app.strategies["p"].positions["BTC"].guard
    assert guard.best == 120.0 and guard.stop == pytest.approx(108.0)
    assert _sighup(sup, trailing_stop_pct=5)
    guard = sup.app.strategies["p"].positions["BTC"].guard
    assert guard.best == 120.0 and guard.stop == pytest.approx(114.0)  # from the best, not 100
    assert "re-armed: stop 108 -> stop 114" in capsys.readouterr().err
    mark(tmp_path, 113.0)
    report = sup.run_cycle([])
    assert [t.reason for t in report.trades] == ["trailing_stop"]


def test_new_take_profit_tiers_re_arm_the_targets(tmp_path, sup_for):
    def tp(*multiples):
        n = len(multiples)
        tiers = [
            {"atr_multiple": m, "close_fraction": (i + 1) / n} for i, m in enumerate(multiples)
        ]
        return [{"name": "tiered_tp_atr", "params": {"tp_tiers": tiers}}]

    sup, pos = _opened(tmp_path, sup_for, close_strategies=tp(1, 2))
    assert [t[0] for t in pos.guard.targets] == [102.0, 104.0]
    assert _sighup(sup, close_strategies=tp(3, 5))
    guard = sup.app.strategies["p"].positions["BTC"].guard
    assert [t[0] for t in guard.targets] == [106.0, 110.0]


def test_a_protection_the_position_cannot_take_is_refused(tmp_path, sup_for, capsys):
    sup, pos = _opened(tmp_path, sup_for, atr=0.0, stop_loss_atr_mult=2)  # no entry ATR
    assert pos.guard.stop == 0.0
    assert not _sighup(sup, stop_loss_atr_mult=3)
    err = capsys.readouterr().err
    assert (
        "[reload] rejected: strategy[p]: the new protection cannot be armed on BTC "
        "(no entry ATR: the ATR stop is not armed); close the position first" in err
    )
    assert "applied" not in err
    assert sup.config.strategy("p").stop_loss_atr_mult == 2  # the old config stays


def test_rearm_problems_and_rearm_agree_on_a_flat_book(tmp_path):
    old = load_config(write_config(tmp_path, [_perp(stop_loss_pct=5)]))
    new = load_config(write_config(tmp_path, [_perp(stop_loss_pct=2)]))
    app = AppState()
    app.strategies["p"] = StrategyState("p", "perps", "hyperliquid", 1000.0, 1000.0)
    assert rearm_problems(old, new, app) == [] and rearm(old, new, app) == []
