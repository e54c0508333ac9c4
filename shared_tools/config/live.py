"""Live trading settings and checks: which strategies may trade real money, and with what.

This build trades live on Hyperliquid perps, OKX spot and swaps, TopStep futures and Robinhood
spot crypto (docs/architecture.md, "Live"); live options and live hedges stay refused. One base URL
(``hyperliquid.base_url``) serves every layer: the supervisor hands it to every worker it
starts (market data, orders, account reads) as ``GO_TRADER_HL_BASE_URL``, so a testnet or a
local venue is one setting, never half of the calls (upstream read mainnet state while
trading testnet). Keys never live in the config: ``HYPERLIQUID_SECRET_KEY`` (an agent wallet's
key) and ``HYPERLIQUID_ACCOUNT_ADDRESS`` (the account it trades, required: upstream silently
skipped its reconcile and kill-switch reads without it).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from shared_tools.urls import insecure_base

HL_MAINNET = "https://api.hyperliquid.xyz"
HL_BASE_URL_ENV = "GO_TRADER_HL_BASE_URL"
HL_KEY_ENV = "HYPERLIQUID_SECRET_KEY"
HL_ADDRESS_ENV = "HYPERLIQUID_ACCOUNT_ADDRESS"
ALLOW_MISSING_STATE_ENV = "GO_TRADER_ALLOW_MISSING_STATE"
LIVE_PLATFORMS = {
    "hyperliquid": ("perps",),
    "okx": ("spot", "perps"),
    "topstep": ("futures",),
    "robinhood": ("spot",),
}
# The credentials each venue's workers read (upstream's names); checked at start, never logged.
VENUE_ENV: dict[str, tuple[tuple[str, str], ...]] = {
    "okx": (
        ("OKX_API_KEY", "the OKX API key"),
        ("OKX_API_SECRET", "its secret"),
        ("OKX_PASSPHRASE", "its passphrase"),
    ),
    "topstep": (
        ("TOPSTEP_API_KEY", "the TopStep API key"),
        ("TOPSTEP_API_SECRET", "its secret (the user name the key belongs to)"),
        ("TOPSTEP_ACCOUNT_ID", "the account it trades"),
    ),
    "robinhood": (
        ("ROBINHOOD_USERNAME", "the Robinhood login"),
        ("ROBINHOOD_PASSWORD", "its password"),
        ("ROBINHOOD_TOTP_SECRET", "the TOTP secret of its two-factor login"),
    ),
}


@dataclass(frozen=True)
class LiveSettings:
    hl_base_url: str = HL_MAINNET


def live_settings(raw: object, label: str, errors: list[str]) -> LiveSettings:
    """The ``hyperliquid`` section: ``base_url`` (mainnet by default)."""
    if raw is None:
        return LiveSettings()
    if not isinstance(raw, dict):
        errors.append(f'config {label}: hyperliquid must be an object like {{"base_url": ...}}')
        return LiveSettings()
    url = raw.get("base_url", HL_MAINNET)
    if not isinstance(url, str) or not url.strip():
        errors.append(f"config {label}: hyperliquid.base_url must be a URL string")
        return LiveSettings()
    url = url.strip().rstrip("/")
    why = insecure_base("hyperliquid.base_url", url, "the Hyperliquid API base")
    if why:
        errors.append(f"config {label}: {why}")
        return LiveSettings()
    return LiveSettings(hl_base_url=url)


def live_refusal(platform: str, kind: str) -> str:
    """Why a strategy of ``kind`` on ``platform`` cannot trade live ("" when it can)."""
    if kind in LIVE_PLATFORMS.get(platform, ()):
        return ""
    return (
        f"live trading (--mode=live) on {platform} {kind} is not supported by this build yet "
        "(live: hyperliquid perps, okx spot and perps, topstep futures, robinhood spot); "
        "remove --mode=live to paper trade"
    )


def live_env_problems(live_platforms: Iterable[str], env: Mapping[str, str]) -> list[str]:
    """One line per environment variable a live strategy needs and does not have."""
    out: list[str] = []
    if "hyperliquid" in set(live_platforms):
        for name, what in (
            (HL_KEY_ENV, "the API (agent) wallet's private key"),
            (HL_ADDRESS_ENV, "the account address it trades for"),
        ):
            if not (env.get(name) or "").strip():
                out.append(
                    f"live hyperliquid strategies need {name} ({what}) in the environment; "
                    "set it (e.g. in the service's EnvironmentFile) or remove --mode=live"
                )
    for platform in sorted(set(live_platforms) & set(VENUE_ENV)):
        for name, what in VENUE_ENV[platform]:
            if not (env.get(name) or "").strip():
                out.append(
                    f"live {platform} strategies need {name} ({what}) in the environment; "
                    "set it (e.g. in the service's EnvironmentFile) or remove --mode=live"
                )
    return out
