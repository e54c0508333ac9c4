"""Regime policies (issue 20): the regime ATR stops and the directional policy with its gate.

For each key, the same config with and without it: the supervisor (in process, scripted check
answers and marks, as test_exposure_caps.py) and the backtester on candles whose regime label
is known, each showing the trade that changes (stop level, direction, refusal). The
certification artifact is a temp file through GO_TRADER_DIRECTIONAL_CERT_PATH.
"""

from __future__ import annotations

import json
import sqlite3
from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd
import pytest
from conftest import write_config
from test_cycle import answer, marks, strat

from backtest.backtester import BacktestSettings, run_signals
from shared_tools.book import guard
from shared_tools.book.model import Position
from shared_tools.config.load import load_config
from shared_tools.config.model import ConfigError
from shared_tools.domain import Kind, Side
from shared_tools.regime_policy import (
    CERT_ENV,
    atr_multiple,
    default_multiples,
    load_certifications,
)
from supervisor.http.views import build_status

REGIME = {"enabled": True}
TABLE = {"trending_up": 3.0, "trending_down": 2.0, "ranging": 1.5}
POLICY = {
    "trend_regime": {
        "trending_up": {"direction": "long"},
        "trending_down": {"direction": "short"},
        "ranging": {"direction": "long"},
    }
}


def _block(table: dict[str, float]) -> dict:
    return {"trend_regime": {k: {"atr_multiple": v} for k, v in table.items()}}


def _perp(sid: str = "p", **extra) -> dict:
    return strat(sid, sid, "BTC", **{"type": "perps", "platform": "hyperliquid", **extra})


def _say(tmp, sid: str, signal: int, regime: str, price: float = 100.0) -> None:
    doc = {"symbol": "BTC", "signal": signal, "price": price, "indicators": {"atr": 1.0}}
    answer(tmp, sid, {**doc, "regime": regime})


def _cycle(tmp, sup, sid: str, signal: int, regime: str, price: float = 100.0):
    marks(tmp, BTC=price)
    _say(tmp, sid, signal, regime, price)
    report = sup.run_cycle(sup.config.strategies)
    return {o.id: o.action for o in report.outcomes}[sid], report


def _certify(tmp, monkeypatch, *cells: tuple[str, str], expires: str | None = None) -> None:
    doc: dict = {
        "schema_version": 1,
        "certified": [
            {"asset": "BTC", "timeframe": "1h", "classifier": "adx", "state": s, "sign": sign}
            for s, sign in cells
        ],
    }
    if expires:
        doc["expires_at"] = expires
    path = tmp / "certs.json"
    path.write_text(json.dumps(doc))
    monkeypatch.setenv(CERT_ENV, str(path))


def _load(tmp, entry: dict, **top):
    return load_config(write_config(tmp, [entry], **top))


def _error(tmp, entry: dict, **top) -> str:
    with pytest.raises(ConfigError) as exc:
        _load(tmp, entry, **top)
    return "\n".join(exc.value.lines)


# -- candles with a known regime ------------------------------------------------------------
def _trend(n: int = 80, step: float = 1.0, drop_at: int = 60, drop: float = 30.0) -> pd.DataFrame:
    """A steady trend (ADX labels it trending_up, or trending_down for step < 0), then a gap
    against it at ``drop_at`` that crosses any stop a few ATRs away."""
    close = 200.0 + step * np.arange(n, dtype=float)
    close[drop_at:] -= np.sign(step) * drop
    opens = np.r_[close[0], close[:-1]]
    index = pd.date_range("2026-01-01", periods=n, freq="1h", tz="UTC")
    frame = {
        "open": opens,
        "high": np.maximum(opens, close) + 0.2,
        "low": np.minimum(opens, close) - 0.2,
        "close": close,
        "volume": 1.0,
    }
    return pd.DataFrame(frame, index=index)


def _signal(df: pd.DataFrame, at: int, value: int) -> pd.Series:
    sig = pd.Series(0, index=df.index)
    sig.iloc[at] = value
    return sig


def _bt(df, sig, **kw) -> list:
    base = {"instrument": "perps", "platform": "hyperliquid", "regime_enabled": True}
    return run_signals(df, sig, BacktestSettings(**{**base, **kw})).trades


