"""Robinhood live execution against the local venue, in-process (issue 23, Robinhood).

Open (buy by USD) -> close (sell the held quantity) -> flat with the book's quantities equal to
the venue's holdings; a dropped or timed-out order answer -> one position; 429/5xx; partial
fill; an order that shows no fill yet; TOTP refused when wrong; no secret in any error.
"""

from __future__ import annotations

import base64
import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from platforms.hyperliquid.localvenue.model import Clock
from platforms.robinhood.execution import (
    RobinhoodClient,
    RobinhoodExecution,
    TransportError,
    VenueRefused,
    new_client_order_id,
    ref_id,
    totp,
)
from platforms.robinhood.execution.credentials import CredentialError, Login, hosts, login
from platforms.robinhood.localvenue import LocalVenueServer
from platforms.robinhood.localvenue.exchange import DEFAULT_TOTP_SECRET

PASSWORD = "test-pass"
NOW_MS = 1_767_225_600_000  # the venue's prices at a pinned instant: the same every run
CID = "gt" + "1" * 24


@pytest.fixture
def venue():
    with LocalVenueServer(seed=11, clock=Clock(NOW_MS)) as srv:
        yield srv


def _rh(srv: LocalVenueServer, *, timeout: float = 5.0, secret: str = DEFAULT_TOTP_SECRET):
    client = RobinhoodClient(
        Login("test-user", PASSWORD, secret), srv.url, srv.url + "/nummus", timeout=timeout
    )
    rh = RobinhoodExecution(client)
    rh.sleep = lambda s: None
    return rh


def _held(srv: LocalVenueServer, coin: str = "BTC") -> float:
    return srv.venue.holdings.get(coin, [0.0, 0.0])[0]


def _cid(n: int) -> str:
    return "gt" + f"{n:024x}"


def test_totp_matches_the_rfc_6238_vectors_and_the_venue_checks_it():
    secret = base64.b32encode(b"12345678901234567890").decode()
    assert totp.code(secret, 59, 8) == "94287082"
    assert totp.code(secret, 1111111109, 8) == "07081804"
    assert totp.verify(secret, totp.code(secret, 1000.0), 1000.0 + 30)  # one window late is ok
    assert not totp.verify(secret, totp.code(secret, 1000.0), 1000.0 + 95)


def test_open_close_flat_with_the_book_equal_to_the_venue(venue):
    rh = _rh(venue)
    opened = rh.buy_usd("BTC", 250.0, _cid(1))
    assert opened.status == "filled" and opened.quantity > 0
    fill = opened.fill()
    assert fill is not None and fill["qty"] == fill["quantity"] == opened.quantity
    assert fill["oid"] == opened.oid and fill["fee"] == 0.0
    assert fill["avg_px"] * fill["qty"] == pytest.approx(250.0, abs=0.05)
    book_qty = fill["qty"]
    assert rh.positions() == [
        {"coin": "BTC", "size": pytest.approx(book_qty), "avg_price": pytest.approx(fill["avg_px"])}
    ]
    assert _held(venue) == pytest.approx(book_qty, abs=1e-12)

    closed = rh.close("BTC", None, _cid(2))
    assert closed is not None and closed.status == "filled"
    book_qty -= closed.quantity
    assert book_qty == pytest.approx(0.0, abs=1e-12) and rh.positions() == []
    assert rh.close("BTC", None, _cid(3)) is None  # already flat: nothing is sent
    assert len(venue.venue.orders) == 2


def test_the_create_answer_carries_no_fill_so_the_order_is_read_after(venue):
    rh = _rh(venue)
    order = rh.buy_usd("ETH", 100.0, _cid(4))
    raw = venue.venue.orders[-1]
    assert raw["ref_id"] == ref_id(_cid(4)) and order.oid == raw["id"]
    assert order.avg_px == pytest.approx(float(raw["average_price"]))


def test_a_sized_close_sells_min_of_size_and_holding(venue):
    rh = _rh(venue)
    held = rh.buy_usd("SOL", 300.0, _cid(5)).quantity
    part = rh.close("SOL", held / 2, _cid(6))
    assert part is not None and part.quantity == pytest.approx(held / 2, abs=1e-8)
    rest = rh.close("SOL", held * 10, _cid(7))
    assert rest is not None and _held(venue, "SOL") == 0.0


def test_a_dropped_answer_after_acceptance_leaves_one_position(venue):
    rh = _rh(venue)
    venue.faults.add("order", "drop")
    order = rh.buy_usd("BTC", 200.0, _cid(8))
    assert order.status == "filled"
    assert len(venue.venue.orders) == 1 and _held(venue) == pytest.approx(order.quantity)


