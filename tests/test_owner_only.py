"""Files and secrets stay the operator's: 0600 state files, https-only chat API bases."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys

import pytest
from conftest import REPO, base_env, run_cli, write_config

from shared_tools.urls import insecure_base


def test_a_run_leaves_the_state_db_wal_and_lock_readable_by_the_owner_only(tmp_path):
    cfg = json.loads((REPO / "examples" / "offline.json").read_text())
    path = write_config(tmp_path, cfg["strategies"], market_data="simulated")  # some trade
    env = base_env(tmp_path, GO_TRADER_NOW="2025-06-01T12:00:00Z")  # a cycle that trades
    old = os.umask(0o022)  # a permissive parent, as a login shell has
    try:
        proc = run_cli(["--config", str(path), "--once"], env)
    finally:
        os.umask(old)
    assert proc.returncode == 0, proc.stderr
    files = sorted(p for p in tmp_path.iterdir() if p.name.startswith("state.db"))
    names = {p.name for p in files}
    assert {"state.db", "state.db.lock"} <= names
    for p in files:
        assert stat.S_IMODE(p.stat().st_mode) == 0o600, (p.name, oct(p.stat().st_mode))
    out = tmp_path / "export.csv"
    args = ["export", "tradingview", "--all", "--config", str(path), "--output", str(out)]
    proc = run_cli(args, env)
    assert proc.returncode == 0, proc.stderr
    assert stat.S_IMODE(out.stat().st_mode) == 0o600


@pytest.mark.parametrize(
    "url, ok",
    [
        ("https://discord.com/api/v10", True),
        ("http://127.0.0.1:8081/discord", True),
        ("http://localhost:9/telegram", True),
        ("http://[::1]:9/x", True),
        ("http://discord.com/api/v10", False),
        ("http://10.0.0.5/api", False),
        ("ftp://127.0.0.1/x", False),
        ("https://", False),
        ("discord.com", False),
    ],
)
def test_a_chat_api_base_must_be_https_except_on_loopback(url, ok):
    why = insecure_base("GO_TRADER_DISCORD_API", url)
    assert (why == "") is ok
    if not ok:
        assert why.startswith("GO_TRADER_DISCORD_API=") and "https://" in why


def test_the_config_refuses_a_plain_http_chat_base(tmp_path, monkeypatch):
    from shared_tools.config.load import load_config
    from shared_tools.config.model import ConfigError

    path = write_config(tmp_path, [])
    monkeypatch.setenv("GO_TRADER_TELEGRAM_API", "http://api.telegram.org")
    with pytest.raises(ConfigError, match="GO_TRADER_TELEGRAM_API=.*https://"):
        load_config(path)


def test_the_chat_sender_never_sends_a_token_over_plain_http(tmp_path):
    env = base_env(tmp_path, GO_TRADER_DISCORD_API="http://example.invalid/api")
    env["DISCORD_BOT_TOKEN"] = "secret-token"
    proc = subprocess.run(
        [sys.executable, str(REPO / "shared_scripts" / "notify_send.py")],
        input=json.dumps({"messages": [{"id": 1, "transport": "discord", "to": "1"}]}),
        capture_output=True,
        text=True,
        cwd=REPO,
        env=env,
        timeout=60,
    )
    assert proc.returncode == 1
    doc = json.loads(proc.stdout)
    assert "GO_TRADER_DISCORD_API" in doc["error"] and "secret-token" not in proc.stdout
