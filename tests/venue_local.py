"""The three venues' own local venues (platforms/<venue>/localvenue) as processes for the live
desk's tests: the real worker scripts (no stand-ins) against OKX, TopStep and Robinhood on
127.0.0.1, their positions read back through the venues' own fetch scripts. Offline."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import requests
from venue_rig import REPO, VenueRig

T_OPEN = 1_796_742_000  # 2026-12-08T15:00Z, a Tuesday: CME Globex trades
ORDER_KIND = {"okx": "POST trade/order", "topstep": "place", "robinhood": "order"}
POSITIONS_KIND = {"okx": "GET account/positions", "topstep": "searchOpen", "robinhood": "holdings"}
TS_ACCOUNT = 1
CREDS = {
    "OKX_API_KEY": "test-key",
    "OKX_API_SECRET": "test-secret",
    "OKX_PASSPHRASE": "test-passphrase",
    "TOPSTEP_API_KEY": "test-key",
    "TOPSTEP_API_SECRET": "test-secret",
    "TOPSTEP_ACCOUNT_ID": str(TS_ACCOUNT),
    "ROBINHOOD_USERNAME": "test-user",
    "ROBINHOOD_PASSWORD": "test-pass",
}


class LocalVenues:
    """One process per venue; ``url[venue]``; ``control(venue, op=...)``; ``stop()``."""

    def __init__(self, seed: int = 42) -> None:
        self.procs: dict[str, subprocess.Popen] = {}
        self.url: dict[str, str] = {}
        env = {**os.environ, "GO_TRADER_NOW": str(T_OPEN)}
        extra = {"okx": [], "topstep": ["--account", str(TS_ACCOUNT)], "robinhood": []}
        try:
            for v in ("okx", "topstep", "robinhood"):
                proc = subprocess.Popen(
                    [sys.executable, "-m", f"platforms.{v}.localvenue", "--port", "0"]
                    + ["--seed", str(seed), *extra[v]],
                    cwd=REPO,
                    env=env,
                    stdout=subprocess.PIPE,
                    text=True,
                )
                self.procs[v] = proc
                assert proc.stdout is not None
                line = proc.stdout.readline().strip()
                assert line.startswith("localvenue: http://127.0.0.1:"), (v, line)
                self.url[v] = line.split(" ", 1)[1]
        except BaseException:
            self.stop()
            raise

    def control(self, venue: str, **body: Any) -> Any:
        return requests.post(f"{self.url[venue]}/control", json=body, timeout=10).json()

    def fault(self, venue: str, mode: str, kind: str = "", **params: Any) -> None:
        self.control(venue, op="fault", kind=kind or ORDER_KIND[venue], mode=mode, **params)

    def env(self) -> dict[str, str]:
        from platforms.robinhood.localvenue.exchange import DEFAULT_TOTP_SECRET

        return {
            **CREDS,
            "ROBINHOOD_TOTP_SECRET": DEFAULT_TOTP_SECRET,
            "OKX_BASE_URL": self.url["okx"],
            "TOPSTEP_BASE_URL": self.url["topstep"],
            "ROBINHOOD_BASE_URL": self.url["robinhood"],
        }

    def stop(self) -> None:
        for proc in self.procs.values():
            proc.terminate()
        for proc in self.procs.values():
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()


class LocalRig(VenueRig):
    """:class:`VenueRig` against the local venues: real workers, sizes read by fetch scripts."""

    def __init__(self, tmp: Path, strategies: list[dict], venues: LocalVenues) -> None:
        super().__init__(tmp, strategies)
        self.venues = venues
        self.now = T_OPEN

    def env(self) -> dict[str, str]:
        env = super().env()
        env.pop("GO_TRADER_LIVE_SCRIPT_DIR", None)
        env.update(self.venues.env())
        return env

    def venue_size(self, venue: str, coin: str, spot: bool = False) -> float:
        proc = subprocess.run(
            [sys.executable, str(REPO / "shared_scripts" / f"fetch_{venue}_positions.py")],
            cwd=REPO,
            env=self.env(),
            capture_output=True,
            text=True,
            timeout=60,
        )
        doc = json.loads(proc.stdout)
        assert proc.returncode == 0, doc
        total = 0.0
        for p in doc["positions"]:
            if str(p["coin"]).split("/")[0].split("-")[0].upper() == coin:
                size = float(p["size"])
                total += -abs(size) if str(p.get("side") or "").lower() == "short" else size
        return total

    def orders(self, venue: str) -> int:
        """How many orders the venue holds (any state)."""
        state = self.venues.control(venue, op="state")
        return _count_orders(state)


def _count_orders(state: Any) -> int:
    """The sum of every ``orders`` count in a venue's ``/control`` state (OKX: per account)."""
    if isinstance(state, dict):
        own = state.get("orders")
        if isinstance(own, int):
            return own
        return sum(_count_orders(v) for v in state.values() if isinstance(v, dict))
    return 0
