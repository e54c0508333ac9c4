"""The dashboard's config write path (supervisor/http/config_write.py) on temp files: atomic,
the mode kept, the operator's key order kept, refusals write nothing, and a hand edit made while
the patch was being checked is not overwritten."""

from __future__ import annotations

import json
import os
import stat

import pytest
from conftest import fake_strategy, write_config

from supervisor.http import config_write
from supervisor.http.config_write import WriteRefused, patch_config


@pytest.fixture
def cfg(tmp_path):
    path = write_config(tmp_path, [fake_strategy("a", "flip")])
    os.chmod(path, 0o604)
    return path


def leftovers(path):
    return [p.name for p in path.parent.iterdir() if p.name.startswith(f".{path.name}.")]


def test_patch_writes_keeps_mode_and_order(cfg):
    order = list(json.loads(cfg.read_text()))
    new = patch_config(cfg, "a", lambda e: e.update(paused=True), lambda c: [])
    assert new.strategy("a").paused is True
    assert json.loads(cfg.read_text())["strategies"][0]["paused"] is True
    assert list(json.loads(cfg.read_text())) == order  # not re-sorted (upstream sorts)
    assert stat.S_IMODE(cfg.stat().st_mode) == 0o604
    assert leftovers(cfg) == []


@pytest.mark.parametrize(
    ("sid", "patch", "check", "code"),
    [
        ("zz", lambda e: None, lambda c: [], 404),
        ("a", lambda e: e.update(capital=-5), lambda c: [], 400),
        ("a", lambda e: e.update(paused=True), lambda c: ["the reload refuses it"], 409),
    ],
    ids=["unknown-strategy", "loader-refuses", "reload-refuses"],
)
def test_refusals_write_nothing(cfg, sid, patch, check, code):
    before = cfg.read_bytes()
    with pytest.raises(WriteRefused) as exc:
        patch_config(cfg, sid, patch, check)
    assert exc.value.code == code and exc.value.lines
    assert cfg.read_bytes() == before and leftovers(cfg) == []


def test_a_hand_edit_during_the_patch_is_not_lost(cfg):
    def edit_meanwhile(_new):
        raw = json.loads(cfg.read_text())
        raw["interval_seconds"] = 600
        cfg.write_text(json.dumps(raw))
        return []

    with pytest.raises(WriteRefused) as exc:
        patch_config(cfg, "a", lambda e: e.update(paused=True), edit_meanwhile)
    assert exc.value.code == 409 and "changed while" in exc.value.lines[0]
    assert json.loads(cfg.read_text())["interval_seconds"] == 600


def test_write_atomic_replaces_whole(tmp_path):
    target = tmp_path / "f.json"
    target.write_text("old")
    config_write.write_atomic(target, b"new", 0o600)
    assert target.read_bytes() == b"new" and leftovers(target) == []


def test_an_old_config_version_is_not_patched(cfg):
    raw = json.loads(cfg.read_text())
    raw["config_version"] = 16
    cfg.write_text(json.dumps(raw))
    before = cfg.read_bytes()
    with pytest.raises(WriteRefused) as exc:
        patch_config(cfg, "a", lambda e: e.update(paused=True), lambda c: [])
    assert exc.value.code == 409 and "restart go-trader" in exc.value.lines[0]
    assert cfg.read_bytes() == before and leftovers(cfg) == []
