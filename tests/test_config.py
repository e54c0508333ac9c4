"""Config validation: every bad config exits 78 with one line per problem, never a traceback."""

from __future__ import annotations

import json

import pytest
from conftest import base_env, fake_strategy, run_cli, write_config

from shared_tools.config.load import load_config
from shared_tools.config.model import ConfigError


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
            'script "shared_scripts/nope.py" not found',
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
    assert "live trading (--mode=live) on binanceus spot is not supported" in exc.value.lines[0]


def test_non_default_platform_reaches_the_worker(tmp_path):
    cfg = write_config(tmp_path, [fake_strategy("luno-btc", "hold", "XBT/ZAR")])
    (sc,) = load_config(cfg).strategies
    assert sc.platform == "luno" and sc.check_argv()[-1] == "--platform=luno"


def test_non_finite_numbers_are_refused(tmp_path):
    cfg = tmp_path / "config.json"
    cfg.write_text('{"script_timeout_seconds": NaN, "strategies": []}')
    with pytest.raises(ConfigError) as exc:
        load_config(cfg)
    assert exc.value.lines == [
        f"config {cfg}: script_timeout_seconds: NaN is not a valid number here; use a finite number"
    ]


def test_relative_db_file_is_anchored_at_the_repo(tmp_path):
    from shared_tools.paths import REPO_ROOT

    cfg = write_config(tmp_path, [fake_strategy("a", "hold")], db_file="state/x.db")
    assert load_config(cfg).db_file == REPO_ROOT / "state" / "x.db"


# -- args are parsed by the worker's own argv spec (issue 6 item 2) ------------------------------

REAL = "shared_scripts/check_strategy.py"


def _spot(sid: str, args: list[str], **extra) -> dict:
    entry = {"id": sid, "type": "spot", "script": REAL, "args": args, "capital": 1000}
    entry.update(extra)
    return entry


def _load(tmp_path, *strategies: dict, **top):
    return load_config(write_config(tmp_path, list(strategies), **top))


def _errors(tmp_path, *strategies: dict, **top) -> list[str]:
    with pytest.raises(ConfigError) as exc:
        _load(tmp_path, *strategies, **top)
    return exc.value.lines


def test_params_in_args_are_params_not_a_symbol(tmp_path):
    (sc,) = _load(
        tmp_path, _spot("a", ["momentum", "BTC/USDT", "1h", "--params", '{"roc_period": 5}'])
    ).strategies
    assert sc.symbol == "BTC/USDT" and sc.symbols() == ["BTC/USDT"] and sc.timeframe == "1h"
    # folded into open_strategy.params, so a reload sees a params change as such
    assert sc.open_strategy.params == {"roc_period": 5}
    argv = sc.check_argv()
    assert "--params" not in argv
    refs = json.loads(argv[3].split("=", 1)[1])
    assert refs == {"open": {"name": "momentum", "params": {"roc_period": 5}}}


def test_params_in_args_merge_with_open_strategy_params(tmp_path):
    (sc,) = _load(
        tmp_path,
        _spot(
            "a",
            ["momentum", "BTC/USDT", "1h", '--params={"roc_period": 5}'],
            open_strategy={"name": "momentum", "params": {"threshold": 2}},
        ),
    ).strategies
    assert sc.open_strategy.params == {"roc_period": 5, "threshold": 2}
    lines = _errors(
        tmp_path,
        _spot(
            "a",
            ["momentum", "BTC/USDT", "1h", "--params", '{"roc_period": 5}'],
            open_strategy={"name": "momentum", "params": {"roc_period": 9}},
        ),
    )
    assert len(lines) == 1 and "set 'roc_period' differently" in lines[0]


@pytest.mark.parametrize(
    ("params", "expect"),
    [("[1, 2]", "must be a JSON object"), ("{bad", "not valid JSON"), ('{"x": 1e999}', "finite")],
)
def test_bad_params_in_args_are_config_errors(tmp_path, params, expect):
    lines = _errors(tmp_path, _spot("a", ["momentum", "BTC/USDT", "1h", "--params", params]))
    assert len(lines) == 1 and expect in lines[0], lines


