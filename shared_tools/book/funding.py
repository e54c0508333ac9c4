"""One funding function for the supervisor's book and the backtester.

Rates in this project are normalised hourly everywhere (OKX's 8-hour rate is divided by 8), and
a positive rate means longs pay shorts. A venue pays funding at fixed boundaries of its interval
(Hyperliquid every hour, OKX every 8 hours, aligned to UTC): a position pays one interval's worth
(the hourly rate x the interval in hours) for every boundary it is held across.
"""

from __future__ import annotations

import math

__all__ = ["funding_due"]


def funding_due(
    sign: int,
    quantity: float,
    mark: float,
    hourly_rate: float,
    since_s: float,
    now_s: float,
    interval_s: float,
) -> tuple[float, int]:
    """(amount to the account, periods) for the boundaries crossed in ``(since_s, now_s]``.

    ``sign`` is +1 for a long, -1 for a short; the amount is negative when the position pays.
    """
    if interval_s <= 0 or now_s <= since_s:
        return 0.0, 0
    periods = math.floor(now_s / interval_s) - math.floor(since_s / interval_s)
    if periods < 1:
        return 0.0, 0
    amount = -sign * quantity * mark * hourly_rate * (interval_s / 3600.0) * periods
    return amount, periods
