"""The messages ``go-trader notify-test`` sends: one per configured target and owner DM."""

from __future__ import annotations

import os

from shared_tools.config.model import Config
from shared_tools.config.notify import TOKEN_ENV, TRANSPORTS
from supervisor.notify.render import render
from supervisor.notify.routing import OWNER, all_targets
from supervisor.state.models import Message, utc_iso


def selftest_messages(config: Config) -> tuple[list[Message], list[str]]:
    """(messages to send, one line per enabled platform that cannot send at all)."""
    messages: list[Message] = []
    problems: list[str] = []
    for transport in TRANSPORTS:
        chat = config.notify.chat(transport)
        if not chat.enabled:
            continue
        if not os.environ.get(TOKEN_ENV[transport]):
            problems.append(
                f"{transport}: error: {TOKEN_ENV[transport]} is not set; export the bot token"
            )
            continue
        for target in all_targets(chat):
            where = "owner DM" if target == OWNER else f"channel {target}"
            body = render("test", transport, where=where)
            messages.append(Message(transport, target, "test", body, created_at=utc_iso()))
    return messages, problems
