"""Validate what a worker answered before any of it touches the book.

A worker is untrusted input: a bug, a venue glitch or a hostile script can print anything. Every
field the book acts on is checked here, and anything odd becomes that strategy's error for this
cycle, never the cycle's. Prices must be finite, inside an absolute band, and close enough to the
cycle's mark for the symbol; the symbol must be the strategy's own.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from shared_tools.domain import Signal
from shared_tools.text import show

# No tradable instrument is priced outside this band (in its quote currency); beyond it a
# quantity computed from the price overflows or underflows into nonsense.
MIN_PRICE = 1e-9
MAX_PRICE = 1e9
# A check's bar close may lag the live mark by up to a timeframe, but never by half the price.
MAX_MARK_DEVIATION = 0.5


@dataclass
class WorkerSignal:
    """The fields of a signal-check result the book acts on, validated."""

    signal: Signal  # -1 sell/short, 0 hold, 1 buy/long (the JSON stays the plain number)
    price: float  # the check's last closed bar close (0.0: the worker gave none)
    atr: float = 0.0
    close_fraction: float = 1.0
    composed: bool = False  # the check ran close evaluators (it sent close_fraction)
    regime: object = ""  # the check's regime output: a label, a snapshot or {window: snapshot}
    market_open: bool = True  # futures checks say false outside the venue's trading hours


def finite(value: object, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ValueError(f"{name} must be a finite number, got {show(value)}")
    return float(value)


def check_price(price: float, name: str = "price") -> float:
    """A usable price: finite and inside [MIN_PRICE, MAX_PRICE]."""
    price = finite(price, name)
    if not MIN_PRICE <= price <= MAX_PRICE:
        raise ValueError(
            f"{name} {price:g} is outside the sane range [{MIN_PRICE:g}, {MAX_PRICE:g}]"
        )
    return price


def read_signal(data: object, symbol: str) -> WorkerSignal:
    """Validate a worker's JSON for the strategy trading ``symbol``."""
    if not isinstance(data, dict):
        raise ValueError(f"expected a JSON object, got {type(data).__name__}")
    answered = data.get("symbol")
    if answered is not None and answered != symbol:
        raise ValueError(
            f"result is for symbol {show(answered)}, not this strategy's {show(symbol)}"
        )
    signal_value = data.get("signal", 0)
    if isinstance(signal_value, bool) or signal_value not in (-1, 0, 1):
        raise ValueError(f"signal must be -1, 0 or 1, got {show(signal_value)}")
    price = data.get("price")
    price = 0.0 if price is None else check_price(price)
    indicators = data.get("indicators") or {}
    if not isinstance(indicators, dict):
        raise ValueError(f"indicators must be an object, got {type(indicators).__name__}")
    atr = indicators.get("atr")
    try:
        atr = finite(atr, "atr") if atr is not None else 0.0
    except ValueError:
        atr = 0.0  # ATR only annotates the position; a bad one is dropped, not fatal
    raw_fraction = data.get("close_fraction")
    fraction = 1.0 if raw_fraction is None else finite(raw_fraction, "close_fraction")
    if not 0.0 <= fraction <= 1.0:
        raise ValueError(f"close_fraction must be within [0, 1], got {show(fraction)}")
    return WorkerSignal(
        Signal(signal_value),
        price,
        max(atr, 0.0),
        fraction,
        composed=raw_fraction is not None,
        regime=data.get("regime") or "",
        market_open=data.get("market_open") is not False,
    )


def check_against_mark(price: float, mark: float) -> None:
    """Refuse a check price implausibly far from the cycle's mark for the same symbol."""
    if mark > 0 and price > 0 and abs(price / mark - 1.0) > MAX_MARK_DEVIATION:
        raise ValueError(
            f"price {price:g} is more than {MAX_MARK_DEVIATION:.0%} away from the cycle's mark "
            f"{mark:g}; refused"
        )


FUNDING_KEY = "_funding"
MAX_HOURLY_FUNDING = 0.05  # 5% an hour is beyond any venue's cap: a unit error, refused


def read_prices(data: object) -> dict[str, float]:
    """The usable part of a check_price answer ({symbol: price}); the rest is dropped."""
    if not isinstance(data, dict):
        return {}
    out = {}
    for sym, value in data.items():
        if str(sym).startswith("_"):
            continue
        try:
            out[str(sym)] = check_price(value)
        except ValueError:
            continue
    return out


def read_funding(data: object) -> dict[str, float]:
    """The hourly funding rates of a check_price answer (``_funding``), sane ones only."""
    rates = data.get(FUNDING_KEY) if isinstance(data, dict) else None
    if not isinstance(rates, dict):
        return {}
    out = {}
    for sym, value in rates.items():
        try:
            rate = finite(value, "funding")
        except ValueError:
            continue
        if abs(rate) <= MAX_HOURLY_FUNDING:
            out[str(sym)] = rate
    return out


def all_finite(numbers: list[float]) -> bool:
    return all(isinstance(x, (int, float)) and math.isfinite(x) for x in numbers)
