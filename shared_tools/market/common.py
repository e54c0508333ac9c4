"""Shared vocabulary of the market-data sources: timeframes, the clock (re-exported from
:mod:`shared_tools.clock`), the closed-bar rule,
source specs and the error type.

Standard library only: the price path (``check_price``) imports this and must stay free of
pandas and numpy. Frames are built in :mod:`shared_tools.market.frames`.
"""

from __future__ import annotations

import math
import os

from shared_tools.clock import as_utc, now_utc, parse_now  # re-exported: the market's clock
from shared_tools.paths import REPO_ROOT
from shared_tools.text import one_line

TIMEFRAMES: dict[str, int] = {
    "1m": 60,
    "3m": 180,
    "5m": 300,
    "15m": 900,
    "30m": 1800,
    "1h": 3600,
    "2h": 7200,
    "4h": 14400,
    "6h": 21600,
    "8h": 28800,
    "12h": 43200,
    "1d": 86400,
}

COLUMNS = ["open", "high", "low", "close", "volume"]

ENV_SOURCE = "GO_TRADER_MARKET_DATA"
ENV_SEED = "GO_TRADER_SIM_SEED"
ENV_EXCHANGE_URL = "GO_TRADER_EXCHANGE_URL"
ENV_CACHE = "GO_TRADER_OHLCV_CACHE"

__all__ = [
    "COLUMNS",
    "REPO_ROOT",
    "TIMEFRAMES",
    "MarketDataError",
    "EXCHANGE_SETTLE_S",
    "as_utc",
    "check_symbol",
    "last_closed_open",
    "now_utc",
    "one_line",
    "parse_now",
    "parse_source",
    "source_from_env",
    "timeframe_seconds",
]


class MarketDataError(RuntimeError):
    """Candles/prices could not be produced; ``str(e)`` is one operator-readable line.

    ``venue`` names where it failed ("binanceus", "replay", "simulated") so a supervisor can
    group failures without parsing the text.
    """

    def __init__(self, venue: str, message: str | None = None) -> None:
        if message is None:  # MarketDataError("okx: cause") - also how unpickling calls us
            venue, sep, message = str(venue).partition(": ")
            if not sep:
                venue, message = "market data", venue
        self.venue = venue
        self.detail = one_line(message)
        super().__init__(f"{venue}: {self.detail}")


def timeframe_seconds(tf: str) -> int:
    """Seconds per bar; an unknown timeframe fails loudly instead of resampling silently."""
    try:
        return TIMEFRAMES[tf]
    except (KeyError, TypeError):
        valid = ", ".join(TIMEFRAMES)
        raise ValueError(f"unknown timeframe '{tf}' (use one of {valid})") from None


# A venue bar counts as closed EXCHANGE_SETTLE_S after its nominal close, so a host clock
# slightly ahead of the venue never reads (or caches for good) a bar still in progress.
EXCHANGE_SETTLE_S = 5


def last_closed_open(now_s: float, tf_s: int) -> int:
    """Open time (epoch s) of the newest bar with open + tf <= now: the closed-bar rule."""
    return (math.floor(now_s) // tf_s) * tf_s - tf_s


def check_symbol(symbol: str) -> str:
    """A symbol as the sources take it: a non-empty string, surrounding blanks dropped."""
    if not isinstance(symbol, str) or not symbol.strip():
        raise ValueError(f"symbol must be a non-empty string, not {symbol!r}")
    return symbol.strip()


SOURCE_HELP = "'exchange' (default), 'simulated' or 'replay:<dir>'"


def parse_source(value: str | None, *, what: str = ENV_SOURCE) -> str:
    """Normalise a source spec; anything unrecognised is a ValueError naming ``what``."""
    text = "" if value is None else str(value).strip()
    if not text:
        return "exchange"
    low = text.lower()
    if low in ("exchange", "simulated"):
        return low
    if low.startswith("replay:") and text[len("replay:") :].strip():
        return "replay:" + text[len("replay:") :].strip()
    raise ValueError(f"{what}={value!r} is not a market data source (use {SOURCE_HELP})")


def source_from_env() -> str:
    """The configured data source, validated early so a typo fails before any fetch."""
    return parse_source(os.environ.get(ENV_SOURCE))
