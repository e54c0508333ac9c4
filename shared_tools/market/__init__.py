"""The one door to candles and prices for every worker script: ``from shared_tools import market``.

Sources (``GO_TRADER_MARKET_DATA`` or the ``source=`` argument):

* ``exchange`` (default): real venues, each read by its feed in ``platforms/<venue>/`` (ccxt for
  binanceus, binance, okx, okx-swap, luno, deribit; Hyperliquid's SDK for ``hyperliquid``;
  ``robinhood`` through Binance US USD candles; TopStep and IBKR have no public data and say so). The feeds reach the door through
  :mod:`registry` (``shared_tools`` never imports ``platforms``): a caller that needs this
  source runs ``import platforms`` first. With an SQLite cache of closed candles
  (``GO_TRADER_OHLCV_CACHE``, default ``state/ohlcv_cache.db``) so a repeated check only asks
  for the bars it lacks. ccxt and the SDK are imported only for this source.
* ``simulated``: a deterministic offline market, a pure function of (``GO_TRADER_SIM_SEED``,
  symbol, timeframe, bar open time) that moves forward with the clock: demo and tests.
* ``replay:<dir>``: freqtrade-style ``<dir>/BTC_USDT-1h.json`` / ``.csv`` files.

The clock is :func:`now_utc` (``GO_TRADER_NOW`` pins it). Candles are closed bars only.

Modules:

* ``common``    timeframes, the clock, the closed-bar rule, source specs, the error (stdlib only);
* ``prices``    latest prices and the simulated funding rate (no pandas, no numpy);
* ``ohlcv``     candles: the memo, the exchange cache path, the closed-bar cut (pandas);
* ``sim_model`` / ``simulated``  the offline market's model (plain Python) and its candles;
* ``sim_options`` the offline market's options: venue calendars, strike grids, the IV smile;
* ``replay``    freqtrade-style JSON/CSV candle files;
* ``registry``  venue name -> feed factory, filled by ``platforms`` (``register_venue``/``venue``);
* ``funding``   perps funding: the current hourly rate and the history, every source;
* ``cache``     the SQLite OHLCV cache used by the exchange source;
* ``frames``    the one frame shape every source returns.

The names below are re-exported lazily, so ``market.fetch_prices`` (the price check) never
imports pandas, while ``market.fetch_ohlcv`` loads the candle machinery on first use.
"""

from __future__ import annotations

import importlib
import sys
from typing import TYPE_CHECKING, Any

from shared_tools.market.common import (
    COLUMNS,
    TIMEFRAMES,
    MarketDataError,
    now_utc,
    source_from_env,
    timeframe_seconds,
)

if TYPE_CHECKING:  # pragma: no cover - for type checkers and editors only
    from shared_tools.market.funding import fetch_funding_history, fetch_funding_rates
    from shared_tools.market.ohlcv import fetch_ohlcv
    from shared_tools.market.prices import (
        fetch_prices,
        fetch_prices_partial,
        simulated_funding_rate,
    )

__all__ = [
    "COLUMNS",
    "TIMEFRAMES",
    "MarketDataError",
    "clear_memo",
    "fetch_funding_history",
    "fetch_funding_rates",
    "fetch_ohlcv",
    "fetch_prices",
    "fetch_prices_partial",
    "now_utc",
    "simulated_funding_rate",
    "source_from_env",
    "timeframe_seconds",
]

_LAZY = {
    "fetch_funding_history": "funding",
    "fetch_funding_rates": "funding",
    "fetch_ohlcv": "ohlcv",
    "fetch_prices": "prices",
    "fetch_prices_partial": "prices",
    "simulated_funding_rate": "prices",
}
# modules holding per-process state that clear_memo() resets, when they have been imported
_STATEFUL = ("ohlcv", "prices", "replay", "registry", "cache")


def __getattr__(name: str) -> Any:
    """Load the module behind a lazily re-exported name on first use."""
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{module}"), name)


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))


def clear_memo() -> None:
    """Forget memoized frames/prices, parsed files and open clients/cache handles.

    Only modules already imported are reset, so clearing never drags pandas into a process
    that did not need it.
    """
    for name in _STATEFUL:
        module = sys.modules.get(f"{__name__}.{name}")
        if module is not None:
            module.reset()
