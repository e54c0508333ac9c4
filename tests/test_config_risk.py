"""portfolio_risk and correlation: upstream defaults, one-line errors, warned unknown keys."""

from __future__ import annotations

import pytest
from conftest import fake_strategy, write_config

from shared_tools.config.load import load_config
from shared_tools.config.model import ConfigError


def _load(tmp_path, **top):
    return load_config(write_config(tmp_path, [fake_strategy("a", "hold")], **top))


def test_defaults_are_upstreams(tmp_path):
    risk = _load(tmp_path).risk
    assert (risk.max_drawdown_pct, risk.warn_threshold_pct) == (25.0, 60.0)
    assert risk.warn_drawdown_pct == 15.0 and risk.max_notional_usd == 0
    assert not risk.correlation_enabled and risk.max_concentration_pct == 60.0


def test_values_and_zero_warn_threshold(tmp_path):
    cfg = _load(
        tmp_path,
        portfolio_risk={"max_drawdown_pct": 10, "warn_threshold_pct": 0, "daily_max_loss_usd": 5},
        correlation={"enabled": True, "max_same_direction_pct": 80},
    )
    assert cfg.risk.max_drawdown_pct == 10 and cfg.risk.warn_threshold_pct == 60  # 0 -> 60
    assert cfg.risk.daily_max_loss_usd == 5 and cfg.risk.correlation_enabled
    assert cfg.risk.max_same_direction_pct == 80


@pytest.mark.parametrize(
    ("top", "needle"),
    [
        ({"portfolio_risk": {"max_drawdown_pct": 0}}, "portfolio_risk.max_drawdown_pct"),
        ({"portfolio_risk": {"max_drawdown_pct": 101}}, "portfolio_risk.max_drawdown_pct"),
        ({"portfolio_risk": {"daily_max_loss_pct": -1}}, "portfolio_risk.daily_max_loss_pct"),
        ({"portfolio_risk": []}, "portfolio_risk must be an object"),
        ({"correlation": {"enabled": "yes"}}, "correlation.enabled"),
        ({"correlation": {"max_concentration_pct": "x"}}, "correlation.max_concentration_pct"),
    ],
)
def test_bad_values_are_one_line_errors(tmp_path, top, needle):
    with pytest.raises(ConfigError) as err:
        _load(tmp_path, **top)
    assert any(needle in line for line in err.value.lines)
    assert all("\n" not in line for line in err.value.lines)


def test_unknown_keys_warn_and_the_exposure_caps_do_not(tmp_path):
    cfg = _load(
        tmp_path,
        portfolio_risk={"max_asset_concentration_pct": 50, "bogus": 1},
        correlation={"nope": 1},
    )
    text = "\n".join(cfg.warnings)
    assert "max_asset_concentration_pct" not in text
    assert cfg.risk.max_asset_concentration_pct == 50
    assert "portfolio_risk key 'bogus' is not known" in text
    assert "correlation key 'nope' is not known" in text
