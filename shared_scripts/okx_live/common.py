"""What the OKX scripts share: the clock stamp, the adapter, one-line errors, client ids."""

from __future__ import annotations

import re
from typing import Any

from shared_tools.clock import now_utc
from shared_tools.worker import UsageError

__all__ = ["PLATFORM", "adapter", "check_client_order_id", "failure", "stamp"]

PLATFORM = "okx"
_CLORDID = re.compile(r"^[A-Za-z0-9]{1,32}$")  # OKX clOrdId; ours are gt + 24 hex


def stamp() -> str:
    return now_utc().strftime("%Y-%m-%dT%H:%M:%SZ")


def adapter() -> Any:
    from platforms.okx.execution import OkxExecution

    return OkxExecution()


def check_client_order_id(value: str | None) -> None:
    """argv check (exit 2): OKX takes 1-32 letters and digits as clOrdId."""
    if value is not None and not _CLORDID.match(value):
        raise UsageError("--client-order-id must be 1-32 letters or digits (e.g. gt + 24 hex)")


def failure(exc: BaseException) -> str:
    """One line for an operator, never a credential (ccxt's text has the venue's answer only)."""
    from platforms.okx.execution import client

    if isinstance(exc, ValueError):  # sizes, symbols, settings: our own words
        return str(exc)
    return client.cause(exc)


def base_doc(**extra: Any) -> dict[str, Any]:
    return {**extra, "platform": PLATFORM, "timestamp": stamp()}


def prepare(_ns: Any = None) -> None:
    """--probe-only: the adapter and ccxt import (no network, no credentials)."""
    import ccxt  # noqa: F401

    import platforms.okx.execution.adapter  # noqa: F401
