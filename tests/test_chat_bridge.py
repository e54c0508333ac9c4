"""The chat bridge's own rules, against local fake Telegram and Discord servers and a fake
daemon API: who may run what, replies cut to 2000 bytes, confirmations that expire and work
once, and a chat outage that loses nothing and sends nothing twice (chat_bridge/)."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from chat_fakes import FakeDiscord, FakeTelegram
from hypothesis import given
from hypothesis import strategies as st

from chat_bridge import render
from chat_bridge.commands import COMMANDS, PREFIX, registration
from chat_bridge.core import CANCELLED, EXPIRED, Access, Bridge, Invocation
from chat_bridge.discord_gw import Discord
from chat_bridge.store import Store
from chat_bridge.telegram import Telegram
from supervisor.http.nonce import Nonces

OWNER, OTHER = "42", "7"
STATUS = {
    "cycle_count": 3,
    "total_value": 10_100.0,
    "total_pnl": 100.0,
    "strategies": {
        "alpha": {
            "platform": "binanceus",
            "cash": 9000.0,
            "pnl": 100.0,
            "pnl_pct": 1.0,
            "trade_count": 2,
            "positions": {
                "BTC/USDT": {"side": "long", "quantity": 0.01, "avg_cost": 100000.0, "mark": None}
            },
            "risk_state": {"circuit_breaker": False},
        }
    },
    "portfolio_risk": {"kill_switch": False},
}


class FakeAPI:
    """The daemon's API as the bridge sees it: canned reads, real nonces, counted actions."""

    def __init__(self, clock: Any = time.monotonic) -> None:
        self.nonces = Nonces(clock)
        self.actions: list[tuple[str, dict]] = []
        self.down = False

    def strategy_path(self, sid: str, action: str) -> str:
        return f"/api/strategies/{sid}/{action}"

    def get(self, path: str, **_q: Any) -> tuple[int, Any]:
        return {
            "/status": (200, STATUS),
            "/api/strategies": (200, {"strategies": [{"id": "alpha", "paused": True}]}),
            "/api/leaderboard": (
                200,
                {"entries": [{"id": "alpha", "pnl": 100.0, "pnl_pct": 1.0}]},
            ),
        }.get(path, (404, {"error": "no"}))

    def post(self, path: str, body: dict) -> tuple[int, Any]:
        if path == "/api/confirm":
            nonce, ttl = self.nonces.issue(body["action"], body["strategy_id"], body["params"])
            desc = f"{body['action']} {body['strategy_id']}"
            return 200, {"nonce": nonce, "expires_in_seconds": ttl, "description": desc}
        sid, what = path.split("/")[3:5]
        action = what if what != "pause" else ("pause" if body["paused"] else "resume")
        params = body.get("params", {}) if what != "pause" else {}
        if not self.nonces.take(body.get("nonce"), action, sid, params):
            return 403, {"error": "confirmation missing, used or expired"}
        self.actions.append((path, body))
        return 200, {"ok": True, "message": f"{action} {sid} done"}


class Clock:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


def bridge(tmp_path: Path, clock: Any = time.monotonic, **access: Any) -> Bridge:
    acc = Access(owner=OWNER, **access)
    cfg = tmp_path / "config.json"
    cfg.write_text('{"discord": {"token": "SECRET"}, "x": 1}')
    return Bridge(FakeAPI(clock), {"discord": acc, "telegram": Access(OWNER)}, cfg, clock=clock)


def inv(cmd: str, user: str = OWNER, dm: bool = True, channel: str = "c1", **opts: Any):
    return Invocation("discord", cmd, opts, user=user, in_dm=dm, channel=channel)


# -- rules ---------------------------------------------------------------------------------------
def test_registration_names_every_command_with_the_prefix_and_owner_ones_dm_only():
    body = registration()
    assert [c["name"] for c in body] == [PREFIX + n for n in COMMANDS]
    for c in body:
        assert c["contexts"] == ([1] if COMMANDS[c["name"][len(PREFIX) :]].owner else [0, 1, 2])
    upstream = {"status", "health", "positions", "pnl", "leaderboard", "circuit-breakers"}
    upstream |= {"dead-strategies", "correlation", "closing-strategies", "logs", "restart"}
    upstream |= {"report-an-issue", "backtest", "config", "add-strategy", "remove-strategy"}
    upstream |= {"add-platform", "paper-to-live", "apply-regime-gate", "clear-cash-reconcile"}
    assert upstream <= set(COMMANDS)
    top = next(c for c in body if c["name"] == PREFIX + "leaderboard")["options"][0]
    assert top["name"] == "top" and top["type"] == 4


