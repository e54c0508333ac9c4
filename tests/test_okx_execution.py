"""OKX live execution against the local OKX venue, in-process: the real ccxt client, sizing in
contracts, the fill read back after placement, never twice by clOrdId, and the faults."""

from __future__ import annotations

import time
from collections.abc import Iterator
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from platforms.okx.execution import (
    CredentialError,
    Lot,
    OkxExecution,
    SizeError,
    TransportError,
    to_coins,
    to_venue,
)
from platforms.okx.localvenue import LocalOkxServer

NOW_S = 1_767_225_600
CREDS = {
    "OKX_API_KEY": "test-key",
    "OKX_API_SECRET": "test-secret",
    "OKX_PASSPHRASE": "test-passphrase",
}
BTC_SWAP = Lot("BTC-USDT-SWAP", Decimal("0.01"), Decimal("0.01"), Decimal("0.01"), True)
BTC_SPOT = Lot("BTC-USDT", Decimal(1), Decimal("0.00000001"), Decimal("0.00001"), False)


def cid(n: int) -> str:
    return f"gt{n:024x}"


@pytest.fixture
def venue(monkeypatch: pytest.MonkeyPatch) -> Iterator[LocalOkxServer]:
    monkeypatch.setenv("GO_TRADER_NOW", str(NOW_S))
    server = LocalOkxServer(port=0, seed=7).start()
    try:
        yield server
    finally:
        server.stop()


def adapter(venue: LocalOkxServer, **env: str) -> OkxExecution:
    ex = OkxExecution(environ={**CREDS, "OKX_BASE_URL": venue.url, **env}, timeout_s=5.0)
    ex.sleep = lambda s: None  # the backoff is the venue's business here, not the test's
    return ex


def account(venue: LocalOkxServer):
    return venue.venue.accounts["test-key"]


# ---- sizing ---------------------------------------------------------------------------
def test_coins_to_contracts_is_explicit() -> None:
    assert to_venue(0.01, BTC_SWAP) == Decimal(1)  # 0.01 BTC on ctVal 0.01 is one contract
    assert to_venue(0.015, BTC_SWAP) == Decimal("1.5")  # lotSz 0.01 contracts allows it
    assert to_venue(0.0123, BTC_SWAP) == Decimal("1.23")
    assert to_venue(0.012345, BTC_SWAP) == Decimal("1.23")  # floored to the lot, never up
    assert to_venue(0.01, BTC_SPOT) == Decimal("0.01")  # spot sizes stay coins
    with pytest.raises(SizeError, match="0.005 contracts"):
        to_venue(0.00005, BTC_SWAP)  # rounds to zero lots: refused, never sent
    with pytest.raises(SizeError):
        to_venue(0.000001, BTC_SPOT)  # below minSz


@settings(max_examples=200, deadline=None)
@given(st.floats(min_value=0.0001, max_value=1000, allow_nan=False))
def test_contracts_round_trip_never_exceed_the_coins(coins: float) -> None:
    sz = to_venue(coins, BTC_SWAP)
    back = to_coins(sz, BTC_SWAP)
    assert sz % BTC_SWAP.lot == 0
    assert back <= coins * (1 + 1e-12)
    assert coins - back < float(BTC_SWAP.lot * BTC_SWAP.ct_val) * (1 + 1e-9)


# ---- the real ccxt client against the venue -------------------------------------------
def test_markets_carry_the_contract_size(venue: LocalOkxServer) -> None:
    ex = adapter(venue)
    lot = ex.lot("BTC", "swap")
    assert (lot.inst_id, lot.ct_val, lot.lot, lot.min_sz) == (
        "BTC-USDT-SWAP",
        Decimal("0.01"),
        Decimal("0.01"),
        Decimal("0.01"),
    )
    assert ex.lot("ETH-USDT-SWAP", "spot").ct_val == Decimal("0.1")  # the suffix wins
    assert not ex.lot("BTC", "spot").swap


