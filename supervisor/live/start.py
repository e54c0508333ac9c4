"""Why the supervisor must not start live: missing credentials or a missing state DB."""

from __future__ import annotations

from collections.abc import Mapping

from shared_tools.config.live import ALLOW_MISSING_STATE_ENV, live_env_problems
from shared_tools.config.model import Config


def start_problems(config: Config, db_exists: bool, env: Mapping[str, str]) -> list[str]:
    """Why the supervisor must not start live: missing keys, or a missing state DB (upstream
    #339: a deploy that wiped the directory while positions were open on the venue; upstream
    only warned, and the bot then opened new positions on top of the unowned ones)."""
    live = config.live_strategies
    if not live:
        return []
    out = live_env_problems([sc.platform for sc in live], env)
    testnet = (env.get("HYPERLIQUID_TESTNET") or "").strip().lower() in ("1", "true", "yes")
    if testnet and "testnet" not in config.live.hl_base_url:
        out.append(
            f"HYPERLIQUID_TESTNET is set but hyperliquid.base_url is {config.live.hl_base_url}: "
            "this build takes the network from the config only; set hyperliquid.base_url to "
            "https://api.hyperliquid-testnet.xyz (or unset HYPERLIQUID_TESTNET for mainnet)"
        )
    if not db_exists and (env.get(ALLOW_MISSING_STATE_ENV) or "").strip() != "1":
        out.append(
            f"CRITICAL: state DB {config.db_file} is missing but live strategies are configured; "
            "open positions and trade history would not be reconciled. If the directory was "
            "wiped instead of updated in place, restore the DB; to start from an empty book on "
            f"purpose, set {ALLOW_MISSING_STATE_ENV}=1"
        )
    return out
