"""The worker contract, as an operator (or the supervisor) sees it from outside the process."""

from __future__ import annotations

import json
import math
import subprocess
import sys
import threading
from datetime import datetime
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest
from conftest import PINNED_NOW, REPO, base_env, free_port
from expectations import LONG_ONLY_ON_SPOT, RARELY_OR_NEVER

from shared_strategies.open import registry

CHECK = str(REPO / "shared_scripts" / "check_strategy.py")
PRICE = str(REPO / "shared_scripts" / "check_price.py")
PAIR_B = "ETH/USDT"


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


def _args(name: str) -> list[str]:
    spec = registry.get(name)
    tf = "1d" if spec.needs_pair else "1h"
    return [name, "BTC/USDT", tf] + ([PAIR_B] if spec.needs_pair else [])


@pytest.fixture
def sim_env(tmp_path):
    return base_env(tmp_path, GO_TRADER_NOW=PINNED_NOW, GO_TRADER_SIM_SEED="7")


@pytest.mark.parametrize("name", registry.names("spot"))
def test_every_spot_strategy_prints_the_contract(name, sim_env):
    proc = _run(CHECK, _args(name), sim_env)
    if registry.get(name).status == "backtest_only":  # refused live, as upstream
        assert proc.returncode == 1 and "backtest-only" in json.loads(proc.stdout)["error"]
        return
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    assert doc["strategy"] == name and doc["symbol"] == "BTC/USDT"
    assert doc["timeframe"] == _args(name)[2]
    assert doc["signal"] in (-1, 0, 1)
    assert doc["price"] > 0
    assert "atr" in doc["indicators"] and doc["indicators"]["atr"] > 0
    assert all(isinstance(v, float) and math.isfinite(v) for v in doc["indicators"].values())
    assert datetime.fromisoformat(doc["timestamp"].replace("Z", "+00:00")).tzinfo is not None
    assert proc.stdout.count("\n") == 1  # exactly one document


def test_pinned_clock_gives_byte_identical_output(sim_env):
    outs = {_run(CHECK, ["momentum", "BTC/USDT", "1h"], sim_env).stdout for _ in range(2)}
    assert len(outs) == 1 and outs.pop().startswith("{")


def test_unknown_strategy_and_timeframe_are_one_line_errors(sim_env):
    for args, needle in (
        (["nope", "BTC/USDT", "1h"], "unknown strategy 'nope'"),
        (["momentum", "BTC/USDT", "7m"], "unknown timeframe '7m'"),
        (["momentum", "BTC/USDT", "1h", "--params", '{"bogus": 1}'], "bogus"),
    ):
        proc = _run(CHECK, args, sim_env)
        assert proc.returncode == 1
        doc = json.loads(proc.stdout)
        assert needle in doc["error"] and "\n" not in doc["error"]


def test_unknown_flag_is_exit_2_with_usage_and_no_stdout(sim_env):
    proc = _run(CHECK, ["momentum", "BTC/USDT", "1h", "--bogus"], sim_env)
    assert proc.returncode == 2
    assert proc.stdout == ""
    assert "usage:" in proc.stderr and "--bogus" in proc.stderr
    missing = _run(CHECK, ["momentum"], sim_env)
    assert missing.returncode == 2 and missing.stdout == ""


class _Recorder(BaseHTTPRequestHandler):
    hits: list[str] = []

    def do_GET(self):  # noqa: N802
        _Recorder.hits.append(self.path)
        self.send_response(500)
        self.end_headers()

    def log_message(self, *a):
        pass


def test_probe_only_touches_no_network(tmp_path):
    port = free_port()
    server = HTTPServer(("127.0.0.1", port), _Recorder)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        env = base_env(
            tmp_path,
            GO_TRADER_MARKET_DATA="exchange",
            GO_TRADER_EXCHANGE_URL=f"http://127.0.0.1:{port}",
        )
        for script, args in ((CHECK, ["momentum", "BTC/USDT", "1h"]), (PRICE, ["BTC/USDT"])):
            proc = _run(script, [*args, "--probe-only"], env)
            assert proc.returncode == 0, proc.stderr
            assert proc.stdout == ""
        assert _Recorder.hits == []
    finally:
        server.shutdown()
        server.server_close()


def test_exchange_without_network_fails_fast_naming_the_venue(tmp_path):
    closed = free_port()  # nothing listens here
    env = base_env(
        tmp_path,
        GO_TRADER_MARKET_DATA="exchange",
        GO_TRADER_EXCHANGE_URL=f"http://127.0.0.1:{closed}",
    )
    # The 30 s timeout only keeps a hanging worker from stalling the suite (it raises).
    proc = _run(CHECK, ["momentum", "BTC/USDT", "1h"], env, timeout=30)
    assert proc.returncode == 1
    doc = json.loads(proc.stdout)
    assert doc["error"].startswith("binanceus:") and "\n" not in doc["error"]
    prices = _run(PRICE, ["BTC/USDT"], env, timeout=30)
    assert prices.returncode == 1 and "binanceus" in json.loads(prices.stdout)["error"]


