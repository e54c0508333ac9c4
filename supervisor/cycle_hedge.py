"""The cycle's hedge step: a strategy's ``hedge`` leg against its primary position.

The rules are the book's (shared_tools/book/hedge.py), so the backtester could use the same
function; this step only feeds it the cycle's marks and books what it returns. Paper only: the
loader refuses ``hedge`` on a live strategy (shared_tools/config/hedge.py).
"""

from __future__ import annotations

from typing import Any

from shared_tools.book.hedge import HedgeLeg, reconcile_hedge
from shared_tools.config.model import StrategyConfig


def reconcile(cy: Any, sc: StrategyConfig) -> None:
    """Open, grow, cut or close ``sc``'s hedge leg at this cycle's marks (``cy``: the Cycle)."""
    assert sc.hedge is not None
    strat = cy.app.strategies[sc.id]
    leg = HedgeLeg(sc.hedge.symbol, sc.hedge.ratio, sc.hedge.leverage, sc.rules.fee_rate)
    marks = {s: m for s in (sc.symbol, leg.symbol) if (m := cy.cycle_mark(sc.venue, s))}
    trades, note = reconcile_hedge(strat, sc.symbol, leg, marks, cy.stamp, cy.epoch)
    cy.book_trades(sc, strat, trades)
    if note:
        cy.report.notes.append(f"[{sc.id}] {note}")
