"""The OKX account's credentials and endpoint, from the environment (upstream's variables).

``OKX_API_KEY``, ``OKX_API_SECRET``, ``OKX_PASSPHRASE`` (all three needed: every account read
on OKX is signed), ``OKX_SANDBOX=1`` (ccxt's demo-trading header ``x-simulated-trading: 1``)
and ours, ``OKX_BASE_URL`` (default: ccxt's real host; tests point it at the local venue on
127.0.0.1). Values never leave this module as text: errors name the variable, never its value,
and :class:`Credentials` does not print its fields.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit

__all__ = [
    "ENV_BASE_URL",
    "ENV_KEY",
    "ENV_PASSPHRASE",
    "ENV_SANDBOX",
    "ENV_SECRET",
    "CredentialError",
    "Credentials",
    "base_url",
    "load",
    "sandbox",
]

ENV_KEY = "OKX_API_KEY"
ENV_SECRET = "OKX_API_SECRET"
ENV_PASSPHRASE = "OKX_PASSPHRASE"
ENV_SANDBOX = "OKX_SANDBOX"
ENV_BASE_URL = "OKX_BASE_URL"
ALL = (ENV_KEY, ENV_SECRET, ENV_PASSPHRASE)


class CredentialError(ValueError):
    """A missing or malformed setting; the message names the variable, never the value."""


@dataclass(frozen=True)
class Credentials:
    """The three values ccxt signs with; ``repr`` shows none of them."""

    api_key: str
    secret: str
    passphrase: str

    def __repr__(self) -> str:
        return f"Credentials({ENV_KEY}=***, {ENV_SECRET}=***, {ENV_PASSPHRASE}=***)"

    __str__ = __repr__


def _env(environ: Mapping[str, str] | None) -> Mapping[str, str]:
    return os.environ if environ is None else environ


def load(environ: Mapping[str, str] | None = None) -> Credentials:
    """The credentials, or a :class:`CredentialError` naming every missing variable."""
    env = _env(environ)
    missing = [name for name in ALL if not env.get(name, "").strip()]
    if missing:
        raise CredentialError(
            f"{', '.join(missing)} not set: export the OKX API key, secret and passphrase "
            "to trade or read the live account"
        )
    return Credentials(*(env[name].strip() for name in ALL))


def sandbox(environ: Mapping[str, str] | None = None) -> bool:
    """``OKX_SANDBOX`` is 1/true/yes: OKX demo trading."""
    return _env(environ).get(ENV_SANDBOX, "").strip().lower() in ("1", "true", "yes")


def base_url(environ: Mapping[str, str] | None = None) -> str | None:
    """``OKX_BASE_URL`` (scheme and host, no path), or None for ccxt's own host."""
    raw = _env(environ).get(ENV_BASE_URL, "").strip().rstrip("/")
    if not raw:
        return None
    parts = urlsplit(raw)
    if parts.scheme not in ("http", "https") or not parts.netloc or parts.path:
        raise CredentialError(
            f"{ENV_BASE_URL} must be scheme://host[:port] without a path "
            "(e.g. http://127.0.0.1:8765 for the local venue)"
        )
    return raw
