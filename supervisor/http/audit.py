"""The strategy audit (``/reports/strategy-audit``, ``/api/reports/strategy-audit``,
``go-trader audit``): per strategy, what it did and whether an operator should look at it.

Computed from the book, never written by hand: upstream's audit page is a hard-coded table dated
2026-06-10 (reference A.7); ours is built on each request from the same state the /api reads use.
Pure functions of (config, state, /status view) entries and the trade ledger
(``StateDB.trade_ledger``); the board gathers them under the book's lock, the CLI from the last
committed cycle, and both call :func:`build`, so the page, the CSV and the terminal agree.

Figures, per strategy:

- ``trades``: buys and sells (funding rows are cash movements, not trades); ``closes``: close
  legs; ``wins``/``losses``/``win_rate`` by the sign of each close's net P&L (as the overview);
- ``realized_pnl``: the sum of every row's net P&L (fees included, funding too), the same rule as
  ``StateDB.realized_pnl``; ``unrealized_pnl``: the open positions and option legs at the marks;
  ``pnl``/``pnl_pct``: value minus initial capital, as /status;
- ``max_drawdown_pct``: the largest fall from a peak of the realized equity curve (initial
  capital plus cumulative net P&L after each row), with today's marked value as its last point;
  capital changes (deposits, withdrawals) are not trades and are not on this curve;
- ``sharpe``: the overview's per-close Sharpe (:func:`supervisor.http.api.trade_sharpe`);
- ``days_since_last_trade``, ``fees``, ``close_reasons`` (count per close reason);
- config highlights: type, platform, mode, direction, leverage, stops, the regime gate.

The verdict, first rule that matches (:data:`RULE` states it for the page and the CSV):

- ``dead``: the circuit breaker is latched, the last :data:`DEAD_FAILURES` checks failed, or the
  last trade is at least ``dead_days`` old (default 14);
- ``review``: P&L (realized plus unrealized) below zero over at least ``min_trades`` closes
  (default 10);
- ``new``: fewer than ``min_trades`` closes: too early to judge;
- ``ok``: otherwise.
"""

from __future__ import annotations

import io
from collections import Counter
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from shared_tools.config.model import StrategyConfig
from shared_tools.text import one_line
from supervisor.http.api import trade_sharpe, win_rate
from supervisor.state.models import StrategyState, parse_iso, utc_iso

DEAD_FAILURES = 3
DEAD_DAYS, DEAD_DAYS_MAX = 14, 3650
MIN_TRADES, MIN_TRADES_MAX = 10, 100_000
LedgerRow = tuple[str, str, bool, float, float, str]  # ts, side, is_close, net, fee, reason
Entry = tuple[StrategyConfig, StrategyState, dict]  # config, book, its /status view

# the CSV's columns and the CLI table's, in order (close_reasons flattened as "reason=n;...")
COLUMNS = (
    "id",
    "verdict",
    "why",
    "type",
    "platform",
    "symbol",
    "mode",
    "paused",
    "direction",
    "leverage",
    "stops",
    "close_strategies",
    "regime_gate",
    "trades",
    "closes",
    "wins",
    "losses",
    "win_rate",
    "realized_pnl",
    "unrealized_pnl",
    "pnl",
    "pnl_pct",
    "max_drawdown_pct",
    "sharpe",
    "fees",
    "last_trade",
    "days_since_last_trade",
    "close_reasons",
)


def rule_text(dead_days: int, min_trades: int) -> str:
    """The verdict rule in one line, as shown on the page and in the CLI."""
    return (
        f"dead: breaker latched, {DEAD_FAILURES} failed checks in a row, or no trade for "
        f"{dead_days} days or more; review: P&L below zero over {min_trades} closes or more; "
        f"new: fewer than {min_trades} closes; ok: otherwise"
    )


