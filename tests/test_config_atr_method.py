"""The top-level atr_method: the ATR method of every strategy that sets none (upstream v17).

It reaches the check argv (--atr-method=), the backtester that loads the strategy from the
config, and a reload that would change it under an open position is refused.
"""

from __future__ import annotations

import pytest
from books import spot_signal
from conftest import REPO, fake_strategy, write_config

from backtest.backtester import BacktestSettings
from backtest.cli_settings import from_config
from shared_tools.config.load import load_config
from shared_tools.config.model import ConfigError
from supervisor.ops.inspect import effective_config
from supervisor.reload import apply_reload, flat_only_problems
from supervisor.state.models import AppState, StrategyState


def _argv_method(sc) -> str:
    flags = [a for a in sc.check_argv() if a.startswith("--atr-method=")]
    assert len(flags) == 1
    return flags[0].split("=", 1)[1]


def test_the_global_key_is_the_default_of_strategies_that_set_none(tmp_path):
    strategies = [fake_strategy("a", "hold"), fake_strategy("b", "hold", atr_method="simple")]
    without = load_config(write_config(tmp_path, strategies))
    assert [_argv_method(sc) for sc in without.strategies] == ["simple", "simple"]
    with_key = load_config(write_config(tmp_path, strategies, atr_method="wilder"))
    assert [_argv_method(sc) for sc in with_key.strategies] == ["wilder", "simple"]
    assert not any("atr_method" in w for w in with_key.warnings)  # built: no "not supported"
    assert effective_config(with_key.strategies[0], with_key)["atr_method"] == "wilder"


def test_empty_means_unset(tmp_path):
    cfg = load_config(
        write_config(tmp_path, [fake_strategy("a", "hold", atr_method="")], atr_method="wilder")
    )
    assert cfg.strategies[0].atr_method == "wilder"
    cfg = load_config(write_config(tmp_path, [fake_strategy("a", "hold")], atr_method=""))
    assert cfg.strategies[0].atr_method == "simple"


@pytest.mark.parametrize("value", ["Wilder", "ema", 1, True])
def test_a_bad_global_value_is_refused(tmp_path, value):
    with pytest.raises(ConfigError) as err:
        load_config(write_config(tmp_path, [fake_strategy("a", "hold")], atr_method=value))
    assert any("atr_method must be simple or wilder" in line for line in err.value.lines)


def _book(holding: bool) -> AppState:
    app = AppState()
    strat = StrategyState(
        id="a", type="spot", platform="binanceus", cash=1000, initial_capital=1000
    )
    if holding:
        spot_signal(strat, "BTC/USDT", 1, 100.0, "t0", fee_rate=0.001)
    app.strategies["a"] = strat
    return app


def test_a_global_change_under_an_open_position_is_refused(tmp_path):
    old = load_config(write_config(tmp_path, [fake_strategy("a", "hold")]))
    new = load_config(write_config(tmp_path, [fake_strategy("a", "hold")], atr_method="wilder"))
    problems = flat_only_problems(old, new, _book(holding=True))
    assert len(problems) == 1 and "atr_method changed (simple -> wilder)" in problems[0]
    flat = _book(holding=False)
    assert flat_only_problems(old, new, flat) == []
    assert "a atr_method simple -> wilder" in apply_reload(old, new, flat)
    # A strategy that pins its own method is not moved by the global key: nothing to refuse.
    pinned = [fake_strategy("a", "hold", atr_method="simple")]
    old = load_config(write_config(tmp_path, pinned))
    new = load_config(write_config(tmp_path, pinned, atr_method="wilder"))
    assert flat_only_problems(old, new, _book(holding=True)) == []


def test_the_backtester_reads_the_same_effective_method(tmp_path):
    """backtest --config loads the strategy through shared_tools.config: same value as live."""
    import json

    doc = json.loads((REPO / "examples" / "offline-perps.json").read_text())
    sid = "hl-sma-eth-tp"
    for top, want in ((None, "simple"), ("wilder", "wilder")):
        if top:
            doc["atr_method"] = top
        path = tmp_path / f"cfg-{want}.json"
        path.write_text(json.dumps(doc))
        live = load_config(path).strategy(sid)
        job = from_config(str(path), sid, BacktestSettings)
        assert live.atr_method == job.settings.atr_method == _argv_method(live) == want
