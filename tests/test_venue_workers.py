"""The venue signal checks (Hyperliquid, OKX, TopStep, Robinhood, Luno) and the venue prices,
seen from outside the process as the supervisor sees them: simulated market, pinned clock, and
for Hyperliquid's exchange mode a fake ``POST /info`` server on loopback."""

from __future__ import annotations

import json
import math
import subprocess
import sys
import threading
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest
from conftest import REPO, base_env, free_port

import platforms  # noqa: F401  (registers the venues with the door, as the workers do)
from shared_tools.check_argv import CheckArgvError, parse_check_args

SCRIPTS = REPO / "shared_scripts"
HL = str(SCRIPTS / "check_hyperliquid.py")
OKX = str(SCRIPTS / "check_okx.py")
TOPSTEP = str(SCRIPTS / "check_topstep.py")
ROBINHOOD = str(SCRIPTS / "check_robinhood.py")
LUNO = str(SCRIPTS / "check_luno.py")
PRICE = str(SCRIPTS / "check_price.py")
VENUE_SCRIPTS = {
    HL: "hyperliquid",
    OKX: "okx",
    TOPSTEP: "topstep",
    ROBINHOOD: "robinhood",
    LUNO: "luno",
}

WEEKDAY = "2025-06-03T15:00:00Z"  # Tuesday 10:00 in Chicago: CME Globex is open
SATURDAY = "2026-11-21T15:00:00Z"
BASE_KEYS = {
    "strategy",
    "symbol",
    "timeframe",
    "signal",
    "price",
    "indicators",
    "regime",
    "mode",
    "platform",
    "bar_time",
    "timestamp",
}
COMPOSED_KEYS = {
    "open_strategy",
    "close_strategies",
    "open_action",
    "close_fraction",
    "close_strategy",
}
CLOSE_REFS = '{"open": {"name": "momentum"}, "closes": [{"name": "tiered_tp_atr"}]}'


