"""``regime.transitions``: owner DMs when a regime window's label changes on closed bars.

Alerting only (upstream scheduler/regime_transitions.go, #1224); no trade reads it. Per bundle
(platform, symbol, timeframe, windows spec) and window, each cycle's check answers give the
label of the last *closed* bar. Rules kept from upstream:

* at most one history row per bundle, window and closed bar (``regime_window_history``);
* the debounce counts closed bars, not cycles: a label must hold ``debounce_cycles`` bars in
  a row before it counts, so a one-bar flap sends nothing (#1224); one DM per **net** change
  from the last stable label, ``📊 Regime transition — <key> window W: old → new (bar T)``;
  the first stable label of a window is recorded without a DM;
* a reversal (the longest window trending one way while at least ``reversal_min_opposing``
  shorter windows, 0 = all of them, point the other way) sends ``🔄 Regime reversal pattern —
  …`` once per distinct pattern (a persisted signature), again only after it cleared;
* history past ``retention_days`` is pruned at most once an hour.

The debounce state (recent bars, stable labels, reversal signatures) lives in
``AppState.extra`` and is saved with the cycle; the rows are committed with it too.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from shared_tools.config.model import Config, StrategyConfig
from shared_tools.config.regime import Transitions
from shared_tools.regime_labels import payload_label
from supervisor.risk.portfolio import RiskEvent
from supervisor.state.models import AppState, utc_iso

__all__ = ["KEY", "observe"]

KEY = "regime_transitions"
PRUNE_EVERY_S = 3600


class Cycle(Protocol):
    app: AppState
    config: Config
    epoch: float
    stamp: str
    readings: dict[str, tuple[Any, str, str]]

    def events(self, events: list[RiskEvent]) -> None: ...


def _bundle(sc: StrategyConfig, config: Config) -> tuple[str, str]:
    spec = json.dumps(config.regime.specs, sort_keys=True)
    key = f"{sc.platform}/{sc.symbol}/{sc.timeframe}"
    return f"{sc.platform}|{sc.symbol}|{sc.timeframe}|{spec}", key


_UNIT_S = {"m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


def closed_bar(epoch: float, timeframe: str) -> int:
    """Open time (epoch s) of the newest closed bar of ``timeframe`` at ``epoch`` (0: unknown
    timeframe; months are not a fixed length and are not tracked)."""
    num, unit = timeframe[:-1], timeframe[-1:]
    if not num.isdigit() or unit not in _UNIT_S:
        return 0
    step = int(num) * _UNIT_S[unit]
    return int(epoch // step) * step - step


def _sign(label: str) -> int:
    if "_up" in label:
        return 1
    if "_down" in label:
        return -1
    return 0


def _windows(config: Config, payload: object) -> list[str]:
    """Window names by period, longest last (a bare label: the one primary window)."""
    specs = config.regime.specs
    if isinstance(payload, Mapping) and "regime" not in payload and payload:
        names = [str(n) for n in payload]
    else:
        return [""]

    def period(name: str) -> int:
        spec = specs.get(name)
        if isinstance(spec, int):
            return spec
        return int(spec.get("period", 14)) if isinstance(spec, Mapping) else 14

    return sorted(names, key=period)


def observe(cy: Cycle) -> None:
    """Record this cycle's closed-bar labels; queue the owner DMs due (transitions on)."""
    settings = cy.config.regime.transitions
    if not (cy.config.regime.enabled and settings.enabled):
        return
    state: dict[str, Any] = cy.app.extra.setdefault(KEY, {})
    seen: set[str] = set()
    for sc in cy.config.strategies:
        sig = cy.readings.get(sc.id, (None, "", ""))[0]
        if sig is None or not sc.regime_args or sc.type == "options":
            continue
        bundle, key = _bundle(sc, cy.config)
        if bundle in seen:
            continue
        seen.add(bundle)
        bar_s = closed_bar(cy.epoch, sc.timeframe)
        if bar_s <= 0:
            continue
        bar = utc_iso(datetime.fromtimestamp(bar_s, UTC))
        windows = _windows(cy.config, sig.regime)
        labels = {w: payload_label(sig.regime, w) for w in windows}
        for window, label in labels.items():
            if label:
                _window(cy, state, bundle, key, window or "primary", bar, label, settings)
        _reversal(cy, state, bundle, key, [labels[w] for w in windows], bar, settings)
    _prune(cy, state, settings.retention_days)


def _window(
    cy: Cycle,
    state: dict[str, Any],
    bundle: str,
    key: str,
    window: str,
    bar: str,
    label: str,
    settings: Transitions,
) -> None:
    slot = state.setdefault(f"{bundle}#{window}", {"recent": [], "stable": ""})
    recent: list[list[str]] = slot["recent"]
    if recent and recent[-1][0] >= bar:
        return  # this closed bar is recorded already (at most one row per bar)
    recent.append([bar, label])
    del recent[: -max(settings.debounce_cycles, 1)]
    cy.app.regime_history.append(
        {"bundle": bundle, "window": window, "bar_time": bar, "label": label, "ts": cy.stamp}
    )
    held = len(recent) >= settings.debounce_cycles and all(r[1] == label for r in recent)
    if not held or slot["stable"] == label:
        return
    old, slot["stable"] = slot["stable"], label
    alerted = ""
    if old:
        alerted = cy.stamp
        text = f"📊 Regime transition — {key} window {window}: {old} → {label} (bar {bar})"
        cy.events([RiskEvent("regime_transition", text, critical=True, owner_only=True)])
    cy.app.regime_changes.append(
        {
            "bundle": bundle,
            "window": window,
            "old_label": old,
            "new_label": label,
            "bar_time": bar,
            "ts": cy.stamp,
            "alerted_at": alerted,
        }
    )


def reversal(labels: Iterable[str], min_opposing: int) -> bool:
    """The longest window (last) trends one way and enough shorter ones point the other."""
    labels = list(labels)
    if len(labels) < 2:
        return False
    longest = _sign(labels[-1])
    shorter = labels[:-1]
    need = min_opposing or len(shorter)
    opposing = sum(1 for label in shorter if _sign(label) == -longest)
    return longest != 0 and need > 0 and opposing >= need


def _reversal(
    cy: Cycle,
    state: dict[str, Any],
    bundle: str,
    key: str,
    labels: list[str],
    bar: str,
    settings: Transitions,
) -> None:
    sigs: dict[str, str] = state.setdefault("#reversals", {})
    if not reversal(labels, settings.reversal_min_opposing):
        sigs.pop(bundle, None)  # cleared: the next pattern alerts again
        return
    signature = "|".join(labels)
    if sigs.get(bundle) == signature:
        return
    sigs[bundle] = signature
    text = f"🔄 Regime reversal pattern — {key}: {' / '.join(labels)} (bar {bar})"
    cy.events([RiskEvent("regime_reversal", text, critical=True, owner_only=True)])


def _prune(cy: Cycle, state: dict[str, Any], retention_days: int) -> None:
    last = float(state.get("#pruned_at", 0.0) or 0.0)
    if cy.epoch - last < PRUNE_EVERY_S:
        return
    state["#pruned_at"] = cy.epoch
    cutoff = datetime.fromtimestamp(cy.epoch, UTC) - timedelta(days=retention_days)
    cy.app.regime_prune_before = utc_iso(cutoff)
