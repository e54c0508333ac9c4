"""Fuzzing the config loader: any file yields a Config or one-line ConfigErrors, never a crash.

SIGHUP reload and the start-up path both rely on this: a traceback or a 1 MB line from a bad
file would be exit 1 (or a dead daemon) instead of exit 78 with a line an operator can act on.
The last property checks that the supervisor reads a strategy's args exactly as the worker does.
"""

from __future__ import annotations

import importlib.util
import itertools
import json
import math
import re
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from shared_tools.check_argv import DEFAULT_PLATFORM, CheckArgvError, parse_check_args
from shared_tools.config.load import load_config
from shared_tools.config.model import Config, ConfigError
from shared_tools.paths import REPO_ROOT

FUZZ = settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
UNPRINTABLE = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\ud800-\udfff]")
TRADING_NUMBERS = (
    "leverage",
    "sizing_leverage",
    "margin_per_trade_usd",
    "stop_loss_pct",
    "stop_loss_margin_pct",
    "stop_loss_atr_mult",
    "trailing_stop_pct",
    "trailing_stop_atr_mult",
    "trailing_stop_min_move_pct",
    "futures_fee_per_contract",
    "futures_max_contracts",
)
MARGIN_MODES = ("isolated", "cross")
_names = itertools.count()
_dir = Path(tempfile.gettempdir())


@pytest.fixture(autouse=True, scope="module")
def _fuzz_dir(tmp_path_factory):
    """One directory for every example (hypothesis re-runs a test body many times)."""
    global _dir
    _dir = tmp_path_factory.mktemp("config-fuzz")
    yield


def _file(data: bytes) -> Path:
    path = _dir / f"c{next(_names)}.json"
    path.write_bytes(data)
    return path


def _assert_line(line: object) -> None:
    assert isinstance(line, str) and line
    assert len(line) <= 400, line[:500]
    assert not UNPRINTABLE.search(line), line
    assert line.splitlines() == [line]
    assert "internal error" not in line, line


def _outcome(data: bytes) -> Config | None:
    """Load ``data`` as a config file and check the contract on whatever comes back."""
    path = _file(data)
    try:
        try:
            config = load_config(path)
        except ConfigError as exc:
            assert exc.lines
            for line in exc.lines:
                _assert_line(line)
            return None
    finally:
        path.unlink()
    for line in config.warnings:
        _assert_line(line)
    assert math.isfinite(config.script_timeout_seconds) and config.script_timeout_seconds > 0
    assert 1 <= config.interval_seconds <= 7 * 86400
    for sc in config.strategies:
        assert re.fullmatch(r"[A-Za-z0-9._-]{1,64}", sc.id)
        for value in (sc.capital, sc.initial_capital, sc.max_drawdown_pct):
            assert math.isfinite(value)
        for key in TRADING_NUMBERS:
            value = getattr(sc, key)
            assert math.isfinite(value) and 0 <= value <= 1e12, (key, value)
        assert sc.direction in ("long", "short", "both") and sc.margin_mode in MARGIN_MODES
        assert sc.type != "spot" or sc.direction == "long"
        for arg in sc.check_argv():  # what Popen gets: no NUL, no surrogate, bounded
            assert not UNPRINTABLE.search(arg) and len(arg) <= 20_000
            arg.encode("utf-8")
    return config


def _valid() -> dict:
    return {
        "config_version": 17,
        "interval_seconds": 300,
        "db_file": str(_dir / "state.db"),
        "market_data": "simulated",
        "strategies": [
            {
                "id": "momentum-btc",
                "type": "spot",
                "script": "shared_scripts/check_strategy.py",
                "args": ["momentum", "BTC/USDT", "1h"],
                "capital": 1000,
                "max_drawdown_pct": 60,
            }
        ],
    }


def test_the_base_document_loads():
    assert _outcome(json.dumps(_valid()).encode()) is not None


