"""CME Globex, the exchange behind TopStep's and IBKR's futures: its session hours.

Exchange hours rather than one broker's, so both venue packages refer here. Moved from
``shared_tools/market/sessions.py``; the contract table stays in the book
(:data:`shared_tools.book.venues.CONTRACT_SPECS`). Standard library only.

CME Globex trades from Sunday 17:00 to Friday 16:00 America/Chicago, with a
daily maintenance halt from 16:00 to 17:00 Monday to Thursday. A check outside those hours would
decide on a stale bar, so the futures check holds instead. Exchange holidays are not modelled: on
a holiday the check evaluates the last closed bar as on any weekday.
"""

from __future__ import annotations

from datetime import UTC, datetime, time
from zoneinfo import ZoneInfo

__all__ = ["CME_TZ", "cme_globex_open"]

CME_TZ = ZoneInfo("America/Chicago")
_HALT_START = time(16, 0)
_HALT_END = time(17, 0)
_FRIDAY, _SATURDAY, _SUNDAY = 4, 5, 6


def cme_globex_open(now: datetime) -> bool:
    """True while CME Globex trades at ``now`` (an aware datetime; naive counts as UTC)."""
    if now.tzinfo is None:
        now = now.replace(tzinfo=UTC)
    local = now.astimezone(CME_TZ)
    day, clock = local.weekday(), local.time()
    if day == _SATURDAY:
        return False
    if day == _SUNDAY:
        return clock >= _HALT_END
    if day == _FRIDAY:
        return clock < _HALT_START
    return not (_HALT_START <= clock < _HALT_END)  # Monday-Thursday: the daily halt
