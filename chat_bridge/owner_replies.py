"""The owner's plain-text answers to the daemon's Telegram prompts, passed on by the bridge.

While the bridge runs it is the only reader of Telegram's updates (shared_tools/chat_owner.py),
so the daemon no longer sees the owner's "reset" (a latched kill switch) or "yes" (the
auto_update offer). The bridge passes them on with the daemon's own mechanisms:

- "reset" / "/reset", written after the latch and within ``kill_switch_reset_dm_timeout``:
  the same request file ``go-trader reset-kill-switch`` leaves; the next cycle applies it under
  the book lock (and ignores it if the switch is no longer latched);
- "yes": ``/api/confirm {"action": "update"}`` then ``/api/update`` with that nonce, the path
  the ``/update`` command's Confirm button takes; nothing on offer (409) is no answer.

Any other text is left alone, as the daemon's reader leaves it (an auto_update offer then runs
to its 30-minute timeout and says "Upgrade skipped.").
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from chat_bridge.daemon_api import DaemonAPI, DaemonDown

RESET_WORDS = {"reset", "/reset"}  # as supervisor/notify/replies.py
YES = "yes"  # only "yes", trimmed, any case (reference B.6)


def is_owner_word(text: str) -> bool:
    low = text.strip().lower()
    return low in RESET_WORDS or low == YES


class OwnerReplies:
    def __init__(self, api: DaemonAPI, reset_file: Path, window_s: float) -> None:
        self.api, self.reset_file, self.window_s = api, reset_file, window_s

    def handle(self, text: str, at: float, now: float) -> str | None:
        """The reply to the owner's ``text`` sent at epoch ``at`` (None: say nothing)."""
        try:
            if text.strip().lower() in RESET_WORDS:
                return self._reset(at, now)
            if text.strip().lower() == YES:
                return self._yes()
        except DaemonDown as exc:
            return f"Daemon unavailable: {exc}. Nothing was done."
        return None

    def _reset(self, at: float, now: float) -> str | None:
        code, doc = self.api.get("/status")
        risk = (doc.get("portfolio_risk") or {}) if code == 200 and isinstance(doc, dict) else {}
        if not risk.get("kill_switch"):
            return "The kill switch is not latched; nothing to reset."
        try:
            latched = datetime.fromisoformat(str(risk.get("kill_switch_at"))).timestamp()
        except ValueError:
            return None
        if at < int(latched):
            return None  # written before this latch: it cannot clear it
        if now - latched > self.window_s:
            return "Too late for a chat reset: run `go-trader reset-kill-switch` on the host."
        stamp = datetime.fromtimestamp(now, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        self.reset_file.write_text(f"{stamp}\nowner replied reset by telegram DM (chat bridge)\n")
        return "Kill-switch reset requested; the daemon applies it at its next cycle."

    def _yes(self) -> str | None:
        body = {"action": "update", "strategy_id": "", "params": {}}
        code, doc = self.api.post("/api/confirm", body)
        if code == 409:
            return None  # no update on offer: "yes" answers nothing
        if code != 200:
            return f"Refused: {doc.get('error', code)}"
        code, doc = self.api.post("/api/update", {"nonce": doc["nonce"]})
        if code != 200:
            return f"Refused: {doc.get('error', code)}"
        return str(doc.get("message") or "Starting upgrade.")
