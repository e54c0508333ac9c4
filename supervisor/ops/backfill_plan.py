"""The pure part of ``go-trader backfill``: which trade rows change and what cash becomes.

No I/O here: rows are the ``trades`` table's rows as dicts (``rowid`` included), fills are the
worker's ``by_oid`` summaries. :mod:`supervisor.ops.backfill` reads, prints and writes.

Rules (the module docstring of :mod:`supervisor.ops.backfill` says why):

* funding rows (``trade_type == "funding"``) are never touched;
* an order's real fee is split over every row carrying its order id by quantity;
* ``hl-fees`` rewrites only the fee of gross rows (a legacy net row is left for
  ``trade-ledger``, which converts it first);
* ``trade-ledger`` turns legacy net rows gross, then gives OID-matched rows the fill's VWAP
  price and value and the real fee, and recomputes the gross P&L of every close leg of a
  position touched by a match: ``sign * qty * (exit price - entry)``, the entry being the
  quantity-weighted price of the position's open legs;
* cash is replayed as ``start + sum(cashflows) + sum(Trade.net_pnl)`` (perps: an open debits its
  fee, a close credits ``realized_pnl - fee``, funding its amount).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

from shared_tools.book.model import Trade

HL_FEES = "hl-fees"
TRADE_LEDGER = "trade-ledger"
TARGETS = (HL_FEES, TRADE_LEDGER)
EPS = 1e-9  # a float that moved less than this did not change (second runs are no-ops)
FUNDING = "funding"
# Deposit reasons that start a strategy's cash from 0 (supervisor/state/roster.py).
OPENING_FLOWS = ("initial", "added")

TRADE_FIELDS = tuple(Trade.__dataclass_fields__)


@dataclass
class RowChange:
    """One trade row's new values (only the columns that move)."""

    rowid: int
    row: dict
    new: dict[str, float | bool]


@dataclass
class Plan:
    """What a backfill would do to one strategy."""

    strategy_id: str
    changes: list[RowChange] = field(default_factory=list)
    skipped_legacy: int = 0  # hl-fees: matched legacy net rows left for trade-ledger
    matched: int = 0  # rows whose order id the fills know
    cash_stored: float = 0.0
    cash_replayed: float = 0.0  # replay of the rows as they are now
    cash_after: float = 0.0  # replay of the rows after the changes

    @property
    def cash_drift(self) -> float:
        return self.cash_stored - self.cash_replayed

    @property
    def cash_changes(self) -> bool:
        return abs(self.cash_after - self.cash_stored) > 0.005

    @property
    def fee_before(self) -> float:
        return sum(float(c.row["fee"]) for c in self.changes)

    @property
    def fee_after(self) -> float:
        return sum(float(c.new.get("fee", c.row["fee"])) for c in self.changes)


def as_trade(row: dict) -> Trade:
    """A stored row as the book's Trade (its ``net_pnl`` is the row's cash effect)."""
    return Trade(**{k: row[k] for k in TRADE_FIELDS})


def cash_start(initial_capital: float, flows: list[float], reasons: list[str]) -> float:
    """Cash before any trade and any journaled flow.

    A book made by this build journals its first deposit (``initial``/``added``), so it
    starts from 0; an older book's journal begins later, and its cash started at the capital
    before the journaled changes (each flow moved cash and ``initial_capital`` alike).
    """
    if any(r in OPENING_FLOWS for r in reasons):
        return 0.0
    return initial_capital - sum(flows)


def replay_cash(start: float, flows: list[float], rows: list[dict]) -> float:
    """``start + sum(flows) + sum(net_pnl)``: what cash must be after these rows."""
    return start + sum(flows) + sum(as_trade(r).net_pnl for r in rows)


def oid_quantities(rows: list[dict]) -> dict[str, float]:
    """Total quantity per order id over ``rows`` (every strategy's: an order's fee is shared)."""
    out: dict[str, float] = defaultdict(float)
    for r in rows:
        if r["order_id"] and r["trade_type"] != FUNDING:
            out[str(r["order_id"])] += float(r["quantity"])
    return dict(out)


def _moved(old: object, new: object) -> bool:
    if isinstance(new, bool) or isinstance(old, bool):
        return bool(old) != bool(new)
    return abs(float(old) - float(new)) > EPS  # type: ignore[arg-type]


def _fill_of(row: dict, by_oid: dict[str, dict]) -> dict | None:
    if row["trade_type"] == FUNDING or not row["order_id"]:
        return None
    return by_oid.get(str(row["order_id"]))


def _fee_share(row: dict, fill: dict, qty_by_oid: dict[str, float]) -> float:
    total = qty_by_oid.get(str(row["order_id"])) or 0.0
    share = float(row["quantity"]) / total if total > 0 else 1.0
    return float(fill.get("fee") or 0.0) * share


