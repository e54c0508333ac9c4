"""The chat bridge's transport rules against the local fake Discord (REST + gateway) and Telegram
servers: the gateway session is resumed (op 7, a drop, a zombied connection) and re-identified
only when Discord ends it (op 9 d=false, after a 1-5 s wait); 429s are waited out exactly as
long as the chat says, per route, globally for everyone; delivered replies are never re-sent
after a restart; confirmations survive a bridge restart; and one reader owns Telegram's update
stream while the bridge runs (chat_bridge/, shared_tools/chat_owner.py)."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
import requests
from chat_fakes import FakeDiscord, FakeTelegram
from test_chat_bridge import OTHER, OWNER, Clock, FakeAPI, bridge, inv, slash, wait

from chat_bridge.core import EXPIRED, Access, Bridge
from chat_bridge.discord_gw import Discord
from chat_bridge.outbox import Outbox
from chat_bridge.owner_replies import OwnerReplies
from chat_bridge.ratelimit import Limits, retry_after
from chat_bridge.store import Store
from chat_bridge.telegram import Telegram
from shared_tools import chat_owner
from shared_tools.config.notify import ChatSettings, NotifySettings
from supervisor.http.nonce import Nonces
from supervisor.notify.replies import ResetListener, bridge_reads, owner_asks


class FakeTime:
    """An injected clock and sleep: a sleep is recorded and moves the clock, no wall time."""

    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []
        self.lock = threading.Lock()

    def clock(self) -> float:
        with self.lock:
            return self.now

    def sleep(self, seconds: float) -> None:
        with self.lock:
            self.sleeps.append(round(seconds, 3))
            self.now += seconds
        time.sleep(0.01)  # let the other threads run; the clock is what counts


@pytest.fixture
def dc(tmp_path) -> Iterator[tuple[FakeDiscord, Any, FakeTime]]:
    server = FakeDiscord()
    stop = threading.Event()
    ft = FakeTime()
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
            clock=ft.clock,
            sleep=ft.sleep,
        )
        th = threading.Thread(target=d.run, daemon=True)
        th.start()
        made.append(th)
        assert server.gateway.identified.wait(10)
        return d

    try:
        yield server, start, ft
    finally:
        stop.set()
        for th in made:
            th.join(timeout=10)
        server.close()


# -- 1. the gateway session ----------------------------------------------------------------------
def test_op7_reconnect_and_a_zombied_connection_resume_the_session(tmp_path, dc):
    server, start, _ft = dc
    b = bridge(tmp_path)
    start(b)
    gw = server.gateway
    gw.send({"op": 7, "d": None})  # Discord asks for a reconnect
    assert gw.resumed.wait(10)
    assert (gw.ops(2), gw.ops(6)) == (1, 1)
    gw.resumed.clear()
    gw.ack = False  # heartbeats go unanswered: the bridge must not trust this socket
    assert gw.resumed.wait(10)
    gw.ack = True
    assert (gw.ops(2), gw.ops(6)) == (1, 2)
    slash(server, "50", "health", OWNER)  # the resumed session still works
    wait(lambda: server.of("POST", r"/interactions/50/"))


def test_op9_invalid_session_identifies_afresh_after_a_1_to_5_s_wait(tmp_path, dc):
    server, start, ft = dc
    b = bridge(tmp_path)
    start(b)
    gw = server.gateway
    gw.session_valid = False  # the session is gone on Discord's side: a RESUME gets op 9 false
    gw.drop()
    assert gw.identified.wait(10)  # a fresh IDENTIFY
    assert (gw.ops(2), gw.ops(6)) == (2, 1)
    assert len(ft.sleeps) == 1 and 1.0 <= ft.sleeps[0] <= 5.0
    slash(server, "51", "health", OWNER)
    wait(lambda: server.of("POST", r"/interactions/51/"))


def test_a_close_code_that_ends_the_session_identifies_another_resumes(tmp_path, dc):
    server, start, _ft = dc
    start(bridge(tmp_path))
    gw = server.gateway
    gw.close_with(4000)  # unknown error: resumable
    assert gw.resumed.wait(10)
    gw.close_with(4009)  # session timed out: a fresh IDENTIFY
    assert gw.identified.wait(10)
    assert (gw.ops(2), gw.ops(6)) == (2, 1)


# -- 2. 429 ---------------------------------------------------------------------------------------
def test_retry_after_is_read_from_discord_and_telegram_answers():
    def answer(body: Any, headers: dict[str, str] | None = None) -> requests.Response:
        r = requests.Response()
        r.status_code, r._content = 429, (json.dumps(body).encode() if body else b"")
        r.headers.update(headers or {})
        return r

    assert retry_after(answer({"retry_after": 1.25, "global": False})) == (1.25, False)
    assert retry_after(answer({"retry_after": 3, "global": True})) == (3.0, True)
    assert retry_after(answer({"ok": False, "parameters": {"retry_after": 7}})) == (7.0, False)
    assert retry_after(answer(None, {"Retry-After": "4", "X-RateLimit-Scope": "global"})) == (
        4.0,
        True,
    )
    assert retry_after(answer(None)) == (1.0, False)


def test_a_discord_429_holds_its_route_a_global_one_holds_everyone(tmp_path):
    server = FakeDiscord()
    ft = FakeTime()
    try:
        d = Discord(
            bridge(tmp_path),
            Store(tmp_path / "cb.json"),
            "tok",
            server.url,
            print,
            threading.Event(),
            owner=OWNER,
            clock=ft.clock,
            sleep=ft.sleep,
        )
        server.limit(r"/channels/A/messages$", 1, 2.5)
        d.channel_message("A", "to A")
        d.channel_message("B", "to B")
        assert d.outbox.flush()
        assert [b["content"] for _p, b in server.of("POST", "/channels/")] == ["to B"]
        assert d.outbox.next_wait() == pytest.approx(2.5)  # exactly what Discord asked
        ft.now += 2.5
        assert d.outbox.flush()
        assert [b["content"] for _p, b in server.of("POST", "/channels/")] == ["to B", "to A"]
        # a global limit: the next message to B waits too, although only A was answered 429
        server.limit(r"/channels/A/messages$", 1, 4.0, is_global=True)
        d.channel_message("A", "A again")
        d.channel_message("B", "B again")
        assert d.outbox.flush()
        assert len(server.of("POST", "/channels/")) == 2
        assert d.outbox.next_wait() == pytest.approx(4.0)
        ft.now += 4.0
        assert d.outbox.flush()
        sent = [b["content"] for _p, b in server.of("POST", "/channels/")]
        assert sent == ["to B", "to A", "A again", "B again"]  # each once
        assert d.outbox.store.pending("discord") == []
    finally:
        server.close()


def test_the_first_answer_waits_a_short_429_and_falls_back_on_a_long_one(tmp_path, dc):
    server, start, ft = dc
    b = bridge(tmp_path)
    start(b)
    server.limit(r"/interactions/60/t60/callback$", 1, 0.5)
    slash(server, "60", "health", OWNER)  # inline: the callback is the answer
    wait(lambda: server.of("POST", r"/interactions/60/"))
    assert 0.5 in ft.sleeps
    assert len(server.of("POST", r"/interactions/60/")) == 1
    # too long for Discord's 3 s window: the answer goes as a deduplicated message instead
    server.limit(r"/interactions/61/t61/callback$", 1, 30.0)
    slash(server, "61", "health", OWNER)
    wait(lambda: server.of("POST", r"/channels/chan/messages$"))
    time.sleep(0.2)
    assert server.of("POST", r"/interactions/61/") == [] and 30.0 not in ft.sleeps
    (msg,) = server.of("POST", r"/channels/chan/messages$")
    assert msg[1]["enforce_nonce"] and msg[1]["content"].startswith("status: ")


def test_telegram_429s_are_waited_out_and_the_reply_is_sent_once(tmp_path):
    server = FakeTelegram()
    ft = FakeTime()
    stop = threading.Event()
    server.limit(r"/getUpdates$", 1, 4)
    server.limit(r"/sendMessage$", 1, 7)
    server.command("/positions", int(OWNER))
    t = Telegram(
        bridge(tmp_path),
        Store(tmp_path / "cb.json"),
        server.TOKEN,
        server.url,
        print,
        stop,
        poll_s=1,
        backoff_s=0.05,
        clock=ft.clock,
        sleep=ft.sleep,
    )
    th = threading.Thread(target=t.run, daemon=True)
    th.start()
    try:
        wait(lambda: len(server.sent()) == 1)
        time.sleep(0.3)
        assert len(server.sent()) == 1
        assert 4.0 in ft.sleeps and 7.0 in ft.sleeps
        assert server.limit_hits[0].endswith("/getUpdates")
    finally:
        stop.set()
        t.outbox.wake.set()
        th.join(timeout=10)
        server.close()


# -- 3. no nonce on follow-ups: deduplicated on our side -------------------------------------------
def test_a_delivered_reply_leaves_the_file_before_the_next_so_a_restart_resends_none(tmp_path):
    """Follow-ups (webhook executions) take no nonce: the outbox records each delivery before
    sending the next, so a crash re-sends at most the reply whose record was lost."""
    server = FakeDiscord()
    store = Store(tmp_path / "cb.json")
    sent: list[str] = []
    up = {"calls": 1}  # Discord takes one follow-up, then is unreachable

    def send(item: dict[str, Any]) -> requests.Response:
        if up["calls"] <= 0:
            raise requests.ConnectionError("Discord unreachable")
        up["calls"] -= 1
        r = requests.post(server.url + item["path"], json=item["body"], timeout=5)
        sent.append(item["body"]["content"])
        return r

    try:
        out = Outbox(store, "discord", send, print, threading.Event())
        for text in ("one", "two", "three"):
            out.put({"method": "POST", "path": "/webhooks/app1/tok", "body": {"content": text}})
        assert out.flush() is False
        left = Store(tmp_path / "cb.json").pending("discord")  # what a restart finds
        assert [i["body"]["content"] for i in left] == ["two", "three"]
        up["calls"] = 10  # the bridge restarts, Discord is back
        again = Outbox(Store(tmp_path / "cb.json"), "discord", send, print, threading.Event())
        assert again.flush()
        assert sent == ["one", "two", "three"]  # each once
        assert [b["content"] for _p, b in server.of("POST", "/webhooks/")] == sent
    finally:
        server.close()


# -- 4. confirmations survive a restart ----------------------------------------------------------
def test_a_confirmation_survives_a_bridge_restart_and_still_expires(tmp_path):
    clock = Clock()
    api = FakeAPI(clock)
    acc = {"discord": Access(owner=OWNER), "telegram": Access(OWNER)}
    cfg = tmp_path / "config.json"
    path = tmp_path / "cb.json"
    first = Bridge(api, acc, cfg, clock=clock, store=Store(path))
    ask = first.run(inv("pause", strategy="alpha"))
    late = first.run(inv("close", strategy="alpha"))
    kept = Store(path).confirms()
    assert set(kept) == {ask.confirm, late.confirm}
    assert kept[ask.confirm]["expires"] == clock.t + 60  # absolute: it means the same later
    # the bridge restarts (same state file, same daemon) 30 s later: the press still works, once
    clock.t += 30
    second = Bridge(api, acc, cfg, clock=clock, store=Store(path))
    assert second.resolve(ask.confirm, OTHER, True) == "This confirmation belongs to someone else."
    assert second.resolve(ask.confirm, OWNER, True) == "✅ pause alpha done"
    third = Bridge(api, acc, cfg, clock=clock, store=Store(path))
    assert third.resolve(ask.confirm, OWNER, True) == EXPIRED  # spent, also after a restart
    clock.t += 31  # past the window
    assert third.resolve(late.confirm, OWNER, True) == EXPIRED
    assert len(api.actions) == 1 and Store(path).confirms() == {}
    # the daemon restarted meanwhile: its nonce is gone, so the press says to ask again
    ask = third.run(inv("resume", strategy="alpha"))
    api.nonces = Nonces(clock)
    fourth = Bridge(api, acc, cfg, clock=clock, store=Store(path))
    assert fourth.resolve(ask.confirm, OWNER, True) == EXPIRED
    assert "ask again" in EXPIRED and len(api.actions) == 1


# -- 5. one Telegram reader ----------------------------------------------------------------------
def test_the_heartbeat_says_who_reads_telegram_while_it_is_fresh(tmp_path):
    db = tmp_path / "state.db"
    alive = chat_owner.alive_path(db)
    assert bridge_reads(db) == frozenset()
    chat_owner.beat(alive, ["discord", "telegram"], time.time())
    assert bridge_reads(db) == {"telegram"}  # Discord DMs are read by REST: nothing stolen
    assert chat_owner.owned(alive, time.time() + chat_owner.FRESH_S + 1) == frozenset()
    settings = NotifySettings(
        discord=ChatSettings(enabled=True, owner="1"),
        telegram=ChatSettings(enabled=True, owner="2"),
    )
    assert [a["transport"] for a in owner_asks(settings, 0.0, bridge_reads(db))] == ["discord"]
    chat_owner.clear(alive)
    assert [a["transport"] for a in owner_asks(settings, 0.0, bridge_reads(db))] == [
        "discord",
        "telegram",
    ]


def test_the_daemons_reset_listener_leaves_telegram_to_a_running_bridge(tmp_path, monkeypatch):
    from datetime import UTC, datetime

    from supervisor.notify import replies

    polled: list[list[dict]] = []
    monkeypatch.setattr(replies, "poll_replies", lambda asks: (polled.append(asks), ([], []))[1])
    settings = NotifySettings(telegram=ChatSettings(enabled=True, owner="2"))
    now = datetime.now(UTC)
    owned = {"now": frozenset({"telegram"})}
    listener = ResetListener(
        tmp_path / "db.reset-kill-switch",
        lambda: settings,
        lambda: now.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
        now=lambda: now,
        log=print,
        skip=lambda: owned["now"],
    )
    assert listener.check_once() is False and polled == []  # the bridge reads: no getUpdates
    owned["now"] = frozenset()
    listener.check_once()
    assert [a["transport"] for a in polled[0]] == ["telegram"]  # the bridge stopped: read again


class DaemonWithPrompts(FakeAPI):
    """FakeAPI plus a latched kill switch and an update on offer."""

    def __init__(self, latched_at: str) -> None:
        super().__init__()
        self.latched_at = latched_at
        self.offer: str | None = "abcdef1234"
        self.updates = 0

    def get(self, path: str, **_q: Any) -> tuple[int, Any]:
        if path == "/status":
            risk = {"kill_switch": bool(self.latched_at), "kill_switch_at": self.latched_at}
            return 200, {"portfolio_risk": risk, "strategies": {}}
        return super().get(path)

    def post(self, path: str, body: dict) -> tuple[int, Any]:
        if path == "/api/confirm" and body["action"] == "update":
            if not self.offer:
                return 409, {"error": "no update on offer"}
            nonce, ttl = self.nonces.issue("update", "", {"remote": self.offer})
            return 200, {"nonce": nonce, "expires_in_seconds": ttl, "description": "update"}
        if path == "/api/update":
            if not self.nonces.take(body.get("nonce"), "update", "", {"remote": self.offer}):
                return 403, {"error": "stale"}
            self.updates += 1
            self.offer = None
            return 200, {"ok": True, "message": "Starting upgrade to abcdef12."}
        return super().post(path, body)


def test_the_bridge_passes_the_owners_reset_and_yes_to_the_daemon(tmp_path):
    server = FakeTelegram()
    stop = threading.Event()
    latched = time.time() - 60
    stamp = time.strftime("%Y-%m-%dT%H:%M:%S.000000Z", time.gmtime(latched))
    api = DaemonWithPrompts(stamp)
    b = Bridge(api, {"telegram": Access(OWNER)}, tmp_path / "config.json")
    reset_file = tmp_path / "state.db.reset-kill-switch"
    t = Telegram(
        b,
        Store(tmp_path / "cb.json"),
        server.TOKEN,
        server.url,
        print,
        stop,
        poll_s=1,
        backoff_s=0.05,
        replies=OwnerReplies(api, reset_file, 6 * 3600.0),
    )
    th = threading.Thread(target=t.run, daemon=True)
    th.start()

    def say(text: str, user: str, at: float) -> None:
        msg = {"text": text, "from": {"id": int(user)}, "chat": {"id": int(user)}, "date": int(at)}
        server.push({"message": {**msg, "chat": {**msg["chat"], "type": "private"}}})

    try:
        say("reset", OTHER, time.time())  # not the owner: nothing
        say("reset", OWNER, latched - 30)  # written before the latch: it cannot clear it
        wait(lambda: t.store.offset > 0 and len(t.store._doc["seen"]) == 2)
        assert not reset_file.exists() and server.sent() == []
        say("Reset", OWNER, time.time())
        wait(lambda: len(server.sent()) == 1)
        assert "reset requested" in server.sent()[0]["text"]
        assert reset_file.read_text().splitlines()[1] == (
            "owner replied reset by telegram DM (chat bridge)"
        )
        say("yes", OWNER, time.time())
        wait(lambda: len(server.sent()) == 2)
        assert server.sent()[1]["text"] == "Starting upgrade to abcdef12." and api.updates == 1
        say("yes", OWNER, time.time())  # nothing on offer any more: no answer, no update
        say("/health", OWNER, time.time())
        wait(lambda: len(server.sent()) == 3)
        assert api.updates == 1 and not server.sent()[2]["text"].startswith("Starting")
    finally:
        stop.set()
        t.outbox.wake.set()
        th.join(timeout=10)
        server.close()


def test_limits_are_per_route_unless_global():
    ft = FakeTime()
    limits = Limits(ft.clock)
    r = requests.Response()
    r.status_code, r._content = 429, b'{"retry_after": 2}'
    limits.hit("POST /channels/A/messages", r)
    assert limits.delay("POST /channels/A/messages") == 2.0
    assert limits.delay("POST /channels/B/messages") == 0.0
    r._content = b'{"retry_after": 3, "global": true}'
    limits.hit("POST /channels/A/messages", r)
    assert limits.delay("POST /channels/B/messages") == 3.0
    ft.now += 3
    assert limits.delay("POST /channels/A/messages") == 0.0


def test_the_update_offer_is_not_polled_on_telegram_while_the_bridge_reads_it(
    tmp_path, monkeypatch
):
    import types

    from supervisor.notify import updater

    polled: list[list[dict]] = []
    monkeypatch.setattr(updater, "poll_replies", lambda asks: (polled.append(asks), ([], []))[1])
    db = tmp_path / "state.db"
    config = types.SimpleNamespace(
        notify=NotifySettings(telegram=ChatSettings(enabled=True, owner="2")), db_file=str(db)
    )
    watcher = updater.UpdateWatcher(None, lambda: config, wake=lambda: None, log=print)  # type: ignore[arg-type]
    watcher.asked = ("abc", watcher.clock())
    chat_owner.beat(chat_owner.alive_path(db), ["telegram"], time.time())
    assert watcher._await_answer(config) == "waiting" and polled == []  # type: ignore[arg-type]
    chat_owner.clear(chat_owner.alive_path(db))
    assert watcher._await_answer(config) == "waiting"  # type: ignore[arg-type]
    assert [a["transport"] for a in polled[0]] == ["telegram"]


def test_a_file_upload_waits_the_chats_retry_after_and_is_sent_once():
    """/backtest's file goes outside the JSON outbox (multipart): it honours the same limits."""
    from chat_bridge import attachments

    server = FakeTelegram()
    try:
        server.limit(r"/sendDocument$", 1, 0.2)
        limits = Limits()
        url = f"{server.url}/bot{server.TOKEN}/sendDocument"
        files = {"document": ("backtest.txt", b"report", "text/plain")}
        ok = attachments._post(
            requests.Session(), url, 0.05, limits, "chat:42", data={"chat_id": "42"}, files=files
        )
        assert ok and len(server.limit_hits) == 1 and len(server.documents()) == 1
        # a wait longer than an upload may hold: the caller sends the summary by the outbox
        server.limit(r"/sendDocument$", 1, 300)
        assert not attachments._post(
            requests.Session(), url, 0.05, limits, "chat:42", data={"chat_id": "42"}, files=files
        )
        assert len(server.documents()) == 1
    finally:
        server.close()
