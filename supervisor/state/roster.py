"""The book's roster at start-up: strategies pruned, added and re-capitalised from the config.

Every change passes through :mod:`supervisor.state.capital` as a cashflow (a deposit or a
withdrawal), so no drawdown reading moves because the roster or a capital changed; the rows
commit with the book (the prune in its own transaction, the rest with the first cycle's save).
"""

from __future__ import annotations

import sys
from collections.abc import Callable

from shared_tools.config.model import Config
from supervisor.state import capital
from supervisor.state.db import StateDB
from supervisor.state.models import AppState, StrategyState


def prune(
    db: StateDB, app: AppState, config: Config, *, prune_open: bool, log: Callable[[str], None]
) -> bool:
    """Drop strategies no longer configured; refuse (False) while they hold positions."""
    configured = {s.id for s in config.strategies}
    holding = {
        sid: sorted(strat.positions)
        for sid, strat in app.strategies.items()
        if sid not in configured and strat.positions
    }
    if holding and not prune_open:
        for sid, symbols in sorted(holding.items()):
            print(
                f"state {config.db_file}: strategy '{sid}' is no longer in the config but "
                f"holds {', '.join(symbols)}; put it back to let it close, or start with "
                "--prune-open to drop those positions",
                file=sys.stderr,
            )
        return False
    gone = sorted(sid for sid in app.strategies if sid not in configured)
    for sid in gone:  # its value leaves the book as a withdrawal: no drawdown reading moves
        flow = capital.remove_strategy(app, sid, "pruned")
        log(f"[state] pruned strategy '{sid}' (no longer in the config; {capital.describe(flow)})")
    db.prune(configured, app if gone else None)  # one transaction with the book
    return True


def reconcile(
    app: AppState,
    config: Config,
    *,
    log: Callable[[str], None],
    capitals: dict[str, float] | None = None,
) -> None:
    """Bring the book to the config's roster and capitals, each change as a cashflow.

    ``capitals``: the resolved capital of each ``capital_pct`` strategy
    (supervisor/risk/capital_pct.py): what it is deposited with when it joins; as upstream, it
    never re-capitalises a strategy already in the book (its stored baseline stays).
    """
    first = not app.strategies and not app.cycle_count
    resolved = capitals or {}
    for sc in config.strategies:
        strat = app.strategies.get(sc.id)
        base = capital.baseline(sc)
        if strat is None:
            deposit = resolved.get(sc.id, sc.capital)
            if sc.id in resolved:
                base = float(sc.initial_capital or deposit)
            strat = StrategyState(sc.id, sc.type, sc.platform, cash=0.0, initial_capital=0.0)
            flow = capital.add_strategy(app, strat, deposit, base, "initial" if first else "added")
            if not first:
                log(f"[state] {sc.id}: added to the book ({capital.describe(flow)})")
        elif sc.id in resolved:
            pass  # capital_pct: the stored baseline stays (upstream EffectiveInitialCapital)
        elif why := capital.cut_problem(strat, base):
            log(f"[state] {why}; the stored capital {strat.initial_capital:g} stays for now")
        elif abs(strat.initial_capital - base) > capital.EPS:
            was = strat.initial_capital
            flow = capital.set_capital(app, strat, base, "restart")
            log(
                f"[state] {sc.id}: capital {was:g} -> {base:g} from the config "
                f"({capital.describe(flow)})"
            )
        strat.type, strat.platform = sc.type, sc.platform
        strat.risk.max_drawdown_pct = sc.max_drawdown_pct
    # rebase peaks on what remains (no-op for strategies whose peak is already set)
    for strat in app.strategies.values():
        if strat.risk.peak_value <= 0:
            strat.risk.peak_value = strat.value(app.prices_for(strat.venue))
