"""The outbox sender against the fake chat server: routing, retries, outages, crashes, tokens."""

from __future__ import annotations

import contextlib
import sqlite3
import threading
import time

import psutil
import pytest
from fakes.fake_chat import DISCORD_TOKEN, TELEGRAM_TOKEN

from shared_tools.config.notify import ChatSettings, NotifySettings
from supervisor.notify import outbox
from supervisor.notify.sender import Sender, send_now
from supervisor.state.db import StateDB
from supervisor.state.models import AppState, Message

SETTINGS = NotifySettings(
    discord=ChatSettings(enabled=True, owner="42", channels={"spot": "100"}),
    telegram=ChatSettings(enabled=True, owner="-500", channels={"spot": "-600"}),
)


@pytest.fixture
def db(tmp_path):
    state = StateDB(tmp_path / "state.db")
    yield state
    state.close()


def enqueue(db: StateDB, *messages: Message) -> None:
    """One committed cycle with these outbox rows (as the daemon's save does)."""
    db.save(AppState(), [], messages)


def sender(db: StateDB, logs: list[str] | None = None, **kw) -> Sender:
    kw.setdefault("timeout_s", 3.0)
    kw.setdefault("backoff_base_s", 0.05)
    kw.setdefault("backoff_cap_s", 0.2)
    out = logs if logs is not None else []
    return Sender(db.engine, lambda: SETTINGS, log=out.append, **kw)


def drain(s: Sender, deadline_s: float = 30.0) -> None:
    """run_once until nothing is pending (failed rows wait out their back-off)."""
    end = time.time() + deadline_s
    while outbox.pending_count(s.engine) and time.time() < end:
        sent, wake_at = s.run_once()
        if not sent:
            time.sleep(min(0.2, max(0.0, (wake_at or time.time()) - time.time())))
    assert outbox.pending_count(s.engine) == 0


def rows(db: StateDB) -> list[tuple]:
    con = sqlite3.connect(db.path)
    try:
        return con.execute(
            "SELECT id, target, attempts, next_attempt_at, delivered_at, last_error FROM outbox"
        ).fetchall()
    finally:
        con.close()


def test_channels_and_owner_dms_on_both_platforms(db, fake_chat):
    enqueue(
        db,
        Message("discord", "100", "summary", "to the spot channel"),
        Message("discord", "owner", "critical", "to the owner"),
        Message("discord", "dm:77", "trade", "to user 77"),
        Message("telegram", "-600", "summary", "tg channel"),
        Message("telegram", "owner", "critical", "tg owner"),
    )
    drain(sender(db))
    got = [(d["transport"], d["to"], d["body"]) for d in fake_chat.delivered]
    assert got == [
        ("discord", "100", "to the spot channel"),
        ("discord", "dm-42", "to the owner"),
        ("discord", "dm-77", "to user 77"),
        ("telegram", "-600", "tg channel"),
        ("telegram", "-500", "tg owner"),
    ]
    assert all(r[4] for r in rows(db))  # every row marked delivered
    # Discord messages carry their outbox id as nonce
    nonces = [d["nonce"] for d in fake_chat.delivered if d["transport"] == "discord"]
    assert nonces == ["1", "2", "3"]


def test_retry_after_500_with_backoff(db, fake_chat):
    fake_chat.fail(1, 500)
    enqueue(db, Message("discord", "100", "summary", "hello"))
    s = sender(db, backoff_base_s=2.0, backoff_cap_s=300.0)
    before = time.time()
    assert s.run_once()[0] == 1
    (row,) = rows(db)
    assert row[2] == 1 and row[4] == "" and "HTTP 500" in row[5]
    assert before + 1.5 <= row[3] <= time.time() + 2.5  # first back-off: 2 s
    assert s.run_once()[0] == 0  # not due yet: nothing is attempted
    s.backoff_base_s = 0.05
    with sqlite3.connect(db.path) as con:
        con.execute("UPDATE outbox SET next_attempt_at = 0")
    drain(s)
    assert fake_chat.bodies() == ["hello"]


