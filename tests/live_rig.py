"""A live rig for tests: the local Hyperliquid venue in-process, a live config pointing at it,
and one supervisor cycle per call (``go-trader --once`` at a pinned time).

Throwaway keys, loopback only. The strategy's check is ``tests/fakes/fake_answer.py`` so a
test decides each cycle's signal; everything else (marks, orders, reconcile, protection) is
the product's.
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import eth_account

from platforms.hyperliquid.localvenue import LocalVenueServer
from shared_tools.market import sim_model

REPO = Path(__file__).resolve().parent.parent
FAKES = Path(__file__).resolve().parent / "fakes"
OWNER_KEY = "0x" + "11" * 32  # throwaway keys, generated for these tests only
AGENT_KEY = "0x" + "22" * 32
T0 = 1_767_225_600  # 2026-01-01T00:00:00Z
SEED = 42


def owner() -> str:
    return eth_account.Account.from_key(OWNER_KEY).address


def sim(coin: str, t: float) -> float:
    return sim_model.price(coin, t, SEED)


def strategy(sid: str = "hl-live", coin: str = "ETH", **extra: Any) -> dict:
    entry = {
        "id": sid,
        "type": "perps",
        "platform": "hyperliquid",
        "script": str(FAKES / "fake_answer.py"),
        "allow_external_script": True,
        "args": [sid, coin, "1h", "--mode=live"],
        "capital": 10_000,
        "max_drawdown_pct": 99,
        "leverage": 2,
        "margin_per_trade_usd": 1000,
        "stop_loss_pct": 3,
        "close_strategies": [
            {
                "name": "tiered_tp_pct",
                "params": {
                    "tp_tiers": [
                        {"profit_pct": 0.003, "close_fraction": 0.5},
                        {"profit_pct": 0.006, "close_fraction": 1.0},
                    ]
                },
            }
        ],
    }
    entry.update(extra)
    return entry


class Rig:
    def __init__(self, tmp: Path, strategies: list[dict], usd: float = 10_000.0) -> None:
        self.tmp = tmp
        self._saved_now = os.environ.get("GO_TRADER_NOW")  # restored by close()
        os.environ["GO_TRADER_NOW"] = str(T0)
        self.server = LocalVenueServer(port=0, seed=SEED, initial_usd=usd).start()
        self.server.venue.add_account(owner())
        self.server.venue.add_agent(owner(), eth_account.Account.from_key(AGENT_KEY).address)
        self.db = tmp / "state.db"
        cfg = {
            "config_version": 17,
            "interval_seconds": 300,
            "db_file": str(self.db),
            "market_data": "simulated",
            "hyperliquid": {"base_url": self.server.url},
            "strategies": strategies,
        }
        self.config = tmp / "config.json"
        self.config.write_text(json.dumps(cfg, indent=2))
        self.now = T0

    def close(self) -> None:
        self.server.stop()
        if self._saved_now is None:  # later tests in this process run on the real clock
            os.environ.pop("GO_TRADER_NOW", None)
        else:
            os.environ["GO_TRADER_NOW"] = self._saved_now

    def env(self) -> dict[str, str]:
        env = dict(os.environ)
        env.update(
            GO_TRADER_NOW=str(self.now),
            GO_TRADER_SIM_SEED=str(SEED),
            GO_TRADER_MARKET_DATA="simulated",
            GO_TRADER_OHLCV_CACHE=str(self.tmp / "ohlcv.db"),
            GO_TRADER_FAKE_STATE_DIR=str(self.tmp),
            HYPERLIQUID_SECRET_KEY=AGENT_KEY,
            HYPERLIQUID_ACCOUNT_ADDRESS=owner(),
            GO_TRADER_ALLOW_MISSING_STATE="1",
            PYTHONUNBUFFERED="1",
        )
        env.pop("STATUS_AUTH_TOKEN", None)
        return env

    def at(self, t: int) -> None:
        """Move the venue's and the supervisor's clock to ``t`` (epoch seconds)."""
        self.now = int(t)
        os.environ["GO_TRADER_NOW"] = str(self.now)
        self.server.venue.clock.set_ms(self.now * 1000)

    def signal(self, sid: str, coin: str, signal: int, **extra: Any) -> None:
        doc = {"symbol": coin, "timeframe": "1h", "signal": signal, "price": sim(coin, self.now)}
        doc.update(extra)
        (self.tmp / f"answer-{sid}.json").write_text(json.dumps(doc))

    def cycle(self, timeout: float = 120) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "-m", "supervisor.cli", "--config", str(self.config), "--once"],
            cwd=REPO,
            env=self.env(),
            capture_output=True,
            text=True,
            timeout=timeout,
        )

    def popen(self) -> subprocess.Popen:
        return subprocess.Popen(
            [sys.executable, "-m", "supervisor.cli", "--config", str(self.config), "--once"],
            cwd=REPO,
            env=self.env(),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )

    # -- what each side holds ---------------------------------------------------------------
    def account(self):
        return self.server.venue.accounts[owner().lower()]

    def venue_size(self, coin: str) -> float:
        pos = self.account().positions.get(coin)
        return float(pos.szi) if pos is not None else 0.0

    def venue_cash(self) -> float:
        return float(self.account().usdc)

    def book(self) -> dict[str, Any]:
        con = sqlite3.connect(self.db)
        try:
            cash = {r[0]: r[1] for r in con.execute("SELECT id, cash FROM strategies")}
            pos = {
                (r[0], r[1]): (r[2], r[3], json.loads(r[4]))
                for r in con.execute(
                    "SELECT strategy_id, symbol, side, quantity, guard_json FROM positions"
                )
            }
            trades = con.execute(
                "SELECT strategy_id, side, quantity, price, fee, reason, order_id, trade_type "
                "FROM trades ORDER BY rowid"
            ).fetchall()
            intents = con.execute(
                "SELECT cloid, leg, status, oid, fill_qty, error FROM order_intents ORDER BY rowid"
            ).fetchall()
        finally:
            con.close()
        return {"cash": cash, "positions": pos, "trades": trades, "intents": intents}

    def book_cash(self) -> float:
        return sum(self.book()["cash"].values())

    def book_size(self, coin: str) -> float:
        total = 0.0
        for (_sid, sym), (side, qty, _g) in self.book()["positions"].items():
            if sym == coin:
                total += qty if side == "long" else -qty
        return total