def test_swap_order_of_001_btc_is_one_contract(venue: LocalOkxServer) -> None:
    ex = adapter(venue)
    state = ex.market_open("BTC", "swap", "buy", 0.01, cid(1))
    (order,) = account(venue).orders.values()
    assert order.sz == Decimal(1) and order.td_mode == "cross"  # what the venue received
    assert state.status == "filled" and state.venue_sz == 1.0 and state.qty == 0.01
    fill = state.fill(swap=True)
    assert fill is not None
    assert fill["contracts"] == 1.0 and fill["qty"] == fill["total_sz"] == 0.01
    assert fill["avg_px"] == order.avg_px > 0 and fill["oid"] == order.ord_id
    assert fill["fee"] == pytest.approx(-order.fee) and fill["fee"] > 0


def test_open_close_flat_book_equals_venue(venue: LocalOkxServer) -> None:
    ex = adapter(venue)
    start = account(venue).usdt
    opened = ex.market_open("BTC", "swap", "sell", 0.03, cid(1))
    (pos,) = ex.positions()
    assert pos["size"] == pytest.approx(-0.03) and pos["contracts"] == -3.0
    assert pos["entry_price"] == opened.avg_px and pos["side"] == "short"
    venue.venue.clock.step(3600)
    closed = ex.market_close("BTC", None, cid(2))
    assert closed is not None and closed.status == "filled" and closed.qty == pytest.approx(0.03)
    assert ex.positions() == [] and ex.market_close("BTC", None, cid(3)) is None  # already flat
    # the book: cash + realized PnL - fees, from the read-back fills only
    pnl = (opened.avg_px - closed.avg_px) * 0.03
    book_cash = start + pnl - opened.fee - closed.fee
    bal = ex.balance()
    assert bal["balance"] == pytest.approx(book_cash, abs=1e-6) and bal["unrealized_pnl"] == 0
    bills, capped = ex.bills(0)
    assert not capped and len(bills) == 2
    assert sum(b["bal_chg"] for b in bills) == pytest.approx(book_cash - start, abs=1e-6)


def test_sized_close_is_reduce_only_and_capped_at_the_position(venue: LocalOkxServer) -> None:
    ex = adapter(venue)
    ex.market_open("ETH", "swap", "buy", 0.5, cid(1))  # 5 contracts of 0.1 ETH
    part = ex.market_close("ETH", 0.2, cid(2))
    assert part is not None and part.venue_sz == 2.0 and part.qty == pytest.approx(0.2)
    rest = ex.market_close("ETH", 5.0, cid(3))  # more than held: min(sz, held)
    assert rest is not None and rest.qty == pytest.approx(0.3)
    orders = sorted(account(venue).orders.values(), key=lambda o: o.ord_id)
    assert [o.reduce_only for o in orders] == [False, True, True]
    assert ex.positions() == []


def test_spot_order_and_balance(venue: LocalOkxServer) -> None:
    ex = adapter(venue)
    state = ex.market_open("BTC", "spot", "buy", 0.01, cid(1))
    (order,) = account(venue).orders.values()
    assert order.td_mode == "cash" and order.sz == Decimal("0.01") and order.tgt_ccy == "base_ccy"
    bal = ex.balance()
    assert bal["coins"] == {"BTC": 0.01}
    assert bal["cash"] == pytest.approx(10_000 - state.avg_px * 0.01 - state.fee)
    assert ex.positions() == []  # spot holdings are no swap positions


# ---- never twice ------------------------------------------------------------------------
def test_dropped_answer_after_acceptance_is_one_position(venue: LocalOkxServer) -> None:
    ex = adapter(venue)
    venue.faults.add("POST trade/order", "drop")
    state = ex.market_open("BTC", "swap", "buy", 0.02, cid(1))
    assert state.status == "filled" and state.qty == 0.02
    assert any("asked the venue by clOrdId" in n for n in state.notes)
    assert len(account(venue).orders) == 1 and ex.positions()[0]["contracts"] == 2.0


@pytest.mark.parametrize("mode", ["429", "5xx"])
def test_refused_transport_is_asked_then_sent_once(venue: LocalOkxServer, mode: str) -> None:
    ex = adapter(venue)
    venue.faults.add("POST trade/order", mode)
    state = ex.market_open("BTC", "swap", "buy", 0.01, cid(1))
    assert state.status == "filled"
    assert state.notes[-1] == "the venue never saw it: re-sent once with the same clOrdId"
    assert len(account(venue).orders) == 1


