"""The regime labels and the entry gate: the pure-Python half of :mod:`shared_tools.regime`.

The supervisor validates ``allowed_regimes`` against these labels and gates entries on a
check's ``regime`` output; it must never load pandas, which the classifiers in
:mod:`shared_tools.regime` need. Standard library only.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

__all__ = [
    "DIRECTIONAL_BARE",
    "DIRECTIONAL_SUBS",
    "LABELS_ADX",
    "LABELS_COMPOSITE",
    "PRIMARY_WINDOW",
    "gate_allows",
    "label_covered",
    "lookup_label",
    "payload_label",
]

PRIMARY_WINDOW = "medium"

# Label vocabulary, in upstream's order (error messages list labels in this order).
LABELS_ADX: tuple[str, ...] = ("trending_up", "trending_down", "ranging")
LABELS_COMPOSITE: tuple[str, ...] = (
    "trending_up_clean",
    "trending_up_choppy",
    "trending_down_clean",
    "trending_down_choppy",
    "ranging_quiet",
    "ranging_volatile",
    "ranging_directional",
    "ranging_directional_up",
    "ranging_directional_down",
)
DIRECTIONAL_BARE = "ranging_directional"
DIRECTIONAL_SUBS: tuple[str, ...] = ("ranging_directional_up", "ranging_directional_down")


def label_covered(present: Iterable[str], label: str) -> bool:
    """Whether ``present`` labels cover ``label`` (a bare ``ranging_directional`` covers its
    ``_up``/``_down`` halves)."""
    present = set(present)
    return label in present or (label in DIRECTIONAL_SUBS and DIRECTIONAL_BARE in present)


def payload_label(payload: object, window: str = "") -> str:
    """The label a check's ``regime`` output gives for ``window`` ("" when it gives none).

    The output is a bare label, a flat snapshot ``{"regime": label, ...}`` or a window map
    ``{window: snapshot}``; without a window the primary one is read, else the first.
    """
    if isinstance(payload, str):
        return payload
    if not isinstance(payload, Mapping) or not payload:
        return ""
    top = payload.get("regime")
    if isinstance(top, str):
        return top
    if window:
        snap = payload.get(window)
    else:
        snap = payload.get(PRIMARY_WINDOW, next(iter(payload.values())))
    if isinstance(snap, str):
        return snap
    label = snap.get("regime") if isinstance(snap, Mapping) else None
    return label if isinstance(label, str) else ""


def gate_allows(label: str, allowed: Iterable[str], on_failure: str = "open") -> bool:
    """Whether an entry may open under ``allowed_regimes`` (upstream §2.6 step 2).

    An empty allow-list allows everything; an unknown label allows the entry unless the gate
    fails closed.
    """
    allowed = tuple(allowed)
    if not allowed:
        return True
    if not label:
        return on_failure != "closed"
    return label_covered(allowed, label)


def lookup_label(by_label: Mapping[str, Any], label: str) -> Any:
    """``by_label[label]``, else (for an ``_up``/``_down`` half) the bare directional's; None."""
    value = by_label.get(label)
    if value is None and label in DIRECTIONAL_SUBS:
        value = by_label.get(DIRECTIONAL_BARE)
    return value