@pytest.mark.parametrize("form", [["--platform", "okx"], ["--platform=okx"]])
def test_platform_in_args_is_the_strategy_platform(tmp_path, form):
    (sc,) = _load(tmp_path, _spot("a", ["momentum", "BTC/USDT", "1h", *form])).strategies
    assert sc.platform == "okx"  # fees and marks follow the venue the worker trades on
    assert sc.symbols() == ["BTC/USDT"]
    argv = sc.check_argv()
    assert sum(a.startswith("--platform") for a in argv) == 1


@pytest.mark.parametrize(
    ("extra", "sid", "names"),
    [
        ({"platform": "binanceus"}, "a", "platform key says binanceus"),
        ({}, "luno-a", "id prefix says luno"),
    ],
)
def test_platform_in_args_that_disagrees_is_refused(tmp_path, extra, sid, names):
    lines = _errors(tmp_path, _spot(sid, ["momentum", "BTC/USDT", "1h", "--platform=okx"], **extra))
    assert len(lines) == 1
    assert "--platform=okx" in lines[0] and names in lines[0]


def test_agreeing_platform_in_args_is_accepted(tmp_path):
    (sc,) = _load(
        tmp_path, _spot("okx-a", ["momentum", "BTC/USDT", "1h", "--platform", "okx"])
    ).strategies
    assert sc.platform == "okx" and sc.check_argv().count("--platform") == 1


def test_pair_symbols_come_from_the_spec(tmp_path):
    (sc,) = _load(
        tmp_path,
        _spot("p", ["pairs_spread", "BTC/USDT", "1d", "ETH/USDT", "--ohlcv-limit", "200"]),
    ).strategies
    assert sc.symbols() == ["BTC/USDT", "ETH/USDT"] and sc.symbol == "BTC/USDT"


@pytest.mark.parametrize(
    ("flag", "expect"),
    [
        (["--bogus"], "unknown flag '--bogus'"),
        (["--param", "{}"], "did you mean --params?"),
        (["--strategy-refs={}"], "--strategy-refs (the supervisor builds it"),
        (["--probe-only"], "--probe-only (the supervisor probes"),
        (["--batch"], "--batch (the supervisor batches"),
        (["--atr-method", "wilder"], "--atr-method (set the strategy's atr_method key"),
        (["--position-side", "long"], "--position-side (the scheduler passes"),
        (["--ohlcv-limit", "5"], "--ohlcv-limit: must be in [30, 10000]"),
        (["--mode", "live"], "live trading (--mode=live) on binanceus spot is not supported"),
        (["--mode=demo"], "invalid choice"),
        (["--"], "bare '--'"),
    ],
)
def test_flags_the_operator_may_not_set_are_refused_with_a_hint(tmp_path, flag, expect):
    lines = _errors(tmp_path, _spot("a", ["momentum", "BTC/USDT", "1h", *flag]))
    assert len(lines) == 1 and expect in lines[0], lines


def test_flag_between_positionals_is_rejected_as_the_worker_would(tmp_path):
    # argparse stops the optional positionals at the first flag: the worker exits 2 on this,
    # so the config must not load (the old guess took "1h" as the timeframe and went on).
    lines = _errors(tmp_path, _spot("a", ["momentum", "BTC/USDT", "--platform", "okx", "1h"]))
    assert len(lines) == 1 and "args" in lines[0]


def test_check_argv_unchanged_for_plain_configs(tmp_path):
    (a, b) = _load(
        tmp_path,
        _spot("a", ["momentum", "BTC/USDT", "1h"]),
        _spot("luno-b", ["momentum", "XBT/ZAR", "1h"], atr_method="wilder"),
    ).strategies
    assert a.check_argv() == ["momentum", "BTC/USDT", "1h", "--atr-method=simple"]
    assert b.check_argv() == [
        "momentum",
        "XBT/ZAR",
        "1h",
        "--atr-method=wilder",
        "--platform=luno",
    ]


# -- every bad config is one line and exit 78 (issue 6 item 7) -----------------------------------


