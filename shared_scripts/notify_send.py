"""Post chat messages to Discord and Telegram for the supervisor's outbox sender.

    echo '{"timeout_s": 10, "messages": [...]}' | notify_send.py   ->  [{"id": 1, "ok": true}, ...]

Each message is ``{id, transport, kind, to, body[, nonce]}``: ``kind`` is ``channel`` (Discord channel
id / Telegram chat id) or ``user`` (a Discord user id: the DM channel is opened first). The
supervisor keeps OpenSSL out of its own memory, so HTTPS lives here, in a short-lived process.

Tokens come from the environment only (DISCORD_BOT_TOKEN, TELEGRAM_BOT_TOKEN); the API bases
from GO_TRADER_DISCORD_API / GO_TRADER_TELEGRAM_API (for a fake server in tests). Every error
text is scrubbed of both tokens before it is printed.

Order: messages to one destination are sent in the given order; after a failure the rest of
that destination's messages are skipped (``skipped: true``), so nothing overtakes a message
that is waiting for a retry. Discord messages carry their ``nonce`` (default: the outbox id)
with ``enforce_nonce`` so a resend of an already delivered message is not posted twice.

    echo '{"timeout_s": 10, "poll": [{"transport": "discord", "owner": "42", "since": 1.7e9}]}'
        | notify_send.py   ->  {"replies": [{"transport", "text", "at"}], "errors": [...]}

reads what the owner wrote to the bot since ``since`` (epoch seconds): the Discord DM channel's
recent messages, or Telegram's pending updates from the owner's chat. The supervisor looks for
a "reset" there while the kill switch is latched.
"""

from __future__ import annotations

import json
import os
import sys
from datetime import datetime

import requests

from shared_tools.urls import insecure_base

DISCORD_API = "https://discord.com/api/v10"
TELEGRAM_API = "https://api.telegram.org"
CONNECT_TIMEOUT_S = 5.0


class Poster:
    def __init__(self, timeout_s: float) -> None:
        self.discord_token = os.environ.get("DISCORD_BOT_TOKEN", "")
        self.telegram_token = os.environ.get("TELEGRAM_BOT_TOKEN", "")
        self.discord_api = os.environ.get("GO_TRADER_DISCORD_API") or DISCORD_API
        self.telegram_api = os.environ.get("GO_TRADER_TELEGRAM_API") or TELEGRAM_API
        self.timeout = (min(CONNECT_TIMEOUT_S, timeout_s), timeout_s)
        self.session = requests.Session()
        self.dm_channels: dict[str, str] = {}

    def scrub(self, text: str) -> str:
        for token in (self.discord_token, self.telegram_token):
            if token:
                text = text.replace(token, "<token>")
        return " ".join(text.split())[:300]

    def _post(self, url: str, payload: dict, headers: dict | None = None) -> requests.Response:
        return self.session.post(url, json=payload, headers=headers or {}, timeout=self.timeout)

    def discord(self, msg: dict) -> requests.Response:
        if not self.discord_token:
            raise MissingToken("DISCORD_BOT_TOKEN is not set")
        auth = {"Authorization": f"Bot {self.discord_token}"}
        channel = str(msg["to"])
        if msg.get("kind") == "user":
            if channel not in self.dm_channels:
                resp = self._post(
                    f"{self.discord_api}/users/@me/channels", {"recipient_id": channel}, auth
                )
                if resp.status_code >= 300:
                    return resp
                self.dm_channels[channel] = str(resp.json()["id"])
            channel = self.dm_channels[channel]
        nonce = str(msg.get("nonce") or msg["id"])
        payload = {"content": msg["body"], "nonce": nonce, "enforce_nonce": True}
        return self._post(f"{self.discord_api}/channels/{channel}/messages", payload, auth)

    def telegram(self, msg: dict) -> requests.Response:
        if not self.telegram_token:
            raise MissingToken("TELEGRAM_BOT_TOKEN is not set")
        url = f"{self.telegram_api}/bot{self.telegram_token}/sendMessage"
        return self._post(url, {"chat_id": msg["to"], "text": msg["body"]})

    def replies(self, transport: str, owner: str, since: float) -> list[dict]:
        """What ``owner`` wrote to the bot after ``since`` (oldest first)."""
        if transport == "discord":
            return self._discord_replies(owner, since)
        return self._telegram_replies(owner, since)

    def _discord_replies(self, owner: str, since: float) -> list[dict]:
        if not self.discord_token:
            raise MissingToken("DISCORD_BOT_TOKEN is not set")
        auth = {"Authorization": f"Bot {self.discord_token}"}
        resp = self._post(f"{self.discord_api}/users/@me/channels", {"recipient_id": owner}, auth)
        resp.raise_for_status()
        channel = str(resp.json()["id"])
        resp = self.session.get(
            f"{self.discord_api}/channels/{channel}/messages",
            params={"limit": 20},
            headers=auth,
            timeout=self.timeout,
        )
        resp.raise_for_status()
        out = []
        for m in resp.json():
            author = m.get("author") or {}
            at = _iso_epoch(str(m.get("timestamp", "")))
            if str(author.get("id")) == owner and not author.get("bot") and at > since:
                out.append({"transport": "discord", "text": str(m.get("content", "")), "at": at})
        return sorted(out, key=lambda r: r["at"])

    def _telegram_replies(self, owner: str, since: float) -> list[dict]:
        if not self.telegram_token:
            raise MissingToken("TELEGRAM_BOT_TOKEN is not set")
        url = f"{self.telegram_api}/bot{self.telegram_token}/getUpdates"
        resp = self._post(url, {"timeout": 0, "allowed_updates": ["message"]})
        resp.raise_for_status()
        out = []
        for update in resp.json().get("result", []):
            m = update.get("message") or {}
            who = {str((m.get("from") or {}).get("id")), str((m.get("chat") or {}).get("id"))}
            at = float(m.get("date") or 0)  # whole seconds: the latch's own second counts
            if owner in who and at >= int(since):
                out.append({"transport": "telegram", "text": str(m.get("text", "")), "at": at})
        return sorted(out, key=lambda r: r["at"])

    def send(self, msg: dict) -> dict:
        out = {"id": msg["id"], "ok": False, "status": 0, "retry_after": None, "error": ""}
        try:
            post = self.discord if msg["transport"] == "discord" else self.telegram
            resp = post(msg)
        except MissingToken as exc:
            out["error"] = str(exc)
            return out
        except (requests.RequestException, ValueError, KeyError, OSError) as exc:
            out["error"] = self.scrub(f"{type(exc).__name__}: {exc}")
            return out
        out["status"] = resp.status_code
        if resp.status_code < 300:
            out["ok"] = True
            return out
        out["retry_after"] = _retry_after(resp)
        out["error"] = self.scrub(f"HTTP {resp.status_code}: {resp.text[:200]}")
        return out


