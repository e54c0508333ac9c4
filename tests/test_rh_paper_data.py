"""Robinhood paper trading on real prices: the exchange source reads Binance US USD candles
(``platforms/robinhood/market_data.py``), replayed here from recorded answers (no network)."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import pytest
from conftest import base_env

from platforms.robinhood import market_data

ROOT = Path(__file__).resolve().parents[1]
RECORDED = json.loads((ROOT / "tests" / "data" / "rh_binanceus_btcusd_1h.json").read_text())
NOW = "2025-06-03T14:00:30Z"


class _Replay(BaseHTTPRequestHandler):
    asked: list[tuple[str, dict[str, str]]] = []

    def log_message(self, *args: object) -> None:
        pass

    def do_GET(self) -> None:
        url = urlparse(self.path)
        q = {k: v[-1] for k, v in parse_qs(url.query).items()}
        type(self).asked.append((url.path, q))
        status, body = self._answer(url.path, q)
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    @staticmethod
    def _answer(path: str, q: dict[str, str]) -> tuple[int, object]:
        if path == "/api/v3/exchangeInfo":
            return 200, RECORDED["exchangeInfo"]
        if path == "/api/v3/klines":
            rows = RECORDED["klines"].get(f"{q.get('symbol')}:{q.get('interval')}")
            if rows is None:
                return 400, {"code": -1121, "msg": "Invalid symbol."}
            lo, hi = int(q.get("startTime", 0)), int(q.get("endTime", 1 << 62))
            picked = [r for r in rows if lo <= r[0] <= hi]
            return 200, picked[: int(q.get("limit", 500))]
        if path == "/api/v3/ticker/24hr" and q.get("symbol") in RECORDED["ticker24hr"]:
            return 200, RECORDED["ticker24hr"][q["symbol"]]
        return 404, {"code": -1, "msg": f"not recorded: {path}"}


@pytest.fixture
def replay() -> Iterator[str]:
    _Replay.asked = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Replay)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()


def _check(env: dict[str, str], *args: str, script: str = "check_robinhood.py") -> tuple[int, dict]:
    proc = subprocess.run(
        [sys.executable, str(ROOT / "shared_scripts" / script), *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    return proc.returncode, json.loads(proc.stdout) if proc.stdout.strip() else {}


def test_symbols_map_to_binance_us_usd_markets():
    assert market_data.symbols("BTC") == ["BTC/USD", "BTC/USDT"]
    assert market_data.symbols("eth-usd") == ["ETH/USD", "ETH/USDT"]
    assert market_data.symbols("SOL/USD") == ["SOL/USD", "SOL/USDT"]
    feed = market_data.feed()
    assert feed.name == "robinhood" and feed.ccxt_id == "binanceus" and feed.refusal is None


def test_a_paper_check_runs_on_replayed_real_candles_and_caches_them(replay, tmp_path):
    env = base_env(
        tmp_path, GO_TRADER_MARKET_DATA="exchange", GO_TRADER_EXCHANGE_URL=replay, GO_TRADER_NOW=NOW
    )
    code, doc = _check(env, "momentum", "BTC", "1h")
    assert code == 0, doc
    last_close = float(RECORDED["klines"]["BTCUSD:1h"][-1][4])
    assert doc["platform"] == "robinhood" and doc["bar_time"] == "2025-06-03T13:00:00Z"
    assert doc["price"] == pytest.approx(last_close) and doc["signal"] in (-1, 0, 1)
    klines = [q for p, q in _Replay.asked if p == "/api/v3/klines"]
    assert klines and {q["symbol"] for q in klines} == {"BTCUSD"}  # USD, as Robinhood quotes

    live_signal = _check(env, "momentum", "BTC", "1h", "--mode=live")  # read-only, same data
    assert live_signal[0] == 0 and live_signal[1]["price"] == doc["price"]
    asked = len(_Replay.asked)
    again = _check(env, "momentum", "BTC", "1h")  # a new worker: the OHLCV cache answers
    assert (
        again == (0, doc)
        and len([p for p, _ in _Replay.asked[asked:] if p == "/api/v3/klines"]) == 0
    )


def test_an_unlisted_coin_is_a_one_line_error(replay, tmp_path):
    env = base_env(
        tmp_path, GO_TRADER_MARKET_DATA="exchange", GO_TRADER_EXCHANGE_URL=replay, GO_TRADER_NOW=NOW
    )
    code, doc = _check(env, "momentum", "DOGE", "1h")
    assert code == 1 and doc["error"].startswith("robinhood:") and "\n" not in doc["error"]


def test_the_price_check_marks_robinhood_coins_from_the_same_source(replay, tmp_path):
    env = base_env(
        tmp_path, GO_TRADER_MARKET_DATA="exchange", GO_TRADER_EXCHANGE_URL=replay, GO_TRADER_NOW=NOW
    )
    code, doc = _check(env, "BTC", "--platform=robinhood", script="check_price.py")
    assert code == 0 and doc["BTC"] == pytest.approx(108512.37)


def test_robinhood_equities_are_refused_at_once_not_asked_of_the_crypto_source():
    """Options' underlyings (SPY) are equities: the door refuses them with the cause before
    any request, instead of asking Binance US for a SPY/USD it does not list."""
    import platforms  # noqa: F401  (registers the feeds)
    from platforms.options_chains import chain_for
    from shared_tools.options_chain import OptionsChainError

    with pytest.raises(OptionsChainError, match="robinhood-equities: no public market data"):
        chain_for("robinhood", source="exchange").spot("SPY")