# -- the pure rules -------------------------------------------------------------------------
def test_use_defaults_values_are_upstreams():
    sl = default_multiples("stop_loss", ("trending_up", "trending_down", "ranging"))
    assert sl == {"trending_up": 2.0, "trending_down": 2.0, "ranging": 1.5}
    composite = default_multiples(
        "trailing",
        ("trending_up_clean", "trending_down_choppy", "ranging_quiet", "ranging_directional_up"),
    )
    assert composite == {
        "trending_up_clean": 2.5,
        "trending_down_choppy": 2.25,
        "ranging_quiet": 1.0,
        "ranging_directional_up": 1.5,
    }
    assert default_multiples("stop_loss", ("ranging_volatile",)) == {"ranging_volatile": 1.5}


def test_the_multiple_follows_the_stamp_and_an_empty_stamp_arms_no_stop():
    table = (("ranging_directional", 1.25), ("trending_up", 2.0))
    assert atr_multiple(table, "ranging_directional_down") == 1.25  # the bare covers its halves
    assert atr_multiple(table, "") == 0.0 and atr_multiple(table, "unknown") == 0.0
    rules = guard.Protection(stop_loss_atr_regime=table)
    for stamp, stop in (("trending_up", 96.0), ("", 0.0)):
        pos = Position("BTC", "1", 1, 1, 100.0, 100.0, Side.LONG, 2.0, kind=Kind.PERPS)
        pos.regime = stamp
        notes = guard.arm(pos, rules)
        assert pos.guard.stop == stop
        assert bool(notes) == (not stop)  # "no regime stamp (empty): ... not armed"


def test_a_malformed_missing_or_expired_artifact_certifies_nothing(tmp_path):
    assert load_certifications(tmp_path / "absent.json").status == "uncertified"
    bad = tmp_path / "bad.json"
    for doc in ("{", {"schema_version": 2, "certified": []}, {"schema_version": 1, "x": 1}):
        bad.write_text(doc if isinstance(doc, str) else json.dumps(doc))
        assert load_certifications(bad).status == "uncertified"
    past = (datetime.now(UTC) - timedelta(days=1)).isoformat()
    bad.write_text(json.dumps({"schema_version": 1, "certified": [], "expires_at": past}))
    assert load_certifications(bad).status == "expired"
    shipped = load_certifications()  # the repo's artifact, as upstream HEAD: certifies nothing
    assert shipped.status == "certified" and shipped.cells == ()


# -- config ---------------------------------------------------------------------------------
def test_the_keys_load_as_built_keys_with_no_ignored_warning(tmp_path):
    entry = _perp(
        stop_loss_atr_regime={"use_defaults": True},
        regime_atr_window="fast",
        regime_directional_window="fast",
        regime_directional_policy=POLICY,
    )
    regime = {
        **REGIME,
        "windows": {"fast": 10, "medium": 20},
        "display_windows": ["fast"],
        "timeframe": "1H",
        "transitions": {"enabled": True, "debounce_cycles": 0, "retention_days": 0},
    }
    cfg = _load(tmp_path, entry, regime=regime, user_defaults={"regime_atr": {}})
    assert not [w for w in cfg.warnings if "ignored" in w or "not built" in w], cfg.warnings
    (sc,) = cfg.strategies
    assert dict(sc.stop_loss_atr_regime) == {
        "ranging": 1.5,
        "trending_down": 2.0,
        "trending_up": 2.0,
    }
    assert sc.stop_loss_atr_mult == 0  # no auto default stop beside a regime stop
    assert "--regime-atr-window=fast" in sc.check_argv()
    assert cfg.regime.timeframe == "1h" and cfg.regime.display_windows == ("fast",)
    assert (cfg.regime.transitions.debounce_cycles, cfg.regime.transitions.retention_days) == (
        2,
        30,
    )
    assert any("regime_directional_policy is not certified" in w for w in cfg.warnings)


def test_user_defaults_regime_atr_replaces_a_use_defaults_block_only(tmp_path):
    mine = _block({"trending_up": 4.0, "trending_down": 4.0, "ranging": 4.0})
    top = {"regime": REGIME, "user_defaults": {"regime_atr": {"trailing_stop_atr_regime": mine}}}
    (sc,) = _load(
        tmp_path, _perp(trailing_stop_atr_regime={"use_defaults": True}), **top
    ).strategies
    assert set(dict(sc.trailing_stop_atr_regime).values()) == {4.0}
    (own,) = _load(tmp_path, _perp(trailing_stop_atr_regime=_block(TABLE)), **top).strategies
    assert dict(own.trailing_stop_atr_regime) == TABLE  # an explicit map is its own


