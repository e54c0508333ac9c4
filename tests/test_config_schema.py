"""The config schema table (shared_tools/config/schema.py) and what derives from it: the
loader's key sets and bounds, the reload's safe subset, the migrations' defaults, init's
bounds and docs/config.md."""

from __future__ import annotations

import copy
import dataclasses
import json
from pathlib import Path

import pytest

from shared_tools.config import checks, docs, migrate, schema
from shared_tools.config.load import load_config
from shared_tools.config.model import Config, ConfigError, StrategyConfig
from shared_tools.paths import REPO_ROOT
from supervisor import reload
from supervisor.ops import init_options

DOC = REPO_ROOT / "docs" / "config.md"


def test_docs_config_md_is_generated_from_the_table():
    assert DOC.read_text(encoding="utf-8") == docs.render(), (
        "docs/config.md is stale: run `python -m shared_tools.config.docs > docs/config.md`"
    )


def test_every_row_is_well_formed():
    seen = set()
    for k in schema.KEYS:
        assert (k.section, k.name) not in seen, f"{k.path} twice"
        seen.add((k.section, k.name))
        assert k.reload in schema.RELOAD_CLASSES, k.path
        assert k.status in schema.STATUSES, k.path
        assert k.doc and "\n" not in k.doc, k.path
        assert 0 <= k.since <= migrate.CURRENT_CONFIG_VERSION, k.path
        if k.lo is not None:
            assert k.hi is not None and k.lo <= k.hi, k.path
            if k.default is not None and k.default != 0:
                assert k.lo <= k.default <= k.hi, k.path
        if k.choices and k.default is not None:
            assert k.default in k.choices, k.path


def test_reload_attrs_are_fields_of_the_loaded_config():
    fields = {
        schema.TOP: {f.name for f in dataclasses.fields(Config)},
        schema.STRATEGY: {f.name for f in dataclasses.fields(StrategyConfig)},
        "strategies[].futures": {f.name for f in dataclasses.fields(StrategyConfig)},
    }
    for k in schema.KEYS:
        if k.attr:
            assert k.attr in fields[k.section], f"{k.path}: no field {k.attr}"


def test_the_reload_lists_come_from_the_table():
    assert schema.reload_fields(schema.STRATEGY, "live") == reload.LIVE
    assert schema.reload_fields(schema.STRATEGY, "flat-only") == reload.FLAT_ONLY
    assert set(reload.STOPS) <= set(reload.LIVE)  # values live; which stop is on: flat-only
    assert {"type", "script", "args", "futures_max_contracts"} <= set(reload.STRUCTURAL)
    assert reload.STRUCTURAL_TOP == ("db_file", "status_port", "market_data")
    assert not set(reload.LIVE) & set(reload.FLAT_ONLY)


def test_the_loader_key_sets_come_from_the_table():
    assert set(schema.names(schema.TOP, "built")) == checks.TOP_LEVEL_KEYS
    assert set(schema.names(schema.STRATEGY, "built")) == checks.STRATEGY_KEYS
    assert (
        "scale_in" in checks.STRATEGY_KEYS_NOT_YET
        or "replay_sharing" in checks.STRATEGY_KEYS_NOT_YET
    )
    assert "log_dir" in checks.TOP_LEVEL_PASSTHROUGH


def _write(tmp_path: Path, doc: dict) -> Path:
    path = tmp_path / "config.json"
    path.write_text(json.dumps(doc))
    return path


def _hl(**extra) -> dict:
    return {
        "id": "hl-a",
        "type": "perps",
        "script": "shared_scripts/check_hyperliquid.py",
        "args": ["momentum", "BTC", "1h", "--mode=paper"],
        "capital": 1000,
        **extra,
    }


def test_a_bound_in_the_table_is_the_bound_the_loader_checks(tmp_path, monkeypatch):
    path = _write(tmp_path, {"config_version": 17, "strategies": [_hl(leverage=150)]})
    with pytest.raises(ConfigError) as err:
        load_config(path)
    assert "strategy[hl-a]: leverage must be a number in [1, 100], got 150" in str(err.value)


def test_a_migration_fills_the_defaults_of_keys_it_predates(monkeypatch):
    added = schema.Key(
        schema.STRATEGY,
        "new_key",
        "number",
        "a key added in v17",
        default=2.5,
        since=17,
        fill_on_migrate=True,
    )
    monkeypatch.setattr(schema, "KEYS", (*schema.KEYS, added))
    v16 = {"config_version": 16, "strategies": [_hl(), _hl(id="hl-b", new_key=4)]}
    doc, old = migrate.migrate(copy.deepcopy(v16))
    assert old == 16 and doc["config_version"] == migrate.CURRENT_CONFIG_VERSION
    assert [s["new_key"] for s in doc["strategies"]] == [2.5, 4]
    assert schema.added_since(17) == ()  # a current file gets nothing


def test_no_key_is_filled_by_todays_migrations():
    assert not [k.path for k in schema.KEYS if k.fill_on_migrate]


def test_init_takes_its_bounds_and_defaults_from_the_table():
    assert init_options.STOPS == {
        "hlStopLossPct": "stop_loss_pct",
        "hlStopLossMarginPct": "stop_loss_margin_pct",
        "hlTrailingStopPct": "trailing_stop_pct",
    }
    assert init_options.STOP_RANGES["hlStopLossMarginPct"] == 100.0
    assert schema.default("portfolio_risk", "max_drawdown_pct") == init_options.PORTFOLIO_DRAWDOWN
    assert schema.bounds(schema.STRATEGY, "leverage") == init_options.LEVERAGE_RANGE
    assert set(schema.init_keys()) <= set(init_options.KEYS)


@pytest.mark.parametrize("path", sorted((REPO_ROOT / "examples").glob("*.json")), ids=str)
def test_every_example_loads_unchanged(path, tmp_path):
    copy_path = tmp_path / path.name
    copy_path.write_bytes(path.read_bytes())
    load_config(copy_path)
    assert copy_path.read_bytes() == path.read_bytes()