def _cli_lines(tmp_path, cfg) -> list[str]:
    proc = run_cli(["--config", str(cfg), "--once"], base_env(tmp_path))
    assert proc.returncode == 78, proc.stderr
    assert "Traceback" not in proc.stderr and proc.stdout == ""
    lines = _lines(proc)
    assert lines and all(len(line) <= 300 for line in lines), lines
    return lines


def _base(**top) -> dict:
    cfg = {"config_version": 17, "market_data": "simulated", "db_file": "/nonexistent/x.db"}
    cfg.update(top)
    cfg.setdefault("strategies", [_spot("a", ["momentum", "BTC/USDT", "1h"])])
    return cfg


def _write_raw(tmp_path, text: str | bytes):
    cfg = tmp_path / "config.json"
    if isinstance(text, bytes):
        cfg.write_bytes(text)
    else:
        cfg.write_text(text)
    return cfg


def test_non_utf8_file_exits_78(tmp_path):
    cfg = _write_raw(tmp_path, b'{"strategies": [], "x": "\xff\xfe"}')
    (line,) = _cli_lines(tmp_path, cfg)
    assert "not UTF-8" in line


def test_deeply_nested_file_exits_78(tmp_path):
    cfg = _write_raw(tmp_path, "[" * 100_000 + "]" * 100_000)
    (line,) = _cli_lines(tmp_path, cfg)
    assert "nested too deeply" in line


def test_moderately_nested_params_exit_78(tmp_path):
    params: dict = {}
    inner = params
    for _ in range(40):
        inner["x"] = {}
        inner = inner["x"]
    doc = _base(strategies=[_spot("a", ["momentum", "BTC/USDT", "1h"], open_strategy=params)])
    (line,) = _cli_lines(tmp_path, _write_raw(tmp_path, json.dumps(doc)))
    assert "nested deeper than 32 levels" in line


def test_six_kb_script_path_exits_78(tmp_path):
    doc = _base()
    doc["strategies"][0]["script"] = "shared_scripts/" + "x" * 6000 + ".py"
    (line,) = _cli_lines(tmp_path, _write_raw(tmp_path, json.dumps(doc)))
    assert "script must be at most 1024 characters" in line


def test_long_script_component_exits_78(tmp_path):
    doc = _base()
    doc["strategies"][0]["script"] = "shared_scripts/" + "x" * 600 + ".py"  # ENAMETOOLONG
    (line,) = _cli_lines(tmp_path, _write_raw(tmp_path, json.dumps(doc)))
    assert "strategy[a]: script" in line


@pytest.mark.parametrize(
    ("mutate", "expect"),
    [
        (lambda d: d["strategies"][0]["args"].__setitem__(1, "BTC\x00"), "args[1] must not"),
        (lambda d: d["strategies"][0]["args"].__setitem__(1, "BTC\ud800"), "args[1] must not"),
        (lambda d: d["strategies"][0].update(id="a\x00"), "id must match"),
        (lambda d: d["strategies"][0].update(id="a\udc80"), "id must match"),
        (lambda d: d.update(db_file="state/x\x00.db"), "db_file must not contain"),
        (lambda d: d.update(db_file="state/\udfff.db"), "db_file must not contain"),
        (lambda d: d["strategies"][0].update(platform="ok\x00x"), "platform must match"),
        (lambda d: d["strategies"][0].update(id="__prices__:binanceus"), "id must match"),
        (lambda d: d["strategies"][0].update(id="x" * 65), "at most 64 characters"),
        (lambda d: d["strategies"][0].update(args=["momentum"] * 65), "at most 64 items"),
        (lambda d: d["strategies"][0]["args"].append("y" * 5000), "at most 4096 characters"),
    ],
)
def test_control_characters_and_bad_ids_exit_78(tmp_path, mutate, expect):
    doc = _base()
    mutate(doc)
    (line,) = _cli_lines(tmp_path, _write_raw(tmp_path, json.dumps(doc)))
    assert expect in line
    assert "\\u0000" in line or "\x00" not in line


