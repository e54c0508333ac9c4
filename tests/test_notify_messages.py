"""What a cycle says in chat: routing (upstream §3.2), templates, splitting, cadence."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta

from shared_tools.config.notify import ChatSettings, NotifySettings
from supervisor import __version__
from supervisor.cycle_report import Outcome, new_report
from supervisor.notify import broadcast, critical, messages_for_cycle
from supervisor.notify.render import render, split, split_for
from supervisor.notify.routing import Who, summary_key, trade_target
from supervisor.state.db import StateDB
from supervisor.state.models import AppState, Position, StrategyState, Trade

CHAT = ChatSettings(
    enabled=True,
    owner="42",
    channels={"hyperliquid": "c-hl", "okx-paper": "c-okx-paper", "spot": "c-spot", "perps": "c-p"},
    trade_alert_channels={"topstep": "ta-topstep", "okx-live": "ta-okx-live"},
    dm_channels={"binanceus-paper": "owner", "luno": "777"},
)


def test_summary_channel_platform_then_paper_then_type():
    assert summary_key(CHAT, Who("hyperliquid", "perps")) == "hyperliquid"
    assert summary_key(CHAT, Who("okx", "perps", paper=True)) == "okx-paper"
    assert summary_key(CHAT, Who("okx", "perps", paper=False)) == "perps"  # no okx key: type
    assert summary_key(CHAT, Who("robinhood", "spot")) == "spot"
    assert summary_key(CHAT, Who("topstep", "futures")) is None


def test_trade_alert_routes():
    # a DM configured for the platform (paper key for paper) wins; true means the owner
    assert trade_target(CHAT, Who("binanceus", "spot", paper=True)) == "owner"
    assert trade_target(CHAT, Who("binanceus", "spot", paper=False)) == "c-spot"
    assert trade_target(CHAT, Who("luno", "spot", paper=False)) == "dm:777"
    # trade_alert_channels: <platform>-live / platform / type, before the summary channel
    assert trade_target(CHAT, Who("okx", "perps", paper=False)) == "ta-okx-live"
    assert trade_target(CHAT, Who("okx", "perps", paper=True)) == "c-okx-paper"
    assert trade_target(CHAT, Who("topstep", "futures")) == "ta-topstep"
    assert trade_target(CHAT, Who("hyperliquid", "perps")) == "c-hl"
    assert trade_target(CHAT, Who("deribit", "options")) is None
    no_owner = ChatSettings(enabled=True, dm_channels={"binanceus-paper": "owner"})
    assert trade_target(no_owner, Who("binanceus", "spot")) is None


def test_split_at_platform_limits_on_line_boundaries():
    lines = [f"line {i:04d} " + "x" * 80 for i in range(120)]  # ~10.9k characters
    body = "\n".join(lines)
    for transport, limit in (("discord", 2000), ("telegram", 4096)):
        pieces = split_for(transport, body)
        assert len(pieces) > 1 and all(len(p) <= limit for p in pieces)
        assert "\n".join(pieces) == body  # nothing lost, nothing cut mid-line
    assert split("short", 2000) == ["short"]
    assert split("y" * 4500, 2000) == ["y" * 2000, "y" * 2000, "y" * 500]


def _config(tmp_path, monkeypatch, **notify):
    from conftest import fake_strategy, write_config

    from shared_tools.config.load import load_config

    monkeypatch.setenv("DISCORD_BOT_TOKEN", "tok")
    monkeypatch.setenv("TELEGRAM_BOT_TOKEN", "tok2")
    config = load_config(
        write_config(tmp_path, [fake_strategy("a", "hold"), fake_strategy("b", "hold")])
    )
    config.notify = NotifySettings(**notify)
    return config


def _app() -> AppState:
    app = AppState(cycle_count=7)
    for sid, cash in (("a", 1100.0), ("b", 900.0)):
        app.strategies[sid] = StrategyState(sid, "spot", "binanceus", cash, 1000.0)
    return app


def _trade(**kw) -> Trade:
    base = dict(
        strategy_id="a",
        timestamp="2025-06-01T12:00:00.000000Z",
        symbol="BTC/USDT",
        position_id="p1",
        side="buy",
        quantity=0.01,
        price=50000.0,
        value=500.0,
        fee=0.5,
        details="Open long 0.01 BTC/USDT",
    )
    base.update(kw)
    return Trade(**base)


def test_summary_header_and_lines(tmp_path, monkeypatch):
    chat = ChatSettings(enabled=True, channels={"spot": "100"})
    config = _config(tmp_path, monkeypatch, discord=chat)
    report = new_report(7)
    report.outcomes = [Outcome("a"), Outcome("b")]
    now = datetime(2025, 6, 1, tzinfo=UTC)
    (msg,) = messages_for_cycle(report, _app(), config, now)
    assert (msg.transport, msg.target, msg.category) == ("discord", "100", "summary")
    lines = msg.body.splitlines()
    assert lines[0] == f"📈 **Spot Summary** (v{__version__} pid:{os.getpid()})"  # who speaks
    assert lines[1] == "**$2,000.00 → $2,000.00** (+$0.00 / +0.00%)"
    assert "• a: $1,100.00 (+10.00%)" in lines and "• b: $900.00 (-10.00%)" in lines
    # Telegram: the same text without Markdown markers
    config.notify = NotifySettings(telegram=chat)
    (tg,) = messages_for_cycle(report, _app(), config, now)
    assert tg.body.splitlines()[0].startswith("📈 Spot Summary (v")


def test_a_channel_spanning_assets_gets_one_summary_per_asset(tmp_path, monkeypatch):
    from conftest import fake_strategy, write_config

    from shared_tools.config.load import load_config

    monkeypatch.setenv("DISCORD_BOT_TOKEN", "tok")
    strategies = [
        fake_strategy("s", "hold", "SOL/USDT"),
        fake_strategy("e", "hold", "ETH/USDT"),
        fake_strategy("b", "hold"),
    ]
    config = load_config(write_config(tmp_path, strategies))
    config.notify = NotifySettings(discord=ChatSettings(enabled=True, channels={"spot": "100"}))
    app = AppState(cycle_count=3)
    for sid in ("s", "e", "b"):
        app.strategies[sid] = StrategyState(sid, "spot", "binanceus", 1000.0, 1000.0)
    report = new_report(3)
    report.outcomes = [Outcome("s"), Outcome("e"), Outcome("b")]
    msgs = messages_for_cycle(report, app, config, datetime(2025, 6, 1, tzinfo=UTC))
    titles = [m.body.splitlines()[0] for m in msgs]
    assert [t.split(" (v")[0] for t in titles] == [
        "📈 **Spot Summary — BTC**",
        "📈 **Spot Summary — ETH**",
        "📈 **Spot Summary — SOL**",
    ]
    assert "• b: $1,000.00" in msgs[0].body and "• s:" not in msgs[0].body


def test_trade_alert_carries_symbol_side_qty_price_pnl_stop_targets(tmp_path, monkeypatch):
    chat = ChatSettings(enabled=True, channels={"spot": "100"}, trade_alert_channels={"spot": "9"})
    config = _config(tmp_path, monkeypatch, discord=chat)
    app = _app()
    pos = Position("BTC/USDT", "p1", 0.01, 0.01, 50000.0, 500.0)
    pos.guard.stop = 48000.0
    pos.guard.targets = [(52000.0, 0.5), (54000.0, 1.0)]
    app.strategies["a"].positions["BTC/USDT"] = pos
    report = new_report(8)
    report.trades = [_trade()]
    report.outcomes = [Outcome("a")]
    now = datetime(2025, 6, 1, tzinfo=UTC)
    msgs = messages_for_cycle(report, app, config, now)
    alert = next(m for m in msgs if m.category == "trade")
    assert alert.target == "9"
    assert alert.body.splitlines()[:3] == [
        "🟢 **TRADE EXECUTED - PAPER**",
        "Strategy: a (Binanceus spot)",
        "BTC/USDT — LONG 0.010 @ $50,000.00 | Value: $500.00",
    ]
    assert "SL: $48,000.00 | TP1: $52,000.00 | TP2: $54,000.00" in alert.body
    summary_msg = next(m for m in msgs if m.category == "summary")
    assert "SPOT TRADES" in summary_msg.body and "[a] BUY BTC/USDT @ $50,000.00" in summary_msg.body
    close = _trade(side="sell", is_close=True, realized_pnl=25.0, reason="take_profit")
    close.details = "Close long 0.01 BTC/USDT"
    body = render_trade(close)
    assert body.startswith("🔴 **TRADE CLOSED - PAPER**") and "Source: take_profit" in body
    assert "PnL: +$24.50" in body and "LONG" in body


def render_trade(trade: Trade) -> str:
    from supervisor.notify.messages import trade_alert

    return trade_alert("discord", trade, Who("binanceus", "spot"), None)


def test_summary_cadence_survives_a_restart(tmp_path, monkeypatch):
    chat = ChatSettings(enabled=True, channels={"spot": "100"})
    config = _config(tmp_path, monkeypatch, discord=chat)
    config.notify = NotifySettings(discord=chat, summary_frequency={"spot": "hourly"})
    db = StateDB(tmp_path / "state.db")
    app = _app()
    report = new_report(1)
    report.outcomes = [Outcome("a")]
    t0 = datetime(2025, 6, 1, 12, tzinfo=UTC)
    assert len(messages_for_cycle(report, app, config, t0)) == 1  # first post goes out
    assert messages_for_cycle(report, app, config, t0 + timedelta(minutes=30)) == []
    db.save(app)
    db.close()
    restarted = StateDB(tmp_path / "state.db").load()  # a restart: the last post time is kept
    assert restarted.extra["notify"]["last_summary"]["discord:spot"].startswith("2025-06-01T12")
    for sid, strat in _app().strategies.items():
        restarted.strategies.setdefault(sid, strat)
    assert messages_for_cycle(report, restarted, config, t0 + timedelta(minutes=45)) == []
    assert len(messages_for_cycle(report, restarted, config, t0 + timedelta(minutes=61))) == 1
    # a cycle with trades always posts
    report.trades = [_trade()]
    msgs = messages_for_cycle(report, restarted, config, t0 + timedelta(minutes=62))
    assert "summary" in {m.category for m in msgs}
    # a channel none of whose strategies ran posts nothing
    idle = new_report(2)
    assert messages_for_cycle(idle, restarted, config, t0 + timedelta(hours=5)) == []


def test_every_and_durations(tmp_path, monkeypatch):
    chat = ChatSettings(enabled=True, channels={"spot": "100"})
    config = _config(tmp_path, monkeypatch, discord=chat)
    report = new_report(1)
    report.outcomes = [Outcome("a")]
    t0 = datetime(2025, 6, 1, tzinfo=UTC)
    for value, later, posts in (("every", 1, True), ("30m", 29, False), ("30m", 31, True)):
        config.notify = NotifySettings(discord=chat, summary_frequency={"spot": value})
        app = _app()
        messages_for_cycle(report, app, config, t0)
        got = messages_for_cycle(report, app, config, t0 + timedelta(minutes=later))
        assert bool(got) == posts, value


def test_critical_queues_owner_dms_on_each_platform(tmp_path, monkeypatch):
    config = _config(
        tmp_path,
        monkeypatch,
        discord=ChatSettings(enabled=True, owner="42"),
        telegram=ChatSettings(enabled=True, owner="-9"),
    )
    app = AppState()
    out = critical(app, config, "Kill switch fired: drawdown 26% > 25%", cycle=3)
    assert [(m.transport, m.target, m.category) for m in out] == [
        ("discord", "owner", "critical"),
        ("telegram", "owner", "critical"),
    ]
    assert app.unsaved_messages == out and out[0].cycle == 3
    assert out[0].body == "🚨 **go-trader**: Kill switch fired: drawdown 26% > 25%"
    monkeypatch.delenv("TELEGRAM_BOT_TOKEN")
    assert [m.transport for m in critical(AppState(), config, "x")] == ["discord"]


def test_broadcast_reaches_every_distinct_channel(tmp_path, monkeypatch):
    chat = ChatSettings(enabled=True, channels={"spot": "1", "perps": "2", "okx": "1"})
    config = _config(tmp_path, monkeypatch, discord=chat)
    app = AppState()
    out = broadcast(app, config, "CIRCUIT BREAKER: a", cycle=4)
    assert [(m.target, m.category) for m in out] == [("1", "alert"), ("2", "alert")]
    assert app.unsaved_messages == out


def test_templates_render_for_both_platforms():
    assert render("critical", "telegram", text="t") == "🚨 go-trader: t"
    assert "reachable" in render("test", "discord", where="channel 1")


def test_notify_modules_keep_tls_and_http_clients_out_of_the_supervisor():
    import json
    import subprocess
    import sys

    from conftest import REPO

    code = (
        "import sys, json\n"
        "import supervisor.daemon, supervisor.cli\n"
        "import supervisor.notify.sender, supervisor.notify.selftest, supervisor.notify.hooks\n"
        "from supervisor.notify.render import render\n"
        "render('critical', 'discord', text='x')\n"
        "bad = ['ssl', '_ssl', '_hashlib', 'hmac', 'requests', 'urllib3', 'http.client']\n"
        "print(json.dumps([m for m in bad if m in sys.modules]))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=60
    )
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout) == []
