"""The four options venues' chains against recorded-shape answers, offline.

Deribit's public REST is served by a fake server on 127.0.0.1 (DERIBIT_BASE_URL), OKX by a
ccxt-shaped exchange object, IBKR by a fake ib_async ``IB``; the numbers expected are derived
here from the reference's rules (upstream-options §5), not read back from the code.
"""

from __future__ import annotations

import json
import math
import threading
import urllib.parse
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import SimpleNamespace

import pytest

from platforms.deribit.options_chain import DeribitOptionsChain
from platforms.ibkr.options_chain import IbkrOptionsChain
from platforms.options_chains import chain_for
from shared_tools import pricing
from shared_tools.market.sim_options import realized_vol
from shared_tools.options_chain import OptionsChain

NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)  # a Monday


def _ms(y: int, m: int, d: int, h: int = 8) -> int:
    return int(datetime(y, m, d, h, tzinfo=UTC).timestamp() * 1000)


# Deribit's expiries: a daily (3 Mar, < 1 whole day away), a weekly on the 6th (single-digit day,
# listed unpadded), one on the 13th, the monthly (27 Mar) and the quarterly (26 Jun).
_EXPIRIES = {
    "3MAR26": _ms(2026, 3, 3),
    "6MAR26": _ms(2026, 3, 6),
    "13MAR26": _ms(2026, 3, 13),
    "27MAR26": _ms(2026, 3, 27),
    "26JUN26": _ms(2026, 6, 26),
}


def _instruments() -> list[dict]:
    rows = []
    for code, ts in _EXPIRIES.items():
        for strike in (60000, 65000, 70000):
            for kind in ("call", "put"):
                if code == "6MAR26" and kind == "put" and strike == 70000:
                    continue  # puts of the 6th stop at 65000
                rows.append(
                    {
                        "instrument_name": f"BTC-{code}-{strike}-{kind[0].upper()}",
                        "expiration_timestamp": ts,
                        "strike": float(strike),
                        "option_type": kind,
                        "kind": "option",
                        "base_currency": "BTC",
                        "is_active": True,
                        "contract_size": 1.0,
                    }
                )
    return rows


