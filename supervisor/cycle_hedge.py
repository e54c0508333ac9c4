"""The cycle's hedge step: a strategy's ``hedge`` leg against its primary position.

The rules are the book's (shared_tools/book/hedge.py), so the backtester could use the same
function; this step only feeds it the cycle's marks and books what it returns. Paper only: the
loader refuses ``hedge`` on a live strategy (shared_tools/config/hedge.py).
"""

from __future__ import annotations

from typing import Any

from shared_tools.book.hedge import HedgeLeg, reconcile_hedge
from shared_tools.book.perps import PerpsBook
from shared_tools.config.model import StrategyConfig

ORPHAN = "hedge_removed"


def reconcile(cy: Any, sc: StrategyConfig) -> None:
    """Open, grow, cut or close ``sc``'s hedge leg at this cycle's marks (``cy``: the Cycle).

    A hedge leg the config no longer asks for (the block removed or its coin changed, which a
    restart allows) is closed at its mark: upstream only warns about such an orphan at start,
    but a paper leg without a stop or a reconciler would otherwise be held for ever.
    """
    strat = cy.app.strategies[sc.id]
    wanted = sc.hedge.symbol if sc.hedge is not None and sc.hedge.enabled else ""
    for sym, pos in list(strat.positions.items()):
        mark = cy.cycle_mark(sc.venue, sym)
        if pos.hedge_for and sym != wanted and mark:
            perps = PerpsBook(sc.rules.fee_rate, pos.leverage)  # a hedge leg is always perps
            trade, _ = perps.close(strat, sym, mark, cy.stamp, 1.0, ORPHAN)
            if trade is not None:
                cy.book_trades(sc, strat, [trade])
                cy.report.notes.append(
                    f"[{sc.id}] hedge leg {sym} closed: no hedge block asks for it"
                )
    if sc.hedge is None or not wanted:
        return
    leg = HedgeLeg(sc.hedge.symbol, sc.hedge.ratio, sc.hedge.leverage, sc.rules.fee_rate)
    marks = {s: m for s in (sc.symbol, leg.symbol) if (m := cy.cycle_mark(sc.venue, s))}
    held = cy.halted or strat.risk.circuit_breaker  # a latch holds new hedge exposure too
    trades, note = reconcile_hedge(
        strat, sc.symbol, leg, marks, cy.stamp, cy.epoch, may_open=not held
    )
    cy.book_trades(sc, strat, trades)
    if note:
        cy.report.notes.append(f"[{sc.id}] {note}")
