"""Test shorthand for the paper book: spot signals the way the old spot book took them."""

from __future__ import annotations

from shared_tools import book
from shared_tools.book import Rules, Trade


def spot_signal(
    acct,
    symbol: str,
    signal: int,
    price: float,
    now: str,
    *,
    fee_rate: float = 0.001,
    close_fraction: float = 1.0,
) -> tuple[list[Trade], str]:
    """A spot signal; a close fraction below 1 is sent as a composed (close evaluator) answer."""
    return book.apply_signal(
        acct,
        Rules(fee_rate=fee_rate),
        symbol,
        signal,
        price,
        now,
        composed=close_fraction < 1.0,
        close_fraction=close_fraction,
    )
