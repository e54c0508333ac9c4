"""Candles from freqtrade-style files, so recorded market data can be replayed through workers.

``<dir>/BTC_USDT-1h.json`` is a JSON array of ``[ms, open, high, low, close, volume]``;
``<dir>/BTC_USDT-1h.csv`` has a header ``timestamp,open,high,low,close,volume`` where timestamp
is epoch milliseconds or ISO-8601 (numbers below 1e11 are taken as epoch *seconds*, a common
export mistake that would otherwise land every bar in 1970). Futures files named
``BTC_USDT_USDT-1h-futures.json`` are found too.

One set of rules, two readers. Candles (:func:`bars`) parse a whole file with pandas/numpy,
once per (path, mtime, size). The latest price (:func:`price`, used by ``check_price``) scans
the file once in plain Python for its last closed bar: a price check must not import pandas,
and it needs one row, not a frame. Both apply the same rules (rows with a missing or non-finite
field are dropped, a repeated open time keeps its last row, the closed-bar cut), and a test
holds the two readers to the same answer. This module imports neither pandas nor numpy itself.
"""

from __future__ import annotations

import csv
import json
import math
import operator
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from shared_tools.market.common import TIMEFRAMES, MarketDataError, last_closed_open

if TYPE_CHECKING:  # pragma: no cover - typing only; pandas is imported where frames are built
    import pandas as pd

VENUE = "replay"
SECONDS_BELOW = 1e11  # a timestamp column whose values all lie below this is epoch seconds
TIME_COLUMNS = ("timestamp", "date", "time")
FIELDS = ("open", "high", "low", "close", "volume")
HEADER_HINT = "expected a header timestamp,open,high,low,close,volume"
# what pandas.read_csv reads as a missing value, so both readers drop the same rows
_NA = frozenset(
    [
        "#N/A",
        "#N/A N/A",
        "#NA",
        "-1.#IND",
        "-1.#QNAN",
        "-NaN",
        "-nan",
        "1.#IND",
        "1.#QNAN",
        "<NA>",
        "N/A",
        "NA",
        "NULL",
        "NaN",
        "None",
        "n/a",
        "nan",
        "null",
    ]
) | {""}
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MS = timedelta(milliseconds=1)
_CACHE_MAX = 64
_FRAMES: dict[tuple[str, int, int], pd.DataFrame] = {}


def file_stem(symbol: str) -> str:
    """'BTC/USDT' -> 'BTC_USDT', 'BTC/USDT:USDT' -> 'BTC_USDT_USDT' (freqtrade's naming)."""
    return str(symbol).strip().replace("/", "_").replace(":", "_").replace("-", "_")


def candidates(directory: Path, symbol: str, timeframe: str) -> list[Path]:
    """The file names tried for a series, in order of preference."""
    stem = f"{file_stem(symbol)}-{timeframe}"
    return [
        directory / f"{stem}{suffix}"
        for suffix in (".json", ".csv", "-futures.json", "-futures.csv")
    ]


def find_file(directory: Path, symbol: str, timeframe: str) -> Path:
    """The first existing candidate; a missing file names the path the operator should create."""
    for path in candidates(directory, symbol, timeframe):
        if path.is_file():
            return path
    expected = candidates(directory, symbol, timeframe)[0]
    raise MarketDataError(
        VENUE,
        f"no candle file for {symbol} {timeframe}: expected {expected} (or .csv) "
        f"in {directory.resolve()}",
    )


def _read_failure(path: Path, exc: Exception) -> MarketDataError:
    return MarketDataError(VENUE, f"cannot read {path}: {type(exc).__name__}: {exc}")


def _json_rows(path: Path) -> list[Any]:
    data = json.loads(path.read_text())
    if not isinstance(data, list):
        raise ValueError("expected a JSON array of [ms, open, high, low, close, volume]")
    widths = {len(r) if isinstance(r, list) else -1 for r in data}
    if data and (len(widths) != 1 or min(widths) < 6):
        raise ValueError(
            f"expected rows of [ms, open, high, low, close, volume], found rows of "
            f"{sorted(w for w in widths if w >= 0) or 'non-list items'} values"
        )
    return data