def test_permissions(tmp_path):
    b = bridge(tmp_path)
    assert b.run(inv("status")).refused is False
    assert b.run(inv("status", user=OTHER)).messages == [
        "This command is restricted to the bot owner."
    ]
    # an ops command: owner AND a DM; each failed condition is said
    both = b.run(inv("pause", user=OTHER, dm=False, strategy="alpha"))
    assert both.refused and both.messages[0].splitlines() == [
        "This command is restricted to the bot owner.",
        "This command only works in a DM with the bot.",
    ]
    assert b.run(inv("logs", dm=False)).refused
    # upstream's rule (anyone may read) only when asked for, and never for ops commands
    pub = bridge(tmp_path, public_commands=True, allowed_channels=frozenset({"c1"}))
    assert not pub.run(inv("pnl", user=OTHER, dm=False)).refused
    assert pub.run(inv("pnl", user=OTHER, dm=False, channel="c2")).refused
    assert pub.run(inv("close", user=OTHER, dm=True, strategy="alpha")).refused
    nobody = Bridge(FakeAPI(), {"discord": Access()}, tmp_path / "config.json")
    assert nobody.run(inv("health")).messages == ["discord.owner_id is not set: commands are off."]


def test_read_answers_in_upstream_shapes(tmp_path):
    b = bridge(tmp_path)
    assert b.run(inv("positions")).messages == [
        "**binanceus**\nBTC/USDT long 0.01 @ 100,000.00 (mv $1,000.00) [alpha]"
    ]
    assert b.run(inv("leaderboard", top=500)).messages[0].splitlines()[1] == (
        "1. alpha — +1.00% (+$100.00)"
    )
    status = b.run(inv("status")).messages[0]
    assert "value $10,100.00" in status and "⏸ paused: alpha" in status
    assert b.run(inv("status")).ephemeral  # the port's default (upstream: public)
    shown = "".join(b.run(inv("config", action="show")).messages)
    assert "SECRET" not in shown and "[redacted]" in shown


@given(st.text(min_size=0, max_size=1500))
def test_replies_are_cut_to_2000_bytes_on_a_character(text):
    out = render.cut(text * 3)
    assert len(out.encode()) <= 2000
    if len((text * 3).encode()) > 2000:
        assert out.endswith("...") and (text * 3).startswith(out[:-3])


def test_a_confirmation_works_once_for_its_asker_and_expires(tmp_path):
    clock = Clock()
    b = bridge(tmp_path, clock)
    ask = b.run(inv("pause", strategy="alpha"))
    assert ask.confirm and "pause alpha" in ask.messages[0]
    assert b.resolve(ask.confirm, OTHER, True) == "This confirmation belongs to someone else."
    assert b.resolve(ask.confirm, OWNER, True) == "✅ pause alpha done"
    assert b.resolve(ask.confirm, OWNER, True) == EXPIRED  # once
    assert len(b.api.actions) == 1
    late = b.run(inv("close", strategy="alpha", qty="0.5"))
    clock.t += 61
    assert b.resolve(late.confirm, OWNER, True) == EXPIRED
    nope = b.run(inv("resume", strategy="alpha"))
    assert b.resolve(nope.confirm, OWNER, False) == CANCELLED
    assert len(b.api.actions) == 1  # nothing else ran


def test_an_expired_daemon_nonce_does_nothing(tmp_path):
    clock = Clock()
    b = bridge(tmp_path)  # the bridge's own clock is real: only the daemon's nonce expires
    b.api.nonces = Nonces(clock)
    ask = b.run(inv("close", strategy="alpha"))
    clock.t += 60
    assert b.resolve(ask.confirm, OWNER, True) == EXPIRED
    assert b.api.actions == []


