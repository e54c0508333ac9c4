"""Config validation: every bad config exits 78 with one line per problem, never a traceback."""

from __future__ import annotations

import json

import pytest
from conftest import base_env, fake_strategy, run_cli, write_config

from supervisor.config import ConfigError, load_config


def _lines(proc) -> list[str]:
    return [line for line in proc.stderr.splitlines() if line.strip()]


@pytest.mark.parametrize(
    ("mutate", "expect"),
    [
        (lambda s: s[0].update(captial=5), "unknown key 'captial' (did you mean 'capital'?)"),
        (lambda s: s.append(dict(s[0])), "duplicate strategy id 'a'"),
        (lambda s: s[0].update(capital=-5), "capital must be > 0"),
        (
            lambda s: s[0].update(script="shared_scripts/nope.py"),
            "script 'shared_scripts/nope.py' not found",
        ),
        (lambda s: s[0].update(capital="lots"), "capital must be a number"),
        (
            lambda s: s[0].update(params={"x": 1}),
            "unknown key 'params' (per-strategy params moved into open_strategy",
        ),
        (
            lambda s: s[0].update(max_drawdown_pct=250),
            "max_drawdown_pct must be a number in (0, 100]",
        ),
        (lambda s: s[0].update(type="warp"), "type must be one of"),
    ],
)
def test_bad_config_exits_78_with_one_line(tmp_path, mutate, expect):
    strategies = [fake_strategy("a", "hold")]
    mutate(strategies)
    cfg = write_config(tmp_path, strategies)
    proc = run_cli(["--config", str(cfg), "--once"], base_env(tmp_path))
    assert proc.returncode == 78, proc.stderr
    lines = _lines(proc)
    assert len(lines) == 1, lines
    assert expect in lines[0]
    assert str(cfg) in lines[0]
    assert "Traceback" not in proc.stderr
    assert proc.stdout == ""


def test_malformed_json_exits_78(tmp_path):
    cfg = tmp_path / "config.json"
    cfg.write_text('{"strategies": [ {"id": "a",, } ]}')
    proc = run_cli(["--config", str(cfg), "--once"], base_env(tmp_path))
    assert proc.returncode == 78
    lines = _lines(proc)
    assert len(lines) == 1 and "invalid JSON at line 1 column" in lines[0]


def test_missing_config_file_exits_78(tmp_path):
    proc = run_cli(["--config", str(tmp_path / "nope.json"), "--once"], base_env(tmp_path))
    assert proc.returncode == 78
    assert "file not found" in proc.stderr


def test_all_problems_reported_at_once(tmp_path):
    strategies = [fake_strategy("a", "hold", capital=0), fake_strategy("b", "hold", bogus=1)]
    cfg = write_config(tmp_path, strategies)
    with pytest.raises(ConfigError) as exc:
        load_config(cfg)
    assert len(exc.value.lines) == 2


def test_unknown_flag_is_usage_error(tmp_path):
    proc = run_cli(["--config", "x.json", "--bogus"], base_env(tmp_path))
    assert proc.returncode == 2
    assert "No such option" in proc.stderr


def test_defaults_and_argv(tmp_path):
    cfg = write_config(
        tmp_path,
        [
            fake_strategy("a", "hold", open_strategy={"name": "hold", "params": {"k": 2}}),
            fake_strategy("luno-b", "hold", interval_seconds=60),
        ],
    )
    config = load_config(cfg)
    a, b = config.strategies
    assert a.platform == "binanceus" and b.platform == "luno"
    assert a.max_drawdown_pct == 99
    assert config.tick_seconds == 60
    argv = a.check_argv()
    assert argv[:3] == ["hold", "BTC/USDT", "1h"]
    refs = json.loads(argv[3].split("=", 1)[1])
    assert refs == {"open": {"name": "hold", "params": {"k": 2}}}
    assert argv[-1] == "--atr-method=simple"


def test_example_config_loads():
    from pathlib import Path

    config = load_config(Path(__file__).resolve().parent.parent / "examples" / "offline.json")
    assert len(config.strategies) == 14
    assert {s.args[0] for s in config.strategies} == {
        "momentum",
        "rsi",
        "macd",
        "volume_weighted",
        "pairs_spread",
    }


def test_live_mode_is_refused_until_supported(tmp_path):
    cfg = write_config(
        tmp_path, [fake_strategy("a", "hold", args=["hold", "BTC/USDT", "1h", "--mode=live"])]
    )
    with pytest.raises(ConfigError) as exc:
        load_config(cfg)
    assert "live trading (--mode=live) is not supported" in exc.value.lines[0]


def test_non_default_platform_reaches_the_worker(tmp_path):
    cfg = write_config(tmp_path, [fake_strategy("luno-btc", "hold", "XBT/ZAR")])
    (sc,) = load_config(cfg).strategies
    assert sc.platform == "luno" and sc.check_argv()[-1] == "--platform=luno"


def test_non_finite_numbers_are_refused(tmp_path):
    cfg = tmp_path / "config.json"
    cfg.write_text('{"script_timeout_seconds": NaN, "strategies": []}')
    with pytest.raises(ConfigError) as exc:
        load_config(cfg)
    assert exc.value.lines == [f"config {cfg}: NaN is not a valid number here; use a finite number"]


def test_relative_db_file_is_anchored_at_the_repo(tmp_path):
    from supervisor.config import REPO_ROOT

    cfg = write_config(tmp_path, [fake_strategy("a", "hold")], db_file="state/x.db")
    assert load_config(cfg).db_file == REPO_ROOT / "state" / "x.db"
