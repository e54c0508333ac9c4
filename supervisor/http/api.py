"""The dashboard's read API: upstream's JSON shapes (reference part A.3), built from the book.

Pure functions of the config, the in-memory book (through :func:`strategy_view`, the one value
and P&L rule /status and the CLI use) and trade rows from ``StateDB.trade_history`` (what
``inspect`` reads). :mod:`supervisor.http.board` fetches those under the right locks and calls
these; nothing here touches a socket, a lock or the DB.

Query caps as upstream: ``limit`` of candles and trades defaults to 300, at most 1000; of equity
40, at most 500. A value over the cap is clamped to it, a bad or non-positive value means the
default. ``from``/``to`` take unix seconds or RFC 3339; a bad value is ignored.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from datetime import UTC, datetime

from shared_tools.config.model import StrategyConfig
from shared_tools.market.common import timeframe_seconds
from supervisor.state.models import StrategyState, parse_iso, utc_iso

CANDLES_DEFAULT, CANDLES_MAX = 300, 1000
TRADES_DEFAULT, TRADES_MAX = 300, 1000
EQUITY_DEFAULT, EQUITY_MAX = 40, 500
EQUITY_CLOSES = 500  # closed positions read for the equity curve (upstream's bound)
MIN_SHARPE_CLOSES = 3

# marker styles, exactly upstream's (lightweight-charts' setMarkers fields)
CLOSE_STYLE = ("aboveBar", "#2563eb", "circle", "CLOSE")
BUY_STYLE = ("belowBar", "#059669", "arrowUp", "BUY")
SELL_STYLE = ("aboveBar", "#dc2626", "arrowDown", "SELL")


# -- queries -----------------------------------------------------------------------------------
def parse_limit(query: dict, default: int, cap: int) -> int:
    """``limit`` clamped to 1..cap; missing, bad or < 1 means ``default``."""
    raw = str(query.get("limit") or "").strip()
    if not raw.isascii() or not raw.isdigit():
        return default
    digits = raw.lstrip("0")
    if not digits:
        return default
    return cap if len(digits) > 12 else min(int(digits), cap)


def parse_time(value: object) -> float | None:
    """Unix seconds or RFC 3339 as epoch seconds; None for anything else (ignored)."""
    text = str(value or "").strip()
    if not text:
        return None
    try:
        out = float(text)
    except ValueError:
        try:
            dt = datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            return None
        if dt.tzinfo is None:
            dt = dt.replace(tzinfo=UTC)
        out = dt.timestamp()
    return out if math.isfinite(out) and 0 <= out < 1e11 else None


def window(query: dict) -> tuple[float | None, float | None]:
    """The ``from``/``to`` bounds of a query (either may be None)."""
    return parse_time(query.get("from")), parse_time(query.get("to"))


def iso_bound(epoch: float | None) -> str | None:
    """An epoch bound as the book's ISO text (trade times sort as text)."""
    return None if epoch is None else utc_iso(datetime.fromtimestamp(epoch, UTC))


def epoch(iso: str) -> int:
    """An ISO time of the book as whole unix seconds (the charts' time unit)."""
    return int(parse_iso(iso).timestamp())


# -- strategies --------------------------------------------------------------------------------
def _has_direction(sc: StrategyConfig) -> bool:
    return sc.type in ("perps", "manual")


def strategy_entry(sc: StrategyConfig) -> dict:
    """One row of ``/api/strategies``: strategy, symbol, timeframe from the check's argv."""
    args = sc.check_args
    row: dict = {
        "id": sc.id,
        "type": sc.type,
        "platform": sc.platform,
        "strategy": args.strategy or "",
        "symbol": sc.symbol,
        "timeframe": sc.timeframe,
    }
    if _has_direction(sc):
        row["direction"] = sc.direction
    if sc.paused:
        row["paused"] = True
    return row


def strategies_list(configs: Iterable[StrategyConfig]) -> dict:
    """``/api/strategies``: every configured strategy, sorted by platform, then id."""
    rows = [strategy_entry(sc) for sc in configs]
    rows.sort(key=lambda r: (r["platform"], r["id"]))
    return {"strategies": rows}


def win_rate(wins: int, losses: int) -> float | None:
    """Wins / (wins + losses) x 100 over the strategy's life; None before any decided close."""
    decided = wins + losses
    return wins / decided * 100.0 if decided else None


CloseStats = tuple[int, int, int, float, float]  # wins, losses, closes, sum net, sum net^2
NO_CLOSES: CloseStats = (0, 0, 0, 0.0, 0.0)


def trade_sharpe(stats: CloseStats) -> float | None:
    """Sharpe of per-close net P&L (mean / population stdev, not annualised; the capital the
    returns would be divided by cancels out).

    Deliberately not upstream's figure (its overview Sharpe comes from the daily equity series of
    its own DB); the supervisor keeps no daily series and never imports pandas, so this is the
    per-trade ratio, None below 3 closes or with no spread.
    """
    _w, _l, n, total, squares = stats
    if n < MIN_SHARPE_CLOSES:
        return None
    mean = total / n
    var = squares / n - mean * mean
    if var <= 1e-12 * max(1.0, mean * mean):  # no spread (rounding aside)
        return None
    return mean / math.sqrt(var)


def regime_label(strat: StrategyState) -> str:
    """The regime label the book knows: that of an open position's entry ("" when flat)."""
    for pos in strat.positions.values():
        if pos.regime:
            return pos.regime
    return ""