def test_never_more_than_one_resend(venue: LocalOkxServer) -> None:
    ex = adapter(venue)
    venue.faults.add("POST trade/order", "5xx", count=2)
    with pytest.raises(TransportError, match="never saw it after a re-send"):
        ex.market_open("BTC", "swap", "buy", 0.01, cid(1))
    assert account(venue).orders == {}


def test_timeout_then_held_request_lands_once(venue: LocalOkxServer) -> None:
    ex = OkxExecution(environ={**CREDS, "OKX_BASE_URL": venue.url}, timeout_s=0.3)
    ex.sleep = lambda s: None
    venue.faults.add("POST trade/order", "timeout", hold_s=0.8)
    state = ex.market_open("BTC", "swap", "buy", 0.01, cid(1))
    assert state.status == "filled"
    time.sleep(1.0)  # let the held request reach the venue: it must meet 51016, not fill
    assert len(account(venue).orders) == 1 and ex.positions()[0]["contracts"] == 1.0


def test_same_client_order_id_twice_is_the_same_order(venue: LocalOkxServer) -> None:
    """A re-run after a crash with the intent's id finds the first order (51016 -> read)."""
    ex = adapter(venue)
    first = ex.market_open("BTC", "swap", "buy", 0.01, cid(9))
    again = ex.market_open("BTC", "swap", "buy", 0.01, cid(9))
    assert again.oid == first.oid and len(account(venue).orders) == 1


def test_without_a_client_order_id_nothing_is_resent(venue: LocalOkxServer) -> None:
    ex = adapter(venue)
    venue.faults.add("POST trade/order", "drop")
    import ccxt

    with pytest.raises(ccxt.NetworkError):
        ex.market_open("BTC", "swap", "buy", 0.01, "")
    assert len(account(venue).orders) == 1  # it landed; the caller must reconcile


# ---- fills the venue reports late or in part ---------------------------------------------
def test_partial_fill_reports_what_filled(venue: LocalOkxServer) -> None:
    ex = adapter(venue)
    venue.faults.add("POST trade/order", "partial", fraction=0.5)
    state = ex.market_open("BTC", "swap", "buy", 0.03, cid(1))
    assert state.status == "partial" and state.venue_sz == 1.5 and state.qty == pytest.approx(0.015)
    assert ex.positions()[0]["size"] == pytest.approx(0.015)


def test_no_fill_yet_is_read_again(venue: LocalOkxServer) -> None:
    ex = adapter(venue)
    venue.faults.add("POST trade/order", "no_fill", reads=2)
    state = ex.market_open("BTC", "swap", "buy", 0.01, cid(1))
    (order,) = account(venue).orders.values()
    assert state.status == "filled" and state.avg_px == order.avg_px > 0 and state.fee > 0


def test_no_fill_after_every_read_is_open_not_a_fill(venue: LocalOkxServer) -> None:
    ex = adapter(venue)
    venue.faults.add("POST trade/order", "no_fill", reads=50)
    state = ex.market_open("BTC", "swap", "buy", 0.01, cid(1))
    assert state.status == "open" and state.qty == 0 and state.fill(swap=True) is None


def test_order_lookup_failure_is_an_error_not_unknown(venue: LocalOkxServer) -> None:
    ex = adapter(venue)
    venue.faults.add("GET trade/order", "5xx", count=10)
    with pytest.raises(TransportError, match="could not ask the venue"):
        ex.order_status("BTC", "swap", cid(1))
    venue.faults.clear()
    assert ex.order_status("BTC", "swap", cid(1)) is None  # the venue answers: no such order


# ---- credentials and settings -------------------------------------------------------------
def test_wrong_secret_names_the_variable(venue: LocalOkxServer) -> None:
    from platforms.okx.execution import client

    ex = adapter(venue, OKX_API_SECRET="not-the-secret")
    with pytest.raises(Exception) as info:
        ex.positions()
    text = client.cause(info.value)
    assert "OKX_API_SECRET" in text and "Invalid Sign" in text and "not-the-secret" not in text
    ex = adapter(venue, OKX_PASSPHRASE="nope")
    with pytest.raises(Exception) as info:
        ex.balance()
    assert "OKX_PASSPHRASE" in client.cause(info.value)


