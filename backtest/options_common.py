"""What the research backtests (options, theta, pairs) share: argv, candles, vol, metrics, output.

Candles come through the project's market data door (``shared_tools.market``), so
``--data simulated`` runs offline and ``GO_TRADER_NOW`` pins the clock. Errors are one line:
exit 2 for bad flags, 1 when the data cannot be had.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
from collections.abc import Sequence
from datetime import date, datetime
from typing import Any, NoReturn

from backtest import data
from backtest.metrics import curve_max_drawdown_pct, curve_sharpe
from shared_strategies.options.vol import realized_vol
from shared_tools import market
from shared_tools.market.common import parse_source


class OneLineParser(argparse.ArgumentParser):
    """argparse whose errors are one line on stderr (exit 2), never a usage dump."""

    def error(self, message: str) -> NoReturn:  # type: ignore[override]
        self.exit(2, f"{self.prog}: error: {message} (see --help)\n")


def positive(kind: type = float):
    """An argparse type: a finite number above zero."""

    def parse(text: str):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"must be a {kind.__name__}, got {text!r}") from None
        if not (math.isfinite(value) and value > 0):
            raise argparse.ArgumentTypeError(f"must be above 0, got {text!r}")
        return value

    parse.__name__ = kind.__name__
    return parse


def since_arg(text: str) -> str:
    """``--since``: a number of days back (``90``) or a date (``2025-01-01``)."""
    text = text.strip()
    if text.isdigit() and int(text) > 0:
        return text
    try:
        date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"must be a number of days or YYYY-MM-DD, got {text!r}"
        ) from None
    return text


def data_arg(text: str) -> str:
    try:
        return parse_source(text, what="--data")
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def add_data_flags(p: argparse.ArgumentParser, since_default: str) -> None:
    p.add_argument(
        "--since",
        type=since_arg,
        default=since_default,
        help=f"days back or YYYY-MM-DD (default {since_default})",
    )
    p.add_argument(
        "--data",
        type=data_arg,
        default=None,
        help="exchange | simulated | replay:<dir> (default: GO_TRADER_MARKET_DATA, else exchange)",
    )
    p.add_argument("--exchange", default="binanceus", help="candle venue (default binanceus)")
    p.add_argument("--json", action="store_true", help="print one JSON document")


def since_start(spec: str, now: datetime) -> datetime:
    """The first instant the backtest trades from (the same rule as run_backtest's --since)."""
    return data.parse_when(spec, flag="--since", until=now)


def load_candles(
    symbol: str,
    timeframe: str,
    start: datetime,
    warmup_bars: int,
    *,
    source: str | None,
    venue: str,
    now: datetime,
):
    """Closed candles from ``warmup_bars`` before ``start`` up to ``now`` (a DataFrame), through
    the loader run_backtest uses."""
    return data.load_candles(
        symbol,
        timeframe,
        start,
        now,
        source=source or market.source_from_env(),
        platform=venue,
        warmup=warmup_bars,
    ).df


def source_or_env(data: str | None) -> str:
    return data if data else market.source_from_env()


# ---- volatility (daily closes, upstream's definitions) --------------------------------------


def vol_series(closes: Sequence[float], window: int = 14) -> list[float | None]:
    """The options strategies' realized vol (shared_strategies/options/vol.py: population std
    of ``window`` log returns, sqrt 365) as of every bar; None until ``window`` returns exist.
    The rank over it is the live one (vol.realized_vol_rank), not a copy here."""
    return [
        realized_vol(closes[i - window : i + 1], 365.0, window) if i >= window else None
        for i in range(len(closes))
    ]


# ---- metrics ---------------------------------------------------------------------------------


def max_drawdown_pct(equity: Sequence[float]) -> float:
    """Worst peak-to-trough fall, in percent (0 or negative): backtest.metrics' rule."""
    return curve_max_drawdown_pct(equity, equity[0]) if len(equity) else 0.0


def sharpe(equity: Sequence[float], periods_per_year: float) -> float | None:
    """Annualized Sharpe of per-period returns (risk-free 0): backtest.metrics' rule."""
    return curve_sharpe(equity, periods_per_year)


def annualized_pct(final: float, initial: float, days: float) -> float | None:
    if initial <= 0 or final <= 0 or days <= 0:
        return None
    return ((final / initial) ** (365.0 / days) - 1.0) * 100.0


# ---- output ----------------------------------------------------------------------------------


def clean(x: Any) -> Any:
    """JSON-safe: NaN/Inf become null, recursively; floats rounded to 6 dp for reading."""
    if isinstance(x, float):
        return round(x, 6) if math.isfinite(x) else None
    if isinstance(x, dict):
        return {k: clean(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [clean(v) for v in x]
    return x


def emit_json(doc: dict) -> None:
    out(json.dumps(clean(doc), allow_nan=False))


def out(text: str) -> None:
    """Print a report; a reader that stops early (``| head``) is not an error."""
    try:
        sys.stdout.write(text + "\n")
        sys.stdout.flush()
    except BrokenPipeError:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())


def fmt(x: float | None, suffix: str = "", sign: bool = False) -> str:
    if x is None or (isinstance(x, float) and not math.isfinite(x)):
        return "n/a"
    return f"{x:+,.2f}{suffix}" if sign else f"{x:,.2f}{suffix}"


def fail(prog: str, message: str, code: int = 1) -> int:
    sys.stderr.write(f"{prog}: error: {message}\n")
    return code
