"""Close evaluators (catalogue §4): contract, tier maths and each evaluator at its edges."""

from __future__ import annotations

import json
import math
import subprocess
import sys

import pytest

from shared_strategies.close import registry
from shared_strategies.close._helpers import current_close_fraction, parse_tiers
from shared_strategies.close.ratchet import (
    DEFAULT_RATCHET_TIERS,
    RatchetTier,
    RatchetTierError,
    maybe_apply_mark_ratchet,
    parse_ratchet_tiers,
)
from shared_strategies.close.regime_atr import (
    RegimeATRError,
    parse_regime_atr_block,
    ratchet_close_default_group,
    regime_close_default_group,
    validate_unified_regime_close,
)
from shared_strategies.close.registry import UnknownCloseStrategy, evaluate
from shared_strategies.close.tiered_tp_regime import resolve_tiers_for_regime
from shared_tools.regime_labels import LABELS_COMPOSITE as COMPOSITE_REGIME_LABELS

ALL = [
    "tiered_tp_pct",
    "tiered_tp_atr",
    "tiered_tp_atr_live",
    "tiered_tp_atr_regime",
    "tiered_tp_atr_live_regime",
    "tiered_tp_atr_live_regime_dynamic",
    "trailing_tp_ratchet",
    "trailing_tp_ratchet_regime",
    "time_stop",
    "zscore_target",
    "atr_stop",
    "avwap_stop",
]


def pos(side="long", avg=100.0, qty=1.0, initial=None, **extra):
    out = {"side": side, "avg_cost": avg, "current_quantity": qty, **extra}
    if initial is not None:
        out["initial_quantity"] = initial
    return out


def ev(name, position, market, params=None):
    return evaluate(name, position, market, params)


def frac(name, position, market, params=None):
    return ev(name, position, market, params)["close_fraction"]


def reason(name, position, market, params=None):
    return ev(name, position, market, params)["reason"]


# ---- registry contract (§4.1) ----


def test_names_and_platforms():
    for platform in ("spot", "perps", "futures", "options"):
        assert registry.names(platform) == ALL
    assert registry.names() == ALL
    with pytest.raises(ValueError):
        registry.names("moon")


def test_unknown_name_message():
    with pytest.raises(UnknownCloseStrategy) as info:
        evaluate("nope", pos(), {"mark_price": 100})
    assert isinstance(info.value, ValueError)
    assert str(info.value) == f"Unknown close strategy: nope. Available: {sorted(ALL)}"
    with pytest.raises(UnknownCloseStrategy):
        registry.default_params("nope")


def test_canonical_and_defaults_are_copies():
    assert registry.canonical("tp_at_pct") == "tiered_tp_pct"
    assert registry.canonical("atr_stop") == "atr_stop"
    d = registry.default_params("tiered_tp_pct")
    d["tp_tiers"].clear()
    assert len(registry.default_params("tiered_tp_pct")["tp_tiers"]) == 4
    assert registry.default_params("tp_at_pct") == registry.default_params("tiered_tp_pct")
    assert registry.default_params("avwap_stop") == {"buffer_atr_mult": 0.25, "atr_source": "live"}
    assert registry.default_params("atr_stop") == {"atr_mult": 0.0, "atr_source": "entry"}
    assert registry.default_params("time_stop") == {"max_bars": 0}
    assert registry.default_params("zscore_target") == {"lookback": 0, "z_target": 0.0}
    assert registry.default_params("tiered_tp_atr_regime") == {}
    assert registry.default_params("trailing_tp_ratchet_regime") == {}
    assert registry.default_params("tiered_tp_atr_live_regime") == {"atr_source": "live"}
    assert registry.default_params("tiered_tp_atr_live_regime_dynamic") == {
        "atr_source": "live",
        "regime_confirm_cycles": 2,
    }