@pytest.mark.parametrize(
    ("text", "replacement", "key"),
    [
        ('"capital": 1000', '"capital": 1e400', "strategies[0].capital"),
        ('"config_version": 17', '"script_timeout_seconds": 1e400', "script_timeout_seconds"),
        ('"config_version": 17', '"interval_seconds": 1e400', "interval_seconds"),
        ('"capital": 1000', '"capital": 5, "interval_seconds": -1e400', "[0].interval_seconds"),
        ('"capital": 1000', '"capital": ' + "9" * 400, "strategies[0].capital"),
        ('"capital": 1000', '"capital": ' + "9" * 40_000, "strategies[0].capital"),
    ],
)
def test_out_of_range_json_numbers_exit_78_naming_the_key(tmp_path, text, replacement, key):
    raw = json.dumps(_base()).replace(text, replacement)
    assert raw != json.dumps(_base())
    (line,) = _cli_lines(tmp_path, _write_raw(tmp_path, raw))
    assert "use a finite number" in line or "use a smaller number" in line
    assert f"{key}: " in line


@pytest.mark.parametrize(
    ("top", "strategy", "expect"),
    [
        ({"interval_seconds": 1e30}, {}, "interval_seconds must be an integer in [1, 604800]"),
        ({"interval_seconds": 10**20}, {}, "interval_seconds must be an integer in [1, 604800]"),
        ({}, {"interval_seconds": 604801}, "interval_seconds must be an integer in [1, 604800]"),
        ({}, {"capital": 1e13}, "capital must be > 0 and at most 1e12"),
        ({}, {"initial_capital": 2e12}, "initial_capital must be a number in [0, 1e12]"),
        (
            {"script_timeout_seconds": 3601},
            {},
            "script_timeout_seconds must be a number in (0, 3600]",
        ),
        ({"script_timeout_seconds": 0}, {}, "script_timeout_seconds must be a number in (0, 3600]"),
        ({"max_concurrent_checks": 65}, {}, "max_concurrent_checks must be an integer in [1, 64]"),
        ({"max_concurrent_checks": 0}, {}, "max_concurrent_checks must be an integer in [1, 64]"),
        ({"status_port": 80}, {}, "status_port must be an integer in [1024, 65531]"),
        ({"status_port": 65532}, {}, "status_port must be an integer in [1024, 65531]"),
        ({"config_version": 10**9}, {}, "config_version must be an integer in [0, 1000000]"),
        ({}, {"max_drawdown_pct": 0}, "max_drawdown_pct must be a number in (0, 100]"),
        ({}, {"cb_loss_streak_threshold": 10**6}, "cb_loss_streak_threshold must be an integer"),
    ],
)
def test_numbers_are_bounded(tmp_path, top, strategy, expect):
    doc = _base(**top)
    doc["strategies"][0].update(strategy)
    (line,) = _cli_lines(tmp_path, _write_raw(tmp_path, json.dumps(doc)))
    assert expect in line


def test_zero_interval_still_means_the_global_one(tmp_path):
    (sc,) = _load(
        tmp_path, _spot("a", ["momentum", "BTC/USDT", "1h"], interval_seconds=0)
    ).strategies
    assert sc.interval_seconds == 0 and sc.effective_interval(300) == 300


def test_values_in_errors_are_escaped_and_cut(tmp_path):
    doc = _base()
    doc["strategies"][0]["type"] = "warp\nFAKE 00:00:00 [reload] applied" + "y" * 1_000_000
    (line,) = _cli_lines(tmp_path, _write_raw(tmp_path, json.dumps(doc)))
    assert "warp\\nFAKE" in line and len(line) <= 300


def test_many_problems_one_line_each_and_bounded(tmp_path):
    doc = _base()
    doc["strategies"] = [
        _spot(f"s{i}", ["momentum", "BTC/USDT", "1h"], capital=-1, bogus="x\n" * 10)
        for i in range(100)
    ]
    lines = _cli_lines(tmp_path, _write_raw(tmp_path, json.dumps(doc)))
    assert len(lines) == 50 and "more like these" in lines[-1]


def test_script_must_live_in_shared_scripts(tmp_path):
    outside = dict(fake_strategy("a", "hold"))
    del outside["allow_external_script"]
    (line,) = _cli_lines(tmp_path, write_config(tmp_path, [outside]))
    assert "is outside shared_scripts/" in line and "allow_external_script" in line
    sneaky = _spot("b", ["momentum", "BTC/USDT", "1h"])
    sneaky["script"] = "shared_scripts/../tests/fakes/fake_check.py"
    (line,) = _cli_lines(tmp_path, write_config(tmp_path, [sneaky]))
    assert "is outside shared_scripts/" in line


