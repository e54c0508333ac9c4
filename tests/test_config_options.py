"""type options in the config: upstream's argv, platform inference, refused keys, theta_harvest."""

from __future__ import annotations

import pytest
from conftest import write_config

from shared_tools.book.options_life import ThetaHarvest
from shared_tools.config.load import load_config
from shared_tools.config.model import ConfigError

FAKE = "tests/fakes/fake_options.py"


def entry(sid: str = "deribit-vol-btc", args=None, **extra) -> dict:
    e = {
        "id": sid,
        "type": "options",
        "script": FAKE,
        "allow_external_script": True,
        "args": args if args is not None else ["vol_mean_reversion", "btc"],
        "capital": 1000,
    }
    e.update(extra)
    return e


def load(tmp_path, *entries: dict):
    return load_config(write_config(tmp_path, list(entries)))


def errors(tmp_path, *entries: dict) -> list[str]:
    with pytest.raises(ConfigError) as exc:
        load(tmp_path, *entries)
    return exc.value.lines


def test_options_load_with_upstreams_defaults(tmp_path):
    (sc,) = load(tmp_path, entry()).strategies
    assert sc.type == "options" and sc.platform == "deribit"
    assert sc.max_drawdown_pct == 40  # upstream's options default
    assert sc.options is not None and sc.options.underlying == "BTC"
    assert sc.options.theta_harvest == ThetaHarvest(60, 200, 3)  # absent -> 60/200/3
    assert sc.check_argv() == ["vol_mean_reversion", "BTC", "--platform=deribit"]
    assert sc.symbols() == []  # marks come from mark_options.py, not check_price


@pytest.mark.parametrize(
    "sid, args, platform",
    [
        ("ibkr-vol-btc", ["vol_mean_reversion", "BTC"], "ibkr"),
        ("rh-wheel-spy", ["wheel", "SPY"], "robinhood"),
        ("okx-vol-eth", ["vol_mean_reversion", "ETH"], "okx"),
        ("vol-btc", ["vol_mean_reversion", "BTC"], "deribit"),
        ("vol-btc", ["vol_mean_reversion", "BTC", "--platform=ibkr"], "ibkr"),
    ],
)
def test_platform_from_args_prefix_else_deribit(tmp_path, sid, args, platform):
    (sc,) = load(tmp_path, entry(sid, args)).strategies
    assert sc.platform == platform and sc.check_argv()[-1] == f"--platform={platform}"


def test_platform_disagreement_and_unknown_venue_refused(tmp_path):
    lines = errors(tmp_path, entry("ibkr-vol-btc", ["vol_mean_reversion", "BTC", "--platform=okx"]))
    assert any("make them agree" in x for x in lines)
    lines = errors(tmp_path, entry("hl-vol-btc"))
    assert any("options trade on deribit, ibkr, okx, robinhood" in x for x in lines)


@pytest.mark.parametrize(
    "key, value",
    [
        ("atr_method", "wilder"),
        ("close_strategy", "tp_at_pct"),
        ("allowed_regimes", ["trending"]),
        ("hurst_gate", {"enabled": True}),
        ("stop_loss_pct", 5),
    ],
)
def test_keys_refused_on_options(tmp_path, key, value):
    lines = errors(tmp_path, entry(**{key: value}))
    assert any(f"{key} is not supported on type options" in x for x in lines), lines


@pytest.mark.parametrize(
    "value, expect",
    [
        (False, None),
        ({}, None),
        ({"enabled": False, "profit_target_pct": 50}, None),
        ({"profit_target_pct": 50}, ThetaHarvest(50, 0, 0)),  # a 0 field disables that arm
        (
            {"enabled": True, "profit_target_pct": 40, "stop_loss_pct": 150, "min_dte_close": 2},
            ThetaHarvest(40, 150, 2),
        ),
    ],
)
def test_theta_harvest_values(tmp_path, value, expect):
    (sc,) = load(tmp_path, entry(theta_harvest=value)).strategies
    assert sc.options is not None and sc.options.theta_harvest == expect


@pytest.mark.parametrize(
    "value, text",
    [
        ({"profit_target_pct": -1}, "theta_harvest.profit_target_pct must be a number >= 0"),
        ({"stop_loss_pct": "x"}, "theta_harvest.stop_loss_pct must be a number >= 0"),
        ({"min_dte": 3}, "theta_harvest has unknown key(s) min_dte"),
        (5, "theta_harvest must be an object or false"),
    ],
)
def test_theta_harvest_refusals(tmp_path, value, text):
    lines = errors(tmp_path, entry(theta_harvest=value))
    assert any(text in x for x in lines), lines


def test_options_need_check_options_script(tmp_path):
    e = entry(script="shared_scripts/check_strategy.py", allow_external_script=False)
    lines = errors(tmp_path, e)
    assert any("type options needs shared_scripts/check_options.py" in x for x in lines), lines
