"""``go-trader init``: --json for scripts and the interactive wizard (supervisor/ops/init_wizard.py).

Every generated config must load with the real loader and run a cycle offline on the simulated
market; an existing file is never replaced without --force (or a yes); writes are atomic.
"""

from __future__ import annotations

import json
import os
import sqlite3
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import PINNED_NOW, base_env, run_cli

from shared_tools.config.load import load_config
from supervisor.cli import main
from supervisor.ops.init_wizard import write_config

SEED_EXAMPLE = {
    "assets": ["BTC", "ETH"],
    "enableSpot": True,
    "spotStrategies": ["momentum", "rsi"],
    "spotCapital": 1000,
    "spotDrawdown": 60,
}
# One entry per group: the options and the (id, type, platform, script) each asset yields.
GROUPS = {
    "spot": (
        {"enableSpot": True, "spotStrategies": ["chart_pattern"]},
        [("chart-btc", "spot", "binanceus", "check_strategy.py")],
    ),
    "perps": (
        {"enablePerps": True, "perpsStrategies": ["chart_pattern"], "perpsLeverage": 3},
        [("hl-chart-btc", "perps", "hyperliquid", "check_hyperliquid.py")],
    ),
    "futures": (
        {"enableFutures": True, "futuresStrategies": ["breakout"], "futuresSymbols": ["MES"]},
        [("ts-brk-mes", "futures", "topstep", "check_topstep.py")],
    ),
    "luno": (
        {"enableLuno": True, "lunoStrategies": ["momentum_pro"]},
        [("luno-mompro-btc", "spot", "luno", "check_luno.py")],
    ),
    "robinhood": (
        {"enableRobinhood": True, "robinhoodStrategies": ["momentum_pro"]},
        [("rh-mompro-btc", "spot", "robinhood", "check_robinhood.py")],
    ),
    "okx": (
        {"enableOKX": True, "okxSpotStrategies": ["momentum_pro"],
         "okxPerpsStrategies": ["chart_pattern"]},
        [("okx-mompro-btc", "spot", "okx", "check_okx.py"),
         ("okx-chart-btc-perp", "perps", "okx", "check_okx.py")],
    ),
}  # fmt: skip


def _init(args: list[str], input: str | None = None):
    return CliRunner().invoke(main, ["init", *args], input=input)


def _json_init(tmp_path: Path, opts: dict, *extra: str, name: str = "config.json"):
    out = tmp_path / name
    opts = {"dbFile": str(tmp_path / "state.db"), **opts}
    return _init(["--json", json.dumps(opts), "--output", str(out), *extra]), out


@pytest.mark.parametrize("group", sorted(GROUPS))
def test_every_group_generates_a_config_that_loads(tmp_path, group):
    opts, expected = GROUPS[group]
    result, out = _json_init(tmp_path, {"assets": ["BTC"], **opts})
    assert result.exit_code == 0, result.output
    config = load_config(out)
    got = [(s.id, s.type, s.platform, Path(s.script).name) for s in config.strategies]
    assert got == expected
    assert config.config_version == 17
    assert (config.risk.max_drawdown_pct, config.risk.warn_threshold_pct) == (25.0, 60.0)
    assert all(s.max_drawdown_pct == 5 for s in config.strategies)
    assert out.stat().st_mode & 0o777 == 0o600


def test_all_groups_run_a_cycle_offline(tmp_path):
    opts = {"assets": ["BTC", "ETH"], "includePairs": True}
    for group_opts, _ in GROUPS.values():
        opts.update(group_opts)
    result, out = _json_init(tmp_path, opts)
    assert result.exit_code == 0, result.output
    ids = [s["id"] for s in json.loads(out.read_text())["strategies"]]
    assert "pairs-btc-eth" in ids and "hl-chart-eth" in ids and len(ids) == 14
    proc = run_cli(["--config", str(out), "--once"], base_env(tmp_path, GO_TRADER_NOW=PINNED_NOW))
    assert proc.returncode == 0, proc.stderr
    for sid in ids:
        assert sid in proc.stdout
    con = sqlite3.connect(tmp_path / "state.db")
    assert sorted(r[0] for r in con.execute("SELECT id FROM strategies")) == sorted(ids)


def test_the_seed_example(tmp_path):
    result, out = _json_init(tmp_path, SEED_EXAMPLE)
    assert result.exit_code == 0, result.output
    assert f"init: wrote {out} (4 strategies, config_version 17)" in result.output
    doc = json.loads(out.read_text())
    assert [(s["id"], s["args"][:2]) for s in doc["strategies"]] == [
        ("momentum-btc", ["momentum", "BTC/USDT"]),
        ("momentum-eth", ["momentum", "ETH/USDT"]),
        ("rsi-btc", ["rsi", "BTC/USDT"]),
        ("rsi-eth", ["rsi", "ETH/USDT"]),
    ]
    assert {(s["capital"], s["max_drawdown_pct"]) for s in doc["strategies"]} == {(1000, 60)}
    assert doc["portfolio_risk"]["max_drawdown_pct"] == 25
    assert doc["portfolio_risk"]["warn_threshold_pct"] == 60


