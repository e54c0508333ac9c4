"""Config versions and migrations (shared_tools/config/migrate.py), through load_config.

An old-shape file must load exactly like its hand-written current-shape twin, be rewritten to
that twin's JSON (with the original bytes kept in a timestamped backup), and load again as a
no-op. Versions too old or too new are refused with one line (exit 78).
"""

from __future__ import annotations

import copy
import json
import os
from pathlib import Path

import pytest
from conftest import PINNED_NOW, base_env, run_cli

from shared_tools.config import migrate as config_migrate
from shared_tools.config.load import load_config
from shared_tools.config.migrate import CURRENT_CONFIG_VERSION, MIN_MIGRATABLE_VERSION
from shared_tools.config.model import ConfigError

TIERS_OLD = [{"atr": 1.5, "fraction": 0.5}, {"multiple": 3, "fraction": 1.0}]
TIERS_NEW = [
    {"atr_multiple": 1.5, "close_fraction": 0.5},
    {"atr_multiple": 3, "close_fraction": 1.0},
]


def _old(tmp_path: Path) -> dict:
    """A v12 file: flat params, string refs, allow_shorts, legacy tier keys, old chat keys."""
    return {
        "config_version": 12,
        "interval_seconds": 300,
        "db_file": str(tmp_path / "state.db"),
        "discord": {"enabled": False, "spot_channel_id": "111", "dm_paper_trades": True},
        "strategies": [
            {
                "id": "hl-sma-btc",
                "type": "perps",
                "script": "shared_scripts/check_hyperliquid.py",
                "args": ["sma_crossover", "BTC", "1h", "--mode=paper"],
                "capital": 1000,
                "allow_shorts": True,
                "close_strategies": ["tiered_tp_atr", "atr_stop"],
                "params": {
                    "fast_period": 2,
                    "slow_period": 5,
                    "tiers": TIERS_OLD,
                    "atr_mult": 2.5,
                    "atr_source": "live",
                },
                "allow_deprecated": True,
            },
            {
                "id": "hl-ema-eth",
                "type": "perps",
                "script": "shared_scripts/check_hyperliquid.py",
                "args": ["ema_crossover", "ETH", "1h", "--mode=paper"],
                "capital": 1000,
                "allow_shorts": False,
                "open_strategy": "ema_crossover",
                "params": {"fast_period": 3},
                "allow_deprecated": True,
            },
            {
                "id": "sma-btc",
                "type": "spot",
                "script": "shared_scripts/check_strategy.py",
                "args": ["sma_crossover", "BTC/USDT", "1h"],
                "capital": 500,
                "close_strategy": "tp_at_pct",
                "params": {"pct": 0.05, "fast_period": 4},
                "allow_deprecated": True,
            },
        ],
    }


def _twin(tmp_path: Path) -> dict:
    """The same config written by hand in today's shape (what the migration must produce)."""
    return {
        "config_version": CURRENT_CONFIG_VERSION,
        "interval_seconds": 300,
        "db_file": str(tmp_path / "state.db"),
        "discord": {
            "enabled": False,
            "channels": {"spot": "111"},
            "dm_channels": {"hyperliquid-paper": True, "binanceus-paper": True},
        },
        "strategies": [
            {
                "id": "hl-sma-btc",
                "type": "perps",
                "script": "shared_scripts/check_hyperliquid.py",
                "args": ["sma_crossover", "BTC", "1h", "--mode=paper"],
                "capital": 1000,
                "direction": "both",
                "open_strategy": {
                    "name": "sma_crossover",
                    "params": {"fast_period": 2, "slow_period": 5},
                },
                "close_strategies": [
                    {"name": "tiered_tp_atr", "params": {"tp_tiers": TIERS_NEW}},
                    {"name": "atr_stop", "params": {"atr_mult": 2.5, "atr_source": "live"}},
                ],
                "allow_deprecated": True,
            },
            {
                "id": "hl-ema-eth",
                "type": "perps",
                "script": "shared_scripts/check_hyperliquid.py",
                "args": ["ema_crossover", "ETH", "1h", "--mode=paper"],
                "capital": 1000,
                "direction": "long",
                "open_strategy": {"name": "ema_crossover", "params": {"fast_period": 3}},
                "allow_deprecated": True,
            },
            {
                "id": "sma-btc",
                "type": "spot",
                "script": "shared_scripts/check_strategy.py",
                "args": ["sma_crossover", "BTC/USDT", "1h"],
                "capital": 500,
                "open_strategy": {"name": "sma_crossover", "params": {"fast_period": 4}},
                "close_strategy": {
                    "name": "tiered_tp_pct",
                    "params": {"tp_tiers": [{"profit_pct": 0.05, "close_fraction": 1.0}]},
                },
                "allow_deprecated": True,
            },
        ],
    }


def _write(path: Path, doc: dict) -> Path:
    path.write_text(json.dumps(doc, indent=2))
    return path


def _backups(path: Path) -> list[Path]:
    return sorted(path.parent.glob(path.name + ".bak-*"))


