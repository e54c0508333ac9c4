"""shared_tools.market: the simulated market, the clock, replay files, real ccxt via a fake
venue on 127.0.0.1, and the OHLCV cache. Offline: loopback sockets and tmp dirs only."""

from __future__ import annotations

import json
import math
import os
import pickle
import socket
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import ccxt
import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import platforms  # noqa: F401  (registers the venues with the door, as the workers do)
from shared_tools import market as md
from shared_tools.market import ohlcv
from shared_tools.market import simulated as sim

REPO = Path(__file__).resolve().parents[1]
T0 = datetime(2025, 3, 14, 12, 0, tzinfo=UTC)  # a fixed clock for the simulated tests


@pytest.fixture(autouse=True)
def _isolated(monkeypatch, tmp_path):
    """No GO_TRADER_* leakage between tests; the OHLCV cache lives in tmp_path."""
    for name in list(os.environ):
        if name.startswith("GO_TRADER_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("GO_TRADER_OHLCV_CACHE", str(tmp_path / "ohlcv_cache.db"))
    md.clear_memo()
    yield
    md.clear_memo()


def sim_fetch(symbol="BTC/USDT", timeframe="1h", limit=300, now=T0):
    return md.fetch_ohlcv(symbol, timeframe, limit, source="simulated", now=now)


def assert_ohlc_sane(df: pd.DataFrame) -> None:
    assert list(df.columns) == ["open", "high", "low", "close", "volume"]
    assert all(df.dtypes == "float64")
    assert df.index.name == "time"
    assert str(df.index.tz) == "UTC"
    assert df.index.is_monotonic_increasing and df.index.is_unique
    v = df.to_numpy()
    assert np.isfinite(v).all()
    o, h, lo, c, vol = v.T
    assert (h >= np.maximum(o, c)).all()
    assert (lo <= np.minimum(o, c)).all()
    assert (lo > 0).all() and (vol > 0).all()


# --------------------------------------------------------------------------- simulated


SUBPROCESS_SNIPPET = """
import sys
from shared_tools import market as md
df = md.fetch_ohlcv("ETH/USDT", "15m", 200)
p = md.fetch_prices(["ETH/USDT", "SOL/USDT"])
sys.stdout.write(df.to_json(orient="split", double_precision=15) + "\\n" + repr(p) + "\\n")
sys.stdout.write("ccxt-imported=%s\\n" % ("ccxt" in sys.modules))
"""


def test_simulated_identical_across_processes_and_never_imports_ccxt():
    env = {k: v for k, v in os.environ.items() if not k.startswith("GO_TRADER_")}
    env.update(
        GO_TRADER_MARKET_DATA="simulated",
        GO_TRADER_NOW="2025-06-01T10:07:00Z",
        GO_TRADER_SIM_SEED="7",
    )
    outs = [
        subprocess.run(
            [sys.executable, "-c", SUBPROCESS_SNIPPET],
            env=env,
            cwd=REPO,
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        ).stdout
        for _ in range(2)
    ]
    assert outs[0] == outs[1]
    assert outs[0].endswith("ccxt-imported=False\n")
    doc = json.loads(outs[0].splitlines()[0])
    assert len(doc["data"]) == 200


def test_seed_changes_the_market(monkeypatch):
    a = sim_fetch(limit=50)
    monkeypatch.setenv("GO_TRADER_SIM_SEED", "43")
    b = sim_fetch(limit=50)
    assert not np.allclose(a["close"], b["close"])
    monkeypatch.setenv("GO_TRADER_SIM_SEED", "not-a-number")
    with pytest.raises(ValueError, match="GO_TRADER_SIM_SEED"):
        sim_fetch(limit=50)


@pytest.mark.parametrize("timeframe", ["1m", "15m", "1h", "4h", "1d"])
def test_bars_are_a_pure_function_of_bar_time(timeframe):
    tf = md.timeframe_seconds(timeframe)
    early = sim_fetch(timeframe=timeframe, limit=120, now=T0)
    later = sim_fetch(timeframe=timeframe, limit=100, now=T0 + timedelta(seconds=37 * tf + 11))
    common = early.index.intersection(later.index)
    assert len(common) == 100 - 37
    pd.testing.assert_frame_equal(early.loc[common], later.loc[common], check_exact=True)
    # continuous path: every open is exactly the previous close
    assert (later["open"].to_numpy()[1:] == later["close"].to_numpy()[:-1]).all()
    assert (later.index.to_series().diff().dropna() == pd.Timedelta(seconds=tf)).all()


def test_open_equals_previous_close_across_calls():
    a = sim_fetch(limit=10, now=T0)
    b = sim_fetch(limit=10, now=T0 + timedelta(hours=1))
    assert b["open"].iloc[-1] == a["close"].iloc[-1]


SYMBOLS = st.one_of(
    st.sampled_from(
        [
            "BTC/USDT",
            "ETH/USD",
            "SOL-USDT",
            "BNB",
            "XRPUSDT",
            "DOGE/USDT",
            "ADA/USDT",
            "AVAX/USDT",
            "LINK/USDT",
            "ES",
            "NQ",
            "MES",
            "MNQ",
            "SPY",
            "QQQ",
            "GC",
            "CL",
        ]
    ),
    st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789/-_:", min_size=1, max_size=12).filter(
        lambda s: s.strip()
    ),
)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    symbol=SYMBOLS,
    timeframe=st.sampled_from(list(md.TIMEFRAMES)),
    epoch=st.floats(min_value=1.45e9, max_value=2.1e9),
    limit=st.integers(min_value=1, max_value=80),
)
def test_simulated_ohlc_sanity(symbol, timeframe, epoch, limit):
    now = datetime.fromtimestamp(epoch, tz=UTC)
    df = md.fetch_ohlcv(symbol, timeframe, limit, source="simulated", now=now)
    assert len(df) == limit
    assert_ohlc_sane(df)
    tf = pd.Timedelta(seconds=md.timeframe_seconds(timeframe))
    assert df.index[-1] + tf <= now < df.index[-1] + 2 * tf


