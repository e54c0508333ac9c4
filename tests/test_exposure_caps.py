"""The exposure caps and the order of the entry gates.

Units: nets per base asset across strategies (long +, short -, spot long), the long and short
buckets of ``max_same_direction_notional_usd``, ``max_asset_concentration_pct`` per asset and
in its net direction only. A property: whatever set of gates would refuse, the one named is
the first in upstream's order (§2.6). End to end through the supervisor (scripted answers and
marks, as test_risk_portfolio.py), the same book with and without each key: the open that is
held, the close that still runs and the other direction that still opens. Config: 0 or absent
is off, negatives and percentages above 100 are one-line errors, no "not supported" warning.
"""

from __future__ import annotations

import pytest
from conftest import base_env, fake_strategy, run_cli, write_config
from hypothesis import given
from hypothesis import strategies as st
from test_cycle import answer, buy, marks, strat
from test_risk_portfolio import HOLD

from shared_tools.book.model import Position
from shared_tools.config.load import load_config
from shared_tools.config.model import ConfigError
from shared_tools.config.risk import RiskSettings
from shared_tools.domain import Kind, Side
from supervisor import cycle_gates
from supervisor.cycle_gates import Entry, first_refusal
from supervisor.risk import exposure
from supervisor.risk.exposure import Exposure
from supervisor.state.models import StrategyState


def _pos(symbol: str, qty: float, price: float, side: str = "long") -> Position:
    kind = Kind.SPOT if "/" in symbol else Kind.PERPS
    return Position(symbol, f"{symbol}-1", qty, qty, price, qty * price, side=Side(side), kind=kind)


def _state(sid: str, *positions: Position, platform: str = "binanceus") -> StrategyState:
    s = StrategyState(sid, "spot", platform, cash=0.0, initial_capital=1000.0)
    s.positions = {p.symbol: p for p in positions}
    return s


# -- units: nets and buckets ------------------------------------------------------------------
def test_nets_per_asset_across_strategies_at_the_cycle_marks():
    books = [
        _state("a", _pos("BTC/USDT", 1.0, 100.0)),  # spot: long
        _state("b", _pos("BTC", 0.5, 100.0, "short"), platform="hyperliquid"),
        _state("c", _pos("ETH", 2.0, 10.0, "short"), platform="hyperliquid"),
        _state("d", _pos("SOL/USDT", 3.0, 5.0)),
    ]
    marks_ = {"a": {"BTC/USDT": 120.0}, "b": {"BTC": 120.0}, "c": None, "d": {}}
    fallback = {"hyperliquid": {"ETH": 11.0}}  # c has no fresh mark: its venue's latest
    exp = exposure.measure(books, marks_, fallback, 1000.0)
    assert exp.nets == pytest.approx({"BTC": 120.0 - 60.0, "ETH": -22.0, "SOL": 15.0})
    assert exp.long_usd == pytest.approx(75.0) and exp.short_usd == pytest.approx(22.0)


def test_same_direction_holds_only_its_bucket_above_the_cap():
    exp = Exposure({"BTC": 12_000.0, "ETH": -3_000.0}, 50_000.0)
    on = RiskSettings(max_same_direction_notional_usd=10_000)
    assert exposure.same_direction(exp, on, "long") == "long exposure $12,000 > $10,000"
    assert exposure.same_direction(exp, on, "short") == ""  # the other direction may open
    at_cap = RiskSettings(max_same_direction_notional_usd=12_000)
    assert exposure.same_direction(exp, at_cap, "long") == ""  # above the cap, not at it
    assert exposure.same_direction(exp, RiskSettings(), "long") == ""  # 0 = off


def test_the_short_bucket_sums_the_negative_nets():
    exp = Exposure({"BTC": -6_000.0, "ETH": -5_000.0, "SOL": 9_000.0}, 50_000.0)
    on = RiskSettings(max_same_direction_notional_usd=10_000)
    assert exposure.same_direction(exp, on, "short") == "short exposure $11,000 > $10,000"
    assert exposure.same_direction(exp, on, "long") == ""


def test_concentration_holds_the_asset_in_its_net_direction_only():
    exp = Exposure({"BTC": 6_000.0, "ETH": -1_000.0}, 10_000.0)
    on = RiskSettings(max_asset_concentration_pct=50)
    why = exposure.concentration(exp, on, "BTC", "long")
    assert why == "BTC net long $6,000 is 60.0% of the book's $10,000 > 50%"
    assert exposure.concentration(exp, on, "BTC", "short") == ""  # against the net: reduces it
    assert exposure.concentration(exp, on, "ETH", "short") == ""  # 10%: under the cap
    assert exposure.concentration(exp, on, "SOL", "long") == ""  # another asset, flat
    assert exposure.concentration(exp, RiskSettings(), "BTC", "long") == ""  # 0 = off
    assert exposure.concentration(Exposure({"BTC": 1.0}, 0.0), on, "BTC", "long") == ""