def test_missing_settings_name_the_variables(venue: LocalOkxServer) -> None:
    with pytest.raises(CredentialError, match="OKX_API_SECRET, OKX_PASSPHRASE not set"):
        OkxExecution(environ={"OKX_API_KEY": "k"})
    with pytest.raises(CredentialError, match="OKX_BASE_URL must be"):
        OkxExecution(environ={**CREDS, "OKX_BASE_URL": "ftp://x/y"})
    assert "test-secret" not in repr(__import__("platforms.okx.execution.credentials").okx)


def test_sandbox_sends_the_demo_header(venue: LocalOkxServer) -> None:
    adapter(venue).positions()
    assert venue.venue.simulated_requests == 0
    adapter(venue, OKX_SANDBOX="1").positions()
    assert venue.venue.simulated_requests > 0


# ---- the book equals the venue ----------------------------------------------------------
@settings(max_examples=6, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.sampled_from(["BTC", "ETH"]), st.sampled_from(["buy", "sell"]), st.integers(1, 40)
        ),
        min_size=1,
        max_size=5,
    )
)
def test_book_from_read_back_fills_equals_the_venue(orders: list[tuple[str, str, int]]) -> None:
    """Coins and cash booked from the fills the adapter reads back = the venue's account."""
    with LocalOkxServer(port=0, seed=11) as venue:
        ex = adapter(venue)
        ex.exchange.enableRateLimit = False
        book_pos: dict[str, float] = {}
        cash = account(venue).usdt
        for n, (coin, side, lots) in enumerate(orders):
            coins = lots * (0.001 if coin == "BTC" else 0.01)  # 0.1 contract steps
            st_ = ex.market_open(coin, "swap", side, coins, cid(n + 1))
            sign = 1 if side == "buy" else -1
            held = book_pos.get(coin, 0.0)
            avg = book_pos.get(coin + ":avg", 0.0)
            q = sign * st_.qty
            if held and (held > 0) != (q > 0):
                closed = min(abs(q), abs(held))
                cash += closed * (st_.avg_px - avg) * (1 if held > 0 else -1)
            new = held + q
            if abs(new) < 1e-12:
                avg = 0.0
            elif held == 0 or (held > 0) != (new > 0):
                avg = st_.avg_px
            elif abs(new) > abs(held):
                avg = (abs(held) * avg + abs(q) * st_.avg_px) / abs(new)
            book_pos[coin], book_pos[coin + ":avg"] = new, avg
            cash -= st_.fee
        venue_pos = {p["coin"]: p["size"] for p in ex.positions()}
        for coin in ("BTC", "ETH"):
            assert venue_pos.get(coin, 0.0) == pytest.approx(book_pos.get(coin, 0.0), abs=1e-9)
        assert ex.balance()["cash"] == pytest.approx(cash, abs=1e-6)


class _FakePages:
    """A stand-in client answering bills in pages, to check the paging and the cap."""

    def __init__(self, total: int) -> None:
        self.rows = [{"billId": str(1000 - i), "ts": str(i)} for i in range(total)]
        self.calls: list[dict[str, str]] = []

    def privateGetAccountBills(self, query: dict[str, str]) -> dict[str, object]:
        self.calls.append(query)
        after = int(query.get("after", 10**9))
        page = [r for r in self.rows if int(r["billId"]) < after][:100]
        return {"code": "0", "data": page}


def test_bills_are_paged_and_capped() -> None:
    fake = _FakePages(250)
    ex = OkxExecution(environ=CREDS, exchange=fake)
    bills, capped = ex.bills(0)
    assert len(bills) == 250 and not capped and len(fake.calls) == 3
    assert fake.calls[1]["after"] == "901"
    fake = _FakePages(1200)
    bills, capped = OkxExecution(environ=CREDS, exchange=fake).bills(0)
    assert len(bills) == 1000 and capped


def test_fills_are_read_since(venue: LocalOkxServer) -> None:
    ex = adapter(venue)
    ex.market_open("BTC", "swap", "buy", 0.01, cid(1))
    ex.market_close("BTC", None, cid(2))
    fills, capped = ex.fills(0)
    assert [f["clOrdId"] for f in fills] == [cid(2), cid(1)] and not capped
    assert ex.fills(NOW_S * 1000 + 10**9)[0] == []