@pytest.mark.parametrize(
    ("symbol", "low", "high"),
    [
        ("BTC/USDT", 15_000, 130_000),
        ("ETH/USDT", 800, 6_000),
        ("SOL/USDT", 15, 350),
        ("ES", 3_800, 6_800),
        ("DOGE/USDT", 0.04, 0.6),
    ],
)
def test_plausible_ranges_over_two_years(monkeypatch, symbol, low, high):
    for seed in ("42", "1", "2"):
        monkeypatch.setenv("GO_TRADER_SIM_SEED", seed)
        df = sim_fetch(symbol, "1d", 730)
        assert df["low"].min() > low and df["high"].max() < high, (seed, df.describe())
        assert df["close"].max() / df["close"].min() > 1.15  # it moves
        r = np.log(df["close"]).diff().dropna()
        assert 0.003 < r.std() < 0.12  # daily vol of a real market, not noise or a flatline


def test_volatility_clusters():
    df = sim_fetch("ETH/USDT", "1h", 8760)
    r = np.log(df["close"]).diff()
    rolling = r.rolling(24 * 7).std().dropna()
    assert rolling.quantile(0.95) / rolling.quantile(0.05) > 2.0
    # and regimes: a 20/50 SMA cross fires sometimes, not every bar and not never
    fast, slow = df["close"].rolling(20).mean(), df["close"].rolling(50).mean()
    crosses = int(((fast > slow).astype(int).diff().abs() == 1).sum())
    assert 20 < crosses < 1000


def test_symbol_spellings_share_one_market():
    frames = [
        sim_fetch(s, limit=20)
        for s in ("BTC/USDT", "BTC/USD", "BTC-USDT", "BTC", "BTCUSDT", "btc/usdt")
    ]
    for f in frames[1:]:
        pd.testing.assert_frame_equal(frames[0], f, check_exact=True)
    pd.testing.assert_frame_equal(sim_fetch("MES", limit=5), sim_fetch("ES", limit=5))
    assert not sim_fetch("ETH/USDT", limit=5)["close"].equals(frames[0]["close"].iloc[-5:])


@pytest.mark.parametrize("symbol", ["FOO/USDT", "ZZZ123", "1000PEPE/USDT", "USDT"])
def test_unknown_symbols_get_a_stable_hashed_level(symbol):
    closes = sim_fetch(symbol, "1d", 730)["close"]
    assert closes.min() > 10 / 2.6 and closes.max() < 500 * 2.6
    md.clear_memo()
    assert sim_fetch(symbol, "1d", 730)["close"].equals(closes)


def test_simulated_price_is_the_path_at_now():
    on_minute = T0 + timedelta(minutes=3)
    p = md.fetch_prices(["BTC/USDT", "ETH/USDT"], source="simulated", now=on_minute)
    assert set(p) == {"BTC/USDT", "ETH/USDT"}
    # the scalar path (no numpy) and the vectorised candles agree to float rounding
    close = sim_fetch("BTC/USDT", "1m", 1, now=on_minute)["close"].iloc[-1]
    assert p["BTC/USDT"] == pytest.approx(close, rel=1e-12)
    one_second_later = md.fetch_prices(
        ["BTC/USDT"], source="simulated", now=on_minute + timedelta(seconds=1)
    )
    assert one_second_later["BTC/USDT"] != p["BTC/USDT"]
    assert abs(one_second_later["BTC/USDT"] / p["BTC/USDT"] - 1) < 0.002


def test_simulated_funding_rate_small_and_deterministic():
    rates = [
        md.simulated_funding_rate("BTC/USDT", T0 + timedelta(hours=h)) for h in range(0, 24 * 60, 7)
    ]
    assert all(abs(r) <= 0.0005 for r in rates)
    assert len(set(rates)) > 10
    assert md.simulated_funding_rate("BTC/USDT", T0) == md.simulated_funding_rate("BTC/USDT", T0)


def test_memo_fetches_once_and_returns_private_copies(monkeypatch):
    calls = []
    real = sim.bars

    def counting(*args):
        calls.append(args)
        return real(*args)

    monkeypatch.setattr(sim, "bars", counting)
    first = sim_fetch(limit=30)
    first.iloc[-1, :] = -1.0  # a careless caller
    for minute in range(20):  # a batch of jobs within the same bar
        again = sim_fetch(limit=30, now=T0 + timedelta(minutes=minute))
        assert again is not first
        assert (again["close"] > 0).all()
    shorter = sim_fetch(limit=10, now=T0 + timedelta(minutes=5))  # served from the longer frame
    pd.testing.assert_frame_equal(shorter, again.iloc[-10:])
    assert len(calls) == 1
    sim_fetch(limit=30, now=T0 + timedelta(hours=1))  # a new closed bar: a new fetch
    md.clear_memo()
    sim_fetch(limit=30)
    assert len(calls) == 3


