"""The dashboard's POST actions (reference A.4, A.5), behind the guard of supervisor/http/routes.py.

- ``/api/strategies/{id}/config`` (tuner apply), ``…/pause``, ``…/notifications``: one config
  write path (supervisor/http/config_write.py): patch, validate with the startup loader, check
  with the SIGHUP reload's own refusals, write atomically, then ask the daemon's loop for the
  SIGHUP reload, which applies it before the next cycle.
- ``/api/confirm``: a nonce for one trade action (supervisor/http/nonce.py), or for a ``pause`` /
  ``resume`` (the chat bridge's confirmed toggle: a ``…/pause`` body carrying ``nonce`` must
  match it; the dashboard's toggle sends none and needs none).
- ``…/open|add|close|force-close|update-sl|cancel-sl`` with ``{nonce, params}``: the SAME cores
  as the CLI commands (supervisor/ops/manual*.py), which queue through ``manual_actions`` under
  the manual-action file lock and refuse while a row is queued; a per-strategy lock here makes a
  double click wait for nothing: the second request is refused (409) while the first runs.
- ``…/simulate``: live vs simulated markers (supervisor/http/simulate.py).
- ``/api/update {nonce}`` (nonce from ``/api/confirm {"action": "update"}``): the owner's "yes"
  to the update on offer (supervisor/notify/updater.py), from the chat bridge's /update.
- The structural actions ``/api/config/add-strategy``, ``…/remove-strategy|paper-to-live|
  apply-regime-gate`` (confirmed by nonce): supervisor/http/structural.py.
- ``/api/config/notifications {"notify_ratchet_triggers"}``: the top-level toggle (null deletes
  it), through the same write and reload as the per-strategy one.

A write the reload could not apply because the file already differs structurally from the
running config (a structural action written without a restart) is refused with that pending
change named and the advice to restart: nothing waits silently behind it.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable
from typing import Any
from urllib.parse import unquote

from shared_tools.config.model import Config
from shared_tools.text import one_line
from supervisor.http import config_write, tuner
from supervisor.http.nonce import Nonces
from supervisor.http.routes import NotReady
from supervisor.reload import capital_problems, flat_only_problems, structural_changes

# The rare actions' names, so their modules load on first use rather than at idle (a test pins
# them equal to cash_api.ACTION and tuning_apply.ACTION).
CASH_ACTION, TUNING_ACTION = "clear-cash-reconcile", "tuning-apply"
# structural.ACTIONS and structural.RESTART_HOW, likewise (supervisor/http/structural.py)
STRUCTURAL_ACTIONS = ("add-strategy", "remove-strategy", "paper-to-live", "apply-regime-gate")
RESTART_HOW = "restart go-trader to apply it (systemctl restart go-trader, or /restart from chat)"
PAUSE_ACTIONS = ("pause", "resume")  # confirmed toggles (the chat bridge: chat_bridge/core.py)
APPLIED = "Applied via SIGHUP hot-reload; effective next cycle."
# action -> (params it takes, of which text, the manual core's name)
TRADE_PARAMS: dict[str, tuple[frozenset[str], frozenset[str]]] = {
    "open": (
        frozenset({"side", "size", "notional", "margin", "atr", "sl_atr_mult", "sl_pct"}),
        frozenset({"side"}),
    ),
    "add": (frozenset({"size", "notional", "margin"}), frozenset()),
    "close": (frozenset({"qty"}), frozenset()),
    "force-close": (frozenset({"qty"}), frozenset()),
    "update-sl": (frozenset({"symbol", "trigger"}), frozenset({"symbol"})),
    "cancel-sl": (frozenset({"symbol"}), frozenset({"symbol"})),
}


class BadParams(ValueError):
    """A trade action's params are malformed (HTTP 400)."""


def trade_params(action: str, params: object) -> dict[str, Any]:
    """Checked params: known keys, numbers finite and >= 0, text where text goes."""
    if not isinstance(params, dict):
        raise BadParams('"params" must be a JSON object')
    known, text = TRADE_PARAMS[action]
    out: dict[str, Any] = {}
    for key, value in params.items():
        if key not in known:
            raise BadParams(f"{action}: unknown param {key!r} (takes {', '.join(sorted(known))})")
        if value is None or value == "":
            continue
        if key in text:
            if not isinstance(value, str) or len(value) > 40:
                raise BadParams(f"{action}: {key} must be short text")
        elif isinstance(value, bool) or not isinstance(value, int | float):
            raise BadParams(f"{action}: {key} must be a number")
        elif not (math.isfinite(value) and value >= 0):
            raise BadParams(f"{action}: {key} must be a finite number >= 0")
        out[key] = value
    if action == "open" and out.get("side") not in (None, "long", "short"):
        raise BadParams("open: side must be long or short")
    return out