def test_batch_of_20_in_order_with_contained_bad_job(sim_env):
    names = registry.names("spot")
    jobs = [{"args": _args(names[i % len(names)])} for i in range(20)]
    jobs[5] = {"args": ["nope", "BTC/USDT", "1h"]}
    jobs[9] = {"args": ["momentum", "BTC/USDT", "1h", "--bogus"]}
    jobs[13] = {"args": "not a list"}
    proc = _run(CHECK, ["--batch"], sim_env, stdin=json.dumps(jobs))
    assert proc.returncode == 0, proc.stderr
    results = json.loads(proc.stdout)
    assert len(results) == 20
    for i, (job, res) in enumerate(zip(jobs, results, strict=True)):
        if i in (5, 9, 13):
            assert res["error"], res
            continue
        assert "error" not in res
        assert res["strategy"] == job["args"][0]
        # a batched result equals the same check run alone
        solo = json.loads(_run(CHECK, job["args"], sim_env).stdout) if i in (0, 11) else None
        if solo is not None:
            assert solo == res
    assert "unknown strategy 'nope'" in results[5]["error"]
    assert "--bogus" in results[9]["error"]


def test_batch_rejects_bad_input(sim_env):
    proc = _run(CHECK, ["--batch"], sim_env, stdin="{not json")
    assert proc.returncode == 1 and "bad batch input" in json.loads(proc.stdout)["error"]


def test_check_price_prints_symbol_map(sim_env):
    proc = _run(PRICE, ["BTC/USDT", "ETH/USDT", "SOL/USDT"], sim_env)
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    assert set(doc) == {"BTC/USDT", "ETH/USDT", "SOL/USDT"}
    assert all(v > 0 for v in doc.values())
    assert doc["BTC/USDT"] > doc["ETH/USDT"] > doc["SOL/USDT"]


def _imported(stderr: str) -> set[str]:
    """Top-level packages named by ``python -X importtime`` on stderr."""
    names = set()
    for line in stderr.splitlines():
        if line.startswith("import time:") and line.count("|") == 2:
            names.add(line.rsplit("|", 1)[1].strip().split(".")[0])
    return names


def _replay_dir(tmp_path, *symbols: str):
    folder = tmp_path / "candles"
    folder.mkdir()
    start = 1_748_736_000_000  # 2025-06-01T00:00Z: bars 0..11 are closed at PINNED_NOW
    for n, sym in enumerate(symbols):
        rows = [
            [start + i * 3_600_000, 10.0 + n, 11.0 + n, 9.0 + n, 10.5 + n + i, 1.0]
            for i in range(24)
        ]
        (folder / f"{sym.replace('/', '_')}-1h.json").write_text(json.dumps(rows))
    return folder


