"""Notifications in a running supervisor: outbox with the cycle, slow chat, kill -9, notify-test."""

from __future__ import annotations

import json
import signal
import sqlite3
import threading
import time

import psutil
from conftest import base_env, fake_strategy, run_cli, write_config
from fakes.fake_chat import DISCORD_TOKEN, TELEGRAM_TOKEN

DISCORD = {"enabled": True, "owner_id": "42", "channels": {"spot": "100"}}
TELEGRAM = {"enabled": True, "owner_chat_id": "-9", "channels": {"spot": "-600"}}


def outbox(path) -> list[tuple]:
    con = sqlite3.connect(path)
    try:
        return con.execute(
            "SELECT id, transport, target, category, cycle, delivered_at FROM outbox ORDER BY id"
        ).fetchall()
    finally:
        con.close()


def live_children() -> list[psutil.Process]:
    out = []
    for child in psutil.Process().children(recursive=True):
        try:
            if child.status() != psutil.STATUS_ZOMBIE:
                out.append(child)
        except psutil.NoSuchProcess:
            pass
    return out


def alerts_in_flight() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "notify-alert" and t.is_alive()]


def wait_for(predicate, timeout: float = 30.0) -> bool:
    end = time.time() + timeout
    while time.time() < end:
        if predicate():
            return True
        time.sleep(0.1)
    return False


def test_messages_commit_with_the_cycle_and_the_thread_delivers(sup_for, fake_chat, tmp_path):
    sup = sup_for([fake_strategy("a", "flip", "AAA/USDT")], discord=DISCORD, telegram=TELEGRAM)
    report = sup.run_cycle(sup.config.strategies)
    assert len(report.trades) == 1
    rows = outbox(tmp_path / "state.db")
    kinds = sorted((r[1], r[2], r[3]) for r in rows)
    assert kinds == [
        ("discord", "100", "summary"),
        ("discord", "100", "trade"),
        ("telegram", "-600", "summary"),
        ("telegram", "-600", "trade"),
    ]
    assert {r[4] for r in rows} == {1}  # committed with cycle 1
    assert wait_for(lambda: len(fake_chat.delivered) == 4)
    assert wait_for(lambda: all(r[5] for r in outbox(tmp_path / "state.db")))
    assert "TRADE EXECUTED - PAPER" in fake_chat.bodies("100")[0]


def finishes(fn, guard_s: float = 60.0):
    """fn() run in a thread; fails clearly if it is still blocked after the (generous) guard,
    which only keeps a broken build from hanging the suite."""
    box: dict = {}
    t = threading.Thread(target=lambda: box.update(result=fn()), daemon=True)
    t.start()
    t.join(guard_s)
    assert not t.is_alive(), f"still blocked after {guard_s:g}s"
    return box.get("result")


def attempts(path) -> list[int]:
    con = sqlite3.connect(path)
    try:
        return [r[0] for r in con.execute("SELECT attempts FROM outbox ORDER BY id")]
    finally:
        con.close()


def test_a_chat_server_that_never_answers_delays_neither_cycles_nor_shutdown(
    sup_for, fake_chat, tmp_path
):
    fake_chat.hold()  # posts reach the server and are never answered (until teardown)
    sup = sup_for([fake_strategy("a", "flip", "AAA/USDT")], discord=DISCORD)
    assert sup.notifier.sender is not None
    sup.notifier.sender.timeout_s = 3600  # the delivery worker would wait out every cycle
    sup.run_cycle(sup.config.strategies)
    assert wait_for(lambda: fake_chat.posts_received >= 1)  # cycle 1's delivery is in flight
    finishes(lambda: [sup.run_cycle(sup.config.strategies) for _ in range(2)])
    assert sup.app.cycle_count == 3
    db = tmp_path / "state.db"
    assert {r[4] for r in outbox(db)} == {1, 2, 3}  # every cycle committed its messages
    assert not any(r[5] for r in outbox(db))  # none delivered...
    assert set(attempts(db)) == {0}  # ...and the in-flight post neither failed nor timed out
    assert fake_chat.delivered == []
    assert finishes(sup.shutdown) is True
    # stop() killed the delivery worker that was waiting on the chat server.
    assert not [t for t in threading.enumerate() if t.name == "notify-sender" and t.is_alive()]
    assert wait_for(lambda: not live_children()), live_children()
    assert fake_chat.delivered == []


