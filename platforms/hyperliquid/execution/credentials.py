"""The live account's credentials, from the environment; the key never leaves this module's
caller as text (errors name the variable, never its value).

``HYPERLIQUID_ACCOUNT_ADDRESS`` is required for every live mode: upstream fell back to the key's
own address, which silently reads (and reconciles) the wrong account when the key is an API
wallet trading a main account. Read-only modes need only the address.
"""

from __future__ import annotations

import os
import re
from typing import Any

__all__ = ["ENV_ACCOUNT", "ENV_SECRET", "CredentialError", "account_address", "wallet"]

ENV_SECRET = "HYPERLIQUID_SECRET_KEY"
ENV_ACCOUNT = "HYPERLIQUID_ACCOUNT_ADDRESS"
_ADDRESS = re.compile(r"^0x[0-9a-fA-F]{40}$")
_KEY = re.compile(r"^(0x)?[0-9a-fA-F]{64}$")


class CredentialError(ValueError):
    """A missing or malformed credential; the message names the variable, never the value."""


def account_address(environ: dict[str, str] | None = None) -> str:
    """The account whose state is read and on whose behalf orders are signed."""
    env = os.environ if environ is None else environ
    raw = env.get(ENV_ACCOUNT, "").strip()
    if not raw:
        raise CredentialError(
            f"{ENV_ACCOUNT} is not set: export the Hyperliquid account (main wallet) address "
            "to trade or read live"
        )
    if not _ADDRESS.match(raw):
        raise CredentialError(f"{ENV_ACCOUNT} is not an address (expected 0x and 40 hex digits)")
    return raw


def wallet(environ: dict[str, str] | None = None) -> Any:
    """The signing wallet (an eth_account LocalAccount) built from ``HYPERLIQUID_SECRET_KEY``."""
    env = os.environ if environ is None else environ
    raw = env.get(ENV_SECRET, "").strip()
    if not raw:
        raise CredentialError(
            f"{ENV_SECRET} is not set: export the API wallet's hex private key to trade live"
        )
    if not _KEY.match(raw):
        raise CredentialError(
            f"{ENV_SECRET} is not a hex private key (expected 64 hex digits, optionally 0x-prefixed)"
        )
    import eth_account

    try:
        return eth_account.Account.from_key(raw)
    except Exception:  # never chain: the cause could quote the key
        raise CredentialError(f"{ENV_SECRET} is not a usable private key") from None
