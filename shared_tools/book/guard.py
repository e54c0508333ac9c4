"""Stops and take-profit targets: armed when a position opens, checked on every cycle's mark.

The supervisor checks them on every cycle against that cycle's mark, whether or not the
strategy is due; the backtester checks them inside each bar. Both book a hit with one rule,
:func:`fill_price`: a take-profit target fills at its own price (a resting limit never fills
worse); a stop fills at the worse of its trigger and the first price seen past it (a stop
becomes a market order once crossed, so a gap through it fills at the gapped price).

Stop keys (upstream names; the config allows at most one):

* ``stop_loss_pct``         fixed, percent of the entry price;
* ``stop_loss_margin_pct``  fixed, percent of the margin: a price move of pct / leverage;
* ``stop_loss_atr_mult``    fixed, multiples of the ATR stamped at entry;
* ``trailing_stop_pct``     trails the best mark since open by percent of it;
* ``trailing_stop_atr_mult`` trails the best mark by multiples of the entry ATR;
* ``stop_loss_atr_regime`` / ``trailing_stop_atr_regime``: the same ATR stops with the multiple
  of the position's stamped regime label (:mod:`shared_tools.regime_policy`); an empty or
  unknown stamp arms no stop from them (upstream scheduler/regime_atr.go).

Targets come from the scalar take-profit close evaluators (``tiered_tp_atr`` and
``tiered_tp_pct``): each tier is a trigger and the cumulative share of the initial quantity
closed once it is reached, exactly as the evaluators read them.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from shared_tools.book.model import Guard, Position, usable
from shared_tools.regime_policy import atr_multiple

__all__ = [
    "DEFAULT_ATR_TIERS",
    "DEFAULT_PCT_TIERS",
    "Hit",
    "Protection",
    "arm",
    "stop_distance",
    "check",
    "fill_price",
    "after_target",
    "stop_after_from_closes",
    "tiers_from_closes",
    "worse",
]

# (profit_pct as a fraction of the entry price, cumulative close fraction)
DEFAULT_PCT_TIERS: tuple[tuple[float, float], ...] = (
    (0.01, 0.25),
    (0.02, 0.50),
    (0.03, 0.75),
    (0.04, 1.00),
)
# (ATR multiple, cumulative close fraction): upstream's on-chain default protection ladder.
DEFAULT_ATR_TIERS: tuple[tuple[float, float], ...] = (
    (1.5, 0.40),
    (3.0, 0.80),
    (5.0, 1.00),
)


@dataclass(frozen=True)
class Protection:
    """A strategy's stop and target rules, from its config (percent values as configured)."""

    stop_loss_pct: float = 0.0
    stop_loss_margin_pct: float = 0.0
    stop_loss_atr_mult: float = 0.0
    trailing_stop_pct: float = 0.0
    trailing_stop_atr_mult: float = 0.0
    trailing_stop_min_move_pct: float = 0.5
    # (label, ATR multiple) per regime label; resolved against the position's regime stamp
    stop_loss_atr_regime: tuple[tuple[str, float], ...] = ()
    trailing_stop_atr_regime: tuple[tuple[str, float], ...] = ()
    tp_atr_tiers: tuple[tuple[float, float], ...] = ()
    tp_pct_tiers: tuple[tuple[float, float], ...] = ()
    # sl_after per target tier, in tier order: ("breakeven", 0) or ("atr_offset", m); ("", 0)
    # none. Moves the stop once the tier fills, never loosening it (see stop_after_from_closes).
    tp_stop_after: tuple[tuple[str, float], ...] = ()

    @property
    def empty(self) -> bool:
        return not (
            self.stop_loss_pct
            or self.stop_loss_margin_pct
            or self.stop_loss_atr_mult
            or self.trailing_stop_pct
            or self.trailing_stop_atr_mult
            or self.stop_loss_atr_regime
            or self.trailing_stop_atr_regime
            or self.tp_atr_tiers
            or self.tp_pct_tiers
        )


