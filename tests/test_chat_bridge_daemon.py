"""The chat bridge against a running daemon on the simulated market (the dashboard's rig):
each read-only command from the owner answers what the daemon's API holds, the same command
from someone else is refused, and a pause needs its confirmation and lands in the config
through the dashboard's own write path. One test starts the real ``go-trader chat-bridge``
process against the fake Telegram server."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from chat_fakes import FakeTelegram
from conftest import REPO, Daemon
from dashboard_rig import IDS, start_still_daemon

from chat_bridge import render
from chat_bridge.core import Access, Bridge
from chat_bridge.daemon_api import DaemonAPI
from chat_bridge.store import Store
from chat_bridge.telegram import Telegram, plain
from shared_tools import chat_owner
from shared_tools.config.load import load_config

OWNER, OTHER = 4242, 77


@pytest.fixture(scope="module")
def still(tmp_path_factory) -> Iterator[tuple[Daemon, Path]]:
    tmp = tmp_path_factory.mktemp("chat")
    d, _db = start_still_daemon(tmp)
    try:
        yield d, tmp
    finally:
        d.stop()


@pytest.fixture
def chat(still, tmp_path) -> Iterator[tuple[FakeTelegram, Bridge, Daemon]]:
    d, tmp = still
    server = FakeTelegram()
    api = DaemonAPI(f"http://127.0.0.1:{d.port}", d.token or "")
    b = Bridge(api, {"telegram": Access(str(OWNER))}, tmp / "config.json")
    stop = threading.Event()
    t = Telegram(
        b,
        Store(tmp_path / "cb.json"),
        server.TOKEN,
        server.url,
        print,
        stop,
        poll_s=1,
        backoff_s=0.05,
    )
    th = threading.Thread(target=t.run, daemon=True)
    th.start()
    try:
        yield server, b, d
    finally:
        stop.set()
        th.join(timeout=10)
        server.close()


def ask(server: FakeTelegram, text: str, user: int = OWNER) -> str:
    before = len(server.sent())
    server.command(text, user)
    deadline = time.monotonic() + 60
    while len(server.sent()) <= before:
        assert time.monotonic() < deadline, f"no answer to {text}"
        time.sleep(0.05)
    return server.sent()[before]["text"]


def test_every_read_command_answers_the_owner_from_the_daemon(chat):
    server, _b, d = chat
    status = d.get("/status")[1]
    board = d.get("/api/leaderboard")[1]["entries"]
    assert ask(server, "/positions") == plain(render.positions(status))
    assert ask(server, "/pnl") == plain(render.pnl(status))
    assert ask(server, "/leaderboard 1") == plain(render.leaderboard(board, 1))
    assert ask(server, "/leaderboard").splitlines()[1:] == [
        f"{n}. {e['id']} — {e['pnl_pct']:+.2f}% ({render.money(e['pnl'], True)})"
        for n, e in enumerate(board, 1)
    ]
    answer = ask(server, "/status")
    assert f"cycle {status['cycle_count']}" in answer
    assert f"value {render.money(status['total_value'])}" in answer
    assert ask(server, "/health").startswith("status: ok · version ")
    assert ask(server, "/circuit_breakers") == "No circuit breakers open; kill switch clear."
    assert ask(server, "/dead_strategies") == "No dead strategies."
    assert ask(server, "/correlation") == plain(render.correlation(d.get("/api/correlation")[1]))
    assert ask(server, "/help").startswith("go-trader commands")


def test_someone_else_is_refused_every_command(chat):
    server, _b, _d = chat
    for text in ("/status", "/positions", "/pnl", "/leaderboard", "/pause alpha", "/logs"):
        assert ask(server, text, OTHER) == "This command is restricted to the bot owner."


def test_a_pause_needs_its_confirmation_and_lands_in_the_config(chat):
    server, _b, d = chat
    sid = IDS[0]

    def paused() -> bool:
        rows = d.get("/api/strategies")[1]["strategies"]
        return bool(next(r for r in rows if r["id"] == sid).get("paused"))

    assert not paused()
    ask(server, f"/pause {sid}")
    prompt = server.sent()[-1]
    assert prompt["text"].startswith(f"⚠️ Confirm: pause {sid}?")
    cancel = prompt["reply_markup"]["inline_keyboard"][0][1]["callback_data"]
    server.press(cancel, OWNER)
    deadline = time.monotonic() + 10
    while server.sent()[-1]["text"] != "Cancelled — nothing done.":
        assert time.monotonic() < deadline
        time.sleep(0.05)
    assert not paused()
    ask(server, f"/pause {sid}")
    confirm = server.sent()[-1]["reply_markup"]["inline_keyboard"][0][0]["callback_data"]
    server.press(confirm, OWNER)
    deadline = time.monotonic() + 30
    while not server.sent()[-1]["text"].startswith("✅"):
        assert time.monotonic() < deadline
        time.sleep(0.05)
    assert server.sent()[-1]["text"].startswith(f"✅ Strategy {sid} paused.")
    deadline = time.monotonic() + 30
    while not paused():  # the daemon's loop reloads the written config
        assert time.monotonic() < deadline
        time.sleep(0.2)
    # a press of the same button again: the nonce is spent, nothing more is written
    server.press(confirm, OWNER)
    deadline = time.monotonic() + 10
    while server.sent()[-1]["text"] != "Confirmation expired — nothing done; ask again.":
        assert time.monotonic() < deadline
        time.sleep(0.05)
    ask(server, f"/resume {sid}")
    server.press(server.sent()[-1]["reply_markup"]["inline_keyboard"][0][0]["callback_data"], OWNER)
    deadline = time.monotonic() + 30
    while paused():
        assert time.monotonic() < deadline
        time.sleep(0.2)


def test_the_bridge_process_answers_through_the_fake_telegram(still, tmp_path):
    d, tmp = still
    server = FakeTelegram()
    cfg = json.loads((tmp / "config.json").read_text())
    cfg["telegram"] = {"enabled": True, "owner_chat_id": OWNER}
    bridge_cfg = tmp_path / "bridge.json"
    bridge_cfg.write_text(json.dumps(cfg))
    env = dict(os.environ)
    env.update(TELEGRAM_BOT_TOKEN=server.TOKEN, GO_TRADER_TELEGRAM_API=server.url)
    env.pop("DISCORD_BOT_TOKEN", None)
    env["STATUS_AUTH_TOKEN"] = d.token or ""
    proc = subprocess.Popen(
        [
            os.path.join(os.path.dirname(sys.executable), "go-trader"),
            "chat-bridge",
            "--config",
            str(bridge_cfg),
            "--api",
            f"http://127.0.0.1:{d.port}",
        ],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    alive = chat_owner.alive_path(load_config(bridge_cfg).db_file)
    try:
        assert ask(server, "/health").startswith("status: ok")
        # while it runs it owns Telegram's updates: the daemon's reply readers leave them
        assert chat_owner.owned(alive, time.time()) == {"telegram"}
    finally:
        proc.terminate()
        out: Any = proc.communicate(timeout=20)[0]
        server.close()
    assert proc.returncode == 0, out
    assert "[chat-bridge] running: Telegram" in out
    assert not alive.exists()  # stopped: the daemon reads Telegram again


def test_discord_commands_answer_from_the_daemon(still, tmp_path):
    """The same through the fake Discord gateway: deferred ones edit their ACK, several
    messages become follow-ups, someone else in a guild is refused ephemerally."""
    from chat_fakes import FakeDiscord

    from chat_bridge.discord_gw import Discord

    d, tmp = still
    server = FakeDiscord()
    api = DaemonAPI(f"http://127.0.0.1:{d.port}", d.token or "")
    b = Bridge(api, {"discord": Access(str(OWNER))}, tmp / "config.json")
    stop = threading.Event()
    bot = Discord(
        b,
        Store(tmp_path / "cb.json"),
        "tok",
        server.url,
        print,
        stop,
        owner=str(OWNER),
        gateway=server.gateway.url,
        backoff_s=0.05,
    )
    th = threading.Thread(target=bot.run, daemon=True)
    th.start()

    def slash(iid: str, name: str, user: int = OWNER, guild: bool = False, **opts: Any) -> None:
        doc: dict = {
            "id": iid,
            "token": f"t{iid}",
            "type": 2,
            "channel_id": "c",
            "data": {
                "name": f"go-trader-{name}",
                "options": [{"name": k, "value": v} for k, v in opts.items()],
            },
        }
        if guild:
            doc.update(guild_id="g", member={"user": {"id": str(user)}})
        else:
            doc["user"] = {"id": str(user)}
        server.gateway.dispatch("INTERACTION_CREATE", doc)

    def edited(iid: str) -> str:
        deadline = time.monotonic() + 60
        while not server.of("PATCH", f"/t{iid}/messages/@original$"):
            assert time.monotonic() < deadline, f"no answer to {iid}"
            time.sleep(0.05)
        return server.of("PATCH", f"/t{iid}/messages/@original$")[0][1]["content"]

    try:
        assert server.gateway.identified.wait(30)
        slash("1", "leaderboard", top=1)
        assert edited("1") == render.leaderboard(d.get("/api/leaderboard")[1]["entries"], 1)
        slash("2", "closing-strategies")
        first = edited("2")
        parts = render.closing_strategies(d.get("/api/closing-strategies")[1])
        assert first == parts[0] and first.startswith("**Close evaluators**")
        deadline = time.monotonic() + 10
        while len(server.of("POST", r"/webhooks/app1/t2$")) < len(parts) - 1:
            assert time.monotonic() < deadline
            time.sleep(0.05)
        slash("3", "pnl", user=OTHER, guild=True)
        deadline = time.monotonic() + 10
        while not server.of("POST", r"/interactions/3/"):
            assert time.monotonic() < deadline
            time.sleep(0.05)
        refused = server.of("POST", r"/interactions/3/")[0][1]
        assert refused["data"] == {
            "content": "This command is restricted to the bot owner.",
            "flags": 64,
        }
    finally:
        stop.set()
        th.join(timeout=10)
        server.close()


def test_config_set_is_confirmed_and_written_through_the_tuner_path(chat):
    server, _b, d = chat
    sid = IDS[1]
    assert ask(server, f"/config set strategies.{sid}.interval_seconds -5").startswith(
        f"strategies.{sid}.interval_seconds: must be an integer > 0"
    )
    assert ask(server, "/config set interval_seconds 60").startswith("config set takes")
    prompt = ask(server, f"/config set strategies.{sid}.interval_seconds 7200")
    assert prompt.startswith(f"⚠️ Confirm: set strategies.{sid}.interval_seconds = 7200?")
    server.press(server.sent()[-1]["reply_markup"]["inline_keyboard"][0][0]["callback_data"], OWNER)
    deadline = time.monotonic() + 30
    while not server.sent()[-1]["text"].startswith("✅"):
        assert time.monotonic() < deadline, server.sent()[-1]
        time.sleep(0.05)
    assert "Applied via SIGHUP hot-reload" in server.sent()[-1]["text"]
    doc = d.get(f"/api/strategies/{sid}/config")[1]
    deadline = time.monotonic() + 30
    while "7200" not in json.dumps(doc):
        assert time.monotonic() < deadline, doc
        time.sleep(0.2)
        doc = d.get(f"/api/strategies/{sid}/config")[1]
