"""Candles for a backtest, through the project's one market-data door (shared_tools.market).

A backtest asks for a time range; the door serves "the last N closed bars at a clock", so the
range becomes ``now=until`` and ``limit`` = the bars from ``since`` to ``until`` plus a warm-up
run before ``since`` (indicators need history; the engine trades only from ``since`` on).
"""

from __future__ import annotations

import math
import re
from datetime import UTC, datetime, timedelta

import pandas as pd

import platforms  # noqa: F401  (registers the venues' feeds with the market door)
from shared_tools import market
from shared_tools.book.venues import mark_venue
from shared_tools.market.common import last_closed_open, now_utc, parse_source, timeframe_seconds

__all__ = [
    "DEFAULT_WARMUP",
    "MAX_BARS",
    "Candles",
    "RangeError",
    "load_candles",
    "parse_when",
    "resolve_source",
]

DEFAULT_WARMUP = 300  # bars before --since that only warm the indicators up
MAX_BARS = 500_000  # a guard against a typo asking for decades of 1m bars
_DAYS = re.compile(r"^\d+$")


class RangeError(ValueError):
    """--since/--until describe no bars (or far too many): the operator's range is wrong."""


def parse_when(text: str, *, flag: str, until: datetime | None = None) -> datetime:
    """``90`` (days before ``until``), ``2024-01-01`` or a full ISO-8601 time (naive = UTC)."""
    raw = str(text).strip()
    if _DAYS.match(raw):
        return (until or now_utc()) - timedelta(days=int(raw))
    try:
        stamp = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(
            f"{flag} {text!r}: use a date (2024-01-01), an ISO-8601 time or a number of days"
        ) from None
    return stamp.replace(tzinfo=UTC) if stamp.tzinfo is None else stamp.astimezone(UTC)


def resolve_source(flag_value: str | None, config_value: str | None = None) -> str:
    """--data, else the config's market_data, else GO_TRADER_MARKET_DATA, else exchange."""
    if flag_value:
        return parse_source(flag_value, what="--data")
    if config_value:
        return parse_source(config_value, what="market_data")
    return market.source_from_env()


class Candles:
    """A frame with warm-up bars, and the first bar that may trade."""

    def __init__(self, df: pd.DataFrame, since: pd.Timestamp) -> None:
        self.df = df
        self.since = since

    @property
    def traded(self) -> pd.DataFrame:
        return self.df.loc[self.df.index >= self.since]


def load_candles(
    symbol: str,
    timeframe: str,
    since: datetime,
    until: datetime | None = None,
    *,
    source: str,
    platform: str = "binanceus",
    instrument: str = "spot",
    warmup: int = DEFAULT_WARMUP,
) -> Candles:
    """Closed bars from ``warmup`` bars before ``since`` to ``until`` (default: now).

    Raises ValueError for an empty or oversized range, MarketDataError when the source cannot
    deliver or delivers nothing inside the range.
    """
    tf_s = timeframe_seconds(timeframe)
    end = until or now_utc()
    last_open = last_closed_open(end.timestamp(), tf_s)
    first_open = math.ceil(since.timestamp() / tf_s) * tf_s
    if first_open > last_open:
        raise RangeError(
            f"--since {since:%Y-%m-%dT%H:%M:%SZ} is not before the last {timeframe} bar closed by "
            f"{end:%Y-%m-%dT%H:%M:%SZ}"
        )
    limit = (last_open - first_open) // tf_s + 1 + max(int(warmup), 0)
    if limit > MAX_BARS:
        raise RangeError(
            f"--since asks for {limit} {timeframe} bars (limit {MAX_BARS}); use a later --since "
            "or a longer --timeframe"
        )
    venue = mark_venue(platform, "perps" if instrument == "perps" else "spot")
    df = market.fetch_ohlcv(symbol, timeframe, limit, source=source, venue=venue, now=end)
    since_ts = pd.Timestamp(first_open, unit="s", tz="UTC")
    if df.empty or df.index[-1] < since_ts:
        raise market.MarketDataError(
            source.split(":")[0], f"no {symbol} {timeframe} candles on or after {since_ts}"
        )
    return Candles(df, since_ts)
