"""regime.transitions: closed-bar history, debounced owner DMs, reversal DMs, pruning.

The transitions step (supervisor/risk/regime_transitions.py) runs on a cycle's readings; here
it is driven with scripted check answers bar by bar (the cycle's clock), then its rows go
through the state DB's save. Failure stories kept as tests: a one-bar flap sends nothing
(#1224: the debounce counts closed bars, not cycles), and a DM goes to the owner only.
"""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import pytest
from conftest import write_config
from test_cycle import strat

from shared_tools.config.load import load_config
from supervisor.notify.hooks import Notifier
from supervisor.risk import regime_transitions
from supervisor.risk.portfolio import RiskEvent
from supervisor.run.results import WorkerSignal
from supervisor.state.db import StateDB
from supervisor.state.models import AppState, utc_iso

T0 = datetime(2026, 3, 2, 0, 0, 30, tzinfo=UTC)  # 30 s into a bar: the previous one closed
WINDOWS = {"short": 5, "medium": 14, "long": 50}


def _config(tmp, transitions: dict | None, **extra):
    regime = {"enabled": True, "windows": WINDOWS}
    if transitions is not None:
        regime["transitions"] = transitions
    return load_config(write_config(tmp, [strat("a", "a")], regime=regime, **extra))


class _Cycle(SimpleNamespace):
    def events(self, events: list[RiskEvent]) -> None:
        self.sent.extend(events)


def _run(
    config, app: AppState, bars: list[dict[str, str]], *, per_bar: int = 1, start: int = 0
) -> list[str]:
    """One cycle per bar (``per_bar`` cycles inside each), each check answering ``labels``."""
    sent: list[RiskEvent] = []
    for i, labels in enumerate(bars):
        for k in range(per_bar):
            now = T0 + timedelta(hours=start + i, minutes=5 * k)
            payload = {w: {"regime": label} for w, label in labels.items()}
            sig = WorkerSignal(signal=0, price=100.0, regime=payload)
            cy = _Cycle(
                app=app,
                config=config,
                epoch=now.timestamp(),
                stamp=utc_iso(now),
                readings={"a": (sig, "", "")},
                sent=sent,
            )
            regime_transitions.observe(cy)
    return [e.text for e in sent]


def _bars(*medium: str, short: str = "ranging", long: str = "ranging") -> list[dict]:
    return [{"short": short, "medium": m, "long": long} for m in medium]


def test_a_net_change_after_the_debounce_sends_one_dm_and_a_flap_sends_none(tmp_path):
    config = _config(tmp_path, {"enabled": True})  # debounce 0 -> 2 closed bars
    app = AppState()
    texts = _run(config, app, _bars("ranging", "ranging", "trending_up", "ranging"))
    assert texts == []  # the first stable label is recorded, the one-bar flap is not news
    texts = _run(config, app, _bars("trending_up", "trending_up"), start=4)
    assert len(texts) == 1
    assert texts[0].startswith("📊 Regime transition — binanceus/BTC/USDT/1h window medium: ")
    assert "ranging → trending_up (bar 2026-03-02T" in texts[0]
    changes = [(c["window"], c["old_label"], c["new_label"]) for c in app.regime_changes]
    assert ("medium", "ranging", "trending_up") in changes


def test_without_the_key_nothing_is_recorded_or_sent(tmp_path):
    for transitions in (None, {"enabled": False}):
        app = AppState()
        config = _config(tmp_path, transitions)
        assert _run(config, app, _bars("ranging", "ranging", "trending_up", "trending_up")) == []
        assert app.regime_history == [] and app.extra == {}


def test_debounce_one_alerts_every_net_change(tmp_path):
    config = _config(tmp_path, {"enabled": True, "debounce_cycles": 1})
    texts = _run(config, AppState(), _bars("ranging", "trending_up", "ranging"))
    assert len(texts) == 2  # ranging -> trending_up -> ranging


def test_one_history_row_per_closed_bar_whatever_the_cycles(tmp_path):
    config = _config(tmp_path, {"enabled": True})
    app = AppState()
    _run(config, app, _bars("ranging", "ranging"), per_bar=3)  # three cycles in each bar
    assert len(app.regime_history) == 2 * len(WINDOWS)


