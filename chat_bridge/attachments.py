"""A long job's result with a file (``/backtest``): Discord's follow-up webhook with an
attachment (multipart: ``payload_json`` + ``files[0]``), Telegram's ``sendDocument``.

The transports call these after sending the command's first answer ("started"); Discord from
its interaction worker, Telegram in a thread of its own (its poll loop must not wait 5 min).
A multipart body does not fit the JSON outbox, so the file is sent here with a few retries on
an outage (connection error, 429, 5xx); a 429 waits the chat's ``retry_after`` on the
transport's shared limits (chat_bridge/ratelimit.py; a global one holds every sender); when it
cannot be delivered, the summary still goes through the outbox, saying the file was lost.
"""

from __future__ import annotations

import json
import threading
import time
from typing import TYPE_CHECKING, Any

import requests

from chat_bridge.backtest_run import FILE_NAME, Outcome
from chat_bridge.ratelimit import Limits
from chat_bridge.render import cut

if TYPE_CHECKING:
    from chat_bridge.core import Answer
    from chat_bridge.discord_gw import Discord
    from chat_bridge.telegram import Telegram

TRIES = 4
LIMIT_WAIT_MAX_S = 30.0  # a longer 429 wait: the summary goes through the outbox instead
EPHEMERAL = 64
CAPTION_MAX = 1024  # Telegram's caption limit
LOST = " (the report file could not be delivered)"


def _post(
    http: requests.Session, url: str, backoff_s: float, limits: Limits, route: str, **kw: Any
) -> bool:
    """One multipart POST, retried on an outage; True when the chat took it."""
    for n in range(TRIES):
        wait = limits.delay(route)
        if wait > LIMIT_WAIT_MAX_S:
            return False
        if wait > 0:
            time.sleep(wait)
        try:
            r = http.post(url, timeout=60, **kw)
        except requests.RequestException:
            r = None
        if r is not None and r.status_code < 400:
            return True
        if r is not None and r.status_code == 429:
            limits.hit(route, r)  # the next try waits what the chat asked
            continue
        if r is not None and r.status_code < 500:
            return False  # refused for good (too large, bad token): no retry
        time.sleep(min(30.0, backoff_s * 2**n))
    return False


def _run(answer: Answer) -> Outcome:
    assert answer.later is not None
    try:
        return answer.later()
    except Exception as exc:  # a job's bug is one line, never a dead worker
        return Outcome(f"The job failed: {type(exc).__name__}: {exc}", "")


def discord_later(dc: Discord, d: dict[str, Any], answer: Answer) -> None:
    """Run the job; its summary and file as a follow-up of the interaction."""
    out = _run(answer)
    flags = EPHEMERAL if answer.ephemeral else 0
    hook = f"/webhooks/{dc.app_id}/{d['token']}"
    if out.text:
        payload = {
            "content": cut(out.summary),
            "flags": flags,
            "attachments": [{"id": 0, "filename": FILE_NAME}],
        }
        files = {
            "payload_json": (None, json.dumps(payload), "application/json"),
            "files[0]": (FILE_NAME, out.text.encode("utf-8"), "text/plain"),
        }
        if _post(dc.http, dc.api + hook, dc.backoff_s, dc.limits, f"POST {hook}", files=files):
            return
        out = Outcome(out.summary + LOST, "")
    body = {"content": cut(out.summary), "flags": flags}
    dc.outbox.put({"method": "POST", "path": hook, "body": body})


def telegram_later(tg: Telegram, chat_id: Any, answer: Answer) -> threading.Thread:
    """Run the job in its own thread; its summary as the caption of ``backtest.txt``."""

    def go() -> None:
        out = _run(answer)
        if out.text:
            files = {"document": (FILE_NAME, out.text.encode("utf-8"), "text/plain")}
            data = {"chat_id": str(chat_id), "caption": out.summary[:CAPTION_MAX]}
            url = f"{tg.root}/sendDocument"
            route = f"chat:{chat_id}"
            if _post(tg.http, url, tg.backoff_s, tg.limits, route, data=data, files=files):
                return
            out = Outcome(out.summary + LOST, "")
        tg.outbox.put({"method": "sendMessage", "body": {"chat_id": chat_id, "text": out.summary}})

    t = threading.Thread(target=go, name="telegram-job", daemon=True)
    t.start()
    return t
