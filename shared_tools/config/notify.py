"""The ``discord``, ``telegram`` and ``summary_frequency`` sections (upstream §3).

Tokens are never config: they come from ``DISCORD_BOT_TOKEN`` / ``TELEGRAM_BOT_TOKEN`` only, so
a token key in the file gets a warning (without its value) and is ignored. Unknown sub-keys
warn; a value of the wrong type is one fatal line naming the key.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from typing import Any

from shared_tools.config import schema
from shared_tools.config.checks import ID_PATTERN, is_int, show_key, unbuilt_key
from shared_tools.config.leaderboard import BoardSettings, board_settings
from shared_tools.text import show
from shared_tools.urls import insecure_base

__all__ = [
    "ChatSettings",
    "NotifySettings",
    "frequency_seconds",
    "notify_settings",
]

TRANSPORTS = ("discord", "telegram")
TOKEN_ENV = {"discord": "DISCORD_BOT_TOKEN", "telegram": "TELEGRAM_BOT_TOKEN"}
API_BASE_ENV = ("GO_TRADER_DISCORD_API", "GO_TRADER_TELEGRAM_API")  # overrides, for test servers
_TOKEN_KEYS = {"discord": "token", "telegram": "bot_token"}
_OWNER_KEYS = {"discord": "owner_id", "telegram": "owner_chat_id"}
# Upstream keys this build reads nothing from (leaderboards, slash-command replies, reports).
_IGNORED = {t: set(schema.names(t, "not-yet", "no-effect")) for t in TRANSPORTS}
_MAPS = ("channels", "trade_alert_channels", "dm_channels")
_EVERY = ("every", "per_check", "always")
_DURATION = re.compile(r"(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?")
MAX_ID_CHARS = 64
REPO_NAME = re.compile(r"[A-Za-z0-9_.-]{1,100}/[A-Za-z0-9_.-]{1,100}")
AUTO_UPDATE = ("off", "daily", "heartbeat")


@dataclass(frozen=True)
class ChatSettings:
    """One chat platform: where summaries, trade alerts and DMs go (ids as strings)."""

    enabled: bool = False
    owner: str = ""  # discord user id / telegram chat id of the owner ("" = none)
    channels: dict[str, str] = field(default_factory=dict)
    trade_alert_channels: dict[str, str] = field(default_factory=dict)
    dm_channels: dict[str, str] = field(default_factory=dict)  # key -> user/chat id, or "owner"
    # the chat bridge's (chat_bridge/core.py Access): Discord only
    ephemeral_replies: bool = True
    public_commands: bool = False
    allowed_channels: tuple[str, ...] = ()
    # /report-an-issue (chat_bridge/github.py): Discord only
    report_repo: str = ""
    report_github_token: str = ""


@dataclass(frozen=True)
class NotifySettings:
    discord: ChatSettings = field(default_factory=ChatSettings)
    telegram: ChatSettings = field(default_factory=ChatSettings)
    summary_frequency: dict[str, str] = field(default_factory=dict)  # channel key -> value
    reset_dm_window_s: float = (
        6 * 3600.0
    )  # kill_switch_reset_dm_timeout: how long a DM "reset" counts
    board: BoardSettings = field(default_factory=BoardSettings)  # the leaderboard keys
    auto_update: str = (
        "off"  # off | daily | heartbeat: the update DM (supervisor/notify/updater.py)
    )

    def chat(self, transport: str) -> ChatSettings:
        return self.discord if transport == "discord" else self.telegram


def frequency_seconds(value: str) -> float | None:
    """Seconds between summaries for a ``summary_frequency`` value: 0 = every cycle, None =
    not a valid value (the caller uses the default)."""
    text = value.strip().lower()
    if text in _EVERY:
        return 0.0
    if text == "hourly":
        return 3600.0
    if text == "daily":
        return 86400.0
    m = _DURATION.fullmatch(text)
    if not text or m is None:
        return None
    h, mins, s = (int(g or 0) for g in m.groups())
    total = h * 3600 + mins * 60 + s
    return float(total) if total > 0 else None


def _id(value: Any) -> str | None:
    """A channel/user/chat id as text: a string or integer of safe characters."""
    if is_int(value) and not isinstance(value, bool):
        value = str(value)
    ok = isinstance(value, str) and 0 < len(value) <= MAX_ID_CHARS
    return value if ok and ID_PATTERN.fullmatch(value.lstrip("-")) else None


def _id_map(section: dict, name: str, where: str, errors: list[str], dm: bool) -> dict[str, str]:
    value = section.get(name)
    if value is None:
        return {}
    if not isinstance(value, dict):
        errors.append(f"{where}.{name} must be an object of key -> id, got {show(value)}")
        return {}
    out: dict[str, str] = {}
    for key, raw in value.items():
        if dm and raw is True:
            out[key] = "owner"
            continue
        if dm and raw is False:
            continue
        ident = _id(raw)
        if ident is None:
            what = "true, false or a user/chat id" if dm else "a channel/chat id"
            errors.append(f"{where}.{name}.{show_key(key)} must be {what}, got {show(raw)}")
            continue
        out[key] = ident
    return out


def _chat(
    transport: str, raw: Any, label: str, errors: list[str], warnings: list[str]
) -> ChatSettings:
    where = f"{label}: {transport}"
    if raw is None:
        return ChatSettings()
    if not isinstance(raw, dict):
        errors.append(f"{where} must be an object, got {show(raw)}")
        return ChatSettings()
    enabled = raw.get("enabled", False)
    if not isinstance(enabled, bool):
        errors.append(f"{where}.enabled must be true or false, got {show(enabled)}")
        enabled = False
    token_key, owner_key = _TOKEN_KEYS[transport], _OWNER_KEYS[transport]
    if token_key in raw:  # never echo the value
        warnings.append(
            f"{where}.{token_key} in the config file is ignored; move it to the "
            f"{TOKEN_ENV[transport]} environment variable and delete it from the file"
        )
    owner = ""
    if raw.get(owner_key) not in (None, ""):
        owner = _id(raw[owner_key]) or ""
        if not owner:
            errors.append(f"{where}.{owner_key} must be a user/chat id, got {show(raw[owner_key])}")
    if transport == "discord" and os.environ.get("DISCORD_OWNER_ID"):
        owner = _id(os.environ["DISCORD_OWNER_ID"]) or owner
    maps = {name: _id_map(raw, name, where, errors, name == "dm_channels") for name in _MAPS}
    known = schema.names(transport, "built", "env-only")
    for key in sorted(set(raw) - known):
        if key in _IGNORED[transport]:
            unbuilt_key(transport, where, key, raw[key], errors, warnings)
        else:
            warnings.append(f"{where}.{show_key(key)} is not a known key; ignored")
    if enabled and not os.environ.get(TOKEN_ENV[transport]):
        warnings.append(
            f"{where} is enabled but {TOKEN_ENV[transport]} is not set; messages will queue "
            "in the outbox until it is"
        )
    flags = {}
    for name, default in (("ephemeral_replies", True), ("public_commands", False)):
        value = raw.get(name, default)
        if not isinstance(value, bool):
            errors.append(f"{where}.{name} must be true or false, got {show(value)}")
            value = default
        flags[name] = value
    allowed: list[str] = []
    listed = raw.get("allowed_channels") or []
    if not isinstance(listed, list) or any(_id(v) is None for v in listed):
        errors.append(f"{where}.allowed_channels must be a list of channel ids, got {show(listed)}")
    else:
        allowed = [str(_id(v)) for v in listed]
    return ChatSettings(
        enabled=enabled,
        owner=owner,
        **maps,
        **flags,
        allowed_channels=tuple(allowed),
        **_report(raw, where, errors),
    )


def _report(raw: dict, where: str, errors: list[str]) -> dict[str, str]:
    """``report_repo`` (owner/name) and ``report_github_token``, as text ("" = unset)."""
    out = {}
    for name in ("report_repo", "report_github_token"):
        value = raw.get(name)
        if value in (None, ""):
            continue
        if not isinstance(value, str):
            errors.append(f"{where}.{name} must be a string, got {show(value)}")
        elif name == "report_repo" and not REPO_NAME.fullmatch(value):
            errors.append(f"{where}.{name} must be owner/name, got {show(value)}")
        else:
            out[name] = value
    return out


def notify_settings(
    raw: dict, label: str, errors: list[str], warnings: list[str]
) -> NotifySettings:
    """The checked chat sections of a config document (absent sections: notifications off)."""
    chats = {t: _chat(t, raw.get(t), label, errors, warnings) for t in TRANSPORTS}
    for name in API_BASE_ENV:  # a bot token never travels over plain http to a remote host
        why = insecure_base(name, os.environ[name]) if os.environ.get(name) else ""
        if why:
            errors.append(why)
    freq: dict[str, str] = {}
    section = raw.get("summary_frequency")
    if section is not None and not isinstance(section, dict):
        errors.append(f"{label}: summary_frequency must be an object, got {show(section)}")
    elif section:
        for key, value in section.items():
            if not isinstance(value, str):
                errors.append(
                    f"{label}: summary_frequency.{show_key(key)} must be a string like "
                    f"hourly, daily, every or 30m, got {show(value)}"
                )
            elif value and frequency_seconds(value) is None:
                warnings.append(
                    f"{label}: summary_frequency.{show_key(key)} {show(value)} is not hourly, "
                    "daily, every, per_check, always or a duration like 30m; default used"
                )
            else:
                freq[key] = value
    window = 6 * 3600.0
    timeout = raw.get("kill_switch_reset_dm_timeout")
    if timeout not in (None, ""):
        seconds = frequency_seconds(timeout) if isinstance(timeout, str) else None
        if not seconds:
            errors.append(
                f"{label}: kill_switch_reset_dm_timeout must be a duration like 6h or 90m, "
                f"got {show(timeout)}"
            )
        else:
            window = seconds
    board = board_settings(raw, label, errors)
    auto = raw.get("auto_update") or "off"
    if auto not in AUTO_UPDATE:
        errors.append(f"{label}: auto_update must be off, daily or heartbeat, got {show(auto)}")
        auto = "off"
    return NotifySettings(
        summary_frequency=freq, reset_dm_window_s=window, board=board, auto_update=auto, **chats
    )
