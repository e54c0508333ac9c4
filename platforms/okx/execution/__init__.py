"""OKX live execution: the adapter over ccxt's ``okx`` client.

- :mod:`.credentials`: ``OKX_API_KEY`` / ``OKX_API_SECRET`` / ``OKX_PASSPHRASE`` /
  ``OKX_SANDBOX`` and ``OKX_BASE_URL``; values are never printed, logged or put in an error;
- :mod:`.client`: the ccxt client (REST URL pointed at ``OKX_BASE_URL``) and its error classes;
- :mod:`.sizing`: coins <-> contracts through the market's ``contractSize``, floored to the lot;
- :mod:`.orders`: an order as the venue reports it after placement (the real fill);
- :mod:`.adapter`: :class:`OkxExecution`, the primitives (market open, reduce-only close,
  order by clOrdId, positions, balance, fills, bills) with the "never twice" rule.

ccxt is imported inside the client builder, so importing this package is cheap.
"""

from platforms.okx.execution.adapter import OkxExecution, TransportError, unified_symbol
from platforms.okx.execution.credentials import CredentialError
from platforms.okx.execution.orders import OrderState
from platforms.okx.execution.sizing import Lot, SizeError, to_coins, to_venue

__all__ = [
    "CredentialError",
    "Lot",
    "OkxExecution",
    "OrderState",
    "SizeError",
    "TransportError",
    "to_coins",
    "to_venue",
    "unified_symbol",
]
