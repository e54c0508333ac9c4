"""Perps and futures config keys (issue 8 item 6): ranges, defaults, migrations, venue fit.

Most entries use the fake check script (trusted for any type, so only the trading keys are
judged); the venue-fit tests use stand-in files named like the venue scripts.
"""

from __future__ import annotations

import pytest
from conftest import fake_strategy, write_config

from shared_tools.config.load import load_config
from shared_tools.config.model import ConfigError
from shared_tools.paths import REPO_ROOT
from supervisor.reload import apply_reload, flat_only_problems, structural_changes
from supervisor.state.models import AppState, Position, StrategyState


def _perps(sid: str = "hl-a", symbol: str = "BTC", **extra) -> dict:
    return fake_strategy(sid, "hold", symbol, type="perps", **extra)


def _futures(sid: str = "ts-a", symbol: str = "ES", **extra) -> dict:
    return fake_strategy(sid, "hold", symbol, type="futures", **extra)


def _spot(sid: str = "a", **extra) -> dict:
    return fake_strategy(sid, "hold", **extra)


def _load(tmp_path, *strategies: dict, **top):
    return load_config(write_config(tmp_path, list(strategies), **top))


def _one(tmp_path, *strategies: dict, **top):
    config = _load(tmp_path, *strategies, **top)
    return config.strategies[0]


def _errors(tmp_path, *strategies: dict, **top) -> list[str]:
    with pytest.raises(ConfigError) as exc:
        _load(tmp_path, *strategies, **top)
    return exc.value.lines


def _error(tmp_path, *strategies: dict, **top) -> str:
    lines = _errors(tmp_path, *strategies, **top)
    assert len(lines) == 1, lines
    return lines[0]


# -- ranges: one line naming the strategy and the key ----------------------------------------------


@pytest.mark.parametrize(
    ("entry", "key", "expect"),
    [
        (_perps(leverage=0.5), "leverage", "must be a number in [1, 100], got 0.5"),
        (_perps(leverage=101), "leverage", "must be a number in [1, 100]"),
        (_perps(leverage="3"), "leverage", "must be a number in [1, 100]"),
        (_perps(sizing_leverage=0.001), "sizing_leverage", "[0.01, 100]"),
        (_perps(sizing_leverage=150), "sizing_leverage", "[0.01, 100]"),
        (_perps(margin_per_trade_usd=-5), "margin_per_trade_usd", "(0, 1e12]"),
        (_perps(margin_mode="portfolio"), "margin_mode", "must be isolated or cross"),
        (_perps(direction="sideways"), "direction", "must be long or short or both"),
        (_perps(allow_shorts="yes"), "allow_shorts", "must be true or false"),
        (_perps(invert_signal=1), "invert_signal", "must be true or false"),
        (_perps(stop_loss_pct=51), "stop_loss_pct", "must be a number in [0, 50]"),
        (_perps(stop_loss_pct=-1), "stop_loss_pct", "must be a number in [0, 50]"),
        (_perps(stop_loss_margin_pct=101), "stop_loss_margin_pct", "[0, 100]"),
        (_perps(stop_loss_atr_mult=-1), "stop_loss_atr_mult", "[0, 100]"),
        (_perps(trailing_stop_pct=60), "trailing_stop_pct", "[0, 50]"),
        (_perps(trailing_stop_atr_mult=-0.5), "trailing_stop_atr_mult", "[0, 100]"),
        (
            _perps(trailing_stop_pct=2, trailing_stop_min_move_pct=101),
            "trailing_stop_min_move_pct",
            "[0, 100]",
        ),
        (_futures(futures={"fee_per_contract": -1}), "futures.fee_per_contract", "[0, 1000]"),
        (_futures(futures={"max_contracts": 1.5}), "futures.max_contracts", "an integer"),
        (_futures(futures="ES"), "futures", "must be an object"),
        (_futures(futures={"fee": 2}), "futures", "unknown key(s) 'fee'"),
        (_perps(allowed_regimes="trending_up"), "allowed_regimes", "must be a list"),
        (_perps(allowed_regimes=["bull"]), "allowed_regimes", "unknown label(s)"),
        (_perps(regime_gate_on_failure="maybe"), "regime_gate_on_failure", "open or closed"),
    ],
)
def test_each_key_has_its_range(tmp_path, entry, key, expect):
    line = _error(tmp_path, entry)
    assert f"strategy[{entry['id']}]: {key}" in line and expect in line, line


