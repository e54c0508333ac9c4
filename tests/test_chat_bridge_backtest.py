"""/backtest from chat (chat_bridge/backtest_run.py, attachments.py): checked before anything
starts, one at a time, killed after its timeout, and answered with a summary plus
``backtest.txt`` on both transports (Discord: a follow-up with an attachment; Telegram:
sendDocument). One run is the real backtest/run_backtest.py on the simulated market."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

import pytest
import test_chat_bridge as base
from conftest import PINNED_NOW
from test_chat_bridge import OTHER, OWNER, slash, wait

from chat_bridge.backtest_run import BUSY, Backtests
from chat_bridge.core import Access, Bridge, Invocation

dc, tg = base.dc, base.tg  # the fake Discord / Telegram fixtures

DOC = {
    "strategy": "momentum",
    "metrics": {
        "total_return_pct": 12.5,
        "max_drawdown_pct": 4.25,
        "trade_count": 9,
        "sharpe": 1.234,
    },
    "trades": [],
}
SUMMARY = (
    "📈 Backtest momentum BTC/USDT 1h: return +12.50% · max drawdown 4.25% · 9 trades · "
    "Sharpe 1.23 · full report in backtest.txt"
)


class Stub(Backtests):
    """A stand-in script (a shell line) instead of run_backtest.py; the names are given."""

    def __init__(self, tmp: Path, line: str, **kw: Any) -> None:
        super().__init__(**kw)
        self._names = frozenset({"momentum", "sma_crossover"})
        self.script = tmp / "stub.sh"
        self.script.write_text(f"#!/bin/sh\n{line}\n")
        self.script.chmod(0o755)
        self.seen: list[list[str]] = []

    def argv(self, strategy: str, symbol: str, timeframe: str) -> list[str]:
        self.seen.append(super().argv(strategy, symbol, timeframe))
        return [str(self.script)]


def make(tmp_path: Path, runner: Backtests) -> Bridge:
    cfg = tmp_path / "config.json"
    cfg.write_text("{}")
    access = {"discord": Access(OWNER), "telegram": Access(OWNER)}
    return Bridge(base.FakeAPI(), access, cfg, backtests=runner)


def inv(user: str = OWNER, **opts: Any) -> Invocation:
    return Invocation("discord", "backtest", opts, user=user, in_dm=True, channel="c1")


def printing(tmp_path: Path) -> Stub:
    (tmp_path / "doc.json").write_text(json.dumps(DOC))
    return Stub(tmp_path, f"cat {tmp_path / 'doc.json'}")


def test_requests_are_checked_before_anything_starts(tmp_path):
    runner = printing(tmp_path)
    b = make(tmp_path, runner)
    bad = {
        ("nope", "BTC", "1h"): "unknown strategy 'nope'; known: momentum, sma_crossover",
        ("momentum", "BTC$", "1h"): "symbol 'BTC$/USDT': like BTC/USDT (or BTC, read as BTC/USDT)",
        ("momentum", "BTC", "7x"): "timeframe '7x': one of ",
        ("../x", "BTC", "1h"): "strategy '../x': a registry name",
    }
    for (strategy, symbol, tf), start in bad.items():
        out = b.run(inv(strategy=strategy, symbol=symbol, timeframe=tf))
        assert out.refused and out.later is None and out.messages[0].startswith(start), out
    assert b.run(inv(user=OTHER, strategy="momentum", symbol="BTC")).refused
    assert runner.seen == []  # nothing was started


def test_one_backtest_at_a_time(tmp_path):
    runner = printing(tmp_path)
    b = make(tmp_path, runner)
    first = b.run(inv(strategy="momentum", symbol="btc"))
    assert first.later is not None and first.messages[0].startswith("⏳ Backtest momentum btc")
    second = b.run(inv(strategy="sma_crossover", symbol="ETH/USDT", timeframe="4h"))
    assert second.messages == [BUSY] and second.later is None
    out = first.later()
    assert out.summary == SUMMARY and json.loads(out.text) == DOC
    assert runner.seen == [
        [
            runner.python,
            str(Path(__file__).resolve().parent.parent / "backtest" / "run_backtest.py"),
            *("--mode", "single", "--strategy", "momentum", "--symbol", "BTC/USDT"),
            *("--timeframe", "1h", "--json"),
        ]
    ]
    third = b.run(inv(strategy="sma_crossover", symbol="ETH/USDT", timeframe="4h"))
    assert third.later is not None  # the slot is free again
    third.later()


def test_a_backtest_past_its_timeout_is_killed_and_frees_the_slot(tmp_path):
    runner = Stub(tmp_path, "exec sleep 30", timeout_s=0.3)
    b = make(tmp_path, runner)
    job = b.run(inv(strategy="momentum", symbol="BTC/USDT")).later
    assert job is not None
    began = time.monotonic()
    out = job()
    assert time.monotonic() - began < 20  # not the 30 s the child wanted
    assert out.summary == "Backtest momentum BTC/USDT 1h timed out after 0.3 s; stopped."
    assert out.text == ""
    assert b.run(inv(strategy="momentum", symbol="BTC/USDT")).later is not None
    failing = make(tmp_path, Stub(tmp_path / "..", "echo 'no data' >&2; exit 1"))
    bad = failing.run(inv(strategy="momentum", symbol="BTC/USDT")).later()
    assert bad.summary == "Backtest momentum BTC/USDT 1h failed (exit 1): no data"


def test_discord_answers_with_the_summary_and_backtest_txt(tmp_path, dc):
    server, start = dc
    b = make(tmp_path, printing(tmp_path))
    start(b)
    slash(server, "60", "backtest", OWNER, strategy="momentum", symbol="BTC")
    wait(lambda: server.of("POST", r"/webhooks/app1/t60$"))
    assert server.of("POST", r"/interactions/60/")[0][1] == {"type": 5, "data": {"flags": 64}}
    started = server.of("PATCH", r"/webhooks/app1/t60/messages/@original$")[0][1]
    assert started["content"].startswith("⏳ Backtest momentum BTC")
    (follow,) = server.of("POST", r"/webhooks/app1/t60$")
    parts = follow[1]["multipart"]
    payload = json.loads(parts["payload_json"])
    assert payload["content"] == SUMMARY and payload["flags"] == 64
    assert payload["attachments"] == [{"id": 0, "filename": "backtest.txt"}]
    assert parts["files[0]"]["filename"] == "backtest.txt"
    assert json.loads(parts["files[0]"]["data"]) == DOC


def test_discord_upload_outage_retries_then_sends_the_summary_alone(tmp_path, dc):
    server, start = dc
    b = make(tmp_path, printing(tmp_path))
    start(b)
    server.fail(r"/webhooks/app1/t61$", 4)  # every try of the upload fails (502)
    slash(server, "61", "backtest", OWNER, strategy="momentum", symbol="BTC")
    wait(lambda: server.of("POST", r"/webhooks/app1/t61$"), 30)
    time.sleep(0.3)
    (sent,) = server.of("POST", r"/webhooks/app1/t61$")
    assert sent[1]["content"] == SUMMARY + " (the report file could not be delivered)"


@pytest.fixture
def offline(monkeypatch, tmp_path):
    """run_backtest.py on the simulated market, clock pinned (as tests/test_run_backtest.py)."""
    monkeypatch.setenv("GO_TRADER_MARKET_DATA", "simulated")
    monkeypatch.setenv("GO_TRADER_NOW", PINNED_NOW)
    monkeypatch.setenv("GO_TRADER_SIM_SEED", "7")
    monkeypatch.setenv("GO_TRADER_OHLCV_CACHE", str(tmp_path / "ohlcv.db"))
    assert os.environ["GO_TRADER_MARKET_DATA"] == "simulated"


def test_telegram_runs_the_real_backtest_and_sends_backtest_txt(tmp_path, tg, offline):
    server, start = tg
    runner = Backtests(extra_args=["--since", "20"])  # the real script and registry
    b = make(tmp_path, runner)
    start(b)
    server.command("/backtest nope BTC", int(OWNER))
    wait(lambda: len(server.sent()) == 1, 60)
    assert server.sent()[0]["text"].startswith("unknown strategy 'nope'; known: ")
    assert "momentum" in runner.names()
    server.command("/backtest momentum BTC/USDT 1h", int(OWNER))
    wait(lambda: server.documents(), 120)
    assert server.sent()[1]["text"].startswith("⏳ Backtest momentum BTC/USDT 1h started")
    (doc,) = server.documents()
    assert doc["chat_id"] == OWNER and doc["document"]["filename"] == "backtest.txt"
    report = json.loads(doc["document"]["data"])
    m = report["metrics"]
    assert report["strategy"] == "momentum" and report["bars"] == 20 * 24
    assert doc["caption"] == (
        f"📈 Backtest momentum BTC/USDT 1h: return {m['total_return_pct']:+.2f}% · max drawdown "
        f"{m['max_drawdown_pct']:.2f}% · {m['trade_count']} trades · Sharpe {m['sharpe']:.2f} · "
        "full report in backtest.txt"
    )


def test_telegram_timeout_answers_in_a_message(tmp_path, tg):
    server, start = tg
    b = make(tmp_path, Stub(tmp_path, "exec sleep 30", timeout_s=0.3))
    start(b)
    server.command("/backtest momentum BTC", int(OWNER))
    server.command("/health", int(OWNER))  # the poll loop is not held by the backtest
    wait(lambda: len(server.sent()) == 3, 30)
    got = [m["text"] for m in server.sent()]
    assert got[0].startswith("⏳ Backtest momentum BTC")
    assert "Backtest momentum BTC/USDT 1h timed out after 0.3 s; stopped." in got
    assert server.documents() == []
