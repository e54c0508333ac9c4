"""A live rig for OKX, TopStep and Robinhood with stand-in venue workers (tests/fakes/
venue_standin.py) in a tmp dir, picked up through GO_TRADER_LIVE_SCRIPT_DIR; one supervisor
cycle per call (``go-trader --once`` at a pinned time). Offline: no venue, no network."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

from shared_tools.market import sim_model

REPO = Path(__file__).resolve().parent.parent
FAKES = Path(__file__).resolve().parent / "fakes"
T0 = 1_767_225_600 + 3600
SEED = 42
ROLES = {
    "check": "check_{v}.py",
    "close": "close_{v}_position.py",
    "positions": "fetch_{v}_positions.py",
    "balance": "fetch_{v}_balance.py",
    "bills": "fetch_{v}_bills.py",
}
CREDS = {
    "OKX_API_KEY": "k",
    "OKX_API_SECRET": "s",
    "OKX_PASSPHRASE": "p",
    "TOPSTEP_API_KEY": "k",
    "TOPSTEP_API_SECRET": "s",
    "TOPSTEP_ACCOUNT_ID": "1",
    "ROBINHOOD_USERNAME": "u",
    "ROBINHOOD_PASSWORD": "p",
    "ROBINHOOD_TOTP_SECRET": "JBSWY3DPEHPK3PXP",
}


def strategy(sid: str, venue: str, coin: str, stype: str, **extra: Any) -> dict:
    args = [sid, coin, "1h", "--mode=live"]
    entry = {
        "id": sid,
        "type": stype,
        "platform": venue,
        "script": str(FAKES / "fake_answer.py"),
        "allow_external_script": True,
        "args": args,
        "capital": 10_000,
        "max_drawdown_pct": 99,
    }
    if stype == "perps":
        entry.update(leverage=1, margin_per_trade_usd=1000)
    if stype == "futures":
        entry.update(capital=60_000, futures={"max_contracts": 2}, direction="long")
    entry.update(extra)
    return entry


OKX_SWAP = ("okx-swap", "okx", "BTC", "perps")
OKX_SPOT = ("okx-spot", "okx", "ETH", "spot")
TOPSTEP = ("ts-es", "topstep", "ES", "futures")
ROBINHOOD = ("rh-btc", "robinhood", "BTC", "spot")


class VenueRig:
    def __init__(self, tmp: Path, strategies: list[dict], risk: dict | None = None) -> None:
        self.tmp = tmp
        self.scripts = tmp / "scripts"
        self.scripts.mkdir(exist_ok=True)
        for v in ("okx", "topstep", "robinhood"):
            for role, name in ROLES.items():
                (self.scripts / name.format(v=v)).write_text(
                    f"import sys\nsys.path.insert(0, {str(FAKES)!r})\n"
                    f"sys.path.insert(0, {str(REPO)!r})\nimport venue_standin\n"
                    f"sys.exit(venue_standin.main({v!r}, {role!r}))\n"
                )
        self.db = tmp / "state.db"
        cfg: dict[str, Any] = {
            "config_version": 17,
            "interval_seconds": 300,
            "db_file": str(self.db),
            "market_data": "simulated",
            "strategies": strategies,
        }
        if risk:
            cfg["portfolio_risk"] = risk
        self.config = tmp / "config.json"
        self.config.write_text(json.dumps(cfg, indent=2))
        self.now = T0

    def env(self) -> dict[str, str]:
        env = dict(os.environ)
        env.update(CREDS)
        env.update(
            GO_TRADER_NOW=str(self.now),
            GO_TRADER_SIM_SEED=str(SEED),
            GO_TRADER_MARKET_DATA="simulated",
            GO_TRADER_OHLCV_CACHE=str(self.tmp / "ohlcv.db"),
            GO_TRADER_FAKE_STATE_DIR=str(self.tmp),
            GO_TRADER_LIVE_SCRIPT_DIR=str(self.scripts),
            GO_TRADER_ALLOW_MISSING_STATE="1",
            PYTHONUNBUFFERED="1",
        )
        env.pop("STATUS_AUTH_TOKEN", None)
        return env

    def at(self, t: int) -> None:
        self.now = int(t)

    def signal(self, sid: str, coin: str, signal: int) -> None:
        doc = {
            "symbol": coin,
            "timeframe": "1h",
            "signal": signal,
            "price": sim_model.price(coin, self.now, SEED),
        }
        (self.tmp / f"answer-{sid}.json").write_text(json.dumps(doc))

    def faults(self, venue: str, **counts: int) -> None:
        (self.tmp / f"venue-{venue}-faults.json").write_text(json.dumps(counts))

    def argv(self) -> list[str]:
        return [sys.executable, "-m", "supervisor.cli", "--config", str(self.config), "--once"]

    def cycle(self, timeout: float = 120) -> subprocess.CompletedProcess:
        return subprocess.run(
            self.argv(), cwd=REPO, env=self.env(), capture_output=True, text=True, timeout=timeout
        )

    def popen(self) -> subprocess.Popen:
        return subprocess.Popen(
            self.argv(),
            cwd=REPO,
            env=self.env(),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )

    # -- what each side holds ---------------------------------------------------------------
    def venue(self, venue: str) -> dict[str, Any]:
        path = self.tmp / f"venue-{venue}.json"
        return (
            json.loads(path.read_text())
            if path.exists()
            else {"positions": {}, "spot": {}, "orders": {}, "sends": []}
        )

    def venue_size(self, venue: str, coin: str, spot: bool = False) -> float:
        return float(self.venue(venue)["spot" if spot else "positions"].get(coin, 0.0))

    def book(self) -> dict[str, Any]:
        con = sqlite3.connect(self.db)
        try:
            pos = {
                (r[0], r[1]): (r[2], r[3])
                for r in con.execute("SELECT strategy_id, symbol, side, quantity FROM positions")
            }
            trades = con.execute(
                "SELECT strategy_id, side, quantity, price, fee, reason, order_id FROM trades "
                "ORDER BY rowid"
            ).fetchall()
            intents = con.execute(
                "SELECT cloid, leg, status, fill_qty, error FROM order_intents ORDER BY rowid"
            ).fetchall()
        finally:
            con.close()
        return {"positions": pos, "trades": trades, "intents": intents}

    def intent_owner(self, cloid: str) -> str:
        con = sqlite3.connect(self.db)
        try:
            row = con.execute(
                "SELECT strategy_id FROM order_intents WHERE cloid = ?", (cloid,)
            ).fetchone()
        finally:
            con.close()
        return str(row[0]) if row else ""

    def book_size(self, sid: str, coin: str) -> float:
        side_qty = self.book()["positions"].get((sid, coin))
        if side_qty is None:
            return 0.0
        return side_qty[1] if side_qty[0] == "long" else -side_qty[1]


def latch_kill_switch(db: Path) -> None:
    con = sqlite3.connect(db)
    (extra,) = con.execute("SELECT extra_json FROM app_state WHERE id = 1").fetchone()
    doc = json.loads(extra)
    doc.setdefault("portfolio_risk", {}).update(
        kill_switch=True, kill_switch_at="2026-01-01T01:00:00Z", reason="test: drawdown"
    )
    con.execute("UPDATE app_state SET extra_json = ? WHERE id = 1", (json.dumps(doc),))
    con.commit()
    con.close()


def latch_breaker(db: Path, sid: str) -> None:
    con = sqlite3.connect(db)
    con.execute(
        "UPDATE strategies SET risk_circuit_breaker = 1, risk_circuit_breaker_until = ?, "
        "risk_circuit_breaker_reason = 'circuit breaker: test' WHERE id = ?",
        ("2026-01-09T00:00:00.000000Z", sid),
    )
    con.commit()
    con.close()


def app_extra(db: Path) -> dict:
    con = sqlite3.connect(db)
    (extra,) = con.execute("SELECT extra_json FROM app_state WHERE id = 1").fetchone()
    con.close()
    return json.loads(extra)
