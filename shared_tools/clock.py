"""The one clock of the bot: cycle times, marks, funding and candles all read it.

Aware UTC, always. ``GO_TRADER_NOW`` (ISO-8601 or epoch seconds) pins it, so offline
simulations, replays and tests move the book, the schedule and the market on the same time.
Wall time (``time.time``/``time.monotonic``) is only for measuring durations.
Standard library only: the supervisor imports it.
"""

from __future__ import annotations

import math
import os
import re
from datetime import UTC, datetime

__all__ = ["ENV_NOW", "as_utc", "now_epoch", "now_utc", "parse_now"]

ENV_NOW = "GO_TRADER_NOW"
_NUMBER = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$")


def parse_now(raw: str) -> datetime:
    """Parse a GO_TRADER_NOW value: ISO-8601 (naive means UTC) or epoch seconds."""
    text = raw.strip()
    try:
        if _NUMBER.match(text):
            value = float(text)
            if not math.isfinite(value):
                raise ValueError(text)
            return datetime.fromtimestamp(value, tz=UTC)
        parsed = datetime.fromisoformat(text)
    except (ValueError, OverflowError, OSError):
        raise ValueError(
            f"{ENV_NOW}={raw!r} is neither ISO-8601 (e.g. 2025-01-01T00:00:00Z) nor epoch seconds"
        ) from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def now_utc() -> datetime:
    """The clock every source agrees on; GO_TRADER_NOW pins it for tests, demos and replays."""
    raw = os.environ.get(ENV_NOW, "")
    if raw.strip():
        return parse_now(raw)
    return datetime.now(UTC)


def as_utc(now: datetime | None) -> datetime:
    """Resolve an optional caller clock; naive datetimes are taken to be UTC."""
    if now is None:
        return now_utc()
    if not isinstance(now, datetime):
        raise TypeError(f"now must be a datetime, not {type(now).__name__}")
    if now.tzinfo is None:
        return now.replace(tzinfo=UTC)
    return now.astimezone(UTC)


def now_epoch() -> float:
    """:func:`now_utc` as epoch seconds."""
    return now_utc().timestamp()