def stopped_reason(strat: StrategyState) -> str:
    """Why a strategy stopped trading on its own ("" when it did not): breaker or failures.
    ``/api/strategies/dead`` uses the same rule."""
    if strat.risk.circuit_breaker:
        return f"circuit breaker: {strat.risk.circuit_breaker_reason or 'latched'}"
    if strat.consecutive_failures >= DEAD_FAILURES:
        return f"{strat.consecutive_failures} failed checks: {strat.last_error}"
    return ""


def stops_text(sc: StrategyConfig) -> str:
    """The stop settings that are set, e.g. ``stop_loss_pct=5 trailing_stop_atr_mult=2``."""
    keys = (
        "stop_loss_pct",
        "stop_loss_margin_pct",
        "stop_loss_atr_mult",
        "trailing_stop_pct",
        "trailing_stop_atr_mult",
    )
    return " ".join(f"{k}={getattr(sc, k):g}" for k in keys if getattr(sc, k))


def regime_gate_text(sc: StrategyConfig) -> str:
    """``window:label,label`` when entries are gated by regime, else ""."""
    if not sc.allowed_regimes:
        return ""
    window = sc.regime_gate_window or "first"
    fail = " (fail closed)" if sc.regime_gate_on_failure == "closed" else ""
    return f"{window}:{','.join(sc.allowed_regimes)}{fail}"


def highlights(sc: StrategyConfig) -> dict:
    """The config an auditor reads first."""
    return {
        "type": sc.type,
        "platform": sc.platform,
        "symbol": sc.symbol,
        "mode": "live" if sc.live else "paper",
        "direction": sc.direction,
        "leverage": sc.leverage if sc.type in ("perps", "futures") else None,
        "stops": stops_text(sc),
        "close_strategies": ",".join(c.name for c in sc.close_strategies),
        "regime_gate": regime_gate_text(sc),
        "paused": sc.paused,
    }


def max_drawdown_pct(initial: float, ledger: Iterable[LedgerRow], value_now: float) -> float:
    """The largest fall from a peak, in % of that peak, of initial capital plus cumulative net
    P&L, ending at today's value; 0 for a curve that never fell."""
    peak = running = initial
    worst = 0.0
    points = [running := running + row[3] for row in ledger] + [value_now]
    for v in points:
        peak = max(peak, v)
        if peak > 0:
            worst = max(worst, (peak - v) / peak * 100.0)
    return worst


def unrealized(view: dict) -> float:
    """Open positions' and option legs' unrealized P&L at the view's marks."""
    total = sum(float(p.get("unrealized_pnl") or 0.0) for p in view["positions"].values())
    legs = view.get("option_positions") or {}
    return total + sum(float(leg.get("unrealized_pnl") or 0.0) for leg in legs.values())


def _verdict(
    stopped: str, days: float | None, closes: int, pnl: float, dead_days: int, min_trades: int
) -> tuple[str, str]:
    if stopped:
        return "dead", stopped
    if days is not None and days >= dead_days:
        return "dead", f"no trade for {days:.0f} days"
    if closes >= min_trades and pnl < 0:
        return "review", f"P&L {pnl:,.2f} over {closes} closes"
    if closes < min_trades:
        return "new", f"{closes} of {min_trades} closes"
    return "ok", ""


def audit_row(
    entry: Entry, ledger: list[LedgerRow], now: datetime, dead_days: int, min_trades: int
) -> dict:
    """One strategy's audit row (see the module docstring for each figure)."""
    sc, strat, view = entry
    trades = [r for r in ledger if r[1] in ("buy", "sell")]
    closes = [r[3] for r in ledger if r[2]]
    wins = sum(1 for n in closes if n > 0)
    losses = sum(1 for n in closes if n < 0)
    stats = (wins, losses, len(closes), sum(closes), sum(n * n for n in closes))
    last = trades[-1][0] if trades else ""
    days = (now - parse_iso(last)).total_seconds() / 86400 if last else None
    pnl = float(view["pnl"])
    verdict, why = _verdict(stopped_reason(strat), days, len(closes), pnl, dead_days, min_trades)
    return {
        "id": sc.id,
        "verdict": verdict,
        "why": one_line(why, 200),
        **highlights(sc),
        "trades": len(trades),
        "closes": len(closes),
        "wins": wins,
        "losses": losses,
        "win_rate": win_rate(wins, losses),
        "realized_pnl": sum(r[3] for r in ledger),
        "unrealized_pnl": unrealized(view),
        "pnl": pnl,
        "pnl_pct": float(view["pnl_pct"]),
        "max_drawdown_pct": max_drawdown_pct(
            strat.initial_capital, ledger, float(view["portfolio_value"])
        ),
        "sharpe": trade_sharpe(stats),
        "fees": sum(r[4] for r in ledger),
        "last_trade": last,
        "days_since_last_trade": None if days is None else max(days, 0.0),
        "close_reasons": dict(sorted(Counter(r[5] or "unknown" for r in ledger if r[2]).items())),
    }


