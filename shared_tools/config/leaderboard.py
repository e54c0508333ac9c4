"""The leaderboard keys (upstream B.4): ``leaderboard_post_time``, ``leaderboard_summaries``,
``discord.leaderboard_top_n`` and ``discord.leaderboard_channel``.

A value of the wrong shape is one fatal line naming the key (exit 78), as upstream rejects a bad
``HH:MM`` or a duplicated summary.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from shared_tools.config.checks import ID_PATTERN, is_int
from shared_tools.text import show

_HHMM = re.compile(r"([01]\d|2[0-3]):([0-5]\d)")
_DURATION = re.compile(r"(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?")
DEFAULT_TOP_N = 5
MIN_FREQUENCY_S = 60.0


@dataclass(frozen=True)
class BoardSummary:
    """One ``leaderboard_summaries`` entry: a platform's (and ticker's) top N to one channel."""

    platform: str
    ticker: str
    top_n: int
    channel: str
    frequency_s: float  # 0: only on demand (go-trader summary <channel>)

    @property
    def key(self) -> str:
        return f"{self.platform}:{self.ticker}:{self.channel}"


@dataclass(frozen=True)
class BoardSettings:
    post_time: str = ""  # HH:MM UTC of the daily top/bottom post ("" = none)
    top_n: int = DEFAULT_TOP_N
    channel: str = ""  # discord channel id of the daily post ("" = every summary channel)
    summaries: tuple[BoardSummary, ...] = ()


def _channel(value: Any) -> str | None:
    if is_int(value) and not isinstance(value, bool):
        value = str(value)
    if isinstance(value, str) and value and ID_PATTERN.fullmatch(value.lstrip("-")):
        return value
    return None


def _seconds(value: Any) -> float | None:
    m = _DURATION.fullmatch(value.strip().lower()) if isinstance(value, str) else None
    if m is None or not value.strip():
        return None
    h, mins, s = (int(g or 0) for g in m.groups())
    return float(h * 3600 + mins * 60 + s)


def _summary(n: int, raw: Any, where: str, errors: list[str]) -> BoardSummary | None:
    here = f"{where}: leaderboard_summaries[{n}]"
    if not isinstance(raw, dict):
        errors.append(f"{here} must be an object, got {show(raw)}")
        return None
    platform, ticker = raw.get("platform"), raw.get("ticker", "")
    if not isinstance(platform, str) or not platform:
        errors.append(f"{here}.platform is required (a platform name such as hyperliquid)")
        return None
    if not isinstance(ticker, str):
        errors.append(f"{here}.ticker must be a string like BTC, got {show(ticker)}")
        return None
    channel = _channel(raw.get("channel"))
    if channel is None:
        errors.append(
            f"{here}.channel is required (a channel/chat id), got {show(raw.get('channel'))}"
        )
        return None
    top_n = raw.get("top_n", DEFAULT_TOP_N)
    if not is_int(top_n) or isinstance(top_n, bool) or not 0 <= top_n <= 200:
        errors.append(f"{here}.top_n must be an integer 0..200, got {show(top_n)}")
        return None
    freq_raw = raw.get("frequency", "")
    freq = 0.0 if freq_raw in ("", None) else _seconds(freq_raw)
    if freq is None or (freq and freq < MIN_FREQUENCY_S):
        errors.append(
            f"{here}.frequency must be a duration of at least 1m like 4h, got {show(freq_raw)}"
        )
        return None
    return BoardSummary(
        platform.lower(), ticker.upper(), int(top_n) or DEFAULT_TOP_N, channel, freq
    )


def board_settings(raw: dict[str, Any], where: str, errors: list[str]) -> BoardSettings:
    """The checked leaderboard keys of a config document."""
    post_time = raw.get("leaderboard_post_time", "") or ""
    if not isinstance(post_time, str) or (post_time and not _HHMM.fullmatch(post_time)):
        errors.append(
            f"{where}: leaderboard_post_time must be HH:MM in UTC like 11:00, got {show(post_time)}"
        )
        post_time = ""
    section = raw.get("discord")
    discord: dict[str, Any] = section if isinstance(section, dict) else {}
    top_n = discord.get("leaderboard_top_n", DEFAULT_TOP_N)
    if not is_int(top_n) or isinstance(top_n, bool) or not 1 <= top_n <= 200:
        errors.append(
            f"{where}: discord.leaderboard_top_n must be an integer 1..200, got {show(top_n)}"
        )
        top_n = DEFAULT_TOP_N
    channel = ""
    if discord.get("leaderboard_channel") not in (None, ""):
        channel = _channel(discord["leaderboard_channel"]) or ""
        if not channel:
            errors.append(
                f"{where}: discord.leaderboard_channel must be a channel id, "
                f"got {show(discord['leaderboard_channel'])}"
            )
    summaries: list[BoardSummary] = []
    entries = raw.get("leaderboard_summaries")
    if entries is not None and not isinstance(entries, list):
        errors.append(f"{where}: leaderboard_summaries must be a list, got {show(entries)}")
        entries = []
    seen: set[str] = set()
    for n, entry in enumerate(entries or []):
        s = _summary(n, entry, where, errors)
        if s is None:
            continue
        if s.key in seen:
            errors.append(f"{where}: leaderboard_summaries[{n}] repeats {s.key}; remove one")
            continue
        seen.add(s.key)
        summaries.append(s)
    return BoardSettings(post_time, int(top_n), channel, tuple(summaries))