def _run(script: str, args: list[str], env: dict, stdin: str | None = None, timeout: float = 60):
    return subprocess.run(
        [sys.executable, script, *args],
        cwd=REPO,
        env=env,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def _doc(script: str, args: list[str], env: dict, code: int = 0) -> dict:
    proc = _run(script, args, env)
    assert proc.returncode == code, proc.stdout + proc.stderr
    assert proc.stdout.count("\n") == 1  # exactly one document
    return json.loads(proc.stdout)


@pytest.fixture
def sim_env(tmp_path):
    return base_env(tmp_path, GO_TRADER_NOW=WEEKDAY, GO_TRADER_SIM_SEED="7")


def _last_closed_bar(timeframe: str) -> str:
    from shared_tools.market.common import last_closed_open, timeframe_seconds

    now = datetime.fromisoformat(WEEKDAY.replace("Z", "+00:00")).timestamp()
    opened = last_closed_open(now, timeframe_seconds(timeframe))
    return datetime.fromtimestamp(opened, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _assert_contract(doc: dict, script: str, args: list[str]) -> None:
    extra = {"contract_spec", "market_open"} if script == TOPSTEP else set()
    assert set(doc) - COMPOSED_KEYS == BASE_KEYS | extra
    assert (doc["strategy"], doc["symbol"], doc["timeframe"]) == tuple(args[:3])
    assert doc["platform"] == VENUE_SCRIPTS[script] and doc["mode"] == "paper"
    assert doc["signal"] in (-1, 0, 1) and doc["price"] > 0
    assert doc["indicators"]["atr"] > 0
    assert all(isinstance(v, float) and math.isfinite(v) for v in doc["indicators"].values())
    assert doc["timestamp"] == WEEKDAY and doc["bar_time"] == _last_closed_bar(args[2])
    assert "error" not in doc


CASES = [
    (HL, ["momentum", "BTC", "1h"]),
    (HL, ["funding_skew", "ETH", "1h"]),
    (HL, ["supertrend", "SOL", "4h"]),
    (OKX, ["sma_crossover", "BTC", "1h"]),
    (OKX, ["rsi", "BTC/USDT", "1h", "--inst-type=spot"]),
    (OKX, ["delta_neutral_funding", "ETH", "1h", "--inst-type=swap"]),
    (TOPSTEP, ["momentum", "ES", "1h"]),
    (TOPSTEP, ["macd", "MNQ", "15m"]),
    (ROBINHOOD, ["ema_crossover", "BTC", "4h"]),
    (ROBINHOOD, ["bollinger_bands", "ETH", "1h"]),
    (LUNO, ["macd", "XBT/ZAR", "1h"]),
    (LUNO, ["momentum", "ETH/ZAR", "1h"]),
]


@pytest.mark.parametrize(("script", "args"), CASES, ids=lambda v: str(v).rsplit("/", 1)[-1])
def test_each_venue_script_answers_the_contract(script, args, sim_env):
    _assert_contract(_doc(script, args, sim_env), script, args)


@pytest.mark.parametrize("script", list(VENUE_SCRIPTS))
def test_composed_with_a_close_strategy_and_a_position(script, sim_env):
    symbol = {TOPSTEP: "ES", LUNO: "XBT/ZAR"}.get(script, "BTC")
    base = ["momentum", symbol, "1h"]
    price = _doc(script, base, sim_env)["price"]
    position = ["--position-side=long", "--position-qty=1", "--position-initial-qty=1"]
    position += [f"--position-entry-atr={price * 0.004}", f"--position-avg-cost={price * 0.99}"]
    doc = _doc(script, [*base, "--strategy-refs", CLOSE_REFS, *position], sim_env)
    _assert_contract(doc, script, base)
    assert set(doc) >= COMPOSED_KEYS
    assert doc["open_strategy"] == "momentum" and doc["close_strategies"] == ["tiered_tp_atr"]
    assert 0.0 <= doc["close_fraction"] <= 1.0


def test_regime_and_htf_flags_on_a_venue_script(sim_env):
    doc = _doc(HL, ["momentum", "BTC", "1h", "--regime-enabled", "--htf-filter"], sim_env)
    assert doc["regime"] in ("trending_up", "trending_down", "ranging")
    assert doc["indicators"]["htf_trend"] in (-1, 0, 1)
    wilder = _doc(HL, ["momentum", "BTC", "1h", "--atr-method=wilder"], sim_env)
    assert wilder["indicators"]["atr"] > 0


# ---------------------------------------------------------------------- contract rules


class _Recorder(BaseHTTPRequestHandler):
    hits: list[str] = []

    def _refuse(self):
        _Recorder.hits.append(self.path)
        self.send_response(500)
        self.end_headers()

    do_GET = do_POST = _refuse

    def log_message(self, *a):
        pass


def _serve(handler) -> tuple[HTTPServer, str]:
    port = free_port()
    server = HTTPServer(("127.0.0.1", port), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{port}"


def _stop(server: HTTPServer) -> None:
    server.shutdown()
    server.server_close()


def test_probe_only_touches_no_network(tmp_path):
    server, url = _serve(_Recorder)
    try:
        env = base_env(tmp_path, GO_TRADER_MARKET_DATA="exchange", GO_TRADER_EXCHANGE_URL=url)
        probes = [
            (HL, ["momentum", "BTC", "1h", "--mark-price=100"]),
            (HL, ["--fetch-atr", "--symbol=BTC", "--timeframe=1h", "--period=14"]),
            (OKX, ["funding_skew", "BTC", "1h", "--inst-type=swap"]),
            (OKX, ["momentum", "BTC", "1h", "--inst-type=spot"]),
            (TOPSTEP, ["momentum", "ES", "1h"]),
            (ROBINHOOD, ["momentum", "BTC", "1h"]),
            (LUNO, ["momentum", "XBT/ZAR", "1h", "--platform=luno"]),
            (PRICE, ["BTC", "ETH", "--platform=hyperliquid", "--funding"]),
            (PRICE, ["BTC", "--platform=okx-swap"]),
        ]
        for script, args in probes:
            proc = _run(script, [*args, "--probe-only"], env)
            assert proc.returncode == 0, (args, proc.stderr)
            assert proc.stdout == ""
        assert _Recorder.hits == []
    finally:
        _stop(server)


@pytest.mark.parametrize(
    ("script", "args"),
    [
        (HL, ["nope", "BTC", "1h"]),
        (OKX, ["funding_skew", "BTC", "1h", "--inst-type=spot"]),  # a perps-only strategy
        (TOPSTEP, ["momentum", "ZN", "1h"]),
        (HL, ["--fetch-atr", "--symbol=BTC"]),  # no --timeframe
    ],
)
def test_probe_refuses_what_the_check_would_refuse(script, args, sim_env):
    proc = _run(script, [*args, "--probe-only"], sim_env)
    assert proc.returncode == 2 and proc.stdout == "" and "error:" in proc.stderr


@pytest.mark.parametrize("script", list(VENUE_SCRIPTS))
def test_batch_answers_one_result_per_job_in_order(script, sim_env):
    symbol = {TOPSTEP: "NQ", LUNO: "XBT/ZAR"}.get(script, "ETH")
    jobs = [
        {"args": ["momentum", symbol, "1h"]},
        {"args": ["nope", symbol, "1h"]},
        {"args": ["rsi", symbol, "4h", "--mode=live"]},
        {"args": ["momentum", symbol, "1h", "--platform=binanceus"]},
        {"args": ["ema_crossover", symbol, "1h"]},
    ]
    proc = _run(script, ["--batch"], sim_env, stdin=json.dumps(jobs))
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert len(out) == len(jobs)
    assert out[0]["strategy"] == "momentum" and "error" not in out[0]
    assert "unknown strategy 'nope'" in out[1]["error"]
    if script in (HL, TOPSTEP, ROBINHOOD):  # live signal checks are read-only: the same evaluation
        assert out[2]["strategy"] == "rsi" and "error" not in out[2]
    else:
        assert "live trading is not supported" in out[2]["error"]
    assert "--platform=binanceus" in out[3]["error"]
    assert out[4]["strategy"] == "ema_crossover" and out[4]["platform"] == VENUE_SCRIPTS[script]
    probe = _run(script, ["--batch", "--probe-only"], sim_env, stdin=json.dumps(jobs))
    verdicts = json.loads(probe.stdout)
    live_ok = script in (HL, TOPSTEP, ROBINHOOD)
    assert [("error" in v) for v in verdicts] == [False, True, not live_ok, True, False]


@pytest.mark.parametrize("script", list(VENUE_SCRIPTS))
def test_platform_must_be_the_scripts_own_venue(script, sim_env):
    venue = VENUE_SCRIPTS[script]
    symbol = {TOPSTEP: "ES", LUNO: "XBT/ZAR"}.get(script, "BTC")
    proc = _run(script, ["momentum", symbol, "1h", "--platform=binanceus"], sim_env)
    assert proc.returncode == 2 and proc.stdout == ""
    assert "binanceus" in proc.stderr and venue in proc.stderr
    ok = _doc(script, ["momentum", symbol, "1h", f"--platform={venue}"], sim_env)
    assert ok["platform"] == venue


@pytest.mark.parametrize("script", [s for s in VENUE_SCRIPTS if s not in (HL, TOPSTEP, ROBINHOOD)])
def test_live_mode_is_refused_with_one_line(script, sim_env):
    symbol = {TOPSTEP: "ES"}.get(script, "BTC")
    doc = _doc(script, ["momentum", symbol, "1h", "--mode=live"], sim_env, code=1)
    assert set(doc) == {"error"}
    assert "live trading is not supported by this build yet" in doc["error"]
    assert "\n" not in doc["error"]


def test_topstep_live_signal_check_is_the_paper_evaluation(sim_env):
    paper = _doc(TOPSTEP, ["momentum", "ES", "1h"], sim_env)
    live = _doc(TOPSTEP, ["momentum", "ES", "1h", "--mode=live"], sim_env)
    assert live["signal"] == paper["signal"] and live["mode"] == "live"


def test_hyperliquid_live_signal_check_is_the_paper_evaluation(sim_env):
    paper = _doc(HL, ["momentum", "BTC", "1h"], sim_env)
    live = _doc(HL, ["momentum", "BTC", "1h", "--mode=live"], sim_env)
    assert live["signal"] == paper["signal"] and live["price"] == paper["price"]


def test_mark_price_overrides_only_hyperliquids_price(sim_env):
    base = _doc(HL, ["momentum", "BTC", "1h"], sim_env)
    marked = _doc(HL, ["momentum", "BTC", "1h", "--mark-price=12345.5"], sim_env)
    assert marked["price"] == 12345.5 and base["price"] != 12345.5
    assert {k: v for k, v in marked.items() if k != "price"} == {
        k: v for k, v in base.items() if k != "price"
    }
    okx = _doc(OKX, ["momentum", "BTC", "1h"], sim_env)
    okx_marked = _doc(OKX, ["momentum", "BTC", "1h", "--mark-price=12345.5"], sim_env)
    assert okx_marked["price"] == okx["price"] != 12345.5  # accepted, ignored


# ------------------------------------------------------------------------------ TopStep


def test_topstep_holds_outside_cme_hours_without_candles(tmp_path):
    env = base_env(tmp_path, GO_TRADER_NOW=SATURDAY)
    doc = _doc(TOPSTEP, ["momentum", "ES", "1h"], env)
    assert doc["signal"] == 0 and doc["market_open"] is False and "error" not in doc
    assert doc["contract_spec"] == {
        "tick_size": 0.25,
        "tick_value": 12.5,
        "multiplier": 50.0,
        "margin": 15400.0,
    }
    # no candles are read: even a venue without data (exchange mode) answers the closed hold
    exchange = base_env(tmp_path, GO_TRADER_NOW=SATURDAY, GO_TRADER_MARKET_DATA="exchange")
    assert _doc(TOPSTEP, ["momentum", "ES", "1h"], exchange)["market_open"] is False


def test_topstep_inside_hours_reports_the_contract_spec(sim_env):
    doc = _doc(TOPSTEP, ["momentum", "MES", "1h"], sim_env)
    assert doc["market_open"] is True
    assert doc["contract_spec"]["multiplier"] == 5.0 and doc["contract_spec"]["tick_size"] == 0.25
    assert 4_000 <= doc["price"] <= 6_500  # micro ES tracks ES


@pytest.mark.parametrize(
    ("when", "is_open"),
    [
        ("2026-11-20T21:59:00Z", True),  # Friday 15:59 Chicago
        ("2026-11-20T22:00:00Z", False),  # Friday 16:00: the weekend starts
        ("2026-11-22T22:59:00Z", False),  # Sunday 16:59
        ("2026-11-22T23:00:00Z", True),  # Sunday 17:00: the week opens
        ("2026-11-24T22:30:00Z", False),  # Tuesday 16:30: the daily halt
        ("2026-11-24T23:00:00Z", True),  # Tuesday 17:00
        ("2026-07-15T21:30:00Z", False),  # Wednesday 16:30 CDT (summer time)
        ("2026-07-15T20:30:00Z", True),  # Wednesday 15:30 CDT
    ],
)
def test_cme_globex_hours(when, is_open):
    from platforms.cme import cme_globex_open

    at = datetime.fromisoformat(when.replace("Z", "+00:00"))
    assert cme_globex_open(at) is is_open


def test_topstep_unknown_root_is_a_clear_error(sim_env):
    doc = _doc(TOPSTEP, ["momentum", "ZB", "1h"], sim_env, code=1)
    assert "unknown CME root 'ZB'" in doc["error"]
    assert all(root in doc["error"] for root in ("ES", "NQ", "MES", "MNQ", "CL", "GC"))


# --------------------------------------------------------------------------- Hyperliquid


def test_fetch_atr_matches_wilder_atr_on_the_same_candles(sim_env, monkeypatch):
    args = ["--fetch-atr", "--symbol=BTC", "--timeframe=1h", "--period=14", "--atr-method=wilder"]
    doc = _doc(HL, args, sim_env)
    assert set(doc) == {"atr", "candles"} and doc["atr"] > 0 and doc["candles"] == 300

    from shared_tools import indicators, market

    monkeypatch.setenv("GO_TRADER_MARKET_DATA", "simulated")
    monkeypatch.setenv("GO_TRADER_SIM_SEED", "7")
    now = datetime.fromisoformat(WEEKDAY.replace("Z", "+00:00"))
    df = market.fetch_ohlcv("BTC", "1h", 300, venue="hyperliquid", now=now)
    expected = float(indicators.atr(df, 14, "wilder").iloc[-1])
    assert doc["atr"] == pytest.approx(expected, rel=1e-9)
    simple = _doc(HL, [*args[:-1], "--atr-method=simple"], sim_env)
    assert simple["atr"] != doc["atr"]


@pytest.mark.parametrize(
    "args",
    [
        ["--fetch-atr", "--symbol=BTC", "--timeframe=7h"],
        ["--fetch-atr", "--timeframe=1h"],
    ],
)
def test_fetch_atr_always_exits_0(args, sim_env):
    doc = _doc(HL, args, sim_env, code=0)
    assert set(doc) == {"error"} and "\n" not in doc["error"]


def test_fetch_atr_bad_coin_in_exchange_mode_exits_0(tmp_path):
    server, url = _serve(_FakeHyperliquid)
    try:
        env = base_env(tmp_path, GO_TRADER_MARKET_DATA="exchange", GO_TRADER_EXCHANGE_URL=url)
        doc = _doc(HL, ["--fetch-atr", "--symbol=NOPE", "--timeframe=1h"], env, code=0)
        assert "unknown coin 'NOPE'" in doc["error"] and doc["error"].startswith("hyperliquid")
        ok = _doc(HL, ["--fetch-atr", "--symbol=BTC", "--timeframe=1h", "--period=14"], env)
        assert ok["atr"] > 0 and ok["candles"] == 300
    finally:
        _stop(server)


def test_signal_flags_and_fetch_atr_flags_do_not_mix(sim_env):
    for args in (
        ["momentum", "BTC", "1h", "--symbol=ETH"],
        ["--fetch-atr", "momentum", "--symbol=BTC", "--timeframe=1h"],
    ):
        proc = _run(HL, args, sim_env)
        assert proc.returncode == 2 and proc.stdout == ""


def test_funding_column_reaches_the_funding_strategies(monkeypatch):
    sys.path.insert(0, str(REPO))
    from shared_scripts import signal_check
    from shared_strategies.open import registry
    from shared_tools import market

    monkeypatch.setenv("GO_TRADER_MARKET_DATA", "simulated")
    monkeypatch.setenv("GO_TRADER_SIM_SEED", "7")
    now = datetime(2025, 6, 3, 15, tzinfo=UTC)
    df = market.fetch_ohlcv("BTC", "1h", 3000, venue="hyperliquid", now=now)
    framed = signal_check.with_funding(df, "BTC", "hyperliquid", 3600)
    rate = framed["funding_rate"]
    assert rate.notna().all() and rate.abs().max() <= 5e-4 and rate.nunique() > 100
    bar = framed.index[-1]
    assert rate.iloc[-1] == market.simulated_funding_rate("BTC", bar.to_pydatetime())
    assert (registry.signals("funding_skew", framed, None, "perps") != 0).any()
    assert (registry.signals("funding_skew", df, None, "perps") == 0).all()  # no column: holds
    assert signal_check.reads_funding(registry.get("funding_skew", "perps"))
    assert not signal_check.reads_funding(registry.get("momentum", "perps"))


def test_funding_history_unavailable_fails_soft(monkeypatch, capsys, tmp_path):
    sys.path.insert(0, str(REPO))
    from shared_scripts import signal_check
    from shared_tools import market

    monkeypatch.setenv("GO_TRADER_MARKET_DATA", "simulated")
    df = market.fetch_ohlcv("BTC", "1h", 50, now=datetime(2025, 6, 3, 15, tzinfo=UTC))
    monkeypatch.setenv("GO_TRADER_MARKET_DATA", f"replay:{tmp_path}")  # files carry no funding
    out = signal_check.with_funding(df, "BTC", "hyperliquid", 3600)
    assert "funding_rate" not in out.columns
    assert "no funding history for BTC" in capsys.readouterr().err


# ------------------------------------------------------------------------------- prices


def test_check_price_funding_and_venue_symbols(sim_env):
    doc = _doc(PRICE, ["BTC", "ETH", "--platform=hyperliquid", "--funding"], sim_env)
    assert doc["BTC"] > 0 and doc["ETH"] > 0
    assert set(doc["_funding"]) == {"BTC", "ETH"}
    assert all(abs(r) <= 5e-4 for r in doc["_funding"].values())
    assert "_funding" not in _doc(PRICE, ["BTC", "--platform=hyperliquid"], sim_env)
    for venue, symbols in (
        ("okx-swap", ["BTC", "ETH/USDT:USDT"]),
        ("okx", ["BTC"]),
        ("topstep", ["ES", "MNQ", "GC"]),
        ("robinhood", ["BTC"]),
        ("luno", ["XBT/ZAR"]),
    ):
        prices = _doc(PRICE, [*symbols, f"--platform={venue}"], sim_env)
        assert set(prices) == set(symbols) and all(p > 0 for p in prices.values())


# ------------------------------------------------------------------------ argv parity


def test_argv_spec_is_per_script():
    okx = parse_check_args(["momentum", "BTC", "1h", "--inst-type=spot"], "check_okx.py")
    assert okx.inst_type == "spot" and okx.symbol == "BTC"
    with pytest.raises(CheckArgvError, match="check_okx.py"):
        parse_check_args(["momentum", "BTC", "1h", "--inst-type=spot"], "check_strategy.py")
    atr = parse_check_args(
        ["--fetch-atr", "--symbol=BTC", "--timeframe=1h", "--period=14"], "check_hyperliquid.py"
    )
    assert atr.strategy is None and atr.given["--symbol"] == "BTC" and atr.given["--period"] == 14
    with pytest.raises(CheckArgvError, match="check_hyperliquid.py"):
        parse_check_args(["--fetch-atr"], "check_okx.py")
    marked = parse_check_args(["momentum", "BTC", "1h", "--mark-price=5"], "check_topstep.py")
    assert marked.given["--mark-price"] == 5.0


def test_config_args_cannot_set_the_manual_flags():
    from shared_tools.check_argv import FLAGS_BY_NAME, flag_hint

    for name in ("--fetch-atr", "--symbol", "--timeframe", "--period"):
        flag = FLAGS_BY_NAME[name]
        assert flag.owner != "config" and flag.scripts == ("check_hyperliquid.py",)
        assert "manual" in flag_hint(flag)


# ----------------------------------------------------------- Hyperliquid exchange mode

HL_COINS = {"BTC": 97_000.0, "ETH": 3_500.0}


def _fake_candles(coin: str, interval: str, start: int, end: int) -> list[dict]:
    from shared_tools.market.common import TIMEFRAMES

    tf_ms = TIMEFRAMES[interval] * 1000
    first = -(-start // tf_ms) * tf_ms
    out = []
    for t in range(first, end + 1, tf_ms):
        i = t // tf_ms
        mid = HL_COINS[coin] * (1 + 0.01 * math.sin(i / 7.0))
        out.append(
            {
                "t": t,
                "T": t + tf_ms - 1,
                "s": coin,
                "i": interval,
                "o": str(mid * 0.999),
                "c": str(mid * 1.001),
                "h": str(mid * 1.004),
                "l": str(mid * 0.996),
                "v": "12.5",
                "n": 40,
            }
        )
    return out[-5000:]


class _FakeHyperliquid(BaseHTTPRequestHandler):
    """Hyperliquid's ``POST /info`` for the few request types the market door sends."""

    requests: list[str] = []

    def do_POST(self):  # noqa: N802
        body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"{}")
        kind = body.get("type")
        _FakeHyperliquid.requests.append(kind)
        meta = {"universe": [{"name": c, "szDecimals": 4} for c in HL_COINS]}
        if self.path != "/info":
            return self._send(404, {"error": "not found"})
        if kind == "meta":
            answer = meta
        elif kind == "allMids":
            answer = {c: str(p) for c, p in HL_COINS.items()}
        elif kind == "metaAndAssetCtxs":
            answer = [meta, [{"funding": "0.0000125"}, {"funding": "-0.00002"}]]
        elif kind == "candleSnapshot":
            req = body["req"]
            answer = _fake_candles(req["coin"], req["interval"], req["startTime"], req["endTime"])
        elif kind == "fundingHistory":
            start = -(-body["startTime"] // 3_600_000) * 3_600_000
            end = body.get("endTime") or start
            answer = [
                {"coin": body["coin"], "fundingRate": "0.00001", "premium": "0", "time": t}
                for t in range(start, end + 1, 3_600_000)
            ][:500]
        else:
            return self._send(400, {"code": 400, "msg": f"unknown type {kind}"})
        self._send(200, answer)

    def _send(self, code: int, answer) -> None:
        data = json.dumps(answer).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *a):
        pass


def test_hyperliquid_exchange_mode_against_a_fake_info_server(tmp_path):
    server, url = _serve(_FakeHyperliquid)
    _FakeHyperliquid.requests = []
    try:
        env = base_env(
            tmp_path,
            GO_TRADER_MARKET_DATA="exchange",
            GO_TRADER_EXCHANGE_URL=url,
            GO_TRADER_NOW="2025-06-03T15:00:30Z",  # past the venue's settle margin
        )
        doc = _doc(HL, ["momentum", "BTC", "1h"], env)
        assert doc["platform"] == "hyperliquid" and doc["bar_time"] == "2025-06-03T14:00:00Z"
        assert 0.98 * 97_000 < doc["price"] < 1.02 * 97_000 and doc["indicators"]["atr"] > 0
        funded = _doc(HL, ["delta_neutral_funding", "ETH", "1h"], env)
        assert funded["indicators"]["funding_rate"] == pytest.approx(1e-5)
        prices = _doc(PRICE, ["BTC", "ETH", "SOL", "--platform=hyperliquid", "--funding"], env)
        assert prices["BTC"] == 97_000.0 and prices["ETH"] == 3_500.0 and "SOL" not in prices
        assert prices["_funding"] == {"BTC": 1.25e-05, "ETH": -2e-05}
        bad = _doc(HL, ["momentum", "DOGE", "1h"], env, code=1)
        assert bad["error"].startswith("hyperliquid: unknown coin 'DOGE'")
        assert {"meta", "candleSnapshot", "fundingHistory", "allMids"} <= set(
            _FakeHyperliquid.requests
        )
    finally:
        _stop(server)
    down = base_env(
        tmp_path,
        GO_TRADER_MARKET_DATA="exchange",
        GO_TRADER_EXCHANGE_URL=f"http://127.0.0.1:{free_port()}",  # nobody listens
        GO_TRADER_OHLCV_CACHE=str(tmp_path / "empty.db"),
    )
    err = _doc(HL, ["momentum", "BTC", "1h"], down, code=1)["error"]
    assert err.startswith("hyperliquid: cannot reach http://127.0.0.1:") and "\n" not in err
    assert "GO_TRADER_MARKET_DATA=simulated" in err


# ------------------------------------------------------------------ ccxt venues (OKX, Luno)


class _StubCcxt:
    """The few ccxt calls the market door makes, answered from memory."""

    markets = {"BTC/USDT": {}, "BTC/USDT:USDT": {}, "BTC/ZAR": {}}

    def __init__(self):
        self.asked: list[str] = []

    def load_markets(self):
        return self.markets

    def fetch_funding_rate(self, symbol):
        self.asked.append(symbol)
        return {"fundingRate": 0.0008, "interval": "8h"}

    def fetch_funding_rate_history(self, symbol, since=None, limit=None):
        self.asked.append(symbol)
        start = -(-since // (8 * 3_600_000)) * 8 * 3_600_000
        return [{"timestamp": start + i * 8 * 3_600_000, "fundingRate": 0.0004} for i in range(3)]


def test_okx_and_luno_symbols_map_to_ccxt():
    from platforms.ccxt_feed import market_symbol
    from platforms.luno import market_data as luno
    from platforms.okx import market_data as okx
    from shared_tools.market import registry

    stub = _StubCcxt()
    feed = registry.venue  # the feeds the door reads, as the venue packages registered them
    assert feed("okx").market_symbol(stub, "BTC") == "BTC/USDT"
    assert feed("okx").market_symbol(stub, "BTC/USDT") == "BTC/USDT"
    assert feed("okx-swap").market_symbol(stub, "BTC") == "BTC/USDT:USDT"
    assert feed("okx-swap").market_symbol(stub, "btc/usdt") == "BTC/USDT:USDT"
    assert feed("luno").market_symbol(stub, "XBT/ZAR") == "BTC/ZAR"
    assert feed("binanceus").market_symbol(stub, "BTCUSDT") == "BTCUSDT"  # as given
    assert market_symbol(stub, luno.symbols("XBT/ZAR")) == "BTC/ZAR"
    assert okx.swap_symbols("ETH") == ["ETH/USDT:USDT"]
    assert feed("okx-swap").ccxt_id == "okx" and feed("luno").ccxt_id == "luno"


def test_okx_funding_is_made_hourly(monkeypatch):
    from platforms import ccxt_feed
    from shared_tools.market import funding

    stub = _StubCcxt()
    monkeypatch.setattr(ccxt_feed, "client", lambda venue: stub)
    rates, missing = funding.fetch_funding_rates(["BTC"], venue="okx-swap", source="exchange")
    assert rates == {"BTC": pytest.approx(0.0001)} and not missing
    history = funding.fetch_funding_history(
        "BTC", 0, 16 * 3_600_000, venue="okx-swap", source="exchange"
    )
    assert [r["time"] for r in history] == [0, 8 * 3_600_000, 16 * 3_600_000]
    assert all(r["rate"] == pytest.approx(0.00005) for r in history)
    assert set(stub.asked) == {"BTC/USDT:USDT"}
    none, why = funding.fetch_funding_rates(["BTC/USDT"], venue="binanceus", source="exchange")
    assert none == {} and "no perpetual funding" in str(why["BTC/USDT"])


@pytest.mark.parametrize("script", list(VENUE_SCRIPTS))
def test_worker_and_supervisor_parse_venue_argv_alike(script):
    import importlib.util

    spec = importlib.util.spec_from_file_location("venue_check_t", script)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    parser = module.signal_check.build_parser(module.VENUE)
    name = script.rsplit("/", 1)[-1]
    argv = ["momentum", "ES", "1h", "--params", '{"a": 1}', "--mark-price=7", "--htf-filter"]
    ns, parsed = parser.parse_args(argv), parse_check_args(argv, name)
    assert (ns.strategy, ns.symbol, ns.timeframe, ns.params, ns.mark_price) == (
        parsed.strategy,
        parsed.symbol,
        parsed.timeframe,
        parsed.params,
        parsed.given["--mark-price"],
    )
    assert ns.platform == VENUE_SCRIPTS[script] and parsed.platform is None  # the default


# ------------------------------------------------------------- one host for every venue

STRATEGY = str(SCRIPTS / "check_strategy.py")


def test_one_batch_serves_every_venue_as_its_own_script_would(sim_env):
    jobs = [
        (OKX, ["sma_crossover", "BTC", "1h", "--inst-type=swap"]),
        (TOPSTEP, ["momentum", "ES", "1h"]),
        (HL, ["momentum", "BTC", "1h", "--mark-price=50000"]),
        (LUNO, ["rsi", "XBT/ZAR", "1h"]),
        (STRATEGY, ["rsi", "BTC/USDT", "1h"]),
    ]
    payload = [
        {"args": args, **({} if s == STRATEGY else {"script": s.rsplit("/", 1)[-1]})}
        for s, args in jobs
    ]
    proc = _run(STRATEGY, ["--batch"], sim_env, stdin=json.dumps(payload))
    assert proc.returncode == 0, proc.stderr
    mixed = json.loads(proc.stdout)
    for (script, args), got in zip(jobs, mixed, strict=True):
        alone = _doc(script, args, sim_env)
        assert got == alone  # same venue, product, extras and price override as a single run
    probe = _run(STRATEGY, ["--batch", "--probe-only"], sim_env, stdin=json.dumps(payload))
    assert json.loads(probe.stdout) == [{"ok": True}] * len(jobs)


def test_a_batch_refuses_jobs_of_scripts_outside_the_family(sim_env):
    payload = [
        {"args": ["rsi", "BTC/USDT", "1h"], "script": "check_price.py"},
        {"args": ["rsi", "BTC/USDT", "1h"], "script": "../../evil.py"},
        {"args": ["rsi", "BTC/USDT", "1h"]},
    ]
    proc = _run(STRATEGY, ["--batch"], sim_env, stdin=json.dumps(payload))
    first, second, third = json.loads(proc.stdout)
    assert "cannot join this batch" in first["error"] and "cannot join" in second["error"]
    assert third["platform"] == "binanceus" and "error" not in third