class FakeDeribit:
    """Deribit's public REST on loopback, with the answers' recorded shapes."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, dict]] = []
        self.delivery = [{"date": "2026-02-27", "delivery_price": 64000.5}]
        self.tickers = {
            "BTC-6MAR26-65000-C": {
                "mark_price": 0.05,
                "index_price": 66000.0,
                "underlying_price": 66100.0,
                "mark_iv": 55.0,
                "greeks": {
                    "delta": 0.61,
                    "gamma": 0.00004,
                    "theta": -95.1,
                    "vega": 30.2,
                    "rho": 1.0,
                },
            },
            "BTC-6MAR26-70000-C": {"mark_price": 0.0, "index_price": 66000.0, "greeks": {}},
        }
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *_a) -> None:
                pass

            def do_GET(self) -> None:
                url = urllib.parse.urlparse(self.path)
                method = url.path.rsplit("/", 1)[-1]
                params = dict(urllib.parse.parse_qsl(url.query))
                fake.calls.append((method, params))
                result = fake.answer(method, params)
                body = json.dumps(
                    {"jsonrpc": "2.0", "result": result}
                    if result is not None
                    else {"jsonrpc": "2.0", "error": {"code": 10404, "message": "not found"}}
                ).encode()
                self.send_response(200 if result is not None else 400)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/api/v2"
        threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        ).start()

    def answer(self, method: str, params: dict) -> object:
        if method == "get_instruments":
            return _instruments() if params.get("currency") == "BTC" else []
        if method == "ticker":
            return self.tickers.get(params.get("instrument_name", ""))
        if method == "get_index_price":
            return {"index_price": 66000.0, "estimated_delivery_price": 66000.0}
        if method == "get_delivery_prices":
            return {"data": list(self.delivery), "records_total": len(self.delivery)}
        if method == "get_volatility_index_data":
            day = 86_400_000
            return {
                "data": [[_ms(2026, 2, 25, 0) + i * day, 50, 52, 49, 50.0 + i] for i in range(5)],
                "continuation": None,
            }
        return None

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def deribit(monkeypatch):
    fake = FakeDeribit()
    monkeypatch.setenv("DERIBIT_BASE_URL", fake.url)
    yield fake
    fake.close()


def _chain(now: datetime = NOW) -> DeribitOptionsChain:
    chain = chain_for("deribit", source="exchange", now=now)
    assert isinstance(chain, DeribitOptionsChain) and isinstance(chain, OptionsChain)
    return chain


@pytest.mark.parametrize(
    ("target", "expected"),
    [
        (1, ("2026-03-06", 3)),  # the 3rd is 20 h away: 0 whole days, below Deribit's minimum of 1
        (5, ("2026-03-06", 3)),
        (17, ("2026-03-13", 10)),  # 10 and 24 both 7 away: the tie goes to the shorter
        (30, ("2026-03-27", 24)),  # 6 away: within the 7-day tolerance
        (45, ("2026-04-16", 45)),  # 21 and 70 away: beyond 7 days -> synthetic today + 45
        (118, ("2026-06-26", 115)),
    ],
)
def test_deribit_nearest_expiry_within_seven_days_else_synthetic(deribit, target, expected):
    assert _chain().real_expiry("BTC", target) == expected


def test_deribit_strikes_listed_else_fallback_grid(deribit):
    chain = _chain()
    assert chain.real_strike("BTC", "2026-03-06", "put", 69000) == 65000.0  # no 70000 put listed
    assert chain.real_strike("BTC", "2026-03-06", "call", 69000) == 70000.0
    assert chain.real_strike("BTC", "2026-03-06", "call", 67500) == 65000.0  # a tie: the lower
    assert chain.real_strike("BTC", "2026-04-16", "call", 68400) == 68000.0  # synthetic: BTC 1000s
    assert chain.real_strike("ETH", "2026-04-16", "put", 3421) == 3400.0  # others: 50s


def test_deribit_quote_uses_listed_unpadded_name_mark_and_real_expiry(deribit):
    chain = _chain()
    q = chain.quote("BTC", "call", 65000, "2026-03-06")
    assert ("ticker", {"instrument_name": "BTC-6MAR26-65000-C"}) in deribit.calls
    assert q.instrument == "BTC-6MAR26-65000-C" and q.source == "venue"
    assert q.premium_usd == pytest.approx(0.05 * 66000.0) and q.premium == pytest.approx(0.05)
    assert q.iv == pytest.approx(0.55)
    assert q.greeks == {"delta": 0.61, "gamma": 0.00004, "theta": -95.1, "vega": 30.2}
    assert q.expires_at == datetime(2026, 3, 6, 8, tzinfo=UTC)
    assert q.dte == pytest.approx(3 + 20 / 24)  # to 08:00 UTC, not 00:00
    assert q.multiplier == chain.multiplier("BTC") == 1.0


def test_deribit_zero_mark_falls_back_to_black_scholes(deribit):
    q = _chain().quote("BTC", "call", 70000, "2026-03-06", vol=0.5)
    assert q.source == "black_scholes"
    expected = pricing.bs_price(66000.0, 70000.0, 3 + 20 / 24, 0.5, option_type="call")
    assert q.premium_usd == pytest.approx(expected, rel=1e-12)
    put = _chain().quote("BTC", "put", 61000, "2026-04-16", vol=0.5)  # unlisted: BS, negative delta
    assert put.source == "black_scholes" and put.greeks["delta"] < 0


def test_deribit_settlement_only_after_the_expiry_instant(deribit):
    before = _chain(datetime(2026, 3, 6, 7, 59, tzinfo=UTC))
    assert before.settlement_price("BTC", "2026-03-06") is None
    assert not [c for c in deribit.calls if c[0] == "get_delivery_prices"]  # not even asked
    after = _chain(datetime(2026, 3, 6, 8, 1, tzinfo=UTC))
    assert after.settlement_price("BTC", "2026-03-06") is None  # not published yet: unknown
    deribit.delivery.insert(0, {"date": "2026-03-06", "delivery_price": 67123.4})
    assert after.settlement_price("BTC", "2026-03-06") == 67123.4
    assert _chain().settlement_price("BTC", "2026-02-27") == 64000.5


def test_deribit_dvol_history_is_fraction_oldest_first(deribit):
    assert _chain().implied_vol_history("BTC", 3) == pytest.approx([0.52, 0.53, 0.54])


def test_deribit_unreachable_is_one_line_error(monkeypatch):
    monkeypatch.setenv("DERIBIT_BASE_URL", "http://127.0.0.1:9/api/v2")
    with pytest.raises(Exception) as info:
        _chain().listing("BTC")
    assert "deribit: get_instruments failed" in str(info.value) and "\n" not in str(info.value)


# ---- OKX ------------------------------------------------------------------------------------


class FakeOkx:
    """A ccxt okx-shaped object: markets plus the implicit public endpoints used."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, dict]] = []
        exp = _ms(2026, 3, 27)
        self.markets = {}
        for strike in ("60000", "65000", "70000"):  # string strikes, as some ccxt builds give
            for kind in ("call", "put"):
                inst = f"BTC-USD-260327-{strike}-{kind[0].upper()}"
                self.markets[f"BTC/USD:BTC-260327-{strike}-{kind[0].upper()}"] = {
                    "id": inst,
                    "type": "option",
                    "base": "BTC",
                    "active": True,
                    "expiry": exp,
                    "strike": strike,
                    "optionType": kind,
                    "contractSize": 1.0,  # ccxt's: ctVal alone
                    "info": {"instId": inst, "ctVal": "1", "ctMult": "0.01", "ctValCcy": "BTC"},
                }
        self.markets["BTC/USDT"] = {"id": "BTC-USDT", "type": "spot", "base": "BTC"}

    def load_markets(self) -> dict:
        return self.markets

    def public_get_market_index_tickers(self, params: dict) -> dict:
        return {"code": "0", "data": [{"instId": "BTC-USD", "idxPx": "66000"}]}

    def public_get_public_mark_price(self, params: dict) -> dict:
        self.calls.append(("mark", params))
        px = "0.04" if params["instId"].endswith("65000-C") else "0"
        return {"code": "0", "data": [{"instId": params["instId"], "markPx": px}]}

    def public_get_public_opt_summary(self, params: dict) -> dict:
        return {"code": "0", "data": [{"instId": "BTC-USD-260327-65000-C", "markVol": "0.6"}]}

    def public_get_public_delivery_exercise_history(self, params: dict) -> dict:
        return {
            "code": "0",
            "data": [
                {
                    "ts": str(_ms(2026, 3, 27)),
                    "details": [
                        {"insId": "BTC-USD-260327-65000-C", "px": "65500.5", "type": "exercised"}
                    ],
                }
            ],
        }