@pytest.mark.parametrize(
    ("entry", "key", "types"),
    [
        (_spot(leverage=3), "leverage", "perps only, not spot"),
        (_futures(leverage=3), "leverage", "perps only, not futures"),
        (_spot(invert_signal=True), "invert_signal", "perps only"),
        (_futures(margin_mode="cross"), "margin_mode", "perps only"),
        (_spot(margin_per_trade_usd=50), "margin_per_trade_usd", "perps only"),
        (_spot(stop_loss_pct=5), "stop_loss_pct", "perps and futures only, not spot"),
        (_spot(trailing_stop_atr_mult=2), "trailing_stop_atr_mult", "perps and futures only"),
        (_perps(futures={"max_contracts": 2}), "futures", "futures only, not perps"),
    ],
)
def test_keys_of_another_type_are_refused(tmp_path, entry, key, types):
    line = _error(tmp_path, entry)
    assert f"strategy[{entry['id']}]: {key} applies to type {types}" in line, line
    assert "remove it" in line


def test_zero_values_count_as_unset_like_upstream(tmp_path):
    sc = _one(tmp_path, _spot(leverage=0, invert_signal=False, stop_loss_pct=0, futures={}))
    assert sc.leverage == 1 and sc.stop_loss_pct == 0 and not sc.invert_signal
    perps = _one(tmp_path, _perps("p", leverage=0, sizing_leverage=0, margin_per_trade_usd=0))
    assert perps.leverage == 1 and perps.sizing_leverage == 1 and perps.margin_per_trade_usd == 0


# -- defaults ------------------------------------------------------------------------------------


def test_perps_and_futures_defaults(tmp_path):
    perps, futures = _load(
        tmp_path,
        {k: v for k, v in _perps("p").items() if k != "max_drawdown_pct"},
        {k: v for k, v in _futures("f").items() if k != "max_drawdown_pct"},
    ).strategies
    assert (perps.type, perps.direction, perps.leverage, perps.sizing_leverage) == (
        "perps",
        "long",
        1,
        1,
    )
    assert perps.margin_mode == "isolated" and not perps.invert_signal
    assert perps.max_drawdown_pct == 50 and futures.max_drawdown_pct == 45
    assert futures.direction == "both"  # upstream's paper futures are bidirectional
    assert (futures.futures_fee_per_contract, futures.futures_max_contracts) == (0, 0)
    assert perps.trailing_stop_min_move_pct == 0.5


def test_sizing_leverage_follows_leverage_unless_set(tmp_path):
    assert _one(tmp_path, _perps(leverage=3)).sizing_leverage == 3
    sc = _one(tmp_path, _perps(leverage=3, sizing_leverage=1.5, margin_mode="cross"))
    assert (sc.leverage, sc.sizing_leverage, sc.margin_mode) == (3, 1.5, "cross")


def test_margin_per_trade_makes_sizing_leverage_moot(tmp_path):
    config = _load(tmp_path, _perps(margin_per_trade_usd=50, sizing_leverage=2))
    assert config.strategies[0].margin_per_trade_usd == 50
    (line,) = config.warnings
    assert "strategy[hl-a]: sizing_leverage is ignored" in line


def test_futures_block_is_loaded(tmp_path):
    sc = _one(tmp_path, _futures(futures={"fee_per_contract": 2.5, "max_contracts": 3}))
    assert (sc.futures_fee_per_contract, sc.futures_max_contracts) == (2.5, 3)


def test_futures_may_be_restricted_to_one_side(tmp_path):
    assert _one(tmp_path, _futures(direction="long")).direction == "long"
    assert _one(tmp_path, _futures(direction="short")).direction == "short"


# -- direction and the legacy allow_shorts -------------------------------------------------------


@pytest.mark.parametrize(
    ("extra", "direction"),
    [
        ({}, "long"),
        ({"allow_shorts": True}, "both"),
        ({"allow_shorts": False}, "long"),
        ({"direction": "short"}, "short"),
        ({"direction": "both", "allow_shorts": True}, "both"),
        ({"direction": "", "allow_shorts": True}, "both"),
    ],
)
def test_allow_shorts_migrates_to_direction(tmp_path, extra, direction):
    assert _one(tmp_path, _perps(**extra)).direction == direction


