"""A close from chat, end to end against the local Hyperliquid venue: the bridge asks the
daemon's API for a confirmation (``/api/confirm``), and only the owner's press sends the close
through the manual CLI's core (supervisor/ops/manual_close.py), which flattens the venue once and
the next cycle the book; a second press, or a press after the confirmation expired, does nothing.

The API is the daemon's own request handler (supervisor/http/routes.py: token, same-origin,
JSON guard) over the dashboard's :class:`~supervisor.http.post.Actions`, served on 127.0.0.1."""

from __future__ import annotations

import os
import sqlite3
import threading
import time
import types
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from chat_fakes import FakeTelegram
from live_rig import T0, Rig

from chat_bridge.core import Access, Bridge
from chat_bridge.daemon_api import DaemonAPI
from chat_bridge.store import Store
from chat_bridge.telegram import Telegram
from shared_tools.config.load import load_config
from supervisor.http import routes
from supervisor.http.post import Actions

COIN, SID, OWNER, TOKEN = "ETH", "hl-man", 4242, "t0ken"


def serve(actions: Actions) -> ThreadingHTTPServer:
    """The daemon's request guard and POST routing around ``actions`` (reads are not needed)."""
    views = types.SimpleNamespace(post=actions.post, draining=lambda: False)
    auth = routes.expected_auth(TOKEN)

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            head = f"POST {self.path} HTTP/1.1\r\n" + "".join(
                f"{k}: {v}\r\n" for k, v in self.headers.items()
            )
            out, _keep = routes.handle(head.rstrip("\r\n").encode("latin-1"), views, auth, body)
            self.wfile.write(out)
            self.close_connection = True

        def log_message(self, *_a: object) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    return httpd


@pytest.fixture
def rig(tmp_path: Path, monkeypatch) -> Iterator[Rig]:
    r = Rig(
        tmp_path, [{"id": SID, "type": "manual", "symbol": COIN, "capital": 10_000, "leverage": 2}]
    )
    try:
        r.at(T0 + 3600)
        assert r.cycle().returncode == 0
        r.at(T0 + 3600 + 60)
        for key, value in r.env().items():  # the manual core in this process sees the venue
            if key != "GO_TRADER_NOW":  # the Rig restores the clock itself (see its close())
                monkeypatch.setenv(key, value)
        os.environ["GO_TRADER_NOW"] = str(r.now)
        yield r
    finally:
        r.close()


def queued(rig: Rig) -> list[tuple]:
    con = sqlite3.connect(rig.db)
    try:
        return con.execute("SELECT action, status FROM manual_actions ORDER BY id").fetchall()
    finally:
        con.close()


def test_a_close_from_chat_needs_its_confirmation_and_closes_once(rig: Rig, tmp_path: Path):
    sup = types.SimpleNamespace(config=load_config(rig.config), ready=True, db=object())
    actions = Actions(sup, board=None)
    params = {"size": 0.5, "atr": 25}  # a position to close, opened as the dashboard does
    c = actions.post("/api/confirm", {"action": "open", "strategy_id": SID, "params": params})[1]
    assert (
        actions.post(f"/api/strategies/{SID}/open", {"nonce": c["nonce"], "params": params})[0]
        == 200
    )
    assert rig.venue_size(COIN) == pytest.approx(0.5)
    assert rig.cycle().returncode == 0  # the next cycle books the fill (as for the dashboard)
    assert rig.book_size(COIN) == pytest.approx(0.5)

    httpd = serve(actions)
    server = FakeTelegram()
    api = DaemonAPI(f"http://127.0.0.1:{httpd.server_address[1]}", TOKEN)
    bridge = Bridge(api, {"telegram": Access(str(OWNER))}, rig.config)
    stop = threading.Event()
    tg = Telegram(
        bridge,
        Store(tmp_path / "cb.json"),
        server.TOKEN,
        server.url,
        print,
        stop,
        poll_s=1,
        backoff_s=0.05,
    )
    th = threading.Thread(target=tg.run, daemon=True)
    th.start()

    def answer(n: int) -> dict:
        deadline = time.monotonic() + 60
        while len(server.sent()) < n:
            assert time.monotonic() < deadline
            time.sleep(0.05)
        return server.sent()[n - 1]

    try:
        server.command(f"/close {SID}", OWNER)
        prompt = answer(1)
        assert prompt["text"].startswith(f"⚠️ Confirm: close on {SID}?")
        assert rig.venue_size(COIN) == pytest.approx(0.5)  # nothing before the press
        confirm = prompt["reply_markup"]["inline_keyboard"][0][0]["callback_data"]
        server.press(confirm, 77)  # not the asker
        assert answer(2)["text"] == "This confirmation belongs to someone else."
        server.press(confirm, OWNER)
        done = answer(3)["text"]
        assert done.startswith("✅"), done
        assert rig.venue_size(COIN) == pytest.approx(0.0)
        assert [a for a, _s in queued(rig)] == ["open", "close"]
        assert rig.cycle().returncode == 0
        assert rig.book_size(COIN) == pytest.approx(0.0)  # closed in the book
        server.press(confirm, OWNER)  # again: spent
        assert answer(4)["text"] == "Confirmation expired — nothing done; ask again."
        # an expired confirmation: the daemon's nonce outlived (its clock moved on)
        c2 = actions.post("/api/confirm", {"action": "open", "strategy_id": SID, "params": params})[
            1
        ]
        actions.post(f"/api/strategies/{SID}/open", {"nonce": c2["nonce"], "params": params})
        server.command(f"/close {SID}", OWNER)
        late = answer(5)["reply_markup"]["inline_keyboard"][0][0]["callback_data"]
        actions.nonces._clock = lambda: time.monotonic() + 61
        server.press(late, OWNER)
        assert answer(6)["text"] == "Confirmation expired — nothing done; ask again."
        assert rig.venue_size(COIN) == pytest.approx(0.5)  # still open
        assert [a for a, _s in queued(rig)].count("close") == 1
    finally:
        stop.set()
        th.join(timeout=10)
        server.close()
        httpd.shutdown()