def test_script_symlink_is_judged_by_its_target(tmp_path):
    from shared_tools.paths import REPO_ROOT

    inside = tmp_path / "check.py"
    inside.symlink_to(REPO_ROOT / REAL)
    (sc,) = _load(
        tmp_path, _spot("a", ["momentum", "BTC/USDT", "1h"], script=str(inside))
    ).strategies
    assert sc.script == str(inside)
    fake = tmp_path / "fake.py"
    fake.symlink_to(REPO_ROOT / "tests" / "fakes" / "fake_check.py")
    lines = _errors(tmp_path, _spot("a", ["momentum", "BTC/USDT", "1h"], script=str(fake)))
    assert len(lines) == 1 and "is outside shared_scripts/" in lines[0]


def test_allow_external_script_must_be_a_boolean(tmp_path):
    lines = _errors(tmp_path, fake_strategy("a", "hold", allow_external_script="yes"))
    assert any("allow_external_script must be true or false" in line for line in lines)


@pytest.mark.parametrize("port", ["80", "65532", "65535"])
def test_status_port_flag_has_the_config_range(tmp_path, port):
    cfg = write_config(tmp_path, [fake_strategy("a", "hold")])
    proc = run_cli(["--config", str(cfg), "--once", "--status-port", port], base_env(tmp_path))
    assert proc.returncode == 2 and "1024<=x<=65531" in proc.stderr, proc.stderr


def test_bad_config_path_exits_78(tmp_path):
    proc = run_cli(["--config", str(tmp_path / ("x" * 6000)), "--once"], base_env(tmp_path))
    assert proc.returncode == 78 and "Traceback" not in proc.stderr
    assert len(_lines(proc)) == 1 and len(_lines(proc)[0]) <= 300


def test_bad_reload_is_one_line_and_keeps_running(tmp_path, daemons):
    import signal
    import time

    strategies = [fake_strategy("a", "hold")]
    cfg = write_config(tmp_path, strategies, interval_seconds=3600)
    d = daemons(cfg, base_env(tmp_path))
    d.wait_status(lambda s: s["cycle_count"] >= 1 and not s["cycle_in_progress"])
    # an integer: the float 1e30 was refused before, 10**20 was applied and crashed the sleep
    doc = json.loads(cfg.read_text())
    doc["interval_seconds"] = 10**20
    cfg.write_text(json.dumps(doc))
    d.proc.send_signal(signal.SIGHUP)
    deadline = time.time() + 20
    while "[reload]" not in d.log() and time.time() < deadline:
        time.sleep(0.2)
    reload_lines = [line for line in d.log().splitlines() if "[reload]" in line]
    assert reload_lines and all("rejected" in line for line in reload_lines), d.log()
    expect = "interval_seconds must be an integer in [1, 604800]"
    assert any(expect in line for line in reload_lines), reload_lines
    assert d.proc.poll() is None and "Traceback" not in d.log()
    assert d.stop() == 0


# -- upstream keys this build lacks: refused when they change trading, else a warning -----------
# (issue 6 item 9, issue 20 item 8)


def test_every_display_only_top_level_key_warns_once_without_saying_ignored(tmp_path):
    from shared_tools.config import schema

    keys = schema.names(schema.TOP, "no-effect")
    assert {"log_dir", "notify_tp_sl_fills"} <= keys
    config = _load(tmp_path, _spot("a", ["momentum", "BTC/USDT", "1h"]), **{k: 1 for k in keys})
    for key in keys:
        hits = [w for w in config.warnings if f": {key} has no effect in this build (" in w]
        assert len(hits) == 1, (key, config.warnings)
    assert not any("ignored" in w for w in config.warnings)