def test_direction_and_allow_shorts_that_disagree_are_refused(tmp_path):
    line = _error(tmp_path, _perps(direction="short", allow_shorts=True))
    assert "strategy[hl-a]: direction short disagrees with the legacy allow_shorts true" in line
    assert "remove allow_shorts" in line


@pytest.mark.parametrize(
    ("extra", "key"),
    [({"direction": "both"}, "direction"), ({"allow_shorts": True}, "allow_shorts")],
)
def test_spot_never_shorts(tmp_path, extra, key):
    line = _error(tmp_path, _spot(**extra))
    assert f"strategy[a]: {key}" in line and "spot never shorts" in line
    assert _one(tmp_path, _spot(direction="long", allow_shorts=False)).direction == "long"


def test_invert_signal_on_perps(tmp_path):
    assert _one(tmp_path, _perps("okx-a", invert_signal=True)).invert_signal


# -- stops ---------------------------------------------------------------------------------------


def test_stops_are_mutually_exclusive(tmp_path):
    line = _error(tmp_path, _perps(stop_loss_pct=5, trailing_stop_atr_mult=2))
    assert "strategy[hl-a]: stop_loss_pct, trailing_stop_atr_mult are set together" in line
    assert "keep one" in line


def test_margin_stop_is_bounded_by_leverage(tmp_path):
    line = _error(tmp_path, _perps(stop_loss_margin_pct=90))
    assert "strategy[hl-a]: stop_loss_margin_pct 90 at leverage 1" in line and "<= 50" in line
    sc = _one(tmp_path, _perps(stop_loss_margin_pct=90, leverage=2))
    assert sc.stop_loss_margin_pct == 90 and sc.stop_loss_atr_mult == 0


def test_trailing_min_move_needs_a_trailing_stop(tmp_path):
    line = _error(tmp_path, _perps(stop_loss_pct=3, trailing_stop_min_move_pct=1))
    assert "strategy[hl-a]: trailing_stop_min_move_pct only applies with a trailing stop" in line
    sc = _one(tmp_path, _perps(trailing_stop_pct=2, trailing_stop_min_move_pct=1))
    assert (sc.trailing_stop_pct, sc.trailing_stop_min_move_pct) == (2, 1)
    assert _one(tmp_path, _futures(trailing_stop_atr_mult=1.5)).trailing_stop_atr_mult == 1.5


def test_hl_perps_without_a_stop_get_the_default_atr_stop(tmp_path):
    hl, okx, other, fut = _load(
        tmp_path,
        _perps("hl-a"),
        _perps("okx-a"),
        _perps("p"),
        _futures("ts-a"),
    ).strategies
    assert hl.platform == "hyperliquid" and hl.stop_loss_atr_mult == 1.0
    assert okx.platform == "okx" and okx.stop_loss_atr_mult == 0
    assert other.stop_loss_atr_mult == 0 and fut.stop_loss_atr_mult == 0
    assert _one(tmp_path, _perps(), default_stop_loss_atr_mult=2.5).stop_loss_atr_mult == 2.5


@pytest.mark.parametrize(
    ("extra", "top", "atr", "trailing"),
    [
        ({"stop_loss_atr_mult": 0}, {}, 0, 0),  # one strategy opts out
        ({}, {"default_stop_loss_atr_mult": 0}, 0, 0),  # the whole fleet opts out
        ({"trailing_stop_pct": 2}, {}, 0, 2),  # another stop owns the position
        ({"stop_loss_pct": 0}, {}, 0, 0),  # a stop key set, even to 0, is a choice
        ({"stop_loss_atr_mult": 3}, {"default_stop_loss_atr_mult": 2}, 3, 0),
    ],
)
def test_default_atr_stop_opt_outs(tmp_path, extra, top, atr, trailing):
    sc = _one(tmp_path, _perps(**extra), **top)
    assert (sc.stop_loss_atr_mult, sc.trailing_stop_pct) == (atr, trailing)


def test_default_stop_loss_atr_mult_is_a_real_top_level_key(tmp_path):
    config = _load(tmp_path, _perps(), default_stop_loss_atr_mult=1.5)
    assert not any("default_stop_loss_atr_mult" in w for w in config.warnings)
    line = _error(tmp_path, _perps(), default_stop_loss_atr_mult=-1)
    assert "default_stop_loss_atr_mult must be a number in [0, 100]" in line