@pytest.mark.parametrize(
    "extra, top, problem",
    [
        ({"stop_loss_atr_regime": _block({"trending_up": 2})}, {}, "missing trending_down"),
        ({"stop_loss_atr_regime": _block({**TABLE, "sideways": 1})}, {}, "unknown label"),
        (
            {
                "stop_loss_atr_regime": {
                    "trend_regime": {k: {"atr_multiple": 1, "close_fraction": 1} for k in TABLE}
                }
            },
            {},
            "close_fraction does not belong",
        ),
        ({"stop_loss_atr_regime": {"use_defaults": True, "trend_regime": {}}}, {}, "alone"),
        (
            {"stop_loss_atr_regime": _block(TABLE), "trailing_stop_atr_regime": _block(TABLE)},
            {},
            "keep one regime stop",
        ),
        ({"stop_loss_atr_regime": _block(TABLE), "stop_loss_pct": 2}, {}, "both own the stop"),
        (
            {"stop_loss_atr_regime": _block(TABLE), "risk_per_trade_pct": 1},
            {},
            "risk_per_trade_pct",
        ),
        ({"stop_loss_atr_regime": _block(TABLE)}, {"regime": {}}, "needs regime.enabled"),
        (
            {"regime_directional_policy": {"trend_regime": {"trending_up": {"direction": "long"}}}},
            {},
            "missing trending_down",
        ),
        (
            {
                "regime_directional_policy": {
                    "trend_regime": {k: {"direction": "up"} for k in TABLE}
                }
            },
            {},
            "direction must",
        ),
        (
            {"regime_directional_policy": POLICY, "platform": "okx"},
            {},
            "Hyperliquid perps only",
        ),
        ({"regime_atr_window": "nope"}, {}, "not a window of regime.windows"),
        ({}, {"regime": {**REGIME, "display_windows": ["typo"]}}, "display_windows"),
        ({}, {"regime": {**REGIME, "timeframe": "4h"}}, "regime.timeframe 4h differs"),
        ({}, {"regime": {**REGIME, "timeframe": "2y"}}, "timeframe must be one of"),
        ({}, {"regime": {**REGIME, "transitions": {"debounce_cycles": -1}}}, "debounce_cycles"),
    ],
)
def test_bad_regime_policy_config_is_a_one_line_error(tmp_path, extra, top, problem):
    top = {"regime": REGIME, **top}
    assert problem in _error(tmp_path, _perp(**extra), **top)


# -- stop_loss_atr_regime / trailing_stop_atr_regime ---------------------------------------
@pytest.mark.parametrize(
    "extra, label, stop, kind",
    [
        ({}, "trending_up", 99.0, "stop_loss"),  # without: HL's default 1.0 x ATR stop
        ({"stop_loss_atr_regime": _block(TABLE)}, "trending_up", 97.0, "stop_loss"),
        ({"stop_loss_atr_regime": _block(TABLE)}, "ranging", 98.5, "stop_loss"),
        ({"stop_loss_atr_regime": _block(TABLE)}, "", 0.0, ""),  # no stamp: no stop
        ({"trailing_stop_atr_regime": _block(TABLE)}, "trending_down", 98.0, "trailing_stop"),
    ],
)
def test_supervisor_arms_the_stop_of_the_stamped_label(tmp_path, sup_for, extra, label, stop, kind):
    sup = sup_for([_perp(**extra)], regime=REGIME)
    action, _ = _cycle(tmp_path, sup, "p", 1, label)
    pos = sup.app.strategies["p"].positions["BTC"]
    assert pos.regime == label and pos.guard.stop == pytest.approx(stop), action
    assert pos.guard.stop_kind == kind
    if not stop:
        assert "regime ATR stop is not armed" in action


# -- regime_directional_policy --------------------------------------------------------------
def test_uncertified_policy_trades_the_base_direction(tmp_path, sup_for, monkeypatch):
    _certify(tmp_path, monkeypatch)  # an artifact that certifies nothing (as shipped)
    sup = sup_for([_perp(regime_directional_policy=POLICY)], regime=REGIME)
    assert any("not certified" in w for w in sup.config.warnings)
    action, _ = _cycle(tmp_path, sup, "p", -1, "trending_down")
    assert not sup.app.strategies["p"].positions, action  # base long: no short
    view = build_status(sup.app)["strategies"]["p"]["regime"]
    assert view["effective_direction"] == "long"
    assert view["directional_certification_status"] == "uncertified"


