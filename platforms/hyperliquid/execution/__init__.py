"""Hyperliquid live execution: the adapter over hyperliquid-python-sdk's ``Info``/``Exchange``.

- :mod:`.credentials`: ``HYPERLIQUID_SECRET_KEY`` / ``HYPERLIQUID_ACCOUNT_ADDRESS`` (no fallback
  from the key to its own address; the key is never printed, logged or put in an error);
- :mod:`.outcome`: an order answer classified as filled / resting / error / missing, and the
  per-oid fill summaries (sum of sizes, size-weighted price, fee, closed PnL);
- :mod:`.adapter`: :class:`HyperliquidExecution`, the primitives (market open/close, stop,
  take-profit, limit, cancel, leverage, reads) with rounding from ``meta`` and the "never
  twice" rule for orders whose answer was lost.

The SDK is imported inside the adapter's constructor, so importing this package is cheap.
The API base URL is :func:`platforms.hyperliquid.endpoint.base_url` (shared with market data).
"""

from platforms.hyperliquid.execution.adapter import HyperliquidExecution
from platforms.hyperliquid.execution.credentials import ENV_ACCOUNT, ENV_SECRET, CredentialError
from platforms.hyperliquid.execution.outcome import Outcome, classify, summarize_fills

__all__ = [
    "ENV_ACCOUNT",
    "ENV_SECRET",
    "CredentialError",
    "HyperliquidExecution",
    "Outcome",
    "classify",
    "summarize_fills",
]