def test_list_json_cli():
    out = subprocess.run(
        [sys.executable, "-m", "shared_strategies.close.registry", "--list-json"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    rows = json.loads(out)
    assert [r["id"] for r in rows] == ALL
    assert rows == registry.list_json()
    first = rows[0]
    assert first["deprecated_aliases"] == ["tp_at_pct"]
    assert first["platforms"] == ["spot", "perps", "futures", "options"]
    assert {r["status"] for r in rows} == {"visible"}
    every = registry.list_json("perps", include_all=True)
    assert every[-1]["id"] == "tp_at_pct" and every[-1]["status"] == "deprecated"
    assert every[:-1] == rows


def test_result_normalised(monkeypatch):
    spec = registry._SPECS["time_stop"]
    cases = [
        ({"close_fraction": 1.7, "reason": "x"}, 1.0, "x"),
        ({"close_fraction": -0.3, "reason": "x"}, 0.0, "x"),
        ({"close_fraction": "0.25", "reason": "x"}, 0.25, "x"),
        ({"close_fraction": "junk", "reason": ""}, 0.0, "time_stop:no_reason"),
        ({"close_fraction": float("nan")}, 0.0, "time_stop:no_reason"),
        ({"close_fraction": None, "reason": None}, 0.0, "time_stop:no_reason"),
    ]
    for answer, want_frac, want_reason in cases:
        monkeypatch.setitem(
            registry._SPECS,
            "time_stop",
            registry.CloseSpec(spec.name, lambda p, m, q, a=answer: a, {}, ""),
        )
        out = evaluate("time_stop", {}, {})
        assert out == {"close_fraction": want_frac, "reason": want_reason}


def test_params_merge_over_defaults():
    # Only atr_mult given: atr_source still defaults to entry.
    out = ev("atr_stop", pos(entry_atr=2.0), {"mark_price": 96.0, "atr": 100.0}, {"atr_mult": 2})
    assert out == {"close_fraction": 1.0, "reason": "atr_stop:2"}


def test_none_contexts_are_missing():
    assert reason("tiered_tp_pct", None, None) == "noop:missing_mark_price"
    assert reason("tiered_tp_pct", None, {"mark_price": 101}) == "noop:missing_position"


# ---- tier semantics (§4.2) ----


def test_current_close_fraction_conversion():
    assert current_close_fraction({"current_quantity": 1.0}, 0.5) == 0.5
    assert current_close_fraction({"current_quantity": 0.5, "initial_quantity": 1.0}, 0.5) == 0.0
    assert current_close_fraction({"current_quantity": 0.5, "initial_quantity": 1.0}, 1.0) == 1.0
    assert current_close_fraction({"current_quantity": 0.6, "initial_quantity": 1.0}, 0.5) == (
        pytest.approx(0.1 / 0.6)
    )
    # Fraction clamped; current above initial means nothing taken yet.
    assert current_close_fraction({"current_quantity": 1.0}, 1.5) == 1.0
    assert current_close_fraction({"current_quantity": 2.0, "initial_quantity": 1.0}, 0.5) == 0.25
    assert current_close_fraction({"current_quantity": 0.0, "initial_quantity": 1.0}, 1.0) == 0.0
    assert current_close_fraction({}, 1.0) == 0.0


def test_pct_ladder_upstream_examples():
    assert ev("tiered_tp_pct", pos(), {"mark_price": 102.0}) == {
        "close_fraction": 0.5,
        "reason": "tiered_tp_pct:0.02",
    }
    assert ev("tiered_tp_pct", pos(qty=0.5, initial=1.0), {"mark_price": 102.0}) == {
        "close_fraction": 0.0,
        "reason": "noop:already_taken",
    }
    assert ev("tiered_tp_pct", pos(qty=0.5, initial=1.0), {"mark_price": 104.0}) == {
        "close_fraction": 1.0,
        "reason": "tiered_tp_pct:0.04",
    }


def test_pct_ladder_edges():
    assert reason("tiered_tp_pct", pos(), {"mark_price": 100.9}) == "noop:not_hit"
    assert frac("tiered_tp_pct", pos(), {"mark_price": 101.0}) == 0.25  # inclusive
    assert frac("tiered_tp_pct", pos(), {"mark_price": 150.0}) == 1.0
    # Short: profit when the price falls.
    assert ev("tiered_tp_pct", pos("short"), {"mark_price": 97.0}) == {
        "close_fraction": 0.75,
        "reason": "tiered_tp_pct:0.03",
    }
    assert reason("tiered_tp_pct", pos("short"), {"mark_price": 103.0}) == "noop:not_hit"
    # Side is trimmed and lower-cased; anything else is no position.
    assert frac("tiered_tp_pct", pos(" LONG "), {"mark_price": 102.0}) == 0.5
    assert reason("tiered_tp_pct", pos("flat"), {"mark_price": 102.0}) == "noop:missing_position"
    assert reason("tiered_tp_pct", pos(qty=0), {"mark_price": 102.0}) == "noop:missing_position"
    assert reason("tiered_tp_pct", pos(avg=0), {"mark_price": 102.0}) == "noop:missing_position"
    assert reason("tiered_tp_pct", pos(avg="x"), {"mark_price": 102.0}) == "noop:missing_position"
    # Mark is checked first.
    assert reason("tiered_tp_pct", pos(qty=0), {}) == "noop:missing_mark_price"
    assert reason("tiered_tp_pct", pos(), {"mark_price": 0}) == "noop:missing_mark_price"
    assert reason("tiered_tp_pct", pos(), {"mark_price": "nan"}) == "noop:missing_mark_price"


def test_pct_tier_parsing():
    tiers = [[0.05, 1.0], {"profit_pct": 0.01, "close_fraction": 2}, "junk", {"profit_pct": 0.02}]
    assert parse_tiers(tiers, "profit_pct", ()) == [(0.01, 1.0), (0.05, 1.0)]
    assert parse_tiers([[-1, -0.5]], "profit_pct", ()) == [(0.0, 0.0)]
    default = [(0.01, 0.25)]
    assert parse_tiers([], "profit_pct", default) == default
    assert parse_tiers(None, "profit_pct", default) == default
    assert parse_tiers(["junk"], "profit_pct", default) == default
    # Unsorted tiers are sorted; the highest hit wins.
    params = {"tp_tiers": [[0.03, 0.9], [0.01, 0.3]]}
    assert ev("tiered_tp_pct", pos(), {"mark_price": 103.5}, params) == {
        "close_fraction": 0.9,
        "reason": "tiered_tp_pct:0.03",
    }
    # Non-monotone fractions are not validated: a later, smaller tier is simply taken.
    params = {"tp_tiers": [[0.01, 0.8], [0.02, 0.3]]}
    assert ev("tiered_tp_pct", pos(qty=0.2, initial=1.0), {"mark_price": 102.0}, params) == {
        "close_fraction": 0.0,
        "reason": "noop:already_taken",
    }
    # Trigger floored at 0: closes at breakeven.
    assert frac("tiered_tp_pct", pos(), {"mark_price": 100.0}, {"tp_tiers": [[-0.5, 1]]}) == 1.0


def test_tp_at_pct_alias(capsys):
    registry._warned.clear()
    assert ev("tp_at_pct", pos(), {"mark_price": 102.9}) == {
        "close_fraction": 0.0,
        "reason": "noop:not_hit",
    }
    assert ev("tp_at_pct", pos(), {"mark_price": 103.0}) == {
        "close_fraction": 1.0,
        "reason": "tiered_tp_pct:0.03",
    }
    assert frac("tp_at_pct", pos(), {"mark_price": 101.0}, {"pct": 0.01}) == 1.0
    assert frac("tp_at_pct", pos(), {"mark_price": 101.0}, {"pct": "x"}) == 0.0  # -> 0.03
    assert frac("tp_at_pct", pos(), {"mark_price": 100.0}, {"pct": -1}) == 1.0  # -> 0
    # Other tiered params are dropped by the rewrite.
    assert frac("tp_at_pct", pos(), {"mark_price": 101.0}, {"tp_tiers": [[0.01, 1]]}) == 0.0
    err = capsys.readouterr().err
    assert err.count("deprecated") == 1


def test_tp_at_pct_rewrite_keeps_sl_after():
    assert registry._rewrite_tp_at_pct({"pct": 0.05, "sl_after": "breakeven", "x": 1}) == {
        "tp_tiers": [{"profit_pct": 0.05, "close_fraction": 1.0}],
        "sl_after": "breakeven",
    }


# ---- tiered_tp_atr / _live (§4.4, §4.5) ----


def test_tiered_tp_atr():
    p = pos(entry_atr=2.0)
    assert ev("tiered_tp_atr", p, {"mark_price": 102.9}) == {
        "close_fraction": 0.0,
        "reason": "noop:not_hit",
    }
    assert ev("tiered_tp_atr", p, {"mark_price": 103.0}) == {
        "close_fraction": 0.4,
        "reason": "tiered_tp_atr:1.5",
    }
    assert ev("tiered_tp_atr", p, {"mark_price": 106.0}) == {
        "close_fraction": 0.8,
        "reason": "tiered_tp_atr:3",
    }
    assert frac("tiered_tp_atr", p, {"mark_price": 110.0}) == 1.0
    assert reason("tiered_tp_atr", pos(), {"mark_price": 110.0}) == "noop:missing_entry_atr"
    # market atr is ignored: entry ATR only.
    assert reason("tiered_tp_atr", pos(), {"mark_price": 110.0, "atr": 1}) == (
        "noop:missing_entry_atr"
    )
    # The last fraction is kept as configured (not forced to 1.0).
    params = {"tp_tiers": [{"atr_multiple": 1, "close_fraction": 0.3}]}
    assert frac("tiered_tp_atr", p, {"mark_price": 150.0}, params) == 0.3
    # Short side.
    assert frac("tiered_tp_atr", pos("short", entry_atr=2.0), {"mark_price": 97.0}) == 0.4


def test_tiered_tp_atr_live_example_and_sources():
    p = pos(entry_atr=2.0)
    assert ev("tiered_tp_atr_live", p, {"mark_price": 105.0, "atr": 3.0}) == {
        "close_fraction": 0.4,
        "reason": "tiered_tp_atr_live:live:1.5",
    }
    # Same move in entry ATRs is 2.5 -> still the 1.5 tier; entry source labels "entry".
    assert reason(
        "tiered_tp_atr_live", p, {"mark_price": 106.0, "atr": 3.0}, {"atr_source": "entry"}
    ) == ("tiered_tp_atr_live:entry:3")
    assert reason("tiered_tp_atr_live", p, {"mark_price": 105.0, "live_atr": 3.0}) == (
        "tiered_tp_atr_live:live:1.5"
    )
    assert reason("tiered_tp_atr_live", p, {"mark_price": 104.0}) == (
        "tiered_tp_atr_live:entry_fallback:1.5"
    )
    # Unknown source behaves as live.
    assert reason(
        "tiered_tp_atr_live", p, {"mark_price": 105.0, "atr": 3.0}, {"atr_source": "x"}
    ) == ("tiered_tp_atr_live:live:1.5")
    assert reason("tiered_tp_atr_live", pos(), {"mark_price": 105.0}) == "noop:missing_atr"
    assert reason(
        "tiered_tp_atr_live", pos(), {"mark_price": 105.0, "atr": 3}, {"atr_source": "entry"}
    ) == ("noop:missing_atr")


# ---- stops (§4.10-4.13) ----


def test_atr_stop():
    p = pos(entry_atr=2.0)
    assert reason("atr_stop", p, {"mark_price": 50.0}) == "noop:disabled"
    params = {"atr_mult": 1.5}
    assert reason("atr_stop", p, {"mark_price": 97.1}, params) == "noop:not_hit"
    assert ev("atr_stop", p, {"mark_price": 97.0}, params) == {
        "close_fraction": 1.0,
        "reason": "atr_stop:1.5",
    }
    assert frac("atr_stop", pos("short", entry_atr=2.0), {"mark_price": 103.0}, params) == 1.0
    assert frac("atr_stop", pos("short", entry_atr=2.0), {"mark_price": 102.9}, params) == 0.0
    live = {"atr_mult": 1.0, "atr_source": "live"}
    assert reason("atr_stop", p, {"mark_price": 90.0}, live) == "noop:missing_live_atr"
    assert frac("atr_stop", p, {"mark_price": 95.0, "atr": 5.0}, live) == 1.0
    assert reason("atr_stop", pos(), {"mark_price": 90.0}, params) == "noop:missing_entry_atr"
    assert reason("atr_stop", pos(), {}, params) == "noop:missing_mark_price"


def test_time_stop():
    assert reason("time_stop", {"bars_held": 99}, {}) == "noop:disabled"
    assert reason("time_stop", {"bars_held": 99}, {}, {"max_bars": "x"}) == "noop:disabled"
    assert reason("time_stop", {}, {}, {"max_bars": 3}) == "noop:missing_bars_held"
    assert reason("time_stop", {"bars_held": "?"}, {}, {"max_bars": 3}) == "noop:missing_bars_held"
    assert reason("time_stop", {"bars_held": 2}, {}, {"max_bars": 3}) == "noop:within_window"
    assert ev("time_stop", {"bars_held": 3}, {}, {"max_bars": 3}) == {
        "close_fraction": 1.0,
        "reason": "time_stop:3",
    }


def test_avwap_stop():
    p = pos(entry_atr=4.0)
    m = {"mark_price": 99.5, "avwap": 100.0, "atr": 2.0}
    # Default buffer 0.25 x live ATR 2 = 0.5: hit at 99.5 (inclusive), not at 99.6.
    assert ev("avwap_stop", p, m) == {"close_fraction": 1.0, "reason": "avwap_stop:line_lost:0.25"}
    assert reason("avwap_stop", p, {**m, "mark_price": 99.6}) == "noop:holding_line"
    assert reason("avwap_stop", p, m, {"atr_source": "entry"}) == "noop:holding_line"  # buffer 1
    assert frac("avwap_stop", p, {**m, "mark_price": 99.0}, {"atr_source": "entry"}) == 1.0
    # Short mirror.
    assert frac("avwap_stop", pos("short"), {**m, "mark_price": 100.5}) == 1.0
    assert frac("avwap_stop", pos("short"), {**m, "mark_price": 100.4}) == 0.0
    # Zero / negative buffer: no ATR needed, the line itself.
    no_atr = {"mark_price": 100.0, "avwap": 100.0}
    assert ev("avwap_stop", pos(), no_atr, {"buffer_atr_mult": -1}) == {
        "close_fraction": 1.0,
        "reason": "avwap_stop:line_lost:0",
    }
    assert reason("avwap_stop", pos(), no_atr) == "noop:missing_live_atr"
    assert reason("avwap_stop", pos(), no_atr, {"atr_source": "entry"}) == "noop:missing_entry_atr"
    assert reason("avwap_stop", p, m, {"buffer_atr_mult": "x"}) == "avwap_stop:line_lost:0.25"
    # Order: position before mark, then the line.
    assert reason("avwap_stop", pos(qty=0), {}) == "noop:missing_position"
    assert reason("avwap_stop", pos(), {}) == "noop:missing_mark_price"
    assert reason("avwap_stop", pos(), {"mark_price": 99.0}) == "noop:missing_avwap"


def test_zscore_target():
    on = {"lookback": 20, "z_target": 2.0}
    assert reason("zscore_target", pos(), {"zscore": 9}) == "noop:disabled"
    assert reason("zscore_target", pos(), {"zscore": 9}, {"lookback": 20}) == "noop:disabled"
    assert reason("zscore_target", pos(qty=0), {"zscore": 9}, on) == "noop:missing_position"
    assert reason("zscore_target", pos(), {}, on) == "noop:missing_zscore"
    assert reason("zscore_target", pos(), {"zscore": math.nan}, on) == "noop:missing_zscore"
    assert reason("zscore_target", pos(), {"zscore": 1.99}, on) == "noop:not_hit"
    assert ev("zscore_target", pos(), {"zscore": 2.0}, on) == {
        "close_fraction": 1.0,
        "reason": "zscore_target:2",
    }
    assert frac("zscore_target", pos("short"), {"zscore": -2.0}, on) == 1.0
    assert frac("zscore_target", pos("short"), {"zscore": 2.0}, on) == 0.0
    # No mark price needed.
    assert frac("zscore_target", pos(avg=0), {"zscore": 3}, on) == 1.0


# ---- regime ladders (§4.6-4.8, §4.15) ----

UNIFIED = {
    "trend_regime": {
        "trending_up": {
            "stop_loss_atr": 2.0,
            "tp_tiers": [
                {"atr_multiple": 2.0, "close_fraction": 0.5},
                {"atr_multiple": 4.0, "close_fraction": 1.0},
            ],
        },
        "trending_down": {
            "stop_loss_atr": 2.0,
            "tp_tiers": [
                {"atr_multiple": 2.0, "close_fraction": 0.5},
                {"atr_multiple": 4.0, "close_fraction": 1.0},
            ],
        },
        "ranging": {
            "stop_loss_atr": 1.5,
            "tp_tiers": [
                {"atr_multiple": 1.0, "close_fraction": 0.5},
                {"atr_multiple": 2.0, "close_fraction": 1.0},
            ],
        },
    }
}


def test_regime_upstream_example():
    market = {"mark_price": 130.0}
    up = pos(entry_atr=10.0, regime="trending_up")
    assert ev("tiered_tp_atr_regime", up, market, UNIFIED) == {
        "close_fraction": 0.5,
        "reason": "tiered_tp_atr_regime:trending_up:2",
    }
    ranging = pos(entry_atr=10.0, regime="ranging")
    assert frac("tiered_tp_atr_regime", ranging, market, UNIFIED) == 1.0
    none = pos(entry_atr=10.0)
    assert ev("tiered_tp_atr_regime", none, market, UNIFIED) == {
        "close_fraction": 0.0,
        "reason": "noop:missing_position_regime",
    }
    assert reason("tiered_tp_atr_regime", pos(regime="ranging"), market, UNIFIED) == (
        "noop:missing_entry_atr"
    )
    validate_unified_regime_close(UNIFIED)


def test_regime_unified_details():
    block = {
        "trend_regime": {
            "ranging_directional": {
                "tp_tiers": [
                    {"atr_multiple": 3.0, "close_fraction": 0.9},
                    {"atr_multiple": 1.0, "close_fraction": 5},
                    {"atr_multiple": 0, "close_fraction": 0.5},
                    {"atr_multiple": 2.0, "close_fraction": 0},
                ]
            }
        }
    }
    # Sorted, fraction capped at 1, invalid rungs dropped, last forced to 1.0.
    assert resolve_tiers_for_regime(block, "ranging_directional_up") == [(1.0, 1.0), (3.0, 1.0)]
    assert resolve_tiers_for_regime(block, "ranging_quiet") == []
    p = pos(entry_atr=1.0, regime="ranging_quiet")
    assert reason("tiered_tp_atr_regime", p, {"mark_price": 200}, block) == (
        "noop:tier_resolution_failed"
    )
    assert reason("tiered_tp_atr_regime", p, {"mark_price": 200}) == "noop:tier_resolution_failed"


def test_regime_use_defaults():
    d = {"use_defaults": True}
    assert resolve_tiers_for_regime(d, "trending_up_clean")[0] == (2.5, 0.25)
    assert resolve_tiers_for_regime(d, "trending_up") == [(1.5, 0.4), (3.0, 0.8), (5.0, 1.0)]
    assert resolve_tiers_for_regime(d, "ranging_quiet") == [(0.5, 0.5), (1.0, 1.0)]
    assert resolve_tiers_for_regime(d, "weird") == []
    with pytest.raises(RegimeATRError):
        resolve_tiers_for_regime({**d, "tp_tiers": []}, "ranging")
    p = pos(entry_atr=2.0, regime="ranging")
    assert ev("tiered_tp_atr_regime", p, {"mark_price": 101.0}, d) == {
        "close_fraction": 0.5,
        "reason": "tiered_tp_atr_regime:ranging:0.5",
    }
    assert reason("tiered_tp_atr_regime", p, {"mark_price": 101.0}, {**d, "tp_tiers": []}) == (
        "noop:tier_resolution_failed"
    )


def _legacy_tier(m_up, m_down, m_rng, **extra):
    return {
        "trend_regime": {
            "trending_up": {"atr_multiple": m_up},
            "trending_down": {"atr_multiple": m_down},
            "ranging": {"atr_multiple": m_rng},
        },
        **extra,
    }


def test_regime_legacy_list():
    params = {
        "tp_tiers": [
            _legacy_tier(3.0, 3.0, 1.5, close_fraction=0.6),
            _legacy_tier(1.0, 1.0, 0.5, close_fraction=0.3),
        ]
    }
    assert resolve_tiers_for_regime(params, "ranging") == [(0.5, 0.3), (1.5, 1.0)]
    per_regime = {
        "tp_tiers": [
            {
                "trend_regime": {
                    "trending_up": {"atr_multiple": 1, "close_fraction": 0.2},
                    "trending_down": {"atr_multiple": 1, "close_fraction": 0.4},
                    "ranging": {"atr_multiple": 1, "close_fraction": 0.6},
                }
            },
            _legacy_tier(2, 2, 2, close_fraction=1.0),
        ]
    }
    assert resolve_tiers_for_regime(per_regime, "trending_down") == [(1.0, 0.4), (2.0, 1.0)]
    bad = [
        {"tp_tiers": [_legacy_tier(1, 1, 1)]},  # no fraction anywhere
        {"tp_tiers": [{**per_regime["tp_tiers"][0], "close_fraction": 0.5}]},  # both
        {"tp_tiers": [{"trend_regime": {"trending_up": {"atr_multiple": 1}}, "close_fraction": 1}]},
        {"tp_tiers": [_legacy_tier(0, 1, 1, close_fraction=1)]},
        {"tp_tiers": [_legacy_tier(1, 1, 1, close_fraction=1.5)]},
        {"tp_tiers": [_legacy_tier(1, 1, 1, close_fraction=1, extra=1)]},
        {"tp_tiers": [{"trend_regime": {"trending_up": {"atr": 1}}, "close_fraction": 1}]},
    ]
    for params in bad:
        with pytest.raises(RegimeATRError):
            resolve_tiers_for_regime(params, "ranging")
    # Composite-keyed legacy blocks fail in this evaluator (ADX vocabulary only).
    composite = {
        "tp_tiers": [
            {
                "trend_regime": {lab: {"atr_multiple": 1} for lab in COMPOSITE_REGIME_LABELS},
                "close_fraction": 1,
            }
        ]
    }
    p = pos(entry_atr=1.0, regime="ranging_quiet")
    assert reason("tiered_tp_atr_regime", p, {"mark_price": 110}, composite) == (
        "noop:tier_resolution_failed"
    )


def test_live_regime_sources_and_order():
    p = pos(entry_atr=10.0, regime="ranging")
    m = {"mark_price": 130.0, "atr": 10.0, "regime": "trending_up"}
    assert ev("tiered_tp_atr_live_regime", p, m, UNIFIED) == {
        "close_fraction": 0.5,
        "reason": "tiered_tp_atr_live_regime:atr=live:regime=live:trending_up:2",
    }
    frozen = {"mark_price": 130.0, "atr": 10.0}
    assert ev("tiered_tp_atr_live_regime", p, frozen, UNIFIED) == {
        "close_fraction": 1.0,
        "reason": "tiered_tp_atr_live_regime:atr=live:regime=frozen:ranging:2",
    }
    assert reason("tiered_tp_atr_live_regime", p, {"mark_price": 130.0}, UNIFIED) == (
        "tiered_tp_atr_live_regime:atr=entry_fallback:regime=frozen:ranging:2"
    )
    assert reason(
        "tiered_tp_atr_live_regime_dynamic", p, m, {**UNIFIED, "atr_source": "entry"}
    ) == ("tiered_tp_atr_live_regime_dynamic:atr=entry:regime=live:trending_up:2")
    # Order: mark, position, regime, ATR, tiers.
    assert reason("tiered_tp_atr_live_regime", pos(), {}, UNIFIED) == "noop:missing_mark_price"
    assert reason("tiered_tp_atr_live_regime", pos(), {"mark_price": 1}) == "noop:missing_regime"
    assert reason("tiered_tp_atr_live_regime", pos(regime="ranging"), {"mark_price": 1}) == (
        "noop:missing_atr"
    )
    assert reason("tiered_tp_atr_live_regime", p, {"mark_price": 101}) == (
        "noop:tier_resolution_failed"
    )
    assert reason("tiered_tp_atr_live_regime", p, {"mark_price": 105}, UNIFIED) == "noop:not_hit"


def test_regime_groups():
    assert regime_close_default_group("trending_up_clean") == "clean"
    assert regime_close_default_group("trending_down_choppy") == "choppy"
    assert regime_close_default_group("ranging_volatile") == "ranging"
    assert regime_close_default_group("trending_down") == "choppy"
    assert regime_close_default_group("sideways") is None
    assert ratchet_close_default_group("ranging") == "ranging_quiet"
    assert ratchet_close_default_group("ranging_directional_down") == "ranging_directional"
    assert ratchet_close_default_group("ranging_volatile") == "ranging_volatile"
    assert ratchet_close_default_group("trending_up_clean") == "clean"
    assert ratchet_close_default_group("ranging_other") == "ranging"


def test_parse_regime_atr_block():
    block = parse_regime_atr_block({"use_defaults": True}, "x", "trailing", COMPOSITE_REGIME_LABELS)
    assert block.resolve("ranging_directional_up").atr_multiple == 1.5
    assert (
        parse_regime_atr_block({"use_defaults": True}, "x", "stop_loss")
        .resolve("ranging")
        .atr_multiple
        == 1.5
    )
    full = {
        "trend_regime": {
            "trending_up": {"atr_multiple": -1},
            "trending_down": {"atr_multiple": 1},
            "ranging": {"atr_multiple": 1},
        }
    }
    assert parse_regime_atr_block(full, "x", "sl_after").resolve("trending_up").atr_multiple == -1
    composite = {
        "trend_regime": {
            lab: {"atr_multiple": 1}
            for lab in COMPOSITE_REGIME_LABELS
            if not lab.startswith("ranging_directional_")
        }
    }
    assert (
        parse_regime_atr_block(composite, "x", "trailing", COMPOSITE_REGIME_LABELS)
        .resolve("ranging_directional_down")
        .atr_multiple
        == 1
    )
    subs_only = {
        "trend_regime": {
            lab: {"atr_multiple": 1}
            for lab in COMPOSITE_REGIME_LABELS
            if lab != "ranging_directional"
        }
    }
    bad = [
        ({"use_defaults": True}, "tp_tier_atr_only"),
        ({"use_defaults": True, "trend_regime": full["trend_regime"]}, "trailing"),
        (full, "trailing"),  # negative multiple
        ({"trend_regime": {"trending_up": {"atr_multiple": 1}}}, "trailing"),
        ({"trend_regime": {**full["trend_regime"], "moon": {"atr_multiple": 1}}}, "sl_after"),
        ({"trend_regime": {**full["trend_regime"], "ranging": {"atr": 1}}}, "sl_after"),
        (
            {
                "trend_regime": {
                    **full["trend_regime"],
                    "ranging": {"atr_multiple": 1, "close_fraction": 1},
                }
            },
            "trailing",
        ),
    ]
    for raw, surface in bad:
        with pytest.raises(RegimeATRError):
            parse_regime_atr_block(raw, "x", surface)
    with pytest.raises(RegimeATRError):
        parse_regime_atr_block(subs_only, "x", "trailing", COMPOSITE_REGIME_LABELS)


def test_validate_unified_regime_close_refuses():
    bad_key = {**UNIFIED, "extra": 1}
    one_tier = {
        "trend_regime": {
            **UNIFIED["trend_regime"],
            "ranging": {"stop_loss_atr": 1, "tp_tiers": [{"atr_multiple": 1, "close_fraction": 1}]},
        }
    }
    no_stop = {
        "trend_regime": {
            **UNIFIED["trend_regime"],
            "ranging": {"tp_tiers": UNIFIED["trend_regime"]["ranging"]["tp_tiers"]},
        }
    }
    missing = {"trend_regime": {"ranging": UNIFIED["trend_regime"]["ranging"]}}
    for params in (bad_key, one_tier, no_stop, missing):
        with pytest.raises(RegimeATRError):
            validate_unified_regime_close(params)
    validate_unified_regime_close({**UNIFIED, "atr_source": "entry"})


# ---- ratchet (§4.9) ----


def test_ratchet_default_trail_only_rungs():
    p = pos(entry_atr=2.0)
    assert reason("trailing_tp_ratchet", p, {"mark_price": 103.9}) == "noop:not_hit"
    assert ev("trailing_tp_ratchet", p, {"mark_price": 104.0}) == {
        "close_fraction": 0.0,
        "reason": "noop:already_taken",
    }
    assert reason("trailing_tp_ratchet", pos(), {"mark_price": 104.0}) == "noop:missing_entry_atr"


def test_ratchet_scale_out_and_reason():
    tiers = [
        {"atr_multiple": 1.0, "trailing_mult_after": 1.0, "close_fraction": 0.25},
        {"multiple": 2.0, "tp_atr_fraction": 0.4, "fraction": 0.5},
    ]
    p = pos("short", entry_atr=2.0)
    assert ev("trailing_tp_ratchet", p, {"mark_price": 98.0}, {"tp_tiers": tiers}) == {
        "close_fraction": 0.25,
        "reason": "trailing_tp_ratchet:1",
    }
    assert frac("trailing_tp_ratchet", p, {"mark_price": 96.0}, {"tp_tiers": tiers}) == 0.5
    as_dict = {"tp_tiers": {"default": tiers, "ranging": []}}
    assert frac("trailing_tp_ratchet", p, {"mark_price": 98.0}, as_dict) == 0.25
    assert (
        frac("trailing_tp_ratchet", p, {"mark_price": 98.0}, {"tp_tiers": {"ranging": tiers}})
        == 0.25
    )
    assert reason("trailing_tp_ratchet", p, {"mark_price": 98.0}, {"tp_tiers": {"x": tiers}}) == (
        "noop:tier_resolution_failed"
    )


def test_ratchet_tier_validation():
    good = {"atr_multiple": 1.0, "trailing_mult_after": 1.0}
    assert parse_ratchet_tiers([good]) == [RatchetTier(1.0, 1.0, 0.0)]
    # tp_atr_fraction x trigger
    assert parse_ratchet_tiers([{"atr": 2.0, "tp_atr_fraction": 0.5}]) == [
        RatchetTier(2.0, 1.0, 0.0)
    ]
    dropped = [
        {"atr_multiple": 1.0, "trailing_mult_after": 1.0, "tp_atr_fraction": 0.5},  # both
        {"atr_multiple": 1.0},  # neither
        {"atr_multiple": 0, "trailing_mult_after": 1.0},
        {"atr_multiple": 1.0, "trailing_mult_after": 0},
        {"atr_multiple": 1.0, "trailing_mult_after": 1.0, "close_fraction": 1.2},
        {"atr_multiple": "x", "trailing_mult_after": 1.0},
        "junk",
    ]
    for item in dropped:
        assert parse_ratchet_tiers([good, item]) == [RatchetTier(1.0, 1.0, 0.0)]
        with pytest.raises(RatchetTierError):
            parse_ratchet_tiers([item])
    # Monotone after sorting: trail may not widen, fraction may not shrink.
    widen = [good, {"atr_multiple": 2.0, "trailing_mult_after": 1.5}]
    shrink = [
        {"atr_multiple": 2.0, "trailing_mult_after": 1.0, "close_fraction": 0.2},
        {"atr_multiple": 1.0, "trailing_mult_after": 1.0, "close_fraction": 0.5},
    ]
    for tiers in (widen, shrink):
        with pytest.raises(RatchetTierError):
            parse_ratchet_tiers(tiers)
        assert reason(
            "trailing_tp_ratchet", pos(entry_atr=1.0), {"mark_price": 110}, {"tp_tiers": tiers}
        ) == ("noop:tier_resolution_failed")
    # Unsorted but monotone once sorted; equal trails within 1e-12 pass.
    unsorted = [
        {"atr_multiple": 2.0, "trailing_mult_after": 1.0 + 1e-13, "close_fraction": 0.5},
        {"atr_multiple": 1.0, "trailing_mult_after": 1.0, "close_fraction": 0.5},
    ]
    assert [t.atr_multiple for t in parse_ratchet_tiers(unsorted)] == [1.0, 2.0]
    with pytest.raises(RatchetTierError):
        parse_ratchet_tiers([])


def test_ratchet_regime():
    p = pos(entry_atr=1.0, regime="ranging")  # -> ranging_quiet ladder
    assert ev("trailing_tp_ratchet_regime", p, {"mark_price": 100.75}) == {
        "close_fraction": 0.4,
        "reason": "trailing_tp_ratchet_regime:ranging:0.75",
    }
    assert frac("trailing_tp_ratchet_regime", p, {"mark_price": 102.0}) == 1.0
    assert reason("trailing_tp_ratchet_regime", pos(entry_atr=1.0), {"mark_price": 110}) == (
        "noop:missing_position_regime"
    )
    assert reason("trailing_tp_ratchet_regime", pos(entry_atr=1.0), {}) == "noop:missing_mark_price"
    # A label whose group is plain "ranging" has no ratchet ladder.
    odd = pos(entry_atr=1.0, regime="ranging_other")
    assert reason("trailing_tp_ratchet_regime", odd, {"mark_price": 110}) == (
        "noop:tier_resolution_failed"
    )
    clean = pos(entry_atr=1.0, regime="trending_up_clean")
    assert reason("trailing_tp_ratchet_regime", clean, {"mark_price": 103}) == "noop:already_taken"
    assert reason("trailing_tp_ratchet_regime", clean, {"mark_price": 102.9}) == "noop:not_hit"
    # Explicit dict: the stamped label must be present.
    tiers = {"ranging": [{"atr_multiple": 1.0, "trailing_mult_after": 1.0, "close_fraction": 1.0}]}
    assert frac("trailing_tp_ratchet_regime", p, {"mark_price": 101}, {"tp_tiers": tiers}) == 1.0
    assert reason(
        "trailing_tp_ratchet_regime", clean, {"mark_price": 101}, {"tp_tiers": tiers}
    ) == ("noop:tier_resolution_failed")
    assert reason("trailing_tp_ratchet_regime", p, {"mark_price": 101}, {"tp_tiers": [tiers]}) == (
        "noop:tier_resolution_failed"
    )


def test_maybe_apply_mark_ratchet():
    tiers = list(DEFAULT_RATCHET_TIERS)  # 2.0->1.5, 2.5->1.0, 3.0->0.8
    args = dict(avg_cost=100.0, entry_atr=1.0, side="long", trailing_stop_atr_mult=2.0)
    assert maybe_apply_mark_ratchet(tiers, 0, 101.9, post_tp_trail_mult=0.0, **args) == (0, 0.0)
    assert maybe_apply_mark_ratchet(tiers, 0, 102.0, post_tp_trail_mult=0.0, **args) == (1, 1.5)
    assert maybe_apply_mark_ratchet(tiers, 0, 102.6, post_tp_trail_mult=0.0, **args) == (2, 1.0)
    # Already past rung 2: only rungs at or above the watermark count.
    assert maybe_apply_mark_ratchet(tiers, 2, 102.6, post_tp_trail_mult=1.0, **args) == (2, 1.0)
    assert maybe_apply_mark_ratchet(tiers, 2, 103.0, post_tp_trail_mult=1.0, **args) == (3, 0.8)
    # 1e-12 slack on the trigger.
    assert maybe_apply_mark_ratchet(tiers, 0, 102.0 - 1e-13, post_tp_trail_mult=0.0, **args)[0] == 1
    # Never loosens: base trail tighter than the rung.
    tight = {**args, "trailing_stop_atr_mult": 1.2}
    assert maybe_apply_mark_ratchet(tiers, 0, 102.0, post_tp_trail_mult=0.0, **tight) == (1, 0.0)
    short = {**args, "side": "short"}
    assert maybe_apply_mark_ratchet(tiers, 0, 98.0, post_tp_trail_mult=0.0, **short) == (1, 1.5)
    assert maybe_apply_mark_ratchet(
        tiers, 0, 98.0, post_tp_trail_mult=0.0, **{**args, "side": "x"}
    ) == (0, 0.0)


@pytest.mark.parametrize("name", ALL)
def test_every_evaluator_survives_garbage(name):
    garbage = [
        ({}, {}, {}),
        (pos(), {"mark_price": 101}, {"tp_tiers": "junk", "atr_source": 5}),
        ({"side": 3, "avg_cost": [], "entry_atr": "x", "regime": 7}, {"mark_price": "x"}, None),
        (
            pos(entry_atr=1, regime="ranging", bars_held=1),
            {"mark_price": 1e9, "atr": 1, "avwap": 1, "zscore": 5, "regime": "ranging"},
            {
                "tp_tiers": [None, [1], {"x": 1}],
                "trend_regime": [],
                "max_bars": 1,
                "atr_mult": 1,
                "lookback": 1,
                "z_target": 1,
            },
        ),
    ]
    for position, market, params in garbage:
        out = evaluate(name, position, market, params)
        assert set(out) == {"close_fraction", "reason"}
        assert 0.0 <= out["close_fraction"] <= 1.0
        assert out["reason"]


# ---- sl_after helper (§4.16) ----


def test_sl_after_parse_and_trigger():
    from shared_strategies.close.post_tp_sl import (
        SlAfterError,
        compute_post_tp_stop_loss_trigger,
        find_highest_cleared_tier,
        parse_sl_after,
    )

    assert parse_sl_after(None) is None and parse_sl_after("") is None
    be = parse_sl_after("breakeven")
    assert compute_post_tp_stop_loss_trigger(be, "long", 100, 2, 110) == 100
    off = parse_sl_after({"atr_mult": -0.5})
    assert compute_post_tp_stop_loss_trigger(off, "long", 100, 2, 110) == 99
    assert compute_post_tp_stop_loss_trigger(off, "short", 100, 2, 90) == 101
    assert compute_post_tp_stop_loss_trigger(off, "long", 100, 0, 110) is None
    assert compute_post_tp_stop_loss_trigger(off, "flat", 100, 2, 110) is None
    trail = parse_sl_after({"trail_from_here": {"trail_atr_mult": 1.5}})
    assert compute_post_tp_stop_loss_trigger(trail, "long", 100, 2, 110) == 107
    assert compute_post_tp_stop_loss_trigger(trail, "short", 100, 2, 90) == 93
    share = parse_sl_after({"trail_from_here": {"tp_atr_fraction": 0.5}})
    assert compute_post_tp_stop_loss_trigger(share, "long", 100, 2, 110, tier_multiple=3) == 107
    assert compute_post_tp_stop_loss_trigger(share, "long", 100, 2, 110) is None
    regime = parse_sl_after(
        {
            "trend_regime": {
                "trending_up": {"atr_multiple": 1},
                "trending_down": {"atr_multiple": 1},
                "ranging": {"atr_multiple": 0},
            }
        }
    )
    assert (
        compute_post_tp_stop_loss_trigger(regime, "long", 100, 2, 110, regime="trending_up") == 102
    )
    assert compute_post_tp_stop_loss_trigger(regime, "long", 100, 2, 110, regime="x") is None
    explicit = parse_sl_after({"kind": "atr_offset", "atr_offset": 1})
    assert compute_post_tp_stop_loss_trigger(explicit, "long", 100, 2, 110) == 102
    for bad in (
        "later",
        5,
        {"atr_mult": 1, "atr_offset": 1},
        {"kind": "moon"},
        {"trail_from_here": {"atr_mult": 0}},
        {"atr_mult": 1, "trend_regime": {}},
        {"trail_from_here": {"atr_mult": 1, "tp_atr_fraction": 0.5}},
    ):
        with pytest.raises(SlAfterError):
            parse_sl_after(bad)
    assert find_highest_cleared_tier([0.4, 0.8, 0.9], 0.0, 1.0) == -1
    assert find_highest_cleared_tier([0.4, 0.8, 0.9], 0.4 - 1e-10, 1.0) == 0
    assert find_highest_cleared_tier([0.4, 0.8, 0.9], 0.95, 1.0) == 1  # last counts as 1.0
    assert find_highest_cleared_tier([0.4, 0.8, 0.9], 1.0, 1.0) == 2
