"""The tuner's override rules (supervisor/http/tuner.py), as upstream's ui_tuner.go: the two
stop keys replace each other unless both are sent, ``paused: false`` and a null notify setting
delete the key, params go under open_strategy.params; unknown keys and wrong types are refused
(stricter than upstream, which ignores them)."""

from __future__ import annotations

import types

import pytest

from supervisor.http import tuner

SC = types.SimpleNamespace(open_strategy=types.SimpleNamespace(name="sma_crossover", params={}))


def patched(entry: dict, overrides: dict) -> dict:
    tuner.patcher(SC, tuner.parse_overrides({"overrides": overrides}))(entry)
    return entry


def test_the_stop_keys_replace_each_other_unless_both_are_sent():
    assert patched({"stop_loss_pct": 2}, {"stop_loss_atr_mult": 3}) == {"stop_loss_atr_mult": 3}
    both = {"stop_loss_pct": 1.5, "stop_loss_atr_mult": 2}
    assert patched({"stop_loss_pct": 2}, both) == both


def test_false_pause_and_null_notify_delete_the_key():
    assert patched({"paused": True, "notify_ratchet_triggers": True}, {"paused": False}) == {
        "notify_ratchet_triggers": True
    }
    assert patched({"notify_ratchet_triggers": True}, {"notify_ratchet_triggers": None}) == {}


def test_params_go_under_open_strategy():
    entry = patched({"args": ["sma_crossover", "BTC/USDT", "1h"]}, {"open_strategy.params.x": 3})
    assert entry["open_strategy"] == {"name": "sma_crossover", "params": {"x": 3}}
    kept = patched(
        {"open_strategy": {"name": "s", "params": {"a": 1}}}, {"open_strategy.params.b": 2}
    )
    assert kept["open_strategy"]["params"] == {"a": 1, "b": 2}


@pytest.mark.parametrize(
    "overrides",
    [
        {},
        {"capital": 5},
        {"open_strategy.params.": 1},
        {"leverage": float("inf")},
        {"leverage": True},
        {"interval_seconds": 1.5},
        {"direction": "sideways"},
        {"paused": 1},
        {"open_strategy.params.x": [1, 2]},
    ],
)
def test_bad_overrides_are_refused(overrides):
    with pytest.raises(tuner.BadOverrides):
        tuner.parse_overrides({"overrides": overrides})
