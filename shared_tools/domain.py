"""The domain's words, typed: sides, signals, actions, instrument types, modes, venues.

``StrEnum``/``IntEnum`` members compare and serialise as the plain strings and numbers the
worker contract's JSON, the state DB and upstream's config use ("long", "perps", -1, ...), so
typed code and the wire agree without a conversion layer: ``Side.LONG == "long"`` and
``json.dumps(Side.LONG) == '"long"'``. Standard library only (the supervisor imports it).
"""

from __future__ import annotations

from enum import IntEnum, StrEnum

__all__ = ["Action", "Direction", "Kind", "Mode", "Reason", "Side", "Signal", "Venue"]


class Side(StrEnum):
    """Which way a position faces."""

    LONG = "long"
    SHORT = "short"


class Direction(StrEnum):
    """Which entries a strategy may take (config ``direction``)."""

    LONG = "long"
    SHORT = "short"
    BOTH = "both"


class Signal(IntEnum):
    """A check's answer (``signal`` in the worker JSON)."""

    SELL = -1
    HOLD = 0
    BUY = 1


class Action(StrEnum):
    """What a trade row did: the execution side of an order, a funding payment, or (live) a
    venue fee learned after its fill was booked."""

    BUY = "buy"
    SELL = "sell"
    FUNDING = "funding"
    FEE = "fee"


class Kind(StrEnum):
    """Instrument type (config ``type``; a book per kind)."""

    SPOT = "spot"
    PERPS = "perps"
    FUTURES = "futures"
    OPTIONS = "options"


class Mode(StrEnum):
    """Paper (the book is the truth) or live (the venue is the truth)."""

    PAPER = "paper"
    LIVE = "live"


class Venue(StrEnum):
    """The venues a strategy trades on (config ``platform``)."""

    BINANCEUS = "binanceus"
    HYPERLIQUID = "hyperliquid"
    OKX = "okx"
    TOPSTEP = "topstep"
    ROBINHOOD = "robinhood"
    LUNO = "luno"
    DERIBIT = "deribit"
    IBKR = "ibkr"


class Reason(StrEnum):
    """Why a position (or a share of it) was closed, as trade rows record it."""

    SIGNAL = "signal"
    STOP_LOSS = "stop_loss"
    TRAILING_STOP = "trailing_stop"
    TAKE_PROFIT = "take_profit"
    LIQUIDATION = "liquidation"
    CIRCUIT_BREAKER = "circuit_breaker"
    KILL_SWITCH = "kill_switch"
    FUNDING = "funding"
    END = "end"
    EXTERNAL = "external"  # live: closed on the venue, not by the bot (its UI, a liquidation)
    FEE = "fee"  # live: the fee of an order booked before the venue reported it
