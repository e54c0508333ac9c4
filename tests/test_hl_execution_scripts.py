"""The Hyperliquid live scripts as the supervisor runs them: real argv, env and exit codes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import eth_account
import pytest

from platforms.hyperliquid.localvenue import LocalVenueServer

ROOT = Path(__file__).resolve().parents[1]
NOW_S = 1_767_225_600
OWNER_KEY = "0x" + "11" * 32  # throwaway keys, for these tests only
AGENT_KEY = "0x" + "22" * 32


@pytest.fixture
def venue(monkeypatch: pytest.MonkeyPatch) -> Iterator[LocalVenueServer]:
    monkeypatch.setenv("GO_TRADER_NOW", str(NOW_S))
    server = LocalVenueServer(port=0, seed=7).start()
    owner = eth_account.Account.from_key(OWNER_KEY).address
    server.venue.add_account(owner)
    server.venue.add_agent(owner, eth_account.Account.from_key(AGENT_KEY).address)
    try:
        yield server
    finally:
        server.stop()


def script(name: str, args: list[str], url: str, **env: str) -> tuple[int, dict, str]:
    full = dict(os.environ)
    full.update(
        GO_TRADER_NOW=str(NOW_S),
        GO_TRADER_HL_BASE_URL=url,
        HYPERLIQUID_SECRET_KEY=AGENT_KEY,
        HYPERLIQUID_ACCOUNT_ADDRESS=eth_account.Account.from_key(OWNER_KEY).address,
    )
    full.update(env)
    for k in [k for k, v in full.items() if v == ""]:
        del full[k]
    proc = subprocess.run(
        [sys.executable, str(ROOT / "shared_scripts" / name), *args],
        capture_output=True,
        text=True,
        env=full,
        timeout=60,
    )
    out = proc.stdout + proc.stderr
    assert AGENT_KEY[2:] not in out and OWNER_KEY[2:] not in out  # never printed
    return proc.returncode, json.loads(proc.stdout) if proc.stdout.strip() else {}, out


def test_execute_argv_env_and_exit_codes(venue: LocalVenueServer) -> None:
    argv = ["--execute", "--symbol=ETH", "--side=buy", "--size=1", "--stop-loss-pct=2"]
    code, doc, _ = script("check_hyperliquid.py", [*argv, "--mode=paper"], venue.url)
    assert code == 1 and doc == {"error": "--execute requires --mode=live", "execution": None}
    code, doc, _ = script(
        "check_hyperliquid.py", [*argv, "--mode=live"], venue.url, HYPERLIQUID_SECRET_KEY=""
    )
    assert code == 1 and doc["error"].startswith("HYPERLIQUID_SECRET_KEY is not set")
    code, doc, _ = script(
        "check_hyperliquid.py", [*argv, "--mode=live"], venue.url, HYPERLIQUID_ACCOUNT_ADDRESS=""
    )
    assert code == 1 and doc["error"].startswith("HYPERLIQUID_ACCOUNT_ADDRESS is not set")
    code, doc, _ = script(
        "check_hyperliquid.py", [*argv, "--mode=live"], venue.url, HYPERLIQUID_SECRET_KEY="0xzz"
    )
    assert code == 1 and "not a hex private key" in doc["error"]
    code, doc, _ = script("check_hyperliquid.py", [*argv, "--mode=live"], venue.url)
    assert code == 0, doc
    assert doc["execution"]["fill"]["total_sz"] == 1.0 and doc["stop_loss_oid"] > 0
    code, _, _ = script("check_hyperliquid.py", [*argv, "--mode=paper", "--probe-only"], venue.url)
    assert code == 0
    code, doc, out = script("check_hyperliquid.py", ["--execute", "--sync-protection"], venue.url)
    assert code == 2 and doc == {} and "exactly one mode" in out


def test_remote_http_base_is_refused(venue: LocalVenueServer) -> None:
    code, doc, _ = script(
        "check_hyperliquid.py",
        ["--account-state", "--mode=live"],
        "http://api.example.com",
    )
    assert code == 1 and "GO_TRADER_HL_BASE_URL" in doc["error"] and "https" in doc["error"]


def test_close_and_fetch_scripts(venue: LocalVenueServer) -> None:
    code, doc, _ = script(
        "close_hyperliquid_position.py", ["--symbol=ETH", "--mode=live"], venue.url
    )
    assert code == 0 and doc["already_flat"] is True and doc["close"] is None
    code, doc, _ = script(
        "fetch_hl_user_fills.py", [f"--since-ms={NOW_S * 1000}", "--mode=live"], venue.url
    )
    assert (
        code == 0 and doc["count"] == 0 and "verify HYPERLIQUID_ACCOUNT_ADDRESS" in doc["warning"]
    )
