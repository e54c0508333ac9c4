"""OKX market data through ccxt: spot and USDT swaps, with the swaps' funding made hourly.

Config symbols map to ccxt's unified ones: on spot ``BTC`` is ``BTC/USDT``; on the swap ``BTC``
(or ``BTC/USDT``) is ``BTC/USDT:USDT``. OKX serves 300 candles a page and quotes funding per
8-hour interval (the book's ``instruments.OKX_FUNDING_S``); rates are divided by the interval so
they are hourly like every venue's. Fees: the book's ``SPOT_FEES``/``PERPS_FEES["okx"]``.
"""

from __future__ import annotations

from platforms.ccxt_feed import CcxtFeed

CCXT_ID = "okx"
PAGE_MAX = 300  # venue docs: candles limit


def spot_symbols(symbol: str) -> list[str]:
    s = str(symbol).strip()
    if "/" not in s and "-" not in s:
        return [f"{s.upper()}/USDT", s]
    return [s]


def swap_symbols(symbol: str) -> list[str]:
    s = str(symbol).strip()
    if ":" in s:
        return [s]
    base, _, quote = (s if "/" in s else f"{s}/USDT").upper().partition("/")
    return [f"{base}/{quote}:{quote}"]


def spot_feed() -> CcxtFeed:
    # funding on "okx" reads the swap of the same coin (a spot-and-perps venue name)
    return CcxtFeed(
        "okx",
        ccxt_id=CCXT_ID,
        page_max=PAGE_MAX,
        symbols=spot_symbols,
        funding_symbols=swap_symbols,
    )


def swap_feed() -> CcxtFeed:
    return CcxtFeed(
        "okx-swap",
        ccxt_id=CCXT_ID,
        page_max=PAGE_MAX,
        symbols=swap_symbols,
        funding_symbols=swap_symbols,
    )