@dataclass(frozen=True)
class Hit:
    """A protection trigger: close ``fraction`` of the current quantity at ``price``."""

    fraction: float
    price: float
    reason: str


def _tiers(
    raw: object, key: str, default: tuple[tuple[float, float], ...]
) -> tuple[tuple[float, float], ...]:
    if raw is None:
        return default
    out = []
    if isinstance(raw, list):
        for tier in raw:
            if isinstance(tier, Mapping):
                trigger, fraction = tier.get(key), tier.get("close_fraction")
                if usable(trigger) and usable(fraction):
                    out.append((float(trigger), min(float(fraction), 1.0)))
    return tuple(sorted(out))


def tiers_from_closes(
    closes: Iterable[tuple[str, Mapping[str, Any]]],
) -> tuple[tuple[tuple[float, float], ...], tuple[tuple[float, float], ...]]:
    """(atr tiers, pct tiers) of the scalar take-profit evaluators among ``closes``.

    ``closes`` are (name, params) pairs as configured. Evaluators whose targets depend on the
    live market (``tiered_tp_atr_live``, ratchets, regime ladders) are left to the check,
    which reports their ``close_fraction`` each time it runs.
    """
    atr: tuple[tuple[float, float], ...] = ()
    pct: tuple[tuple[float, float], ...] = ()
    for name, params in closes:
        if name == "tiered_tp_atr" and params.get("atr_source", "entry") == "entry":
            atr = _tiers(params.get("tp_tiers"), "atr_multiple", DEFAULT_ATR_TIERS)
        elif name in ("tiered_tp_pct", "tp_at_pct"):
            pct = _tiers(params.get("tp_tiers"), "profit_pct", DEFAULT_PCT_TIERS)
    return atr, pct


def _stop_rule(raw: object) -> tuple[str, float]:
    """One ``sl_after`` value the guard can hold: breakeven, or a scalar ATR offset from the
    entry. Trails from the mark and regime ladders stay with the check's close evaluators
    (shared_strategies/close/post_tp_sl.py), which own the full rule set."""
    if isinstance(raw, str) and raw.strip().lower() == "breakeven":
        return ("breakeven", 0.0)
    if isinstance(raw, Mapping):
        kind = str(raw.get("kind") or "atr_offset").lower()
        if kind == "breakeven":
            return ("breakeven", 0.0)
        mult = raw.get("atr_mult", raw.get("atr_offset"))
        if kind == "atr_offset" and isinstance(mult, (int, float)) and math.isfinite(mult):
            return ("atr_offset", float(mult))
    return ("", 0.0)


def stop_after_from_closes(
    closes: Iterable[tuple[str, Mapping[str, Any]]],
) -> tuple[tuple[str, float], ...]:
    """The ``sl_after`` rule of each target tier (sorted as the guard's tiers), from the same
    close ref :func:`tiers_from_closes` arms: a tier's own rule, else the ref's default."""
    out: tuple[tuple[str, float], ...] = ()
    for name, params in closes:
        key = {"tiered_tp_atr": "atr_multiple", "tiered_tp_pct": "profit_pct"}.get(name)
        if key is None or not isinstance(params.get("tp_tiers"), list):
            continue
        default = _stop_rule(params.get("sl_after"))
        rows = []
        for tier in params["tp_tiers"]:
            if isinstance(tier, Mapping) and usable(tier.get(key)):
                rule = _stop_rule(tier["sl_after"]) if "sl_after" in tier else default
                rows.append((float(tier[key]), rule))
        out = tuple(rule for _t, rule in sorted(rows, key=lambda r: r[0]))
    return out


def after_target(pos: Position, index: int) -> bool:
    """Move the stop by target ``index``'s ``sl_after`` price once that tier filled; only
    ever tighter (upstream left this clamp to callers that did not apply it). True: moved."""
    g = pos.guard
    if not (0 <= index < len(g.stop_after)) or g.stop_after[index] <= 0:
        return False
    new = g.stop_after[index]
    if g.stop > 0 and (new - g.stop) * pos.sign <= 0:
        return False
    g.stop = new
    g.stop_kind = g.stop_kind or "stop_loss"
    return True