class MissingToken(Exception):
    pass


def _retry_after(resp: requests.Response) -> float | None:
    """Seconds to wait from a 429 (header, or the JSON body's retry_after / parameters)."""
    if resp.status_code != 429:
        return None
    try:
        return float(resp.headers.get("Retry-After", ""))
    except ValueError:
        pass
    try:
        body = resp.json()
        value = body.get("retry_after") or body.get("parameters", {}).get("retry_after")
        return float(value) if value is not None else None
    except (ValueError, AttributeError, TypeError):
        return None


def _iso_epoch(text: str) -> float:
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return 0.0


def poll(poster: Poster, asks: list) -> dict:
    replies, errors = [], []
    for ask in asks:
        try:
            replies += poster.replies(str(ask["transport"]), str(ask["owner"]), float(ask["since"]))
        except MissingToken as exc:
            errors.append(f"{ask.get('transport')}: {exc}")
        except (requests.RequestException, ValueError, KeyError, TypeError, OSError) as exc:
            errors.append(poster.scrub(f"{ask.get('transport')}: {type(exc).__name__}: {exc}"))
    return {"replies": replies, "errors": errors}


def insecure_api() -> str:
    """Why a configured API base may not carry the bot token ("" when every one may)."""
    for name in ("GO_TRADER_DISCORD_API", "GO_TRADER_TELEGRAM_API"):
        why = insecure_base(name, os.environ.get(name) or "https://default")
        if why:
            return why
    return ""


def main() -> int:
    refused = insecure_api()
    if refused:  # never send a token over plain http to a remote host
        print(json.dumps({"error": refused}))
        return 1
    try:
        request = json.loads(sys.stdin.read() or "{}")
        if "poll" in request:
            print(json.dumps(poll(Poster(float(request.get("timeout_s", 10.0))), request["poll"])))
            return 0
        messages = list(request.get("messages", []))
        timeout_s = float(request.get("timeout_s", 10.0))
    except (ValueError, TypeError, AttributeError) as exc:
        print(json.dumps({"error": f"bad request on stdin: {exc}"}))
        return 2
    poster = Poster(timeout_s)
    failed: set[tuple[str, str, str]] = set()
    results = []
    for msg in messages:
        dest = (str(msg.get("transport")), str(msg.get("kind")), str(msg.get("to")))
        if dest in failed:
            results.append({"id": msg.get("id"), "ok": False, "skipped": True})
            continue
        result = poster.send(msg)
        if not result["ok"]:
            failed.add(dest)
        results.append(result)
    print(json.dumps(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