def _same_config(a, b) -> None:
    assert a.strategies == b.strategies
    assert a.notify == b.notify
    assert a.risk == b.risk
    assert (a.interval_seconds, a.db_file) == (b.interval_seconds, b.db_file)


def test_old_shape_loads_like_its_current_twin_and_is_rewritten(tmp_path):
    old_dir, twin_dir = tmp_path / "old", tmp_path / "twin"
    old_dir.mkdir()
    twin_dir.mkdir()
    cfg = _write(old_dir / "config.json", _old(tmp_path))
    original = cfg.read_bytes()
    twin = _write(twin_dir / "config.json", _twin(tmp_path))

    migrated, expected = load_config(cfg), load_config(twin)

    _same_config(migrated, expected)
    assert migrated.config_version == CURRENT_CONFIG_VERSION
    assert json.loads(cfg.read_text()) == _twin(tmp_path)
    (backup,) = _backups(cfg)
    assert backup.read_bytes() == original
    assert backup.name.startswith("config.json.bak-") and backup.name.endswith("Z")
    assert migrated.warnings[0].endswith(f"the original is saved as {backup.name}")
    assert "migrated v12 to config_version 17" in migrated.warnings[0]
    assert _backups(twin) == [], "a current file is never rewritten"


def test_flat_params_go_to_the_close_ref_that_owns_them(tmp_path):
    doc = _old(tmp_path)
    migrated, old = config_migrate.migrate(doc)
    assert old == 12
    sma, ema, spot = migrated["strategies"]
    assert "params" not in sma and "allow_shorts" not in sma
    assert sma["open_strategy"] == {
        "name": "sma_crossover",  # args[0]: there was no open_strategy
        "params": {"fast_period": 2, "slow_period": 5},
    }
    assert [c["name"] for c in sma["close_strategies"]] == ["tiered_tp_atr", "atr_stop"]
    assert sma["close_strategies"][0]["params"] == {"tp_tiers": TIERS_NEW}
    assert spot["close_strategy"]["name"] == "tiered_tp_pct"
    assert spot["open_strategy"]["params"] == {"fast_period": 4}
    assert doc == _old(tmp_path), "the input document is not modified"


def test_migrating_twice_is_a_no_op(tmp_path):
    cfg = _write(tmp_path / "config.json", _old(tmp_path))
    first = load_config(cfg)
    after_first = cfg.read_bytes()
    stat = cfg.stat()
    second = load_config(cfg)
    assert cfg.read_bytes() == after_first
    assert cfg.stat().st_mtime_ns == stat.st_mtime_ns
    assert len(_backups(cfg)) == 1
    assert not any("migrated" in w for w in second.warnings)
    _same_config(first, second)


def test_current_file_is_not_touched(tmp_path):
    cfg = _write(tmp_path / "config.json", _twin(tmp_path))
    before = cfg.read_bytes()
    load_config(cfg)
    assert cfg.read_bytes() == before and _backups(cfg) == []


def test_versionless_file_is_rewritten_only_when_its_shape_is_old(tmp_path):
    current = copy.deepcopy(_twin(tmp_path))
    del current["config_version"]
    cfg = _write(tmp_path / "config.json", current)
    before = cfg.read_bytes()
    load_config(cfg)
    assert cfg.read_bytes() == before and _backups(cfg) == []

    current["strategies"][1]["open_strategy"] = "ema_crossover"
    current["strategies"][1]["allow_shorts"] = False
    del current["strategies"][1]["direction"]
    _write(cfg, current)
    loaded = load_config(cfg)
    rewritten = json.loads(cfg.read_text())
    assert rewritten["config_version"] == CURRENT_CONFIG_VERSION
    assert rewritten["strategies"][1]["open_strategy"] == {"name": "ema_crossover", "params": {}}
    assert rewritten["strategies"][1]["direction"] == "long"
    assert "allow_shorts" not in rewritten["strategies"][1]
    assert len(_backups(cfg)) == 1
    assert "migrated a version-less file" in loaded.warnings[0]


@pytest.mark.parametrize(
    "version, words",
    [
        (MIN_MIGRATABLE_VERSION - 1, "is too old to migrate"),
        (1, "is too old to migrate"),
        (CURRENT_CONFIG_VERSION + 1, "is newer than this build knows"),
    ],
)
def test_versions_out_of_reach_are_refused(tmp_path, version, words):
    doc = _old(tmp_path)
    doc["config_version"] = version
    cfg = _write(tmp_path / "config.json", doc)
    before = cfg.read_bytes()
    with pytest.raises(ConfigError) as exc:
        load_config(cfg)
    (line,) = exc.value.lines
    assert line.startswith(f"config {cfg}: config_version {version} ") and words in line
    assert cfg.read_bytes() == before and _backups(cfg) == []


def test_refusal_is_exit_78_on_the_cli(tmp_path):
    doc = _old(tmp_path)
    doc["config_version"] = 5
    cfg = _write(tmp_path / "config.json", doc)
    proc = run_cli(["--config", str(cfg), "--once"], base_env(tmp_path))
    assert proc.returncode == 78
    assert proc.stderr.strip().splitlines() == [
        f"config {cfg}: config_version 5 is too old to migrate (this build migrates 12..16); "
        "load it once with an older go-trader, or write a new one with `go-trader init`"
    ]


