"""Structural actions from the dashboard and the chat bridge (reference A.5, B.3).

``add-strategy``, ``remove-strategy``, ``paper-to-live`` and ``apply-regime-gate``: each is
confirmed first (``/api/confirm`` issues a nonce bound to the action, the id and the checked
params, ``restart`` included) and then executed with ``{nonce, params}``. Eligibility is checked
at confirm and again at execute, under the config write lock, against the config FILE (so two
actions without a restart in between build on each other) and the running book's positions.

The write is the dashboard's one write path (supervisor/http/config_write.py, whole document):
validated by the loader, atomic, refused if the file changed meanwhile. These changes are
structural for the SIGHUP reload (supervisor/reload.py), so the running daemon takes them at its
next start: ``restart: true`` asks the daemon to drain and re-execute itself after the reply
(``Supervisor.request_restart``); without it the reply says to restart. A gate the reload can
apply (no structural difference, strategy flat) is applied through the reload at once instead.

Naming and entries are ``go-trader init``'s (supervisor/ops/init_config.py ``VENUES`` and
``venue_entry``, the registry's short names), with upstream's add-strategy capital and drawdown
and the id's asset kept as typed (``hl-sma-BTC``, upstream B.3). Deliberately stricter than
upstream: removing a strategy that holds a position is refused (the next start would refuse to
prune it and the daemon would not come back).
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from shared_tools.config.live import live_env_problems
from shared_tools.config.model import Config
from supervisor.http import config_write
from supervisor.http.nonce import Nonces

if TYPE_CHECKING:  # init's modules load with the first add-strategy, not in the idle daemon
    from supervisor.ops.init_options import Catalogue

ACTIONS = ("add-strategy", "remove-strategy", "paper-to-live", "apply-regime-gate")
GATE = "comp_up_clean_p21"  # upstream's one gate: composite window, period 21, clean uptrend
WINDOW, WINDOW_SPEC, LABELS = (
    "comp_p21",
    {"classifier": "composite", "period": 21},
    ["trending_up_clean"],
)
PLATFORMS = {"hyperliquid": "perps", "binanceus": "spot"}  # platform -> init's venue group
CAPITAL, DRAWDOWN = {"perps": 100, "spot": 1000}, {"perps": 10, "spot": 5}  # upstream B.3
ASSET = re.compile(r"^[A-Z0-9]{1,20}$")
RESTART_HOW = "restart go-trader to apply it (systemctl restart go-trader, or /restart from chat)"


class Refused(Exception):
    """An action not allowed: ``code`` is the HTTP status (400, 404, 409)."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code


@dataclass
class Planned:
    """One checked action: its id, bound params, what it does, and its document patch."""

    sid: str
    params: dict
    description: str
    patch: Callable[[dict], None]
    also_activated: list[str] | None = None


def checked_params(action: str, params: object) -> dict:
    """The params as bound into the nonce: known keys only, defaults filled in (400 otherwise)."""
    if params is None:
        params = {}
    if not isinstance(params, dict):
        raise Refused(400, '"params" must be a JSON object')
    known = {"restart"}
    if action == "add-strategy":
        known |= {"name", "platform", "asset"}
    if action == "apply-regime-gate":
        known |= {"gate"}
    extra = sorted(set(params) - known)
    if extra:
        raise Refused(
            400, f"{action}: unknown param {extra[0]!r} (takes {', '.join(sorted(known))})"
        )
    out: dict[str, Any] = {"restart": params.get("restart", False)}
    if not isinstance(out["restart"], bool):
        raise Refused(400, f"{action}: restart must be true or false")
    if action == "add-strategy":
        for key in ("name", "platform", "asset"):
            if not isinstance(params.get(key), str) or not params[key]:
                raise Refused(400, f"add-strategy: {key} is required (text)")
            out[key] = params[key]
        if out["platform"] not in PLATFORMS:
            raise Refused(400, f"add-strategy: platform must be one of {', '.join(PLATFORMS)}")
        if not ASSET.match(out["asset"]):
            raise Refused(400, "add-strategy: asset must match [A-Z0-9]+ (e.g. BTC)")
    if action == "apply-regime-gate":
        out["gate"] = params.get("gate") or GATE
        if out["gate"] != GATE:
            raise Refused(400, f"apply-regime-gate: unknown gate {out['gate']!r} (only {GATE})")
    return out