def test_kill_9_between_enqueue_and_delivery_then_restart(tmp_path, daemons, fake_chat):
    fake_chat.down()
    env = base_env(tmp_path, **fake_chat.env())
    cfg = write_config(
        tmp_path,
        [fake_strategy("a", "flip", "AAA/USDT")],
        interval_seconds=1,
        discord={**DISCORD, "token": "ignored-file-token"},
        telegram=TELEGRAM,
        summary_frequency={"spot": "every"},
    )
    d = daemons(cfg, env)
    status = d.wait_status(lambda s: s.get("cycle_count", 0) >= 4, timeout=90)
    assert DISCORD_TOKEN not in json.dumps(status)
    d.stop(signal.SIGKILL)
    queued = outbox(tmp_path / "state.db")
    with sqlite3.connect(tmp_path / "state.db") as con:
        bodies = dict(con.execute("SELECT id, body FROM outbox"))
    assert queued and not any(r[5] for r in queued)  # nothing could be delivered
    fake_chat.up()
    d2 = daemons(cfg, env)
    d2.wait_status(lambda s: s.get("cycle_count", 0) >= 5, timeout=90)
    assert wait_for(lambda: all(r[5] for r in outbox(tmp_path / "state.db")[: len(queued)]), 60)
    code, body = d2.get("/status")
    assert code == 200 and DISCORD_TOKEN not in json.dumps(body)
    d2.stop()
    rows = outbox(tmp_path / "state.db")
    delivered = [r for r in rows if r[5]]
    nonces = [m["nonce"] for m in fake_chat.delivered if m["transport"] == "discord"]
    assert len(nonces) == len(set(nonces))  # none twice
    assert [int(n) for n in nonces] == sorted(int(n) for n in nonces)  # in order
    assert {r[0] for r in delivered if r[1] == "discord"} <= {int(n) for n in nonces}
    # Telegram has no nonce: the queued rows arrive once each, in order, before anything newer
    queued_tg = [bodies[r[0]] for r in queued if r[1] == "telegram"]
    got_tg = [m["body"] for m in fake_chat.delivered if m["transport"] == "telegram"]
    assert got_tg[: len(queued_tg)] == queued_tg
    logs = d.log_path.read_text() + d2.log_path.read_text()
    assert DISCORD_TOKEN not in logs and "ignored-file-token" not in logs
    assert "discord.token in the config file is ignored" in logs
    con = sqlite3.connect(tmp_path / "state.db")
    dump = "\n".join(con.iterdump())
    con.close()
    assert DISCORD_TOKEN not in dump and TELEGRAM_TOKEN not in dump


def test_notify_test_reports_each_target(tmp_path, fake_chat):
    env = base_env(tmp_path, **fake_chat.env())
    cfg = write_config(
        tmp_path,
        [fake_strategy("a", "hold")],
        discord={**DISCORD, "trade_alert_channels": {"spot": "300"}},
        telegram=TELEGRAM,
    )
    proc = run_cli(["notify-test", "--config", str(cfg)], env)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout.splitlines() == [
        "discord channel 100: ok",
        "discord channel 300: ok",
        "discord owner DM: ok",
        "telegram channel -600: ok",
        "telegram owner DM: ok",
    ]
    assert sorted(m["to"] for m in fake_chat.delivered) == ["-600", "-9", "100", "300", "dm-42"]
    fake_chat.down()
    proc = run_cli(["notify-test", "--config", str(cfg)], env)
    assert proc.returncode == 1
    lines = proc.stdout.splitlines()
    assert len(lines) == 5 and all(": error: " in line for line in lines)
    assert TELEGRAM_TOKEN not in proc.stdout + proc.stderr
    assert DISCORD_TOKEN not in proc.stdout + proc.stderr


def test_owner_dm_on_probe_failure_and_on_a_failed_save(tmp_path, fake_chat, monkeypatch):
    import io

    from sqlalchemy.exc import OperationalError

    from shared_tools.config.load import load_config
    from supervisor import daemon
    from supervisor.state.db import StateDB

    monkeypatch.setenv("GO_TRADER_FAKE_STATE_DIR", str(tmp_path))
    cfg = write_config(tmp_path, [fake_strategy("a", "flip", "AAA/USDT")], discord=DISCORD)
    monkeypatch.setattr(daemon, "probe_config", lambda _c: ["probe failed for strategy a: boom"])
    sup = daemon.Supervisor(load_config(cfg), once=True, out=io.StringIO())
    assert sup.start() == daemon.EXIT_CONFIG
    (dm,) = fake_chat.delivered
    assert dm["to"] == "dm-42" and "Startup probe failed" in dm["body"] and "boom" in dm["body"]

    monkeypatch.setattr(daemon, "probe_config", lambda _c: [])
    sup = daemon.Supervisor(load_config(cfg), once=True, out=io.StringIO())
    assert sup.start() == 0

    def broken(self, *_a, **_k):
        raise OperationalError("INSERT", {}, Exception("disk I/O error"))

    monkeypatch.setattr(StateDB, "save", broken)
    sup.run_cycle(sup.config.strategies)
    sup.run_cycle(sup.config.strategies)  # still failing: one DM, not one per cycle
    # Every alert the two cycles started (each in its own thread) has finished sending.
    assert wait_for(lambda: not alerts_in_flight()), alerts_in_flight()
    dms = [m for m in fake_chat.delivered if m["to"] == "dm-42"]
    assert len(dms) == 2 and "state save failed" in dms[1]["body"]
    monkeypatch.undo()
    sup.shutdown()
