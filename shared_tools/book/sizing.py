"""How large a fresh perps open is: one function for the supervisor, live and the backtester.

Exactly one mode applies (upstream §1.4, ``PerpsOpenNotionalSized``):

* default: notional = cash * sizing_leverage (which defaults to the exchange leverage);
* ``margin_per_trade_usd``: notional = min(margin_per_trade_usd, cash) * leverage;
* ``risk_per_trade_pct``: notional = (cash * pct / 100) / stop distance * price, capped at
  cash * leverage, so a stop hit loses about pct % of cash (before fees and slippage).

The stop distance is :func:`shared_tools.book.guard.stop_distance` at the entry price and ATR,
the same function that arms the stop. Risk sizing is fail-closed: with no distance to size from
the open is refused (never a fallback notional); a flip then only closes.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

__all__ = ["NO_STOP", "Sizing", "perps_notional"]

NO_STOP = "risk_per_trade_pct: no stop distance to size from"


@dataclass(frozen=True)
class Sizing:
    """A perps book's sizing terms (the config's keys; 0 = not set)."""

    leverage: float = 1.0  # exchange leverage: margin = notional / leverage; the risk cap
    sizing_leverage: float = 0.0  # 0 = leverage
    margin_per_trade_usd: float = 0.0
    risk_per_trade_pct: float = 0.0

    @property
    def needs_stop(self) -> bool:
        """True when the size depends on the stop distance (risk mode)."""
        return self.risk_per_trade_pct > 0


def perps_notional(cash: float, price: float, terms: Sizing, distance: float) -> tuple[float, str]:
    """(notional, "") for an open at ``price`` with ``cash``, or (0, why) when it is refused.

    ``distance`` is the price distance to the stop the open will be armed with (0: none); only
    risk sizing reads it.
    """
    leverage = max(terms.leverage, 1.0)
    if terms.risk_per_trade_pct > 0:
        if not (math.isfinite(distance) and distance > 0 and math.isfinite(price) and price > 0):
            return 0.0, NO_STOP
        risk = cash * terms.risk_per_trade_pct / 100.0
        return min(risk / distance * price, cash * leverage), ""
    if terms.margin_per_trade_usd > 0:
        return min(terms.margin_per_trade_usd, cash) * leverage, ""
    return cash * (terms.sizing_leverage or leverage), ""
