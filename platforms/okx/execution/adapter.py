"""The OKX execution adapter: ccxt's ``okx`` client behind a few primitives.

Why it exists rather than calling ccxt directly (docs/architecture.md, "platforms"):

- one sizing rule (:mod:`.sizing`): the book's coins become contracts through the market's
  ``contractSize`` (ctVal), floored to the lot; a size below the minimum is an error, never sent;
- one fill rule (:mod:`.orders`): every order is read back from the venue after placement for
  its real average price, filled size (converted back to coins), fee and id;
- never twice: when a create request meets a transport failure (timeout, dropped connection,
  5xx, 429) the adapter asks the venue for the order by its ``clOrdId`` before anything else;
  only OKX's "order does not exist" (51603) allows one re-send with the same ``clOrdId`` (and the
  venue refuses a duplicated clOrdId, 51016, a second guard). An order without a clOrdId is
  never re-sent.

Orders are plain market orders: swap ``tdMode`` cross (upstream never set leverage), spot cash;
the close is a reduce-only market order on a swap. OKX spot has no reduce-only: its close is an
operator's job (the scripts refuse it).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import Any

from platforms.okx.execution import client, credentials
from platforms.okx.execution.orders import OrderState, from_row
from platforms.okx.execution.sizing import Lot, to_coins, to_venue

__all__ = ["OkxExecution", "TransportError", "unified_symbol"]

ASK_BACKOFF_S = (0.0, 0.25, 0.5, 1.0)  # order reads after a lost create answer
SETTLE_BACKOFF_S = (0.0, 0.2, 0.4, 0.8, 1.6)  # order reads until the venue shows the fill
BILL_PAGES = 10  # 10 x 100 bills per call, then ``capped``


class TransportError(RuntimeError):
    """The venue could not be asked (or its answer was lost); the text has the cause."""


def _sleep(seconds: float) -> None:
    if seconds > 0:
        time.sleep(seconds)


def unified_symbol(symbol: str, inst_type: str) -> str:
    """``BTC``, ``BTC/USDT``, ``BTC-USDT`` or ``BTC-USDT-SWAP`` as ccxt's symbol for the type."""
    text = symbol.strip().upper()
    if text.endswith("-SWAP"):
        inst_type, text = "swap", text[: -len("-SWAP")]
    if ":" in text:
        inst_type, text = "swap", text.split(":", 1)[0]
    base = text.replace("-", "/").split("/")[0]
    if not base:
        raise ValueError(f"no coin in symbol {symbol!r} (e.g. BTC or BTC-USDT-SWAP)")
    return f"{base}/USDT:USDT" if inst_type == "swap" else f"{base}/USDT"