def test_empty_options_give_the_starter_config_and_keys_ignore_case(tmp_path):
    result, out = _json_init(tmp_path, {})
    assert result.exit_code == 0, result.output
    (s,) = json.loads(out.read_text())["strategies"]
    assert (s["id"], s["capital"], s["max_drawdown_pct"]) == ("chart-btc", 1000, 5)

    result, out2 = _json_init(
        tmp_path,
        {"EnableSpot": True, "SPOTSTRATEGIES": ["anchored_vwap"], "PortfolioMaxDrawdownPct": 12},
        name="b.json",
    )
    assert result.exit_code == 0, result.output
    doc = json.loads(out2.read_text())
    assert [s["id"] for s in doc["strategies"]] == ["avwap-btc"]
    assert doc["portfolio_risk"]["max_drawdown_pct"] == 12


def test_repeated_assets_and_symbols_count_once(tmp_path):
    opts = {"assets": ["btc", "BTC"], "enableFutures": True, "futuresStrategies": ["breakout"],
            "futuresSymbols": ["mes", "MES"]}  # fmt: skip
    result, out = _json_init(tmp_path, opts)
    assert result.exit_code == 0, result.output
    assert "(1 strategy, config_version 17)" in result.output
    assert [s.id for s in load_config(out).strategies] == ["ts-brk-mes"]


def test_perps_options_become_strategy_keys(tmp_path):
    opts = {"enablePerps": True, "perpsStrategies": ["chart_pattern", "breakout"],
            "perpsLeverage": 4, "perpsSizingLeverage": 2, "hlStopLossMarginPct": 30,
            "perpsCapital": 750, "disableCircuitBreaker": True}  # fmt: skip
    result, out = _json_init(tmp_path, opts)
    assert result.exit_code == 0, result.output
    by_id = {s.id: s for s in load_config(out).strategies}
    chart, brk = by_id["hl-chart-btc"], by_id["hl-brk-btc"]
    assert (chart.leverage, chart.sizing_leverage, chart.stop_loss_margin_pct) == (4, 2, 30)
    assert (chart.direction, brk.direction) == ("both", "long")  # registry's can_short
    assert chart.capital == 750 and chart.circuit_breaker is False


@pytest.mark.parametrize(
    "opts, line",
    [
        (
            {"enableOptions": True, "optStrategies": ["wheel", "iron_condor"]},
            'init: optStrategies: unknown options strategy "iron_condor" (available: ',
        ),
        (
            {"enableSpot": True, "spotStrategies": ["chart_pattern", "no_such"]},
            'init: spotStrategies: unknown strategy "no_such" for spot (available: ',
        ),
        (
            {"enableSpot": True, "spotStrategies": ["analog_retrieval"]},
            "init: spotStrategies: analog_retrieval is backtest-only",
        ),
        (
            {"enableSpot": True, "spotStrategies": ["pairs_spread"]},
            "init: spotStrategies: pairs_spread needs two symbols; set includePairs: true",
        ),
        (
            {"enablePerps": True, "perpsMode": "live"},
            "init: perpsMode: live trading is not supported by this build yet",
        ),
        ({"enableSpto": True}, 'init: --json key "enableSpto" is not known (did you mean '),
        ({"spotCapital": "lots"}, "init: --json spotCapital must be a number, got "),
        ({"spotDrawdown": 150}, "init: spotDrawdown must be a number in (0, 100], got 150"),
        ({"autoUpdate": "weekly"}, "init: autoUpdate must be off, daily or heartbeat"),
    ],
)
def test_bad_options_are_one_line_and_write_nothing(tmp_path, opts, line):
    result, out = _json_init(tmp_path, opts)
    assert result.exit_code == 2
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(line), lines
    assert not out.exists()


def test_bad_json_is_one_line(tmp_path):
    result = _init(["--json", "{not json", "--output", str(tmp_path / "c.json")])
    assert result.exit_code == 2
    assert result.output.startswith("init: --json is not valid JSON (")


def test_existing_file_needs_force(tmp_path):
    out = tmp_path / "config.json"
    out.write_text("keep me\n")
    result, _ = _json_init(tmp_path, SEED_EXAMPLE)
    assert result.exit_code == 1
    assert result.output.strip() == (
        f"init: {out} exists; pass --force to overwrite it (nothing written)"
    )
    assert out.read_text() == "keep me\n"

    result, _ = _json_init(tmp_path, SEED_EXAMPLE, "--force")
    assert result.exit_code == 0, result.output
    assert len(json.loads(out.read_text())["strategies"]) == 4


