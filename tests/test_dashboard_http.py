"""The dashboard's HTTP side without a daemon: the token file, the POST guard (stricter than
upstream: token, JSON, a same-origin Origin that must be present), the page and its files
without a token, draining, the read API's query caps, the candle cache and /metrics' format."""

from __future__ import annotations

import http.client
import json
import os
import re
import socket
import stat
import time

import pytest
from hypothesis import given
from hypothesis import strategies as st

from supervisor.http import api, assets, candles, metrics, token
from supervisor.http.server import StatusServer
from supervisor.http.wire import MAX_BODY_BYTES, same_origin
from supervisor.run.jobs import Result

TOKEN = "t0ken"
WAIT_S = 10


@pytest.fixture
def srv():
    state = {"draining": False, "api_calls": []}

    def api_view(path: str, query: dict) -> tuple[int, dict]:
        state["api_calls"].append((path, query))
        return 200, {"path": path, "query": query}

    server = StatusServer(
        status=lambda: {"ok": True},
        health=lambda: (200, {"status": "ok"}),
        history=lambda q: {},
        api=api_view,
        page=lambda: b"<!doctype html><p>page</p>",
        metrics=lambda: "go_trader_x 1.0\n",
        draining=lambda: state["draining"],
        token=TOKEN,
    )
    assert server.start(0)
    server.state = state  # type: ignore[attr-defined]
    yield server
    server.stop()


def request(
    port: int, method: str, path: str, headers: dict | None = None, body: bytes | None = None
) -> tuple[int, bytes, dict]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=WAIT_S)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        resp = conn.getresponse()
        return resp.status, resp.read(), {k.lower(): v for k, v in resp.getheaders()}
    finally:
        conn.close()


AUTH = {"Authorization": f"Bearer {TOKEN}"}


# -- the token ---------------------------------------------------------------------------------
def test_token_is_made_once_0600_and_kept(tmp_path):
    path = token.token_path(tmp_path / "state" / "state.db")
    first, made = token.load_or_create(path)
    assert made and re.fullmatch(r"[0-9a-f]{64}", first)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    again, made_again = token.load_or_create(path)
    assert (again, made_again) == (first, False)


def test_env_token_wins_and_writes_no_file(tmp_path):
    got, where = token.resolve(tmp_path / "state.db", {"STATUS_AUTH_TOKEN": "from-env"})
    assert (got, where) == ("from-env", "STATUS_AUTH_TOKEN")
    assert not (tmp_path / "status_token").exists()
    got, where = token.resolve(tmp_path / "state.db", {})
    assert where == f"new:{tmp_path / 'status_token'}" and got == token.read_token(
        tmp_path / "status_token"
    )


# -- what needs the token, and what does not ------------------------------------------------------
@pytest.mark.parametrize(
    "path", ["/status", "/history", "/metrics", "/api/strategies", "/api/strategies/a/candles"]
)
def test_every_data_route_needs_the_token(srv, path):
    assert request(srv.port, "GET", path)[0] == 401
    assert request(srv.port, "GET", path, {"Authorization": "Bearer nope"})[0] == 401
    assert request(srv.port, "GET", path, AUTH)[0] == 200


def test_health_page_and_static_files_need_no_token(srv):
    assert request(srv.port, "GET", "/health")[0] == 200
    code, body, headers = request(srv.port, "GET", "/dashboard")
    assert code == 200 and body.startswith(b"<!doctype html>")
    assert headers["content-type"].startswith("text/html")
    assert "script-src 'self'" in headers["content-security-policy"]
    assert headers["referrer-policy"] == "no-referrer"  # ?token= never leaks in a Referer
    for name, ctype in [
        ("app.js", "text/javascript"),
        ("style.css", "text/css"),
        ("vendor/lightweight-charts.standalone.production.js", "text/javascript"),
        ("vendor/lightweight-charts.LICENSE.txt", "text/plain"),
    ]:
        code, body, headers = request(srv.port, "GET", f"/dashboard/{name}")
        assert code == 200 and body and headers["content-type"].startswith(ctype), name


@pytest.mark.parametrize(
    "path", ["/dashboard/../routes.py", "/dashboard/nope.js", "/dashboard/%2e%2e/token.py"]
)
def test_only_packaged_static_files_are_served(srv, path):
    assert request(srv.port, "GET", path)[0] == 404


