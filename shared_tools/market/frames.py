"""The one frame shape every candle source returns (float64 OHLCV, UTC 'time' index of opens).

Kept apart from :mod:`shared_tools.market.common` because it needs pandas, which the price path
must not import.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from shared_tools.market.common import COLUMNS


def make_frame(
    open_ms: np.ndarray,
    open_: np.ndarray,
    high: np.ndarray,
    low: np.ndarray,
    close: np.ndarray,
    volume: np.ndarray,
) -> pd.DataFrame:
    """Columns open/high/low/close/volume (float64), index ``time``: UTC bar open times."""
    ms = np.asarray(open_ms, dtype="int64")
    index = pd.DatetimeIndex(ms.astype("datetime64[ms]").astype("datetime64[ns]"), name="time")
    index = index.tz_localize("UTC")
    data = {
        "open": np.asarray(open_, dtype="float64"),
        "high": np.asarray(high, dtype="float64"),
        "low": np.asarray(low, dtype="float64"),
        "close": np.asarray(close, dtype="float64"),
        "volume": np.asarray(volume, dtype="float64"),
    }
    return pd.DataFrame(data, index=index, columns=COLUMNS)


def frame_from_rows(rows: np.ndarray | list) -> pd.DataFrame:
    """Rows of [open_ms, o, h, l, c, v] (any order, duplicates allowed) -> canonical frame.

    A timestamp seen twice keeps its last row, as a venue's correction would.
    """
    arr = np.asarray(rows, dtype="float64").reshape(-1, 6)
    if len(arr):
        ms = arr[:, 0].astype("int64")
        _, first_rev = np.unique(ms[::-1], return_index=True)
        keep = np.sort(len(ms) - 1 - first_rev)
        arr = arr[keep]
        arr = arr[np.argsort(arr[:, 0].astype("int64"), kind="stable")]
    return make_frame(arr[:, 0], arr[:, 1], arr[:, 2], arr[:, 3], arr[:, 4], arr[:, 5])