# -- regime gate ---------------------------------------------------------------------------------

REGIME = {"enabled": True, "windows": {"medium": 14, "trend": {"classifier": "composite"}}}


def test_allowed_regimes_with_the_regime_on(tmp_path):
    sc = _one(
        tmp_path,
        _perps(
            allowed_regimes=["trending_up", "ranging", "trending_up"],
            regime_gate_window="medium",
        ),
        regime=REGIME,
    )
    assert sc.allowed_regimes == ("trending_up", "ranging")  # duplicates dropped
    assert (sc.regime_gate_window, sc.regime_gate_on_failure) == ("medium", "open")
    composite = _one(
        tmp_path,
        _spot(allowed_regimes=["ranging_directional"], regime_gate_window="trend"),
        regime=REGIME,
    )
    assert composite.allowed_regimes == ("ranging_directional",)


def test_gate_on_failure_defaults_from_the_regime_section(tmp_path):
    regime = {**REGIME, "gate_on_failure": "closed"}
    config = _load(tmp_path, _perps(allowed_regimes=["ranging"]), regime=regime)
    assert config.strategies[0].regime_gate_on_failure == "closed"
    assert not any("gate_on_failure" in w for w in config.warnings)
    own = _one(tmp_path, _perps(regime_gate_on_failure="open"), regime=regime)
    assert own.regime_gate_on_failure == "open"
    line = _error(tmp_path, _perps(), regime={"enabled": True, "gate_on_failure": "shut"})
    assert "regime.gate_on_failure must be open or closed" in line


def test_gate_window_must_be_a_configured_window(tmp_path):
    line = _error(tmp_path, _perps(regime_gate_window="slow"), regime=REGIME)
    assert "strategy[hl-a]: regime_gate_window 'slow' is not a window" in line
    assert "(medium, trend)" in line
    line = _error(tmp_path, _perps(regime_gate_window="medium"), regime={"enabled": True})
    assert "none configured" in line


def test_labels_the_gate_window_never_reports_are_refused(tmp_path):
    line = _error(
        tmp_path,
        _perps(allowed_regimes=["trending_up_clean"], regime_gate_window="medium"),
        regime=REGIME,
    )
    assert "strategy[hl-a]: allowed_regimes label(s) trending_up_clean are never reported" in line
    assert "classifier adx" in line
    line = _error(tmp_path, _perps(allowed_regimes=["ranging_quiet"]), regime={"enabled": True})
    assert "never reported" in line


def test_allowed_regimes_without_the_regime_warn_or_fail_closed(tmp_path):
    config = _load(tmp_path, _perps(allowed_regimes=["trending_up"]))
    assert config.warnings == [
        f"config {tmp_path / 'config.json'}: strategy[hl-a]: allowed_regimes has no effect: "
        "regime.enabled is false"
    ]
    line = _error(
        tmp_path,
        _perps(allowed_regimes=["trending_up"], regime_gate_on_failure="closed"),
        regime={"enabled": False},
    )
    assert "strategy[hl-a]: allowed_regimes with regime_gate_on_failure closed" in line
    line = _error(
        tmp_path,
        _perps(allowed_regimes=["trending_up"]),
        regime={"enabled": False, "gate_on_failure": "closed"},
    )
    assert "regime.enabled" in line


# -- Hyperliquid peers ---------------------------------------------------------------------------


def test_hl_peers_on_one_coin_agree_on_leverage_and_margin_mode(tmp_path):
    line = _error(tmp_path, _perps("hl-a", leverage=3), _perps("hl-b", leverage=5))
    assert "strategy[hl-b]: leverage 5 differs from 3 of strategy[hl-a]" in line
    assert "coin BTC" in line
    line = _error(tmp_path, _perps("hl-a"), _perps("hl-b", "BTC/USDC:USDC", margin_mode="cross"))
    assert "strategy[hl-b]: margin_mode cross differs from isolated of strategy[hl-a]" in line
    ok = _load(
        tmp_path,
        _perps("hl-a", leverage=3, sizing_leverage=1),
        _perps("hl-b", leverage=3, sizing_leverage=2),  # sizing may differ
        _perps("hl-c", "ETH", leverage=5),  # another coin
        _perps("okx-d", leverage=10),  # not Hyperliquid
    )
    assert [sc.id for sc in ok.strategies] == ["hl-a", "hl-b", "hl-c", "okx-d"]