def test_a_timed_out_order_is_looked_up_then_sent_once_more_with_the_same_id(venue):
    rh = _rh(venue, timeout=0.4)
    venue.faults.add("order", "timeout", hold_s=1.2)
    order = rh.buy_usd("BTC", 200.0, _cid(9))
    assert order.status == "filled"
    time.sleep(1.5)  # the held request is handled now: the venue refuses the duplicate ref_id
    orders = venue.venue.orders
    assert len(orders) == 1 and orders[0]["ref_id"] == ref_id(_cid(9))
    assert _held(venue) == pytest.approx(order.quantity)


@pytest.mark.parametrize("mode", ["429", "5xx"])
def test_a_refused_transport_is_resent_once_after_the_venue_says_it_has_none(venue, mode):
    rh = _rh(venue)
    venue.faults.add("order", mode)
    order = rh.buy_usd("BTC", 150.0, _cid(10))
    assert order.status == "filled" and len(venue.venue.orders) == 1

    venue.faults.add("order", mode, count=2)  # the resend fails too: reported, nothing placed
    with pytest.raises(TransportError, match="not placed.*no order with this id"):
        rh.buy_usd("BTC", 150.0, _cid(11))
    assert len(venue.venue.orders) == 1


def test_a_lost_answer_whose_lookup_fails_is_never_resent(venue):
    rh = _rh(venue)
    venue.faults.add("order", "drop")
    venue.faults.add("orders", "5xx", count=10)
    with pytest.raises(TransportError, match="fate unknown.*--order-status"):
        rh.buy_usd("BTC", 150.0, _cid(12))
    assert len(venue.venue.orders) == 1  # placed once; the supervisor resolves it by its id
    venue.faults.clear()
    found = rh.status(_cid(12))
    assert found is not None and found.status == "filled"


def test_a_rate_limited_lookup_is_retried(venue):
    rh = _rh(venue)
    venue.faults.add("order", "drop")
    venue.faults.add("orders", "429", count=2)
    assert rh.buy_usd("BTC", 150.0, _cid(13)).status == "filled"
    assert len(venue.venue.orders) == 1


def test_a_partial_fill_reports_what_filled(venue):
    rh = _rh(venue)
    venue.faults.add("order", "partial", fraction=0.25)
    order = rh.buy_usd("ETH", 400.0, _cid(14))
    asked = float(venue.venue.orders[-1]["quantity"])
    assert order.status == "partial" and order.quantity == pytest.approx(asked * 0.25, abs=1e-8)
    assert _held(venue, "ETH") == pytest.approx(order.quantity)


def test_an_order_without_a_fill_yet_is_read_until_it_shows_one(venue):
    rh = _rh(venue)
    venue.faults.add("order", "no_fill", reads=3)
    order = rh.buy_usd("BTC", 120.0, _cid(15))
    assert order.status == "filled" and order.quantity > 0
    venue.faults.add("order", "no_fill", reads=50)  # longer than the reads: cancel, then read
    late = rh.buy_usd("BTC", 120.0, _cid(16))
    assert late.status == "filled" and _held(venue) == pytest.approx(order.quantity + late.quantity)


def test_a_rejected_order_is_not_a_fill(venue):
    rh = _rh(venue)
    venue.faults.add("order", "reject")
    order = rh.buy_usd("BTC", 120.0, _cid(17))
    assert order.status == "rejected" and order.fill() is None and _held(venue) == 0.0
    with pytest.raises(ValueError, match="below the venue minimum \\$1"):
        rh.buy_usd("BTC", 0.5, _cid(18))
    with pytest.raises(ValueError, match="no valid quantity"):  # never an unrounded size (#425)
        rh.sell_qty("BTC", 4e-9, _cid(18))
    over = rh.sell_qty("BTC", 1.0, _cid(19))  # nothing held
    assert over.status == "rejected"


def test_the_order_status_says_unknown_only_when_the_venue_has_none(venue):
    rh = _rh(venue)
    assert rh.status(_cid(20)) is None
    rh.buy_usd("BTC", 120.0, _cid(21))
    assert rh.status(_cid(21)).status == "filled"
    venue.faults.add("orders", "5xx")
    with pytest.raises(TransportError):
        rh.status(_cid(20))


def test_a_wrong_totp_secret_is_refused_and_no_secret_is_in_the_error(venue):
    wrong = base64.b32encode(b"another secret!!").decode()
    rh = _rh(venue, secret=wrong)
    with pytest.raises(VenueRefused) as info:
        rh.balance()
    text = str(info.value)
    assert "refused the login" in text and "valid code" in text and "ROBINHOOD_TOTP_SECRET" in text
    assert wrong not in text and PASSWORD not in text
    assert venue.venue.logins == 0
    bad_pass = RobinhoodClient(
        Login("test-user", "nope-pass", DEFAULT_TOTP_SECRET), venue.url, venue.url
    )
    with pytest.raises(VenueRefused) as info:
        bad_pass.authenticate()
    assert "nope-pass" not in str(info.value) and DEFAULT_TOTP_SECRET not in repr(bad_pass._login)