def test_the_vendored_chart_library_is_pinned_with_its_licence():
    lib = assets.read("vendor/lightweight-charts.standalone.production.js")
    licence = assets.read("vendor/lightweight-charts.LICENSE.txt")
    assert lib is not None and b"Lightweight Charts" in lib[0] and b"v4.2.3" in lib[0][:300]
    assert licence is not None and b"Apache License" in licence[0]


def test_draining_answers_503_for_api_and_dashboard_only(srv):
    srv.state["draining"] = True
    for path in ("/api/strategies", "/dashboard", "/dashboard/app.js"):
        code, body, _ = request(srv.port, "GET", path, AUTH)
        assert (code, json.loads(body)) == (503, {"status": "draining"}), path
    assert request(srv.port, "GET", "/health")[0] == 200
    assert request(srv.port, "GET", "/status", AUTH)[0] == 200


def test_api_gets_the_path_and_query(srv):
    code, body, _ = request(srv.port, "GET", "/api/strategies/a%20b/trades?limit=5&from=1", AUTH)
    assert code == 200
    assert json.loads(body) == {
        "path": "/api/strategies/a%20b/trades",
        "query": {"limit": "5", "from": "1"},
    }


def test_metrics_is_prometheus_text(srv):
    code, body, headers = request(srv.port, "GET", "/metrics", AUTH)
    assert code == 200 and body == b"go_trader_x 1.0\n"
    assert headers["content-type"].startswith("text/plain; version=0.0.4")


# -- the POST guard ----------------------------------------------------------------------------
JSON = {"Content-Type": "application/json"}
ORIGIN_OK = "http://127.0.0.1:{port}"


def post(srv, headers: dict, body: bytes = b"{}", path="/api/strategies/a/pause") -> int:
    hdrs = {"Host": f"127.0.0.1:{srv.port}", **headers}
    return request(srv.port, "POST", path, hdrs, body)[0]


def test_post_guard_order_token_then_json_then_origin(srv):
    origin = {"Origin": ORIGIN_OK.format(port=srv.port)}
    assert post(srv, {**JSON, **origin}) == 401  # no token
    assert post(srv, {**AUTH, **origin, "Content-Type": "text/plain"}) == 415
    assert post(srv, {**AUTH, **JSON}) == 403  # no Origin at all: refused (upstream lets it by)
    assert post(srv, {**AUTH, **JSON, "Origin": "http://evil.example"}) == 403
    assert post(srv, {**AUTH, **JSON, "Origin": "null"}) == 403
    assert post(srv, {**AUTH, **JSON, "Origin": f"https://127.0.0.1:{srv.port}"}) == 403
    # passes the guard; this server has no actions wired
    assert post(srv, {**AUTH, **JSON, **origin}) == 404
    assert srv.state["api_calls"] == []


def test_post_to_read_routes_is_405_and_big_bodies_413(srv):
    assert request(srv.port, "POST", "/status", AUTH, b"{}")[0] == 405
    assert request(srv.port, "PUT", "/api/strategies", AUTH)[0] == 405
    big = b"x" * (MAX_BODY_BYTES + 1)
    assert request(srv.port, "POST", "/api/x", {**AUTH, **JSON}, big)[0] == 413


def test_a_post_body_sent_in_pieces_is_waited_for(srv):
    body = b'{"paused": true}'
    head = (
        f"POST /api/strategies/a/pause HTTP/1.1\r\nHost: 127.0.0.1:{srv.port}\r\n"
        f"Authorization: Bearer {TOKEN}\r\nContent-Type: application/json\r\n"
        f"Origin: http://127.0.0.1:{srv.port}\r\nContent-Length: {len(body)}\r\n\r\n"
    ).encode()
    with socket.create_connection(("127.0.0.1", srv.port), timeout=WAIT_S) as s:
        s.sendall(head + body[:5])
        time.sleep(0.2)
        s.sendall(body[5:])
        assert s.recv(100).startswith(b"HTTP/1.1 404")


