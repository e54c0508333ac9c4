"""Confirm nonces and trade actions without a daemon: a nonce works once, for exactly the action
it was issued for; a replay, a double click or a second request while one runs never reaches the
manual core twice (story PR #1260); usage errors are 400, refusals 409."""

from __future__ import annotations

import threading
import types

import pytest
from hypothesis import given
from hypothesis import strategies as st

from supervisor.http import post as post_mod
from supervisor.http.nonce import TTL_S, Nonces, canonical
from supervisor.ops.manual_state import ManualError


class Clock:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


def test_a_nonce_works_once_and_only_for_its_binding():
    clock = Clock()
    n = Nonces(clock)
    nonce, ttl = n.issue("close", "m", {"qty": 1})
    assert ttl == TTL_S == 60 and len(nonce) == 32
    assert n.take(nonce, "close", "m", {"qty": 1})
    assert not n.take(nonce, "close", "m", {"qty": 1})  # replay
    other, _ = n.issue("close", "m", {"qty": 1})
    assert not n.take(other, "close", "m", {"qty": 2})  # other params
    assert not n.take(other, "close", "m", {"qty": 1})  # deleted on the failed lookup
    late, _ = n.issue("open", "m", {})
    clock.t += TTL_S
    assert not n.take(late, "open", "m", {})  # expired
    assert not n.take(None, "open", "m", {})


@given(st.dictionaries(st.text(max_size=5), st.integers(), max_size=5))
def test_the_binding_ignores_key_order(params):
    flipped = dict(reversed(list(params.items())))
    assert canonical("open", "x", params) == canonical("open", "x", flipped)


def sup_with(sc_type: str = "manual"):
    sc = types.SimpleNamespace(id="m", type=sc_type, platform="hyperliquid", live=True)
    config = types.SimpleNamespace(strategies=[sc], strategy=lambda sid: sc)
    return types.SimpleNamespace(config=config, ready=True, db=object())


def confirm(actions, action: str, params: dict) -> str:
    code, out = actions.post(
        "/api/confirm", {"action": action, "strategy_id": "m", "params": params}
    )
    assert code == 200, out
    assert out["confirm_phrase"] == "m" and out["expires_in_seconds"] == 60
    return out["nonce"]


def test_a_trade_action_runs_once_per_nonce(monkeypatch):
    calls = []
    monkeypatch.setattr(
        post_mod, "run_trade", lambda cfg, sid, action, p, echo: calls.append((action, p))
    )
    actions = post_mod.Actions(sup_with(), board=None)
    nonce = confirm(actions, "open", {"side": "long", "size": 0.5})
    body = {"nonce": nonce, "params": {"side": "long", "size": 0.5}}
    code, out = actions.post("/api/strategies/m/open", body)
    assert code == 200 and out == {"ok": True, "queued": True, "message": ""}
    assert actions.post("/api/strategies/m/open", body)[0] == 403  # the re-POST
    assert calls == [("open", {"side": "long", "size": 0.5})]
    # a nonce for other params (a stale dialog) is refused
    nonce = confirm(actions, "close", {"qty": 1})
    assert actions.post("/api/strategies/m/close", {"nonce": nonce, "params": {"qty": 2}})[0] == 403
    assert len(calls) == 1


def test_a_second_request_while_one_runs_is_refused(monkeypatch):
    started, release = threading.Event(), threading.Event()
    calls = []

    def slow(cfg, sid, action, p, echo):
        calls.append(action)
        started.set()
        release.wait(10)

    monkeypatch.setattr(post_mod, "run_trade", slow)
    actions = post_mod.Actions(sup_with(), board=None)
    first = {"nonce": confirm(actions, "add", {"size": 1}), "params": {"size": 1}}
    second = {"nonce": confirm(actions, "add", {"size": 1}), "params": {"size": 1}}
    got = {}
    t = threading.Thread(target=lambda: got.update(a=actions.post("/api/strategies/m/add", first)))
    t.start()
    assert started.wait(10)
    code, out = actions.post("/api/strategies/m/add", second)  # the double click
    assert code == 409 and "still running" in out["error"]
    release.set()
    t.join(10)
    assert got["a"][0] == 200 and calls == ["add"]


@pytest.mark.parametrize(("code_in", "code_out"), [(2, 400), (1, 409)])
def test_core_refusals_map_to_400_and_409(monkeypatch, code_in, code_out):
    def refuse(*_a, **_k):
        raise ManualError("error: m holds no ETH position (already flat)", code_in)

    monkeypatch.setattr(post_mod, "run_trade", refuse)
    actions = post_mod.Actions(sup_with(), board=None)
    body = {"nonce": confirm(actions, "close", {}), "params": {}}
    code, out = actions.post("/api/strategies/m/close", body)
    assert code == code_out and out["ok"] is False and "already flat" in out["error"]


@pytest.mark.parametrize(
    "params",
    [{"size": -1}, {"size": float("nan")}, {"size": "1"}, {"bogus": 1}, {"side": "up"}, []],
)
def test_bad_params_are_400_at_confirm(params):
    actions = post_mod.Actions(sup_with(), board=None)
    code, _ = actions.post("/api/confirm", {"action": "open", "strategy_id": "m", "params": params})
    assert code == 400


def test_force_close_needs_live_hyperliquid_perps():
    actions = post_mod.Actions(sup_with("manual"), board=None)
    code, out = actions.post(
        "/api/confirm", {"action": "force-close", "strategy_id": "m", "params": {}}
    )
    assert code == 409 and "live Hyperliquid perps" in out["error"]
    perps = post_mod.Actions(sup_with("perps"), board=None)
    assert (
        perps.post("/api/confirm", {"action": "force-close", "strategy_id": "m", "params": {}})[0]
        == 200
    )


def test_a_cashflow_read_error_is_500_not_an_empty_journal():
    """Story PR #1254: a DB error rendered as an empty journal."""
    from sqlalchemy.exc import OperationalError

    from supervisor.http import ops

    class BrokenDB:
        def cashflow_journal(self, **_kw):
            raise OperationalError("SELECT", {}, Exception("disk I/O error"))

    board = types.SimpleNamespace(sup=types.SimpleNamespace(db=BrokenDB()))
    code, out = ops.cashflow(board, {})
    assert code == 500 and "disk I/O error" in out["error"] and "journal" not in out
