"""API base URLs a secret travels to: https only, plain http on loopback alone (test servers).

A bot token (or a signed order) sent over plain http to a remote host is leaked. The chat sender,
the supervisor's start-up check and the Hyperliquid endpoint all ask :func:`insecure_base`;
standard library only.
"""

from __future__ import annotations

import ipaddress
from urllib.parse import urlsplit

__all__ = ["insecure_base"]

LOOPBACK_NAMES = ("localhost",)


def _loopback(host: str) -> bool:
    if host in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def insecure_base(name: str, url: str, what: str = "a chat API base") -> str:
    """Why ``url`` (named ``name``, e.g. an environment variable) may not carry a secret, or "".

    ``what`` names the URL's role in the message (e.g. "the Hyperliquid API base").
    """
    parts = urlsplit(url.strip())
    host = parts.hostname or ""
    if parts.scheme == "https" and host:
        return ""
    if parts.scheme == "http" and _loopback(host):
        return ""
    return (
        f"{name}={url!r} is refused: {what} must be https:// "
        "(plain http only on 127.0.0.1/localhost, for a local test server)"
    )