def overview_row(sc: StrategyConfig, strat: StrategyState, view: dict, stats: CloseStats) -> dict:
    """One ``/api/strategies/overview`` row; ``view`` is the strategy's /status view."""
    row: dict = {
        "id": sc.id,
        "platform": sc.platform,
        "symbol": sc.symbol,
        "pnl_pct": view["pnl_pct"],
        "pnl": view["pnl"],
        "portfolio_value": view["portfolio_value"],
        "initial_capital": view["initial_capital"],
    }
    rate = win_rate(stats[0], stats[1])
    if rate is not None:
        row["win_rate"] = rate
    sharpe = trade_sharpe(stats)
    if sharpe is not None:
        row["sharpe"] = sharpe
    regime = regime_label(strat)
    if regime:
        row["regime"] = regime
    if _has_direction(sc):
        row["direction"] = sc.direction
    if sc.paused:
        row["paused"] = True
    if "option_positions" in view:  # ours: an options book's legs and greeks at a glance
        row["option_legs"] = len(view["option_positions"])
        row["portfolio_greeks"] = view["portfolio_greeks"]
    return row


def status_detail(sc: StrategyConfig, strat: StrategyState, view: dict, stats: CloseStats) -> dict:
    """``…/status``: the overview row plus the book's detail (positions, risk, lifetime)."""
    out = overview_row(sc, strat, view, stats)
    wins, losses, closed, realized, _squares = stats
    out.update(
        type=sc.type,
        timeframe=sc.timeframe,
        cash=view["cash"],
        trade_count=view["trade_count"],
        lifetime_stats={
            "wins": wins,
            "losses": losses,
            "closed": closed,
            "realized_pnl": realized,
        },
        risk_state=view["risk_state"],
        positions=view["positions"],
        # the legs as /status shows them (views.options_view: one implementation)
        option_positions=view.get("option_positions", {}),
    )
    if sc.type == "perps":
        out.update(
            leverage=sc.leverage,
            sizing_leverage=sc.sizing_leverage or sc.leverage,
            margin_mode=sc.margin_mode,
        )
    if _has_direction(sc):
        out["effective_direction"] = sc.direction
    return out


# -- trades, markers, equity -------------------------------------------------------------------
def net_pnl(row: dict) -> float:
    """A trade row's net P&L (rows.Trade.net_pnl's rule on a DB row)."""
    if not row.get("pnl_gross", True):
        return float(row["realized_pnl"]) if row["is_close"] else 0.0
    return float(row["realized_pnl"]) - float(row["fee"])


def marker(row: dict) -> dict:
    """One chart marker of a trade row, upstream's shape and styles."""
    if row["is_close"]:
        position, color, shape, text = CLOSE_STYLE
    elif row["side"] == "buy":
        position, color, shape, text = BUY_STYLE
    else:
        position, color, shape, text = SELL_STYLE
    out: dict = {
        "time": epoch(row["timestamp"]),
        "position": position,
        "color": color,
        "shape": shape,
        "text": text,
        "side": row["side"],
        "is_close": bool(row["is_close"]),
        "price": row["price"],
        "quantity": row["quantity"],
    }
    if row["is_close"]:
        out["realized_pnl"] = net_pnl(row)
    if row.get("details"):
        out["details"] = row["details"]
    return out


def is_trade(row: dict) -> bool:
    """Buys and sells; funding rows are cash movements, not trades on the chart."""
    return row.get("side") in ("buy", "sell")


def markers_doc(sid: str, newest_first: list[dict], total: int) -> dict:
    """``…/trades``: markers oldest first; ``trades`` is a copy of them (upstream #808)."""
    markers = [marker(r) for r in reversed(newest_first) if is_trade(r)]
    return {
        "strategy_id": sid,
        "markers": markers,
        "trades": [dict(m) for m in markers],
        "total": total,
    }


def equity_points(
    strat: StrategyState, closes_newest_first: list[dict], opened_iso: str, now_iso: str, limit: int
) -> list[dict]:
    """``…/equity`` points ``{t, v}``: initial capital at the first closed position's open time,
    then capital plus cumulative realized net P&L at each close (the last ``EQUITY_CLOSES``),
    then the cost-basis value now (no mark fetch, as upstream #813); the last ``limit`` kept."""
    closes = list(reversed(closes_newest_first))
    points: list[dict] = []
    if closes:
        opened = opened_iso or closes[0]["timestamp"]  # the first closed position's open time
        points.append({"t": epoch(opened), "v": strat.initial_capital})
        running = strat.initial_capital
        for row in closes:
            running += net_pnl(row)
            points.append({"t": epoch(row["timestamp"]), "v": running})
    points.append({"t": epoch(now_iso), "v": strat.value({})})
    return points[-limit:]


# -- candles -------------------------------------------------------------------------------------
def candles_from_trades(rows: list[dict], timeframe: str, limit: int) -> list[dict]:
    """Upstream's fallback when the candle fetch fails: OHLC of trade prices per bar."""
    try:
        step = timeframe_seconds(timeframe)
    except ValueError:
        step = 3600
    bars: dict[int, dict] = {}
    for row in sorted((r for r in rows if is_trade(r)), key=lambda r: r["timestamp"]):
        t = epoch(row["timestamp"]) // step * step
        price = float(row["price"])
        bar = bars.get(t)
        if bar is None:
            bars[t] = {"time": t, "open": price, "high": price, "low": price, "close": price}
        else:
            bar.update(high=max(bar["high"], price), low=min(bar["low"], price), close=price)
    return [bars[t] for t in sorted(bars)][-limit:]
