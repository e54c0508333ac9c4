"""The systemd units: the settings the daemon's exit codes and shutdown rely on."""

from __future__ import annotations

import configparser

import pytest
from conftest import REPO


def unit(name: str) -> configparser.ConfigParser:
    parser = configparser.ConfigParser(strict=False, interpolation=None)
    parser.optionxform = str  # keys are case-sensitive in systemd
    parser.read(REPO / "systemd" / name)
    return parser


@pytest.mark.parametrize("name", ["go-trader.service", "go-trader@.service"])
def test_unit_stops_restart_loops_and_kills_every_worker(name):
    service = unit(name)["Service"]
    assert service["RestartPreventExitStatus"].split() == ["78", "79"]
    assert service["KillMode"] == "control-group"  # grandchildren that setsid() die too
    assert int(service["TimeoutStopSec"]) >= 15 + 5  # the 15 s drain cap plus the save
    assert service["Restart"] == "always"
    for key in ("NoNewPrivileges", "PrivateTmp"):
        assert service[key] == "true"
    assert service["ProtectSystem"] == "strict"
    assert " probe " in service["ExecStartPre"] and "--config" in service["ExecStart"]
