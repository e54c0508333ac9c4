"""Leaderboards (reference B.4): format, the daily post, leaderboard_summaries, the CLI."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from conftest import base_env, fake_strategy, run_cli, write_config

from shared_tools.config.load import load_config
from shared_tools.config.model import ConfigError
from supervisor.cycle_report import new_report
from supervisor.notify import outbox
from supervisor.notify.board_posts import queue_due
from supervisor.notify.hooks import Notifier
from supervisor.notify.leaderboard import board, entries
from supervisor.ops.leaderboard import run
from supervisor.state.db import StateDB
from supervisor.state.models import AppState, Mark, StrategyState, Trade

NOW = datetime(2026, 3, 4, 11, 30, tzinfo=UTC)
CAPITAL = {"alpha": 1300.0, "bravo": 900.0, "charlie": 1000.0, "delta": 1100.0, "echo": 700.0}


def _config(tmp_path, monkeypatch, **top):
    monkeypatch.setenv("DISCORD_BOT_TOKEN", "tok")
    monkeypatch.setenv("TELEGRAM_BOT_TOKEN", "tok2")
    strategies = [
        fake_strategy(sid, "hold", "ETH/USDT" if sid == "echo" else "BTC/USDT") for sid in CAPITAL
    ]
    strategies[0]["platform"] = "hyperliquid"
    strategies[0]["type"] = "perps"
    return load_config(write_config(tmp_path, strategies, **top))


def _app() -> AppState:
    app = AppState(cycle_count=9)
    for sid, cash in CAPITAL.items():
        platform, kind = ("hyperliquid", "perps") if sid == "alpha" else ("binanceus", "spot")
        app.strategies[sid] = StrategyState(sid, kind, platform, cash, 1000.0, trade_count=4)
    app.marks[("binanceus", "BTC/USDT")] = Mark(65000.0, 0.0)
    app.marks[("binanceus", "ETH/USDT")] = Mark(3200.0, 0.0)
    return app


def _close(sid: str, pnl: float) -> Trade:
    return Trade(sid, "2026-03-01T00:00:00Z", "BTC/USDT", "p", "sell", 1.0, 1.0, 1.0, 0.0,
                 is_close=True, realized_pnl=pnl)  # fmt: skip


STATS = {"alpha": (2, 1, 3, 30.0, 500.0), "bravo": (0, 2, 2, -20.0, 200.0)}


def test_top_board_has_upstreams_header_columns_total_and_tally(tmp_path, monkeypatch):
    config = _config(tmp_path, monkeypatch)
    app = _app()
    ranked = entries(app, config, STATS)
    assert [e.id for e in ranked] == ["alpha", "delta", "charlie", "bravo", "echo"]
    text = board("discord", app, config, ranked, top=True, n=3, now=NOW)
    lines = text.splitlines()
    assert lines[0] == "🏆 **Top All-Time Performers**"
    assert lines[1] == "Daily Report | March 4, 2026 (UTC)"
    assert lines[2] == "BTC: $65,000.00"  # only the assets of the rows shown
    assert lines[3] == "```" and lines[-2] == "```"
    assert lines[4].split() == [
        "Strategy",
        "Type",
        "Value",
        "PnL",
        "PnL%",
        "Tf",
        "Int",
        "#T",
        "W/L",
        "Sharpe",
    ]
    alpha = lines[6].split()
    assert alpha[:5] == ["alpha", "perps", "$1,300", "+$300.00", "+30.00%"]
    assert alpha[5:9] == ["1h", "5m", "1", "2.00"]  # tf, interval, opens (4 trades - 3 closes), W/L
    assert lines[7].split()[0] == "delta" and lines[8].split()[0] == "charlie"
    assert lines[-3].split() == ["TOTAL", "(3", "strategies)", "$3,400", "+$400.00", "+13.33%"]
    assert lines[-1] == "🟢 2 winning · 🔴 0 losing · ⚪ 1 flat"
    bottom = board("telegram", app, config, ranked, top=False, n=2, now=NOW).splitlines()
    assert bottom[0] == "💀 Bottom All-Time Performers"  # plain text on Telegram
    assert "```" not in "\n".join(bottom)
    assert [row.split()[0] for row in bottom[5:7]] == ["echo", "bravo"]
    assert bottom[2] == "ETH: $3,200.00 | BTC: $65,000.00"
    assert bottom[-1] == "🟢 0 winning · 🔴 2 losing · ⚪ 0 flat"


def test_daily_post_time_once_a_day_to_the_leaderboard_channel(tmp_path, monkeypatch):
    config = _config(
        tmp_path,
        monkeypatch,
        leaderboard_post_time="11:00",
        discord={
            "enabled": True,
            "channels": {"spot": "100", "perps": "200"},
            "leaderboard_channel": "999",
            "leaderboard_top_n": 2,
        },  # fmt: skip
        telegram={"enabled": True, "channels": {"spot": "-5"}},
    )
    app = _app()
    early = NOW.replace(hour=10, minute=59)
    assert queue_due(app, config, lambda: STATS, early, 1) == []
    out = queue_due(app, config, lambda: STATS, NOW, 2)
    assert [(m.transport, m.target) for m in out] == [
        ("discord", "999"), ("discord", "999"), ("telegram", "-5"), ("telegram", "-5"),
    ]  # fmt: skip
    assert out[0].body.startswith("🏆") and out[1].body.startswith("💀")
    assert "TOTAL (2 strategies)" in out[0].body  # leaderboard_top_n = 2 rows
    assert (
        app.unsaved_messages == out and app.extra["leaderboard"]["last_post_date"] == "2026-03-04"
    )
    assert queue_due(app, config, lambda: STATS, NOW + timedelta(hours=5), 3) == []
    # a restart keeps the stamp: no second post the same day
    db = StateDB(tmp_path / "state.db")
    db.save(app, [], [])
    again = db.load()
    db.close()
    assert queue_due(again, config, lambda: STATS, NOW + timedelta(hours=6), 4) == []
    assert len(queue_due(again, config, lambda: STATS, NOW + timedelta(days=1), 5)) == 4


def test_without_a_leaderboard_channel_every_summary_channel_gets_it(tmp_path, monkeypatch):
    config = _config(
        tmp_path,
        monkeypatch,
        leaderboard_post_time="00:00",
        discord={"enabled": True, "channels": {"spot": "100", "perps": "200", "x": "100"}},
    )
    out = queue_due(_app(), config, lambda: STATS, NOW, 1)
    assert [m.target for m in out] == ["100", "100", "200", "200"]
    off = _config(tmp_path, monkeypatch, discord={"enabled": True, "channels": {"spot": "1"}})
    assert queue_due(_app(), off, lambda: STATS, NOW, 1) == []  # no post time: no daily post


def test_leaderboard_summaries_follow_their_frequency_and_filter(tmp_path, monkeypatch):
    specs = [
        {"platform": "binanceus", "ticker": "BTC", "top_n": 2, "channel": "555", "frequency": "4h"},
        {"platform": "hyperliquid", "channel": "556", "frequency": "1h"},
        {"platform": "binanceus", "channel": "557"},  # no frequency: only on demand
    ]
    config = _config(tmp_path, monkeypatch, leaderboard_summaries=specs, discord={"enabled": True})
    app = _app()
    calls = []
    out = queue_due(app, config, lambda: calls.append(1) or STATS, NOW, 1)
    assert [m.target for m in out] == ["555", "556"] and calls == [1]
    btc = out[0].body.splitlines()
    assert btc[0] == "📈 **Binanceus BTC Top 2**"
    assert [r.split()[0] for r in btc[6:8]] == ["delta", "charlie"]  # BTC only, top 2
    assert out[1].body.splitlines()[0] == "⚡ **Hyperliquid Top 5**"
    assert queue_due(app, config, lambda: calls.append(1) or STATS, NOW + timedelta(hours=1), 2)
    later = queue_due(app, config, lambda: STATS, NOW + timedelta(hours=4), 3)
    assert [m.target for m in later] == ["555", "556"]
    assert (
        queue_due(app, config, lambda: calls.append(1) or STATS, NOW + timedelta(hours=4), 4) == []
    )
    assert len(calls) == 2  # the DB is read only when something is due


@pytest.mark.parametrize(
    ("top", "needle"),
    [
        ({"leaderboard_post_time": "25:00"}, "leaderboard_post_time must be HH:MM"),
        ({"discord": {"leaderboard_top_n": 0}}, "discord.leaderboard_top_n must be an integer"),
        ({"discord": {"leaderboard_channel": "#general"}}, "leaderboard_channel must be a channel"),
        ({"leaderboard_summaries": [{"channel": "1"}]}, "platform is required"),
        (
            {"leaderboard_summaries": [{"platform": "okx", "channel": "1", "frequency": "30s"}]},
            "frequency must be a duration of at least 1m",
        ),
        (
            {"leaderboard_summaries": [{"platform": "okx", "channel": "1"}] * 2},
            "leaderboard_summaries[1] repeats okx::1",
        ),
    ],
)
def test_bad_leaderboard_keys_are_one_line_each(tmp_path, top, needle):
    with pytest.raises(ConfigError) as err:
        load_config(write_config(tmp_path, [fake_strategy("a", "hold")], **top))
    assert any(needle in line for line in err.value.lines), err.value.lines


def _book(tmp_path, monkeypatch, **top):
    config = _config(tmp_path, monkeypatch, **top)
    db = StateDB(config.db_file)
    db.save(_app(), [_close("alpha", 10.0), _close("alpha", 25.0), _close("bravo", -5.0)], [])
    db.close()
    return config


def test_leaderboard_command_prints_and_posts_through_the_outbox(tmp_path, monkeypatch, fake_chat):
    config = _book(
        tmp_path,
        monkeypatch,
        discord={"enabled": True, "channels": {"spot": "100"}, "leaderboard_top_n": 3},
    )
    for key, value in fake_chat.env().items():
        monkeypatch.setenv(key, value)
    printed: list[str] = []
    assert run(config, key=None, post=False, echo=printed.append, now=NOW) == 0
    assert printed[0].startswith("🏆 Top All-Time Performers") and "```" not in printed[0]
    assert fake_chat.delivered == []
    said: list[str] = []
    assert run(config, key=None, post=True, echo=said.append, now=NOW) == 0  # no daemon: sends
    assert said == ["posted 2 messages"]
    bodies = fake_chat.bodies("100")
    assert [b.splitlines()[0] for b in bodies] == [
        "🏆 **Top All-Time Performers**",
        "💀 **Bottom All-Time Performers**",
    ]
    db = StateDB(config.db_file)
    assert outbox.pending_count(db.engine) == 0
    db.close()


def test_summary_command_for_a_channel_key_and_a_board_channel(tmp_path, monkeypatch):
    config = _book(
        tmp_path,
        monkeypatch,
        discord={"enabled": True, "channels": {"spot": "100"}},
        leaderboard_summaries=[{"platform": "binanceus", "channel": "777"}],
    )
    out: list[str] = []
    assert run(config, key="777", post=False, echo=out.append, now=NOW) == 0
    assert out[0].startswith("📈 Binanceus Top 5")
    out.clear()
    assert run(config, key="spot", post=False, echo=out.append, now=NOW) == 0
    assert out[0].startswith("📈 Spot Summary")
    assert run(config, key="nope", post=False, echo=out.append, now=NOW) == 2


def test_the_cli_and_a_running_daemon_share_the_outbox(tmp_path, monkeypatch):
    config = _book(tmp_path, monkeypatch, discord={"enabled": True, "channels": {"spot": "100"}})
    from supervisor.service.lock import acquire_lock

    env = base_env(tmp_path, DISCORD_BOT_TOKEN="tok")
    proc = run_cli(["leaderboard", "--config", str(config.path)], env)
    assert proc.returncode == 0 and "Top All-Time Performers" in proc.stdout, proc.stderr
    with acquire_lock(config.db_file):  # "the supervisor is running": it will deliver
        proc = run_cli(["leaderboard", "--post", "--config", str(config.path)], env)
    assert proc.returncode == 0 and "queued 2 messages; the running supervisor" in proc.stdout
    db = StateDB(config.db_file)
    assert outbox.pending_count(db.engine) == 2
    db.close()


def test_the_notifier_queues_the_daily_post_with_the_cycle(tmp_path, monkeypatch):
    config = _config(
        tmp_path,
        monkeypatch,
        leaderboard_post_time="00:00",
        discord={"enabled": True, "channels": {"spot": "100"}},
    )
    db = StateDB(config.db_file)
    notifier = Notifier(lambda: config, print)
    notifier.db = db  # what start() keeps (without the delivery thread)
    app = _app()
    notifier.queue_leaderboards(new_report(1), app)
    db.close()
    assert [m.category for m in app.unsaved_messages] == ["leaderboard", "leaderboard"]
    assert json.dumps(app.extra["leaderboard"])  # JSON-able: it is saved with the cycle
