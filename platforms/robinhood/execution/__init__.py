"""Live Robinhood crypto: our own small client of its endpoints (:mod:`.client`), the login and
hosts from the environment (:mod:`.credentials`, TOTP by :mod:`.totp`) and the account's
primitives (:mod:`.adapter`). Importing starts nothing and reads no credential.
"""

from platforms.robinhood.execution.adapter import (
    Order,
    RobinhoodExecution,
    account_balance,
    coin_of,
    fetch_balance,
    new_client_order_id,
    ref_id,
)
from platforms.robinhood.execution.client import RobinhoodClient, TransportError, VenueRefused
from platforms.robinhood.execution.credentials import CredentialError

__all__ = [
    "CredentialError",
    "Order",
    "RobinhoodClient",
    "RobinhoodExecution",
    "TransportError",
    "VenueRefused",
    "account_balance",
    "coin_of",
    "fetch_balance",
    "new_client_order_id",
    "ref_id",
]