# -- hints and keys still not built --------------------------------------------------------------


@pytest.mark.parametrize("key", ["take_profit", "take_profit_pct", "tp_tiers"])
def test_take_profit_keys_point_to_close_strategies(tmp_path, key):
    line = _error(tmp_path, _perps(**{key: 2}))
    assert f"strategy[hl-a]: unknown key '{key}'" in line
    assert "take-profit lives under close_strategies (e.g. tiered_tp_atr with tp_tiers)" in line
    config = _load(tmp_path, _perps(), **{key: 2})
    assert any("take-profit lives under close_strategies" in w for w in config.warnings)


def test_stop_loss_key_names_the_five_stops(tmp_path):
    line = _error(tmp_path, _perps(stop_loss=2))
    for key in (
        "stop_loss_pct",
        "stop_loss_margin_pct",
        "stop_loss_atr_mult",
        "trailing_stop_pct",
        "trailing_stop_atr_mult",
    ):
        assert key in line


def test_risk_per_trade_pct_is_built(tmp_path):
    """Built now (tests/test_sizing.py has its rules): loaded, no not-built warning."""
    config = _load(tmp_path, _perps(risk_per_trade_pct=1))
    assert not any("risk_per_trade_pct" in w for w in config.warnings)
    assert config.strategies[0].rules.risk_per_trade_pct == 1.0


def test_options_take_upstreams_argv_not_a_signal_checks(tmp_path):
    """type options is built (tests/test_config_options.py); its args are upstream's own."""
    lines = _errors(tmp_path, fake_strategy("a", "hold", type="options"))
    assert any("args must be [<strategy>, <UNDERLYING>, --platform=<p>]" in x for x in lines)


def test_perps_need_strategy_symbol_and_timeframe(tmp_path):
    line = _error(tmp_path, _perps(args=["hold", "BTC"]))
    assert "args must start with <strategy> <symbol> <timeframe>" in line


# -- type, script and platform fit ---------------------------------------------------------------


def _venue(tmp_path, name: str, sid: str, stype: str, *flags: str, **extra) -> dict:
    """An entry whose script is a stand-in named like a venue script (any content will do)."""
    script = tmp_path / name
    script.write_text("")
    entry = {
        "id": sid,
        "type": stype,
        "script": str(script),
        "allow_external_script": True,
        "args": ["momentum", "BTC", "1h", *flags],
        "capital": 1000,
        "allow_deprecated": True,
    }
    entry.update(extra)
    return entry


@pytest.mark.parametrize(
    ("name", "sid", "stype", "flags", "extra"),
    [
        ("check_hyperliquid.py", "hl-a", "perps", (), {}),
        ("check_hyperliquid.py", "a", "perps", (), {}),  # the script names its venue
        ("check_okx.py", "okx-a", "perps", ("--inst-type=swap",), {}),
        ("check_okx.py", "okx-a", "perps", (), {}),  # swap is the default
        ("check_okx.py", "okx-a", "spot", ("--inst-type=spot",), {}),
        ("check_topstep.py", "ts-a", "futures", (), {}),
        ("check_robinhood.py", "rh-a", "spot", (), {}),
        ("check_luno.py", "luno-a", "spot", (), {}),
        ("check_okx.py", "a", "spot", ("--inst-type", "spot"), {"platform": "okx"}),
    ],
)
def test_venue_scripts_that_fit(tmp_path, name, sid, stype, flags, extra):
    sc = _one(tmp_path, _venue(tmp_path, name, sid, stype, *flags, **extra))
    assert sc.type == stype and sc.platform == name[len("check_") : -len(".py")]
    assert not any(a.startswith("--platform") for a in sc.check_argv())


