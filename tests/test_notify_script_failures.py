"""Signal-script failure DMs (reference B.5): streaks, transient errors, recovery, restarts."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shared_tools.config.notify import ChatSettings, NotifySettings
from supervisor.cycle_report import Outcome, new_report
from supervisor.notify.hooks import Notifier
from supervisor.notify.script_failures import PRIMARY_AT, is_transient, kind_of, track
from supervisor.state.db import StateDB
from supervisor.state.models import AppState, StrategyState

T0 = datetime(2026, 1, 5, 12, 0, tzinfo=UTC)
ERR = "exit 1: KeyError: 'close'"


def _app() -> AppState:
    app = AppState()
    app.strategies["a"] = StrategyState("a", "spot", "binanceus", 1000.0, 1000.0)
    return app


def fail(error: str = ERR) -> list[Outcome]:
    return [Outcome("a", error=error)]


OK = [Outcome("a", signal=0, price=100.0)]


@pytest.mark.parametrize(
    ("error", "transient"),
    [
        ("fetch failed (429, 'Too Many Requests')", True),
        ("binance (429)", True),
        ("HTTP 429 from api", True),
        ("status_429", True),
        ("status_code=429", True),
        ("Rate limit exceeded", True),
        ("Error from cloudfront", True),
        ("HTTP 502 Bad Gateway", True),  # PR #1437: 5xx are transient
        ("okx (503)", True),
        ("bad gateway", True),
        ("timed out after 30s", True),
        ("status: 503", False),  # upstream does not match this shape
        ("HTTP 404 not found", False),  # every other 4xx is the strategy's own
        ("(403, 'Forbidden')", False),
        (ERR, False),
    ],
)
def test_transient_classification_is_upstreams(error, transient):
    assert is_transient(error) is transient


def test_kind_names_crashes_and_script_errors():
    assert kind_of("exit 1: boom") == "hard crash"
    assert kind_of("killed by SIGKILL") == "hard crash"
    assert kind_of("unparsable output: <empty>") == "hard crash"
    assert kind_of("insufficient candles") == "script error"


def test_three_failures_alert_once_then_every_tenth_and_recover():
    app = _app()
    got = [track(app, fail(), T0 + timedelta(minutes=i)) for i in range(12)]
    fired = [i + 1 for i, alerts in enumerate(got) if alerts]
    assert fired == [3, 10]  # the third failure, then every 10th (same error, < 6 h)
    (first,) = got[2]
    assert first.text == (
        "**SIGNAL SCRIPT FAILING** [a] binanceus script (hard crash, 3 consecutive failures): "
        + ERR
    )
    (rec,) = track(app, OK, T0 + timedelta(minutes=13))
    assert rec.recovered and rec.text == (
        "**SIGNAL SCRIPT RECOVERED** [a] binanceus script succeeded after 12 consecutive failures"
    )
    assert track(app, OK, T0 + timedelta(minutes=14)) == []  # only once
    assert app.extra["script_failures"] == {}


def test_a_new_error_or_six_hours_renotify():
    app = _app()
    for i in range(3):
        track(app, fail(), T0 + timedelta(minutes=i))
    assert track(app, fail("exit 2: other"), T0 + timedelta(minutes=3))  # a new signature
    assert not track(app, fail("exit 2: other"), T0 + timedelta(minutes=4))
    assert track(app, fail("exit 2: other"), T0 + timedelta(hours=7))  # the 6 h throttle


def test_429s_do_not_count_and_do_not_reset_the_primary_streak():
    app = _app()
    assert not track(app, fail(), T0)
    assert not track(app, fail(), T0 + timedelta(minutes=1))
    for i in range(5):  # transient: neither advances nor resets the primary streak
        assert not track(app, fail("HTTP 429 Too Many Requests"), T0 + timedelta(minutes=2 + i))
    (alert,) = track(app, fail(), T0 + timedelta(minutes=8))  # the third primary failure
    assert "3 consecutive failures" in alert.text


def test_sustained_transient_alerts_at_fifteen_or_after_75_minutes():
    app = _app()
    got = [track(app, fail("HTTP 502 Bad Gateway"), T0 + timedelta(minutes=i)) for i in range(15)]
    assert [i + 1 for i, a in enumerate(got) if a] == [15]
    assert got[14][0].text.startswith("**SIGNAL SCRIPT FAILING (sustained upstream error)** [a]")
    slow = _app()
    assert not track(slow, fail("(429)"), T0)
    assert not track(slow, fail("(429)"), T0 + timedelta(minutes=74))
    assert track(slow, fail("(429)"), T0 + timedelta(minutes=75))


def test_no_recovery_message_without_an_alert_and_non_runs_are_ignored():
    app = _app()
    track(app, fail(), T0)
    track(app, [Outcome("a", action="kill switch active")], T0)  # did not run: no reset
    track(app, [Outcome("a", error="skipped: shutting down (x)")], T0)
    assert app.extra["script_failures"]["a"]["primary"]["n"] == 1
    assert track(app, OK, T0) == []
    assert "a" not in app.extra["script_failures"]


def test_a_restart_keeps_the_streak_and_does_not_dm_again(tmp_path):
    db = StateDB(tmp_path / "state.db")
    app = _app()
    for i in range(3):
        track(app, fail(), T0 + timedelta(minutes=i))
    db.save(app, [], [])
    db.close()
    db = StateDB(tmp_path / "state.db")
    again = db.load()
    db.close()
    assert not track(again, fail(), T0 + timedelta(minutes=4))  # the 4th: no second DM
    (rec,) = track(again, OK, T0 + timedelta(minutes=5))
    assert "after 4 consecutive failures" in rec.text


def test_three_failing_cycles_send_one_owner_dm_through_the_outbox(tmp_path, fake_chat):
    from supervisor.notify.sender import Sender

    class Cfg:
        notify = NotifySettings(
            discord=ChatSettings(enabled=True, owner="42"),
            telegram=ChatSettings(enabled=True, owner="-500"),
        )

        def strategy(self, sid):
            raise KeyError(sid)

    db = StateDB(tmp_path / "state.db")
    logs: list[str] = []
    notifier = Notifier(lambda: Cfg(), logs.append)  # type: ignore[arg-type, return-value]
    app = _app()
    for n, outcomes in enumerate([fail(), fail("HTTP 429"), fail(), fail(), fail(), OK], 1):
        report = new_report(n)
        report.outcomes = outcomes
        notifier.queue_script_failures(report, app)
        db.save(app, [], app.unsaved_messages)
        app.unsaved_messages.clear()
    sender = Sender(db.engine, lambda: Cfg.notify, log=logs.append, timeout_s=3.0)
    while sender.run_once()[0]:
        pass
    db.close()
    dm = fake_chat.bodies("dm-42")
    assert len(dm) == 2, logs
    assert dm[0] == (
        "🚨 **go-trader**: **SIGNAL SCRIPT FAILING** [a] binanceus script "
        f"(hard crash, 3 consecutive failures): {ERR}"
    )
    assert "RECOVERED" in dm[1] and "after 4 consecutive failures" in dm[1]
    tg = fake_chat.bodies("-500")
    assert len(tg) == 2 and tg[0].startswith("🚨 go-trader: SIGNAL SCRIPT FAILING [a]")


def test_a_supervisor_dms_once_keeps_quiet_after_a_restart_then_recovers(sup_for, fake_chat):
    from conftest import fake_strategy

    discord = {"enabled": True, "owner_id": "42"}

    def cycles(behaviour: str, n: int) -> None:
        sup = sup_for([fake_strategy("a", behaviour, "AAA/USDT")], discord=discord)
        for _ in range(n):
            sup.run_cycle(sup.config.strategies)
        sup.notifier.flush()
        sup.shutdown()

    cycles("exit3", 3)  # the worker exits 3: a hard crash, three cycles in a row
    (dm,) = fake_chat.bodies("dm-42")
    assert "**SIGNAL SCRIPT FAILING** [a]" in dm and "(hard crash, 3 consecutive failures)" in dm
    assert "exit 3" in dm
    cycles("exit3", 1)  # a restart, then the 4th failure: the streak was kept, no second DM
    assert len(fake_chat.bodies("dm-42")) == 1
    cycles("hold", 1)
    dms = fake_chat.bodies("dm-42")
    assert len(dms) == 2 and "succeeded after 4 consecutive failures" in dms[1]


@given(st.lists(st.sampled_from(["fail", "429", "ok", "paused"]), max_size=60))
@settings(max_examples=200, deadline=None)
def test_any_run_sequence_alerts_only_past_a_threshold_and_recovers_once(steps):
    app = _app()
    primary = transient = 0
    alerted = False
    for i, step in enumerate(steps):
        outcomes = {
            "fail": fail(),
            "429": fail("HTTP 429"),
            "ok": OK,
            "paused": [Outcome("a", action="paused")],
        }[step]
        alerts = track(app, outcomes, T0 + timedelta(minutes=i))
        if step == "fail":
            primary += 1
        elif step == "429":
            transient += 1
        elif step == "ok":
            assert [a.recovered for a in alerts] == ([True] if alerted else [])
            primary = transient = 0
            alerted = False
            continue
        for a in alerts:
            assert not a.recovered
            assert primary >= PRIMARY_AT if step == "fail" else transient >= 15 or i >= 75
        alerted = alerted or bool(alerts)
        if step == "paused":
            assert alerts == []