def test_unbuilt_trading_keys_are_refused_when_on_and_silent_when_off(tmp_path):
    from shared_tools.config import schema

    keys = sorted(schema.names(schema.STRATEGY, "not-yet"))
    assert keys, "nothing left to refuse: drop this test's loop"
    for key in keys:
        on = {"enabled": True, "x": 1}
        errors = _errors(tmp_path, _spot("a", ["momentum", "BTC/USDT", "1h"], **{key: on}))
        assert any(f"{key} is an upstream feature this build does not have" in e for e in errors), (
            key,
            errors,
        )
        for off in (None, False, {}, {"enabled": False}, "none"):
            config = _load(tmp_path, _spot("a", ["momentum", "BTC/USDT", "1h"], **{key: off}))
            assert not any(key in w for w in config.warnings), (key, off, config.warnings)
    if "platforms" in schema.names(schema.TOP, "not-yet"):
        errors = _errors(
            tmp_path,
            _spot("a", ["momentum", "BTC/USDT", "1h"]),
            platforms={"hyperliquid": {"risk": {"max_drawdown_pct": 5}}},
        )
        assert any("platforms is an upstream feature" in e for e in errors), errors


def test_refused_unbuilt_key_exits_78_from_the_cli(tmp_path):
    from shared_tools.config import schema

    key = sorted(schema.names(schema.STRATEGY, "not-yet"))[0]
    path = write_config(tmp_path, [_spot("a", ["momentum", "BTC/USDT", "1h"], **{key: {"x": 1}})])
    proc = run_cli(["--config", str(path), "--once"], base_env(tmp_path))
    assert proc.returncode == 78, proc.stderr
    assert f"{key} is an upstream feature" in proc.stderr and "Traceback" not in proc.stderr


def test_plain_config_has_no_warnings(tmp_path):
    assert (
        _load(tmp_path, _spot("a", ["momentum", "BTC/USDT", "1h"], allow_deprecated=True)).warnings
        == []
    )


def test_deprecated_strategies_warn_once_unless_allowed(tmp_path):
    config = _load(tmp_path, _spot("a", ["momentum", "BTC/USDT", "1h"]))
    (line,) = config.warnings
    assert "strategy[a]" in line and "deprecated upstream" in line and "allow_deprecated" in line
    bad = _errors(tmp_path, _spot("a", ["momentum", "BTC/USDT", "1h"], allow_deprecated="yes"))
    assert any("allow_deprecated must be true or false" in line for line in bad)


def test_backtest_only_strategies_are_refused_in_a_live_config(tmp_path):
    problems = _errors(tmp_path, _spot("a", ["analog_retrieval", "BTC/USDT", "1h"]))
    assert any("backtest-only" in line for line in problems)


# -- the worker's argv spec and --help (issue 6 item 16) -----------------------------------------


