"""TopStep paper on real data: CME candles from Yahoo's chart endpoint, replayed offline.

A local server on 127.0.0.1 answers ``/v8/finance/chart/<ticker>`` from a file in Yahoo's
answer shape (tests/data/yahoo; built offline, with Yahoo's gaps and null bars), so neither the
feed nor the signal check ever reaches the network.
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from hypothesis import given
from hypothesis import strategies as st

from platforms.topstep import market_data as yahoo
from shared_tools.market.common import MarketDataError

ROOT = Path(__file__).resolve().parents[1]
RECORDED = json.loads((ROOT / "tests/data/yahoo/ES=F_60m.json").read_text())
NOW = "2026-11-20T16:30:00Z"  # a Friday inside Globex hours, after the last recorded bar


class _Yahoo(BaseHTTPRequestHandler):
    requests: list[str] = []

    def log_message(self, format: str, *args: object) -> None:
        return

    def do_GET(self) -> None:
        url = urlsplit(self.path)
        q = {k: v[0] for k, v in parse_qs(url.query).items()}
        type(self).requests.append(self.path)
        tick = url.path.rsplit("/", 1)[-1]
        if tick != "ES=F" or q.get("interval") not in ("60m", "1m"):
            body = {"chart": {"result": None, "error": {"code": "Not Found",
                    "description": f"No data found, symbol may be delisted ({tick})"}}}  # fmt: skip
            return self._send(404, body)
        result = RECORDED["chart"]["result"][0]
        if "period1" in q:
            lo, hi = int(q["period1"]), int(q["period2"])
            keep = [i for i, t in enumerate(result["timestamp"]) if lo <= t < hi]
            quote = result["indicators"]["quote"][0]
            result = {
                "meta": result["meta"],
                "timestamp": [result["timestamp"][i] for i in keep],
                "indicators": {"quote": [{k: [quote[k][i] for i in keep] for k in quote}]},
            }
        self._send(200, {"chart": {"result": [result], "error": None}})

    def _send(self, status: int, body: dict) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


@pytest.fixture
def yahoo_url(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Yahoo)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    _Yahoo.requests = []
    url = f"http://127.0.0.1:{server.server_address[1]}"
    monkeypatch.setenv(yahoo.ENV_BASE_URL, url)
    try:
        yield url
    finally:
        server.shutdown()
        server.server_close()


def _ms(text: str) -> int:
    from datetime import datetime

    return int(datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp() * 1000)


def test_hourly_rows_replay_the_recorded_answer(yahoo_url: str) -> None:
    rows = yahoo.fetch_rows("ES", "1h", _ms("2026-11-16T00:00:00Z"), 200)
    result = RECORDED["chart"]["result"][0]
    closes = dict(zip(result["timestamp"], result["indicators"]["quote"][0]["close"], strict=True))
    assert rows and all(closes[int(r[0] // 1000)] == r[4] for r in rows)
    assert all(r[0] >= _ms("2026-11-16T00:00:00Z") for r in rows)
    assert not any(closes[t] is None and t * 1000 in {r[0] for r in rows} for t in closes)
    # 4h bars are built from 60m ones, bucketed on the epoch
    four = yahoo.fetch_rows("ES", "4h", _ms("2026-11-16T00:00:00Z"), 20)
    assert all(r[0] % (4 * 3_600_000) == 0 for r in four)
    first = [r for r in rows if four[0][0] <= r[0] < four[0][0] + 4 * 3_600_000]
    assert four[0][1] == first[0][1] and four[0][4] == first[-1][4]
    assert four[0][2] == max(r[2] for r in first) and four[0][3] == min(r[3] for r in first)


def test_symbols_prices_and_errors(yahoo_url: str) -> None:
    assert yahoo.ticker("mes") == "MES=F" and yahoo.ticker("ES=F") == "ES=F"
    with pytest.raises(MarketDataError, match="no Yahoo Finance series for 'ZZ'"):
        yahoo.ticker("ZZ")
    got, missing = yahoo.prices(["ES", "NQ"])
    assert got == {"ES": RECORDED["chart"]["result"][0]["meta"]["regularMarketPrice"]}
    assert "HTTP 404" in str(missing["NQ"]) and "\n" not in str(missing["NQ"])
    rates, why = yahoo.funding_rates(["ES"])
    assert rates == {} and "no perpetual funding" in str(why["ES"])


def test_remote_plain_http_base_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(yahoo.ENV_BASE_URL, "http://example.com")
    with pytest.raises(MarketDataError, match=yahoo.ENV_BASE_URL):
        yahoo.fetch_rows("ES", "1h", 0, 5)


def test_paper_check_on_real_data_through_the_door_and_its_cache(yahoo_url, tmp_path) -> None:
    from conftest import base_env

    env = base_env(
        tmp_path,
        GO_TRADER_NOW=NOW,
        GO_TRADER_MARKET_DATA="exchange",
        GO_TRADER_YAHOO_BASE_URL=yahoo_url,
    )
    argv = [sys.executable, str(ROOT / "shared_scripts/check_topstep.py"), "sma_crossover", "ES"]
    argv += ["1h", "--mode=paper"]
    first = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=120)
    assert first.returncode == 0, first.stdout + first.stderr
    doc = json.loads(first.stdout)
    result = RECORDED["chart"]["result"][0]
    now_s = _ms(NOW) // 1000
    pairs = zip(result["timestamp"], result["indicators"]["quote"][0]["close"], strict=True)
    last_close = [c for t, c in pairs if c is not None and t + 3600 <= now_s][-1]  # last closed
    assert doc["market_open"] is True and doc["price"] == pytest.approx(last_close)
    assert "error" not in doc and doc["contract_spec"]["multiplier"] == 50.0
    asked = len(_Yahoo.requests)
    again = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=120)
    assert again.returncode == 0 and json.loads(again.stdout)["price"] == doc["price"]
    assert len(_Yahoo.requests) == asked  # the SQLite OHLCV cache served the second run


@given(
    st.lists(
        st.tuples(
            st.integers(0, 500),
            st.floats(1, 1e4),
            st.floats(0, 50),
            st.floats(0, 50),
            st.floats(0, 1e6),
        ),
        min_size=1,
        max_size=60,
        unique_by=lambda t: t[0],
    )
)
def test_aggregate_keeps_extremes_and_volume(bars) -> None:
    rows = [[t * 3_600_000, o, o + up, o - down, o, v] for t, o, up, down, v in bars]
    out = yahoo.aggregate(rows, 4 * 3_600_000)
    assert sum(r[5] for r in out) == pytest.approx(sum(r[5] for r in rows))
    assert max(r[2] for r in out) == max(r[2] for r in rows)
    assert min(r[3] for r in out) == min(r[3] for r in rows)
    assert all(r[0] % (4 * 3_600_000) == 0 for r in out)
    assert [r[0] for r in out] == sorted({r[0] // (4 * 3_600_000) * 4 * 3_600_000 for r in rows})


def test_supervisor_once_on_real_topstep_data(yahoo_url, tmp_path) -> None:
    """A TopStep paper strategy runs ``--once`` on the exchange source (Yahoo, replayed)."""
    from conftest import base_env, free_port, run_cli

    config = json.loads((ROOT / "examples/offline-perps.json").read_text())
    config.update(market_data="exchange", db_file=str(tmp_path / "ts.db"), status_port=free_port())
    config["strategies"] = [s for s in config["strategies"] if s["id"] == "ts-sma-es"]
    path = tmp_path / "config.json"
    path.write_text(json.dumps(config))
    env = base_env(tmp_path, GO_TRADER_NOW=NOW, GO_TRADER_YAHOO_BASE_URL=yahoo_url)
    env.pop("GO_TRADER_MARKET_DATA")  # the config's market_data decides
    proc = run_cli(["--config", str(path), "--once"], env)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "(exchange market)" in proc.stdout and "ts-sma-es" in proc.stdout
    assert "ERROR" not in proc.stdout and _Yahoo.requests  # it read the replayed answers
