"""OKX, TopStep and Robinhood: the per-cycle position check and the flat confirmation.

These venues report no stop or target fills of their own (the supervisor closes by market
order), so the check is simpler than Hyperliquid's reconcile (supervisor/live/reconcile.py):
each cycle ``fetch_<venue>_positions.py`` is read beside the signal checks and every symbol a
live strategy trades there is compared with the book's net quantity. A difference is a gap:
never guessed onto a strategy, entries on the symbol held while it lasts, an alert after
three cycles and one when it clears. A failed read is never "flat" (upstream #346/#350): it
holds the venue's entries and confirms nothing.

OKX spot holdings are balances, not positions (``fetch_okx_positions.py`` lists swaps): the
live OKX spot books are checked as their own "book", ``okx:spot``, against the coins
``fetch_okx_balance.py`` reports. A spot account may hold more of a coin than its strategies
(coins bought by hand, deposits), so only a *shortfall* is a gap: the coin balance below the
summed quantity of every live OKX spot strategy on that coin by more than the lot tolerance
(one lot or minimum size per strategy, plus a taker fee's worth, in case the venue took the
buy's fee in the coin). A smaller difference is dust and ignored. A gap is handled as a swap
gap (entries held, an alert after three cycles, the book never changed to match).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from shared_tools.config.model import Config, StrategyConfig
from supervisor.live.venues import HL, coin, driver
from supervisor.risk.portfolio import RiskEvent
from supervisor.run.jobs import Job, Result
from supervisor.state.models import StrategyState

KEY = "live_venues"
GAP_ALERT_CYCLES = 3
TOLERANCE = 1e-9
OKX_SPOT = "okx:spot"  # the OKX spot books: checked against the account's coin balances
SPOT_SCRIPT = "shared_scripts/fetch_okx_balance.py"


def job_key(platform: str) -> str:
    return f"live:{platform}:positions"


def book_of(sc: StrategyConfig) -> str:
    """The checked "book" ``sc`` belongs to: its venue, or ``okx:spot`` for OKX spot."""
    return OKX_SPOT if sc.platform == "okx" and sc.type == "spot" else sc.platform


def checked(sc: StrategyConfig) -> bool:
    """Is ``sc`` checked against its venue here (every live strategy but HL's)?"""
    return sc.platform != HL


def venues(config: Config) -> list[str]:
    """The checked books with live strategies (venues, ``okx:spot``), in a stable order."""
    return sorted({book_of(sc) for sc in config.live_strategies if checked(sc)})


def positions_job(platform: str, script: str, key: str = "") -> Job:
    return Job(key=key or job_key(platform), script=script, args=())


def read_job(book: str) -> Job:
    """The cycle's read of a checked book: the venue's positions, OKX spot's coin balances."""
    if book == OKX_SPOT:
        return positions_job(book, driver("okx").path(SPOT_SCRIPT))
    d = driver(book)
    return positions_job(book, d.path(d.positions_script))


def holdings_of(r: Result | None) -> dict[str, float] | None:
    """Coin balances from a ``fetch_okx_balance.py`` answer; None when it was not read."""
    if r is None or not r.ok or not isinstance(r.data, dict) or r.data.get("error"):
        return None
    coins = r.data.get("coins")
    if not isinstance(coins, dict):
        return None
    out: dict[str, float] = {}
    for ccy, qty in coins.items():
        try:
            value = float(qty)
        except (TypeError, ValueError):
            return None
        if not math.isfinite(value):
            return None
        out[coin(str(ccy))] = out.get(coin(str(ccy)), 0.0) + value
    return out


def read_of(book: str, r: Result | None) -> dict[str, float] | None:
    """What the venue holds for ``book`` (None: not read)."""
    return holdings_of(r) if book == OKX_SPOT else positions_of(r)


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
    """The book's signed quantity on ``symbol`` across the checked book's live strategies
    (``platform``: a venue, or ``okx:spot``)."""
    total = 0.0
    for sc in config.live_strategies:
        strat = strategies.get(sc.id)
        if book_of(sc) != platform or strat is None or not checked(sc):
            continue
        for sym, pos in strat.positions.items():
            if coin(sym) == coin(symbol):
                total += pos.sign * pos.quantity
    return total


def agrees(book: float, venue: float) -> bool:
    return abs(book - venue) <= TOLERANCE * max(1.0, abs(book), abs(venue))


def spot_tolerance(config: Config, symbol: str, book: float) -> float:
    """How far an OKX spot balance may fall below the book (dust): one lot or minimum size
    per strategy holding the coin, plus a taker fee's worth of the book's quantity."""
    lots, fee = 0.0, 0.0
    for sc in config.live_strategies:
        if book_of(sc) == OKX_SPOT and coin(sc.symbol) == coin(symbol):
            inst = sc.rules.instrument_of(sc.symbol)
            lots += max(inst.lot_size, inst.min_qty)
            fee = max(fee, inst.taker_fee)
    return lots + abs(book) * fee + TOLERANCE * max(1.0, abs(book))


def spot_agrees(config: Config, symbol: str, book: float, venue: float) -> bool:
    """A spot book agrees while the coin balance covers it (to the tolerance); more held is
    not the book's business (coins bought by hand, deposits)."""
    return book - venue <= spot_tolerance(config, symbol, book)


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
        coin(sc.symbol) for sc in config.live_strategies if book_of(sc) == platform and checked(sc)
    }
    for sym in sorted(symbols | set(memory)):
        book, venue = book_net(config, strategies, platform, sym), held.get(sym, 0.0)
        gap = memory.get(sym)
        if platform == OKX_SPOT and spot_agrees(config, sym, book, venue):
            venue = book  # covered: a surplus or dust is no gap
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
