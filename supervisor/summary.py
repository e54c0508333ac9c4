"""The per-cycle summary table printed to the terminal (and the journal under systemd)."""

from __future__ import annotations

from shared_tools.config.model import Config
from supervisor.cycle_report import CycleReport
from supervisor.state.models import AppState


def _money(x: float) -> str:
    return f"{x:,.2f}"


def format_summary(
    report: CycleReport, app: AppState, config: Config, *, save_error: str = ""
) -> str:
    """A readable per-strategy table for the terminal and the journal."""
    names = {"1": "BUY", "-1": "SELL", "0": "HOLD"}
    lines = [
        f"go-trader cycle {report.cycle}: {len(report.outcomes)} strategies in "
        f"{report.duration_s:.1f}s ({config.market_data} market)",
        f"{'strategy':<22} {'signal':<6} {'price':>12}  {'action':<34} {'value':>11} {'pnl%':>8}",
    ]
    total_value = total_initial = 0.0
    by_id = {o.id: o for o in report.outcomes}
    for sc in config.strategies:
        sid, strat = sc.id, app.strategies[sc.id]
        value = strat.value(app.prices_for(strat.venue))
        total_value += value
        total_initial += strat.initial_capital
        o = by_id.get(sid)
        if o is None:
            continue
        pnl_pct = (value / strat.initial_capital - 1) * 100 if strat.initial_capital else 0.0
        sig = names.get(str(o.signal), "-")
        price = _money(o.price) if o.price else "-"
        action = o.action or (f"ERROR: {o.error}" if o.error else "")
        lines.append(
            f"{sid:<22} {sig:<6} {price:>12}  {action[:34]:<34} {_money(value):>11} {pnl_pct:>+7.2f}%"
        )
    pnl_total = (total_value / total_initial - 1) * 100 if total_initial else 0.0
    lines.append(
        f"{'TOTAL':<22} {'':<6} {'':>12}  {'':<34} {_money(total_value):>11} {pnl_total:>+7.2f}%"
    )
    if report.trades:
        lines.append(f"trades this cycle: {len(report.trades)}")
        for t in report.trades:
            lines.append(f"  [{t.strategy_id}] {t.details}")
    else:
        lines.append("trades this cycle: none")
    if save_error:
        lines.append(f"state: NOT saved to {config.db_file} ({save_error}); trading paused")
    else:
        lines.append(f"state: cycle {report.cycle} committed to {config.db_file}")
    return "\n".join(lines)
