"""Load and validate the JSON config (the upstream go-trader shape).

Every problem becomes one line that names the file, the strategy and the key, and all problems
are reported at once, so an operator fixes the file in one pass. The CLI turns a
:class:`ConfigError` into exit 78 without a traceback, and SIGHUP reload relies on
:func:`load_config` raising nothing else for any file, however broken: numbers are finite and
bounded, strings carry no control characters, and values echoed in messages are escaped and cut.

This module reads the file and checks the top level; one strategy entry is checked by
:mod:`shared_tools.config.strategy` (its trading keys and venue fit by
:mod:`shared_tools.config.trading`, which also checks Hyperliquid peers across strategies), the
``regime`` section by :mod:`shared_tools.config.regime`, the keys and generic value checks are
:mod:`shared_tools.config.checks`, and the resulting types are :mod:`shared_tools.config.model`
(re-exported here).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from shared_tools.config import schema
from shared_tools.config.checks import (
    MAX_DEPTH,
    MAX_PATH_CHARS,
    TOP_LEVEL_KEYS,
    TOP_LEVEL_PASSTHROUGH,
    file_label,
    in_range,
    is_int,
    loads_json,
    range_text,
    scan,
    text_problem,
    unbuilt_key,
    unknown_key_line,
)
from shared_tools.config.checks import tradingview_problems as tv_problems
from shared_tools.config.hedge import hedge_cross_problems
from shared_tools.config.live import live_settings
from shared_tools.config.manual import manual_defaults
from shared_tools.config.migrate import migrate_document, migrated_note, save_migrated
from shared_tools.config.model import (
    Config,
    ConfigError,
    StrategyConfig,
    StrategyRef,
    infer_platform,
    resolve_script,
)
from shared_tools.config.notify import notify_settings
from shared_tools.config.regime import regime_settings
from shared_tools.config.regime_keys import policy_problems, user_regime_atr
from shared_tools.config.risk import risk_settings
from shared_tools.config.sizing_keys import global_capital_pct
from shared_tools.config.strategy import parse_strategy
from shared_tools.config.trading import DEFAULT_STOP_LOSS_ATR_MULT, TradingContext, peer_problems
from shared_tools.config.tuning import tuning_settings
from shared_tools.config.user_defaults import user_defaults
from shared_tools.paths import REPO_ROOT
from shared_tools.text import LINE_LIMIT, exc_line, one_line, show

__all__ = [
    "REPO_ROOT",
    "STATUS_PORT_RANGE",
    "TOP_LEVEL_KEYS",
    "TOP_LEVEL_PASSTHROUGH",
    "Config",
    "ConfigError",
    "StrategyConfig",
    "StrategyRef",
    "infer_platform",
    "load_config",
    "parse_config",
    "resolve_script",
]

# Defaults and bounds from the schema table: every number is finite and sane, so nothing
# downstream overflows or sleeps for ages.
DEFAULT_INTERVAL = schema.default(schema.TOP, "interval_seconds")
DEFAULT_STATUS_PORT = schema.default(schema.TOP, "status_port")
DEFAULT_SCRIPT_TIMEOUT = schema.default(schema.TOP, "script_timeout_seconds")
DEFAULT_DB_FILE = schema.default(schema.TOP, "db_file")
STATUS_PORT_RANGE = schema.bounds(schema.TOP, "status_port")  # the server may move to port + 4
MAX_CONCURRENT_CHECKS = int(schema.bounds(schema.TOP, "max_concurrent_checks")[1])
MAX_SCRIPT_TIMEOUT = schema.bounds(schema.TOP, "script_timeout_seconds")[1]
MAX_CONFIG_VERSION = schema.bounds(schema.TOP, "config_version")[1]
MAX_STRATEGIES = 10_000
MAX_FILE_BYTES = 16 * 1024 * 1024
MAX_LINES = 50
MAX_ATR_MULT = schema.MAX_ATR_MULT


def load_config(path: str | Path) -> Config:
    """Read, validate and default a config file; raises ConfigError (only) listing every problem."""
    path = Path(path)
    label = file_label(path)
    try:
        with open(path, "rb") as fh:
            data = fh.read(MAX_FILE_BYTES + 1)
    except FileNotFoundError:
        raise ConfigError([f"config {label}: file not found (pass --config <file>)"]) from None
    except OSError as exc:
        raise ConfigError([f"config {label}: cannot read ({exc.strerror or exc})"]) from None
    except ValueError as exc:  # e.g. an embedded NUL in the path
        raise ConfigError([f"config {label}: cannot read ({exc})"]) from None
    if len(data) > MAX_FILE_BYTES:
        raise ConfigError([f"config {label}: larger than {MAX_FILE_BYTES // 2**20} MiB"])
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ConfigError(
            [f"config {label}: not UTF-8 text (bad byte at offset {exc.start}); save it as UTF-8"]
        ) from None
    try:
        raw = loads_json(text)
    except json.JSONDecodeError as exc:
        raise ConfigError(
            [f"config {label}: invalid JSON at line {exc.lineno} column {exc.colno}: {exc.msg}"]
        ) from None
    except ValueError as exc:  # e.g. an integer over Python's digit limit
        raise ConfigError([f"config {label}: {exc_line(exc, 160)}"]) from None
    except RecursionError:
        raise ConfigError(
            [f"config {label}: nested too deeply (limit {MAX_DEPTH} levels)"]
        ) from None
    if not isinstance(raw, dict):
        raise ConfigError([f"config {label}: the top level must be a JSON object"])
    migrated = raw
    try:
        migrated, old = migrate_document(raw, label)  # older shapes -> today's (config_migrate)
        config = parse_config(migrated, path)
    except ConfigError as exc:
        if migrated is raw:
            raise
        raise ConfigError([*exc.lines, migrated_note(label, old)]) from None
    except Exception as exc:  # a checker bug must still be one line and exit 78, never a crash
        raise ConfigError(
            [f"config {label}: internal error while checking the config ({exc_line(exc, 160)})"]
        ) from None
    if migrated is not raw:
        config.warnings.insert(0, save_migrated(path, data, migrated, old, label))
    return config


def parse_config(raw: dict, path: Path) -> Config:
    """Validate an already-decoded config document; raises ConfigError listing every problem."""
    label = file_label(path)
    errors: list[str] = []
    warnings: list[str] = []
    problems = scan(raw)
    if problems:
        raise ConfigError([f"config {label}: {p}" for p in problems])

    for key in raw:
        if key in TOP_LEVEL_PASSTHROUGH:
            unbuilt_key(schema.TOP, f"config {label}", key, raw[key], errors, warnings)
        elif key not in TOP_LEVEL_KEYS:
            warnings.append(unknown_key_line(f"config {label}", key, TOP_LEVEL_KEYS) + "; ignored")

    settings = _top_level(raw, label, errors)
    regime = regime_settings(raw.get("regime"), label, errors, warnings)
    manual = manual_defaults(raw.get("user_defaults"), label, errors, warnings)
    user = user_defaults(raw.get("user_defaults"), label, errors)
    defaults = raw.get("user_defaults")
    regime_atr = user_regime_atr(
        defaults.get("regime_atr") if isinstance(defaults, dict) else None,
        f"config {label}: user_defaults.regime_atr",
        errors,
    )
    ctx = TradingContext(
        _default_stop(raw, label, errors),
        regime,
        manual,
        _atr_method(raw, label, errors),
        user=user,
        regime_atr=regime_atr,
        capital_pct=global_capital_pct(raw, label, errors),
    )
    strategies = _strategies(raw, label, settings["interval_seconds"], ctx, errors, warnings)
    errors.extend(f"config {label}: {line}" for line in peer_problems(strategies))
    errors.extend(f"config {label}: {line}" for line in hedge_cross_problems(strategies))
    policy_problems(strategies, regime, f"config {label}", errors, warnings)
    for sc in strategies:
        if sc.type != "options" and "--ohlcv-limit" not in sc.check_args.given:
            sc.regime_args = regime.flags
    risk = risk_settings(
        raw.get("portfolio_risk"), raw.get("correlation"), f"config {label}", errors, warnings
    )
    notify = notify_settings(raw, f"config {label}", errors, warnings)
    live = live_settings(raw.get("hyperliquid"), label, errors)
    tuning = tuning_settings(raw.get("tuning"), f"config {label}", errors, warnings)
    errors.extend(f"config {label}: {p}" for p in tv_problems(raw.get("tradingview_export")))
    if errors:
        raise ConfigError(_capped(errors, label))
    return Config(
        path=path,
        **settings,
        strategies=strategies,
        risk=risk,
        notify=notify,
        live=live,
        manual_defaults=manual,
        regime=regime,
        tuning=tuning,
        warnings=[one_line(w, LINE_LIMIT) for w in _capped(warnings, label)],
        raw=raw,
    )


def _top_level(raw: dict, label: str, errors: list[str]) -> dict[str, Any]:
    """The top-level settings, checked and defaulted, as :class:`Config` keyword arguments."""

    def bounded(key: str, default=None):
        """``key`` checked against its schema row (type, bounds); its default when absent."""
        k = schema.row(schema.TOP, key)
        default = k.default if default is None else default
        value = raw.get(key)
        if value is None:
            return default
        lo, hi = schema.bounds(schema.TOP, key)
        if not in_range(value, lo, hi, integer=k.integer, lo_open=k.lo_open):
            expect = range_text(lo, hi, integer=k.integer, lo_open=k.lo_open)
            errors.append(f"config {label}: {key} must be {expect}, got {show(value)}")
            return default
        return value

    version = bounded("config_version")
    interval = DEFAULT_INTERVAL
    if not (is_int(raw.get("interval_seconds")) and raw["interval_seconds"] == 0):  # 0: default
        interval = bounded("interval_seconds")
    db_value = raw.get("db_file") or raw.get("state_file") or DEFAULT_DB_FILE
    problem = text_problem(db_value, MAX_PATH_CHARS)
    if problem:
        errors.append(f"config {label}: db_file {problem}")
        db_value = DEFAULT_DB_FILE
    if db_value.endswith(".json"):
        db_value = db_value[: -len(".json")] + ".db"
    port = bounded("status_port")
    market = raw.get("market_data")
    if market is None:
        market = schema.default(schema.TOP, "market_data")
    problem = text_problem(market, MAX_PATH_CHARS)
    if problem:
        errors.append(f"config {label}: market_data {problem}")
        market = "exchange"
    elif market not in ("exchange", "simulated") and not market.startswith("replay:"):
        errors.append(
            f"config {label}: market_data must be exchange, simulated or replay:<dir>, "
            f"got {show(market)}"
        )
    max_conc = bounded("max_concurrent_checks", min(os.cpu_count() or 2, MAX_CONCURRENT_CHECKS))
    timeout = bounded("script_timeout_seconds")
    batch_default = schema.default(schema.TOP, "batch_checks")
    batch = raw.get("batch_checks", batch_default)
    if batch is None:
        batch = batch_default
    if not isinstance(batch, bool):
        errors.append(f"config {label}: batch_checks must be true or false, got {show(batch)}")
        batch = batch_default
    db_path = Path(db_value)
    if not db_path.is_absolute():
        db_path = REPO_ROOT / db_path  # like scripts: independent of the working directory
    return {
        "config_version": version,
        "interval_seconds": interval,
        "db_file": db_path,
        "status_port": port,
        "market_data": market,
        "max_concurrent_checks": max_conc,
        "script_timeout_seconds": float(timeout),
        "batch_checks": batch,
    }


def _default_stop(raw: dict, label: str, errors: list[str]) -> float:
    """``default_stop_loss_atr_mult``: the ATR stop of HL perps that set no stop (0 = none)."""
    value = raw.get("default_stop_loss_atr_mult")
    if value is None:
        return DEFAULT_STOP_LOSS_ATR_MULT
    lo, hi = schema.bounds(schema.TOP, "default_stop_loss_atr_mult")
    if not in_range(value, lo, hi, integer=False, lo_open=False):
        errors.append(
            f"config {label}: default_stop_loss_atr_mult must be a number in "
            f"[{lo:g}, {hi:g}] (0 turns the automatic stop off), got {show(value)}"
        )
        return DEFAULT_STOP_LOSS_ATR_MULT
    return float(value)


def _atr_method(raw: dict, label: str, errors: list[str]) -> str:
    """The top-level ``atr_method``: the default of every strategy that sets none ("" = simple,
    as upstream's Go zero value)."""
    row = schema.row(schema.TOP, "atr_method")
    value = raw.get("atr_method")
    if value is None or value == "":
        return str(row.default)
    if value not in row.choices:
        errors.append(
            f"config {label}: atr_method must be {' or '.join(row.choices)}, got {show(value)}"
        )
        return str(row.default)
    return str(value)


def _strategies(
    raw: dict,
    label: str,
    interval: int,
    ctx: TradingContext,
    errors: list[str],
    warnings: list[str],
) -> list[StrategyConfig]:
    """Every strategy entry that checks out, in file order (ids unique)."""
    raw_strats = raw.get("strategies")
    if not isinstance(raw_strats, list) or not raw_strats:
        errors.append(f"config {label}: strategies must be a non-empty list")
        raw_strats = []
    elif len(raw_strats) > MAX_STRATEGIES:
        errors.append(f"config {label}: at most {MAX_STRATEGIES} strategies, got {len(raw_strats)}")
        raw_strats = []

    strategies: list[StrategyConfig] = []
    seen: set[str] = set()
    for i, entry in enumerate(raw_strats):
        sc = parse_strategy(entry, i, label, interval, errors, warnings, ctx)
        if sc is None:
            continue
        if sc.id in seen:
            errors.append(f"config {label}: duplicate strategy id '{sc.id}'")
            continue
        seen.add(sc.id)
        strategies.append(sc)
    return strategies


def _capped(lines: list[str], label: str) -> list[str]:
    """At most MAX_LINES lines, so a file of a million bad keys cannot flood the journal."""
    if len(lines) <= MAX_LINES:
        return lines
    more = len(lines) - (MAX_LINES - 1)
    return [*lines[: MAX_LINES - 1], f"config {label}: ... and {more} more like these"]