def test_a_reversal_pattern_is_sent_once_until_it_clears(tmp_path):
    config = _config(tmp_path, {"enabled": True, "debounce_cycles": 50})  # no transition DMs
    app = AppState()
    down = {"short": "trending_down", "medium": "trending_down", "long": "trending_up"}
    calm = {"short": "ranging", "medium": "ranging", "long": "trending_up"}
    texts = _run(config, app, [down, down, calm, down])
    assert len(texts) == 2 and all(t.startswith("🔄 Regime reversal pattern — ") for t in texts)
    one = _config(tmp_path, {"enabled": True, "debounce_cycles": 50, "reversal_min_opposing": 1})
    half = {"short": "trending_down", "medium": "ranging", "long": "trending_up"}
    assert len(_run(one, AppState(), [half])) == 1
    assert _run(config, AppState(), [half]) == []  # 0 = every shorter window must oppose


def test_rows_commit_with_the_cycle_and_old_history_is_pruned(tmp_path):
    config = _config(tmp_path, {"enabled": True, "retention_days": 1})
    db = StateDB(tmp_path / "state.db")
    app = db.load()
    _run(config, app, _bars("ranging", "ranging", "trending_up", "trending_up"))
    db.save(app)
    con = sqlite3.connect(tmp_path / "state.db")
    assert con.execute("SELECT COUNT(*) FROM regime_window_history").fetchone()[0] == 4 * 3
    assert con.execute("SELECT COUNT(*) FROM regime_window_transitions").fetchone()[0] >= 4
    later = T0 + timedelta(days=3)
    cy = _Cycle(
        app=app, config=config, epoch=later.timestamp(), stamp=utc_iso(later), readings={}, sent=[]
    )
    regime_transitions.observe(cy)  # no answers; the hourly prune still runs
    db.save(app)
    assert con.execute("SELECT COUNT(*) FROM regime_window_history").fetchone()[0] == 0
    db.close()


@pytest.mark.parametrize("owner_only", [False, True])
def test_a_transition_dm_goes_to_the_owner_only(tmp_path, monkeypatch, owner_only):
    monkeypatch.setenv("DISCORD_BOT_TOKEN", "x")
    discord = {"enabled": True, "owner_id": "42", "channels": {"spot": "7"}}
    config = _config(tmp_path, {"enabled": True}, discord=discord)
    app = AppState()
    event = RiskEvent("regime_transition", "📊 change", critical=True, owner_only=owner_only)
    Notifier(lambda: config, print).queue_events(SimpleNamespace(events=[event], cycle=1), app)
    targets = sorted(m.target for m in app.unsaved_messages)
    assert targets == (["owner"] if owner_only else ["7", "owner"])


def test_through_the_supervisor_the_dm_is_queued_with_the_cycle(tmp_path, sup_for, monkeypatch):
    from test_cycle import answer, marks

    monkeypatch.setenv("DISCORD_BOT_TOKEN", "x")
    regime = {"enabled": True, "windows": {"medium": 14}, "transitions": {"enabled": True}}
    discord = {"enabled": True, "owner_id": "42"}
    monkeypatch.setenv("GO_TRADER_NOW", T0.isoformat())
    sup = sup_for([strat("a", "a")], regime=regime, discord=discord)
    for i, label in enumerate(("ranging", "ranging", "trending_up", "trending_up")):
        monkeypatch.setenv("GO_TRADER_NOW", (T0 + timedelta(hours=i)).isoformat())
        marks(tmp_path, BTC_USDT=100.0)
        doc = {"symbol": "BTC/USDT", "signal": 0, "price": 100.0}
        answer(tmp_path, "a", {**doc, "regime": {"medium": {"regime": label}}})
        sup.run_cycle(sup.config.strategies)
    con = sqlite3.connect(tmp_path / "state.db")
    assert con.execute("SELECT COUNT(*) FROM regime_window_history").fetchone()[0] == 4
    sent = con.execute("SELECT target, body FROM outbox WHERE body LIKE '%Regime transition%'")
    rows = sent.fetchall()
    assert len(rows) == 1 and rows[0][0] == "owner"
    assert "window medium: ranging → trending_up" in rows[0][1]