def test_429_honours_retry_after(db, fake_chat):
    fake_chat.rate_limit(1, retry_after=7)
    enqueue(db, Message("telegram", "-600", "summary", "later"))
    s = sender(db)
    before = time.time()
    s.run_once()
    (row,) = rows(db)
    assert row[2] == 1 and "HTTP 429" in row[5]
    assert before + 6.5 <= row[3] <= time.time() + 7.5
    with sqlite3.connect(db.path) as con:
        con.execute("UPDATE outbox SET next_attempt_at = 0")
    drain(s)
    assert fake_chat.bodies() == ["later"]


def test_server_down_for_ten_cycles_then_everything_in_order_once(db, fake_chat):
    fake_chat.down()
    logs: list[str] = []
    s = sender(db, logs)
    for cycle in range(1, 11):
        enqueue(
            db,
            Message("discord", "100", "summary", f"d{cycle}", cycle=cycle),
            Message("telegram", "-600", "summary", f"t{cycle}", cycle=cycle),
        )
        s.run_once()
        with sqlite3.connect(db.path) as con:  # the cycles are further apart than the back-off
            con.execute("UPDATE outbox SET next_attempt_at = 0")
    assert fake_chat.delivered == []
    heads = [r for r in rows(db) if r[2]]
    assert {r[1] for r in heads} == {"100", "-600"}  # only each target's head was tried
    fake_chat.up()
    drain(s)
    assert fake_chat.bodies("100") == [f"d{i}" for i in range(1, 11)]
    assert fake_chat.bodies("-600") == [f"t{i}" for i in range(1, 11)]
    # a refused connection's error names the URL, which holds the Telegram token: scrubbed
    assert any("telegram" in line for line in logs)
    for text in [*logs, *(str(r) for r in rows(db))]:
        assert TELEGRAM_TOKEN not in text and DISCORD_TOKEN not in text


def test_crash_between_answer_and_mark_sends_no_duplicate_on_discord(db, fake_chat, monkeypatch):
    enqueue(
        db, Message("discord", "100", "trade", "only once"), Message("discord", "100", "t", "2")
    )
    crashing = sender(db)

    def crash(*_a, **_k):
        raise RuntimeError("killed before the delivered mark")

    monkeypatch.setattr(outbox, "mark_delivered", crash)
    with pytest.raises(RuntimeError):
        crashing.run_once()
    assert fake_chat.bodies() == ["only once", "2"]  # the API had answered
    assert all(r[4] == "" for r in rows(db))  # ... but nothing was marked
    monkeypatch.undo()
    for key, value in fake_chat.env().items():  # undo() dropped the fixture's env too
        monkeypatch.setenv(key, value)
    drain(sender(db))  # "after the restart": resent with the same nonces
    assert fake_chat.bodies() == ["only once", "2"]
    assert fake_chat.requests == 4


def test_a_failed_head_blocks_later_messages_of_its_target_only(db, fake_chat):
    fake_chat.fail(1, 503)
    enqueue(
        db,
        Message("discord", "100", "s", "first"),
        Message("discord", "100", "s", "second"),
        Message("discord", "200", "s", "other channel"),
    )
    s = sender(db, backoff_base_s=60.0, backoff_cap_s=300.0)
    s.run_once()
    assert fake_chat.bodies() == ["other channel"]
    by_id = {r[0]: r for r in rows(db)}
    assert by_id[1][2] == 1 and by_id[2][2] == 0  # the blocked one was not even tried
    with sqlite3.connect(db.path) as con:
        con.execute("UPDATE outbox SET next_attempt_at = 0")
    drain(s)
    assert fake_chat.bodies("100") == ["first", "second"]


def wait_until(predicate, what: str, guard_s: float = 30.0) -> None:
    """Poll until predicate() holds; the generous guard only keeps a broken build from hanging."""
    end = time.monotonic() + guard_s
    while not predicate():
        assert time.monotonic() < end, f"{what}: not within {guard_s:g}s"
        time.sleep(0.02)


def sender_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "notify-sender" and t.is_alive()]


