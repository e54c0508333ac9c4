"""Shared fixtures: temp configs, a CLI runner and a background daemon on loopback."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
FAKES = Path(__file__).resolve().parent / "fakes"
FAKE = Path(__file__).resolve().parent / "fakes" / "fake_check.py"
PINNED_NOW = "2025-06-01T12:00:00Z"


def free_port() -> int:
    """A port the kernel just handed out on 127.0.0.1: tests never use fixed port numbers, so
    parallel workers (pytest-xdist, other checkouts on the same machine) never collide."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(autouse=True, scope="session")
def _private_scratch(tmp_path_factory):
    """Point the fakes' state files and the OHLCV cache at a directory of this worker's own.

    The suite runs on several pytest-xdist workers at once (scripts/test.sh); without this a test
    that forgets base_env() would share /tmp/counter-* or state/ohlcv_cache.db with the other
    worker. Tests that set these themselves (base_env, monkeypatch) still win."""
    scratch = tmp_path_factory.mktemp("scratch")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("GO_TRADER_FAKE_STATE_DIR", str(scratch))
        mp.setenv("FAKE_STATE_DIR", str(scratch))
        mp.setenv("GO_TRADER_OHLCV_CACHE", str(scratch / "ohlcv.db"))
        yield scratch


def base_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        {
            "GO_TRADER_MARKET_DATA": "simulated",
            "GO_TRADER_OHLCV_CACHE": str(tmp_path / "ohlcv.db"),
            "GO_TRADER_FAKE_STATE_DIR": str(tmp_path),
            "PYTHONUNBUFFERED": "1",
        }
    )
    env.pop("STATUS_AUTH_TOKEN", None)
    env.pop("GO_TRADER_NOW", None)
    env.update(extra)
    return env


def fake_strategy(sid: str, behaviour: str, symbol: str = "BTC/USDT", **extra) -> dict:
    entry = {
        "id": sid,
        "type": "spot",
        "script": str(FAKE),
        "allow_external_script": True,  # the fake lives in tests/, outside shared_scripts/
        "args": [behaviour, symbol, "1h"],
        "capital": 1000,
        "max_drawdown_pct": 99,
    }
    entry.update(extra)
    return entry


def write_config(tmp_path: Path, strategies: list[dict], **top) -> Path:
    cfg = {
        "config_version": 17,
        "interval_seconds": 300,
        "db_file": str(tmp_path / "state.db"),
        "market_data": "simulated",
        "strategies": strategies,
    }
    cfg.update(top)
    path = tmp_path / "config.json"
    path.write_text(json.dumps(cfg, indent=2))
    return path


def run_cli(args: list[str], env: dict, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "supervisor.cli", *args],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def http_get(port: int, path: str, token: str | None = None) -> tuple[int, dict]:
    req = urllib.request.Request(f"http://127.0.0.1:{port}{path}")
    if token:
        req.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"{}")


class Daemon:
    """A supervisor process in the background, with helpers to wait on its status endpoint."""

    def __init__(self, config: Path, env: dict, port: int, log: Path) -> None:
        self.port = port
        self.env_token = env.get("STATUS_AUTH_TOKEN") or None
        self.token_file = Path(json.loads(config.read_text())["db_file"]).resolve().parent
        self.token_file /= "status_token"
        self.log_path = log
        self._log = open(log, "w")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "supervisor.cli",
                "--config",
                str(config),
                "--status-port",
                str(port),
            ],
            cwd=REPO,
            env=env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def log(self) -> str:
        self._log.flush()
        return self.log_path.read_text()

    @property
    def token(self) -> str | None:
        """The API token the daemon requires: its STATUS_AUTH_TOKEN, else the one it made in
        the state directory on start (None until it exists)."""
        if self.env_token:
            return self.env_token
        try:
            return self.token_file.read_text().strip() or None
        except FileNotFoundError:
            return None

    def get(self, path: str) -> tuple[int, dict]:
        """GET ``path`` with the daemon's token."""
        return http_get(self.port, path, self.token)

    def wait_status(self, predicate, timeout: float = 60, token: str | None = None) -> dict:
        deadline = time.time() + timeout
        last: dict = {}
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"daemon exited {self.proc.returncode}:\n{self.log()}")
            try:
                code, body = http_get(self.port, "/status", token or self.token)
                if code == 200:
                    last = body
                    if predicate(body):
                        return body
            except (OSError, ValueError):
                pass
            time.sleep(0.2)
        raise AssertionError(
            f"timed out waiting; last status: {json.dumps(last)[:2000]}\n{self.log()}"
        )

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 25) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        self._log.close()
        return self.proc.returncode


@pytest.fixture
def daemons():
    started: list[Daemon] = []

    def start(config: Path, env: dict, port: int | None = None) -> Daemon:
        d = Daemon(config, env, port or free_port(), config.parent / f"daemon{len(started)}.log")
        started.append(d)
        return d

    yield start
    for d in started:
        if d.proc.poll() is None:
            os.killpg(d.proc.pid, signal.SIGKILL)
            d.proc.wait()


@pytest.fixture
def sup_for(tmp_path, monkeypatch):
    """Build in-process supervisors on a temp config; marks come from fakes/fake_marks.py."""
    import io

    from shared_tools.config.load import load_config
    from supervisor import cycle as cycle_mod
    from supervisor.daemon import Supervisor

    monkeypatch.setenv("GO_TRADER_FAKE_STATE_DIR", str(tmp_path))
    monkeypatch.setenv("FAKE_STATE_DIR", str(tmp_path))
    monkeypatch.setattr(cycle_mod, "PRICE_SCRIPT", str(FAKES / "fake_marks.py"))
    made: list = []

    def make(strategies: list[dict], **top) -> Supervisor:
        sup = Supervisor(
            load_config(write_config(tmp_path, strategies, **top)), once=True, out=io.StringIO()
        )
        assert sup.start() == 0
        made.append(sup)
        return sup

    yield make
    for sup in made:
        sup.shutdown()


@pytest.fixture
def fake_chat(monkeypatch):
    """A fake Discord + Telegram API on 127.0.0.1 (tests/fakes/fake_chat.py), with this
    process's environment pointing the notify sender at it."""
    from fakes.fake_chat import FakeChat

    chat = FakeChat()
    for key, value in chat.env().items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("DISCORD_OWNER_ID", raising=False)
    yield chat
    chat.delay_s = 0
    chat.release()
    chat.down()
