"""The registry against upstream's catalogue: every name, its platforms and its status."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from conftest import REPO

from shared_tools import strategy_status

# Upstream's explicit platform orders (hidden included), catalogue §1.3.
UPSTREAM_SPOT = """sma_crossover ema_crossover rsi bollinger_bands macd mean_reversion momentum
volume_weighted triple_ema rsi_macd_combo stoch_rsi supertrend ichimoku_cloud pairs_spread
squeeze_momentum atr_breakout amd_ifvg heikin_ashi_ema order_blocks vwap_reversion anchored_vwap
anchored_vwap_channel anchored_vwap_reversion chart_pattern liquidity_sweeps parabolic_sar
range_scalper sweep_squeeze_combo adx_trend donchian_breakout tema_cross momentum_pro
mean_reversion_pro rsi_bb_combo atr_band_revert mtf_confluence vol_momentum regime_adaptive
regime_adaptive_htf analog_retrieval hold""".split()  # noqa: SIM905
UPSTREAM_FUTURES = """sma_crossover ema_crossover bollinger_bands volume_weighted triple_ema
triple_ema_bidir tema_cross tema_cross_bd rsi_macd_combo momentum mean_reversion rsi macd breakout
stoch_rsi supertrend squeeze_momentum ichimoku_cloud atr_breakout amd_ifvg heikin_ashi_ema
order_blocks vwap_reversion anchored_vwap anchored_vwap_channel anchored_vwap_reversion
chart_pattern liquidity_sweeps parabolic_sar range_scalper sweep_squeeze_combo adx_trend
delta_neutral_funding funding_skew donchian_breakout session_breakout bear_pullback_st
vwap_rejection_st momentum_pro mean_reversion_pro rsi_bb_combo consolidation_range atr_band_revert
mtf_confluence vol_momentum regime_adaptive regime_adaptive_htf analog_retrieval hold""".split()  # noqa: SIM905


def listed(*flags: str) -> list[dict]:
    out = subprocess.run(
        [sys.executable, "-m", "shared_strategies.open.registry", "--list-json", *flags],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return json.loads(out.stdout)


def test_every_catalogue_strategy_is_registered_on_its_platforms():
    rows = {r["id"]: r for r in listed("--all")}
    assert set(rows) == set(UPSTREAM_SPOT) | set(UPSTREAM_FUTURES)
    assert len(rows) == 50
    for name, row in rows.items():
        platforms = set(row["platforms"])
        assert ("spot" in platforms) == (name in UPSTREAM_SPOT), name
        assert {"perps", "futures"} <= platforms or name not in UPSTREAM_FUTURES, name
        assert row["status"] == strategy_status.status(name), name
        assert isinstance(row["constraints"], list) and isinstance(row["default_params"], dict)


def test_discovery_shows_only_visible_strategies():
    spot = {r["id"] for r in listed("--platform", "spot")}
    assert spot == {
        "anchored_vwap", "anchored_vwap_channel", "anchored_vwap_reversion", "chart_pattern",
        "liquidity_sweeps", "momentum_pro", "mean_reversion_pro", "rsi_bb_combo",
        "atr_band_revert", "regime_adaptive_htf", "hold",
    }  # fmt: skip
    perps = {r["id"] for r in listed("--platform", "perps")}
    assert perps == spot | {
        "breakout", "delta_neutral_funding", "bear_pullback_st", "vwap_rejection_st",
    }  # fmt: skip


def _upstream_config(tmp_path, **sma_params) -> Path:
    from conftest import write_config

    script = "shared_scripts/check_strategy.py"
    strategies = [
        {
            "id": "sma-btc",
            "type": "spot",
            "script": script,
            "args": ["sma_crossover", "BTC/USDT", "1h"],
            "capital": 1000,
            "max_drawdown_pct": 60,
            "open_strategy": {"name": "sma_crossover", "params": sma_params},
            "close_strategies": [{"name": "tiered_tp_atr", "params": {}}],
        },
        {
            "id": "bb-eth",
            "type": "spot",
            "script": script,
            "args": ["bollinger_bands", "ETH/USDT", "4h"],
            "capital": 500,
            "allow_deprecated": True,
            "open_strategy": {"name": "bollinger_bands", "params": {"period": 20, "num_std": 2.0}},
        },
        {
            "id": "avwap-btc",
            "type": "spot",
            "script": script,
            "args": ["anchored_vwap", "BTC/USDT", "1h"],
            "capital": 1000,
            "close_strategy": {"name": "tiered_tp_pct", "params": {}},
        },
        {
            "id": "mompro-sol",
            "type": "spot",
            "script": script,
            "args": ["momentum_pro", "SOL/USDT", "1h"],
            "capital": 1000,
        },
    ]
    return write_config(tmp_path, strategies)


def test_an_upstream_config_with_upstream_param_names_runs_once_offline(tmp_path):
    import sqlite3

    from conftest import base_env, run_cli

    cfg = _upstream_config(tmp_path, fast_period=10, slow_period=30)
    proc = run_cli(["--config", str(cfg), "--once"], base_env(tmp_path))
    assert proc.returncode == 0, proc.stderr
    assert "sma-btc" in proc.stderr and "deprecated upstream" in proc.stderr  # warned once
    assert "bb-eth" not in proc.stderr  # allow_deprecated silences it
    con = sqlite3.connect(tmp_path / "state.db")
    errors = dict(con.execute("SELECT id, last_error FROM strategies"))
    assert errors == {sid: "" for sid in ("sma-btc", "bb-eth", "avwap-btc", "mompro-sol")}


def test_a_constraint_violation_stops_start_up_in_one_line(tmp_path):
    from conftest import base_env, run_cli

    cfg = _upstream_config(tmp_path, fast_period=50, slow_period=20)
    proc = run_cli(["--config", str(cfg), "--once"], base_env(tmp_path))
    assert proc.returncode == 78
    lines = [ln for ln in proc.stderr.splitlines() if "violated" in ln]
    assert len(lines) == 1, proc.stderr
    line = lines[0]
    assert "sma-btc" in line
    assert (
        "fast_period < slow_period" in line
        and "fast_period=50" in line
        and "slow_period=20" in line
    )
    assert "Traceback" not in proc.stderr


def test_keywords_a_strategy_takes_beyond_its_defaults_are_accepted_like_upstream():
    from shared_strategies.open import registry

    merged = registry.merged_params("momentum_pro", {"vol_target_atr_pct": 0.02})
    assert merged["vol_target_atr_pct"] == 0.02
    assert "vol_target_atr_pct" not in registry.merged_params("momentum_pro")
    try:
        registry.merged_params("momentum_pro", {"vol_target_atr_pc": 0.02})
    except ValueError as exc:
        assert "vol_target_atr_pc" in str(exc) and "vol_target_atr_pct" in str(exc)
    else:
        raise AssertionError("a misspelt param must be refused")