def _entries(raw: dict) -> list[dict]:
    rows = raw.get("strategies")
    return [e for e in rows if isinstance(e, dict)] if isinstance(rows, list) else []


def _entry(raw: dict, sid: str) -> dict:
    for e in _entries(raw):
        if e.get("id") == sid:
            return e
    raise Refused(404, f"unknown strategy {sid!r} (not in the config file)")


def also_activated(raw: dict, sid: str) -> list[str]:
    """Other strategies whose ``allowed_regimes`` lie dormant (regime off) and the gate wakes."""
    regime = raw.get("regime")
    if isinstance(regime, dict) and regime.get("enabled") is True:
        return []
    return sorted(
        str(e.get("id")) for e in _entries(raw) if e.get("allowed_regimes") and e.get("id") != sid
    )


def window_problem(raw: dict) -> str | None:
    """Why ``comp_p21`` cannot be used: a window of that name with another classifier/period."""
    regime = raw.get("regime") if isinstance(raw.get("regime"), dict) else {}
    windows = regime.get("windows") if isinstance(regime.get("windows"), dict) else {}
    if WINDOW not in windows:
        return None
    spec = windows[WINDOW]
    got = (
        (spec.get("classifier", "adx"), spec.get("period"))
        if isinstance(spec, dict)
        else ("adx", spec)
    )
    if got != (WINDOW_SPEC["classifier"], WINDOW_SPEC["period"]):
        return (
            f"regime.windows.{WINDOW} is {got[0]} period {got[1]}, not composite period 21; "
            "rename that window in the config file, then apply the gate"
        )
    return None


def _load_catalogue() -> Catalogue:
    from supervisor.ops.init_options import load_catalogue

    return load_catalogue()


