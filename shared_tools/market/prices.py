"""Latest prices (and the simulated funding rate) for every source, without pandas or numpy.

``check_price`` runs once per platform and cycle only to print a few marks, so this path
imports the standard library, the replay file reader, the simulated model in plain Python and,
for the exchange source only, the venue's feed from the registry (``platforms/<venue>/``:
ccxt, or Hyperliquid's SDK). It answers per symbol: one unreadable symbol costs only its own
price (:func:`fetch_prices_partial`), never the marks of the others.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

from shared_tools.market import registry as _registry
from shared_tools.market import replay as _replay
from shared_tools.market import sim_model as _sim
from shared_tools.market.common import (
    MarketDataError,
    as_utc,
    check_symbol,
    parse_source,
    source_from_env,
)

__all__ = ["fetch_prices", "fetch_prices_partial", "reset", "simulated_funding_rate"]

PRICE_TTL_S = 5.0  # exchange prices: a batch shares one ticker request, a new run refetches
_memo: dict[tuple[str, str], tuple[float, float]] = {}
_lock = threading.Lock()


def resolve_source(source: str | None) -> str:
    """The caller's source spec, or the environment's when None (validated either way)."""
    return source_from_env() if source is None else parse_source(source, what="source")


def _usable(symbol: str, value: float, where: str) -> float:
    if not isinstance(value, (int, float)) or not math.isfinite(value) or value <= 0:
        raise MarketDataError(where, f"no usable price for {symbol} (got {value!r})")
    return float(value)


def _one_by_one(
    symbols: list[str], read: Callable[[str], float], where: str
) -> tuple[dict[str, float], dict[str, MarketDataError]]:
    prices: dict[str, float] = {}
    missing: dict[str, MarketDataError] = {}
    for sym in symbols:
        try:
            prices[sym] = _usable(sym, read(sym), where)
        except MarketDataError as exc:
            missing[sym] = exc
    return prices, missing


def _exchange_prices(
    symbols: list[str], venue: str
) -> tuple[dict[str, float], dict[str, MarketDataError]]:
    t = time.monotonic()
    with _lock:
        fresh = {
            s: _memo[(venue, s)][1]
            for s in symbols
            if (venue, s) in _memo and t - _memo[(venue, s)][0] < PRICE_TTL_S
        }
    wanted = sorted(set(symbols) - set(fresh))
    missing: dict[str, MarketDataError] = {}
    if wanted:
        got, missing = _registry.feed(venue).prices(wanted)
        got, bad = _one_by_one(list(got), got.__getitem__, venue)
        missing.update(bad)
        with _lock:
            for s, p in got.items():
                _memo[(venue, s)] = (t, p)
        fresh.update(got)
    return fresh, missing


def fetch_prices_partial(
    symbols: list[str] | str,
    *,
    source: str | None = None,
    venue: str = "binanceus",
    now: datetime | None = None,
) -> tuple[dict[str, float], dict[str, MarketDataError]]:
    """Latest price of every symbol that can be read, and the reason for each that cannot.

    Both maps are keyed by the symbols as given. simulated: the path value at ``now`` (on a
    minute boundary the last 1m close); replay: close of the most recent closed bar in any
    timeframe file; exchange: the ticker's last trade (``now`` is ignored: venues have no
    historical ticker), memoized for a few seconds so a batch shares one request. A venue that
    cannot be reached at all raises MarketDataError (every symbol would fail the same way);
    a bad source spec or seed raises ValueError.
    """
    given = [symbols] if isinstance(symbols, str) else list(symbols)
    src = resolve_source(source)
    where = src.split(":", 1)[0] if src != "exchange" else venue
    valid: dict[str, str] = {}  # as given -> stripped
    missing: dict[str, MarketDataError] = {}
    for sym in given:
        try:
            valid[sym] = check_symbol(sym)
        except ValueError as exc:
            missing[str(sym)] = MarketDataError(where, str(exc))
    names = sorted(set(valid.values()))
    if src == "simulated":
        seed = _sim.seed_from_env()
        now_s = as_utc(now).timestamp()
        got, bad = _one_by_one(names, lambda s: _sim.price(s, now_s, seed), where)
    elif src.startswith("replay:"):
        now_s = as_utc(now).timestamp()
        directory = Path(src[len("replay:") :])
        got, bad = _one_by_one(names, lambda s: _replay.price(directory, s, now_s), where)
    else:
        got, bad = _exchange_prices(names, venue)
    prices = {sym: got[name] for sym, name in valid.items() if name in got}
    missing.update({sym: bad[name] for sym, name in valid.items() if name in bad})
    return prices, missing


def fetch_prices(
    symbols: list[str] | str,
    *,
    source: str | None = None,
    venue: str = "binanceus",
    now: datetime | None = None,
) -> dict[str, float]:
    """Latest price per symbol, all or nothing: raises for the first symbol without a price.

    Callers that can use a partial answer (marks) call :func:`fetch_prices_partial`.
    """
    given = [symbols] if isinstance(symbols, str) else list(symbols)
    for sym in given:
        check_symbol(sym)
    prices, missing = fetch_prices_partial(given, source=source, venue=venue, now=now)
    if missing:
        raise next(iter(missing.values()))
    return prices


def simulated_funding_rate(symbol: str, now: datetime | None = None) -> float:
    """Hourly funding rate of the simulated perp (|rate| <= 0.0005), deterministic in time."""
    return _sim.funding_rate(check_symbol(symbol), as_utc(now).timestamp(), _sim.seed_from_env())


def reset() -> None:
    """Forget memoized exchange prices (tests, long processes)."""
    with _lock:
        _memo.clear()
