"""The top-level ``portfolio_risk`` and ``correlation`` sections (upstream §2.4-2.5).

Every problem is one line naming the file and the key. Defaults as upstream: the kill switch at
25% drawdown of the whole book, a warning band from 60% of that, the exposure caps off (0),
correlation warnings off unless enabled (60% concentration, 75% same-direction).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from shared_tools.config import schema
from shared_tools.config.checks import in_range, range_text, show_key, unbuilt_key
from shared_tools.text import show


def _numbers_of(section: str) -> dict[str, tuple[float, float, float, bool]]:
    """key -> (default, lo, hi, lo open) of the section's number keys, from the schema."""
    return {
        k.name: (float(k.default), float(k.lo), float(k.hi), k.lo_open)
        for k in schema.rows(section, "built")
        if k.type == "number" and k.lo is not None and k.hi is not None
    }


PORTFOLIO_KEYS = _numbers_of("portfolio_risk")
PORTFOLIO_NOT_BUILT = schema.names("portfolio_risk", "not-yet", "no-effect")
CORRELATION_KEYS = _numbers_of("correlation")


@dataclass(frozen=True)
class RiskSettings:
    max_drawdown_pct: float = 25.0
    warn_threshold_pct: float = 60.0  # percent of max_drawdown_pct
    max_notional_usd: float = 0.0  # 0 = off
    daily_max_loss_usd: float = 0.0  # 0 = off
    daily_max_loss_pct: float = 0.0  # of the summed initial capital; 0 = off
    max_same_direction_notional_usd: float = 0.0  # Σ long or Σ short per-asset nets; 0 = off
    max_asset_concentration_pct: float = 0.0  # one asset's |net| of the book's value; 0 = off
    correlation_enabled: bool = False
    max_concentration_pct: float = 60.0
    max_same_direction_pct: float = 75.0

    @property
    def warn_drawdown_pct(self) -> float:
        return self.max_drawdown_pct * self.warn_threshold_pct / 100.0


def _numbers(
    section: Any, name: str, keys: dict, label: str, errors: list[str]
) -> dict[str, float]:
    out: dict[str, float] = {}
    for key, (default, lo, hi, lo_open) in keys.items():
        value = section.get(key)
        if value is None or (key == "warn_threshold_pct" and value == 0):  # upstream: 0 -> 60
            value = default
        if not in_range(value, lo, hi, integer=False, lo_open=lo_open):
            expect = range_text(lo, hi, integer=False, lo_open=lo_open)
            errors.append(f"{label}: {name}.{key} must be {expect}, got {show(value)}")
            value = default
        out[key] = float(value)
    return out


def risk_settings(
    portfolio: Any, correlation: Any, label: str, errors: list[str], warnings: list[str]
) -> RiskSettings:
    """The checked sections (absent sections take upstream's defaults)."""
    values: dict[str, Any] = {}
    if portfolio is None:
        portfolio = {}
    if not isinstance(portfolio, dict):
        errors.append(f"{label}: portfolio_risk must be an object, got {show(portfolio)}")
        portfolio = {}
    values.update(_numbers(portfolio, "portfolio_risk", PORTFOLIO_KEYS, label, errors))
    for key in sorted(set(portfolio) - set(PORTFOLIO_KEYS)):
        if key in PORTFOLIO_NOT_BUILT:
            unbuilt_key(
                "portfolio_risk", f"{label}: portfolio_risk", key, portfolio[key], errors, warnings
            )
        else:
            warnings.append(f"{label}: portfolio_risk key {show_key(key)} is not known; ignored")
    if correlation is None:
        correlation = {}
    if not isinstance(correlation, dict):
        errors.append(f"{label}: correlation must be an object, got {show(correlation)}")
        correlation = {}
    enabled = correlation.get("enabled", False)
    if not isinstance(enabled, bool):
        errors.append(f"{label}: correlation.enabled must be true or false, got {show(enabled)}")
        enabled = False
    values.update(_numbers(correlation, "correlation", CORRELATION_KEYS, label, errors))
    for key in sorted(set(correlation) - set(CORRELATION_KEYS) - {"enabled"}):
        warnings.append(f"{label}: correlation key {show_key(key)} is not known; ignored")
    return RiskSettings(correlation_enabled=enabled, **values)