def build(
    entries: Iterable[Entry],
    ledger: dict[str, list[LedgerRow]],
    now: datetime,
    *,
    dead_days: int = DEAD_DAYS,
    min_trades: int = MIN_TRADES,
) -> dict:
    """The audit document: ``{generated_at, rule, dead_days, min_trades, strategies:[row]}``,
    rows in config order."""
    rows = [audit_row(e, ledger.get(e[0].id, []), now, dead_days, min_trades) for e in entries]
    return {
        "generated_at": utc_iso(now),
        "rule": rule_text(dead_days, min_trades),
        "dead_days": dead_days,
        "min_trades": min_trades,
        "strategies": rows,
    }


def flat(row: dict) -> dict[str, Any]:
    """A row with its close reasons as one ``reason=n;...`` cell (CSV and the terminal)."""
    out = {k: row.get(k) for k in COLUMNS}
    out["close_reasons"] = ";".join(f"{k}={v}" for k, v in row["close_reasons"].items())
    return out


def to_csv(doc: dict) -> str:
    """The audit as CSV, one row per strategy, :data:`COLUMNS` in order (None is empty)."""
    import csv  # only for this export: kept out of the supervisor's idle memory

    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=COLUMNS, lineterminator="\n")
    writer.writeheader()
    for row in doc["strategies"]:
        writer.writerow({k: "" if v is None else v for k, v in flat(row).items()})
    return buf.getvalue()


def parse_bound(query: dict, key: str, default: int, cap: int) -> int:
    """A whole number 1..cap from the query; missing means ``default``; ValueError otherwise."""
    value = query.get(key)
    raw = "" if value is None else str(value).strip()
    if not raw:
        return default
    if not raw.isascii() or not raw.isdigit() or not 1 <= int(raw) <= cap:
        raise ValueError(f"{key} must be a whole number from 1 to {cap}, got {raw[:20]!r}")
    return int(raw)


TABLE = (  # (column, header, format) for the terminal
    ("id", "strategy", "{}"),
    ("verdict", "verdict", "{}"),
    ("mode", "mode", "{}"),
    ("trades", "trades", "{}"),
    ("win_rate", "win%", "{:.1f}"),
    ("realized_pnl", "realized", "{:,.2f}"),
    ("unrealized_pnl", "unreal.", "{:,.2f}"),
    ("pnl_pct", "pnl%", "{:+.2f}"),
    ("max_drawdown_pct", "maxdd%", "{:.2f}"),
    ("sharpe", "sharpe", "{:.2f}"),
    ("fees", "fees", "{:,.2f}"),
    ("days_since_last_trade", "idle d", "{:.1f}"),
    ("why", "why", "{}"),
)


def table_lines(doc: dict) -> list[str]:
    """The audit as a plain text table (``go-trader audit``), then the rule."""
    cells = [[h for _k, h, _f in TABLE]]
    for row in doc["strategies"]:
        cells.append(["—" if row[k] is None else f.format(row[k]) for k, _h, f in TABLE])
    widths = [max(len(r[i]) for r in cells) for i in range(len(TABLE))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in cells]
    return [*lines, "", f"verdict rule: {doc['rule']}"]