@pytest.mark.parametrize(
    ("entry", "expect"),
    [
        (
            lambda p: _venue(p, "check_strategy.py", "a", "perps"),
            "type perps needs shared_scripts/check_hyperliquid.py",
        ),
        (
            lambda p: _venue(p, "check_strategy.py", "a", "futures"),
            "type futures needs shared_scripts/check_topstep.py",
        ),
        (
            lambda p: _venue(p, "check_okx.py", "hl-a", "perps"),
            "script check_okx.py trades on okx but the id prefix says hyperliquid",
        ),
        (
            lambda p: _venue(p, "check_hyperliquid.py", "a", "perps", platform="okx"),
            "script check_hyperliquid.py trades on hyperliquid but the platform key says okx",
        ),
        (
            lambda p: _venue(p, "check_hyperliquid.py", "hl-a", "spot"),
            "check_hyperliquid.py does not trade type spot",
        ),
        (
            lambda p: _venue(p, "check_topstep.py", "ts-a", "perps"),
            "check_topstep.py does not trade type perps",
        ),
        (
            lambda p: _venue(p, "check_okx.py", "okx-a", "spot"),
            "type spot on check_okx.py needs --inst-type=spot",
        ),
        (
            lambda p: _venue(p, "check_okx.py", "okx-a", "perps", "--inst-type=spot"),
            "type perps on check_okx.py needs --inst-type=swap",
        ),
        (
            lambda p: _venue(p, "check_strategy.py", "rh-a", "spot"),
            "platform robinhood is not a ccxt venue",
        ),
        (
            lambda p: _venue(p, "check_strategy.py", "a", "spot", "--inst-type=spot"),
            "not taken by check_strategy.py",
        ),
    ],
)
def test_type_script_and_platform_must_fit(tmp_path, entry, expect):
    built = entry(tmp_path)
    line = _error(tmp_path, built)
    assert f"strategy[{built['id']}]: " in line and expect in line, line


def test_a_script_of_its_own_is_trusted_for_any_type(tmp_path):
    sc = _one(tmp_path, _venue(tmp_path, "my_check.py", "ts-a", "perps"))
    assert sc.type == "perps" and sc.platform == "topstep"


# -- the seed's example entries load as written --------------------------------------------------

VENUE_SCRIPTS = ("check_hyperliquid.py", "check_okx.py", "check_topstep.py", "check_robinhood.py")
SEED_ENTRIES = [
    {
        "id": "ts-momentum-es",
        "type": "futures",
        "platform": "topstep",
        "script": "shared_scripts/check_topstep.py",
        "args": ["momentum", "ES", "1h", "--mode=paper"],
        "capital": 1000,
        "max_drawdown_pct": 5,
        "interval_seconds": 3600,
    },
    {
        "id": "rh-sma-btc",
        "type": "spot",
        "platform": "robinhood",
        "script": "shared_scripts/check_robinhood.py",
        "args": ["sma_crossover", "BTC", "1h", "--mode=paper"],
        "capital": 500,
        "max_drawdown_pct": 5,
        "interval_seconds": 3600,
    },
    {
        "id": "okx-sma-btc",
        "type": "spot",
        "platform": "okx",
        "script": "shared_scripts/check_okx.py",
        "args": ["sma_crossover", "BTC", "1h", "--mode=paper", "--inst-type=spot"],
        "capital": 1000,
        "max_drawdown_pct": 5,
        "interval_seconds": 3600,
    },
    {
        "id": "okx-sma-btc-perp",
        "type": "perps",
        "platform": "okx",
        "script": "shared_scripts/check_okx.py",
        "args": ["sma_crossover", "BTC", "1h", "--mode=paper", "--inst-type=swap"],
        "capital": 1000,
        "max_drawdown_pct": 5,
        "interval_seconds": 3600,
    },
    {
        "id": "hl-momentum-btc",
        "type": "perps",
        "script": "shared_scripts/check_hyperliquid.py",
        "args": ["momentum", "BTC", "1h", "--mode=paper"],
        "capital": 1000,
        "max_drawdown_pct": 50,
        "interval_seconds": 300,
        "leverage": 3,
        "direction": "both",
    },
]


@pytest.mark.skipif(
    not all((REPO_ROOT / "shared_scripts" / name).exists() for name in VENUE_SCRIPTS),
    reason="the venue check scripts are not in shared_scripts/ yet",
)
def test_seed_example_entries_load_without_edits(tmp_path):
    config = _load(tmp_path, *SEED_ENTRIES)
    ts, rh, okx, okx_perp, hl = config.strategies
    assert (ts.type, ts.platform, ts.direction) == ("futures", "topstep", "both")
    assert (rh.platform, okx.platform, okx.venue) == ("robinhood", "okx", "okx")
    assert (okx_perp.type, okx_perp.venue, okx_perp.stop_loss_atr_mult) == ("perps", "okx-swap", 0)
    assert (hl.platform, hl.leverage, hl.direction) == ("hyperliquid", 3, "both")
    assert hl.stop_loss_atr_mult == 1.0  # the automatic HL stop
    assert all(not e.startswith("config") or "error" not in e for e in config.warnings)