def stop_distance(
    rules: Protection, entry: float, atr: float, leverage: float, sign: int, regime: str = ""
) -> float:
    """The price distance from ``entry`` to the stop :func:`arm` sets (0: no stop can be armed).

    One function for the guard and for ``risk_per_trade_pct`` sizing, so the size a position
    gets and the stop it is armed with never disagree. ``atr`` is the entry ATR (0: unknown);
    ``regime`` the position's stamped label (the regime ATR stops' key); a long's distance must
    stay below the entry (a stop at or under zero is no stop). The scalar stops outrank the
    regime ones (upstream's precedence; the config allows only one owner anyway).
    """
    distance = 0.0
    if rules.stop_loss_pct:
        distance = entry * rules.stop_loss_pct / 100.0
    elif rules.stop_loss_margin_pct:
        distance = entry * rules.stop_loss_margin_pct / 100.0 / max(leverage, 1.0)
    elif rules.stop_loss_atr_mult:
        distance = rules.stop_loss_atr_mult * atr if atr > 0 else 0.0
    elif rules.trailing_stop_pct:
        distance = entry * rules.trailing_stop_pct / 100.0
    elif rules.trailing_stop_atr_mult:
        distance = rules.trailing_stop_atr_mult * atr if atr > 0 else 0.0
    elif rules.stop_loss_atr_regime:
        distance = atr_multiple(rules.stop_loss_atr_regime, regime) * max(atr, 0.0)
    elif rules.trailing_stop_atr_regime:
        distance = atr_multiple(rules.trailing_stop_atr_regime, regime) * max(atr, 0.0)
    if not (math.isfinite(distance) and distance > 0) or (sign > 0 and distance >= entry):
        return 0.0
    return distance


def _stop_note(rules: Protection, atr: float, regime: str = "") -> str:
    """Why an ATR stop could not be armed ("" when it could, or none is configured)."""
    table = rules.stop_loss_atr_regime or rules.trailing_stop_atr_regime
    scalar = rules.stop_loss_pct or rules.stop_loss_margin_pct or rules.stop_loss_atr_mult
    trail = rules.trailing_stop_pct or rules.trailing_stop_atr_mult
    if table and not scalar and not trail and not atr_multiple(table, regime):
        return f"no regime stamp ({regime or 'empty'}): the regime ATR stop is not armed"
    if atr > 0:
        return ""
    if rules.stop_loss_pct or rules.stop_loss_margin_pct:
        return ""
    if rules.stop_loss_atr_mult:
        return "no entry ATR: the ATR stop is not armed"
    if not rules.trailing_stop_pct and rules.trailing_stop_atr_mult:
        return "no entry ATR: the trailing ATR stop is not armed"
    if table:
        return "no entry ATR: the regime ATR stop is not armed"
    return ""


