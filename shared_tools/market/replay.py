"""Candles from freqtrade-style files, so recorded market data can be replayed through workers.

``<dir>/BTC_USDT-1h.json`` is a JSON array of ``[ms, open, high, low, close, volume]``;
``<dir>/BTC_USDT-1h.csv`` has a header ``timestamp,open,high,low,close,volume`` where timestamp
is epoch milliseconds or ISO-8601 (numbers below 1e11 are taken as epoch *seconds*, a common
export mistake that would otherwise land every bar in 1970). Futures files named
``BTC_USDT_USDT-1h-futures.json`` are found too.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from shared_tools.market.common import (
    TIMEFRAMES,
    MarketDataError,
    frame_from_rows,
    last_closed_open,
)

VENUE = "replay"
_PARSED: dict[tuple[str, int, int], pd.DataFrame] = {}


def file_stem(symbol: str) -> str:
    """'BTC/USDT' -> 'BTC_USDT', 'BTC/USDT:USDT' -> 'BTC_USDT_USDT' (freqtrade's naming)."""
    return str(symbol).strip().replace("/", "_").replace(":", "_").replace("-", "_")


def candidates(directory: Path, symbol: str, timeframe: str) -> list[Path]:
    stem = f"{file_stem(symbol)}-{timeframe}"
    return [
        directory / f"{stem}{suffix}"
        for suffix in (".json", ".csv", "-futures.json", "-futures.csv")
    ]


def find_file(directory: Path, symbol: str, timeframe: str) -> Path:
    for path in candidates(directory, symbol, timeframe):
        if path.is_file():
            return path
    expected = candidates(directory, symbol, timeframe)[0]
    raise MarketDataError(
        VENUE,
        f"no candle file for {symbol} {timeframe}: expected {expected} (or .csv) "
        f"in {directory.resolve()}",
    )


def _ms_from_column(col: pd.Series) -> np.ndarray:
    numeric = pd.to_numeric(col, errors="coerce")
    if numeric.notna().all():
        values = numeric.to_numpy(dtype="float64")
        if len(values) and np.nanmax(np.abs(values)) < 1e11:
            values = values * 1000.0
        return values.astype("int64")
    stamps = pd.to_datetime(col, utc=True, format="ISO8601")
    return (stamps.astype("datetime64[ns, UTC]").astype("int64") // 1_000_000).to_numpy()


def _finite(rows: np.ndarray) -> pd.DataFrame:
    """Rows with a missing/NaN field are dropped rather than poisoning indicators."""
    return frame_from_rows(rows[np.isfinite(rows).all(axis=1)])


def _parse(path: Path) -> pd.DataFrame:
    if path.suffix == ".json":
        data = json.loads(path.read_text())
        if not isinstance(data, list):
            raise ValueError("expected a JSON array of [ms, open, high, low, close, volume]")
        widths = {len(r) if isinstance(r, list) else -1 for r in data}
        if data and (len(widths) != 1 or min(widths) < 6):
            raise ValueError(
                f"expected rows of [ms, open, high, low, close, volume], found rows of "
                f"{sorted(w for w in widths if w >= 0) or 'non-list items'} values"
            )
        rows = np.array([r[:6] for r in data], dtype="float64") if data else np.zeros((0, 6))
        if len(rows) and np.nanmax(np.abs(rows[:, 0])) < 1e11:
            rows[:, 0] *= 1000.0
        return _finite(rows)
    table = pd.read_csv(path)
    table.columns = [str(c).strip().lower() for c in table.columns]
    time_col = next((c for c in ("timestamp", "date", "time") if c in table.columns), None)
    missing = [c for c in ("open", "high", "low", "close", "volume") if c not in table.columns]
    if time_col is None or missing:
        raise ValueError("expected a header timestamp,open,high,low,close,volume")
    rows = np.column_stack(
        [_ms_from_column(table[time_col]).astype("float64")]
        + [table[c].to_numpy(dtype="float64") for c in ("open", "high", "low", "close", "volume")]
    )
    return _finite(rows)


def load(path: Path) -> pd.DataFrame:
    """Parse once per (path, mtime, size): a batch of jobs re-reads nothing."""
    try:
        st = path.stat()
        key = (str(path.resolve()), st.st_mtime_ns, st.st_size)
        if key not in _PARSED:
            if len(_PARSED) >= 64:
                _PARSED.clear()
            _PARSED[key] = _parse(path)
        return _PARSED[key]
    except MarketDataError:
        raise
    except Exception as exc:  # malformed files must not escape as random exceptions
        raise MarketDataError(VENUE, f"cannot read {path}: {type(exc).__name__}: {exc}") from exc


def closed_bars(frame: pd.DataFrame, tf_s: int, now_s: float) -> pd.DataFrame:
    cutoff = pd.Timestamp(last_closed_open(now_s, tf_s), unit="s", tz="UTC")
    return frame.loc[frame.index <= cutoff]


def bars(directory: Path, symbol: str, timeframe: str, limit: int, now_s: float) -> pd.DataFrame:
    path = find_file(directory, symbol, timeframe)
    frame = closed_bars(load(path), TIMEFRAMES[timeframe], now_s)
    if frame.empty:
        raise MarketDataError(
            VENUE, f"no closed {symbol} {timeframe} bar at the clock in {path} (data starts later)"
        )
    return frame.iloc[-limit:]


def price(directory: Path, symbol: str, now_s: float) -> float:
    """Close of the most recently closed bar over all timeframes present for ``symbol``."""
    best: tuple[float, float] | None = None  # (close time, close)
    for timeframe, tf_s in TIMEFRAMES.items():
        for path in candidates(directory, symbol, timeframe):
            if not path.is_file():
                continue
            frame = closed_bars(load(path), tf_s, now_s)
            if not frame.empty:
                close_time = frame.index[-1].timestamp() + tf_s
                if best is None or close_time > best[0]:
                    best = (close_time, float(frame["close"].iloc[-1]))
            break
    if best is None:
        raise MarketDataError(
            VENUE,
            f"no closed bar for {symbol} at the clock: expected a file like "
            f"{directory / (file_stem(symbol) + '-1m.json')} (any timeframe)",
        )
    return best[1]
