"""Regime policies: per-label ATR stop multiples and the directional policy with its evidence gate.

One implementation for the supervisor and the backtester (standard library only, so the
supervisor may import it):

* ``stop_loss_atr_regime`` / ``trailing_stop_atr_regime``: a multiple of the entry ATR per
  regime label, resolved against the label **stamped on the position** at entry (an empty or
  unknown stamp gives 0: no stop from this owner). ``{"use_defaults": true}`` expands to
  upstream's defaults (:func:`default_multiples`).
* ``regime_directional_policy``: ``direction`` / ``invert_signal`` per label of the directional
  window, applied only when the certification artifact certifies the (base asset, timeframe,
  classifier, label) cell with the configured sign (``both`` passes); otherwise the base
  ``direction`` / ``invert_signal`` trade. Missing, malformed or expired artifacts mean
  *uncertified*: fail-closed, never fatal. The verdict is frozen on a position at entry.

See docs/architecture.md, "The book", and README "Regime policies".
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

from shared_tools.regime_labels import DIRECTIONAL_BARE, DIRECTIONAL_SUBS, LABELS_ADX

_R = TypeVar("_R")

__all__ = [
    "CERT_ENV",
    "CERT_PATH",
    "Certifications",
    "DirectionalPolicy",
    "Effective",
    "apply",
    "asset_of",
    "atr_multiple",
    "default_multiples",
    "effective",
    "judge",
    "load_certifications",
    "stamp",
    "verdict",
]

CERT_ENV = "GO_TRADER_DIRECTIONAL_CERT_PATH"
CERT_PATH = Path(__file__).resolve().parents[1] / (
    "backtest/research/regime_directional_certifications.json"
)
CERTIFIED, EXPIRED, UNCERTIFIED = "certified", "expired", "uncertified"
_TOP_FIELDS = {"schema_version", "description", "generated_at", "expires_at", "certified"}
_CELL_FIELDS = {"asset", "timeframe", "classifier", "state", "sign", "evidence"}

# upstream's use_defaults values (scheduler/regime_atr.go): SL by family, trailing per label.
_SL_FAMILY = {"trending_up": 2.0, "trending_down": 2.0, "ranging": 1.5}
_TRAIL_EXACT = {
    "trending_up": 2.5,
    "trending_down": 2.5,
    "ranging": 2.0,
    "ranging_quiet": 1.0,
    "ranging_volatile": 1.25,
    "ranging_directional": 1.5,
    "ranging_directional_up": 1.5,
    "ranging_directional_down": 1.5,
}


def _family(label: str) -> str:
    for family in LABELS_ADX:
        if label == family or label.startswith(family + "_"):
            return family
    return ""


def default_multiples(kind: str, labels: tuple[str, ...]) -> dict[str, float]:
    """``{"use_defaults": true}`` for ``kind`` (``stop_loss`` | ``trailing``) over ``labels``."""
    out = {}
    for label in labels:
        if kind == "stop_loss":
            value = _SL_FAMILY.get(_family(label), 0.0)
        elif label in _TRAIL_EXACT:
            value = _TRAIL_EXACT[label]
        elif label.endswith("_clean"):
            value = 2.5
        elif label.endswith("_choppy"):
            value = 2.25
        else:
            value = _TRAIL_EXACT.get(_family(label), 0.0)
        if value:
            out[label] = value
    return out


def atr_multiple(table: tuple[tuple[str, float], ...], label: str) -> float:
    """The multiple for ``label`` (a bare ``ranging_directional`` covers its halves); 0 when the
    label is empty or not in the table: no stop from this owner until a stamp exists."""
    if not label:
        return 0.0
    by = dict(table)
    value = by.get(label)
    if value is None and label in DIRECTIONAL_SUBS:
        value = by.get(DIRECTIONAL_BARE)
    return float(value or 0.0)


@dataclass(frozen=True)
class DirectionalPolicy:
    """A strategy's ``regime_directional_policy``: per label (direction, invert_signal)."""

    rules: tuple[tuple[str, str, bool], ...] = ()  # (label, direction, invert_signal)
    window: str = ""  # regime_directional_window ("" = the payload's primary window)
    classifier: str = "adx"  # the window's classifier (a certification cell's coordinate)

    def rule(self, label: str) -> tuple[str, bool] | None:
        by = {lab: (d, inv) for lab, d, inv in self.rules}
        got = by.get(label)
        if got is None and label in DIRECTIONAL_SUBS:
            got = by.get(DIRECTIONAL_BARE)
        return got

    def __bool__(self) -> bool:
        return bool(self.rules)


@dataclass(frozen=True)
class Certifications:
    """The artifact as read: certified cells, or why there are none (``status``)."""

    cells: tuple[tuple[str, str, str, str, str], ...] = ()  # asset, tf, classifier, state, sign
    status: str = UNCERTIFIED  # certified (artifact usable) | expired | uncertified
    reason: str = "no artifact"

    def sign(self, asset: str, timeframe: str, classifier: str, state: str) -> str:
        """The certified sign of a cell ("" when the cell is not certified)."""
        if self.status != CERTIFIED:
            return ""
        for a, tf, c, s, sign in self.cells:
            if (a, tf, c, s) == (asset_of(asset), timeframe.lower(), classifier, state):
                return sign
        return ""


def asset_of(symbol: str) -> str:
    """A certification cell's asset: the base of ``BTC``, ``BTC/USDC:USDC``, ``btc-usd``."""
    return symbol.split("/", 1)[0].split(":", 1)[0].split("-", 1)[0].upper()