nasty_text = st.one_of(
    st.text(max_size=40),
    st.text(alphabet=st.characters(exclude_categories=()), max_size=20),  # surrogates too
    st.sampled_from(
        [
            "",
            "\x00",
            "a\nb",
            "\ud800",
            "\x1b[31m",
            "__prices__:binanceus",
            "x" * 6000,
            "shared_scripts/" + "x" * 300 + ".py",
            "shared_scripts/../tests/fakes/fake_check.py",
            "/etc/passwd",
            "--platform=okx",
            "--params",
            "{}",
            "replay:/nope",
        ]
    ),
)
nasty_number = st.one_of(
    st.integers(min_value=-(10**40), max_value=10**40),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([0, -1, 1, 65531, 65532, 1e30, 1e-300, 5e-324, 2**63, True, False]),
)
json_leaf = st.one_of(st.none(), st.booleans(), nasty_number, nasty_text)
json_doc = st.recursive(
    json_leaf,
    lambda children: st.one_of(
        st.lists(children, max_size=4), st.dictionaries(nasty_text, children, max_size=4)
    ),
    max_leaves=20,
)


@FUZZ
@given(st.binary(max_size=300))
def test_random_bytes(data):
    _outcome(data)


@FUZZ
@given(json_doc)
def test_random_json_documents(doc):
    _outcome(json.dumps(doc, allow_nan=True).encode("utf-8", "surrogatepass"))


TOP_KEYS = [
    "config_version",
    "interval_seconds",
    "db_file",
    "state_file",
    "status_port",
    "market_data",
    "max_concurrent_checks",
    "script_timeout_seconds",
    "batch_checks",
    "strategies",
    "discord",
    "portfolio_risk",
    "bogus\nkey",
]
STRATEGY_KEYS = [
    "id",
    "type",
    "platform",
    "script",
    "allow_external_script",
    "args",
    "capital",
    "initial_capital",
    "max_drawdown_pct",
    "interval_seconds",
    "open_strategy",
    "close_strategy",
    "close_strategies",
    "circuit_breaker",
    "cb_loss_streak_threshold",
    "atr_method",
    "paused",
    "leverage",
    "captial",
    "direction",
    "allow_shorts",
    "stop_loss_pct",
    "trailing_stop_min_move_pct",
    "futures",
    "allowed_regimes",
    "regime_gate_window",
    "take_profit_pct",
]
arg_token = st.one_of(
    nasty_text,
    st.sampled_from(["momentum", "BTC/USDT", "1h", "--platform", "okx", "--mode=live", "--"]),
)


@FUZZ
@given(
    top=st.dictionaries(st.sampled_from(TOP_KEYS), json_doc, max_size=3),
    strat=st.dictionaries(st.sampled_from(STRATEGY_KEYS), json_doc, max_size=3),
    args=st.one_of(st.none(), st.lists(arg_token, max_size=8)),
    raw_number=st.sampled_from([None, "1e400", "-1e400", "NaN", "Infinity", "9" * 5000]),
)
def test_mutated_valid_config(top, strat, args, raw_number):
    doc = _valid()
    doc.update(top)
    if isinstance(doc.get("strategies"), list) and doc["strategies"]:
        entry = doc["strategies"][0]
        if isinstance(entry, dict):
            entry.update(strat)
            if args is not None:
                entry["args"] = ["momentum", "BTC/USDT", "1h", *args]
    text = json.dumps(doc, allow_nan=True)
    if raw_number is not None:
        text = text.replace('"capital": 1000', f'"capital": {raw_number}')
    _outcome(text.encode("utf-8", "surrogatepass"))


@pytest.mark.parametrize(
    "data",
    [
        b"\xff\xfe{}",
        b"[" * 100_000 + b"]" * 100_000,
        b'{"a": ' * 50_000 + b"1" + b"}" * 50_000,
        json.dumps({"strategies": [{"id": "x" * 1_000_000}]}).encode(),
        b'{"capital": 1' + b"0" * 10_000 + b"}",
        b'{"strategies": [' + b"{}, " * 20_000 + b"{}]}",
    ],
)
def test_known_crashers(data):
    assert _outcome(data) is None


