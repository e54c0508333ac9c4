"""Robinhood's market data for paper trading on real prices: public Binance US USD candles.

Robinhood publishes no market data without an account, so the exchange source reads the same
coins from Binance US through ccxt, quoted in USD as Robinhood quotes them (``BTC`` ->
``BTC/USD``, falling back to ``BTC/USDT`` for a coin Binance US lists only against USDT).
Why Binance US: a US venue with USD pairs, every timeframe the strategies use (Coinbase has no
4h candles), 1000 bars a page, and a client the project already runs (:mod:`platforms.ccxt_feed`).
The venue's own historicals were not chosen: they need a TOTP login in every worker and offer
only fixed interval/span pairs (no 4h either); paper trading should not need live credentials.
Candles are cached under the venue name ``robinhood`` like every venue's; the simulated market
stays the offline default. Spreads differ a little from Robinhood's quotes (not modelled).
"""

from __future__ import annotations

from platforms.base import NoPublicData
from platforms.ccxt_feed import CcxtFeed

PAGE_MAX = 1000  # Binance US klines limit
SOURCE = "binanceus"
EQUITIES = "robinhood-equities"  # the door's name for Robinhood's equities (options' underlyings)
EQUITY_REFUSAL = "Robinhood publishes no equity market data without an account"


def symbols(symbol: str) -> list[str]:
    """A Robinhood symbol (``BTC``, ``BTC-USD``, ``BTC/USD``) as Binance US's USD market first."""
    text = str(symbol).strip().upper().replace("-", "/")
    coin = text.split("/")[0]
    return list(dict.fromkeys([f"{coin}/USD", f"{coin}/USDT"]))


def feed() -> CcxtFeed:
    return CcxtFeed("robinhood", ccxt_id=SOURCE, page_max=PAGE_MAX, symbols=symbols)


def equities_feed() -> NoPublicData:
    """Robinhood's equities (SPY, QQQ: the options' underlyings) have no public source here:
    the crypto feed above must not be asked for them (Binance US would answer 'unknown
    symbol' after a network round trip), so the door refuses at once with the cause."""
    return NoPublicData(EQUITIES, EQUITY_REFUSAL)
