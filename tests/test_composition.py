"""Open/close composition (catalogue §5): refs, close routing, the composed signal."""

from __future__ import annotations

import argparse
import types

import numpy as np
import pandas as pd
import pytest

from shared_strategies import composition
from shared_strategies.open import registry as open_registry


def frame(n: int = 40) -> pd.DataFrame:
    closes = 100 + np.arange(n, dtype=float)
    idx = pd.date_range("2025-01-01", periods=n, freq="1h", tz="UTC")
    return pd.DataFrame(
        {"open": closes, "high": closes + 1, "low": closes - 1, "close": closes, "volume": 1.0},
        index=idx,
    )


class FakeCloses:
    """A close registry stand-in that records calls and answers from a table."""

    class UnknownCloseStrategy(ValueError):
        pass

    def __init__(self, answers: dict[str, float]):
        self.answers = answers
        self.calls: list[tuple] = []

    def names(self, platform: str = "spot") -> list[str]:
        return list(self.answers)

    def canonical(self, name: str) -> str:
        return {"tp_at_pct": "tiered_tp_pct"}.get(name, name)

    def evaluate(self, name, position, market, params=None):
        canon = self.canonical(name)
        if canon not in self.answers:
            raise self.UnknownCloseStrategy(f"Unknown close strategy: {name}")
        self.calls.append((name, position, market, params))
        return {"close_fraction": self.answers[canon], "reason": f"{canon}:fake"}


@pytest.fixture
def closes(monkeypatch):
    fake = FakeCloses({"tiered_tp_pct": 0.5, "atr_stop": 1.0, "zero": 0.0, "avwap_stop": 0.0})
    monkeypatch.setattr(composition, "close_registry", lambda: fake)
    return fake


@pytest.fixture
def open_signals(monkeypatch):
    """Make the open registry answer a chosen last-bar signal per strategy name."""
    table: dict[str, int] = {}
    runs: list[tuple] = []

    def evaluate(name, df, params=None, platform="spot"):
        runs.append((name, params))
        out = pd.DataFrame({"signal": 0, "x": 1.0}, index=df.index)
        out.iloc[-1, 0] = table.get(name, 0)
        return out

    monkeypatch.setattr(open_registry, "evaluate", evaluate)
    return types.SimpleNamespace(table=table, runs=runs)


# --------------------------------------------------------------------------- refs


def test_parse_strategy_refs():
    assert composition.parse_strategy_refs(None) is None
    assert composition.parse_strategy_refs("") is None
    refs = composition.parse_strategy_refs(
        '{"open": {"name": " momentum ", "params": {}}, "closes": ['
        '{"name": "atr_stop", "params": {"atr_mult": 2}}, 5, {"name": "  "}, {"params": {}},'
        '{"name": "tp_at_pct", "params": {}}]}'
    )
    assert refs.open_name == "momentum" and refs.open_params is None
    assert refs.close_names == ("atr_stop", "tp_at_pct")  # order kept, junk skipped
    assert refs.close_params == {"atr_stop": {"atr_mult": 2}}  # empty params dropped
    assert composition.parse_strategy_refs('{"closes": []}').open_name == ""
    for bad in ("{nope", "[]", '{"open": 3}', '{"closes": {"a": 1}}', '{"open": {"params": [1]}}'):
        with pytest.raises(ValueError):
            composition.parse_strategy_refs(bad)


def test_position_context_keeps_only_given_flags():
    ns = argparse.Namespace(
        position_side="LONG ",
        position_avg_cost=100.0,
        position_qty=None,
        position_initial_qty=2.0,
        position_entry_atr=None,
        position_regime=" trending_up ",
    )
    assert composition.position_context(ns) == {
        "side": "long",
        "avg_cost": 100.0,
        "initial_quantity": 2.0,
        "regime": "trending_up",
    }
    empty = argparse.Namespace(position_side=None, position_regime="")
    assert composition.position_context(empty) == {}


# --------------------------------------------------------------------------- pieces


@pytest.mark.parametrize(
    "value, out", [(2, 1), (-3, -1), (0.5, 0), (-0.9, 0), (float("nan"), 0), (None, 0), ("x", 0)]
)
def test_normalize_signal(value, out):
    assert composition.normalize_signal(value) == out


