"""A daemon on the simulated market whose book holds trades and then stands still, for the
dashboard's API and browser tests: three ``--once`` cycles of flipping fakes make the trades,
then the daemon starts with an hour between cycles, so what the API shows can be compared
exactly with the state DB."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

from conftest import Daemon, base_env, fake_strategy, free_port, run_cli, write_config

IDS = ("alpha", "beta")
ONCE_CYCLES = 3


def book_trades(db: Path, sid: str) -> list[tuple[str, str, int, float]]:
    """(timestamp, side, is_close, price) of a strategy's buys and sells, oldest first."""
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        return con.execute(
            "SELECT timestamp, side, is_close, price FROM trades WHERE strategy_id = ? "
            "AND side IN ('buy', 'sell') ORDER BY timestamp, rowid",
            (sid,),
        ).fetchall()
    finally:
        con.close()


def start_still_daemon(tmp: Path) -> tuple[Daemon, Path]:
    """(daemon, state DB): trades made, then a daemon that will not trade for an hour."""
    strategies = [
        fake_strategy(IDS[0], "flip", "BTC/USDT"),
        fake_strategy(IDS[1], "flip", "ETH/USDT"),
    ]
    cfg = write_config(tmp, strategies, interval_seconds=3600)
    env = base_env(tmp)
    for _ in range(ONCE_CYCLES):
        out = run_cli(["--config", str(cfg), "--once"], env)
        assert out.returncode == 0, out.stdout + out.stderr
    db = tmp / "state.db"
    d = Daemon(cfg, env, free_port(), tmp / "daemon.log")
    d.wait_status(lambda s: s["cycle_count"] >= ONCE_CYCLES and not s["cycle_in_progress"])
    # the daemon may run one cycle at start: wait until the book stands still
    last, deadline = None, time.time() + 30
    while time.time() < deadline:
        now = (tuple(len(book_trades(db, i)) for i in IDS), d.get("/status")[1]["cycle_count"])
        if now == last:
            break
        last = now
        time.sleep(1.0)
    return d, db
