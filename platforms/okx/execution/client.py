"""The ccxt ``okx`` client, pointed at ``OKX_BASE_URL`` when set, and what its errors mean.

ccxt's okx driver builds every URL from ``urls['api']['rest']`` (``https://{hostname}``), so
replacing that entry sends the real client, unchanged (its signing, error map and parsing), to
the local venue. Options: markets are read for spot and swap only, single orders go to
``POST /api/v5/trade/order`` (ccxt's default is the batch endpoint), and OKX demo trading is
ccxt's sandbox mode (the ``x-simulated-trading: 1`` header).
"""

from __future__ import annotations

from typing import Any

from platforms.okx.execution import credentials

__all__ = ["TIMEOUT_S", "build", "cause", "is_auth_error", "is_not_found", "is_transport_error"]

TIMEOUT_S = 10.0
# OKX's authentication codes -> the setting to check (venue docs, REST error codes)
_AUTH_CODES = {
    "50111": credentials.ENV_KEY,  # invalid OK-ACCESS-KEY
    "50113": credentials.ENV_SECRET,  # invalid signature: the secret signs
    "50105": credentials.ENV_PASSPHRASE,  # passphrase incorrect
}


def build(
    creds: credentials.Credentials,
    *,
    base_url: str | None = None,
    sandbox: bool = False,
    timeout_s: float = TIMEOUT_S,
) -> Any:
    """A ccxt okx client signing with ``creds``."""
    import ccxt

    ex = ccxt.okx(
        {
            "apiKey": creds.api_key,
            "secret": creds.secret,
            "password": creds.passphrase,
            "timeout": int(timeout_s * 1000),
            "enableRateLimit": True,
            "options": {
                "fetchMarkets": {"types": ["spot", "swap"]},
                "createOrder": "privatePostTradeOrder",
                "defaultType": "swap",
            },
        }
    )
    if sandbox:
        ex.set_sandbox_mode(True)
    if base_url:
        ex.urls["api"] = {"rest": base_url}
    return ex


def is_transport_error(exc: BaseException) -> bool:
    """A failure after which an order's fate is unknown: timeout, drop, 5xx, 429 (ccxt's
    NetworkError family: RequestTimeout, ExchangeNotAvailable, RateLimitExceeded, ...)."""
    import ccxt

    return isinstance(exc, ccxt.NetworkError)


def is_not_found(exc: BaseException) -> bool:
    """OKX's 51603 "Order does not exist" (the only answer that means the venue never saw it)."""
    import ccxt

    return isinstance(exc, ccxt.OrderNotFound)


def is_duplicate(exc: BaseException) -> bool:
    """OKX's 51016 "Duplicated clOrdId": the order was accepted earlier."""
    return "51016" in str(exc)


def is_auth_error(exc: BaseException) -> bool:
    import ccxt

    return isinstance(exc, ccxt.AuthenticationError)


def cause(exc: BaseException) -> str:
    """One line naming a failure (ccxt's text carries the venue's code and message, never the
    request's headers; an authentication failure names the variables to check)."""
    text = " ".join(str(exc).split())[:240]
    if is_auth_error(exc):
        named = [env for code, env in _AUTH_CODES.items() if f'"{code}"' in text]
        names = "/".join(named or credentials.ALL)
        return f"OKX refused the credentials (check {names}): {text}"
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__
