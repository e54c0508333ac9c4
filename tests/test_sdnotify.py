"""systemd notify protocol: the datagrams reach a real AF_UNIX socket, in the right order."""

from __future__ import annotations

import os
import socket
import sqlite3
import threading
import time
import uuid

import pytest
from conftest import base_env, fake_strategy, write_config

from supervisor.service import sdnotify
from supervisor.service.sdnotify import SdNotify


@pytest.fixture
def listener(tmp_path):
    """A datagram socket bound in tmp, like the one systemd hands out in NOTIFY_SOCKET."""
    path = tmp_path / "notify.sock"
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(str(path))
    sock.settimeout(0.2)
    yield sock, str(path)
    sock.close()


def drain(sock: socket.socket) -> list[str]:
    out = []
    while True:
        try:
            out.append(sock.recv(4096).decode())
        except TimeoutError:
            return out


def test_send_reaches_a_path_socket_and_is_a_silent_no_op_without_one(listener, tmp_path):
    sock, path = listener
    assert sdnotify.send("READY=1\nSTATUS=hi", {"NOTIFY_SOCKET": path})
    assert sock.recv(4096) == b"READY=1\nSTATUS=hi"
    assert not sdnotify.send("READY=1", {})
    assert not sdnotify.send("READY=1", {"NOTIFY_SOCKET": str(tmp_path / "missing.sock")})
    SdNotify({}).cycle_done(1)  # outside systemd: nothing to do, nothing raised


def test_abstract_namespace_socket():
    name = f"go-trader-test-{uuid.uuid4().hex}"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.bind("\0" + name)
        sock.settimeout(2)
        assert sdnotify.send("WATCHDOG=1", {"NOTIFY_SOCKET": "@" + name})
        assert sock.recv(64) == b"WATCHDOG=1"


def test_watchdog_interval_is_half_of_watchdog_usec_and_only_for_the_watched_pid():
    assert sdnotify.watchdog_interval({"WATCHDOG_USEC": "20000000"}) == 10.0
    mine = {"WATCHDOG_USEC": "4000000", "WATCHDOG_PID": str(os.getpid())}
    assert sdnotify.watchdog_interval(mine) == 2.0
    assert sdnotify.watchdog_interval({**mine, "WATCHDOG_PID": str(os.getpid() + 1)}) is None
    assert sdnotify.watchdog_interval({"WATCHDOG_USEC": "0"}) is None
    assert sdnotify.watchdog_interval({"WATCHDOG_USEC": "soon"}) is None
    assert sdnotify.watchdog_interval({}) is None


def test_ready_waits_for_a_committed_cycle_and_is_sent_once(listener):
    sock, path = listener
    sd = SdNotify({"NOTIFY_SOCKET": path})
    sd.cycle_done(1, "state save failed: disk full")
    sd.cycle_done(2)
    sd.cycle_done(3)
    got = drain(sock)
    assert len(got) == 3
    assert "READY=1" not in got[0] and "WATCHDOG=1" in got[0] and "disk full" in got[0]
    assert got[1].split("\n") == ["READY=1", "WATCHDOG=1", "STATUS=cycle 2 committed"]
    assert "READY=1" not in got[2] and "WATCHDOG=1" in got[2]


def test_idle_sleep_keeps_pinging_the_watchdog_and_wakes_early(listener):
    sock, path = listener
    sd = SdNotify({"NOTIFY_SOCKET": path, "WATCHDOG_USEC": "100000"})  # ping every 0.05 s
    wake = threading.Event()
    assert sd.sleep(wake, 0.4) is False
    pings = drain(sock)
    assert pings and set(pings) == {"WATCHDOG=1"}
    threading.Timer(0.1, wake.set).start()
    assert sd.sleep(wake, 60) is True  # returns on the wake-up, not after 60 s


def committed_cycles(db: str) -> int:
    try:
        with sqlite3.connect(db, timeout=5) as conn:
            row = conn.execute("SELECT cycle_count FROM app_state").fetchone()
    except sqlite3.OperationalError:  # not created yet
        return 0
    return row[0] if row else 0


def test_daemon_sends_ready_after_the_first_commit_then_a_watchdog_per_cycle(
    listener, tmp_path, daemons
):
    sock, path = listener
    sock.settimeout(60)
    # slowflip sleeps inside the check: a wide window in which cycle 1 runs but is not committed
    cfg = write_config(tmp_path, [fake_strategy("a", "slowflip", interval_seconds=1)])
    env = base_env(tmp_path, NOTIFY_SOCKET=path, WATCHDOG_USEC="30000000")
    d = daemons(cfg, env)
    db = str(tmp_path / "state.db")
    first = sock.recv(4096).decode()
    cycles_at_ready = committed_cycles(db)
    assert first.startswith("READY=1\n"), first
    assert cycles_at_ready >= 1  # the cycle was on disk before systemd heard READY
    seen = [first]
    deadline = time.time() + 60
    while sum("STATUS=cycle" in m for m in seen) < 3 and time.time() < deadline:
        seen.append(sock.recv(4096).decode())
    cycle_msgs = [m for m in seen if "STATUS=cycle" in m]
    assert len(cycle_msgs) >= 3
    assert all("WATCHDOG=1" in m for m in cycle_msgs)
    numbers = [int(m.split("STATUS=cycle ")[1].split()[0]) for m in cycle_msgs]
    assert numbers == sorted(numbers) and len(set(numbers)) == len(numbers)
    assert sum("READY=1" in m for m in seen) == 1
    assert d.stop() == 0
    tail = drain(sock)
    assert any(m.startswith("STOPPING=1") for m in tail), tail
