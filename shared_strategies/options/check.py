"""One options check, from open legs to scored actions (upstream-options reference §1.4, 3-11).

The order is upstream's: the position cap first (before the name is checked or the venue is
asked), the strategy name, the spot, the vol and rank, the evaluator, the scoring, and the
signal cleared when every proposed leg was dropped. ``check_options.py`` wraps this with argv,
stdin and the venue's chain; the backtest calls it over a chain of its own bars, so both run
one implementation.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from shared_strategies.options import registry, scoring, vol
from shared_strategies.options.legs import Context
from shared_tools.options_chain import OptionsChain, OptionsChainError

__all__ = ["CheckResult", "Request", "run", "split_positions"]

MAX_POSITIONS = scoring.MAX_POSITIONS_PER_STRATEGY


@dataclass
class Request:
    """What one check is asked (argv and stdin, parsed)."""

    strategy: str
    underlying: str
    platform: str = "deribit"
    option_positions: list[dict[str, Any]] = field(default_factory=list)
    spot_positions: list[dict[str, Any]] = field(default_factory=list)
    iv_rank_source: str = "realized"  # "realized" (upstream) | "implied"


@dataclass
class CheckResult:
    """The output document's fields; ``soft`` errors exit 0 as upstream (§1.4 steps 4-5)."""

    doc: dict[str, Any]
    soft: bool = False


def split_positions(raw: Any) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Upstream's parse_positions_context: spot entries apart, non-dicts dropped."""
    items = raw if isinstance(raw, list) else []
    spot = [p for p in items if isinstance(p, dict) and p.get("position_type") == "spot"]
    opts = [p for p in items if isinstance(p, dict) and p.get("position_type") != "spot"]
    return opts, spot


def _base(req: Request, now_iso: str) -> dict[str, Any]:
    return {
        "strategy": req.strategy,
        "underlying": req.underlying,
        "signal": 0,
        "spot_price": 0.0,
        "actions": [],
        "iv_rank": 0.0,
        "regime": None,
        "platform": req.platform,
        "timestamp": now_iso,
    }


def _stderr(text: str) -> None:
    print(f"check_options: {text}", file=sys.stderr)


def _vol(
    chain: OptionsChain, req: Request, _log: Callable[[str], None]
) -> tuple[float, float, str]:
    """Upstream's get_vol_metrics over the chain's daily closes; a failed read falls back."""
    try:
        closes = chain.daily_closes(req.underlying, vol.RANK_CLOSES)
    except Exception as exc:  # upstream: any exception -> (0.60, 50.0)
        _log(f"daily closes unavailable ({exc}); vol/rank fallback")
        closes = []
    implied: Sequence[float] = ()
    if req.iv_rank_source == "implied":
        try:
            implied = chain.implied_vol_history(req.underlying, vol.RANK_CLOSES)
        except Exception as exc:
            _log(f"implied vol history unavailable ({exc}); realized rank")
    return vol.vol_metrics(closes, req.platform, source=req.iv_rank_source, implied_history=implied)


def run(
    req: Request,
    chain: Callable[[], OptionsChain],
    *,
    now_iso: str,
    closes_4h: Callable[[], Sequence[float] | None] = lambda: None,
    regime: Callable[[], str | None] = lambda: None,
    log: Callable[[str], None] | None = None,
) -> CheckResult:
    """One check. ``chain`` is called only past the cap and the name check (no venue call
    for a full book, as upstream). Exceptions other than the venue's own propagate (exit 1).
    ``log`` receives the why-nothing notes (default stderr; the backtest silences them)."""
    _log = log or _stderr
    doc = _base(req, now_iso)
    n = len(req.option_positions)
    if n >= MAX_POSITIONS:
        doc["skip_reason"] = f"Max positions reached ({n}/{MAX_POSITIONS})"
        return CheckResult(doc)
    if registry.get(req.strategy) is None:
        doc["error"] = f"Unknown strategy: {req.strategy}. Available: {registry.names()}"
        return CheckResult(doc, soft=True)
    venue = chain()
    try:
        spot = float(venue.spot(req.underlying))
    except OptionsChainError as exc:
        _log(str(exc))
        spot = 0.0
    if not (math.isfinite(spot) and spot > 0):
        doc["error"] = "Could not fetch spot price"
        return CheckResult(doc, soft=True)
    vol_annual, rank, source = _vol(venue, req, _log)
    doc.update(
        spot_price=round(spot, 2),
        iv_rank=round(rank, 1),
        vol_annual=vol_annual,
        iv_rank_source=source,
        multiplier=venue.multiplier(req.underlying),
        regime=regime(),
    )
    ctx = Context(
        req.underlying,
        spot,
        vol_annual,
        rank,
        req.option_positions,
        req.spot_positions,
        venue,
        closes_4h,
    )
    try:
        decision = registry.evaluate(req.strategy, ctx)
    except OptionsChainError as exc:  # upstream: an evaluator's failure is "no signal"
        _log(f"{req.strategy}: venue error, no signal: {exc}")
        return CheckResult(doc)
    if decision.note:
        _log(f"{req.strategy} {req.underlying}: {decision.note}")
    scored = scoring.score_proposal(decision.actions, req.option_positions, spot)
    for leg in scored.dropped:
        _log(
            f"dropped {leg['action']} {leg['option_type']} {leg['strike']:g}: score "
            f"{leg['score']} ({leg['score_reason']}); the structure is dropped whole"
        )
    signal = decision.signal if not (decision.actions and not scored.kept) else 0
    doc.update(signal=signal, actions=scored.kept, iv_rank=round(decision.iv_rank, 1))
    return CheckResult(doc)
