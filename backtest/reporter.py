"""Backtest reports: text tables for the terminal, one JSON document, a self-contained HTML page.

Every report reads a BacktestResult plus its :func:`backtest.metrics.metrics` dict. Undefined
metrics print "n/a" (None in JSON). Times are ISO-8601 UTC (``2024-01-01T00:00:00Z``). The HTML
page has its charts inline (SVG drawn here, no JavaScript, no external URL), so it can be mailed
or opened offline.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from statistics import mean
from typing import Any

import pandas as pd
from jinja2 import Environment, FileSystemLoader, select_autoescape

from shared_tools.book.venues import taker_fee

__all__ = [
    "comparison_table",
    "fmt",
    "html_report",
    "iso",
    "json_document",
    "text_report",
    "walk_forward_table",
]

TEMPLATES = Path(__file__).resolve().parent / "templates"
TRADES_SHOWN = 20  # text report; upstream prints the first 20 trades
HTML_TRADES_MAX = 500
CHART_POINTS = 800  # an equity curve is thinned to about this many points
CHART_W, CHART_H, PAD = 900, 260, 8

LABELS = (
    ("total_return_pct", "Total return"),
    ("cagr_pct", "CAGR"),
    ("buy_hold_return_pct", "Buy and hold"),
    ("sharpe", "Sharpe"),
    ("sortino", "Sortino"),
    ("calmar", "Calmar"),
    ("max_drawdown_pct", "Max drawdown"),
    ("max_drawdown_bars", "Max DD duration (bars)"),
    ("max_drawdown_days", "Max DD duration (days)"),
    ("profit_factor", "Profit factor"),
    ("win_rate_pct", "Win rate"),
    ("trade_count", "Trades"),
    ("exposure_pct", "Exposure"),
    ("final_equity", "Final equity"),
)


# ---------------------------------------------------------------- formatting


def iso(ts: Any) -> str | None:
    """A timestamp as ISO-8601 UTC with a Z (naive means UTC); None stays None."""
    if ts is None:
        return None
    stamp = pd.Timestamp(ts)
    stamp = stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")
    return stamp.strftime("%Y-%m-%dT%H:%M:%SZ")


def _clean(value: Any) -> Any:
    """JSON-safe scalars: NaN/inf -> None, numpy numbers -> Python numbers."""
    if value is None or isinstance(value, (bool, str)):
        return value
    if dataclasses.is_dataclass(value) and not isinstance(value, type):  # e.g. scale_in terms
        return _clean(dataclasses.asdict(value))
    if isinstance(value, Mapping):
        return {str(k): _clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean(v) for v in value]
    if dataclasses.is_dataclass(value) and not isinstance(value, type):  # e.g. the policy
        return _clean(dataclasses.asdict(value))
    if hasattr(value, "item"):  # numpy scalar
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def fmt(key: str, value: Any) -> str:
    """One metric as the tables print it."""
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "n/a"
    if key.endswith("_pct"):
        return f"{value:+.2f}%" if "return" in key or "cagr" in key else f"{value:.2f}%"
    if key in ("trade_count", "max_drawdown_bars"):
        return str(int(value))
    if key == "max_drawdown_days":
        return f"{value:.1f}"
    if key == "final_equity":
        return f"{value:,.2f}"
    if isinstance(value, float):
        return f"{value:.2f}"
    return str(value)


def _table(headers: Sequence[str], rows: Iterable[Sequence[str]]) -> str:
    """Plain aligned columns: the first left-aligned, the rest right-aligned."""
    rows = [list(r) for r in rows]
    widths = [len(h) for h in headers]
    for row in rows:
        widths = [max(w, len(c)) for w, c in zip(widths, row, strict=True)]

    def line(cells: Sequence[str]) -> str:
        parts = [cells[0].ljust(widths[0])]
        parts += [c.rjust(w) for c, w in zip(cells[1:], widths[1:], strict=True)]
        return "  ".join(parts).rstrip()

    rule = "  ".join("-" * w for w in widths)
    return "\n".join([line(headers), rule, *(line(r) for r in rows)])


def _params(params: Mapping[str, Any] | None) -> str:
    if not params:
        return "defaults"
    return ", ".join(f"{k}={v}" for k, v in params.items())


def _span(result: Any) -> tuple[str | None, str | None]:
    idx = result.equity.index
    return (iso(idx[0]), iso(idx[-1])) if len(idx) else (None, None)


def _header(result: Any) -> list[str]:
    s = result.settings
    first, last = _span(result)
    closes = ", ".join(
        c.get("name", "?") if isinstance(c, Mapping) else str(c) for c in s.close_strategies
    )
    lines = [
        f"Strategy   {result.strategy} ({_params(result.params)})",
        f"Market     {s.symbol} {s.timeframe} on {s.platform} ({s.instrument}), "
        f"direction {s.direction}{', inverted' if s.invert_signal else ''}",
        f"Period     {first or 'n/a'} .. {last or 'n/a'} ({len(result.equity)} bars)",
        f"Capital    {s.capital:,.2f}",
    ]
    if closes:
        lines.append(f"Closes     {closes}")
    stops = [
        f"{name} {value:g}"
        for name in (
            "stop_loss_pct",
            "stop_loss_atr_mult",
            "trailing_stop_pct",
            "trailing_stop_atr_mult",
        )
        if (value := getattr(s, name, None))
    ]
    if stops:
        lines.append(f"Stops      {', '.join(stops)}")
    if s.fee_pct is None:
        fee = f"{taker_fee(s.platform, s.instrument) * 100:.3g}% ({s.platform} table)"
    else:
        fee = f"{s.fee_pct:g}%"
    lines.append(f"Costs      fee {fee} per fill, slippage {s.slippage_bps:g} bps")
    if s.regime_enabled:
        lines.append(f"Regime     entries only in {', '.join(s.allowed_regimes) or 'any regime'}")
    funding = getattr(result, "funding_pnl", 0.0)
    if funding:
        lines.append(f"Funding    {funding:+,.2f} (in the equity)")
    adds = getattr(result, "adds", None) or []
    if adds:
        added = sum(a.notional for a in adds)
        lines.append(f"Scale-in   {len(adds)} adds, ${added:,.2f} notional added")
    lines += [f"Note       {note}" for note in getattr(result, "notes", None) or []]
    return lines


# ---------------------------------------------------------------- text


def text_report(result: Any, m: Mapping[str, Any]) -> str:
    """One run: settings, every metric, and the first trades."""
    out = _header(result)
    out += ["", _table(["Metric", "Value"], [[label, fmt(k, m.get(k))] for k, label in LABELS])]
    trades = list(result.trades)
    if trades:
        shown = trades[:TRADES_SHOWN]
        more = f" (first {len(shown)} of {len(trades)})" if len(trades) > len(shown) else ""
        out += ["", f"Trades{more}"]
        out.append(
            _table(
                ["Entry", "Exit", "Side", "Entry px", "Exit px", "Qty", "Fee", "PnL", "Reason"],
                [
                    [
                        iso(t.entry_time) or "",
                        iso(t.exit_time) or "",
                        t.side,
                        f"{t.entry_price:.6g}",
                        f"{t.exit_price:.6g}",
                        f"{t.quantity:.6g}",
                        f"{t.fee:.2f}",
                        f"{t.pnl:+.2f}",
                        t.reason,
                    ]
                    for t in shown
                ],
            )
        )
    else:
        out += ["", "No trades."]
    return "\n".join(out)


ROW_COLUMNS = (
    ("total_return_pct", "Return"),
    ("sharpe", "Sharpe"),
    ("sortino", "Sortino"),
    ("max_drawdown_pct", "MaxDD"),
    ("win_rate_pct", "Win"),
    ("profit_factor", "PF"),
    ("trade_count", "Trades"),
    ("buy_hold_return_pct", "B&H"),
)


def _sharpe_key(row: Mapping[str, Any]) -> tuple[int, float]:
    value = row.get("sharpe")
    return (1, 0.0) if value is None else (0, -float(value))


def comparison_table(rows: Sequence[Mapping[str, Any]], limit: int | None = None) -> str:
    """Many runs, best Sharpe first (undefined Sharpe last); then best and mean figures.

    Each row is a metrics dict plus ``strategy`` and optionally ``symbol`` / ``error``.
    A row with ``error`` is listed after the others with its message.
    """
    ok = sorted((r for r in rows if not r.get("error")), key=_sharpe_key)
    failed = [r for r in rows if r.get("error")]
    with_symbol = any(r.get("symbol") for r in rows)
    shown = ok[:limit] if limit else ok
    headers = ["Strategy", *(["Symbol"] if with_symbol else []), *(h for _, h in ROW_COLUMNS)]
    body = [
        [
            str(r.get("strategy", "?")),
            *([str(r.get("symbol", ""))] if with_symbol else []),
            *(fmt(k, r.get(k)) for k, _ in ROW_COLUMNS),
        ]
        for r in shown
    ]
    out = [_table(headers, body)] if body else ["No successful runs."]
    if limit and len(ok) > limit:
        out.append(f"(top {limit} of {len(ok)} by Sharpe)")
    returns = [r["total_return_pct"] for r in ok if r.get("total_return_pct") is not None]
    sharpes = [r["sharpe"] for r in ok if r.get("sharpe") is not None]
    if returns:
        best = max(ok, key=lambda r: r.get("total_return_pct") or -math.inf)
        out.append(
            f"Best return {fmt('total_return_pct', best['total_return_pct'])} "
            f"({best.get('strategy')}{' ' + str(best['symbol']) if best.get('symbol') else ''}); "
            f"mean return {fmt('total_return_pct', mean(returns))}; "
            f"mean Sharpe {fmt('sharpe', mean(sharpes) if sharpes else None)}"
        )
    for r in failed:
        where = f" {r['symbol']}" if r.get("symbol") else ""
        out.append(f"FAILED {r.get('strategy', '?')}{where}: {r['error']}")
    return "\n".join(out)


# ---------------------------------------------------------------- walk-forward


def _get(obj: Any, name: str, default: Any = None) -> Any:
    """A fold field from a Fold object or its ``to_dict()`` form."""
    if isinstance(obj, Mapping):
        return obj.get(name, default)
    return getattr(obj, name, default)


def _range(fold: Any, which: str) -> str:
    span = _get(fold, which) or (None, None)
    start, end = (iso(x) for x in span)
    return f"{start[:10] if start else '?'}..{end[:10] if end else '?'}"


WF_HEADERS = [
    "Fold",
    "Train",
    "Test",
    "Best params",
    "IS return",
    "OOS return",
    "IS Sharpe",
    "OOS Sharpe",
    "OOS MaxDD",
    "OOS trades",
]


def walk_forward_table(wf: Any) -> str:
    """Per fold: the windows, the winning params, in-sample beside out-of-sample figures; then
    the out-of-sample summary (in-sample means beside it show the overfitting gap)."""
    folds = list(_get(wf, "folds", []) or [])
    body = []
    for i, fold in enumerate(folds, 1):
        ins = _get(fold, "in_sample", {}) or {}
        oos = _get(fold, "out_of_sample", {}) or {}
        body.append(
            [
                str(_get(fold, "index", i)),
                _range(fold, "train"),
                _range(fold, "test"),
                _params(_get(fold, "best_params", {}))
                + (f" | {_get(fold, 'close_stack', '')}" if _get(fold, "close_stack", "") else ""),
                fmt("total_return_pct", ins.get("total_return_pct")),
                fmt("total_return_pct", oos.get("total_return_pct")),
                fmt("sharpe", ins.get("sharpe")),
                fmt("sharpe", oos.get("sharpe")),
                fmt("max_drawdown_pct", oos.get("max_drawdown_pct")),
                fmt("trade_count", oos.get("trade_count")),
            ]
        )
    out = [_table(WF_HEADERS, body)] if body else ["No walk-forward folds."]
    out += [f"skipped {line}" for line in _get(wf, "skipped", []) or []]
    summary = _get(wf, "summary", {}) or {}
    if folds:
        out += ["", *_wf_summary(summary)]
    return "\n".join(out)


def _wf_summary(summary: Mapping[str, Any]) -> list[str]:
    def pair(oos_key: str, is_key: str | None, kind: str) -> str:
        oos = fmt(kind, summary.get(oos_key))
        return f"{oos}  (in-sample {fmt(kind, summary.get(is_key))})" if is_key else oos

    lines = [
        f"Out-of-sample summary ({summary.get('folds', '?')} folds)",
        f"  mean return    {pair('oos_mean_return_pct', 'is_mean_return_pct', 'total_return_pct')}",
        f"  median return  {pair('oos_median_return_pct', None, 'total_return_pct')}",
        f"  mean Sharpe    {pair('oos_mean_sharpe', 'is_mean_sharpe', 'sharpe')}",
        f"  worst MaxDD    {pair('oos_worst_drawdown_pct', None, 'max_drawdown_pct')}",
        f"  trades         {fmt('trade_count', summary.get('oos_total_trades'))}",
    ]
    common = summary.get("most_common_params")
    if common is not None:
        count = summary.get("most_common_count")
        times = f" ({count} of {summary.get('folds')} folds)" if count else ""
        lines.append(f"  most common best params: {_params(common)}{times}")
    if summary.get("most_common_close_stack"):
        lines.append(f"  most common close stack: {summary['most_common_close_stack']}")
    return lines


# ---------------------------------------------------------------- JSON


def _trade_json(t: Any) -> dict[str, Any]:
    return {
        "entry_time": iso(t.entry_time),
        "exit_time": iso(t.exit_time),
        "side": t.side,
        "entry_price": _clean(float(t.entry_price)),
        "exit_price": _clean(float(t.exit_price)),
        "quantity": _clean(float(t.quantity)),
        "fee": _clean(float(t.fee)),
        "pnl": _clean(float(t.pnl)),
        "reason": t.reason,
    }


def _settings_json(settings: Any) -> dict[str, Any]:
    fields = getattr(settings, "__dataclass_fields__", None)
    names = list(fields) if fields else [k for k in vars(settings) if not k.startswith("_")]
    return {name: _clean(getattr(settings, name)) for name in names}


def json_document(result: Any, m: Mapping[str, Any]) -> dict[str, Any]:
    """The one document ``run_backtest --json`` prints: metrics, trades, final equity, context."""
    first, last = _span(result)
    s = result.settings
    return {
        "strategy": result.strategy,
        "params": _clean(dict(result.params or {})),
        "symbol": s.symbol,
        "timeframe": s.timeframe,
        "start": first,
        "end": last,
        "bars": len(result.equity),
        "settings": _settings_json(s),
        "metrics": _clean(dict(m)),
        "trades": [_trade_json(t) for t in result.trades],
        "final_equity": _clean(float(result.final_equity)),
        "funding_pnl": _clean(float(getattr(result, "funding_pnl", 0.0))),
        "notes": list(getattr(result, "notes", None) or []),
        "adds": [
            _clean({**dataclasses.asdict(a), "time": iso(a.time)})
            for a in getattr(result, "adds", None) or []
        ],
    }


# ---------------------------------------------------------------- HTML


def _thin(series: pd.Series, points: int = CHART_POINTS) -> pd.Series:
    if len(series) <= points:
        return series
    step = math.ceil(len(series) / points)
    keep = list(range(0, len(series), step))
    if keep[-1] != len(series) - 1:
        keep.append(len(series) - 1)
    return series.iloc[keep]


def _polyline(values: Sequence[float], lo: float, hi: float, n: int) -> str:
    """SVG points for ``values`` spread over the chart width, ``hi`` at the top."""
    span = hi - lo if hi > lo else 1.0
    dx = (CHART_W - 2 * PAD) / max(n - 1, 1)
    return " ".join(
        f"{PAD + i * dx:.1f},{PAD + (hi - v) / span * (CHART_H - 2 * PAD):.1f}"
        for i, v in enumerate(values)
    )


def charts(result: Any) -> dict[str, Any]:
    """Polyline coordinates and axis labels for the equity and drawdown charts."""
    equity = _thin(result.equity.astype("float64"))
    if equity.empty:
        return {}
    capital = float(result.settings.capital)
    closes = result.closes.astype("float64").reindex(equity.index)
    hold = None
    if len(closes) and closes.notna().all() and float(closes.iloc[0]) > 0:
        hold = closes / float(closes.iloc[0]) * capital  # buy-and-hold on the same capital
    values = list(equity) + (list(hold) if hold is not None else [])
    lo, hi = min(values), max(values)
    full = result.equity.astype("float64")
    dd_full = (full / full.cummax().clip(lower=capital) - 1.0) * 100.0
    dd = dd_full.reindex(equity.index)
    dd_lo = min(float(dd_full.min()), -0.01)
    return {
        "width": CHART_W,
        "height": CHART_H,
        "equity": _polyline(list(equity), lo, hi, len(equity)),
        "hold": _polyline(list(hold), lo, hi, len(hold)) if hold is not None else None,
        "equity_hi": f"{hi:,.2f}",
        "equity_lo": f"{lo:,.2f}",
        "drawdown": _polyline([0.0, *dd, 0.0], dd_lo, 0.0, len(dd) + 2),
        "dd_lo": f"{dd_lo:.2f}%",
        "first": iso(equity.index[0]),
        "last": iso(equity.index[-1]),
    }


_env: Environment | None = None


def _environment() -> Environment:
    global _env
    if _env is None:
        _env = Environment(
            loader=FileSystemLoader(str(TEMPLATES)),
            autoescape=select_autoescape(["html", "j2"], default=True),
            trim_blocks=True,
            lstrip_blocks=True,
        )
    return _env


def html_report(result: Any, m: Mapping[str, Any]) -> str:
    """A self-contained HTML page: settings, metrics, inline SVG equity/drawdown, trades."""
    trades = list(result.trades)
    doc = json_document(result, m)
    return (
        _environment()
        .get_template("report.html.j2")
        .render(
            title=f"{result.strategy} {result.settings.symbol} {result.settings.timeframe}",
            header=_header(result),
            metrics=[(label, fmt(k, m.get(k))) for k, label in LABELS],
            chart=charts(result),
            trades=doc["trades"][:HTML_TRADES_MAX],
            trades_total=len(trades),
        )
    )
