"""The structural commands (``add-strategy``, ``remove-strategy``, ``paper-to-live``,
``apply-regime-gate``) and ``clear-cash-reconcile``, through the daemon's confirmed actions.

Each asks the daemon for a nonce (``POST /api/confirm``: the daemon checks the request then, and
again when it runs), shows the daemon's ``description`` (and, for the gate, ``also_activated``:
the other strategies whose dormant ``allowed_regimes`` the gate would wake) with Confirm/Cancel,
and on Confirm posts ``{nonce, params}`` to the action: ``/api/config/add-strategy`` or
``/api/strategies/<id>/<action>``. From chat ``restart`` is true: the daemon restarts itself
after writing the config, as upstream's chat flow does (a structural change needs a restart;
the SIGHUP reload refuses it).

Where we differ from upstream: ``apply-regime-gate`` takes an optional ``strategy`` option.
Upstream DMs a numbered list of the eligible strategies and waits for a number; a slash command
cannot wait for a free-text reply here (every prompt is a tagged button), so without
``strategy`` the answer lists the eligible (perps/futures) ids and how to run it again.
"""

from __future__ import annotations

from typing import Any

from chat_bridge.daemon_api import DaemonAPI

STRUCTURAL = ("add-strategy", "remove-strategy", "paper-to-live", "apply-regime-gate")
ACTIONS = (*STRUCTURAL, "clear-cash-reconcile")
DEFAULT_GATE = "comp_up_clean_p21"
GATE_TYPES = ("perps", "futures")
ADD_PATH = "/api/config/add-strategy"


def request(name: str, options: dict[str, Any]) -> tuple[str, dict[str, Any]] | str:
    """``(strategy_id, params)`` for ``/api/confirm``, or a one-line usage answer."""
    opt = {k: str(v).strip() for k, v in options.items() if v not in (None, "")}
    if name == "add-strategy":
        missing = [k for k in ("name", "platform", "asset") if not opt.get(k)]
        if missing:
            return "add-strategy needs name, platform and asset (e.g. sma hyperliquid BTC)."
        params = {
            "name": opt["name"].lower(),
            "platform": opt["platform"].lower(),
            "asset": opt["asset"].upper(),  # upstream's [A-Z0-9]+; "btc" is meant as BTC
            "restart": True,
        }
        return "", params
    sid = opt.get("id" if name == "remove-strategy" else "strategy", "")
    if name == "apply-regime-gate":
        return sid, {"gate": opt.get("gate") or DEFAULT_GATE, "restart": True}
    if not sid:
        return f"{name} needs the strategy id."
    if name == "clear-cash-reconcile":
        return sid, {}
    return sid, {"restart": True}


def eligible(api: DaemonAPI, gate: str) -> str:
    """apply-regime-gate without a strategy: the ids it may gate, and how to ask again."""
    code, doc = api.get("/api/strategies")
    if code != 200:
        return f"The daemon answered {code}: {doc.get('error') if isinstance(doc, dict) else doc}"
    ids = [s["id"] for s in doc.get("strategies", []) if s.get("type") in GATE_TYPES]
    if not ids:
        return "No perps/futures strategy to gate (apply-regime-gate needs one)."
    shown = "\n".join(f"{n}. {sid}" for n, sid in enumerate(ids, 1))
    extra = f" gate:{gate}" if gate != DEFAULT_GATE else ""
    return (
        f"Strategies the {gate} gate can apply to:\n{shown}\n"
        f"Run it again with the id: /go-trader-apply-regime-gate strategy:<id>{extra} "
        "(Telegram: /apply_regime_gate <id>)"
    )


def prompt(action: str, doc: dict[str, Any]) -> str:
    """What the Confirm/Cancel prompt shows: the daemon's description, the new id, the gate's
    blast radius."""
    desc = str(doc.get("description") or action)
    phrase = str(doc.get("confirm_phrase") or "")
    if action == "add-strategy" and phrase and phrase not in desc:
        desc += f" (id {phrase})"
    if action == "apply-regime-gate":
        also = [str(x) for x in doc.get("also_activated") or []]
        desc += "; also activates: " + (", ".join(also) if also else "no other strategy")
    if action in STRUCTURAL:
        desc += "; then the daemon restarts"
    return desc


def path(api: DaemonAPI, action: str, sid: str) -> str:
    """Where a confirmed action is posted."""
    return ADD_PATH if action == "add-strategy" else api.strategy_path(sid, action)