@pytest.mark.parametrize(
    "action, fraction, side, out",
    [
        ("none", 0.5, "long", -1),
        ("long", 0.5, "long", -1),  # a close wins over an open
        ("short", 1.0, "short", 1),
        ("long", 0.3, "", 0),  # a close while flat does nothing
        ("long", 0.0, "long", 0),  # holding: no adds
        ("short", 0.0, "long", 0),  # holding: no same-step reversal
        ("long", 0.0, "", 1),
        ("short", 0.0, "", -1),
        ("none", 0.0, "", 0),
        ("long", -0.5, "", 1),  # negative fractions clamp to 0
    ],
)
def test_compose_signal(action, fraction, side, out):
    assert composition.compose_signal(action, fraction, side) == out


def test_compose_signal_rejects_a_bad_side():
    with pytest.raises(ValueError):
        composition.compose_signal("long", 0.0, "sideways")


def test_max_close_earliest_wins_a_tie_and_clamps():
    r = composition.CloseResult
    assert composition.max_close([r("a", 0.5), r("b", 0.5), r("c", 0.2)]) == (0.5, "a")
    assert composition.max_close([r("a", 3.0), r("b", 0.9)]) == (1.0, "a")
    assert composition.max_close([r("a", 0.0), r("b", -1)]) == (0.0, "")
    assert composition.max_close([]) == (0.0, "")


# --------------------------------------------------------------------------- evaluation


def test_close_params_routing_and_contexts(closes, open_signals):
    df = frame()
    position = {"side": "long", "avg_cost": 90.0, "current_quantity": 1.0}
    market = {"mark_price": 139.0, "atr": 2.0}
    ev = composition.evaluate_open_close(
        df,
        "momentum",
        {"roc_period": 5},
        ["tp_at_pct", "atr_stop", "zero"],
        {"tiered_tp_pct": {"pct": 0.02}, "atr_stop": {"atr_mult": 2}},
        position=position,
        market=market,
    )
    # per-ref params by exact name, else by canonical name, else registry defaults (None)
    assert [(c[0], c[3]) for c in closes.calls] == [
        ("tp_at_pct", {"pct": 0.02}),
        ("atr_stop", {"atr_mult": 2}),
        ("zero", None),
    ]
    assert all(c[1] == position and c[2] == market for c in closes.calls)
    assert [c.close_fraction for c in ev.closes] == [0.5, 1.0, 0.0]
    assert ev.close_strategies == ["tp_at_pct", "atr_stop", "zero"]
    decision = composition.finalize_decision(ev, "long")
    assert decision == {
        "open_strategy": "momentum",
        "close_strategies": ["tp_at_pct", "atr_stop", "zero"],
        "open_action": "none",
        "close_fraction": 1.0,
        "close_strategy": "atr_stop",
        "signal": -1,
    }
    assert open_signals.runs == [("momentum", {"roc_period": 5})]  # the open runs once


@pytest.mark.parametrize(
    "side, signal, fraction",
    [("long", -1, 1.0), ("short", 1, 1.0), ("long", 1, 0.0), ("short", -1, 0.0), ("", -1, 0.0)],
)
def test_implicit_open_as_close(closes, open_signals, side, signal, fraction):
    open_signals.table["momentum"] = signal
    ev = composition.evaluate_open_close(
        frame(), "momentum", {"roc_period": 5}, [], position={"side": side} if side else {}
    )
    assert ev.close_strategies == ["momentum"]
    assert ev.closes[0].close_fraction == fraction
    assert open_signals.runs == [("momentum", {"roc_period": 5})]  # reused, not rerun
    composed = composition.finalize_decision(ev, side)["signal"]
    if side == "long" and signal == -1:
        assert composed == -1
    if side == "long" and signal == 1:
        assert composed == 0  # holding: no add


def test_other_open_strategy_as_close_runs_with_its_defaults(closes, open_signals):
    open_signals.table.update({"momentum": 1, "rsi": -1})
    ev = composition.evaluate_open_close(
        frame(), "momentum", {"roc_period": 5}, ["rsi"], position={"side": "long"}
    )
    assert open_signals.runs == [("momentum", {"roc_period": 5}), ("rsi", None)]
    decision = composition.finalize_decision(ev, "long")
    assert (decision["close_fraction"], decision["close_strategy"]) == (1.0, "rsi")
    assert decision["signal"] == -1 and decision["open_action"] == "long"