@pytest.mark.parametrize("source", ["simulated", "replay"])
def test_check_price_imports_no_pandas(source, sim_env, tmp_path):
    """The mark check prints a few floats: it must not pay for pandas (or numpy) per cycle."""
    if source == "replay":
        sim_env["GO_TRADER_MARKET_DATA"] = f"replay:{_replay_dir(tmp_path, 'BTC/USDT', 'ETH/USDT')}"
    proc = subprocess.run(
        [sys.executable, "-X", "importtime", PRICE, "BTC/USDT", "ETH/USDT"],
        cwd=REPO,
        env=sim_env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert set(json.loads(proc.stdout)) == {"BTC/USDT", "ETH/USDT"}
    imported = _imported(proc.stderr)
    assert "shared_tools" in imported and "json" in imported  # the parser sees imports
    assert not imported & {"pandas", "numpy", "scipy", "ccxt"}


def test_check_price_replay_marks_the_symbols_it_has(sim_env, tmp_path):
    folder = _replay_dir(tmp_path, "BTC/USDT", "SOL/USDT")
    sim_env["GO_TRADER_MARKET_DATA"] = f"replay:{folder}"
    proc = _run(PRICE, ["BTC/USDT", "ETH/USDT", "SOL/USDT"], sim_env)
    assert proc.returncode == 0, proc.stderr
    # 12:00 pins the clock: the 11:00 bar (i = 11) is the last closed one
    assert json.loads(proc.stdout) == {"BTC/USDT": 21.5, "SOL/USDT": 22.5}
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "ETH/USDT" in lines[0] and "ETH_USDT-1m.json" in lines[0]

    none = _run(PRICE, ["ETH/USDT", "XRP/USDT"], sim_env)
    assert none.returncode == 1
    doc = json.loads(none.stdout)
    assert list(doc) == ["error"] and "ETH/USDT" in doc["error"] and "XRP/USDT" in doc["error"]
    assert "\n" not in doc["error"]


def test_check_price_simulated_skips_an_unusable_symbol(sim_env):
    proc = _run(PRICE, ["BTC/USDT", " ", "ETH/USDT"], sim_env)
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    assert set(doc) == {"BTC/USDT", "ETH/USDT"}
    assert all(isinstance(v, float) and v > 0 for v in doc.values())  # flat, one type
    assert "no price for" in proc.stderr and proc.stderr.count("\n") == 1


def test_params_override_defaults(sim_env):
    base = json.loads(_run(CHECK, ["momentum", "BTC/USDT", "1h"], sim_env).stdout)
    tuned = json.loads(
        _run(CHECK, ["momentum", "BTC/USDT", "1h", "--params", '{"roc_period": 5}'], sim_env).stdout
    )
    assert base["indicators"]["roc"] != tuned["indicators"]["roc"]


def test_every_spot_strategy_trades_over_a_simulated_year(monkeypatch):
    from shared_tools import market

    monkeypatch.setenv("GO_TRADER_SIM_SEED", "42")
    now = datetime.fromisoformat("2025-06-01T00:00:00+00:00")
    df = market.fetch_ohlcv("BTC/USDT", "1h", 24 * 365, source="simulated", now=now)
    other = market.fetch_ohlcv(PAIR_B, "1h", 24 * 365, source="simulated", now=now)
    df = df.join(other[["close"]].rename(columns={"close": "close_b"}))
    assert len(df) == 24 * 365
    for name in registry.names("spot"):
        if name in RARELY_OR_NEVER:
            continue  # see tests/expectations.py; pinned by their family's tests
        sig = registry.signals(name, df)
        buys, sells = int((sig == 1).sum()), int((sig == -1).sum())
        wants_sells = name not in LONG_ONLY_ON_SPOT
        assert buys > 0 and (sells > 0) == wants_sells, f"{name}: {buys} buys, {sells} sells"


@pytest.mark.parametrize(
    "args",
    [
        ["momentom", "BTC/USDT", "1h"],
        ["momentum", "BTC/USDT", "1hr"],
        ["momentum", "BTC/USDT", "1h", "--params", '{"x": 1}'],
        ["pairs_spread", "BTC/USDT", "1d"],
    ],
)
def test_probe_catches_typos_offline(args, sim_env):
    proc = _run(CHECK, [*args, "--probe-only"], sim_env)
    assert proc.returncode == 2 and proc.stdout == ""
    assert "error:" in proc.stderr


def _doc(args: list[str], env: dict) -> dict:
    proc = _run(CHECK, args, env)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def test_composed_check_closes_at_the_first_atr_tier(sim_env):
    """Catalogue §4.4: the first tiered_tp_atr rung is 1.5 ATR -> 0.40 (issue 7 says 0.5)."""
    base = ["momentum", "BTC/USDT", "1h"]
    price = _doc(base, sim_env)["price"]
    refs = '{"open": {"name": "momentum"}, "closes": [{"name": "tiered_tp_atr"}]}'
    position = ["--position-side=long", "--position-qty=1", "--position-initial-qty=1"]
    position += ["--position-entry-atr=100", f"--position-avg-cost={price - 160}"]
    doc = _doc([*base, "--strategy-refs", refs, *position], sim_env)
    assert (doc["signal"], doc["close_fraction"]) == (-1, 0.4)
    assert doc["close_strategy"] == "tiered_tp_atr" and doc["close_strategies"] == ["tiered_tp_atr"]
    assert doc["open_strategy"] == "momentum" and doc["open_action"] in ("long", "short", "none")
    flat = _doc([*base, "--strategy-refs", refs], sim_env)  # no position: the open signal
    assert flat["close_fraction"] == 0.0 and flat["signal"] == _doc(base, sim_env)["signal"]
    plain = _doc([*base, "--strategy-refs", '{"open": {"name": "momentum"}}'], sim_env)
    assert "close_fraction" not in plain  # open-only refs: no composition keys


def test_regime_enabled_prints_upstreams_shape(sim_env):
    base = ["momentum", "BTC/USDT", "1h", "--regime-enabled"]
    assert _doc(base, sim_env)["regime"] in ("trending_up", "trending_down", "ranging")
    spec = '{"medium": {"classifier": "composite", "period": 20}, "short": 7}'
    doc = _doc([*base, "--regime-windows-spec-json", spec], sim_env)
    assert set(doc["regime"]) == {"medium", "short"}
    for snap in doc["regime"].values():
        assert set(snap) == {"regime", "score", "metrics", "classifier"}
    assert _doc([*base, "--regime-payload-json="], sim_env)["regime"] == ""  # fail open


def test_htf_filter_reports_its_numeric_keys(sim_env):
    doc = _doc(["momentum", "BTC/USDT", "1h", "--htf-filter"], sim_env)
    assert doc["indicators"]["htf_trend"] in (-1, 0, 1)
    assert {"htf_ema", "htf_close"} <= set(doc["indicators"])


@pytest.mark.parametrize(
    "extra",
    [
        ["--strategy-refs", '{"closes": [{"name": "tiered_tp_atrr"}]}'],
        ["--strategy-refs", "{nope"],
        ["--regime-enabled", "--regime-windows-spec-json", '{"regime": 14}'],
    ],
)
def test_probe_catches_composition_typos_offline(extra, sim_env):
    proc = _run(CHECK, ["momentum", "BTC/USDT", "1h", *extra, "--probe-only"], sim_env)
    assert proc.returncode == 2 and proc.stdout == "" and "error:" in proc.stderr
