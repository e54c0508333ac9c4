"""``go-trader init``: type options strategies (upstream's init rules for options).

Upstream (reference, "Config keys for type: options"): platforms deribit / ibkr / robinhood /
okx / all; SOL skipped; Robinhood symbols default SPY, QQQ; ids ``<platform|rh>-<short>-<asset>``;
interval 14400 s; theta harvest 60/200/3. Ours: ``wheel`` and ``butterfly`` may be picked too
(upstream's wizard listed its four class-registry names only; both run in check_options.py).
"""

from __future__ import annotations

from typing import Any

from shared_tools.text import show

__all__ = ["DEFAULT_OPTION_STRATEGIES", "OPTION_STRATEGIES", "option_entries", "resolve_options"]

OPTION_STRATEGIES = (
    "vol_mean_reversion",
    "momentum_options",
    "protective_puts",
    "covered_calls",
    "wheel",
    "butterfly",
)
DEFAULT_OPTION_STRATEGIES = OPTION_STRATEGIES[:4]  # upstream's class registry
SHORT = {
    "vol_mean_reversion": "vol",
    "momentum_options": "momentum",
    "protective_puts": "puts",
    "covered_calls": "calls",
    "wheel": "wheel",
    "butterfly": "butterfly",
}
PLATFORMS = ("deribit", "ibkr", "robinhood", "okx")
PREFIX = {"deribit": "deribit", "ibkr": "ibkr", "robinhood": "rh", "okx": "okx"}
RH_SYMBOLS = ["SPY", "QQQ"]
SKIPPED_ASSETS = ("SOL",)  # no options venue here lists SOL options
INTERVAL = 14400
THETA_HARVEST = {"enabled": True, "profit_target_pct": 60, "stop_loss_pct": 200, "min_dte_close": 3}


def resolve_options(opts: dict[str, Any], errors: list[str]) -> tuple[list[str], list[str]]:
    """The picked options strategies and platforms (``all`` = every one); one line per bad name."""
    names = list(dict.fromkeys(opts.get("optStrategies") or DEFAULT_OPTION_STRATEGIES))
    for n in names:
        if n not in OPTION_STRATEGIES:
            errors.append(
                f"init: optStrategies: unknown options strategy {show(n, 40)} "
                f"(available: {', '.join(OPTION_STRATEGIES)})"
            )
    platforms = [str(p).lower() for p in opts.get("optionPlatforms") or ["deribit"]]
    if "all" in platforms:
        platforms = list(PLATFORMS)
    for p in platforms:
        if p not in PLATFORMS:
            errors.append(
                f"init: optionPlatforms: {show(p, 20)} is not one of {', '.join(PLATFORMS)}, all"
            )
    return names, list(dict.fromkeys(platforms))


def option_entries(
    names: list[str],
    platforms: list[str],
    assets: list[str],
    opts: dict[str, Any],
    capital: float,
    drawdown: float,
) -> list[dict[str, Any]]:
    """One entry per strategy x platform x underlying (Robinhood: its equity symbols)."""
    out = []
    for platform in platforms:
        if platform == "robinhood":
            unds = [s.upper() for s in opts.get("robinhoodOptionsSymbols") or RH_SYMBOLS]
        else:
            unds = [a for a in assets if a not in SKIPPED_ASSETS]
        for name in names:
            for und in unds:
                out.append(
                    {
                        "id": f"{PREFIX[platform]}-{SHORT.get(name, name)}-{und.lower()}",
                        "type": "options",
                        "platform": platform,
                        "script": "shared_scripts/check_options.py",
                        "args": [name, und, f"--platform={platform}"],
                        "capital": capital,
                        "max_drawdown_pct": drawdown,
                        "interval_seconds": INTERVAL,
                        "theta_harvest": dict(THETA_HARVEST),
                    }
                )
    return out