def arm(pos: Position, rules: Protection) -> list[str]:
    """Set ``pos.guard`` from ``rules`` at open; returns notes on what could not be armed.

    A position that scaled in is armed from its risk anchor (the average before the first add,
    book/scale_in.py), not the blended average: its triggers never move with an add.
    """
    entry = pos.risk_anchor_price or pos.avg_cost
    g = Guard(best=entry)
    s, atr = pos.sign, pos.entry_atr
    note = _stop_note(rules, atr, pos.regime)
    notes: list[str] = [note] if note else []
    distance = stop_distance(rules, entry, atr, pos.leverage, s, pos.regime)
    if distance > 0:
        fixed = bool(rules.stop_loss_pct or rules.stop_loss_margin_pct or rules.stop_loss_atr_mult)
        fixed = fixed or bool(rules.stop_loss_atr_regime and not rules.trailing_stop_pct)
        if not fixed and rules.trailing_stop_pct:
            g.trail_pct = rules.trailing_stop_pct / 100.0
        elif not fixed and (rules.trailing_stop_atr_mult or rules.trailing_stop_atr_regime):
            g.trail_distance = distance
        g.stop = entry - s * distance
        g.stop_kind = "trailing_stop" if g.trailing else "stop_loss"
        g.min_move = rules.trailing_stop_min_move_pct / 100.0 if g.trailing else 0.0
    targets: list[list[float]] = []
    if rules.tp_atr_tiers:
        if atr > 0:
            targets = [[entry + s * m * atr, f] for m, f in rules.tp_atr_tiers]
        else:
            notes.append("no entry ATR: the ATR take-profit targets are not armed")
    elif rules.tp_pct_tiers:
        targets = [[entry * (1 + s * p), f] for p, f in rules.tp_pct_tiers]
    g.targets = [t for t in targets if t[0] > 0]
    rules_after = list(rules.tp_stop_after)
    if len(rules_after) == len(targets) and any(k for k, _m in rules_after):
        prices = []
        for (price, _f), (kind, mult) in zip(targets, rules_after, strict=True):
            move = entry if kind == "breakeven" else entry + s * mult * atr
            ok = kind and price > 0 and move > 0 and (kind == "breakeven" or atr > 0)
            prices.append(move if ok else 0.0)
        g.stop_after = [p for p, t in zip(prices, targets, strict=True) if t[0] > 0]
    pos.guard = g
    return notes


def trail(pos: Position, mark: float) -> bool:
    """Follow ``mark`` with a trailing stop without judging it (live: the venue's resting stop
    is the one that fires); True when the stop moved."""
    before = pos.guard.stop
    if pos.guard.trailing and usable(mark):
        _trail(pos, mark)
    return pos.guard.stop != before


def _trail(pos: Position, mark: float) -> None:
    """Move the best mark and, by at least ``min_move``, the trailing stop behind it."""
    g, s = pos.guard, pos.sign
    if (mark - g.best) * s <= 0:
        return
    g.best = mark
    new = mark * (1 - s * g.trail_pct) if g.trail_pct else mark - s * g.trail_distance
    if new <= 0:
        return
    improvement = (new - g.stop) * s
    if g.stop <= 0 or improvement >= g.min_move * g.stop:
        g.stop = new


def check(pos: Position, mark: float) -> list[Hit]:
    """Triggers hit at ``mark``: a stop closes everything; targets close their tiers in order.

    The trailing stop is judged before it moves, then follows the mark (a mark can't both set
    a new best and fall through the stop it sets).
    """
    g, s = pos.guard, pos.sign
    if not usable(mark):
        return []
    if g.stop > 0 and (mark - g.stop) * s <= 0:
        return [Hit(1.0, g.stop, g.stop_kind or "stop_loss")]
    if g.trailing:
        _trail(pos, mark)
    hits: list[Hit] = []
    if not g.targets or pos.initial_quantity <= 0:
        return hits
    held = pos.quantity / pos.initial_quantity  # share of the initial quantity still held
    closed = 1.0 - held
    for price, cumulative in sorted(g.targets, key=lambda t: t[0] * s):
        if (mark - price) * s < 0:
            break
        need = cumulative - closed
        if need > 1e-9 and held > 1e-12:
            fraction = min(need / held, 1.0)
            hits.append(Hit(fraction, price, "take_profit"))
            held -= held * fraction
            closed = 1.0 - held
    return hits


def worse(a: float, b: float, sign: int) -> float:
    """The worse of two fills for a position of ``sign``: the lower for a long, higher for a short."""
    return min(a, b) if sign > 0 else max(a, b)


def fill_price(hit: Hit, seen: float, sign: int) -> float:
    """Where ``hit`` fills when ``seen`` is the first price seen past its trigger.

    Targets fill at their own price; stops at the worse of the trigger and ``seen`` (the
    supervisor's mark, or the backtest bar's open: inside a bar that did not open past the
    stop, the price crossed it continuously and the trigger is the fill).
    """
    if hit.reason == "take_profit" or not usable(seen):
        return hit.price
    return worse(hit.price, seen, sign)
