"""Internals behind :mod:`shared_tools.market_data` (import that module, not these).

* ``common``    timeframes, the clock, source parsing, the error type, frame building;
* ``simulated`` the deterministic offline market (pure function of seed/symbol/bar time);
* ``replay``    freqtrade-style JSON/CSV candle files;
* ``exchange``  real venues through ccxt (imported lazily);
* ``cache``     the SQLite OHLCV cache used by the exchange source.
"""
