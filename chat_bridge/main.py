"""``go-trader chat-bridge``: start the bridge for the configured chats.

It reads the same config file as the daemon (``discord``/``telegram`` sections), the bot
tokens from ``DISCORD_BOT_TOKEN``/``TELEGRAM_BOT_TOKEN``, and the daemon's status token from
``STATUS_AUTH_TOKEN`` or ``status_token`` beside the state DB (made by the daemon's first
start; the bridge waits for it). The API is ``http://127.0.0.1:<status_port>`` unless
``--api`` says otherwise. Test servers: ``GO_TRADER_DISCORD_API``,
``GO_TRADER_DISCORD_GATEWAY``, ``GO_TRADER_TELEGRAM_API`` (http only on 127.0.0.1),
``GO_TRADER_GITHUB_API_URL`` (/report-an-issue).
Exit 78 on a config problem, as the daemon. While it runs it beats ``chat_bridge.alive`` beside
the state DB, so the daemon leaves Telegram's updates to it (shared_tools/chat_owner.py).
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
import time
from pathlib import Path
from typing import Any

from shared_tools import chat_owner
from shared_tools.config.load import load_config
from shared_tools.config.model import Config, ConfigError
from shared_tools.urls import insecure_base

EXIT_CONFIG = 78
DISCORD_API = "https://discord.com/api/v10"
TELEGRAM_API = "https://api.telegram.org"
TOKEN_FILE = "status_token"  # supervisor/http/token.py writes it (the bridge only reads)
TOKEN_WAIT_S = 120.0


def log(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def fail(line: str) -> None:
    log(line)
    sys.exit(EXIT_CONFIG)


def status_token(config: Config, wait_s: float = TOKEN_WAIT_S) -> str:
    """The daemon's API token: the env's, else its file (waiting for a first start)."""
    if os.environ.get("STATUS_AUTH_TOKEN"):
        return os.environ["STATUS_AUTH_TOKEN"]
    path = Path(config.db_file).resolve().parent / TOKEN_FILE
    deadline = time.monotonic() + wait_s
    while True:
        try:
            text = path.read_text(encoding="ascii").strip()
            if text:
                return text
        except FileNotFoundError:
            pass
        except OSError as exc:
            fail(f"{path}: cannot read the daemon's status token ({exc}); check its permissions")
        if time.monotonic() > deadline:
            fail(
                f"{path} does not exist: start the daemon once (it creates the token), or set "
                "STATUS_AUTH_TOKEN"
            )
        time.sleep(1.0)


def base(env: str, default: str) -> str:
    url = os.environ.get(env) or default
    why = insecure_base(env, url)
    if why:
        fail(why)
    return url


def build(config: Config, api_url: str, stop: threading.Event, backoff_s: float = 1.0) -> list[Any]:
    """The transports to run (each with a ``run()``); none enabled is a config error."""
    from chat_bridge.core import Access, Bridge
    from chat_bridge.daemon_api import DaemonAPI
    from chat_bridge.github import ReportSettings
    from chat_bridge.store import FILE, Store

    store = Store(Path(config.db_file).resolve().parent / FILE)
    dc, tg = config.notify.discord, config.notify.telegram
    access = {
        "discord": Access(
            dc.owner, dc.public_commands, frozenset(dc.allowed_channels), dc.ephemeral_replies
        ),
        "telegram": Access(tg.owner),
    }
    report = ReportSettings(dc.report_repo, dc.report_github_token)
    api = DaemonAPI(api_url, status_token(config))
    bridge = Bridge(api, access, Path(config.path), report=report, store=store)
    out: list[Any] = []
    if dc.enabled and os.environ.get("DISCORD_BOT_TOKEN"):
        from chat_bridge.discord_gw import Discord

        out.append(
            Discord(
                bridge,
                store,
                os.environ["DISCORD_BOT_TOKEN"],
                base("GO_TRADER_DISCORD_API", DISCORD_API),
                log,
                stop,
                owner=dc.owner,
                gateway=os.environ.get("GO_TRADER_DISCORD_GATEWAY") or None,
                backoff_s=backoff_s,
            )
        )
    if tg.enabled and os.environ.get("TELEGRAM_BOT_TOKEN"):
        from chat_bridge.owner_replies import OwnerReplies
        from chat_bridge.telegram import Telegram

        reset_file = chat_owner.reset_request_path(config.db_file)

        out.append(
            Telegram(
                bridge,
                store,
                os.environ["TELEGRAM_BOT_TOKEN"],
                base("GO_TRADER_TELEGRAM_API", TELEGRAM_API),
                log,
                stop,
                backoff_s=backoff_s,
                replies=OwnerReplies(api, reset_file, config.notify.reset_dm_window_s),
            )
        )
    if not out:
        fail(
            f"{config.path}: nothing to bridge: enable discord (DISCORD_BOT_TOKEN) or telegram "
            "(TELEGRAM_BOT_TOKEN) in the config and the environment"
        )
    return out


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="go-trader chat-bridge", description=__doc__.split("\n")[0])
    p.add_argument("--config", default="config.json", help="config file [config.json]")
    p.add_argument("--api", default=None, help="the daemon's API [http://127.0.0.1:<status_port>]")
    args = p.parse_args(argv)
    try:
        config = load_config(args.config)
    except ConfigError as exc:
        for line in exc.lines:
            log(line)
        sys.exit(EXIT_CONFIG)
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    transports = build(config, args.api or f"http://127.0.0.1:{config.status_port}", stop)
    threads = [
        threading.Thread(target=t.run, name=type(t).__name__, daemon=True) for t in transports
    ]
    for t in threads:
        t.start()
    log(f"[chat-bridge] running: {', '.join(type(t).__name__ for t in transports)}")
    alive = chat_owner.alive_path(config.db_file)
    names = [type(t).__name__.lower() for t in transports]
    try:
        while not stop.is_set():
            try:
                chat_owner.beat(alive, names, time.time())
            except OSError as exc:
                log(f"[chat-bridge] {alive}: heartbeat not written ({exc})")
            stop.wait(chat_owner.BEAT_S)
    finally:
        chat_owner.clear(alive)  # the daemon reads Telegram again at once
    for t in threads:
        t.join(timeout=10)
    log("[chat-bridge] stopped")
