"""Robinhood's login and hosts, from the environment; errors name variables, never values.

``ROBINHOOD_USERNAME``, ``ROBINHOOD_PASSWORD`` and ``ROBINHOOD_TOTP_SECRET`` (the base32 secret
of the account's authenticator app: a fresh code is made per login) as upstream.

Hosts: Robinhood serves the account and quotes from ``api.robinhood.com`` and crypto
(accounts, pairs, orders, holdings) from ``nummus.robinhood.com``. ``ROBINHOOD_BASE_URL``
(default the real API host) moves both: any other base serves the crypto paths under
``<base>/nummus`` (the local venue does), unless ``ROBINHOOD_NUMMUS_URL`` names that host too.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from platforms.robinhood.execution import totp

__all__ = [
    "ENV_BASE_URL",
    "ENV_NUMMUS_URL",
    "ENV_PASSWORD",
    "ENV_TOTP",
    "ENV_USERNAME",
    "CredentialError",
    "Login",
    "hosts",
    "login",
]

ENV_USERNAME = "ROBINHOOD_USERNAME"
ENV_PASSWORD = "ROBINHOOD_PASSWORD"
ENV_TOTP = "ROBINHOOD_TOTP_SECRET"
ENV_BASE_URL = "ROBINHOOD_BASE_URL"
ENV_NUMMUS_URL = "ROBINHOOD_NUMMUS_URL"
REAL_API = "https://api.robinhood.com"
REAL_NUMMUS = "https://nummus.robinhood.com"


class CredentialError(ValueError):
    """A missing or malformed credential; the message names the variable, never the value."""


@dataclass(frozen=True)
class Login:
    """What a login sends. ``repr`` hides the password and the secret (tracebacks, logs)."""

    username: str
    password: str
    totp_secret: str

    def __repr__(self) -> str:
        return f"Login(username={self.username!r}, password=***, totp_secret=***)"


def login(environ: dict[str, str] | None = None) -> Login:
    """The three login variables, checked (a bad TOTP secret is named before any request)."""
    env = os.environ if environ is None else environ
    values = {}
    for name in (ENV_USERNAME, ENV_PASSWORD, ENV_TOTP):
        raw = env.get(name, "").strip()
        if not raw:
            raise CredentialError(f"{name} is not set: export it to trade or read Robinhood live")
        values[name] = raw
    if not totp.secret_ok(values[ENV_TOTP]):
        raise CredentialError(
            f"{ENV_TOTP} is not a base32 secret (the authenticator app's setup key)"
        )
    return Login(values[ENV_USERNAME], values[ENV_PASSWORD], values[ENV_TOTP])


def hosts(environ: dict[str, str] | None = None) -> tuple[str, str]:
    """(API base, crypto base) without trailing slashes."""
    env = os.environ if environ is None else environ
    api = (env.get(ENV_BASE_URL, "").strip() or REAL_API).rstrip("/")
    if not api.startswith(("http://", "https://")):
        raise CredentialError(f"{ENV_BASE_URL} is not a URL (expected http(s)://host[:port])")
    nummus = env.get(ENV_NUMMUS_URL, "").strip().rstrip("/")
    if not nummus:
        nummus = REAL_NUMMUS if api == REAL_API else f"{api}/nummus"
    return api, nummus