def _worker_module():
    import importlib.util

    from shared_tools.paths import REPO_ROOT

    spec = importlib.util.spec_from_file_location("check_strategy_t", REPO_ROOT / REAL)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_worker_help_lists_strategies_and_timeframes():
    import subprocess
    import sys

    from shared_tools.paths import REPO_ROOT

    proc = subprocess.run(
        [sys.executable, REAL, "--help"], cwd=REPO_ROOT, capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 0
    for word in ("strategies (spot):", "momentum", "pairs_spread", "timeframes:", "1h", "1d"):
        assert word in proc.stdout


def test_building_the_worker_parser_stays_cheap():
    import subprocess
    import sys

    from shared_tools.paths import REPO_ROOT

    code = (
        "import importlib.util, sys\n"
        f"s = importlib.util.spec_from_file_location('w', {str(REPO_ROOT / REAL)!r})\n"
        "m = importlib.util.module_from_spec(s); s.loader.exec_module(m)\n"
        "m.build_parser().parse_args(['momentum', 'BTC/USDT', '1h'])\n"
        "print(sorted(x for x in ('pandas', 'numpy') if x in sys.modules))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO_ROOT, capture_output=True, text=True, timeout=60
    )
    assert out.stdout.strip() == "[]", out.stderr


def test_worker_and_supervisor_parse_alike():
    from shared_tools.check_argv import parse_check_args

    parser = _worker_module().build_parser()
    argv = ["pairs_spread", "BTC/USDT", "1d", "ETH/USDT", "--platform=okx", "--params", "{}"]
    ns = parser.parse_args(argv)
    parsed = parse_check_args(argv)
    assert (ns.strategy, ns.symbol, ns.timeframe, ns.symbol_b, ns.platform) == (
        parsed.strategy,
        parsed.symbol,
        parsed.timeframe,
        parsed.symbol_b,
        parsed.platform,
    )
    assert parsed.params == ns.params == "{}"


def test_position_flags_go_to_open_close_strategies_that_hold_a_position(tmp_path):
    from supervisor.state.models import Position

    plain, composed = _load(
        tmp_path,
        _spot("a", ["momentum", "BTC/USDT", "1h"], allow_deprecated=True),
        _spot(
            "b",
            ["momentum", "BTC/USDT", "1h"],
            allow_deprecated=True,
            close_strategies=[{"name": "tiered_tp_atr", "params": {}}],
        ),
    ).strategies
    pos = Position("BTC/USDT", "p", 0.5, 1.0, 100.0, 50.0, entry_atr=2.5)
    assert not any(a.startswith("--position") for a in plain.check_argv(pos))
    argv = composed.check_argv(pos)
    assert "--position-side=long" in argv and "--position-avg-cost=100.0" in argv
    assert "--position-qty=0.5" in argv and "--position-initial-qty=1.0" in argv
    assert "--position-entry-atr=2.5" in argv
    flat = composed.check_argv(None)
    assert not any(a.startswith("--position") for a in flat)
    no_atr = composed.check_argv(Position("BTC/USDT", "p", 1.0, 1.0, 100.0, 100.0))
    assert not any(a.startswith("--position-entry-atr") for a in no_atr)  # zero is left out


def test_htf_filter_reaches_the_worker(tmp_path):
    (sc,) = _load(
        tmp_path, _spot("a", ["momentum_pro", "BTC/USDT", "1h"], htf_filter=True)
    ).strategies
    assert "--htf-filter" in sc.check_argv()
    (plain,) = _load(tmp_path, _spot("a", ["momentum_pro", "BTC/USDT", "1h"])).strategies
    assert "--htf-filter" not in plain.check_argv()
    assert any(
        "htf_filter must be true or false" in line
        for line in _errors(tmp_path, _spot("a", ["momentum_pro", "BTC/USDT", "1h"], htf_filter=1))
    )


def test_an_enabled_regime_section_reaches_every_signal_check(tmp_path):
    import json as _json

    windows = {"medium": {"classifier": "composite", "period": 20}, "long": 150}
    (sc,) = _load(
        tmp_path,
        _spot("a", ["momentum_pro", "BTC/USDT", "1h"]),
        regime={"enabled": True, "windows": windows},
    ).strategies
    argv = sc.check_argv()
    assert "--regime-enabled" in argv
    (spec,) = [a for a in argv if a.startswith("--regime-windows-spec-json=")]
    assert _json.loads(spec.split("=", 1)[1]) == windows
    assert "--ohlcv-limit=309" in argv  # max(300, 2*150 - 1 + 10)
    config = _load(
        tmp_path,
        _spot("a", ["momentum_pro", "BTC/USDT", "1h"]),
        regime={"enabled": True, "windows": {"slow": 200}},
    )
    assert "--ohlcv-limit=409" in config.strategies[0].check_argv()  # max(300, 2*200-1+10)
    warned = _load(
        tmp_path,
        _spot("a", ["momentum_pro", "BTC/USDT", "1h"]),
        regime={"enabled": True, "transitions": {}},
    )
    assert not any("transitions" in w for w in warned.warnings)  # built (issue 20)
    assert warned.regime.transitions.debounce_cycles == 2
    off = _load(tmp_path, _spot("a", ["momentum_pro", "BTC/USDT", "1h"]), regime={"enabled": False})
    assert not any(a.startswith("--regime") for a in off.strategies[0].check_argv())
    bad = _errors(
        tmp_path,
        _spot("a", ["momentum_pro", "BTC/USDT", "1h"]),
        regime={"enabled": True, "windows": {"regime": 14, "x": {"classifier": "hmm"}}},
    )
    assert any("window name" in line for line in bad) and any("classifier" in line for line in bad)