def test_okx_listing_contract_size_mark_price_and_working_fallback():
    fake = FakeOkx()
    chain = chain_for("okx", source="exchange", now=NOW, exchange=fake)
    assert chain.multiplier("BTC") == 0.01  # ctVal x ctMult, not ccxt's contractSize (1) nor 1 coin
    assert chain.real_expiry("BTC", 60) == ("2026-03-27", 24)  # no tolerance cap on OKX
    assert (
        chain.real_strike("BTC", "2026-03-27", "call", 66000.0) == 65000.0
    )  # string strikes match
    assert chain.real_strike("ETH", "2026-03-27", "call", 3430.0) == 3400.0  # fallback ETH 100s
    q = chain.quote("BTC", "call", 65000, "2026-03-27")
    assert q.source == "venue" and q.instrument == "BTC-USD-260327-65000-C"
    assert q.premium_usd == pytest.approx(0.04 * 66000) and q.iv == pytest.approx(0.6)
    assert q.expires_at == datetime(2026, 3, 27, 8, tzinfo=UTC)
    want = pricing.bs_greeks(66000.0, 65000.0, q.dte, 0.6, option_type="call")
    assert q.greeks == want
    # no mark (0): Black-Scholes that works (upstream passed the type as the rate: always 0)
    bs = chain.quote("BTC", "put", 60000, "2026-03-27", vol=0.7)
    assert bs.source == "black_scholes" and bs.premium_usd > 0
    assert bs.premium_usd == pytest.approx(
        pricing.bs_price(66000.0, 60000.0, q.dte, 0.7, option_type="put")
    )


def test_okx_settlement_after_expiry_only():
    fake = FakeOkx()
    before = chain_for(
        "okx", source="exchange", now=datetime(2026, 3, 27, 7, tzinfo=UTC), exchange=fake
    )
    assert before.settlement_price("BTC", "2026-03-27") is None
    after = chain_for(
        "okx", source="exchange", now=datetime(2026, 3, 27, 9, tzinfo=UTC), exchange=fake
    )
    assert after.settlement_price("BTC", "2026-03-27") == 65500.5


# ---- IBKR -----------------------------------------------------------------------------------


class FakeIB:
    def __init__(self) -> None:
        self.asked: list = []

    def qualifyContracts(self, *contracts):  # noqa: N802 - ib_async's spelling
        self.asked.extend(contracts)
        return list(contracts)

    def reqTickers(self, *contracts):  # noqa: N802
        model = SimpleNamespace(
            optPrice=2100.0,
            undPrice=66000.0,
            delta=0.52,
            gamma=0.00003,
            theta=-60.0,
            vega=45.0,
            impliedVol=0.58,
        )
        return [SimpleNamespace(modelGreeks=model) for _ in contracts]


