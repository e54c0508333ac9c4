"""Which chat target a strategy's summary and trade alerts go to (upstream §3.2).

Targets are outbox ``target`` strings: a channel/chat id, ``owner`` for the owner's DM, or
``dm:<id>`` for a DM to another Discord user / Telegram chat. The sender turns them into API
calls (:func:`wire`).
"""

from __future__ import annotations

from dataclasses import dataclass

from shared_tools.config.notify import ChatSettings

OWNER = "owner"
DM_PREFIX = "dm:"


@dataclass(frozen=True)
class Who:
    """What routing needs to know of a strategy."""

    platform: str
    type: str
    paper: bool = True


def summary_key(chat: ChatSettings, who: Who) -> str | None:
    """The ``channels`` key a strategy's summary goes to: ``<platform>-paper`` (paper only),
    then the platform, then the type; None when the platform has no such channel."""
    keys = [f"{who.platform}-paper"] if who.paper else []
    for key in (*keys, who.platform, who.type):
        if key in chat.channels:
            return key
    return None


def trade_target(chat: ChatSettings, who: Who) -> str | None:
    """Where a trade alert goes: a configured DM first, else the trade-alert channel override,
    else the summary channel (None: nowhere)."""
    dm = chat.dm_channels.get(f"{who.platform}-paper" if who.paper else who.platform)
    if dm == OWNER:
        return OWNER if chat.owner else None
    if dm:
        return DM_PREFIX + dm
    mode = f"{who.platform}-{'paper' if who.paper else 'live'}"
    for key in (mode, who.platform, who.type):
        if key in chat.trade_alert_channels:
            return chat.trade_alert_channels[key]
    key = summary_key(chat, who)
    return chat.channels[key] if key else None


def all_targets(chat: ChatSettings) -> list[str]:
    """Every distinct configured channel (summary and trade-alert), then the owner's DM."""
    seen: list[str] = []
    for ident in (*chat.channels.values(), *chat.trade_alert_channels.values()):
        if ident not in seen:
            seen.append(ident)
    if chat.owner:
        seen.append(OWNER)
    return seen


def wire(transport: str, target: str, chat: ChatSettings) -> tuple[str, str] | None:
    """(kind, id) for notify_send.py: ``channel`` or ``user``; None if it cannot be resolved."""
    if target == OWNER:
        if not chat.owner:
            return None
        return ("user" if transport == "discord" else "channel", chat.owner)
    if target.startswith(DM_PREFIX):
        ident = target[len(DM_PREFIX) :]
        return ("user" if transport == "discord" else "channel", ident)
    return ("channel", target)
