"""``type: options``: upstream's keys and checks for one options strategy entry.

Upstream's rules (reference, "Config keys for type: options"): ``args`` are
``[<strategy>, <UNDERLYING>, "--platform=<p>"]``; the platform comes from ``--platform``, the
``platform`` key or the id prefix (``deribit-``, ``ibkr-``, ``okx-``, ``rh-``), else deribit;
``atr_method``, ``close_strategy``, ``allowed_regimes`` and ``hurst_gate`` are refused. Ours:
the perps/spot trading keys (stops, leverage, direction, hedge, scale-in) are refused too, since
nothing on an options book would read them. ``theta_harvest`` defaults to 60/200/3 when absent.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from shared_tools.book.options_life import DEFAULT_THETA_HARVEST, ThetaHarvest
from shared_tools.check_argv import script_name
from shared_tools.text import show

__all__ = [
    "MARK_JOB_PREFIX",
    "MARK_SCRIPT",
    "OPTIONS_PLATFORMS",
    "OPTIONS_SCRIPT",
    "OptionsSettings",
    "options_settings",
    "theta_harvest",
]

OPTIONS_SCRIPT = "check_options.py"
MARK_SCRIPT = "shared_scripts/mark_options.py"
MARK_JOB_PREFIX = "option-marks:"  # the mark run's job key (strategy ids cannot contain ':')
OPTIONS_PLATFORMS = ("deribit", "ibkr", "okx", "robinhood")
# Upstream refuses these four on options; the rest are ours (no options book reads them).
REFUSED = (
    "atr_method",
    "close_strategy",
    "close_strategies",
    "allowed_regimes",
    "hurst_gate",
    "direction",
    "leverage",
    "sizing_leverage",
    "margin_per_trade_usd",
    "risk_per_trade_pct",
    "stop_loss_pct",
    "stop_loss_margin_pct",
    "stop_loss_atr_mult",
    "trailing_stop_pct",
    "trailing_stop_atr_mult",
    "allow_scale_in",
    "scale_in",
    "hedge",
    "futures",
    "invert_signal",
)
_TH_KEYS = ("enabled", "profit_target_pct", "stop_loss_pct", "min_dte_close")


@dataclass(frozen=True)
class OptionsSettings:
    """What the supervisor needs of an options entry beyond the common keys."""

    strategy: str  # args[0]: the options strategy (vol_mean_reversion, wheel, ...)
    underlying: str  # args[1], upper-cased
    platform: str  # deribit | ibkr | okx | robinhood
    theta_harvest: ThetaHarvest | None  # None: disabled

    def argv(self) -> list[str]:
        """check_options.py's argv (reference, "The check script": argv)."""
        return [self.strategy, self.underlying, f"--platform={self.platform}"]

    @property
    def wheel(self) -> bool:
        """Physical assignment at expiry applies to the wheel only (ours; upstream: all)."""
        return self.strategy == "wheel"


def theta_harvest(value: object, where: str, errors: list[str]) -> ThetaHarvest | None:
    """Upstream's theta_harvest: absent -> 60/200/3; false, {} or enabled false -> off;
    a field 0 disables that arm; each must be a number >= 0."""
    if value is None:
        return DEFAULT_THETA_HARVEST
    if value is False or value == {}:
        return None
    if not isinstance(value, dict):
        errors.append(f"{where}: theta_harvest must be an object or false, got {show(value)}")
        return DEFAULT_THETA_HARVEST
    unknown = sorted(set(value) - set(_TH_KEYS))
    if unknown:
        errors.append(
            f"{where}: theta_harvest has unknown key(s) {', '.join(unknown[:5])} "
            f"(use {', '.join(_TH_KEYS)})"
        )
    enabled = value.get("enabled", True)
    if not isinstance(enabled, bool):
        errors.append(f"{where}: theta_harvest.enabled must be true or false, got {show(enabled)}")
    nums = {}
    for key in _TH_KEYS[1:]:
        x = value.get(key, 0)
        if isinstance(x, bool) or not isinstance(x, (int, float)) or not x >= 0 or x > 1e6:
            errors.append(f"{where}: theta_harvest.{key} must be a number >= 0, got {show(x)}")
            x = 0
        nums[key] = float(x)
    if enabled is False:
        return None
    return ThetaHarvest(**nums)


def options_settings(
    raw: dict[str, Any], where: str, sid: str, declared: str | None, errors: list[str]
) -> OptionsSettings:
    """Check an options entry's args, script, platform and refused keys."""
    for key in REFUSED:
        if key in raw:
            errors.append(f"{where}: {key} is not supported on type options; remove it")
    script = raw.get("script")
    if (
        isinstance(script, str)
        and script_name(script) != OPTIONS_SCRIPT
        and not raw.get("allow_external_script")
    ):
        errors.append(f"{where}: type options needs shared_scripts/{OPTIONS_SCRIPT}, not {script}")
    args = raw.get("args", [])
    strategy, underlying, platform = "", "", declared
    if not isinstance(args, list) or not all(isinstance(a, str) for a in args):
        errors.append(f"{where}: args must be a list of strings, got {show(args)}")
        args = []
    plain = [a for a in args if not a.startswith("--")]
    for flag in (a for a in args if a.startswith("--")):
        name, _, value = flag.partition("=")
        if name != "--platform" or not value:
            errors.append(
                f"{where}: args of an options strategy take only --platform=<p>, got {show(flag)}"
            )
        elif platform is not None and value != platform:
            errors.append(
                f"{where}: args say --platform={value} but the platform key or id prefix says "
                f"{platform}; make them agree"
            )
        else:
            platform = value
    if len(plain) != 2:
        errors.append(
            f"{where}: args must be [<strategy>, <UNDERLYING>, --platform=<p>], got {show(args)}"
        )
    else:
        strategy, underlying = plain[0], plain[1].upper()
    platform = platform or "deribit"
    if platform not in OPTIONS_PLATFORMS:
        errors.append(
            f"{where}: options trade on {', '.join(OPTIONS_PLATFORMS)}, not {show(platform)}"
        )
    th = theta_harvest(raw.get("theta_harvest"), where, errors)
    return OptionsSettings(strategy, underlying, str(platform), th)