def test_certified_policy_opens_its_direction_and_freezes_the_verdict(
    tmp_path, sup_for, monkeypatch
):
    _certify(tmp_path, monkeypatch, ("trending_down", "short"))
    sup = sup_for([_perp(regime_directional_policy=POLICY)], regime=REGIME)
    _cycle(tmp_path, sup, "p", -1, "trending_down")
    pos = sup.app.strategies["p"].positions["BTC"]
    assert pos.side == "short"
    assert (pos.policy_regime, pos.policy_verdict) == ("trending_down", "certified")
    view = build_status(sup.app)["strategies"]["p"]["regime"]
    assert (view["effective_direction"], view["directional_certification_status"]) == (
        "short",
        "certified",
    )
    row = sqlite3.connect(tmp_path / "state.db").execute(
        "SELECT policy_regime, policy_verdict FROM positions WHERE strategy_id = 'p'"
    )
    assert row.fetchone() == ("trending_down", "certified")  # survives a restart (#1087)
    monkeypatch.setenv(CERT_ENV, str(tmp_path / "gone.json"))  # the artifact disappears
    _cycle(tmp_path, sup, "p", 0, "trending_up")  # the label moves on; the stamp holds
    view = build_status(sup.app)["strategies"]["p"]["regime"]
    assert view["effective_direction"] == "short" and view["effective_policy_regime"] == (
        "trending_down"
    )


def test_a_certified_sign_the_policy_bets_against_is_not_applied(tmp_path, sup_for, monkeypatch):
    _certify(tmp_path, monkeypatch, ("trending_down", "long"))  # certified long, policy short
    sup = sup_for([_perp(regime_directional_policy=POLICY)], regime=REGIME)
    _cycle(tmp_path, sup, "p", -1, "trending_down")
    assert not sup.app.strategies["p"].positions  # #1087: no bet against the certified sign


@pytest.mark.parametrize("with_key", [False, True])
def test_the_policy_refusal_names_its_gate(tmp_path, sup_for, monkeypatch, with_key):
    _certify(tmp_path, monkeypatch, ("trending_up", "long"))
    extra = {"regime_directional_policy": POLICY} if with_key else {}
    sup = sup_for([_perp(direction="both", **extra)], regime=REGIME)
    action, _ = _cycle(tmp_path, sup, "p", -1, "trending_up")
    assert (not sup.app.strategies["p"].positions) == with_key, action
    if with_key:
        why = "regime_directional_policy: trending_up: policy direction long holds a short entry"
        assert f"short entry held ({why})" in action
        from supervisor.ops.inspect import build_document, render

        doc, _ = build_document(sup.config, sup.config.strategies, datetime.now(UTC), 3)
        held = doc["strategies"][0]["state"]["last_entry_held"]
        assert (held["side"], held["gate"]) == ("short", "regime_directional_policy")
        assert f"by regime_directional_policy: {held['reason']}" in render(doc)


def test_an_expired_artifact_is_uncertified(tmp_path, sup_for, monkeypatch):
    past = (datetime.now(UTC) - timedelta(hours=1)).isoformat()
    _certify(tmp_path, monkeypatch, ("trending_down", "short"), expires=past)
    sup = sup_for([_perp(regime_directional_policy=POLICY)], regime=REGIME)
    _cycle(tmp_path, sup, "p", -1, "trending_down")
    assert not sup.app.strategies["p"].positions
    view = build_status(sup.app)["strategies"]["p"]["regime"]
    assert view["directional_certification_status"] == "expired"


# -- the backtester's regime flags -----------------------------------------------------------
def test_inspect_shows_the_policy_its_certification_and_the_last_regime(
    tmp_path, sup_for, monkeypatch
):
    from supervisor.ops.inspect import build_document, render

    _certify(tmp_path, monkeypatch, ("trending_down", "short"))
    regime = {**REGIME, "windows": {"medium": 14, "slow": 50}, "display_windows": ["slow"]}
    sup = sup_for([_perp(regime_directional_policy=POLICY)], regime=regime)
    marks(tmp_path, BTC=100.0)
    payload = {"medium": {"regime": "trending_down"}, "slow": {"regime": "ranging"}}
    answer(tmp_path, "p", {"symbol": "BTC", "signal": -1, "price": 100.0, "regime": payload})
    sup.run_cycle(sup.config.strategies)
    doc, error = build_document(sup.config, sup.config.strategies, datetime.now(UTC), 3)
    (entry,) = doc["strategies"]
    derived = entry["effective"]["derived"]["regime"]
    assert derived["display_windows"] == ["slow"]
    policy = derived["regime_directional_policy"]
    assert policy["trending_down"]["directional_certification_status"] == "certified"
    assert policy["trending_up"]["directional_certification_status"] == "uncertified"
    state = entry["state"]["regime"]
    assert state["labels"] == {"slow": "ranging"}  # display windows only
    assert (state["effective_direction"], state["effective_policy_regime"]) == (
        "short",
        "trending_down",
    )
    assert "effective_direction" in render(doc)