def test_argument_validation():
    with pytest.raises(ValueError, match=r"unknown timeframe '7m' \(use one of 1m, 3m"):
        md.timeframe_seconds("7m")
    with pytest.raises(ValueError, match="7m"):
        sim_fetch(timeframe="7m")
    with pytest.raises(ValueError, match="limit"):
        sim_fetch(limit=0)
    with pytest.raises(ValueError, match="symbol"):
        sim_fetch(symbol=" ")
    with pytest.raises(ValueError, match="source"):
        md.fetch_ohlcv("BTC/USDT", "1h", source="bogus")
    assert md.timeframe_seconds("4h") == 14400
    assert md.TIMEFRAMES["1d"] == 86400 and len(md.TIMEFRAMES) == 12


# --------------------------------------------------------------------------- clock & source


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("2025-01-01T00:00:00Z", datetime(2025, 1, 1, tzinfo=UTC)),
        ("2025-01-01T02:30:00+02:00", datetime(2025, 1, 1, 0, 30, tzinfo=UTC)),
        ("2025-01-01T00:00:00", datetime(2025, 1, 1, tzinfo=UTC)),
        ("1735689600", datetime(2025, 1, 1, tzinfo=UTC)),
        ("1735689600.25", datetime(2025, 1, 1, 0, 0, 0, 250000, tzinfo=UTC)),
        (" 1735689600 ", datetime(2025, 1, 1, tzinfo=UTC)),
    ],
)
def test_go_trader_now_parsing(monkeypatch, raw, expected):
    monkeypatch.setenv("GO_TRADER_NOW", raw)
    got = md.now_utc()
    assert got == expected and got.utcoffset() == timedelta(0)


@pytest.mark.parametrize("raw", ["garbage", "2025-13-01T00:00:00Z", "nan", "12:00", "1e400"])
def test_go_trader_now_garbage(monkeypatch, raw):
    monkeypatch.setenv("GO_TRADER_NOW", raw)
    with pytest.raises(ValueError, match="GO_TRADER_NOW"):
        md.now_utc()


def test_now_defaults_to_the_real_clock():
    got = md.now_utc()
    assert got.tzinfo is not None
    assert abs((got - datetime.now(UTC)).total_seconds()) < 5


@pytest.mark.parametrize("timeframe", list(md.TIMEFRAMES))
@pytest.mark.parametrize("offset", [0, 1, -1, 0.5])
def test_closed_bar_selection(monkeypatch, timeframe, offset):
    tf = md.timeframe_seconds(timeframe)
    boundary = 1_750_032_000  # divisible by 86400
    now_s = boundary + offset
    monkeypatch.setenv("GO_TRADER_NOW", repr(float(now_s)))
    df = md.fetch_ohlcv("SOL/USDT", timeframe, 3, source="simulated")
    last_open = df.index[-1].timestamp()
    assert last_open + tf <= now_s  # closed
    assert last_open + 2 * tf > now_s  # and the next one is not
    if offset == 0:
        assert last_open + tf == now_s


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (None, "exchange"),
        ("", "exchange"),
        ("exchange", "exchange"),
        ("simulated", "simulated"),
        ("SIMULATED", "simulated"),
        ("replay:/data/candles", "replay:/data/candles"),
        (" replay:rel/dir ", "replay:rel/dir"),
    ],
)
def test_source_from_env(monkeypatch, raw, expected):
    if raw is not None:
        monkeypatch.setenv("GO_TRADER_MARKET_DATA", raw)
    assert md.source_from_env() == expected


@pytest.mark.parametrize("raw", ["sim", "replay:", "binanceus", "replay", "exchange:binance"])
def test_source_from_env_rejects(monkeypatch, raw):
    monkeypatch.setenv("GO_TRADER_MARKET_DATA", raw)
    with pytest.raises(ValueError) as info:
        md.source_from_env()
    text = str(info.value)
    assert "GO_TRADER_MARKET_DATA" in text
    assert all(word in text for word in ("exchange", "simulated", "replay:<dir>"))


# --------------------------------------------------------------------------- replay

H = 3_600_000
R0 = 1_735_689_600_000  # 2025-01-01T00:00Z in ms


def replay_rows(n: int, start_ms: int = R0, step_ms: int = H) -> list[list[float]]:
    return [
        [start_ms + i * step_ms, 100.0 + i, 101.0 + i, 99.0 + i, 100.5 + i, 10.0 + i]
        for i in range(n)
    ]


def write_csv(path: Path, rows, iso: bool = False) -> None:
    lines = ["timestamp,open,high,low,close,volume"]
    for r in rows:
        ts = (
            pd.Timestamp(r[0], unit="ms", tz="UTC").strftime("%Y-%m-%dT%H:%M:%SZ")
            if iso
            else str(int(r[0]))
        )
        lines.append(",".join([ts] + [repr(x) for x in r[1:]]))
    path.write_text("\n".join(lines) + "\n")


