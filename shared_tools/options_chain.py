"""What an options venue answers: the chain protocol the options strategies and marks read.

One protocol, four venues (``platforms/<venue>/options_chain.py``: deribit, ibkr, okx,
robinhood) and the simulated market behind each of them. The strategies
(``shared_strategies/options/``) and the worker scripts (``shared_scripts/check_options.py``,
``shared_scripts/mark_options.py``) see only this, so a strategy's decision on a fixed chain is
a pure function of the chain (docs/architecture.md, "Options").

Units (upstream's, shared_tools/pricing.py):

* a premium is **USD per one unit of underlying** (``premium_usd``) and, as upstream's wire
  also carries it, the same as a fraction of spot (``premium`` = premium_usd / spot, Deribit's
  coin quote); a contract is ``multiplier`` units of underlying (Deribit and OKX 1, CME micro
  BTC 0.1 / ETH 0.5, Robinhood 100 shares), so one contract costs
  ``premium_usd * multiplier``;
* greeks are long-option greeks per one unit of underlying: delta per unit, gamma per $1,
  theta USD per calendar day, vega USD per vol point;
* ``dte`` is fractional calendar days to the venue's real expiry instant (``expires_at``, UTC;
  Deribit and OKX 08:00 UTC, CME and Robinhood at the session close), not 00:00 UTC.

Stdlib only: the supervisor may read :class:`OptionQuote` shapes from worker output.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol, runtime_checkable

__all__ = ["OptionQuote", "OptionsChain", "OptionsChainError"]


class OptionsChainError(RuntimeError):
    """A venue could not answer (network, unknown underlying); the text names the venue."""


@dataclass(frozen=True)
class OptionQuote:
    """One option's mark on one venue at one moment."""

    underlying: str  # upper-case, e.g. "BTC", "SPY"
    option_type: str  # "call" | "put"
    strike: float
    expiry: str  # "YYYY-MM-DD", the venue's expiry date
    expires_at: datetime  # the venue's real expiry instant, timezone-aware UTC
    dte: float  # fractional calendar days from now to expires_at (<= 0: expired)
    spot: float  # the underlying price the quote was made against
    premium_usd: float  # USD per 1 unit of underlying
    premium: float  # premium_usd / spot (Deribit's coin quote)
    multiplier: float  # units of underlying per contract
    greeks: dict[str, float] = field(default_factory=dict)  # delta, gamma, theta, vega
    iv: float | None = None  # annualised implied vol behind the mark, when known
    source: str = "venue"  # "venue" (the venue's own mark) | "black_scholes" (our model)
    instrument: str = ""  # the venue's instrument name when listed (e.g. "BTC-27JUN25-100000-C")


@runtime_checkable
class OptionsChain(Protocol):
    """Upstream's exchange_base protocol, with real expiry instants and per-contract sizes."""

    name: str  # "deribit" | "ibkr" | "okx" | "robinhood"

    def spot(self, underlying: str) -> float:
        """The underlying's last price in USD; raises OptionsChainError when unknown."""
        ...

    def daily_closes(self, underlying: str, count: int) -> list[float]:
        """Up to ``count`` closed daily closes, oldest first (the realized-vol rank's input)."""
        ...

    def implied_vol_history(self, underlying: str, days: int) -> list[float]:
        """Daily at-the-money implied vols (annualised, oldest first) where the venue publishes
        them (Deribit DVOL, the simulated smile); ``[]`` where it does not."""
        ...

    def multiplier(self, underlying: str) -> float:
        """Units of underlying per contract."""
        ...

    def real_expiry(self, underlying: str, target_dte: int) -> tuple[str, int]:
        """The listed expiry nearest ``target_dte`` by the venue's rule (Deribit: whole days
        1..365, nearest, ties to the shorter, none beyond 7 days -> the synthetic
        ``today + target``); returns ("YYYY-MM-DD", whole days)."""
        ...

    def real_strike(self, underlying: str, expiry: str, option_type: str, target: float) -> float:
        """The listed strike nearest ``target`` for that expiry and type, else the venue's
        fallback grid (upstream-options reference, "Venues")."""
        ...

    def expires_at(self, underlying: str, expiry: str) -> datetime:
        """The venue's real expiry instant for an expiry date (UTC, timezone-aware)."""
        ...

    def quote(
        self,
        underlying: str,
        option_type: str,
        strike: float,
        expiry: str,
        *,
        vol: float | None = None,
    ) -> OptionQuote:
        """The venue's mark for one option; where it has none, Black-Scholes at ``vol`` (the
        realized vol) with ``source="black_scholes"``. A premium <= 0 is returned as is: the
        caller skips it (upstream's zero-mark trades, failure story 4)."""
        ...

    def settlement_price(self, underlying: str, expiry: str) -> float | None:
        """After ``expires_at``: the price the venue settled that expiry at (Deribit's
        delivery price, the simulated index at the expiry instant); ``None`` while unknown."""
        ...