def test_write_never_clobbers_without_overwrite(tmp_path):
    out = tmp_path / "config.json"
    out.write_text("first\n")
    with pytest.raises(FileExistsError):
        write_config(out, {"a": 1}, overwrite=False)
    assert out.read_text() == "first\n"
    write_config(out, {"a": 2}, overwrite=True)
    assert json.loads(out.read_text()) == {"a": 2}
    assert [p.name for p in tmp_path.iterdir()] == ["config.json"]


def test_failed_write_leaves_the_old_file_and_no_temp(tmp_path, monkeypatch):
    out = tmp_path / "config.json"
    out.write_text("old\n")

    def broken_fsync(fd):
        raise OSError(5, "Input/output error")

    monkeypatch.setattr(os, "fsync", broken_fsync)
    result, _ = _json_init(tmp_path, SEED_EXAMPLE, "--force")
    assert result.exit_code == 1
    assert result.output.strip().startswith(f"init: cannot write {out}: ")
    assert out.read_text() == "old\n"
    assert [p.name for p in tmp_path.iterdir()] == ["config.json"]


WIZARD_ANSWERS = [
    "{out}",  # config file
    "BTC,ETH",  # assets
    "bonds",  # groups: refused (no such group), asked again
    "spot,perps",
    "",  # spot strategies: default chart_pattern
    "n",  # pairs
    "",  # spot capital 1000
    "",  # spot drawdown 5
    "live",  # perps mode: refused, asked again
    "paper",
    "chart_pattern,nope",  # refused, asked again
    "chart_pattern",
    "2000",  # perps capital
    "",  # perps drawdown 5
    "2",  # leverage
    "trailing",  # stop framing
    "",  # trailing 3%
    "",  # kill switch 25
    "",  # warn 60
    "y",  # discord
    "42",  # owner id
    "111",  # spot channel
    "",  # hyperliquid channel: none
    "n",  # telegram
    "daily",  # auto-update
    "",  # write: yes
]


def test_wizard_writes_what_was_answered(tmp_path):
    out = tmp_path / "wiz.json"
    answers = "\n".join(WIZARD_ANSWERS).format(out=out) + "\n"
    result = _init([], input=answers)
    assert result.exit_code == 0, result.output
    assert "pick from spot, options, perps" in result.output
    assert "live trading is not supported by this build yet" in result.output
    assert "not a live perps strategy here: nope" in result.output
    doc = json.loads(out.read_text())
    assert doc["discord"] == {"enabled": True, "owner_id": "42", "channels": {"spot": "111"}}
    assert doc["auto_update"] == "daily"
    assert doc["portfolio_risk"]["max_drawdown_pct"] == 25
    assert doc["portfolio_risk"]["warn_threshold_pct"] == 60
    by_id = {s["id"]: s for s in doc["strategies"]}
    assert sorted(by_id) == ["chart-btc", "chart-eth", "hl-chart-btc", "hl-chart-eth"]
    hl = by_id["hl-chart-eth"]
    assert (hl["capital"], hl["max_drawdown_pct"], hl["leverage"]) == (2000, 5, 2)
    assert hl["trailing_stop_pct"] == 3 and hl["htf_filter"] is True
    assert by_id["chart-btc"]["max_drawdown_pct"] == 5
    doc["db_file"] = str(tmp_path / "state.db")
    out.write_text(json.dumps(doc))
    assert len(load_config(out).strategies) == 4


def test_wizard_asks_before_overwriting(tmp_path):
    out = tmp_path / "config.json"
    out.write_text("mine\n")
    result = _init([], input=f"{out}\nn\n")
    assert result.exit_code == 0
    assert f"init: kept {out}; nothing written" in result.output
    assert out.read_text() == "mine\n"


def test_init_offers_options_as_upstream():
    """Upstream's init rules for options: ids <platform|rh>-<short>-<asset>, SOL skipped,
    Robinhood's SPY/QQQ, interval 14400, theta harvest 60/200/3 (the config loads once the
    check_options.py worker exists: tests/test_offline_options.py)."""
    from supervisor.ops.init_config import generate
    from supervisor.ops.init_options import load_catalogue, resolve

    cat = load_catalogue()
    opts = {
        "enableOptions": True,
        "assets": ["BTC", "SOL"],
        "optionPlatforms": ["all"],
        "optStrategies": ["wheel"],
    }
    doc = generate(resolve(opts, cat), cat)
    ids = sorted(e["id"] for e in doc["strategies"])
    assert ids == [
        "deribit-wheel-btc",
        "ibkr-wheel-btc",
        "okx-wheel-btc",
        "rh-wheel-qqq",
        "rh-wheel-spy",
    ]
    ibkr = next(e for e in doc["strategies"] if e["id"] == "ibkr-wheel-btc")
    assert ibkr["args"] == ["wheel", "BTC", "--platform=ibkr"] and ibkr["type"] == "options"
    assert ibkr["interval_seconds"] == 14400 and ibkr["theta_harvest"]["profit_target_pct"] == 60
    assert "atr_method" not in ibkr and "htf_filter" not in ibkr