def cert_path() -> Path:
    env = os.environ.get(CERT_ENV, "").strip()
    return Path(env) if env else CERT_PATH


def _parse(doc: object, now: datetime) -> Certifications:
    if not isinstance(doc, dict):
        return Certifications(reason="not a JSON object")
    extra = sorted(set(doc) - _TOP_FIELDS)
    if extra:
        return Certifications(reason=f"unknown field(s) {', '.join(extra)}")
    if doc.get("schema_version") != 1:
        return Certifications(reason=f"schema_version {doc.get('schema_version')!r} is not 1")
    expires = doc.get("expires_at")
    if expires is not None:
        try:
            when = datetime.fromisoformat(str(expires).replace("Z", "+00:00"))
            when = when if when.tzinfo else when.replace(tzinfo=UTC)
        except ValueError:
            return Certifications(reason=f"expires_at {expires!r} is not an ISO time")
        if when <= now:
            return Certifications(status=EXPIRED, reason=f"expired at {expires}")
    raw = doc.get("certified")
    if not isinstance(raw, list):
        return Certifications(reason="certified must be a list")
    cells = []
    for cell in raw:
        if not isinstance(cell, dict) or set(cell) - _CELL_FIELDS:
            return Certifications(reason=f"bad certified entry {cell!r}")
        values = [cell.get(k) for k in ("asset", "timeframe", "classifier", "state", "sign")]
        if not all(isinstance(v, str) and v for v in values) or values[4] not in ("long", "short"):
            return Certifications(reason=f"bad certified entry {cell!r}")
        a, tf, c, s, sign = (str(v) for v in values)
        cells.append((a.upper(), tf.lower(), c, s, sign))
    return Certifications(tuple(cells), CERTIFIED, f"{len(cells)} cell(s)")


def load_certifications(path: Path | None = None, now: datetime | None = None) -> Certifications:
    """The artifact at ``path`` (default: env, else the shipped one); never raises."""
    path = path or cert_path()
    now = now or datetime.now(UTC)
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        return Certifications(reason=f"{path}: {type(exc).__name__}")
    return _parse(doc, now)


@dataclass(frozen=True)
class Effective:
    """The direction rules an entry (or a held position) trades under, and why."""

    direction: str
    invert_signal: bool
    regime: str  # the policy label used ("" when no policy)
    status: str  # certified | expired | uncertified | "" (no policy)

    @property
    def overridden(self) -> bool:
        return self.status == CERTIFIED


def verdict(
    policy: DirectionalPolicy,
    certs: Certifications,
    asset: str,
    timeframe: str,
    label: str,
) -> str:
    """certified | expired | uncertified for ``label``'s configured rule."""
    if certs.status == EXPIRED:
        return EXPIRED
    rule = policy.rule(label)
    if rule is None:
        return UNCERTIFIED
    sign = certs.sign(asset, timeframe, policy.classifier, label)
    if not sign and label in DIRECTIONAL_SUBS:
        sign = certs.sign(asset, timeframe, policy.classifier, DIRECTIONAL_BARE)
    if not sign or rule[0] not in ("both", sign):
        return UNCERTIFIED
    return CERTIFIED


def effective(
    base_direction: str,
    base_invert: bool,
    policy: DirectionalPolicy,
    label: str,
    status: str,
) -> Effective:
    """The rules for ``label`` under a verdict ``status`` (frozen at entry, or judged now)."""
    if not policy:
        return Effective(base_direction, base_invert, "", "")
    rule = policy.rule(label) if status == CERTIFIED else None
    if rule is None:
        return Effective(base_direction, base_invert, label, status or UNCERTIFIED)
    return Effective(rule[0], rule[1], label, CERTIFIED)


def policy_from_mapping(
    raw: Mapping[str, Mapping[str, object]], window: str, classifier: str
) -> DirectionalPolicy:
    """A :class:`DirectionalPolicy` from a checked ``trend_regime`` map."""
    rules = tuple(
        (label, str(v.get("direction")), bool(v.get("invert_signal", False)))
        for label, v in raw.items()
    )
    return DirectionalPolicy(rules, window, classifier)


def apply(rules: _R, eff: Effective) -> _R:
    """The book's ``Rules`` with the policy's direction and inversion when certified."""
    if not eff.overridden:
        return rules
    return replace(rules, direction=eff.direction, invert_signal=eff.invert_signal)  # type: ignore[type-var]


def judge(
    base_direction: str,
    base_invert: bool,
    policy: DirectionalPolicy,
    asset: str,
    timeframe: str,
    current_label: str,
    position: Any = None,
    certs: Certifications | None = None,
) -> Effective:
    """The effective rules: a held position keeps its stamped label and frozen verdict; a flat
    strategy judges the directional window's current label against the artifact now."""
    if not policy:
        return Effective(base_direction, base_invert, "", "")
    frozen = str(getattr(position, "policy_verdict", "") or "") if position is not None else ""
    if frozen:
        return effective(
            base_direction, base_invert, policy, position.policy_regime, position.policy_verdict
        )
    certs = certs if certs is not None else load_certifications()
    status = verdict(policy, certs, asset, timeframe, current_label)
    return effective(base_direction, base_invert, policy, current_label, status)


def stamp(position: Any, eff: Effective) -> None:
    """Freeze the verdict on a fresh position (upstream #1085: at entry, persisted)."""
    if eff.status and position is not None and not position.policy_verdict:
        position.policy_regime, position.policy_verdict = eff.regime, eff.status
