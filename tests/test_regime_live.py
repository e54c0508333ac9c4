"""Regime policies on live Hyperliquid (the local venue, through the real SDK): a certified
``regime_directional_policy`` opens the policy's side on the venue (the fill is booked under
the same effective rules, supervisor/live/fills.py) and ``stop_loss_atr_regime``'s stop of the
stamped label is the stop resting on the venue; without the keys, the base rules trade."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest
from live_rig import T0, Rig, strategy

from shared_tools.regime_policy import CERT_ENV

TABLE = {"trending_up": 3.0, "trending_down": 2.0, "ranging": 1.5}
POLICY = {
    "trend_regime": {
        "trending_up": {"direction": "long"},
        "trending_down": {"direction": "short"},
        "ranging": {"direction": "long"},
    }
}
ATR = 20.0


def _rig(tmp: Path, with_keys: bool) -> Rig:
    extra: dict = {"close_strategies": [], "direction": "long"}
    if with_keys:
        extra["regime_directional_policy"] = POLICY
        extra["stop_loss_atr_regime"] = {
            "trend_regime": {k: {"atr_multiple": v} for k, v in TABLE.items()}
        }
        extra["stop_loss_pct"] = None
    entry = {k: v for k, v in strategy(**extra).items() if v is not None}
    rig = Rig(tmp, [entry])
    cfg = json.loads(rig.config.read_text())
    cfg["regime"] = {"enabled": True}
    rig.config.write_text(json.dumps(cfg))
    return rig


@pytest.mark.parametrize("with_keys", [False, True])
def test_live_policy_side_and_regime_stop_rest_on_the_venue(tmp_path, monkeypatch, with_keys):
    cert = tmp_path / "certs.json"
    cell = {"asset": "ETH", "timeframe": "1h", "classifier": "adx", "state": "trending_down"}
    cert.write_text(json.dumps({"schema_version": 1, "certified": [{**cell, "sign": "short"}]}))
    monkeypatch.setenv(CERT_ENV, str(cert))
    rig = _rig(tmp_path, with_keys)
    try:
        rig.at(T0 + 3600)
        rig.signal("hl-live", "ETH", -1, indicators={"atr": ATR}, regime="trending_down")
        proc = rig.cycle()
        assert proc.returncode == 0, proc.stderr[-3000:]
        book = rig.book()
        if not with_keys:
            assert book["positions"] == {} and rig.venue_size("ETH") == 0  # base long: no short
            return
        (side, qty, guard), *_ = book["positions"].values()
        assert side == "short" and rig.venue_size("ETH") == pytest.approx(-qty)
        entry = book["trades"][0][3]
        assert guard["stop"] == pytest.approx(entry + TABLE["trending_down"] * ATR)
        resting = rig.server.venue.orders[guard["stop_oid"]]
        assert resting.status == "open"
        assert float(resting.trigger_px) == pytest.approx(guard["stop"], rel=1e-4)
        row = sqlite3.connect(rig.db).execute("SELECT policy_verdict, regime FROM positions")
        assert row.fetchone() == ("certified", "trending_down")
    finally:
        rig.close()