def test_migrated_file_runs_a_cycle_offline(tmp_path):
    cfg = _write(tmp_path / "config.json", _old(tmp_path))
    env = base_env(tmp_path, GO_TRADER_NOW=PINNED_NOW)
    proc = run_cli(["--config", str(cfg), "--once"], env)
    assert proc.returncode == 0, proc.stderr
    for sid in ("hl-sma-btc", "hl-ema-eth", "sma-btc"):
        assert sid in proc.stdout
    assert "migrated v12 to config_version 17" in proc.stderr
    assert json.loads(cfg.read_text()) == _twin(tmp_path)


def test_unwritable_file_is_migrated_in_memory_with_one_warning(tmp_path, monkeypatch):
    def refuse(path, data, mode):
        raise PermissionError(13, "Permission denied", str(path))

    monkeypatch.setattr(config_migrate, "_write_backup", refuse)
    cfg = _write(tmp_path / "config.json", _old(tmp_path))
    before = cfg.read_bytes()
    loaded = load_config(cfg)
    assert cfg.read_bytes() == before and _backups(cfg) == []
    lines = [w for w in loaded.warnings if "migrated" in w]
    assert lines == [
        f"config {cfg}: migrated v12 to config_version 17 in memory only; cannot rewrite the "
        "file (Permission denied); give go-trader write access to save it"
    ]
    _same_config(loaded, load_config(_write(tmp_path / "twin.json", _twin(tmp_path))))


def test_failed_rewrite_keeps_the_file_and_drops_the_backup(tmp_path, monkeypatch):
    def no_space(*args, **kwargs):
        raise OSError(28, "No space left on device")

    import tempfile  # atomic_write imports it when it writes (kept out of the idle supervisor)

    monkeypatch.setattr(tempfile, "mkstemp", no_space)
    cfg = _write(tmp_path / "config.json", _old(tmp_path))
    before = cfg.read_bytes()
    loaded = load_config(cfg)
    assert cfg.read_bytes() == before
    assert _backups(cfg) == []
    assert "in memory only; cannot rewrite the file (No space left on device)" in loaded.warnings[0]


def test_rewrite_is_atomic_and_keeps_the_mode(tmp_path):
    cfg = _write(tmp_path / "config.json", _old(tmp_path))
    os.chmod(cfg, 0o640)
    load_config(cfg)
    assert cfg.stat().st_mode & 0o777 == 0o640
    leftovers = [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")]
    assert leftovers == []


def test_symlinked_config_is_rewritten_through_the_link(tmp_path):
    real_dir = tmp_path / "etc"
    real_dir.mkdir()
    real = _write(real_dir / "real.json", _old(tmp_path))
    link = tmp_path / "config.json"
    link.symlink_to(real)
    load_config(link)
    assert link.is_symlink()
    assert json.loads(real.read_text()) == _twin(tmp_path)
    assert len(_backups(real)) == 1


def test_errors_after_a_migration_say_so_and_leave_the_file(tmp_path):
    doc = _old(tmp_path)
    doc["strategies"][2]["capital"] = -5
    cfg = _write(tmp_path / "config.json", doc)
    before = cfg.read_bytes()
    with pytest.raises(ConfigError) as exc:
        load_config(cfg)
    assert any("capital must be > 0" in line for line in exc.value.lines)
    assert exc.value.lines[-1].endswith(
        "(the problems above are in the file as migrated from v12 to config_version 17; "
        "the file itself was not changed)"
    )
    assert cfg.read_bytes() == before and _backups(cfg) == []


def test_user_defaults_aliases_move_and_conflicts_are_refused(tmp_path):
    doc = _old(tmp_path)
    doc["config_version"] = 15
    doc["strategies"] = _twin(tmp_path)["strategies"]
    doc["manual_defaults"] = {"margin_usd": 75}
    doc["user_close_defaults"] = {"tiered_tp_atr": {"tp_tiers": TIERS_NEW}, "regime_atr": {}}
    migrated, _ = config_migrate.migrate(doc)
    assert migrated["user_defaults"] == {
        "manual": {"margin_usd": 75},
        "close": {"tiered_tp_atr": {"tp_tiers": TIERS_NEW}},
        "regime_atr": {},
    }
    assert "manual_defaults" not in migrated and "user_close_defaults" not in migrated

    doc["user_defaults"] = {"manual": {"margin_usd": 10}}
    cfg = _write(tmp_path / "config.json", doc)
    with pytest.raises(ConfigError) as exc:
        load_config(cfg)
    assert exc.value.lines == [
        f"config {cfg}: manual_defaults and user_defaults.manual are both set and differ; "
        "keep one and remove manual_defaults"
    ]


def test_direction_wins_over_a_conflicting_allow_shorts(tmp_path):
    doc = _twin(tmp_path)
    doc["config_version"] = 13
    doc["strategies"][0]["allow_shorts"] = False  # direction "both" is kept
    migrated, _ = config_migrate.migrate(doc)
    assert migrated["strategies"][0]["direction"] == "both"
    assert "allow_shorts" not in migrated["strategies"][0]