def live_children() -> list[psutil.Process]:
    out = []
    for child in psutil.Process().children(recursive=True):
        with contextlib.suppress(psutil.NoSuchProcess):
            if child.status() != psutil.STATUS_ZOMBIE:
                out.append(child)
    return out


def test_the_thread_delivers_and_stops_cleanly(db, fake_chat):
    s = sender(db, timeout_s=3600.0)  # only stop() can end a post the chat never answers
    s.start()
    enqueue(db, Message("discord", "100", "s", "via thread"))
    s.wake()
    wait_until(lambda: fake_chat.delivered, "the thread delivers")
    assert fake_chat.bodies() == ["via thread"]
    fake_chat.hold()  # stop() must not wait for a chat server that does not answer
    enqueue(db, Message("discord", "100", "s", "pending"))
    s.wake()
    wait_until(lambda: fake_chat.posts_received == 2, "the second post reaches the server")
    stopper = threading.Thread(target=s.stop, daemon=True)
    stopper.start()
    stopper.join(60)
    assert not stopper.is_alive(), "stop() blocked on the unanswered post"
    assert sender_threads() == []  # the delivery thread has ended...
    wait_until(lambda: not live_children(), "the delivery worker is killed")  # ...and its worker
    assert fake_chat.bodies() == ["via thread"]
    assert [(r[1], r[2], r[4]) for r in rows(db)][1] == ("100", 0, "")  # pending, not failed


def test_wrong_token_is_an_error_without_the_token(db, fake_chat, monkeypatch):
    monkeypatch.setenv("DISCORD_BOT_TOKEN", "wrong-token-value-999")
    enqueue(db, Message("discord", "100", "s", "x"))
    logs: list[str] = []
    sender(db, logs).run_once()
    (row,) = rows(db)
    assert "HTTP 401" in row[5] and "wrong-token-value-999" not in row[5]
    assert logs and all("wrong-token-value-999" not in line for line in logs)


def test_send_now_reports_each_target(fake_chat):
    results = send_now(
        SETTINGS,
        [Message("discord", "100", "test", "a"), Message("telegram", "owner", "test", "b")],
        timeout_s=3,
    )
    assert [r.ok for _m, r in results] == [True, True]
    fake_chat.down()
    results = send_now(SETTINGS, [Message("telegram", "-600", "test", "c")], timeout_s=3)
    ((_m, res),) = results
    assert not res.ok and TELEGRAM_TOKEN not in res.error and res.error


def test_delivered_rows_are_pruned_after_a_week(db, fake_chat):
    enqueue(db, Message("discord", "100", "s", "old"), Message("discord", "100", "s", "new"))
    drain(sender(db))
    with sqlite3.connect(db.path) as con:
        con.execute("UPDATE outbox SET delivered_at = '2020-01-01T00:00:00.000000Z' WHERE id = 1")
    enqueue(db, Message("discord", "999", "s", "pending"))
    fake_chat.down()
    s = sender(db)
    assert s.prune() == 1
    assert s.prune() == 0  # at most once an hour
    assert [r[0] for r in rows(db)] == [2, 3]  # the undelivered row is kept


def test_only_the_chat_sender_gets_the_bot_tokens():
    from supervisor.run.process import child_env, notify_env

    environ = {
        "PATH": "/bin",
        "DISCORD_BOT_TOKEN": "d",
        "TELEGRAM_BOT_TOKEN": "t",
        "DISCORD_OWNER_ID": "1",
        "GO_TRADER_DISCORD_API": "http://127.0.0.1:1",
        "STATUS_AUTH_TOKEN": "s",
        "OKX_API_KEY": "k",
    }
    env = notify_env(environ)
    assert env["DISCORD_BOT_TOKEN"] == "d" and env["TELEGRAM_BOT_TOKEN"] == "t"
    assert env["GO_TRADER_DISCORD_API"] == "http://127.0.0.1:1"
    assert "STATUS_AUTH_TOKEN" not in env and "DISCORD_OWNER_ID" not in env
    assert "OKX_API_KEY" not in env and env["PATH"] == "/bin"
    strategy_env = child_env(environ=environ)
    assert not [k for k in strategy_env if k.startswith(("DISCORD_", "TELEGRAM_"))]
