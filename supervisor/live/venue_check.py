"""OKX, TopStep and Robinhood: the per-cycle position check and the flat confirmation.

These venues report no stop or target fills of their own (the supervisor closes by market
order), so the check is simpler than Hyperliquid's reconcile (supervisor/live/reconcile.py):
each cycle ``fetch_<venue>_positions.py`` is read beside the signal checks and every symbol a
live strategy trades there is compared with the book's net quantity. A difference is a gap:
never guessed onto a strategy, entries on the symbol held while it lasts, an alert after
three cycles and one when it clears. A failed read is never "flat" (upstream #346/#350): it
holds the venue's entries and confirms nothing.

OKX spot holdings are balances, not positions (``fetch_okx_positions.py`` lists swaps), so
OKX spot books are not position-checked here; their buys are guarded by
``cash_reconcile_required`` instead (supervisor/live/cash_latch.py).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from shared_tools.config.model import Config, StrategyConfig
from supervisor.live.venues import HL, coin
from supervisor.risk.portfolio import RiskEvent
from supervisor.run.jobs import Job, Result
from supervisor.state.models import StrategyState

KEY = "live_venues"
GAP_ALERT_CYCLES = 3
TOLERANCE = 1e-9


def job_key(platform: str) -> str:
    return f"live:{platform}:positions"


def checked(sc: StrategyConfig) -> bool:
    """Is ``sc``'s symbol in its venue's positions list (all but HL and OKX spot)?"""
    return sc.platform != HL and not (sc.platform == "okx" and sc.type == "spot")


def venues(config: Config) -> list[str]:
    """The non-HL venues with live strategies, in a stable order."""
    return sorted({sc.platform for sc in config.live_strategies if sc.platform != HL})


def positions_job(platform: str, script: str, key: str = "") -> Job:
    return Job(key=key or job_key(platform), script=script, args=())


def positions_of(r: Result | None) -> dict[str, float] | None:
    """Signed size per coin from a ``fetch_*_positions`` answer; None when it was not read."""
    if r is None or not r.ok or not isinstance(r.data, dict):
        return None
    rows = r.data.get("positions")
    if not isinstance(rows, list) or r.data.get("error"):
        return None
    out: dict[str, float] = {}
    for p in rows:
        if not isinstance(p, dict):
            return None
        try:
            size = float(p.get("size") or 0.0)
        except (TypeError, ValueError):
            return None
        if not math.isfinite(size):
            return None
        if str(p.get("side") or "").lower() == "short" and size > 0:
            size = -size
        c = coin(str(p.get("coin") or ""))
        out[c] = out.get(c, 0.0) + size
    return out


def book_net(
    config: Config, strategies: dict[str, StrategyState], platform: str, symbol: str
) -> float:
    """The book's signed quantity on ``symbol`` across the venue's live strategies."""
    total = 0.0
    for sc in config.live_strategies:
        strat = strategies.get(sc.id)
        if sc.platform != platform or strat is None or not checked(sc):
            continue
        for sym, pos in strat.positions.items():
            if coin(sym) == coin(symbol):
                total += pos.sign * pos.quantity
    return total


def agrees(book: float, venue: float) -> bool:
    return abs(book - venue) <= TOLERANCE * max(1.0, abs(book), abs(venue))


@dataclass
class Check:
    gaps: set[str] = field(default_factory=set)  # symbols whose entries are held
    notes: list[str] = field(default_factory=list)
    events: list[RiskEvent] = field(default_factory=list)


def check(
    config: Config,
    strategies: dict[str, StrategyState],
    extra: dict[str, Any],
    platform: str,
    held: dict[str, float],
) -> Check:
    """Compare the book with the venue's positions; keep the gap memory in ``extra``."""
    memory = extra.setdefault(KEY, {}).setdefault(platform, {}).setdefault("gaps", {})
    out = Check()
    symbols = {
        coin(sc.symbol) for sc in config.live_strategies if sc.platform == platform and checked(sc)
    }
    for sym in sorted(symbols | set(memory)):
        book, venue = book_net(config, strategies, platform, sym), held.get(sym, 0.0)
        gap = memory.get(sym)
        if agrees(book, venue):
            if gap is not None:
                del memory[sym]
                if gap.get("alerted"):
                    text = f"{platform.upper()} RECONCILE GAP RESOLVED {sym}"
                    out.events.append(RiskEvent("reconcile", text, critical=True))
            continue
        gap = gap or {"cycles": 0, "alerted": False}
        gap.update(cycles=gap["cycles"] + 1, book=book, venue=venue)
        memory[sym] = gap
        out.gaps.add(sym)
        out.notes.append(
            f"[live] {platform} {sym}: book {book:+g} vs venue {venue:+g} (gap "
            f"{venue - book:+g}, {gap['cycles']} cycle(s)); entries on {sym} held"
        )
        if gap["cycles"] >= GAP_ALERT_CYCLES and not gap["alerted"]:
            gap["alerted"] = True
            text = (
                f"{platform.upper()} RECONCILE GAP {sym} ({gap['cycles']} consecutive cycles): "
                f"book={book:+g} vs venue={venue:+g}. These venues report no stop or target "
                "fills; entries on the symbol are held; check the venue and close or adopt the "
                "difference by hand."
            )
            out.events.append(RiskEvent("reconcile", text, critical=True))
    return out