# -- Telegram ------------------------------------------------------------------------------------
@pytest.fixture
def tg(tmp_path) -> Iterator[tuple[FakeTelegram, Any]]:
    server = FakeTelegram()
    stops: list[threading.Event] = []
    threads: list[threading.Thread] = []

    def start(b: Bridge) -> Telegram:
        stop = threading.Event()
        t = Telegram(
            b,
            Store(tmp_path / "chat_bridge.json"),
            server.TOKEN,
            server.url,
            print,
            stop,
            poll_s=1,
            backoff_s=0.05,
        )
        th = threading.Thread(target=t.run, daemon=True)
        th.start()
        stops.append(stop)
        threads.append(th)
        return t

    def stop_all() -> None:
        for s in stops:
            s.set()
        for th in threads:
            th.join(timeout=10)

    start.stop_all = stop_all  # type: ignore[attr-defined]
    try:
        yield server, start
    finally:
        stop_all()
        server.close()


def wait(pred: Any, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return
        time.sleep(0.02)
    raise AssertionError("timed out")


def texts(server: FakeTelegram) -> list[str]:
    return [m["text"] for m in server.sent()]


def test_telegram_commands_owner_only_and_confirmed(tmp_path, tg):
    server, start = tg
    b = bridge(tmp_path)
    start(b)
    server.command("/positions", int(OWNER))
    server.command("/positions", int(OTHER))
    wait(lambda: len(server.sent()) == 2)
    assert texts(server) == [
        "binanceus\nBTC/USDT long 0.01 @ 100,000.00 (mv $1,000.00) [alpha]",
        "This command is restricted to the bot owner.",
    ]
    server.command("/pause alpha", int(OWNER))
    wait(lambda: len(server.sent()) == 3)
    prompt = server.sent()[2]
    data = prompt["reply_markup"]["inline_keyboard"][0][0]["callback_data"]
    assert data.startswith("c:") and b.api.actions == []  # nothing before the press
    server.press(data, int(OTHER))
    server.press(data, int(OWNER))
    wait(lambda: len(server.sent()) == 5)
    assert texts(server)[3:] == [
        "This confirmation belongs to someone else.",
        "✅ pause alpha done",
    ]
    assert len(b.api.actions) == 1


def test_a_telegram_outage_loses_nothing_and_sends_nothing_twice(tmp_path, tg):
    server, start = tg
    b = bridge(tmp_path)
    server.fail(r"/getUpdates$", 3)  # the bridge cannot read: it backs off and retries
    server.fail(r"/sendMessage$", 4)  # nor answer: the replies wait in its state file
    server.command("/pause alpha", int(OWNER))
    t = start(b)
    wait(lambda: len(server.sent()) == 1)
    data = server.sent()[0]["reply_markup"]["inline_keyboard"][0][0]["callback_data"]
    server.fail(r"/sendMessage$", 3)
    server.press(data, int(OWNER))
    wait(lambda: len(server.sent()) == 2)
    assert texts(server)[1] == "✅ pause alpha done" and len(b.api.actions) == 1
    # the bridge restarts (same state file); Telegram re-delivers the old updates as if the
    # offset had never been confirmed: nothing runs or is sent again
    start.stop_all()  # type: ignore[attr-defined]
    assert t.store.offset > 0
    (tmp_path / "chat_bridge.json").write_text(
        (tmp_path / "chat_bridge.json")
        .read_text()
        .replace(f'"offset":{t.store.offset}', '"offset":0')
    )
    start(b)
    server.command("/health", int(OWNER))
    wait(lambda: len(server.sent()) == 3)
    time.sleep(0.3)
    assert len(server.sent()) == 3 and len(b.api.actions) == 1


# -- Discord -------------------------------------------------------------------------------------
@pytest.fixture
def dc(tmp_path) -> Iterator[tuple[FakeDiscord, Any]]:
    server = FakeDiscord()
    stop = threading.Event()
    made: list[threading.Thread] = []

    def start(b: Bridge) -> Discord:
        d = Discord(
            b,
            Store(tmp_path / "chat_bridge.json"),
            "tok",
            server.url,
            print,
            stop,
            owner=OWNER,
            gateway=server.gateway.url,
            backoff_s=0.05,
        )
        th = threading.Thread(target=d.run, daemon=True)
        th.start()
        made.append(th)
        server.gateway.identified.wait(10)
        return d

    try:
        yield server, start
    finally:
        stop.set()
        for th in made:
            th.join(timeout=10)
        server.close()


def slash(server: FakeDiscord, iid: str, name: str, user: str, guild: bool = False, **opts):
    d: dict = {
        "id": iid,
        "token": f"t{iid}",
        "type": 2,
        "channel_id": "chan",
        "data": {
            "name": PREFIX + name,
            "options": [{"name": k, "value": v} for k, v in opts.items()],
        },
    }
    if guild:
        d["guild_id"] = "g1"
        d["member"] = {"user": {"id": user}}
    else:
        d["user"] = {"id": user}
    server.gateway.dispatch("INTERACTION_CREATE", d)


def test_discord_registration_commands_and_confirmation(tmp_path, dc):
    server, start = dc
    b = bridge(tmp_path)
    start(b)
    wait(lambda: server.of("PUT", r"/applications/app1/commands$"))
    names = [c["name"] for c in server.of("PUT", "/commands$")[0][1]]
    assert names == [PREFIX + n for n in COMMANDS]
    # a deferred command: ACK (type 5), then the answer edits the original
    slash(server, "1", "positions", OWNER)
    wait(lambda: server.of("PATCH", r"/webhooks/app1/t1/messages/@original$"))
    assert server.of("POST", r"/interactions/1/t1/callback$")[0][1] == {
        "type": 5,
        "data": {"flags": 64},
    }
    assert server.of("PATCH", "t1")[0][1]["content"].endswith("[alpha]")
    # someone else, in a guild: refused at once, ephemeral
    slash(server, "2", "positions", OTHER, guild=True)
    wait(lambda: server.of("POST", r"/interactions/2/"))
    body = server.of("POST", r"/interactions/2/")[0][1]
    assert body["type"] == 4 and body["data"]["flags"] == 64
    assert body["data"]["content"] == "This command is restricted to the bot owner."
    # a dangerous one: buttons; the press runs it once and replaces the prompt
    slash(server, "3", "close", OWNER, strategy="alpha")
    wait(lambda: server.of("POST", r"/interactions/3/"))
    prompt = server.of("POST", r"/interactions/3/")[0][1]["data"]
    custom = prompt["components"][0]["components"][0]["custom_id"]
    assert custom.startswith("gt:c:") and b.api.actions == []
    press = {"id": "4", "token": "t4", "type": 3, "channel_id": "chan", "user": {"id": OWNER}}
    server.gateway.dispatch("INTERACTION_CREATE", {**press, "data": {"custom_id": custom}})
    server.gateway.dispatch("INTERACTION_CREATE", {**press, "data": {"custom_id": custom}})
    wait(lambda: server.of("POST", r"/interactions/4/"))
    time.sleep(0.3)
    done = server.of("POST", r"/interactions/4/")
    assert len(done) == 1 and done[0][1] == {
        "type": 7,
        "data": {"content": "✅ close alpha done", "components": []},
    }
    assert len(b.api.actions) == 1


def test_discord_outage_falls_back_to_a_deduplicated_channel_message(tmp_path, dc):
    server, start = dc
    server.register_code = 403
    b = bridge(tmp_path)
    server.fail(r"/callback$", 1)  # Discord cannot take the answer ...
    server.fail(r"/channels/.*/messages$", 3)  # ... nor, for a while, a message
    start(b)
    slash(server, "9", "health", OWNER)
    wait(lambda: server.of("POST", r"/channels/chan/messages$"))
    # registration failed: the owner is told by DM (not fatal)
    wait(lambda: server.of("POST", r"/channels/dm-42/messages$"))
    dm = server.of("POST", r"/channels/dm-42/messages$")[0][1]["content"]
    assert dm.startswith("[slash] registration failed: HTTP 403")
    time.sleep(0.3)
    sent = server.of("POST", r"/channels/chan/messages$")
    assert len(sent) == 1 and sent[0][1]["enforce_nonce"] is True
    assert sent[0][1]["content"].startswith("status: ")


# -- the daemon's side: pause/resume nonces (supervisor/http/post.py) ---------------------------
def test_pause_nonces_are_bound_to_pause_or_resume_and_the_strategy(tmp_path, monkeypatch):
    import types

    from conftest import fake_strategy, write_config

    from shared_tools.config.load import load_config
    from supervisor.http.post import Actions

    cfg = write_config(tmp_path, [fake_strategy("alpha", "flip")])
    sup = types.SimpleNamespace(config=load_config(cfg), ready=True, db=object())
    actions = Actions(sup, board=None)
    written: list[tuple] = []
    monkeypatch.setattr(actions, "toggle", lambda *a: (written.append(a), (200, {"ok": True}))[1])
    ask = {"action": "resume", "strategy_id": "alpha", "params": {}}
    code, c = actions.post("/api/confirm", ask)
    assert code == 200 and c["description"] == "resume alpha" and c["expires_in_seconds"] == 60
    # a resume nonce cannot pause
    assert (
        actions.post("/api/strategies/alpha/pause", {"paused": True, "nonce": c["nonce"]})[0] == 403
    )
    assert written == []
    c = actions.post("/api/confirm", {**ask, "action": "pause"})[1]
    body = {"paused": True, "nonce": c["nonce"]}
    assert actions.post("/api/strategies/alpha/pause", body)[0] == 200
    assert actions.post("/api/strategies/alpha/pause", body)[0] == 403  # spent
    assert len(written) == 1
    assert actions.post("/api/confirm", {**ask, "strategy_id": "nope"})[0] == 404
    assert actions.post("/api/confirm", {**ask, "params": {"x": 1}})[0] == 400
    # the dashboard's toggle sends no nonce and needs none (unchanged)
    assert actions.post("/api/strategies/alpha/pause", {"paused": False})[0] == 200


def test_a_dropped_gateway_resumes_replays_and_nothing_runs_twice(tmp_path, dc):
    """The socket drops between the prompt and the press; the press happens during the outage.
    The bridge RESUMEs (no second IDENTIFY), Discord replays the press, and it runs once."""
    server, start = dc
    b = bridge(tmp_path)
    start(b)
    slash(server, "20", "pause", OWNER, strategy="alpha")
    wait(lambda: server.of("POST", r"/interactions/20/"))
    custom = server.of("POST", r"/interactions/20/")[0][1]["data"]["components"][0]
    custom = custom["components"][0]["custom_id"]
    server.gateway.drop()  # the outage, between the prompt and the press
    press = {"id": "21", "token": "t21", "type": 3, "channel_id": "chan", "user": {"id": OWNER}}
    server.gateway.dispatch("INTERACTION_CREATE", {**press, "data": {"custom_id": custom}})
    assert server.gateway.resumed.wait(10)  # back, resumed: the missed press is replayed
    wait(lambda: server.of("POST", r"/interactions/21/"))
    # Discord re-delivers the same interaction once more: still once
    server.gateway.dispatch("INTERACTION_CREATE", {**press, "data": {"custom_id": custom}})
    time.sleep(0.3)
    assert len(server.of("POST", r"/interactions/21/")) == 1
    assert len(b.api.actions) == 1
    assert (server.gateway.ops(2), server.gateway.ops(6)) == (1, 1)
    resume = next(m for m in server.gateway.received if m.get("op") == 6)["d"]
    assert resume["session_id"] == "s1" and resume["seq"] < server.gateway.seq


def test_logs_and_restart_use_the_daemons_unit(tmp_path, monkeypatch):
    """/logs reads the journal of GO_TRADER_SERVICE (upstream hard-codes go-trader); /restart
    asks first and then restarts that unit (fake journalctl/systemctl on PATH)."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for name in ("journalctl", "systemctl"):
        script = bin_dir / name
        script.write_text(f'#!/bin/sh\necho "{name} $*" >> {tmp_path}/calls\necho "line one"\n')
        script.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}:{os.environ['PATH']}")
    monkeypatch.setenv("GO_TRADER_SERVICE", "go-trader@paper")
    b = bridge(tmp_path)
    assert b.run(inv("logs", n="500")).messages == ["```\nline one\n```"]
    ask = b.run(inv("restart"))
    assert ask.confirm and "restart the go-trader@paper service" in ask.messages[0]
    assert b.resolve(ask.confirm, OWNER, True) == "Restarting."
    assert (tmp_path / "calls").read_text().splitlines() == [
        "journalctl -u go-trader@paper -n 200 --no-pager",
        "systemctl restart go-trader@paper",
    ]


def test_a_guild_answer_discord_could_not_take_goes_to_the_askers_dm(tmp_path, dc):
    server, start = dc
    b = bridge(tmp_path, public_commands=True)
    start(b)
    server.fail(r"/callback$", 2)
    slash(server, "30", "positions", OTHER, guild=True)  # deferred: the ACK fails
    wait(lambda: server.of("POST", rf"/channels/dm-{OTHER}/messages$"))
    time.sleep(0.3)
    assert server.of("POST", r"/channels/chan/messages$") == []  # never public
    (dm,) = server.of("POST", rf"/channels/dm-{OTHER}/messages$")
    assert dm[1]["content"].endswith("[alpha]") and dm[1]["enforce_nonce"]