def run_trade(config: Config, sid: str, action: str, p: dict, echo: Callable[[str], None]) -> None:
    """One trade action through the CLI's own core (never a second implementation)."""
    from supervisor.ops.manual import open_position
    from supervisor.ops.manual_close import cancel_stop, close_position, update_stop

    pos = {k: float(p[k]) if k in p and p[k] else None for k in ("size", "notional", "margin")}
    if action in ("open", "add"):
        stop = {}
        if p.get("sl_atr_mult"):
            stop["stop_loss_atr_mult"] = float(p["sl_atr_mult"])
        if p.get("sl_pct"):
            stop["stop_loss_pct"] = float(p["sl_pct"])
        open_position(
            config,
            sid,
            echo,
            add=action == "add",
            side=p.get("side"),
            atr=float(p["atr"]) if p.get("atr") else None,
            stop=stop,
            record_only=False,
            fill_price=None,
            dry_run=False,
            **pos,
        )
    elif action in ("close", "force-close"):
        qty = float(p["qty"]) if p.get("qty") else None
        close_position(config, sid, echo, qty=qty, dry_run=False, force=action == "force-close")
    elif action == "update-sl":
        trigger = float(p.get("trigger") or 0)
        update_stop(config, sid, echo, trigger=trigger, symbol=p.get("symbol"), dry_run=False)
    else:
        cancel_stop(config, sid, echo, symbol=p.get("symbol"), dry_run=False)


