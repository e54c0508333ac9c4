"""RFC 6238 time-based one-time codes (SHA-1, 6 digits, 30 s), for Robinhood's login.

Our own twelve lines rather than ``pyotp``: one dependency fewer, and the local venue checks
codes with the same function the client makes them with. The secret is base32 as authenticator
apps show it (spaces and lower case allowed, padding optional).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import struct

__all__ = ["STEP_S", "code", "secret_ok", "verify"]

STEP_S = 30


def _key(secret: str) -> bytes:
    text = secret.replace(" ", "").upper()
    return base64.b32decode(text + "=" * (-len(text) % 8))


def secret_ok(secret: str) -> bool:
    """Whether ``secret`` is usable base32 (checked before login, so errors name the variable)."""
    try:
        return bool(secret.strip()) and len(_key(secret)) > 0
    except (ValueError, TypeError):
        return False


def code(secret: str, now_s: float, digits: int = 6) -> str:
    """The code for the 30 s window holding ``now_s`` (RFC 4226 dynamic truncation)."""
    counter = int(now_s // STEP_S)
    mac = hmac.new(_key(secret), struct.pack(">Q", counter), hashlib.sha1).digest()
    offset = mac[-1] & 0x0F
    value = struct.unpack(">I", mac[offset : offset + 4])[0] & 0x7FFFFFFF
    return str(value % 10**digits).zfill(digits)


def verify(secret: str, given: str, now_s: float, window: int = 1) -> bool:
    """Whether ``given`` is the code of the current window or ``window`` windows either side."""
    return any(
        hmac.compare_digest(code(secret, now_s + k * STEP_S), str(given).strip())
        for k in range(-window, window + 1)
    )
