"""Perpetual funding for every source: the current hourly rate and the history (no pandas).

Rates are hourly everywhere (Hyperliquid funds hourly; OKX's 8-hourly rates are divided by their
interval), so a funding strategy's thresholds mean the same on every venue.

* simulated: :func:`shared_tools.market.sim_model.funding_rate`, one record per hour;
* exchange: the venue's feed from the registry (``platforms/<venue>/``): Hyperliquid through
  its SDK, OKX (``okx``/``okx-swap``) through ccxt; other venues have no perps funding and say so;
* replay: the candle files carry no funding, so the history is refused with a clear cause.
"""

from __future__ import annotations

from datetime import datetime

from shared_tools.market import registry as _registry
from shared_tools.market import sim_model as _sim
from shared_tools.market.common import MarketDataError, as_utc, check_symbol
from shared_tools.market.prices import resolve_source

__all__ = ["fetch_funding_history", "fetch_funding_rates"]

HOUR_MS = 3_600_000
MAX_SIM_RECORDS = 50_000  # a longer span is sampled more coarsely


def _simulated_history(symbol: str, start_ms: int, end_ms: int) -> list[dict[str, float]]:
    seed = _sim.seed_from_env()
    step = HOUR_MS * max(1, -(-(end_ms - start_ms) // (HOUR_MS * MAX_SIM_RECORDS)))
    first = -(-start_ms // HOUR_MS) * HOUR_MS  # the first hour boundary at or after start
    return [
        {"time": t, "rate": _sim.funding_rate(symbol, t / 1000.0, seed)}
        for t in range(first, end_ms + 1, step)
    ]


def fetch_funding_history(
    symbol: str,
    start_ms: int,
    end_ms: int,
    *,
    venue: str,
    source: str | None = None,
) -> list[dict[str, float]]:
    """Hourly funding records ``[{"time": ms, "rate": r}, ...]`` in [start_ms, end_ms], ascending.

    Raises MarketDataError when the source or venue has no funding (replay files, spot venues)
    or cannot be reached; callers that can do without (a check whose strategy ignores funding)
    catch it.
    """
    symbol = check_symbol(symbol)
    start_ms, end_ms = int(start_ms), int(end_ms)
    src = resolve_source(source)
    if src == "simulated":
        return _simulated_history(symbol, start_ms, end_ms)
    if src.startswith("replay:"):
        raise MarketDataError("replay", "replay files carry no funding history")
    records = _registry.feed(venue).funding_history(symbol, start_ms, end_ms)
    return sorted(records, key=lambda r: r["time"])


def fetch_funding_rates(
    symbols: list[str],
    *,
    venue: str,
    source: str | None = None,
    now: datetime | None = None,
) -> tuple[dict[str, float], dict[str, MarketDataError]]:
    """The current hourly funding rate of every symbol that has one, and why the others have not.

    A venue that cannot be reached raises MarketDataError (every symbol would fail alike).
    """
    given = list(dict.fromkeys(symbols))
    src = resolve_source(source)
    if src == "simulated":
        seed = _sim.seed_from_env()
        now_s = as_utc(now).timestamp()
        return {s: _sim.funding_rate(check_symbol(s), now_s, seed) for s in given}, {}
    if src.startswith("replay:"):
        error = MarketDataError("replay", "replay files carry no funding rates")
        return {}, {s: error for s in given}
    return _registry.feed(venue).funding_rates(given)
