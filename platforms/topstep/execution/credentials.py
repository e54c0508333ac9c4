"""TopStep's live credentials and API base, from the environment (upstream's variable names).

The gateway behind TopstepX (ProjectX) logs in with a user name and an API key
(``POST /api/Auth/loginKey``); upstream's variables map onto it as:

- ``TOPSTEP_API_KEY``: the ProjectX user name the key belongs to (the key's public half);
- ``TOPSTEP_API_SECRET``: the API key itself (secret: never printed, logged or quoted);
- ``TOPSTEP_ACCOUNT_ID``: the numeric trading account id;
- ``TOPSTEP_BASE_URL``: the API root (default the real host; tests point it at the local venue,
  plain http only on loopback).

Errors name the variable, never its value.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from shared_tools.urls import insecure_base

__all__ = [
    "DEFAULT_BASE_URL",
    "ENV_ACCOUNT",
    "ENV_BASE_URL",
    "ENV_KEY",
    "ENV_SECRET",
    "CredentialError",
    "Credentials",
    "base_url",
    "load",
]

ENV_KEY = "TOPSTEP_API_KEY"
ENV_SECRET = "TOPSTEP_API_SECRET"
ENV_ACCOUNT = "TOPSTEP_ACCOUNT_ID"
ENV_BASE_URL = "TOPSTEP_BASE_URL"
DEFAULT_BASE_URL = "https://api.topstepx.com"


class CredentialError(ValueError):
    """A missing or malformed credential; the message names the variable, never the value."""


@dataclass(frozen=True)
class Credentials:
    user: str
    account_id: int
    secret: str = field(repr=False)  # never in a repr, a log line or an error


def base_url(environ: dict[str, str] | None = None) -> str:
    """The API root without a trailing slash; CredentialError naming the variable when unsafe."""
    env = os.environ if environ is None else environ
    raw = env.get(ENV_BASE_URL, "").strip()
    if not raw:
        return DEFAULT_BASE_URL
    why = insecure_base(ENV_BASE_URL, raw, "the TopStep API base")
    if why:
        raise CredentialError(why)
    return raw.rstrip("/")


def load(environ: dict[str, str] | None = None) -> Credentials:
    """The three credentials; each missing or malformed one is named with what to do."""
    env = os.environ if environ is None else environ
    user = env.get(ENV_KEY, "").strip()
    secret = env.get(ENV_SECRET, "").strip()
    raw_account = env.get(ENV_ACCOUNT, "").strip()
    if not user:
        raise CredentialError(f"{ENV_KEY} is not set: export the TopstepX (ProjectX) user name")
    if not secret:
        raise CredentialError(f"{ENV_SECRET} is not set: export the TopstepX API key")
    if not raw_account:
        raise CredentialError(f"{ENV_ACCOUNT} is not set: export the numeric trading account id")
    try:
        account = int(raw_account)
    except ValueError:
        raise CredentialError(f"{ENV_ACCOUNT} is not a number (the trading account id)") from None
    return Credentials(user=user, account_id=account, secret=secret)