@pytest.mark.parametrize(
    ("origin", "host", "ok"),
    [
        ("http://127.0.0.1:8099", "127.0.0.1:8099", True),
        ("http://localhost:8099", "localhost:8099", True),
        ("http://LOCALHOST:8099", "localhost:8099", True),
        (None, "127.0.0.1:8099", False),
        ("http://127.0.0.1:8100", "127.0.0.1:8099", False),
        ("http://evil.example:8099", "evil.example:8099", False),  # rebinding: Host refused
        ("http://127.0.0.1:8099.evil", "127.0.0.1:8099", False),
    ],
)
def test_same_origin(origin, host, ok):
    assert same_origin(origin, host) is ok


# -- query caps (reference A.3) ----------------------------------------------------------------
@pytest.mark.parametrize(
    ("raw", "want"),
    [(None, 300), ("", 300), ("0", 300), ("-5", 300), ("x", 300), ("50", 50), ("1000", 1000)],
)
def test_candle_limit_defaults_and_bad_values(raw, want):
    query = {} if raw is None else {"limit": raw}
    assert api.parse_limit(query, api.CANDLES_DEFAULT, api.CANDLES_MAX) == want


@given(st.integers(min_value=1, max_value=10**12))
def test_limits_over_the_cap_are_clamped(n):
    q = {"limit": str(n)}
    assert api.parse_limit(q, api.CANDLES_DEFAULT, api.CANDLES_MAX) == min(n, 1000)
    assert api.parse_limit(q, api.EQUITY_DEFAULT, api.EQUITY_MAX) == min(n, 500)


def test_from_to_take_unix_seconds_or_rfc3339_and_ignore_the_rest():
    assert api.parse_time("1700000000") == 1700000000
    assert api.parse_time("2023-11-14T22:13:20Z") == 1700000000
    assert api.parse_time("2023-11-14T22:13:20") == 1700000000  # naive means UTC
    for bad in ("", "yesterday", "nan", "inf", "-1", "1e300"):
        assert api.parse_time(bad) is None, bad


# -- the candle cache (30 s, bounded, soonest-expiring evicted) ---------------------------------
def test_candle_cache_expires_and_stays_bounded():
    now = [0.0]
    cache = candles.CandleCache(ttl_s=30, max_entries=3, clock=lambda: now[0])
    cache.set("a", {"n": 1})
    assert cache.get("a") == {"n": 1}
    now[0] = 29.9
    assert cache.get("a") == {"n": 1}
    now[0] = 30.0
    assert cache.get("a") is None
    for i, key in enumerate("bcde"):
        now[0] = 40.0 + i
        cache.set(key, {"k": key})
    assert len(cache) == 3 and cache.get("b") is None  # "b" expired soonest: evicted
    now[0] = 100.0
    cache.set("f", {})
    assert len(cache) == 1  # the expired were swept on set
    now[0] = 200.0
    cache.sweep()  # the idle server's sweep (Board.idle): nothing expired is kept
    assert len(cache) == 0


def test_fetch_job_argv_and_results():
    job = candles.fetch_job("binanceus", "BTC/USDT", "1h", 300, 1.0, 2.5)
    assert job.script == "shared_scripts/fetch_candles.py"
    assert job.args == (
        "--platform=binanceus",
        "--symbol=BTC/USDT",
        "--timeframe=1h",
        "--limit=300",
        "--from=1",
        "--to=2",
    )
    ok = Result("candles", {"source": "simulated", "candles": [{"time": 1}]}, None, 0, "", 0.1)
    assert candles.candles_of(ok) == ("simulated", [{"time": 1}])
    empty = Result("candles", {"source": "simulated", "candles": []}, None, 0, "", 0.1)
    failed = Result("candles", None, "boom", 1, "", 0.1)
    assert candles.candles_of(empty) is None and candles.candles_of(failed) is None


# -- markers and the trades fallback -----------------------------------------------------------
def _row(ts: str, side: str, is_close: bool, price: float = 100.0, **kw) -> dict:
    row = {
        "timestamp": ts,
        "side": side,
        "is_close": is_close,
        "price": price,
        "quantity": 1.0,
        "realized_pnl": 5.0,
        "fee": 1.0,
        "pnl_gross": True,
        "details": "",
    }
    row.update(kw)
    return row