TRADING_VALUES = {
    "type": st.sampled_from(["spot", "perps", "futures", "options"]),
    "id": st.sampled_from(["hl-a", "okx-a", "ts-a", "a"]),
    "direction": st.one_of(st.sampled_from(["long", "short", "both", ""]), json_leaf),
    "allow_shorts": st.one_of(st.booleans(), json_leaf),
    "invert_signal": st.one_of(st.booleans(), json_leaf),
    "leverage": nasty_number,
    "sizing_leverage": nasty_number,
    "margin_per_trade_usd": nasty_number,
    "margin_mode": st.one_of(st.sampled_from(MARGIN_MODES), json_leaf),
    "stop_loss_pct": nasty_number,
    "stop_loss_margin_pct": nasty_number,
    "stop_loss_atr_mult": nasty_number,
    "trailing_stop_pct": nasty_number,
    "trailing_stop_atr_mult": nasty_number,
    "trailing_stop_min_move_pct": nasty_number,
    "futures": st.one_of(
        st.fixed_dictionaries(
            {},
            optional={"fee_per_contract": nasty_number, "max_contracts": nasty_number},
        ),
        json_doc,
    ),
    "allowed_regimes": st.one_of(
        st.lists(st.sampled_from(["trending_up", "ranging", "ranging_quiet", "x"]), max_size=3),
        json_doc,
    ),
    "regime_gate_window": st.one_of(st.sampled_from(["medium", "nope", ""]), json_leaf),
    "regime_gate_on_failure": st.one_of(st.sampled_from(["open", "closed"]), json_leaf),
}


@FUZZ
@given(
    keys=st.fixed_dictionaries({}, optional=TRADING_VALUES),
    regime=st.one_of(
        st.none(),
        st.fixed_dictionaries(
            {"enabled": st.booleans()},
            optional={
                "windows": st.sampled_from(
                    [{"medium": 14}, {"medium": {"classifier": "composite"}}]
                ),
                "gate_on_failure": st.sampled_from(["open", "closed", "x"]),
            },
        ),
    ),
    top_stop=st.one_of(st.none(), nasty_number),
)
def test_mutated_trading_keys(keys, regime, top_stop):
    """Perps/futures keys on a trusted fake script: a Config with sane fields, or error lines."""
    doc = _valid()
    entry = doc["strategies"][0]
    entry.update(
        script=str(REPO_ROOT / "tests" / "fakes" / "fake_check.py"), allow_external_script=True
    )
    entry.update(keys)
    if regime is not None:
        doc["regime"] = regime
    if top_stop is not None:
        doc["default_stop_loss_atr_mult"] = top_stop
    _outcome(json.dumps(doc, allow_nan=True).encode("utf-8", "surrogatepass"))


# -- the supervisor parses args exactly as the worker does ----------------------------------------


def _worker_parser():
    spec = importlib.util.spec_from_file_location(
        "check_strategy_fuzz", REPO_ROOT / "shared_scripts" / "check_strategy.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.build_parser()


WORKER = _worker_parser()
argv_token = st.sampled_from(
    [
        "momentum",
        "pairs_spread",
        "BTC/USDT",
        "ETH/USDT",
        "1h",
        "okx",
        "{}",
        "-1",
        "--a b",
        "-x",
        "--",
        "--platform",
        "--platform=okx",
        "--platform=",
        "--params",
        '--params={"k": 1}',
        "--mode",
        "--mode=paper",
        "--mode=live",
        "paper",
        "--ohlcv-limit",
        "--ohlcv-limit=50",
        "5",
        "50",
        "--htf-filter",
        "--htf-filter=1",
        "--position-qty=nan",
        "--position-qty=2",
        "--bogus",
        "--bogus=1",
        "--plat",
    ]
)


@settings(max_examples=400, deadline=None)
@given(st.lists(argv_token, max_size=8))
def test_worker_and_supervisor_agree_on_any_argv(argv):
    try:
        ns = WORKER.parse_args(argv)
    except Exception:  # the worker's parser raises instead of exiting (exit 2 in a real run)
        ns = None
    try:
        parsed = parse_check_args(argv)
    except CheckArgvError:
        parsed = None
    assert (ns is None) == (parsed is None), (argv, ns, parsed)
    if ns is None:
        return
    assert (ns.strategy, ns.symbol, ns.timeframe, ns.symbol_b) == (
        parsed.strategy,
        parsed.symbol,
        parsed.timeframe,
        parsed.symbol_b,
    )
    assert ns.platform == (parsed.platform if parsed.platform is not None else DEFAULT_PLATFORM)
    assert ns.params == parsed.params and ns.mode == parsed.mode