def test_capped_lists_every_cap_holding():
    exp = Exposure({"BTC": 6_000.0, "ETH": -5_000.0}, 10_000.0)
    settings = RiskSettings(max_same_direction_notional_usd=4_000, max_asset_concentration_pct=55)
    assert sorted(exposure.capped(exp, settings)) == ["BTC long", "long", "short"]


# -- the gates' order -------------------------------------------------------------------------
ALL_HOLD = {
    "live": {"live_hold": "venue account not read"},
    "market_closed": {"market_open": False},
    "regime_gate": {
        "regime_enabled": True,
        "regime_label": "ranging",
        "allowed_regimes": ("trending_up",),
    },
    "regime_directional_policy": {"policy_hold": "trending_down: policy direction short"},
    "paused": {"paused": True},
    "daily_loss": {"daily_loss": "$60.00 lost today >= $50.00"},
    "max_notional_usd": {"notional": "notional $2,000.00 > $1,500.00"},
    "max_same_direction_notional_usd": {"exposure": Exposure({"BTC": 2_000.0}, 1e9)},
    "max_asset_concentration_pct": {"exposure": Exposure({"BTC": 600.0}, 1_000.0)},
}
SETTINGS = RiskSettings(max_same_direction_notional_usd=1_000, max_asset_concentration_pct=50)


def test_the_order_is_upstreams():
    assert cycle_gates.ORDER == (
        "live",
        "market_closed",
        "regime_gate",
        "regime_directional_policy",
        "hurst_gate",  # not built: skipped in its slot
        "paused",
        "daily_loss",
        "max_notional_usd",
        "max_same_direction_notional_usd",
        "max_asset_concentration_pct",
    )
    assert first_refusal(Entry("long", "BTC", settings=SETTINGS)) is None


@pytest.mark.parametrize("gate", sorted(ALL_HOLD))
def test_each_gate_refuses_alone_and_names_itself(gate):
    refusal = first_refusal(Entry("long", "BTC", settings=SETTINGS, **ALL_HOLD[gate]))
    assert refusal is not None and refusal.gate == gate
    assert str(refusal).startswith(f"{gate}: ") and refusal.reason


@given(st.sets(st.sampled_from(sorted(ALL_HOLD)), min_size=1))
def test_the_refusal_named_is_the_first_in_upstreams_order(refusing):
    facts: dict = {}
    for gate in refusing:
        facts.update(ALL_HOLD[gate])
    if {"max_same_direction_notional_usd", "max_asset_concentration_pct"} <= refusing:
        facts["exposure"] = Exposure({"BTC": 2_000.0}, 2_000.0)  # both caps at once
    refusal = first_refusal(Entry("long", "BTC", settings=SETTINGS, **facts))
    first = next(g for g in cycle_gates.ORDER if g in refusing)
    assert refusal is not None and refusal.gate == first


@given(st.sets(st.sampled_from(sorted(ALL_HOLD)), min_size=1))
def test_the_exposure_caps_never_hold_the_other_direction(refusing):
    exposure_caps = {"max_same_direction_notional_usd", "max_asset_concentration_pct"}
    facts: dict = {}
    for gate in refusing:
        facts.update(ALL_HOLD[gate])
    refusal = first_refusal(Entry("short", "BTC", settings=SETTINGS, **facts))
    others = [g for g in cycle_gates.ORDER if g in refusing - exposure_caps]
    assert (refusal.gate if refusal else None) == (others[0] if others else None)


# -- end to end through the supervisor --------------------------------------------------------
def _perp(sid: str, symbol: str = "BTC", **extra) -> dict:
    return strat(sid, sid, symbol, type="perps", platform="hyperliquid", direction="both", **extra)


def _book(tmp_path, sup_for, **risk):
    """a is long BTC ~$1,000 (spot); b (spot BTC), p (perps BTC) and e (spot ETH) are flat."""
    strategies = [strat("a", "a"), strat("b", "b"), _perp("p"), strat("e", "e", "ETH/USDT")]
    sup = sup_for(strategies, portfolio_risk={"max_drawdown_pct": 50, **risk})
    marks(tmp_path, BTC_USDT=100.0, BTC=100.0, ETH_USDT=10.0)
    answer(tmp_path, "a", buy())
    answer(tmp_path, "p", {**HOLD, "symbol": "BTC"})
    answer(tmp_path, "e", {**HOLD, "symbol": "ETH/USDT", "price": 10.0})
    sup.run_cycle(sup.config.strategies)
    assert sup.app.strategies["a"].positions
    answer(tmp_path, "a", HOLD)
    return sup


def _then_all_open(tmp_path, sup):
    """b buys BTC, p shorts BTC, e buys ETH, in the same cycle."""
    answer(tmp_path, "b", buy())
    answer(tmp_path, "p", {"symbol": "BTC", "signal": -1, "price": 100.0, "indicators": {"atr": 1}})
    answer(tmp_path, "e", buy("ETH/USDT", 10.0))
    report = sup.run_cycle(sup.config.strategies)
    return report, {o.id: o.action for o in report.outcomes}


def test_without_the_keys_every_open_goes_through(tmp_path, sup_for):
    sup = _book(tmp_path, sup_for)
    _, actions = _then_all_open(tmp_path, sup)
    assert all(sup.app.strategies[s].positions for s in ("b", "p", "e")), actions


