"""The chat bridge's memory: its RSS, and the supervisor's idle RSS with the bridge running.

    .venv/bin/python bench/chat_bridge.py [--runs 3]

Each run starts ``python -m supervisor.cli`` on a temp copy of examples/offline.json (simulated
market), waits for the first cycle and a few idle seconds, reads its RSS; then starts
``go-trader chat-bridge`` with Telegram and Discord enabled against local fake servers
(tests/chat_fakes.py: Bot API, REST and gateway on 127.0.0.1), has the owner run /status,
/positions and /leaderboard on each, and reads both RSS figures again after a few idle seconds.
Prints the median of --runs. No asserts: figures for the reader (the supervisor must stay as
it is, <= ~42 MiB; the bridge holds the chat clients instead).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests"))
sys.path.insert(0, str(HERE))

from chat_fakes import FakeDiscord, FakeTelegram  # noqa: E402
from dashboard import REPO, TOKEN, free_port, rss_mib, start, wait_cycle  # noqa: E402

OWNER = 4242
IDLE_S = 4.0


def bridge(workdir: Path, port: int, tg: FakeTelegram, dc: FakeDiscord) -> subprocess.Popen:
    cfg = json.loads((workdir / "config.json").read_text())
    cfg["telegram"] = {"enabled": True, "owner_chat_id": OWNER}
    cfg["discord"] = {"enabled": True, "owner_id": str(OWNER)}
    (workdir / "bridge.json").write_text(json.dumps(cfg))
    env = {
        **os.environ,
        "STATUS_AUTH_TOKEN": TOKEN,
        "TELEGRAM_BOT_TOKEN": tg.TOKEN,
        "GO_TRADER_TELEGRAM_API": tg.url,
        "DISCORD_BOT_TOKEN": "bench",
        "GO_TRADER_DISCORD_API": dc.url,
        "GO_TRADER_DISCORD_GATEWAY": dc.gateway.url,
    }
    exe = Path(sys.executable).parent / "go-trader"
    cmd = [str(exe), "chat-bridge", "--config", str(workdir / "bridge.json")]
    return subprocess.Popen(
        [*cmd, "--api", f"http://127.0.0.1:{port}"],
        cwd=REPO,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def use(tg: FakeTelegram, dc: FakeDiscord) -> None:
    """The owner asks a few commands on both chats; returns once all are answered."""
    for n, cmd in enumerate(("status", "positions", "leaderboard")):
        tg.command(f"/{cmd}", OWNER)
        d = {
            "id": f"i{n}",
            "token": f"t{n}",
            "type": 2,
            "channel_id": "c",
            "user": {"id": str(OWNER)},
        }
        dc.gateway.dispatch("INTERACTION_CREATE", {**d, "data": {"name": f"go-trader-{cmd}"}})
    deadline = time.time() + 60
    while len(tg.sent()) < 3 or len(dc.of("PATCH", "@original")) < 3:
        if time.time() > deadline:
            raise SystemExit("the bridge did not answer in time")
        time.sleep(0.1)


def one_run() -> tuple[float, float, float]:
    workdir = Path(tempfile.mkdtemp(prefix="bench-bridge-"))
    port = free_port()
    sup = start(workdir, port)
    tg, dc = FakeTelegram(), FakeDiscord()
    br = None
    try:
        wait_cycle(port, sup)
        time.sleep(IDLE_S)
        alone = rss_mib(sup.pid)
        br = bridge(workdir, port, tg, dc)
        if not dc.gateway.identified.wait(60):
            raise SystemExit("the bridge never connected to the gateway")
        use(tg, dc)
        time.sleep(IDLE_S)
        return alone, rss_mib(sup.pid), rss_mib(br.pid)
    finally:
        for p in (br, sup):
            if p is not None:
                p.terminate()
                p.wait(30)
        tg.close()
        dc.close()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=3)
    ns = ap.parse_args()
    runs = [one_run() for _ in range(ns.runs)]
    alone, with_bridge, bridge_rss = (statistics.median(x) for x in zip(*runs, strict=True))
    print(
        f"supervisor idle RSS: {alone:.1f} MiB alone, {with_bridge:.1f} MiB with the bridge "
        f"running and used (median of {ns.runs})"
    )
    print(
        f"chat bridge RSS (Discord gateway + Telegram poll, after commands): {bridge_rss:.1f} MiB"
    )


if __name__ == "__main__":
    main()
