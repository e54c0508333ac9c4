"""``GET /api/config/notifications`` (reference A.5 toggles): the effective notification settings.

Upstream answers ``{notify_ratchet_triggers, effective}`` for the global toggle (``null`` =
inherit, which is on). Ours keeps both keys and adds what an operator checks before trusting
alerts, per strategy and per chat platform: the strategy's own toggle and its effective value
(its own, else the global, else on), where its summary and trade alerts go (the routing the
sender uses, supervisor/notify/routing.py), and each platform's channels and cadence.

Never a secret: bot tokens live only in the environment (shown as ``token_set``), the owner's
and DM recipients' ids are shown as ``owner``/``dm`` only, and the answer is built from the
checked settings, never from the raw file (which may still hold a token key the loader warned
about). :func:`redact` then masks any value under a secret-sounding key, as a last guard.

This build sends no ratchet alerts (the key has no effect: docs/config.md), so ``built`` is
false; the values are shown as the file sets them, for the day they do.
"""

from __future__ import annotations

import os
import re
from typing import Any

from shared_tools.config.model import Config
from shared_tools.config.notify import TOKEN_ENV, TRANSPORTS, ChatSettings
from supervisor.notify.messages import who_of
from supervisor.notify.routing import DM_PREFIX, OWNER, summary_key, trade_target

REDACTED = "[redacted]"
SECRET_KEY = re.compile(r"token|secret|webhook|password|passphrase|api_?key|private_?key", re.I)


def _flag(value: object) -> bool | None:
    """A toggle as the file sets it: true, false, or None (absent or not a bool: inherit)."""
    return value if isinstance(value, bool) else None


def _target(target: str | None) -> str | None:
    """A routing target without personal ids: ``owner``, ``dm`` or the channel id."""
    if target is None or target == OWNER:
        return target
    return "dm" if target.startswith(DM_PREFIX) else target


def chat_view(transport: str, chat: ChatSettings, frequency: dict[str, str]) -> dict:
    """One chat platform's settings: channel ids, cadence, never the token or personal ids."""
    return {
        "enabled": chat.enabled,
        "token_set": bool(os.environ.get(TOKEN_ENV[transport])),
        "owner_set": bool(chat.owner),
        "channels": dict(chat.channels),
        "trade_alert_channels": dict(chat.trade_alert_channels),
        "dm_channels": {k: OWNER if v == OWNER else "dm" for k, v in chat.dm_channels.items()},
        "summary_frequency": {k: v for k, v in frequency.items() if k in chat.channels},
    }


def notifications_doc(config: Config, app: Any) -> dict:
    """The whole answer (pure: the config and the book, for routing a removed strategy)."""
    top = _flag(config.raw.get("notify_ratchet_triggers"))
    effective = top is not False
    rows = config.raw.get("strategies")
    raw_rows = (
        {e.get("id"): e for e in rows if isinstance(e, dict)} if isinstance(rows, list) else {}
    )
    chats = {t: config.notify.chat(t) for t in TRANSPORTS}
    strategies = []
    for sc in config.strategies:
        own = _flag(raw_rows.get(sc.id, {}).get("notify_ratchet_triggers"))
        who = who_of(config, app, sc.id)
        routes = {
            t: {"summary": summary_key(chat, who), "trade_alerts": _target(trade_target(chat, who))}
            for t, chat in chats.items()
            if chat.enabled
        }
        strategies.append(
            {
                "id": sc.id,
                "notify_ratchet_triggers": own,
                "effective": effective if own is None else own,
                "routes": routes,
            }
        )
    doc = {
        "notify_ratchet_triggers": top,
        "effective": effective,
        "built": False,
        "strategies": strategies,
        "channels": {
            t: chat_view(t, chat, config.notify.summary_frequency) for t, chat in chats.items()
        },
        "auto_update": config.notify.auto_update,
    }
    return redact(doc)


def redact(value: Any) -> Any:
    """A copy with every non-empty value under a secret-sounding key replaced (``token_set``,
    a bool, stays: it says whether, never what)."""
    if isinstance(value, dict):
        return {
            k: REDACTED
            if SECRET_KEY.search(str(k))
            and value[k] not in (None, "")
            and not isinstance(value[k], bool)
            else redact(value[k])
            for k in value
        }
    if isinstance(value, list):
        return [redact(v) for v in value]
    return value


def notifications(board: Any, _query: dict) -> tuple[int, dict]:
    """``GET /api/config/notifications``."""
    return 200, notifications_doc(board.sup.config, board.sup.app)