class OkxExecution:
    """The live OKX account on one API base (every read is signed, so all three credentials
    are needed for reads too)."""

    def __init__(
        self,
        *,
        environ: Mapping[str, str] | None = None,
        timeout_s: float = client.TIMEOUT_S,
        exchange: Any = None,
    ) -> None:
        creds = credentials.load(environ)
        self.base_url = credentials.base_url(environ)
        self.exchange = exchange or client.build(
            creds,
            base_url=self.base_url,
            sandbox=credentials.sandbox(environ),
            timeout_s=timeout_s,
        )
        self.sleep: Callable[[float], None] = _sleep  # tests may replace it
        self._markets_loaded = False

    # ---- markets -------------------------------------------------------------------
    def market(self, symbol: str, inst_type: str) -> dict[str, Any]:
        """The ccxt market (loaded once per adapter) for ``symbol`` on spot or swap."""
        if not self._markets_loaded:
            self.exchange.load_markets()
            self._markets_loaded = True
        name = unified_symbol(symbol, inst_type)
        if name not in self.exchange.markets:
            raise ValueError(f"unknown OKX instrument {name!r} (e.g. BTC on spot or swap)")
        return dict(self.exchange.markets[name])

    def lot(self, symbol: str, inst_type: str) -> Lot:
        return Lot.of_market(self.market(symbol, inst_type))

    def venue_size(self, symbol: str, inst_type: str, coins: float) -> Decimal:
        """``coins`` as the order's sz (contracts on a swap), floored to the lot; refuses zero."""
        return to_venue(coins, self.lot(symbol, inst_type))

    # ---- orders --------------------------------------------------------------------
    def market_open(
        self, symbol: str, inst_type: str, side: str, coins: float, client_order_id: str
    ) -> OrderState:
        """A market order of ``coins`` (swap: cross margin; spot: cash), read back after it."""
        if side not in ("buy", "sell"):
            raise ValueError(f"--side must be buy or sell, not {side!r}")
        lot = self.lot(symbol, inst_type)
        sz = to_venue(coins, lot)
        request: dict[str, Any] = {
            "instId": lot.inst_id,
            "tdMode": "cross" if lot.swap else "cash",
            "side": side,
            "ordType": "market",
            "sz": f"{sz:f}",
        }
        if not lot.swap:
            request["tgtCcy"] = "base_ccy"  # sz in coins also for a spot market buy
        return self._place(lot, request, client_order_id)

    def market_close(
        self, symbol: str, coins: float | None, client_order_id: str
    ) -> OrderState | None:
        """Reduce-only market close of a swap position: all of it, or min(coins, held).
        None when the venue shows no position (already flat)."""
        lot = self.lot(symbol, "swap")
        held = self._position_contracts(lot)
        if held == 0:
            return None
        want = abs(held) if coins is None else min(to_venue(coins, lot), abs(held))
        request = {
            "instId": lot.inst_id,
            "tdMode": "cross",
            "side": "sell" if held > 0 else "buy",
            "ordType": "market",
            "sz": f"{want.normalize():f}",
            "reduceOnly": "true",
        }
        return self._place(lot, request, client_order_id)

    def _place(self, lot: Lot, request: dict[str, Any], cl_ord_id: str) -> OrderState:
        """Send once; after a lost answer ask by clOrdId; re-send once only if never seen."""
        if cl_ord_id:
            request["clOrdId"] = cl_ord_id
        notes: list[str] = []
        for attempt in (1, 2):
            try:
                answer = self.exchange.privatePostTradeOrder(dict(request))
                rows = answer.get("data") or [{}]
                oid = str(rows[0].get("ordId") or "")
                state = self.settle(lot, cl_ord_id, oid)
                break
            except Exception as exc:
                lost = client.is_transport_error(exc) or client.is_duplicate(exc)
                if not (lost and cl_ord_id):
                    raise
                notes.append(f"order answer lost ({client.cause(exc)}): asked the venue by clOrdId")
                found = self.order(lot, cl_ord_id)
                if found is not None:
                    state = self.settle(lot, cl_ord_id, found.oid, first=found)
                    break
                if attempt == 2:
                    raise TransportError(
                        f"order {cl_ord_id} not placed: the venue never saw it after a re-send"
                    ) from None
                notes.append("the venue never saw it: re-sent once with the same clOrdId")
        state.notes = notes + state.notes
        return state

    def settle(
        self, lot: Lot, cl_ord_id: str, oid: str, first: OrderState | None = None
    ) -> OrderState:
        """Read the order until the venue shows it done (filled or cancelled), a few tries."""
        state = first
        for delay in SETTLE_BACKOFF_S:
            if state is not None and state.done:
                return state
            self.sleep(delay)
            found = self.order(lot, cl_ord_id, oid=oid)
            if found is not None:  # None: not readable yet right after the create; ask again
                state = found
        if state is None:
            raise TransportError(
                f"order {cl_ord_id or oid} was accepted but the venue did not show it when "
                "read back: ask --order-status before any re-send"
            )
        if not state.done:
            state.notes.append("the venue had not finished the order when last read")
        return state

    def order(self, lot: Lot, cl_ord_id: str = "", *, oid: str = "") -> OrderState | None:
        """The order by ordId or clOrdId; None only when OKX answers it does not exist.
        Transport failures are retried a few times, then raised (never read as "unknown")."""
        query = {"instId": lot.inst_id}
        query.update({"ordId": oid} if oid else {"clOrdId": cl_ord_id})
        last: BaseException | None = None
        for delay in ASK_BACKOFF_S:
            self.sleep(delay)
            try:
                answer = self.exchange.privateGetTradeOrder(query)
            except Exception as exc:
                if client.is_not_found(exc):
                    return None
                if not client.is_transport_error(exc):
                    raise
                last = exc
                continue
            rows = answer.get("data") or []
            return from_row(rows[0], lot) if rows else None
        raise TransportError(
            f"could not ask the venue about order {cl_ord_id or oid}: {client.cause(last)}"
            if last
            else "could not ask the venue"
        )

    def order_status(self, symbol: str, inst_type: str, cl_ord_id: str) -> OrderState | None:
        return self.order(self.lot(symbol, inst_type), cl_ord_id)

    # ---- account reads -------------------------------------------------------------
    def _position_contracts(self, lot: Lot) -> Decimal:
        answer = self.exchange.privateGetAccountPositions({"instId": lot.inst_id})
        total = Decimal(0)
        for row in answer.get("data") or []:
            if row.get("instId") == lot.inst_id:
                total += Decimal(str(row.get("pos") or "0"))
        return total

    def positions(self) -> list[dict[str, Any]]:
        """Swap positions (upstream's shape, sizes in coins): coin, size (signed), entry_price,
        side, unrealized_pnl, plus inst_id and contracts."""
        answer = self.exchange.privateGetAccountPositions({"instType": "SWAP"})
        out = []
        for row in answer.get("data") or []:
            contracts = Decimal(str(row.get("pos") or "0"))
            if contracts == 0:
                continue
            lot = self.lot(str(row["instId"]), "swap")
            size = to_coins(contracts, lot)
            out.append(
                {
                    "coin": str(row["instId"]).split("-")[0],
                    "size": size,
                    "entry_price": float(row.get("avgPx") or 0),
                    "side": "long" if size > 0 else "short",
                    "unrealized_pnl": float(row.get("upl") or 0),
                    "inst_id": row["instId"],
                    "contracts": float(contracts),
                }
            )
        return out

    def balance(self) -> dict[str, Any]:
        """USDT equity (cash + swap PnL) and unrealized PnL; spot coins held, by currency."""
        answer = self.exchange.privateGetAccountBalance({})
        rows = answer.get("data") or []
        if not rows:
            raise RuntimeError("OKX answered the balance without an account row")
        details = {str(d.get("ccy")): d for d in rows[0].get("details") or []}
        usdt = details.get("USDT", {})
        coins = {c: float(d.get("cashBal") or 0) for c, d in details.items() if c != "USDT"}
        return {
            "balance": float(usdt.get("eq") or 0),
            "unrealized_pnl": float(usdt.get("upl") or 0),
            "cash": float(usdt.get("cashBal") or 0),
            "coins": {c: q for c, q in coins.items() if q},
            "total_equity_usd": float(rows[0].get("totalEq") or 0),
        }

    def _paged(self, method: str, since_ms: int, key: str) -> tuple[list[dict[str, Any]], bool]:
        rows: list[dict[str, Any]] = []
        query: dict[str, Any] = {"begin": str(int(since_ms)), "limit": "100"}
        for _ in range(BILL_PAGES):
            page = getattr(self.exchange, method)(dict(query)).get("data") or []
            rows.extend(page)
            if len(page) < 100:
                return rows, False
            query["after"] = page[-1][key]
        return rows, True

    def bills(self, since_ms: int) -> tuple[list[dict[str, Any]], bool]:
        """The account's bills since ``since_ms`` (upstream's keys), and whether capped."""
        rows, capped = self._paged("privateGetAccountBills", since_ms, "billId")

        def num(v: Any) -> float:
            return float(v) if v not in (None, "") else 0.0

        out = [
            {
                "bill_id": str(r.get("billId")),
                "ts_ms": int(r.get("ts") or 0),
                "ccy": r.get("ccy"),
                "type": str(r.get("type")),
                "sub_type": str(r.get("subType")),
                "bal_chg": num(r.get("balChg")),
                "pnl": num(r.get("pnl")),
                "fee": num(r.get("fee")),
                "inst_id": r.get("instId") or "",
                "trade_id": str(r.get("tradeId") or ""),
            }
            for r in rows
        ]
        return out, capped

    def fills(self, since_ms: int) -> tuple[list[dict[str, Any]], bool]:
        """The account's fills since ``since_ms`` (raw OKX rows), and whether capped."""
        return self._paged("privateGetTradeFills", since_ms, "billId")