def test_same_direction_cap_holds_the_long_open_and_lets_the_short_open(tmp_path, sup_for):
    sup = _book(tmp_path, sup_for, max_same_direction_notional_usd=500)
    report, actions = _then_all_open(tmp_path, sup)
    book = sup.app.strategies
    assert not book["b"].positions and not book["e"].positions  # both long: held
    assert "long entry held (max_same_direction_notional_usd: long exposure $" in actions["b"]
    assert "> $500)" in actions["b"]
    assert book["p"].positions["BTC"].side == "short"  # the other direction opens
    assert [e.kind for e in report.events] == ["exposure_cap"]
    answer(tmp_path, "a", {**HOLD, "signal": -1})  # a close is never held
    sup.run_cycle(sup.config.strategies)
    assert not book["a"].positions


def test_concentration_cap_holds_only_that_asset_in_its_net_direction(tmp_path, sup_for):
    sup = _book(tmp_path, sup_for, max_asset_concentration_pct=20)  # BTC ~$1,000 of ~$4,000
    report, actions = _then_all_open(tmp_path, sup)
    book = sup.app.strategies
    assert not book["b"].positions
    assert "long entry held (max_asset_concentration_pct: BTC net long $" in actions["b"]
    assert book["p"].positions["BTC"].side == "short"  # against the net: it may open
    assert book["e"].positions  # another asset: untouched
    assert [e.kind for e in report.events] == ["exposure_cap"]
    answer(tmp_path, "b", HOLD)
    after = sup.run_cycle(sup.config.strategies).events  # p's short netted BTC to ~0; ETH now
    assert len(after) == 1 and "ETH net long" in after[0].text and "BTC" not in after[0].text
    assert sup.run_cycle(sup.config.strategies).events == []  # one alert, not every cycle


def test_the_first_gate_in_order_is_named_when_several_refuse(tmp_path, sup_for):
    sup = _book(tmp_path, sup_for, max_same_direction_notional_usd=500, max_notional_usd=500)
    _, actions = _then_all_open(tmp_path, sup)
    assert "long entry held (max_notional_usd: notional $" in actions["b"]
    assert "max_notional_usd: notional $" in actions["p"]  # the book-wide cap holds both ways


def test_on_the_simulated_market_through_the_cli(tmp_path):
    """Two --once runs on one DB: a opens; then b's buy is held only when the key is set."""
    env = base_env(tmp_path)
    held = {}
    for cap in (0, 100):
        run = tmp_path / f"cap{cap}"
        run.mkdir()
        env["GO_TRADER_FAKE_STATE_DIR"] = str(run)
        risk = {"max_same_direction_notional_usd": cap} if cap else {}
        first = write_config(run, [fake_strategy("a", "buy")], portfolio_risk=risk)
        assert run_cli(["--config", str(first), "--once"], env).returncode == 0
        both = [fake_strategy("a", "buy"), fake_strategy("b", "buy")]
        cfg = write_config(run, both, portfolio_risk=risk)
        proc = run_cli(["--config", str(cfg), "--once"], env)
        assert proc.returncode == 0, proc.stderr
        held[cap] = proc.stdout + proc.stderr
    assert "max_same_direction_notional_usd" not in held[0]
    assert "long entry held (max_same_direction_notional_usd: long exposure $" in held[100]


# -- config -----------------------------------------------------------------------------------
def _load(tmp_path, **risk):
    return load_config(write_config(tmp_path, [fake_strategy("a", "hold")], portfolio_risk=risk))


def test_config_zero_or_absent_is_off_and_no_warning(tmp_path):
    assert _load(tmp_path).risk.max_same_direction_notional_usd == 0
    cfg = _load(tmp_path, max_same_direction_notional_usd=10_000, max_asset_concentration_pct=100)
    assert cfg.risk.max_same_direction_notional_usd == 10_000
    assert cfg.risk.max_asset_concentration_pct == 100
    assert not any("portfolio_risk" in w for w in cfg.warnings)


@pytest.mark.parametrize(
    "risk",
    [
        {"max_same_direction_notional_usd": -1},
        {"max_same_direction_notional_usd": "lots"},
        {"max_asset_concentration_pct": 101},
        {"max_asset_concentration_pct": -5},
    ],
)
def test_config_bad_values_are_one_line_errors(tmp_path, risk):
    with pytest.raises(ConfigError) as err:
        _load(tmp_path, **risk)
    (key,) = risk
    assert any(f"portfolio_risk.{key}" in line for line in err.value.lines)


def test_inspect_names_the_gate_of_the_latest_held_open(tmp_path, sup_for):
    from supervisor.cycle_gates import last_hold

    sup = _book(tmp_path, sup_for, max_same_direction_notional_usd=500)
    _then_all_open(tmp_path, sup)
    held = last_hold(sup.app, "b")
    assert held is not None and held["gate"] == "max_same_direction_notional_usd"
    assert held["side"] == "long" and held["cycle"] == sup.app.cycle_count
    assert last_hold(sup.app, "p") is None  # it opened