class Actions:
    """The POST side of the board, bound to the supervisor ``sup`` (see board.Supervisor)."""

    def __init__(self, sup: Any, board: Any) -> None:
        self.sup, self.board = sup, board
        self.nonces = Nonces()
        self._structural: Any = None  # supervisor/http/structural.py, made on first use
        self._locks: dict[str, threading.Lock] = {}
        self._locks_lock = threading.Lock()

    @property
    def structural(self) -> Any:
        """The structural actions, loaded on first use (rare: not in an idle daemon's memory)."""
        with self._locks_lock:
            if self._structural is None:
                from supervisor.http.structural import Structural

                self._structural = Structural(self.sup, self.nonces)
            return self._structural

    def post(self, path: str, body: dict) -> tuple[int, dict]:
        """Route one POST past the guard; unknown paths are 404."""
        if not self.sup.ready or self.sup.db is None:
            raise NotReady("starting")
        parts = path.split("/")[2:]
        if CASH_ACTION in (*parts[-1:], body.get("action")):
            from supervisor.http import cash_api  # rare: loaded on first use, not at idle

            if cash_api.claims(parts, body):  # /clear-cash-reconcile from chat (its own module)
                return cash_api.post(self, parts, body)
        if parts == ["confirm"]:
            return self.confirm(body)
        if parts == ["update"]:
            return self.update(body)
        if parts == ["config", "add-strategy"]:
            return self.structural.execute("add-strategy", "", body)
        if parts == ["config", "notifications"]:
            return self.notifications(body)
        if parts[:1] == ["tuning"]:  # /api/tuning/runs|apply (supervisor/http/tuning_apply.py)
            from supervisor.http import tuning_apply  # rare: loaded on first use, not at idle

            return tuning_apply.post(self, parts[1:], body)
        if len(parts) != 3 or parts[0] != "strategies":
            return 404, {"error": f"no such action {path}"}
        sid, what = unquote(parts[1]), parts[2]
        if what in STRUCTURAL_ACTIONS[1:]:  # checked against the config file, not the running one
            return self.structural.execute(what, sid, body)
        sc = next((s for s in self.sup.config.strategies if s.id == sid), None)
        if sc is None:
            return 404, {"error": f"unknown strategy {sid!r}"}
        if what == "config":
            return self.tune(sid, body)
        if what == "pause":
            if "nonce" in body:  # the chat bridge's confirmed pause/resume
                action = "pause" if body.get("paused") is True else "resume"
                if not self.nonces.take(body["nonce"], action, sid, {}):
                    return 403, {"ok": False, "error": "confirmation missing, used or expired"}
            return self.toggle(sid, "paused", body, bool)
        if what == "notifications":
            return self.toggle(sid, "notify_ratchet_triggers", body, (bool, type(None)))
        if what == "simulate":
            return self.board.simulate(sc, body)
        if what in TRADE_PARAMS:
            return self.trade(sid, what, body)
        return 404, {"error": f"no such action {path}"}

    # -- config writes -------------------------------------------------------------------------
    def _check(self, new: Config) -> list[str]:
        """The SIGHUP reload's refusals for ``new`` against the running book (supervisor/reload.py)."""
        sup = self.sup
        pending = structural_changes(sup.config, new)
        if pending:
            return [
                f"{sup.config.path.name} differs structurally from the running config "
                f"({'; '.join(pending)}), so the reload cannot apply this write; {RESTART_HOW}, "
                "then retry"
            ]
        problems: list[str] = []
        with sup.book_lock:
            problems += capital_problems(new, sup.app)
            problems += flat_only_problems(sup.config, new, sup.app)
        return problems

    def write(self, sid: str | None, patch: config_write.Patch) -> tuple[int, dict]:
        """Patch (strategy ``sid``, or the document when None), validate, check, write; then the
        loop reloads it (as SIGHUP does)."""
        path = self.sup.config.path
        try:
            if sid is None:
                new = config_write.patch_document(path, patch, self._check)
            else:
                new = config_write.patch_config(path, sid, patch, self._check)
        except config_write.WriteRefused as exc:
            return exc.code, {
                "ok": False,
                "error": one_line(exc.lines[0], 500),
                "problems": exc.lines,
            }
        self.sup.reload_requested = True
        self.sup.wake.set()
        out: dict = {"ok": True, "restart_required": False, "message": APPLIED}
        if new.warnings:  # e.g. a key with no effect in this build, said at once
            out["warnings"] = new.warnings
        return 200, out

    def tune(self, sid: str, body: dict) -> tuple[int, dict]:
        sc = self.sup.config.strategy(sid)
        try:
            overrides = tuner.parse_overrides(body)
        except tuner.BadOverrides as exc:
            return 400, {"ok": False, "error": str(exc)}
        return self.write(sid, tuner.patcher(sc, overrides))

    def toggle(self, sid: str, key: str, body: dict, kinds: Any) -> tuple[int, dict]:
        if key not in body or not isinstance(body[key], kinds):
            return 400, {"ok": False, "error": f'the body needs "{key}"'}
        code, out = self.write(sid, tuner.patcher(self.sup.config.strategy(sid), {key: body[key]}))
        if code == 200 and key == "paused":
            out["message"] = f"Strategy {sid} {'paused' if body[key] else 'resumed'}. {APPLIED}"
        return code, out

    def notifications(self, body: dict) -> tuple[int, dict]:
        """The top-level ratchet-alert toggle; null deletes the key (inherit: on)."""
        key = "notify_ratchet_triggers"
        value = body.get(key, "missing")
        if value is not None and not isinstance(value, bool):
            return 400, {"ok": False, "error": f'the body needs "{key}": true, false or null'}

        def patch(doc: dict) -> None:
            if value is None:
                doc.pop(key, None)
            else:
                doc[key] = value

        code, out = self.write(None, patch)
        if code == 200:
            out.update({key: value, "effective": value is not False})
        return code, out

    # -- nonces and trade actions ----------------------------------------------------------------
    def confirm(self, body: dict) -> tuple[int, dict]:
        action, sid, params = body.get("action"), body.get("strategy_id"), body.get("params", {})
        if action in STRUCTURAL_ACTIONS:
            return self.structural.confirm(action, sid, params)
        if action in PAUSE_ACTIONS:
            return self.confirm_pause(action, sid, params)
        if action == "update":
            return self.confirm_update()
        if action == TUNING_ACTION:
            from supervisor.http import tuning_apply  # rare: loaded on first use, not at idle

            return tuning_apply.confirm(self, sid, params)
        if action not in TRADE_PARAMS:
            return 400, {"error": f"unknown action {action!r} (one of {', '.join(TRADE_PARAMS)})"}
        sc = next((s for s in self.sup.config.strategies if s.id == sid), None)
        if sc is None or not isinstance(sid, str):
            return 404, {"error": f"unknown strategy {sid!r}"}
        try:
            checked = trade_params(action, params)
        except BadParams as exc:
            return 400, {"error": str(exc)}
        force_ok = sc.type == "perps" and sc.platform == "hyperliquid" and sc.live
        if (action == "force-close" and not force_ok) or (
            action != "force-close" and sc.type != "manual"
        ):
            need = (
                "a live Hyperliquid perps strategy"
                if action == "force-close"
                else "a manual strategy"
            )
            return 409, {"error": f"{action} needs {need}; {sid} is {sc.type} on {sc.platform}"}
        nonce, ttl = self.nonces.issue(action, sid, checked)
        shown = ", ".join(f"{k}={v}" for k, v in sorted(checked.items()))
        return 200, {
            "nonce": nonce,
            "expires_in_seconds": ttl,
            "confirm_phrase": sid,
            "description": f"{action} on {sid}" + (f" ({shown})" if shown else ""),
        }

    def confirm_pause(self, action: str, sid: object, params: object) -> tuple[int, dict]:
        """A nonce for the chat bridge's pause/resume (the dashboard's toggle needs none)."""
        if not isinstance(sid, str) or all(s.id != sid for s in self.sup.config.strategies):
            return 404, {"error": f"unknown strategy {sid!r}"}
        if params not in ({}, None):
            return 400, {"error": f"{action} takes no params"}
        nonce, ttl = self.nonces.issue(action, sid, {})
        return 200, {
            "nonce": nonce,
            "expires_in_seconds": ttl,
            "confirm_phrase": sid,
            "description": f"{action} {sid}",
        }

    # -- the offered update (supervisor/notify/updater.py), confirmed from chat ------------------
    def _updater(self) -> Any:
        return getattr(getattr(self.sup, "notifier", None), "updater", None)

    def confirm_update(self) -> tuple[int, dict]:
        """A nonce for the update on offer, bound to its commit (a newer one needs a new ask)."""
        updater = self._updater()
        remote = updater.offer() if updater is not None else None
        if not remote:
            return 409, {"error": "no update on offer (auto_update off, or nothing announced)"}
        nonce, ttl = self.nonces.issue("update", "", {"remote": remote})
        desc = f"update to {remote[:8]} (scripts/update.sh, then a restart)"
        return 200, {"nonce": nonce, "expires_in_seconds": ttl, "description": desc}

    def update(self, body: dict) -> tuple[int, dict]:
        """``/api/update {nonce}``: the owner's "yes", as the DM reply gives it: the same
        UpdateWatcher.apply runs (its result goes to the owner by DM), once."""
        updater = self._updater()
        remote = updater.offer() if updater is not None else None
        if not self.nonces.take(body.get("nonce"), "update", "", {"remote": remote}):
            return 403, {"ok": False, "error": "confirmation missing, used, expired or stale"}
        if not remote or not updater.accept(remote):
            return 409, {"ok": False, "error": "the update was answered already"}
        threading.Thread(target=updater.apply, args=(remote,), name="update", daemon=True).start()
        message = f"Starting upgrade to {remote[:8]}; update.sh's result comes by DM."
        return 200, {"ok": True, "message": message}

    def _lock(self, sid: str) -> threading.Lock:
        with self._locks_lock:
            return self._locks.setdefault(sid, threading.Lock())

    def trade(self, sid: str, action: str, body: dict) -> tuple[int, dict]:
        try:
            checked = trade_params(action, body.get("params", {}))
        except BadParams as exc:
            return 400, {"ok": False, "error": str(exc)}
        if not self.nonces.take(body.get("nonce"), action, sid, checked):
            return 403, {
                "ok": False,
                "error": "confirmation missing, used, expired or for another action",
            }
        lock = self._lock(sid)
        if not lock.acquire(blocking=False):
            return 409, {"ok": False, "error": f"another action on {sid} is still running"}
        lines: list[str] = []
        try:
            from supervisor.ops.manual_state import ManualError

            try:
                run_trade(self.sup.config, sid, action, checked, lines.append)
            except ManualError as exc:
                return (400 if exc.code == 2 else 409), {
                    "ok": False,
                    "error": one_line(str(exc), 500),
                }
        finally:
            lock.release()
        return 200, {"ok": True, "queued": True, "message": one_line(" ".join(lines), 1000)}
