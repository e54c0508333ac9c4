"""SIGHUP rules: what applies to a running book, what needs a restart."""

from __future__ import annotations

from books import spot_signal as apply_spot_signal
from conftest import fake_strategy, write_config

from supervisor.config import load_config
from supervisor.models import AppState, StrategyState
from supervisor.reload import apply_reload, capital_problems, structural_changes


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
    assert changes == ["a capital 1000 -> 2000"]
    assert a.cash == 2000 and a.initial_capital == 2000 and a.risk.peak_value == 2000


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
