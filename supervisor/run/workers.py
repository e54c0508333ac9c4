"""What the supervisor asks of its workers beyond each strategy's own argv: the price check and
the environment overlay. One place, so the probe checks exactly what a cycle will run."""

from __future__ import annotations

from collections.abc import Iterable

from shared_tools.check_argv import DEFAULT_PLATFORM as DEFAULT_VENUE
from shared_tools.config.live import HL_BASE_URL_ENV
from shared_tools.config.model import Config

PRICE_SCRIPT = "shared_scripts/check_price.py"
PRICE_JOB_PREFIX = "prices:"  # strategy ids cannot contain ':' so these keys never collide


def price_job_key(platform: str) -> str:
    """The job key (and probe id) of the price check for ``platform``."""
    return PRICE_JOB_PREFIX + platform


# Venues whose marks come with an hourly funding rate (perpetual swaps).
FUNDING_VENUES = frozenset({"hyperliquid", "okx-swap"})


def price_argv(platform: str, symbols: Iterable[str]) -> list[str]:
    """check_price.py's argv for ``symbols`` on ``platform`` (sorted, so probes match cycles).

    ``platform`` is a mark venue (``okx-swap`` for OKX perps); perps venues also report funding.
    """
    argv = sorted(set(symbols))
    if platform != DEFAULT_VENUE:
        argv.append(f"--platform={platform}")
    if platform in FUNDING_VENUES:
        argv.append("--funding")
    return argv


def worker_env(config: Config) -> dict[str, str]:
    """Environment overlay for workers: the market-data source when the config names one, and
    the one Hyperliquid base URL every layer uses (config ``hyperliquid.base_url``)."""
    env = {"GO_TRADER_MARKET_DATA": config.market_data} if "market_data" in config.raw else {}
    env[HL_BASE_URL_ENV] = config.live.hl_base_url
    return env