def _csv_columns(header: list[str]) -> tuple[str, list[str]]:
    """The time column's name and the lower-cased header; a header without them is refused."""
    names = [str(c).strip().lower() for c in header]
    time_col = next((c for c in TIME_COLUMNS if c in names), None)
    if time_col is None or any(c not in names for c in FIELDS):
        raise ValueError(HEADER_HINT)
    return time_col, names


# --------------------------------------------------------------------------- candles (pandas)


def _ms_from_column(col: pd.Series) -> Any:
    import numpy as np
    import pandas as pd

    numeric = pd.to_numeric(col, errors="coerce")
    if numeric.notna().all():
        values = numeric.to_numpy(dtype="float64")
        if len(values) and np.nanmax(np.abs(values)) < SECONDS_BELOW:
            values = values * 1000.0
        return values.astype("int64")
    stamps = pd.to_datetime(col, utc=True, format="ISO8601")
    return (stamps.astype("datetime64[ns, UTC]").astype("int64") // 1_000_000).to_numpy()


def _parse_frame(path: Path) -> pd.DataFrame:
    import numpy as np
    import pandas as pd

    from shared_tools.market.frames import frame_from_rows

    if path.suffix == ".json":
        data = _json_rows(path)
        rows = np.array([r[:6] for r in data], dtype="float64") if data else np.zeros((0, 6))
        if len(rows) and np.nanmax(np.abs(rows[:, 0])) < SECONDS_BELOW:
            rows[:, 0] *= 1000.0
    else:
        table = pd.read_csv(path)
        time_col, table.columns = _csv_columns(list(table.columns))
        rows = np.column_stack(
            [_ms_from_column(table[time_col]).astype("float64")]
            + [table[c].to_numpy(dtype="float64") for c in FIELDS]
        )
    # a row with a missing/NaN field is dropped rather than poisoning indicators
    return frame_from_rows(rows[np.isfinite(rows).all(axis=1)])


def _key(path: Path) -> tuple[str, int, int]:
    st = path.stat()
    return (str(path.resolve()), st.st_mtime_ns, st.st_size)


def load(path: Path) -> pd.DataFrame:
    """The whole file as the canonical frame, parsed once per (path, mtime, size)."""
    try:
        key = _key(path)
        if key not in _FRAMES:
            if len(_FRAMES) >= _CACHE_MAX:
                _FRAMES.clear()
            _FRAMES[key] = _parse_frame(path)
        return _FRAMES[key]
    except MarketDataError:
        raise
    except Exception as exc:  # malformed files must not escape as random exceptions
        raise _read_failure(path, exc) from exc


def closed_bars(frame: pd.DataFrame, tf_s: int, now_s: float) -> pd.DataFrame:
    """The rows of ``frame`` closed at ``now_s``."""
    import pandas as pd

    cutoff = pd.Timestamp(last_closed_open(now_s, tf_s), unit="s", tz="UTC")
    return frame.loc[frame.index <= cutoff]


def bars(directory: Path, symbol: str, timeframe: str, limit: int, now_s: float) -> pd.DataFrame:
    """The last ``limit`` bars closed at ``now_s`` (fewer if the file has fewer)."""
    path = find_file(directory, symbol, timeframe)
    frame = closed_bars(load(path), TIMEFRAMES[timeframe], now_s)
    if frame.empty:
        raise MarketDataError(
            VENUE, f"no closed {symbol} {timeframe} bar at the clock in {path} (data starts later)"
        )
    return frame.iloc[-limit:]


# --------------------------------------------------------------------------- price (plain Python)


def _cell(value: Any) -> float:
    """A cell as float: missing values are NaN (the row is dropped), garbage raises."""
    if value is None:
        return math.nan
    try:
        return float(value)
    except ValueError:
        if isinstance(value, str) and value.strip() in _NA:
            return math.nan
        raise


def _iso_ms(text: str) -> float:
    stamp = datetime.fromisoformat(text.strip())
    if stamp.tzinfo is None:
        stamp = stamp.replace(tzinfo=UTC)
    return float((stamp - _EPOCH) // _MS)


def _floats(cells: Any) -> tuple[float, ...]:
    """Six cells (time first) as floats; the fast path is one C-level map."""
    try:
        return tuple(map(float, cells))
    except (TypeError, ValueError):
        return tuple(_cell(x) for x in cells)


def _pick_last_closed(
    rows: Iterable[tuple[float, ...]], cutoff_ms: int, seconds: bool | None = None
) -> tuple[int, float] | None:
    """(open ms, close) of the last finite row opening at or before ``cutoff_ms``.

    Rows are (time, open, high, low, close, volume). Unless ``seconds`` says so, whether times
    are seconds or milliseconds is decided by the whole column (all below 1e11 means seconds),
    so the pick is kept under both readings until the column has been seen. ``>=``: a repeated
    open time keeps its last row, as the candle reader does.
    """
    isfinite = math.isfinite
    best_ms: int | None = None
    best_s: int | None = None
    close_ms = close_s = 0.0
    max_abs = 0.0
    for t, o, h, lo, c, v in rows:
        if t != t:  # NaN time: ignored by the column's scale too
            continue
        if abs(t) > max_abs:
            max_abs = abs(t)
        if not (isfinite(t) and isfinite(o) and isfinite(h) and isfinite(lo) and isfinite(c)):
            continue
        if not isfinite(v):
            continue
        ms = int(t)
        if ms <= cutoff_ms and (best_ms is None or ms >= best_ms):
            best_ms, close_ms = ms, c
        ms = int(t * 1000.0)
        if ms <= cutoff_ms and (best_s is None or ms >= best_s):
            best_s, close_s = ms, c
    if seconds is None:
        seconds = max_abs < SECONDS_BELOW
    if seconds:
        return None if best_s is None else (best_s, close_s)
    return None if best_ms is None else (best_ms, close_ms)


def _csv_rows(path: Path, iso: bool) -> Iterator[tuple[float, ...]]:
    """The file's rows as (time, open, high, low, close, volume) floats.

    With ``iso=False`` a time that is not a number (or NaN) raises _NotNumeric, so the caller
    reads the column as ISO-8601 instead: the candle reader decides per column the same way.
    """
    with path.open(newline="") as fh:
        reader = csv.reader(fh)
        time_col, names = _csv_columns(next(reader, []))
        get = operator.itemgetter(names.index(time_col), *(names.index(c) for c in FIELDS))
        width = len(names)
        for record in reader:
            if len(record) < width:
                if not any(cell.strip() for cell in record):
                    continue  # blank line
                record += [""] * (width - len(record))
            cells = get(record)
            if iso:
                yield (_iso_ms(cells[0]), *_floats(cells[1:]))
                continue
            try:
                row = tuple(map(float, cells))
            except ValueError:
                try:
                    float(cells[0])
                except ValueError:
                    raise _NotNumeric from None
                row = tuple(_cell(x) for x in cells)
            if row[0] != row[0]:
                raise _NotNumeric
            yield row


class _NotNumeric(Exception):
    """A CSV time cell that is not a number: the column is ISO-8601."""


def last_closed_row(path: Path, tf_s: int, now_s: float) -> tuple[int, float] | None:
    """(open ms, close) of the file's last bar closed at ``now_s``, or None if none is.

    One pass, no frame, no sort: the price check needs one row of the file.
    """
    cutoff_ms = last_closed_open(now_s, tf_s) * 1000
    try:
        if path.suffix == ".json":
            return _pick_last_closed((_floats(r[:6]) for r in _json_rows(path)), cutoff_ms)
        try:
            return _pick_last_closed(_csv_rows(path, iso=False), cutoff_ms)
        except _NotNumeric:
            return _pick_last_closed(_csv_rows(path, iso=True), cutoff_ms, seconds=False)
    except MarketDataError:
        raise
    except Exception as exc:
        raise _read_failure(path, exc) from exc


def price(directory: Path, symbol: str, now_s: float) -> float:
    """Close of the most recently closed bar over all timeframes present for ``symbol``."""
    best: tuple[float, float] | None = None  # (close time, close)
    for timeframe, tf_s in TIMEFRAMES.items():
        for path in candidates(directory, symbol, timeframe):
            if not path.is_file():
                continue
            row = last_closed_row(path, tf_s, now_s)
            if row is not None:
                close_time = row[0] / 1000.0 + tf_s
                if best is None or close_time > best[0]:
                    best = (close_time, row[1])
            break
    if best is None:
        raise MarketDataError(
            VENUE,
            f"no closed bar for {symbol} at the clock: expected a file like "
            f"{directory / (file_stem(symbol) + '-1m.json')} (any timeframe)",
        )
    return best[1]


def reset() -> None:
    """Forget parsed files (tests rewrite them within one mtime tick)."""
    _FRAMES.clear()