class Structural:
    """The four actions for one daemon (``sup``: config, app, book_lock; see board.Supervisor)."""

    def __init__(
        self, sup: Any, nonces: Nonces, catalogue: Callable[[], Catalogue] | None = None
    ) -> None:
        self.sup, self.nonces = sup, nonces
        self._load_catalogue = catalogue or _load_catalogue
        self._catalogue: Catalogue | None = None

    @property
    def path(self) -> Path:
        return Path(self.sup.config.path)

    def catalogue(self) -> Catalogue:
        """The registry's rows, listed once by a worker (the supervisor never imports it)."""
        from supervisor.ops.init_options import InitError

        if self._catalogue is None:
            try:
                self._catalogue = self._load_catalogue()
            except InitError as exc:
                raise Refused(503, exc.lines[0]) from None
        return self._catalogue

    def holds(self, sid: str) -> bool:
        with self.sup.book_lock:
            strat = self.sup.app.strategies.get(sid)
            return bool(
                strat is not None
                and (any(p.quantity for p in strat.positions.values()) or strat.legs)
            )

    # -- plans: the checks and the patch of each action, run at confirm and again at execute ---
    def plan(self, action: str, sid: str, p: dict, raw: dict) -> Planned:
        if action == "add-strategy":
            return self._add(p, raw)
        entry = _entry(raw, sid)
        if action == "remove-strategy":
            if len(_entries(raw)) <= 1:
                raise Refused(409, f"{sid} is the last strategy; a config needs one")
            if self.holds(sid):
                raise Refused(409, f"{sid} holds a position; close it first, then remove it")
            desc = f"remove strategy {sid} from the config (its trade history stays in the DB)"
            return Planned(sid, p, desc, lambda doc: doc["strategies"].remove(_entry(doc, sid)))
        if action == "paper-to-live":
            return self._to_live(sid, p, entry)
        return self._gate(sid, p, entry, raw)

    def _add(self, p: dict, raw: dict) -> Planned:
        # init's modules (and difflib) only when a strategy is added: ~0.3 MiB of idle RSS
        from supervisor.ops.init_config import INTERVAL, VENUES, venue_entry
        from supervisor.ops.init_options import Plan

        cat, group = self.catalogue(), PLATFORMS[p["platform"]]
        names = [n for n in cat.names(group) if not cat.rows[n].get("needs_pair")]
        name = next((n for n in names if p["name"] in (n, cat.short(n))), None)
        if name is None:
            shorts = ", ".join(sorted(cat.short(n) for n in names))
            raise Refused(
                400, f"add-strategy: unknown strategy {p['name']!r} for {p['platform']} ({shorts})"
            )
        venue = VENUES[group]
        plan = Plan({}, [group], [p["asset"]], {group: [name]}, CAPITAL, DRAWDOWN, {})
        entry = venue_entry(venue, group, name, p["asset"], plan, cat)
        entry["id"] = sid = venue.id.format(s=cat.short(name), a=p["asset"])
        entry["interval_seconds"] = INTERVAL
        if any(e.get("id") == sid for e in _entries(raw)):
            raise Refused(400, f"add-strategy: {sid} already exists in the config")
        desc = (
            f"add paper strategy {sid} ({name} on {p['platform']} {entry['args'][1]}, "
            f"{entry['type']}, capital {entry['capital']:g})"
        )
        return Planned(sid, p, desc, lambda doc: doc.setdefault("strategies", []).append(entry))

    def _to_live(self, sid: str, p: dict, entry: dict) -> Planned:
        args = entry.get("args") if isinstance(entry.get("args"), list) else []
        if "--mode=live" in args:
            raise Refused(409, f"{sid} is already live")
        if "--mode=paper" not in args:
            raise Refused(
                409,
                f"{sid}'s args have no --mode=paper to switch (its venue has no live mode here)",
            )
        if self.holds(sid):
            raise Refused(409, f"{sid} holds a position; close it first, then go live")
        missing = live_env_problems([str(entry.get("platform") or "")], os.environ)
        if missing:  # the next start would refuse to run live (exit 78): say so now
            raise Refused(409, f"{sid} cannot go live here: {missing[0]}")

        def patch(doc: dict) -> None:
            e = _entry(doc, sid)
            e["args"] = ["--mode=live" if a == "--mode=paper" else a for a in e["args"]]

        return Planned(sid, p, f"switch {sid} from paper to LIVE trading (real money)", patch)

    def _gate(self, sid: str, p: dict, entry: dict, raw: dict) -> Planned:
        if entry.get("type") not in ("perps", "futures"):
            raise Refused(
                409,
                f"apply-regime-gate needs a perps or futures strategy; {sid} is {entry.get('type') or 'spot'}",
            )
        if self.holds(sid):
            raise Refused(409, f"{sid} holds a position; close it first, then apply the gate")
        problem = window_problem(raw)
        if problem:
            raise Refused(409, problem)
        woken = also_activated(raw, sid)

        def patch(doc: dict) -> None:
            regime = doc.setdefault("regime", {})
            regime["enabled"] = True
            regime.setdefault("windows", {}).setdefault(WINDOW, dict(WINDOW_SPEC))
            e = _entry(doc, sid)
            e["regime_gate_window"] = WINDOW
            e["allowed_regimes"] = list(LABELS)

        desc = (
            f"gate {sid} on regime window {WINDOW} (composite, period 21): opens only in "
            f"{LABELS[0]}"
        )
        if woken:
            desc += f"; also activates the dormant allowed_regimes of {', '.join(woken)}"
        return Planned(sid, p, desc, patch, woken)

    # -- the two requests ----------------------------------------------------------------------
    def _raw(self) -> dict:
        try:
            return config_write.read_document(self.path)
        except config_write.WriteRefused as exc:
            raise Refused(exc.code, exc.lines[0]) from None

    def confirm(self, action: str, sid: object, params: object) -> tuple[int, dict]:
        """``/api/confirm`` for a structural action: checks, then a nonce bound to the plan."""
        try:
            if action != "add-strategy" and not isinstance(sid, str):
                raise Refused(404, f"unknown strategy {sid!r}")
            p = checked_params(action, params)
            plan = self.plan(action, "" if action == "add-strategy" else str(sid), p, self._raw())
        except Refused as exc:
            return exc.code, {"error": str(exc)}
        bound_sid = "" if action == "add-strategy" else plan.sid
        nonce, ttl = self.nonces.issue(action, bound_sid, p, pinned=plan.also_activated)
        out = {
            "nonce": nonce,
            "expires_in_seconds": ttl,
            "confirm_phrase": plan.sid,
            "description": plan.description + (" and restart go-trader" if p["restart"] else ""),
        }
        if action == "apply-regime-gate":
            out["also_activated"] = plan.also_activated or []
        return 200, out

    def execute(self, action: str, sid: str, body: dict) -> tuple[int, dict]:
        """The confirmed action: re-check, write, then restart or say to."""
        try:
            p = checked_params(action, body.get("params"))
        except Refused:
            p = None
        ok, pinned = self.nonces.take_pinned(body.get("nonce"), action, sid, p or {})
        if p is None or not ok:
            return 403, {
                "ok": False,
                "error": "confirmation missing, used, expired or for other params",
            }
        made: list[Planned] = []

        def patch(doc: dict) -> None:
            try:
                plan = self.plan(action, sid, p, doc)
            except Refused as exc:
                raise config_write.WriteRefused(exc.code, [str(exc)]) from None
            grown = sorted(set(plan.also_activated or []) - set(pinned or []))
            if grown:
                raise config_write.WriteRefused(
                    409, [f"the gate would now also activate {', '.join(grown)}; confirm again"]
                )
            plan.patch(doc)
            made.append(plan)

        try:
            new = config_write.patch_document(self.path, patch, self._startable)
        except config_write.WriteRefused as exc:
            return exc.code, {"ok": False, "error": exc.lines[0][:500], "problems": exc.lines}
        return 200, self._after(made[0], new)

    @staticmethod
    def _startable(new: Config) -> list[str]:
        """The live start-up checks the next start runs (keys in this process's environment,
        which a restart keeps): a config the daemon would refuse to start on is not written."""
        # imported here: the live start checks load only for a structural write, never at idle
        from supervisor.live.start import start_problems

        return [
            f"the next start would refuse it: {line}"
            for line in start_problems(new, True, os.environ)
        ]

    def _after(self, plan: Planned, new: Config) -> dict:
        """Restart (after the reply), reload (a gate the reload takes), or say to restart."""
        from supervisor.reload import structural_changes

        sup, restart = self.sup, plan.params["restart"]
        pending = structural_changes(sup.config, new)
        done = f"{plan.description}: written to {self.path.name}"
        out = {"ok": True, "id": plan.sid, "restart_required": False, "restarting": False}
        if restart and sup.request_restart(f"{plan.description} (API)"):
            out.update(restarting=True, message=f"{done}; restarting go-trader now.")
        elif restart:  # a stop is under way: the next start takes it
            out.update(restart_required=True, message=f"{done}; go-trader is stopping already.")
        elif not pending:  # e.g. the gate on a flat strategy: the SIGHUP reload applies it
            sup.reload_requested = True
            sup.wake.set()
            out["message"] = f"{done}. Applied via SIGHUP hot-reload; effective next cycle."
        else:
            out.update(restart_required=True, message=f"{done}; {RESTART_HOW}.")
        if new.warnings:
            out["warnings"] = new.warnings
        return out