@pytest.mark.parametrize("fmt", ["json", "csv-ms", "csv-iso"])
def test_replay_selects_last_closed_bar(tmp_path, fmt):
    rows = replay_rows(10)
    if fmt == "json":
        (tmp_path / "BTC_USDT-1h.json").write_text(json.dumps(rows[::-1]))  # order must not matter
    else:
        write_csv(tmp_path / "BTC_USDT-1h.csv", rows, iso=fmt == "csv-iso")
    src = f"replay:{tmp_path}"
    now = datetime(2025, 1, 1, 5, 30, tzinfo=UTC)  # bars 0..4 closed, bar 5 in progress
    df = md.fetch_ohlcv("BTC/USDT", "1h", 3, source=src, now=now)
    assert_ohlc_sane(df)
    assert list(df["open"]) == [102.0, 103.0, 104.0]
    assert df.index[-1] == pd.Timestamp("2025-01-01T04:00Z")
    # fewer bars than asked: what exists
    assert len(md.fetch_ohlcv("BTC/USDT", "1h", 300, source=src, now=now)) == 5
    # on the boundary the bar that just closed is included
    at = md.fetch_ohlcv("BTC/USDT", "1h", 1, source=src, now=datetime(2025, 1, 1, 6, tzinfo=UTC))
    assert at["open"].iloc[-1] == 105.0
    assert md.fetch_prices(["BTC/USDT"], source=src, now=now) == {"BTC/USDT": 104.5}


def test_replay_without_clock_uses_all_bars_and_env_source(tmp_path, monkeypatch):
    (tmp_path / "ETH_USDT-1d.json").write_text(json.dumps(replay_rows(30, step_ms=24 * H)))
    monkeypatch.setenv("GO_TRADER_MARKET_DATA", f"replay:{tmp_path}")
    df = md.fetch_ohlcv("ETH/USDT", "1d", 100)
    assert len(df) == 30 and df["close"].iloc[-1] == 129.5


def test_replay_price_prefers_the_freshest_timeframe(tmp_path):
    (tmp_path / "BTC_USDT-1h.json").write_text(json.dumps(replay_rows(10)))
    minute = [[R0 + i * 60_000, 200.0, 201.0, 199.0, 200.0 + i, 1.0] for i in range(600)]
    (tmp_path / "BTC_USDT-1m.json").write_text(json.dumps(minute))
    now = datetime(2025, 1, 1, 5, 30, tzinfo=UTC)
    assert md.fetch_prices(["BTC/USDT"], source=f"replay:{tmp_path}", now=now) == {
        "BTC/USDT": 200.0 + 329
    }


def test_replay_missing_file_names_the_path(tmp_path):
    with pytest.raises(md.MarketDataError) as info:
        md.fetch_ohlcv("SOL/USDT", "4h", source=f"replay:{tmp_path}")
    assert info.value.venue == "replay"
    assert str(tmp_path / "SOL_USDT-4h.json") in str(info.value)
    assert "\n" not in str(info.value)
    with pytest.raises(md.MarketDataError, match="SOL_USDT"):
        md.fetch_prices(["SOL/USDT"], source=f"replay:{tmp_path}")


def test_replay_malformed_file_and_too_early_clock(tmp_path):
    (tmp_path / "BTC_USDT-1h.json").write_text("{not json")
    with pytest.raises(md.MarketDataError, match="cannot read"):
        md.fetch_ohlcv("BTC/USDT", "1h", source=f"replay:{tmp_path}")
    (tmp_path / "ETH_USDT-1h.json").write_text(json.dumps(replay_rows(3)))
    with pytest.raises(md.MarketDataError, match="no closed"):
        md.fetch_ohlcv(
            "ETH/USDT", "1h", source=f"replay:{tmp_path}", now=datetime(2024, 1, 1, tzinfo=UTC)
        )


# --------------------------------------------------------------------------- exchange (real ccxt)


def closed_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


INTERVAL_MS = {k: v * 1000 for k, v in md.TIMEFRAMES.items()}


def fake_bar(open_ms: int) -> list[float]:
    """The fake venue's candle: a deterministic function of its open time."""
    k = open_ms // 60_000
    o = 100.0 + (k % 997) * 0.1
    return [open_ms, o, o + 0.2, o - 0.1, o + 0.05, 1.0 + k % 7]


def _market(symbol: str, base: str, quote: str) -> dict:
    return {
        "symbol": symbol,
        "status": "TRADING",
        "baseAsset": base,
        "baseAssetPrecision": 8,
        "quoteAsset": quote,
        "quotePrecision": 8,
        "quoteAssetPrecision": 8,
        "orderTypes": ["LIMIT", "MARKET"],
        "icebergAllowed": True,
        "ocoAllowed": True,
        "isSpotTradingAllowed": True,
        "isMarginTradingAllowed": False,
        "filters": [
            {
                "filterType": "PRICE_FILTER",
                "minPrice": "0.01",
                "maxPrice": "1000000",
                "tickSize": "0.01",
            },
            {
                "filterType": "LOT_SIZE",
                "minQty": "0.00001",
                "maxQty": "9000",
                "stepSize": "0.00001",
            },
        ],
        "permissions": ["SPOT"],
    }


EXCHANGE_INFO = {
    "timezone": "UTC",
    "serverTime": 0,
    "rateLimits": [],
    "exchangeFilters": [],
    "symbols": [
        _market("BTCUSDT", "BTC", "USDT"),
        _market("ETHUSDT", "ETH", "USDT"),
        _market("SOLUSDT", "SOL", "USDT"),  # listed, but its ticker fails when made ``broken``
    ],
}


