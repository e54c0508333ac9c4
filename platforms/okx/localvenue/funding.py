"""The local OKX venue's swap funding: OKX settles every 8 hours (00:00, 08:00, 16:00 UTC).

Settled lazily: before any request touches an account, every funding time passed since the
account's last settlement is settled on the positions it holds *now*, which are the positions
it held then (positions change only through requests, and each request settles first). Each
settlement moves the account's USDT and writes a bill as OKX does: ``type`` 8 (funding fee),
``subType`` 173 (paid) or 174 (received), ``balChg`` and ``pnl`` the signed amount.

The rate is the simulated market's hourly funding rate (:func:`shared_tools.market.sim_model.
funding_rate`, the one the paper book reads) times the 8-hour interval, at the mark of the
funding time: a positive rate means longs pay shorts.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from platforms.okx.localvenue.model import Account, Instrument, wire
from shared_tools.market import sim_model

__all__ = ["INTERVAL_MS", "BILL_TYPE", "settle"]

INTERVAL_MS = 8 * 3600 * 1000
BILL_TYPE = "8"  # OKX bills: funding fee
PAID, RECEIVED = "173", "174"  # OKX bill subTypes: funding fee expense / income


def settle(
    acct: Account,
    now_ms: int,
    seed: int,
    inst: Callable[[str], Instrument],
    mid: Callable[[Instrument, int], float],
    new_id: Callable[[], str],
) -> None:
    """Settle every funding time in ``(acct.funded_ms, now_ms]`` (the first call only starts
    the account's funding clock)."""
    last = acct.funded_ms
    acct.funded_ms = max(last, now_ms)
    if last <= 0 or now_ms <= last:
        return
    t = (last // INTERVAL_MS + 1) * INTERVAL_MS
    while t <= now_ms:
        for inst_id, pos in sorted(acct.positions.items()):
            if pos.pos != 0:
                _bill(acct, inst(inst_id), float(pos.pos), t, seed, mid, new_id)
        t += INTERVAL_MS


def _bill(
    acct: Account,
    inst: Instrument,
    contracts: float,
    t: int,
    seed: int,
    mid: Callable[[Instrument, int], float],
    new_id: Callable[[], str],
) -> None:
    mark = mid(inst, t)
    coins = contracts * float(inst.ct_val)
    rate = sim_model.funding_rate(inst.coin, t / 1000.0, seed) * (INTERVAL_MS / 3_600_000)
    amount = -coins * mark * rate  # longs pay a positive rate
    acct.usdt += amount
    row: dict[str, Any] = {
        "billId": new_id(),
        "ts": str(t),
        "ccy": "USDT",
        "type": BILL_TYPE,
        "subType": RECEIVED if amount >= 0 else PAID,
        "balChg": wire(amount),
        "bal": wire(acct.usdt),
        "pnl": wire(amount),
        "fee": "0",
        "instId": inst.inst_id,
        "instType": "SWAP",
        "tradeId": "",
        "ordId": "",
        "sz": wire(abs(contracts)),
        "px": wire(mark),
        "mgnMode": "cross",
    }
    acct.bills.append(row)