def test_credentials_name_the_variable_never_the_value():
    with pytest.raises(CredentialError, match="ROBINHOOD_USERNAME is not set"):
        login({})
    env = {"ROBINHOOD_USERNAME": "u", "ROBINHOOD_PASSWORD": "p", "ROBINHOOD_TOTP_SECRET": "1!x"}
    with pytest.raises(CredentialError) as info:
        login(env)
    assert "ROBINHOOD_TOTP_SECRET" in str(info.value) and "1!x" not in str(info.value)
    assert hosts({}) == ("https://api.robinhood.com", "https://nummus.robinhood.com")
    assert hosts({"ROBINHOOD_BASE_URL": "http://127.0.0.1:9/"}) == (
        "http://127.0.0.1:9",
        "http://127.0.0.1:9/nummus",
    )


def test_balance_is_the_buying_power(venue, monkeypatch):
    from platforms.robinhood.execution import fetch_balance

    monkeypatch.setenv("ROBINHOOD_USERNAME", "test-user")
    monkeypatch.setenv("ROBINHOOD_PASSWORD", PASSWORD)
    monkeypatch.setenv("ROBINHOOD_TOTP_SECRET", DEFAULT_TOTP_SECRET)
    monkeypatch.setenv("ROBINHOOD_BASE_URL", venue.url)
    assert fetch_balance() == {"balance": pytest.approx(10_000.0)}
    rh = _rh(venue)
    rh.buy_usd("BTC", 100.0, _cid(22))
    assert rh.balance() == pytest.approx(10_000.0 - 100.0, abs=0.06)


def test_the_create_answer_has_no_fill_yet(venue):
    rh = _rh(venue)
    body = {
        "account_id": rh.account_id(),
        "currency_pair_id": rh.pair("BTC")["id"],
        "price": "1.00",
        "quantity": "0.001",
        "ref_id": ref_id(_cid(30)),
        "side": "buy",
        "time_in_force": "gtc",
        "type": "market",
    }
    created = rh.client.post(f"{rh.client.nummus}/orders/", body)
    assert created["state"] == "unconfirmed" and float(created["cumulative_quantity"]) == 0
    assert created["average_price"] is None  # upstream booked from this answer
    read = rh.await_final(created["id"], _cid(30))
    assert read.status == "filled" and read.quantity == 0.001 and read.avg_px > 0


OPS = st.lists(
    st.tuples(
        st.sampled_from(["buy", "sell_half", "close"]),
        st.floats(min_value=5.0, max_value=400.0),
        st.sampled_from([None, "drop", "429", "5xx", "partial", "no_fill", "reject"]),
    ),
    min_size=1,
    max_size=6,
)


@pytest.fixture(scope="module")
def shared_venue():
    with LocalVenueServer(seed=3, initial_usd=1e9, clock=Clock(NOW_MS)) as srv:
        yield srv


@settings(max_examples=12, deadline=None)
@given(ops=OPS)
def test_the_book_equals_the_venue_after_any_orders_and_faults(shared_venue, ops):
    """Whatever one fault does to an order, the book (the fills we report) equals the venue's
    holding and no order reaches the venue twice."""
    srv = shared_venue
    srv.venue.set_holding("ETH", 0.0, 0.0)
    srv.faults.clear()
    rh = _rh(srv)
    book = 0.0
    sent = 0
    before = len(srv.venue.orders)
    for op, usd, fault in ops:
        if fault is not None:
            srv.faults.add("order", fault, **({"fraction": 0.5} if fault == "partial" else {}))
        cid = new_client_order_id()
        if op == "buy":
            order = rh.buy_usd("ETH", usd, cid)
        elif op == "sell_half" and book > 0:
            try:
                order = rh.sell_qty("ETH", book / 2, cid)
            except ValueError:  # below $1: refused before anything is sent
                srv.faults.clear()
                continue
        else:
            order = rh.close("ETH", None, cid)
        srv.faults.clear()
        if order is None:
            assert book == pytest.approx(0.0, abs=1e-12)
            continue
        sent += 1
        fill = order.fill()
        if fill is not None:
            book += fill["qty"] if op == "buy" else -fill["qty"]
        assert _held(srv, "ETH") == pytest.approx(book, abs=1e-9)
        assert len(srv.venue.orders) - before == sent


@settings(max_examples=300, deadline=None)
@given(lots=st.integers(min_value=1, max_value=10**10))
def test_a_quantity_on_the_increment_rounds_to_itself(lots):
    """The book's floor to the lot keeps every 8-decimal quantity (it lost one satoshi on about
    one in eight before: 4.75740992 / 1e-8 is 475740991.99999994), so a close of the whole
    holding leaves no dust."""
    from shared_tools.book.instruments import instrument

    row = instrument("robinhood", "BTC", "spot")
    qty = float(f"{lots / 1e8:.8f}")
    assert row.lot_size == 1e-8 and row.round_qty(qty) == qty
    assert row.round_qty(4.75740992) == 4.75740992