def plan_hl_fees(
    rows: list[dict], by_oid: dict[str, dict], qty_by_oid: dict[str, float]
) -> tuple[list[dict], int, int]:
    """Rows with their real fees; returns (new rows, matched, legacy rows skipped)."""
    out, matched, legacy = [], 0, 0
    for r in rows:
        new = dict(r)
        fill = _fill_of(r, by_oid)
        if fill is not None:
            matched += 1
            if not r["pnl_gross"]:
                legacy += 1
            else:
                new["fee"] = _fee_share(r, fill, qty_by_oid)
        out.append(new)
    return out, matched, legacy


def _ungross(rows: list[dict]) -> None:
    """Legacy net rows -> gross, cash-neutral: a close gets back its own fee and its share (by
    quantity) of the legacy open legs' fees of its position, which its net P&L carried."""
    by_pos: dict[tuple[str, str], list[dict]] = defaultdict(list)
    for r in rows:
        if not r["pnl_gross"] and r["trade_type"] != FUNDING:
            by_pos[(r["symbol"], r["position_id"])].append(r)
    for legs in by_pos.values():
        open_fees = sum(float(r["fee"]) for r in legs if not r["is_close"])
        closes = [r for r in legs if r["is_close"]]
        close_qty = sum(float(r["quantity"]) for r in closes)
        for r in closes:
            share = float(r["quantity"]) / close_qty if close_qty > 0 else 1.0 / len(closes)
            r["realized_pnl"] = float(r["realized_pnl"]) + float(r["fee"]) + open_fees * share
        for r in legs:
            r["pnl_gross"] = True


def plan_trade_ledger(
    rows: list[dict], by_oid: dict[str, dict], qty_by_oid: dict[str, float]
) -> tuple[list[dict], int]:
    """Rows rebuilt from the venue's fills; returns (new rows, matched)."""
    out = [dict(r) for r in rows]
    _ungross(out)
    touched: set[tuple[str, str]] = set()
    matched = 0
    for r in out:
        fill = _fill_of(r, by_oid)
        if fill is None:
            continue
        matched += 1
        px = float(fill.get("px") or 0.0)
        if px > 0:
            mult = _multiplier(r)
            r["price"] = px
            r["value"] = float(r["quantity"]) * px * mult
        r["fee"] = _fee_share(r, fill, qty_by_oid)
        touched.add((r["symbol"], r["position_id"]))
    for key in touched:
        _reprice_closes([r for r in out if (r["symbol"], r["position_id"]) == key])
    return out, matched


def _reprice_closes(legs: list[dict]) -> None:
    """Each close leg's gross P&L from the position's entry (its open legs' VWAP)."""
    legs = [r for r in legs if r["trade_type"] != FUNDING]
    opens = [r for r in legs if not r["is_close"]]
    qty = sum(float(r["quantity"]) for r in opens)
    if qty <= 0:
        return  # the open is not in the table: the stored P&L is all there is
    entry = sum(float(r["quantity"]) * float(r["price"]) for r in opens) / qty
    sign = 1.0 if opens[0]["side"] == "buy" else -1.0
    for r in legs:
        if r["is_close"] and r["pnl_gross"]:
            q, px = float(r["quantity"]), float(r["price"])
            r["realized_pnl"] = sign * q * _multiplier(r) * (px - entry)


def _multiplier(row: dict) -> float:
    """value / (qty * price): 1 for Hyperliquid perps, kept general for the arithmetic."""
    q, px = float(row["quantity"]), float(row["price"])
    return float(row["value"]) / (q * px) if q > 0 and px > 0 else 1.0


def diff(old_rows: list[dict], new_rows: list[dict]) -> list[RowChange]:
    """The rows that moved, with only their moved columns."""
    out = []
    for old, new in zip(old_rows, new_rows, strict=True):
        moved = {
            k: new[k]
            for k in ("price", "value", "fee", "realized_pnl", "pnl_gross")
            if _moved(old[k], new[k])
        }
        if moved:
            out.append(RowChange(rowid=int(old["rowid"]), row=old, new=moved))
    return out


def plan(
    target: str,
    strategy_id: str,
    rows: list[dict],
    by_oid: dict[str, dict],
    qty_by_oid: dict[str, float],
    *,
    cash: float,
    initial_capital: float,
    flows: list[tuple[float, str]],
) -> Plan:
    """What ``target`` would change for one strategy, with cash before and after."""
    amounts = [a for a, _ in flows]
    start = cash_start(initial_capital, amounts, [why for _, why in flows])
    p = Plan(strategy_id, cash_stored=cash)
    if target == HL_FEES:
        new_rows, p.matched, p.skipped_legacy = plan_hl_fees(rows, by_oid, qty_by_oid)
    else:
        new_rows, p.matched = plan_trade_ledger(rows, by_oid, qty_by_oid)
    p.changes = diff(rows, new_rows)
    p.cash_replayed = replay_cash(start, amounts, rows)
    p.cash_after = replay_cash(start, amounts, new_rows)
    return p