def test_reload_takes_a_transitions_edit_and_holds_policy_changes_until_flat(
    tmp_path, sup_for, capsys
):
    """#1224: a regime.transitions edit never rejects the reload; the regime policies are
    flat-only (a held position keeps the rules it opened under)."""
    table = _block(TABLE)
    regime = {**REGIME, "transitions": {"enabled": True}}
    sup = sup_for([_perp(stop_loss_atr_regime=table)], regime=regime)
    _cycle(tmp_path, sup, "p", 1, "trending_up")
    assert sup.app.strategies["p"].positions
    edited = {**REGIME, "transitions": {"enabled": True, "debounce_cycles": 5}}
    write_config(tmp_path, [_perp(stop_loss_atr_regime=table)], regime=edited)
    assert sup.reload() and sup.config.regime.transitions.debounce_cycles == 5
    write_config(
        tmp_path, [_perp(stop_loss_atr_regime=_block({**TABLE, "trending_up": 1}))], regime=edited
    )
    assert not sup.reload()
    assert "stop_loss_atr_regime changed" in capsys.readouterr().err
    write_config(
        tmp_path,
        [_perp(stop_loss_atr_regime=table, regime_directional_policy=POLICY)],
        regime=edited,
    )
    assert not sup.reload()
    assert "directional_policy changed" in capsys.readouterr().err


# -- upstream's fixed stories ----------------------------------------------------------------
def test_regime_trailing_takes_a_min_move_and_trails_on_hold_cycles(tmp_path, sup_for):
    """#1113 rejected trailing_stop_min_move_pct beside a regime trail; #1018: paper regime
    trails could not resolve on hold cycles. Here the trail distance is armed at entry."""
    sup = sup_for(
        [_perp(trailing_stop_atr_regime=_block(TABLE), trailing_stop_min_move_pct=1.0)],
        regime=REGIME,
    )
    _cycle(tmp_path, sup, "p", 1, "trending_up")  # 3 x ATR 1 behind the best mark
    pos = sup.app.strategies["p"].positions["BTC"]
    assert (pos.guard.stop, pos.guard.min_move) == (97.0, pytest.approx(0.01))
    _cycle(tmp_path, sup, "p", 0, "ranging", price=110.0)  # a hold cycle: the stamp holds
    assert pos.guard.stop == pytest.approx(107.0) and pos.regime == "trending_up"
    _cycle(tmp_path, sup, "p", 0, "ranging", price=106.0)
    assert not sup.app.strategies["p"].positions  # the trailed stop fired


def test_a_flips_new_position_is_judged_flat_not_on_the_closed_ones_stamp(
    tmp_path, sup_for, monkeypatch
):
    """#1026: a same-cycle close -> reopen must not inherit the closed position's regime."""
    _certify(tmp_path, monkeypatch, ("trending_down", "short"), ("trending_up", "long"))
    both = {"trend_regime": {k: {"direction": "both"} for k in TABLE}}
    sup = sup_for([_perp(regime_directional_policy=both)], regime=REGIME)
    _cycle(tmp_path, sup, "p", -1, "trending_down")
    short = sup.app.strategies["p"].positions["BTC"]
    assert (short.side, short.policy_regime) == ("short", "trending_down")
    _cycle(tmp_path, sup, "p", 1, "trending_up")
    long = sup.app.strategies["p"].positions["BTC"]
    assert (long.side, long.policy_regime, long.policy_verdict) == (
        "long",
        "trending_up",
        "certified",
    )


@pytest.mark.parametrize("with_key", [False, True])
def test_a_certified_policy_inverts_the_signal(tmp_path, sup_for, monkeypatch, with_key):
    _certify(tmp_path, monkeypatch, ("trending_down", "long"))
    fade = {"trend_regime": {**POLICY["trend_regime"]}}
    fade["trend_regime"]["trending_down"] = {"direction": "long", "invert_signal": True}
    extra = {"regime_directional_policy": fade} if with_key else {}
    sup = sup_for([_perp(**extra)], regime=REGIME)
    _cycle(tmp_path, sup, "p", -1, "trending_down")  # a sell, faded into a buy
    positions = sup.app.strategies["p"].positions
    assert (positions["BTC"].side if positions else None) == ("long" if with_key else None)