def test_markers_are_oldest_first_with_upstreams_styles_and_no_funding():
    newest_first = [
        _row("2025-01-01T03:00:00.000000Z", "sell", True),
        _row("2025-01-01T02:30:00.000000Z", "funding", False),
        _row("2025-01-01T02:00:00.000000Z", "sell", False),
        _row("2025-01-01T01:00:00.000000Z", "buy", False, details="Open long"),
    ]
    doc = api.markers_doc("a", newest_first, total=4)
    assert [m["text"] for m in doc["markers"]] == ["BUY", "SELL", "CLOSE"]
    buy, sell, close = doc["markers"]
    assert (buy["position"], buy["color"], buy["shape"]) == ("belowBar", "#059669", "arrowUp")
    assert (sell["position"], sell["color"], sell["shape"]) == ("aboveBar", "#dc2626", "arrowDown")
    assert (close["position"], close["color"], close["shape"]) == ("aboveBar", "#2563eb", "circle")
    assert close["realized_pnl"] == 4.0 and "realized_pnl" not in buy  # net of the fee
    assert buy["details"] == "Open long" and buy["time"] == 1735693200
    assert doc["trades"] == doc["markers"] and doc["trades"] is not doc["markers"]
    assert doc["total"] == 4


def test_candles_from_trades_bucket_by_timeframe():
    rows = [
        _row("2025-01-01T01:10:00.000000Z", "buy", False, 10.0),
        _row("2025-01-01T01:50:00.000000Z", "sell", True, 12.0),
        _row("2025-01-01T01:20:00.000000Z", "buy", False, 8.0),
        _row("2025-01-01T02:05:00.000000Z", "buy", False, 11.0),
    ]
    bars = api.candles_from_trades(rows, "1h", 300)
    assert bars == [
        {"time": 1735693200, "open": 10.0, "high": 12.0, "low": 8.0, "close": 12.0},
        {"time": 1735696800, "open": 11.0, "high": 11.0, "low": 11.0, "close": 11.0},
    ]
    assert api.candles_from_trades(rows, "1h", 1) == bars[-1:]


def test_trade_sharpe_and_win_rate():
    assert api.win_rate(0, 0) is None and api.win_rate(3, 1) == 75.0

    def stats(nets: list[float]) -> api.CloseStats:
        wins, losses = sum(n > 0 for n in nets), sum(n < 0 for n in nets)
        return (wins, losses, len(nets), sum(nets), sum(n * n for n in nets))

    assert api.trade_sharpe(stats([1.0, 2.0])) is None  # under 3 closes
    assert api.trade_sharpe(stats([1.0, 1.0, 1.0])) is None  # no spread
    assert api.trade_sharpe(stats([1.0, -1.0, 3.0])) == pytest.approx(1.0 / 1.632993, rel=1e-5)


# -- /metrics text ------------------------------------------------------------------------------
def test_metrics_render_names_types_and_escaped_labels():
    run = metrics.RunMetrics()
    run.cycle_done(1.5)

    class J:
        def __init__(self, key: str, script: str) -> None:
            self.key, self.script = key, script

    ok = Result("a", {}, None, 0, "", 0.1)
    bad = Result("b", None, "boom", 1, "", 0.1)
    run.jobs_done(
        [J("a", "shared_scripts/check_strategy.py"), J("b", "x/check_price.py")],
        {
            "a": ok,
            "b": bad,
        },
    )
    view = {"portfolio_value": 1010.0, "risk_state": {"current_drawdown_pct": 2.0}, "positions": {}}
    text = metrics.render(
        cycles=7,
        run=run,
        strategies={'we"ird\\id': view},
        outbox_depth=3,
        kill_switch=True,
        portfolio_drawdown_pct=4.5,
        rss_bytes=1e7,
    )
    lines = text.splitlines()
    assert "go_trader_cycles_total 7.0" in lines
    assert "go_trader_cycle_duration_seconds 1.5" in lines
    assert 'go_trader_worker_failures_total{script="check_price.py"} 1.0' in lines
    assert 'go_trader_strategy_equity{strategy="we\\"ird\\\\id"} 1010.0' in lines
    assert "go_trader_kill_switch 1.0" in lines and "go_trader_outbox_depth 3.0" in lines
    sample = re.compile(r'^go_trader_[a-z_]+(\{[a-z]+="(?:[^"\\]|\\.)*"\})? [-+0-9.eE]+$')
    for line in lines:
        assert line.startswith("# HELP ") or line.startswith("# TYPE ") or sample.match(line), line