def test_open_as_close_uses_a_close_fraction_column(closes, monkeypatch):
    def evaluate(name, df, params=None, platform="spot"):
        return pd.DataFrame({"signal": -1, "close_fraction": 0.25}, index=df.index)

    monkeypatch.setattr(open_registry, "evaluate", evaluate)
    ev = composition.evaluate_open_close(frame(), "momentum", None, [], position={"side": "long"})
    assert ev.closes[0].close_fraction == 0.25


def test_unknown_and_backtest_only_close_names_are_refused(closes, open_signals, monkeypatch):
    with pytest.raises(ValueError, match="unknown close strategy 'nope'"):
        composition.evaluate_open_close(frame(), "momentum", None, ["nope"])

    def ensure_live(name):
        if name == "rsi":
            raise ValueError("strategy 'rsi' is backtest-only")

    monkeypatch.setattr(open_registry, "ensure_live", ensure_live)
    with pytest.raises(ValueError, match="backtest-only"):
        composition.validate_close_names(["atr_stop", "rsi"])
    composition.validate_close_names(["atr_stop", "tp_at_pct", "momentum"])


def test_htf_filtered_signal_drives_only_the_open_action(closes, open_signals):
    open_signals.table["momentum"] = -1
    ev = composition.evaluate_open_close(frame(), "momentum", None, [], position={"side": "long"})
    decision = composition.finalize_decision(ev, "long", open_signal=0)  # HTF zeroed it
    assert decision["open_action"] == "none"
    assert decision["close_fraction"] == 1.0 and decision["signal"] == -1  # close unfiltered
    flat = composition.finalize_decision(ev, "", open_signal=0)
    assert flat["signal"] == 0


def test_market_context_and_avwap_warning(closes, open_signals):
    df = frame()
    line = pd.DataFrame({"signal": 0, "avwap": 120.0}, index=df.index)
    assert composition.market_context(df, line, 2.5, "ranging") == {
        "mark_price": 139.0,
        "atr": 2.5,
        "regime": "ranging",
        "avwap": 120.0,
    }
    bad = pd.DataFrame({"signal": 0, "avwap": np.nan}, index=df.index)
    assert composition.market_context(df, bad, 0.0) == {"mark_price": 139.0}
    warned: list[str] = []
    composition.evaluate_open_close(
        df, "momentum", None, ["avwap_stop"], market={"mark_price": 139.0}, warn=warned.append
    )
    assert len(warned) == 1 and "avwap" in warned[0]


def test_without_a_close_registry_every_close_is_open_as_close(monkeypatch, open_signals):
    monkeypatch.setattr(composition, "close_registry", lambda: composition._NoCloseRegistry)
    open_signals.table["momentum"] = -1
    ev = composition.evaluate_open_close(frame(), "momentum", None, [], position={"side": "long"})
    assert ev.closes[0].close_fraction == 1.0
    with pytest.raises(ValueError, match="tiered_tp_atr"):
        composition.evaluate_open_close(frame(), "momentum", None, ["tiered_tp_atr"])


# --------------------------------------------------------------------------- real registry


def test_tiered_tp_atr_first_tier_through_the_real_close_registry(open_signals):
    """Issue 7 says 0.5 at the first tier; the catalogue's table (§4.4) says 1.5 ATR -> 0.40."""
    pytest.importorskip("shared_strategies.close.registry")
    df = frame()  # last close 139
    ev = composition.evaluate_open_close(
        df,
        "momentum",
        None,
        ["tiered_tp_atr"],
        position={
            "side": "long",
            "avg_cost": 139.0 - 1.5 * 10.0,  # exactly the first tier: inclusive
            "current_quantity": 1.0,
            "initial_quantity": 1.0,
            "entry_atr": 10.0,
        },
        market={"mark_price": 139.0, "atr": 3.0},
    )
    decision = composition.finalize_decision(ev, "long")
    assert decision["close_fraction"] == pytest.approx(0.4)
    assert decision["signal"] == -1 and decision["close_strategy"] == "tiered_tp_atr"
    assert ev.closes[0].reason.startswith("tiered_tp_atr:1.5")

    ev = composition.evaluate_open_close(
        df,
        "momentum",
        None,
        ["tiered_tp_atr"],
        position={  # a hair under the first tier: nothing to close
            "side": "long",
            "avg_cost": 124.01,
            "current_quantity": 1.0,
            "entry_atr": 10.0,
        },
        market={"mark_price": 139.0},
    )
    assert composition.finalize_decision(ev, "long")["signal"] == 0
