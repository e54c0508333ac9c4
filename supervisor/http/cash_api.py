"""``clear-cash-reconcile`` from chat, confirmed (the chat bridge's /clear-cash-reconcile).

- ``POST /api/confirm {"action": "clear-cash-reconcile", "strategy_id": SID, "params": {}}``:
  a nonce when ``SID``'s live spot book holds the cash latch (404 unknown strategy, 409 no
  latch); the description says the cash stays as it is (upstream).
- ``POST /api/strategies/SID/clear-cash-reconcile {"nonce", "params": {}}``: the same request
  as ``go-trader clear-cash-reconcile SID`` makes while the daemon runs (a line in the request
  file beside the DB, supervisor/ops/cash_reconcile.py), which the live desk applies at its
  next cycle. One implementation: the CLI's request file and its ``apply_requests``.

Wired by one line in supervisor/http/post.py (behind the same guard as every POST).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import unquote

from supervisor.ops.cash_reconcile import KEY, request_path

ACTION = "clear-cash-reconcile"


def claims(parts: list[str], body: dict) -> bool:
    """Whether this POST (its path after ``/api/``) is one of this module's two."""
    if parts == ["confirm"]:
        return body.get("action") == ACTION
    return len(parts) == 3 and parts[0] == "strategies" and parts[2] == ACTION


def _latched(sup: Any, sid: str) -> bool:
    with sup.book_lock:
        return sid in (sup.app.extra.get(KEY) or {})


def post(actions: Any, parts: list[str], body: dict) -> tuple[int, dict]:
    """The confirm (a nonce) or the confirmed clear (the request file)."""
    sup = actions.sup
    confirm = parts == ["confirm"]
    sid = body.get("strategy_id") if confirm else unquote(parts[1])
    if not isinstance(sid, str) or all(s.id != sid for s in sup.config.strategies):
        return 404, {"ok": False, "error": f"unknown strategy {sid!r}"}
    params = body.get("params") or {}
    if params != {}:
        return 400, {"ok": False, "error": f"{ACTION} takes no params"}
    if not confirm and not actions.nonces.take(body.get("nonce"), ACTION, sid, {}):
        return 403, {"ok": False, "error": "confirmation missing, used or expired"}
    if not _latched(sup, sid):
        return 409, {"ok": False, "error": f"{sid} has no cash reconcile latch; nothing to clear"}
    if confirm:
        nonce, ttl = actions.nonces.issue(ACTION, sid, {})
        return 200, {
            "nonce": nonce,
            "expires_in_seconds": ttl,
            "confirm_phrase": sid,
            "description": f"clear the cash reconcile latch of {sid} (its cash stays as it is)",
        }
    with request_path(sup.config.db_file).open("a", encoding="utf-8") as f:
        f.write(sid + "\n")
    message = f"{sid}: latch clear requested; the daemon applies it at its next cycle"
    return 200, {"ok": True, "message": message}
