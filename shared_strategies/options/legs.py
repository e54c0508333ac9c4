"""The leg builder and what every options evaluator receives (upstream §3.1).

An evaluator sees one :class:`Context` (the underlying, its spot, the realized vol and rank,
the strategy's open option legs and assigned spot, the venue's chain) and answers a
:class:`Decision`. All legs of one evaluation share one expiry (one ``real_expiry`` call), as
upstream. Strikes are the chain's nearest listed strike to ``spot x multiple``, snapped by the
venue (its listing, else its fallback grid).

Units are the chain's (shared_tools/options_chain.py): ``premium_usd`` per ONE unit of
underlying, gross; greeks long-option per unit; a contract is ``multiplier`` units.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from shared_tools.options_chain import OptionQuote, OptionsChain

__all__ = ["Context", "Decision", "NoQuote", "build_action", "option_leg"]


class NoQuote(ValueError):
    """A leg the venue quotes at zero or less: the whole structure is skipped (upstream's
    zero-premium trades, failure story 4; never a naked sibling)."""


@dataclass
class Context:
    """One evaluation's inputs (upstream's evaluator arguments, with the chain as adapter)."""

    underlying: str
    spot: float
    vol_annual: float
    iv_rank: float
    option_positions: Sequence[dict[str, Any]]
    spot_positions: Sequence[dict[str, Any]]
    chain: OptionsChain
    # 4h closes, oldest first, for momentum_options; None when the data could not be had
    closes_4h: Callable[[], Sequence[float] | None] = field(default=lambda: None)


@dataclass
class Decision:
    """``(signal, actions, iv_rank)`` as upstream's evaluators return it."""

    signal: int = 0
    actions: list[dict[str, Any]] = field(default_factory=list)
    iv_rank: float = 0.0
    note: str = ""  # why nothing was proposed (stderr only)


def build_action(
    action: str, quote: OptionQuote, dte: int, quantity: float = 1.0, **extra: Any
) -> dict[str, Any]:
    """One action object of the output document (upstream's keys plus the contract's)."""
    doc: dict[str, Any] = {
        "action": action,
        "option_type": quote.option_type,
        "strike": quote.strike,
        "expiry": quote.expiry,
        "dte": dte,
        "premium": quote.premium,
        "premium_usd": quote.premium_usd,
        "greeks": {k: float(quote.greeks.get(k, 0.0)) for k in ("delta", "gamma", "theta", "vega")},
        "quantity": quantity,
        "multiplier": quote.multiplier,
        "expires_at": quote.expires_at.isoformat().replace("+00:00", "Z"),
        "instrument": quote.instrument,
        "iv": quote.iv,
        "premium_source": quote.source,
    }
    doc.update(extra)
    return doc


def option_leg(
    ctx: Context,
    expiry: str,
    dte: int,
    option_type: str,
    action: str,
    target_strike: float,
    *,
    strike: float | None = None,
    quantity: float = 1.0,
    **extra: Any,
) -> dict[str, Any]:
    """Snap ``target_strike`` on the venue, quote it, build the action; :class:`NoQuote` when
    the venue's premium is not positive. ``strike`` skips the snap (the straddle's shared ATM)."""
    if strike is None:
        strike = ctx.chain.real_strike(ctx.underlying, expiry, option_type, target_strike)
    quote = ctx.chain.quote(ctx.underlying, option_type, strike, expiry, vol=ctx.vol_annual)
    if not quote.premium_usd > 0:
        raise NoQuote(
            f"{ctx.underlying} {option_type} {strike:g} {expiry}: premium {quote.premium_usd}"
        )
    return build_action(action, quote, dte, quantity, **extra)