class FakeVenue:
    """Enough of the Binance US public REST API for ccxt's load_markets/fetch_ohlcv/tickers."""

    def __init__(self) -> None:
        self.requests: list[tuple[str, dict[str, str]]] = []
        self.broken: set[str] = set()  # venue ids whose ticker requests fail (halted market)
        venue = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # keep pytest output clean
                pass

            def do_GET(self):
                url = urlparse(self.path)
                query = {k: v[-1] for k, v in parse_qs(url.query).items()}
                venue.requests.append((url.path, query))
                status, body = venue.route(url.path, query)
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_port}"

    def route(self, path: str, q: dict[str, str]) -> tuple[int, object]:
        if path == "/api/v3/exchangeInfo":
            return 200, EXCHANGE_INFO
        known = {m["symbol"] for m in EXCHANGE_INFO["symbols"]}
        if path == "/api/v3/klines":
            if q.get("symbol") not in known:
                return 400, {"code": -1121, "msg": "Invalid symbol."}
            step = INTERVAL_MS[q["interval"]]
            now_ms = int(time.time() * 1000)
            end = min(int(q.get("endTime", now_ms)), now_ms)  # includes the bar in progress
            limit = int(q.get("limit", 500))
            start = int(q["startTime"]) if "startTime" in q else (end // step - limit + 1) * step
            first = -(-start // step) * step
            out = []
            for t in range(first, end + 1, step):
                if len(out) >= limit:
                    break
                b = fake_bar(t)
                out.append([t, *(f"{x:.8f}" for x in b[1:]), t + step - 1, "0", 1, "0", "0", "0"])
            return 200, out
        if path in ("/api/v3/ticker/24hr", "/api/v3/ticker/price"):
            wanted = json.loads(q["symbols"]) if "symbols" in q else [q.get("symbol")]
            if any(s not in known for s in wanted):
                return 400, {"code": -1121, "msg": "Invalid symbol."}
            if self.broken.intersection(wanted):
                return 400, {"code": -1013, "msg": "Market is closed."}
            tickers = [self.ticker(s) for s in wanted]
            return 200, tickers if "symbols" in q else tickers[0]
        return 404, {"code": -1, "msg": f"fake venue has no {path}"}

    @staticmethod
    def ticker(symbol: str) -> dict:
        last = {"BTCUSDT": "65000.5", "ETHUSDT": "3100.25"}.get(symbol, "150.75")
        return {
            "symbol": symbol,
            "priceChange": "0",
            "priceChangePercent": "0",
            "weightedAvgPrice": last,
            "prevClosePrice": last,
            "lastPrice": last,
            "lastQty": "1",
            "bidPrice": last,
            "bidQty": "1",
            "askPrice": last,
            "askQty": "1",
            "openPrice": last,
            "highPrice": last,
            "lowPrice": last,
            "volume": "10",
            "quoteVolume": "10",
            "openTime": 0,
            "closeTime": 1,
            "firstId": 1,
            "lastId": 2,
            "count": 1,
        }

    def klines(self) -> list[dict[str, str]]:
        return [q for p, q in self.requests if p == "/api/v3/klines"]


@pytest.fixture
def venue(monkeypatch):
    fake = FakeVenue()
    fake.thread.start()
    monkeypatch.setenv("GO_TRADER_EXCHANGE_URL", fake.url)
    md.clear_memo()
    yield fake
    fake.server.shutdown()
    fake.server.server_close()


def test_unreachable_exchange_fails_fast_with_one_line(monkeypatch):
    monkeypatch.setenv("GO_TRADER_EXCHANGE_URL", f"http://127.0.0.1:{closed_port()}")
    requests: list[str] = []
    waits: list[float] = []
    real_fetch = ccxt.Exchange.fetch

    def counted(self, url, *args, **kwargs):
        requests.append(url)
        return real_fetch(self, url, *args, **kwargs)

    monkeypatch.setattr(ccxt.Exchange, "fetch", counted)
    monkeypatch.setattr(time, "sleep", waits.append)
    with pytest.raises(md.MarketDataError) as info:
        md.fetch_ohlcv("BTC/USDT", "1h", 10)
    # Fails fast: the first refused connection is the answer, no retry and no back-off.
    assert len(requests) == 1, requests
    assert waits == []
    err = info.value
    assert err.venue == "binanceus"
    assert str(err).startswith("binanceus: cannot reach the exchange")
    assert "GO_TRADER_MARKET_DATA=simulated" in str(err) and "\n" not in str(err)
    with pytest.raises(md.MarketDataError, match="^binanceus: cannot reach"):
        md.fetch_prices(["BTC/USDT"])


def test_real_ccxt_client_gets_candles_from_the_fake_venue(venue):
    df = md.fetch_ohlcv("BTC/USDT", "1m", 50)
    assert_ohlc_sane(df)
    assert len(df) == 50
    now = datetime.now(UTC)
    assert df.index[-1] + timedelta(minutes=1) <= now  # the in-progress bar is dropped
    assert now < df.index[-1] + timedelta(minutes=2, seconds=5)
    want = [fake_bar(int(t.timestamp() * 1000))[4] for t in df.index]
    assert np.allclose(df["close"], want)
    paths = [p for p, _ in venue.requests]
    assert paths[0] == "/api/v3/exchangeInfo" and "/api/v3/klines" in paths
    assert venue.klines()[0]["symbol"] == "BTCUSDT" and venue.klines()[0]["interval"] == "1m"


def test_cache_serves_repeats_and_pages_long_windows(venue):
    first = md.fetch_ohlcv("ETH/USDT", "1m", 1500)  # binance pages at 1000 bars
    assert len(first) == 1500 and first.index.is_unique
    assert len(venue.klines()) == 2
    md.clear_memo()  # a new worker process: the memo is gone, the SQLite cache is not
    again = md.fetch_ohlcv("ETH/USDT", "1m", 1500)
    new_requests = venue.klines()[2:]
    # nothing to ask for, unless a minute boundary passed: then only the missing bar(s)
    assert len(new_requests) <= 1
    for q in new_requests:
        assert int(q["startTime"]) == int(first.index[-1].timestamp() * 1000) + 60_000
    common = first.index.intersection(again.index)
    pd.testing.assert_frame_equal(first.loc[common], again.loc[common])


def test_exchange_prices_and_bad_symbols(venue):
    assert md.fetch_prices(["BTC/USDT", "ETH/USDT"]) == {"BTC/USDT": 65000.5, "ETH/USDT": 3100.25}
    assert md.fetch_prices(["ETH/USDT"]) == {"ETH/USDT": 3100.25}  # memo: no new request
    ticker_requests = [p for p, _ in venue.requests if "ticker" in p]
    assert len(ticker_requests) == 1
    with pytest.raises(md.MarketDataError) as info:
        md.fetch_ohlcv("NOPE/USDT", "1h", 5)
    assert info.value.venue == "binanceus" and "NOPE/USDT" in str(info.value)
    with pytest.raises(md.MarketDataError, match="NOPE/USDT"):
        md.fetch_prices(["NOPE/USDT"])


def test_exchange_prices_partial_when_one_symbol_errors(venue):
    venue.broken.add("SOLUSDT")  # listed, but the venue refuses its ticker
    symbols = ["BTC/USDT", "SOL/USDT", "ETH/USDT", "NOPE/USDT"]
    prices, missing = md.fetch_prices_partial(symbols)
    assert prices == {"BTC/USDT": 65000.5, "ETH/USDT": 3100.25}
    assert set(missing) == {"SOL/USDT", "NOPE/USDT"}
    for sym, err in missing.items():
        assert err.venue == "binanceus" and sym in str(err) and "\n" not in str(err)
    with pytest.raises(md.MarketDataError, match="SOL/USDT"):  # all-or-nothing form
        md.fetch_prices(["BTC/USDT", "SOL/USDT"])
    venue.broken.clear()
    md.clear_memo()
    assert md.fetch_prices_partial(["SOL/USDT"]) == ({"SOL/USDT": 150.75}, {})


def run_check_price(args: list[str], **env: str) -> subprocess.CompletedProcess:
    full = {k: v for k, v in os.environ.items() if not k.startswith("GO_TRADER_")}
    full.update(GO_TRADER_OHLCV_CACHE=os.environ["GO_TRADER_OHLCV_CACHE"], **env)
    return subprocess.run(
        [sys.executable, str(REPO / "shared_scripts" / "check_price.py"), *args],
        cwd=REPO,
        env=full,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_check_price_marks_what_the_venue_can_quote(venue):
    """One unreadable symbol must not blank the marks of the whole platform."""
    venue.broken.add("SOLUSDT")
    proc = run_check_price(
        ["BTC/USDT", "SOL/USDT", "ETH/USDT", "NOPE/USDT"], GO_TRADER_EXCHANGE_URL=venue.url
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert json.loads(proc.stdout) == {"BTC/USDT": 65000.5, "ETH/USDT": 3100.25}
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "SOL/USDT" in lines[0] and "NOPE/USDT" in lines[0]
    assert "BTC/USDT" not in lines[0]

    proc = run_check_price(["SOL/USDT", "NOPE/USDT"], GO_TRADER_EXCHANGE_URL=venue.url)
    assert proc.returncode == 1
    doc = json.loads(proc.stdout)
    assert list(doc) == ["error"] and "SOL/USDT" in doc["error"] and "NOPE/USDT" in doc["error"]


def test_unknown_venue():
    with pytest.raises(md.MarketDataError) as info:
        md.fetch_ohlcv("BTC/USDT", "1h", 5, venue="nosuchvenue")
    assert info.value.venue == "nosuchvenue" and "unknown venue" in str(info.value)


# --------------------------------------------------------------------------- cache (injected fetch)


class CountingVenue:
    """Stands in for _fetch_from_venue: records (since, limit), serves fake_bar candles."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str, str, int, int]] = []

    def __call__(self, venue, symbol, timeframe, since_ms, limit):
        self.calls.append((venue, symbol, timeframe, since_ms, limit))
        step = INTERVAL_MS[timeframe]
        now_ms = time.time() * 1000
        out = []
        t = since_ms
        while len(out) < limit and t <= now_ms:
            out.append(fake_bar(t))
            t += step
        return out


def test_cache_asks_only_for_missing_bars(monkeypatch):
    fake = CountingVenue()
    monkeypatch.setattr(ohlcv, "_fetch_from_venue", fake)
    t0 = datetime(2024, 5, 1, 12, 30, tzinfo=UTC)
    end0 = int(datetime(2024, 5, 1, 11, tzinfo=UTC).timestamp() * 1000)  # last closed bar

    df = md.fetch_ohlcv("BTC/USDT", "1h", 100, now=t0)
    assert fake.calls == [("binanceus", "BTC/USDT", "1h", end0 - 99 * H, 100)]
    assert len(df) == 100 and df.index[-1].timestamp() * 1000 == end0

    md.clear_memo()
    again = md.fetch_ohlcv("BTC/USDT", "1h", 100, now=t0)
    assert len(fake.calls) == 1  # served from the cache
    pd.testing.assert_frame_equal(df, again)

    later = md.fetch_ohlcv("BTC/USDT", "1h", 100, now=t0 + timedelta(hours=5))
    assert fake.calls[-1][3:] == (end0 + H, 5)  # just the five new bars
    assert later.index[-1].timestamp() * 1000 == end0 + 5 * H and len(later) == 100
    assert np.allclose(
        later["close"], [fake_bar(int(t.timestamp() * 1000))[4] for t in later.index]
    )

    longer = md.fetch_ohlcv("BTC/USDT", "1h", 150, now=t0 + timedelta(hours=5))  # further back
    assert fake.calls[-1][3:] == (end0 + 5 * H - 149 * H, 45)  # only the 45 bars it lacked
    assert len(longer) == 150 and longer.index.is_monotonic_increasing
    md.fetch_ohlcv("BTC/USDT", "1h", 120, now=t0 + timedelta(hours=5))  # covered now
    assert len(fake.calls) == 3

    md.fetch_ohlcv("BTC/USDT", "1h", 100, now=t0 + timedelta(days=60))  # cache too old
    assert fake.calls[-1][4] == 100
    md.fetch_ohlcv("BTC/USDT", "4h", 10, now=t0)  # other timeframes are separate series
    md.fetch_ohlcv("BTC/USDT", "1h", 10, now=t0, venue="okx")  # and other venues too
    assert [c[0] for c in fake.calls[-2:]] == ["binanceus", "okx"]


def test_cache_never_stores_the_bar_in_progress(monkeypatch):
    fake = CountingVenue()
    monkeypatch.setattr(ohlcv, "_fetch_from_venue", fake)
    # a clock ahead of the venue: the venue also hands out the bar in progress
    df = md.fetch_ohlcv("BTC/USDT", "1m", 5, now=datetime.now(UTC) + timedelta(minutes=3))
    assert df.index[-1] + timedelta(minutes=1) <= datetime.now(UTC)


def test_venue_rows_with_gaps_and_threads(monkeypatch, capsys):
    t0 = datetime(2024, 5, 1, 12, 30, tzinfo=UTC)

    def holey(venue, symbol, timeframe, since_ms, limit):
        rows = [fake_bar(since_ms + i * H) for i in range(limit)]
        rows[-2] = [rows[-2][0], None, None, None, None, None]  # a broken bar is skipped
        rows[-1] = rows[-1][:5] + [None]  # venues without volume for an empty bar
        return rows

    monkeypatch.setattr(ohlcv, "_fetch_from_venue", holey)
    results = []

    def job(symbol):
        results.append(md.fetch_ohlcv(symbol, "1h", 48, now=t0))

    threads = [threading.Thread(target=job, args=(f"S{i}/USDT",)) for i in range(6)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert len(results) == 6
    for df in results:
        assert len(df) == 47 and df["volume"].iloc[-1] == 0.0
    assert "OHLCV cache" not in capsys.readouterr().err  # threads share the cache fine


def test_unusable_cache_degrades_to_direct_fetches(monkeypatch, tmp_path, capsys):
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("x")
    monkeypatch.setenv("GO_TRADER_OHLCV_CACHE", str(blocker / "cache.db"))
    fake = CountingVenue()
    monkeypatch.setattr(ohlcv, "_fetch_from_venue", fake)
    t0 = datetime(2024, 5, 1, 12, 30, tzinfo=UTC)
    df = md.fetch_ohlcv("BTC/USDT", "1h", 24, now=t0)
    assert len(df) == 24
    assert "OHLCV cache" in capsys.readouterr().err
    md.fetch_ohlcv("BTC/USDT", "1h", 24, now=t0 + timedelta(hours=1))
    assert len(fake.calls) == 2 and fake.calls[-1][4] == 24


def test_default_cache_path_is_under_repo_state(monkeypatch):
    from shared_tools.market import cache

    monkeypatch.delenv("GO_TRADER_OHLCV_CACHE")
    assert cache.cache_path() == REPO / "state" / "ohlcv_cache.db"


def test_venue_error_messages_are_one_line():
    err = md.MarketDataError("okx", "boom\n<html>\n  lots   of\tbody</html>")
    assert str(err) == "okx: boom <html> lots of body</html>" and err.venue == "okx"
    assert isinstance(err, RuntimeError)
    back = pickle.loads(pickle.dumps(err))  # crosses process pools intact
    assert (str(back), back.venue) == (str(err), "okx")
    assert md.MarketDataError("luno: down").venue == "luno"
    assert math.isfinite(md.simulated_funding_rate("ETH/USDT"))


def test_replay_rows_of_the_wrong_width_are_refused(tmp_path):
    rows = [[1_700_000_000_000 + i * 3_600_000, 1.0, 2.0, 0.5, 1.5] for i in range(6)]  # no volume
    (tmp_path / "BTC_USDT-1h.json").write_text(json.dumps(rows))
    with pytest.raises(md.MarketDataError, match="found rows of \\[5\\] values") as info:
        md.fetch_ohlcv("BTC/USDT", "1h", source=f"replay:{tmp_path}")
    assert "BTC_USDT-1h.json" in str(info.value)
    wide = [[*r, 10.0, 99.0] for r in rows]  # extra columns are ignored, not re-chunked
    (tmp_path / "ETH_USDT-1h.json").write_text(json.dumps(wide))
    df = md.fetch_ohlcv("ETH/USDT", "1h", source=f"replay:{tmp_path}")
    assert len(df) == 6 and (df["volume"] == 10.0).all()


def test_exchange_bar_counts_as_closed_only_after_settling(monkeypatch):
    fake = CountingVenue()
    monkeypatch.setattr(ohlcv, "_fetch_from_venue", fake)
    just_closed = datetime(2024, 5, 1, 12, 0, 2, tzinfo=UTC)  # 2 s after the 11:00 bar closed
    df = md.fetch_ohlcv("BTC/USDT", "1h", 10, now=just_closed)
    assert df.index[-1] == pd.Timestamp("2024-05-01T10:00:00Z")
    md.clear_memo()
    df = md.fetch_ohlcv("BTC/USDT", "1h", 10, now=just_closed + timedelta(seconds=10))
    assert df.index[-1] == pd.Timestamp("2024-05-01T11:00:00Z")


def test_concurrent_writers_never_shrink_coverage(tmp_path):
    from shared_tools.market import cache as cache_mod

    db = cache_mod.OhlcvCache(tmp_path / "c.db")
    wide = [fake_bar(t) for t in range(0, 300 * H, H)]
    db.store("binanceus", "BTC/USDT", "1h", wide, (0, 299 * H), H)
    db.store("binanceus", "BTC/USDT", "1h", wide[-5:], (295 * H, 299 * H), H)  # stale writer
    assert db.coverage("binanceus", "BTC/USDT", "1h") == (0, 299 * H)


ROW = st.tuples(
    st.integers(min_value=0, max_value=12),  # bar number (repeats are common: last one wins)
    st.sampled_from(["ok", "ok", "ok", "ok", "nan-close", "none-volume"]),
    st.floats(min_value=1.0, max_value=1e6, allow_nan=False, allow_infinity=False),
)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    rows=st.lists(ROW, max_size=30),
    fmt=st.sampled_from(["json-ms", "json-s", "csv-ms", "csv-s", "csv-iso"]),
    timeframe=st.sampled_from(["1m", "1h", "1d"]),
    at_bar=st.floats(min_value=-1.0, max_value=16.0),
)
def test_replay_price_reader_agrees_with_the_candle_reader(tmp_path, rows, fmt, timeframe, at_bar):
    """check_price reads replay files without pandas; it must pick the candles' last close."""
    folder = Path(tempfile.mkdtemp(dir=tmp_path))  # one folder per example
    step = md.timeframe_seconds(timeframe) * 1000
    table = []
    for bar, kind, close in rows:
        ms = R0 + bar * step
        volume = None if kind == "none-volume" else 5.0
        table.append([ms, close * 0.99, close * 1.01, close * 0.98, close, volume])
        if kind == "nan-close":
            table[-1][4] = None  # a missing close drops the row
    seconds = fmt.endswith("-s")
    if fmt.startswith("json"):
        body = [[r[0] / 1000 if seconds else r[0], *r[1:]] for r in table]
        (folder / f"BTC_USDT-{timeframe}.json").write_text(json.dumps(body))
    else:
        lines = ["timestamp,open,high,low,close,volume"]
        for r in table:
            if fmt == "csv-iso":
                ts = pd.Timestamp(r[0], unit="ms", tz="UTC").isoformat()
            else:
                ts = str(r[0] // 1000 if seconds else r[0])
            lines.append(",".join([ts, *("" if x is None else repr(x) for x in r[1:])]))
        (folder / f"BTC_USDT-{timeframe}.csv").write_text("\n".join(lines) + "\n")
    now = datetime.fromtimestamp((R0 + at_bar * step) / 1000, tz=UTC)
    src = f"replay:{folder}"
    try:
        expected = md.fetch_ohlcv("BTC/USDT", timeframe, 1000, source=src, now=now)["close"]
    except md.MarketDataError:
        expected = None
    prices, missing = md.fetch_prices_partial(["BTC/USDT"], source=src, now=now)
    if expected is None:
        assert prices == {} and "BTC/USDT" in missing
    else:
        assert prices == {"BTC/USDT": pytest.approx(expected.iloc[-1], rel=1e-12)}


@settings(max_examples=80, deadline=None)
@given(symbol=SYMBOLS, minute=st.integers(min_value=24_000_000, max_value=35_000_000))
def test_simulated_scalar_price_tracks_the_candles(symbol, minute):
    """The price path evaluates the model in plain Python (no numpy): same market, to rounding."""
    now = datetime.fromtimestamp(minute * 60, tz=UTC)
    close = md.fetch_ohlcv(symbol, "1m", 1, source="simulated", now=now)["close"].iloc[-1]
    assert md.fetch_prices([symbol], source="simulated", now=now)[symbol] == pytest.approx(
        close, rel=1e-12
    )
