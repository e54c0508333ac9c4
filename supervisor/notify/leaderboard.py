"""Leaderboards in upstream's format (reference B.4): the daily top/bottom post, the per-platform
``leaderboard_summaries``, and the text ``go-trader leaderboard`` / ``go-trader summary`` print.

Values and P&L come from :func:`supervisor.http.views.strategy_view` (the /status numbers), and
wins, losses and Sharpe from the state DB's close statistics (the dashboard's numbers), so a
leaderboard never disagrees with /status or the overview.

Deliberate differences from upstream: the date line is UTC (upstream uses the host's zone); the
Sharpe column is the per-close ratio the dashboard shows (:func:`supervisor.http.api.trade_sharpe`,
no daily equity series here); ``#T`` is the strategy's opening trades (trades minus closes); this
build has no pool strategies, so there are no ``*`` rows. As upstream, ``TOTAL`` sums the rows
shown.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from shared_tools.config.leaderboard import BoardSummary
from shared_tools.config.model import Config
from supervisor.http.api import NO_CLOSES, CloseStats, trade_sharpe
from supervisor.http.views import strategy_view
from supervisor.risk.portfolio import base_asset
from supervisor.state.models import AppState

NAME_WIDTH = 18
_ICONS = {"hyperliquid": "⚡", "deribit": "🎯", "ibkr": "🎯", "topstep": "🏦"}


@dataclass(frozen=True)
class Entry:
    id: str
    type: str
    platform: str
    asset: str
    value: float
    capital: float
    pnl: float
    pnl_pct: float
    timeframe: str
    interval_s: int
    opened: int
    wins: int
    losses: int
    sharpe: float | None


def entries(app: AppState, config: Config, stats: dict[str, CloseStats]) -> list[Entry]:
    """Every configured strategy with a book, ranked by P&L % (best first, ties by id)."""
    out = []
    for sc in config.strategies:
        strat = app.strategies.get(sc.id)
        if strat is None:
            continue
        view = strategy_view(strat, app.prices_for(strat.venue))
        st = stats.get(sc.id, NO_CLOSES)
        out.append(
            Entry(
                id=sc.id,
                type=sc.type,
                platform=sc.platform,
                asset=base_asset(sc.symbol) if sc.symbol else "",
                value=view["portfolio_value"],
                capital=view["initial_capital"],
                pnl=view["pnl"],
                pnl_pct=view["pnl_pct"],
                timeframe=sc.timeframe,
                interval_s=sc.effective_interval(config.interval_seconds),
                opened=max(strat.trade_count - st[2], 0),
                wins=st[0],
                losses=st[1],
                sharpe=trade_sharpe(st),
            )
        )
    out.sort(key=lambda e: (-e.pnl_pct, e.id))
    return out


def _interval(seconds: int) -> str:
    if seconds % 86400 == 0:
        return f"{seconds // 86400}d"
    if seconds % 3600 == 0:
        return f"{seconds // 3600}h"
    if seconds % 60 == 0:
        return f"{seconds // 60}m"
    return f"{seconds}s"


def _wl(e: Entry) -> str:
    if not e.wins and not e.losses:
        return "—"
    return "∞" if not e.losses else f"{e.wins / e.losses:.2f}"


def _money(x: float) -> str:
    return f"{'-' if x < 0 else ''}${abs(x):,.0f}"


def _signed(x: float) -> str:
    return f"{'+' if x >= 0 else '-'}${abs(x):,.2f}"


def table(rows: list[Entry]) -> list[str]:
    """The code-block table: Strategy(18), Type, Value, PnL, PnL%, Tf, Int, #T, W/L, Sharpe."""
    head = (
        f"{'Strategy':<{NAME_WIDTH}} {'Type':<7} {'Value':>9} {'PnL':>10} {'PnL%':>8} "
        f"{'Tf':>4} {'Int':>4} {'#T':>4} {'W/L':>5} {'Sharpe':>6}"
    )
    lines = [head, "-" * len(head)]
    for e in rows:
        sharpe = f"{e.sharpe:.2f}" if e.sharpe is not None else "—"
        lines.append(
            f"{e.id[:NAME_WIDTH]:<{NAME_WIDTH}} {e.type[:7]:<7} {_money(e.value):>9} "
            f"{_signed(e.pnl):>10} {e.pnl_pct:>+7.2f}% {e.timeframe or '—':>4} "
            f"{_interval(e.interval_s):>4} {e.opened:>4} {_wl(e):>5} {sharpe:>6}"
        )
    value, capital = sum(e.value for e in rows), sum(e.capital for e in rows)
    pct = (value / capital - 1) * 100 if capital else 0.0
    lines.append("-" * len(head))
    label = f"TOTAL ({len(rows)} strategies)"
    lines.append(
        f"{label:<{NAME_WIDTH + 8}} {_money(value):>9} {_signed(value - capital):>10} {pct:>+7.2f}%"
    )
    return lines


def _tally(rows: list[Entry]) -> str:
    up = sum(1 for e in rows if e.pnl > 0.005)
    down = sum(1 for e in rows if e.pnl < -0.005)
    return f"🟢 {up} winning · 🔴 {down} losing · ⚪ {len(rows) - up - down} flat"


def _prices(app: AppState, rows: list[Entry], config: Config) -> str:
    seen: dict[str, str] = {}
    for e in rows:
        sc = config.strategy(e.id)
        mark = app.prices_for(app.strategies[e.id].venue).get(sc.symbol)
        if mark and e.asset not in seen:
            seen[e.asset] = f"{e.asset}: ${mark:,.2f}"
    return " | ".join(seen.values())


def _message(
    transport: str, icon: str, title: str, subtitle: str, prices: str, lines: list[str], tally: str
) -> str:
    """Discord gets bold and a code block; Telegram (plain text) the same lines without them."""
    if transport == "discord":
        parts = [f"{icon} **{title}**", subtitle, prices, "```", *lines, "```", tally]
    else:
        parts = [f"{icon} {title}", subtitle, prices, *lines, tally]
    return "\n".join(p for p in parts if p)


def board(
    transport: str,
    app: AppState,
    config: Config,
    ranked: list[Entry],
    *,
    top: bool,
    n: int,
    now: datetime,
) -> str:
    """The daily "top" or "bottom" message (B.4), ``n`` rows."""
    rows = ranked[:n] if top else sorted(ranked, key=lambda e: (e.pnl_pct, e.id))[:n]
    icon, title = ("🏆", "Top") if top else ("💀", "Bottom")
    subtitle = f"Daily Report | {now.strftime('%B')} {now.day}, {now.year} (UTC)"
    prices = _prices(app, rows, config)
    return _message(
        transport, icon, f"{title} All-Time Performers", subtitle, prices, table(rows), _tally(rows)
    )


def summary_board(
    transport: str,
    app: AppState,
    config: Config,
    ranked: list[Entry],
    spec: BoardSummary,
    now: datetime,
) -> str | None:
    """One ``leaderboard_summaries`` entry's message; None when no strategy matches."""
    rows = [
        e
        for e in ranked
        if e.platform == spec.platform and (not spec.ticker or e.asset == spec.ticker)
    ][: spec.top_n]
    if not rows:
        return None
    icon = _ICONS.get(spec.platform, "📈")
    ticker = f" {spec.ticker}" if spec.ticker else ""
    title = f"{spec.platform.capitalize()}{ticker} Top {spec.top_n}"
    subtitle = f"{now.strftime('%B')} {now.day}, {now.year} {now:%H:%M} UTC"
    prices = _prices(app, rows, config)
    return _message(transport, icon, title, subtitle, prices, table(rows), _tally(rows))