def test_ibkr_calendar_strikes_multiplier_and_gateway_marks():
    ib = FakeIB()
    chain = chain_for("ibkr", source="exchange", now=NOW, ib=ib)
    assert chain.multiplier("BTC") == 0.1 and chain.multiplier("ETH") == 0.5  # MBT, MET
    expiry, dte = chain.real_expiry("BTC", 30)
    assert expiry == "2026-03-27" and dte == 25  # the monthly (last Friday), not today + 30
    # CME close 16:00 Chicago: CST (UTC-6) on 6 March, CDT (UTC-5) after 8 March
    assert chain.expires_at("BTC", "2026-03-06") == datetime(2026, 3, 6, 22, tzinfo=UTC)
    assert chain.expires_at("BTC", "2026-03-27") == datetime(2026, 3, 27, 21, tzinfo=UTC)
    assert chain.real_strike("BTC", expiry, "call", 67400) == 67000.0  # 1000s above 50k
    assert chain.real_strike("BTC", expiry, "call", 45300) == 45500.0  # 500s at or below 50k
    assert chain.real_strike("ETH", expiry, "put", 3437) == 3450.0  # 50s above 1000
    assert chain.real_strike("ETH", expiry, "put", 912) == 900.0  # 25s at or below 1000
    q = chain.quote("BTC", "call", 67000, expiry)
    assert q.source == "venue" and q.premium_usd == 2100.0 and q.multiplier == 0.1
    (contract,) = ib.asked
    assert (contract.symbol, contract.lastTradeDateOrContractMonth, contract.right) == (
        "MBT",
        "20260327",
        "C",
    )


class _FixedCloses(IbkrOptionsChain):
    """IBKR without a gateway over fixed closes (no network): Black-Scholes marks."""

    closes = [60000.0 * math.exp(0.02 * math.sin(i)) for i in range(91)]

    def spot(self, underlying: str) -> float:
        return 66000.0

    def daily_closes(self, underlying: str, count: int) -> list[float]:
        return self.closes[-count:]


def test_ibkr_without_gateway_marks_black_scholes_at_realized_vol_not_080():
    chain = _FixedCloses(source="exchange", now=NOW)
    rv = realized_vol(_FixedCloses.closes)
    q = chain.quote("BTC", "put", 60000, "2026-03-27")
    assert q.source == "black_scholes" and q.iv == pytest.approx(rv) and abs(rv - 0.80) > 0.05
    assert q.premium_usd == pytest.approx(
        pricing.bs_price(66000.0, 60000.0, q.dte, rv, option_type="put")
    )


def test_unknown_platform_names_the_known_ones():
    with pytest.raises(ValueError, match=r"known: deribit, ibkr, okx, robinhood"):
        chain_for("binanceus")


def test_replayed_market_synthetic_expiry_fallback_grid_bs_at_realized_vol(tmp_path):
    day = 86_400_000
    start = _ms(2025, 11, 1, 0)
    closes = [60000.0 * math.exp(0.03 * math.sin(i / 3.0) + 0.001 * i) for i in range(130)]
    rows = [[start + i * day, c, c * 1.01, c * 0.99, c, 1.0] for i, c in enumerate(closes)]
    (tmp_path / "BTC_USDT-1d.json").write_text(json.dumps(rows))
    now = datetime(2026, 3, 2, 12, tzinfo=UTC)  # bar 121 is the last closed one
    chain = chain_for("deribit", source=f"replay:{tmp_path}", now=now)
    assert chain.real_expiry("BTC", 30) == ("2026-04-01", 30)  # nothing listed: synthetic
    assert chain.real_strike("BTC", "2026-04-01", "call", 66600) == 67000.0
    q = chain.quote("BTC", "call", 67000.0, "2026-04-01")
    seen = closes[: (int(now.timestamp() * 1000) - start) // day]
    rv = realized_vol(seen[-90:])
    assert q.source == "black_scholes" and q.iv == pytest.approx(rv)
    assert q.spot == pytest.approx(seen[-1]) and q.expires_at == datetime(2026, 4, 1, 8, tzinfo=UTC)
    assert q.premium_usd == pytest.approx(
        pricing.bs_price(seen[-1], 67000.0, q.dte, rv, option_type="call")
    )
    later = chain_for("deribit", source=f"replay:{tmp_path}", now=datetime(2026, 3, 9, tzinfo=UTC))
    assert later.settlement_price("BTC", "2026-03-06") == pytest.approx(closes[125 - 1])
