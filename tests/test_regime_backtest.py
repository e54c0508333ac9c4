"""Regime policies in the backtester (issue 20): the same rules as the supervisor on candles
whose regime label is known (test_regime_policies.py has the supervisor side), the regime
flags of run_backtest.py, and labels that never look ahead (upstream #1153)."""

from __future__ import annotations

import json

import pytest
from conftest import write_config
from test_regime_policies import (
    POLICY,
    REGIME,
    TABLE,
    _block,
    _bt,
    _certify,
    _perp,
    _signal,
    _trend,
)

from backtest import regime_bars
from backtest.backtester import BacktestSettings
from shared_tools.regime_policy import DirectionalPolicy


def test_backtester_stops_at_the_stamped_labels_multiple():
    df = _trend()
    assert regime_bars.window_labels(df, 14)[40] == "trending_up"
    sig = _signal(df, 40, 1)
    exits = {}
    for name, kw in {
        "regime": {"stop_loss_atr_regime": tuple(TABLE.items())},
        "scalar3": {"stop_loss_atr_mult": 3.0},
        "scalar1.5": {"stop_loss_atr_mult": 1.5},
        "trail": {"trailing_stop_atr_regime": tuple(TABLE.items())},
        "trail3": {"trailing_stop_atr_mult": 3.0},
    }.items():
        (trade,) = _bt(df, sig, **kw)
        exits[name] = (trade.reason, trade.exit_price, trade.exit_time)
    assert exits["regime"] == exits["scalar3"] != exits["scalar1.5"]  # trending_up -> 3.0
    assert exits["trail"] == exits["trail3"] and exits["trail"][0] == "trailing_stop"


def test_backtester_applies_the_same_policy_on_the_same_rules(tmp_path, monkeypatch):
    df = _trend(step=-1.0)
    assert regime_bars.window_labels(df, 14)[40] == "trending_down"
    sig = _signal(df, 40, -1)
    policy = DirectionalPolicy(
        (
            ("trending_up", "long", False),
            ("trending_down", "short", False),
            ("ranging", "long", False),
        )
    )
    assert _bt(df, sig) == []  # base long: the sell opens nothing
    _certify(tmp_path, monkeypatch)
    assert _bt(df, sig, directional_policy=policy) == []  # uncertified: the base direction
    _certify(tmp_path, monkeypatch, ("trending_down", "short"))
    (trade,) = _bt(df, sig, directional_policy=policy, stop_loss_atr_mult=2.0)
    assert trade.side == "short"


def test_regime_flags_change_the_labels_and_so_the_gate():
    df = _trend()
    sig = _signal(df, 40, 1)
    gate = {"allowed_regimes": ("trending_up",), "stop_loss_atr_mult": 2.0}
    assert len(_bt(df, sig, **gate)) == 1
    assert _bt(df, sig, regime_period=60, **gate) == []  # still warming up: ranging, held
    spec = json.dumps({"medium": {"classifier": "adx", "period": 60}})
    assert _bt(df, sig, regime_windows=spec, **gate) == []


def test_run_backtest_accepts_the_regime_flags(capsys):
    from backtest import cli_settings as cs
    from backtest.run_backtest import build_job, build_parser

    base = ["--strategy", "sma_crossover", "--regime-enabled"]
    args = build_parser().parse_args(
        [
            *base,
            "--regime-period",
            "30",
            "--regime-adx-threshold",
            "25",
            "--regime-windows-spec-json",
            '{"fast": 10}',
        ]
    )
    s = build_job(args).settings
    assert (s.regime_period, s.regime_adx_threshold, s.regime_windows) == (
        30,
        25.0,
        '{"fast": 10}',
    )
    bad = build_parser().parse_args([*base, "--regime-windows-spec-json", '{"x": "y"}'])
    with pytest.raises(cs.UsageError, match="--regime-windows-spec-json"):
        build_job(bad)


def test_labels_never_look_ahead():
    df = _trend(n=70)
    for spec in ({"classifier": "composite", "period": 10}, 14):
        full = regime_bars.window_labels(df, spec)
        for i in (20, 45, 61):
            assert regime_bars.window_labels(df.iloc[: i + 1], spec)[i] == full[i]


def test_run_backtest_config_carries_the_regime_policies(tmp_path, capsys):
    from backtest import cli_settings as cs

    entry = _perp(
        args=["sma_crossover", "BTC", "1h"],
        stop_loss_atr_regime=_block(TABLE),
        regime_gate_window="fast",
        regime_directional_policy=POLICY,
    )
    regime = {**REGIME, "windows": {"fast": 10, "medium": 20}}
    path = write_config(tmp_path, [entry], regime=regime)
    s = cs.from_config(str(path), "p", BacktestSettings).settings
    assert dict(s.stop_loss_atr_regime) == TABLE and s.regime_gate_window == "fast"
    assert json.loads(s.regime_windows) == {"fast": 10, "medium": 20}
    assert s.directional_policy.rules[1] == ("trending_down", "short", False)
    assert "not modelled" not in capsys.readouterr().err


def test_backtester_inverts_the_signal_as_the_supervisor_does(tmp_path, monkeypatch):
    df = _trend(step=-1.0)
    sig = _signal(df, 40, -1)
    fade = DirectionalPolicy(
        (
            ("trending_up", "long", False),
            ("trending_down", "long", True),
            ("ranging", "long", False),
        )
    )
    _certify(tmp_path, monkeypatch, ("trending_down", "long"))
    assert _bt(df, sig, stop_loss_atr_mult=2.0) == []
    (trade,) = _bt(df, sig, directional_policy=fade, stop_loss_atr_mult=2.0)
    assert trade.side == "long"