# -- SIGHUP: how a held position is traded changes only while flat -------------------------------


def _held(sid: str, *, quantity: float = 1.0, entry_atr: float = 0.0) -> AppState:
    app = AppState()
    s = StrategyState(id=sid, type="perps", platform="hyperliquid", cash=1000, initial_capital=1000)
    if quantity:
        s.positions["BTC"] = Position(
            "BTC", "p1", quantity, quantity, 100.0, 100.0, entry_atr=entry_atr
        )
    app.strategies[sid] = s
    return app


@pytest.mark.parametrize(
    ("before", "after", "what"),
    [
        ({}, {"direction": "both"}, "direction changed (long -> both)"),
        ({}, {"allow_shorts": True}, "direction changed (long -> both)"),
        ({}, {"invert_signal": True}, "invert_signal changed (False -> True)"),
        ({}, {"leverage": 2}, "leverage changed (1.0 -> 2.0)"),
        ({}, {"margin_mode": "cross"}, "margin_mode changed (isolated -> cross)"),
        (
            {},
            {"trailing_stop_pct": 2},
            "the stop in use changed (stop_loss_atr_mult -> trailing_stop_pct)",
        ),
        ({}, {"stop_loss_atr_mult": 0}, "the stop in use changed (stop_loss_atr_mult -> none)"),
        ({}, {"risk_per_trade_pct": 1}, "risk_per_trade_pct changed (off -> 1.0)"),
        (
            {"risk_per_trade_pct": 1},
            {"risk_per_trade_pct": None},
            "risk_per_trade_pct changed (1.0 -> off)",
        ),
    ],
)
def test_trading_rules_of_a_held_position_change_only_when_flat(tmp_path, before, after, what):
    old = _load(tmp_path, _perps(**before))
    new = _load(tmp_path, _perps(**{**before, **after}))
    (line,) = flat_only_problems(old, new, _held("hl-a"))
    assert line.startswith(f"strategy[hl-a]: {what} while it holds a position")
    assert "close the position first" in line
    assert flat_only_problems(old, new, _held("hl-a", quantity=0)) == []
    changes = apply_reload(old, new, _held("hl-a", quantity=0))
    assert changes, "a flat strategy takes the change and the log names it"


def test_values_and_the_gate_change_with_a_position(tmp_path):
    old = _load(tmp_path, _perps(stop_loss_atr_mult=1, sizing_leverage=1))
    new = _load(
        tmp_path,
        _perps(stop_loss_atr_mult=2, sizing_leverage=2, allowed_regimes=["trending_up"]),
    )
    # the ATR stop is re-armed on the held position, which needs its entry ATR
    assert flat_only_problems(old, new, _held("hl-a", entry_atr=2.0)) == []
    [refused] = flat_only_problems(old, new, _held("hl-a"))
    assert "cannot be armed on BTC (no entry ATR" in refused
    changes = apply_reload(old, new, _held("hl-a", entry_atr=2.0))
    assert "hl-a stop_loss_atr_mult 1.0 -> 2.0" in changes
    assert "hl-a sizing_leverage 1.0 -> 2.0" in changes


def test_futures_block_needs_a_restart(tmp_path):
    old = _load(tmp_path, _futures(futures={"fee_per_contract": 1}))
    new = _load(tmp_path, _futures(futures={"fee_per_contract": 2}))
    assert structural_changes(old, new) == ["strategy[ts-a]: futures_fee_per_contract changed"]


def test_a_leverage_above_the_coins_maximum_warns_in_plain_words(tmp_path):
    # Hyperliquid BTC allows 40x: above it the venue refuses the order live, and the paper
    # book's maintenance margin (1.25%) would liquidate it on a small move.
    config = _load(tmp_path, _perps(leverage=50), _perps("hl-b", "ETH", leverage=10))
    [warning] = [w for w in config.warnings if "maximum" in w]
    assert "strategy[hl-a]" in warning and "leverage 50" in warning
    assert "hyperliquid BTC's maximum 40x" in warning
    assert config.strategy("hl-a").leverage == 50  # a warning: upstream configs still load
