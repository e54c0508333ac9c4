"""The systemd units: the settings the daemon's exit codes and shutdown rely on."""

from __future__ import annotations

import configparser
import os
import shutil
import subprocess

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
    assert service["UMask"] == "0077"  # the state DB, WAL, lock and exports: the user's only
    assert " probe " in service["ExecStartPre"] and "--config" in service["ExecStart"]


@pytest.mark.parametrize("name", ["go-trader.service", "go-trader@.service"])
def test_unit_is_notify_with_watchdog_and_runs_the_venv_as_a_dedicated_user(name):
    service = unit(name)["Service"]
    # READY=1 after the first committed cycle; only the main process may send it
    assert service["Type"] == "notify" and service["NotifyAccess"] == "main"
    # the idle loop pings at WatchdogSec/2; a cycle (30 s scripts, drained in batches) fits well
    assert int(service["WatchdogSec"]) >= 120
    # ExecStartPre's probe + the daemon's probe + the first cycle all happen before READY=1
    assert int(service.get("TimeoutStartSec", "90")) >= 120
    assert service["User"] not in ("", "root") and service["Group"] not in ("", "root")
    workdir = service["WorkingDirectory"]
    assert workdir.startswith("/opt/go-trader")
    venv_bin = f"{workdir}/.venv/bin/go-trader"
    assert service["ExecStart"].startswith(venv_bin + " --config ")
    assert service["ExecStartPre"].startswith(venv_bin + " probe --config ")
    # the probe checks the very config the daemon will run
    assert (
        service["ExecStartPre"].split("--config ")[1] == service["ExecStart"].split("--config ")[1]
    )
    assert service["ExecStart"].split("--config ")[1].startswith("/var/lib/go-trader/")
    assert service["StateDirectory"].startswith("go-trader")
    assert service["EnvironmentFile"].startswith("-")  # optional: a missing .env is no error
    rw = service["ReadWritePaths"].split()
    assert rw and all(p.lstrip("-").startswith(workdir + "/") for p in rw)
    assert int(service["TimeoutStopSec"]) == 20


def test_template_unit_keeps_each_instance_apart():
    service = unit("go-trader@.service")["Service"]
    for key in ("WorkingDirectory", "StateDirectory", "ExecStart", "ExecStartPre"):
        assert "%i" in service[key], key


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze not installed")
@pytest.mark.parametrize("name", ["go-trader.service", "go-trader@.service"])
def test_systemd_analyze_verify_is_clean(name, tmp_path):
    # verify wants a concrete instance name for a template
    target = tmp_path / name.replace("@.", "@paper.")
    target.write_text((REPO / "systemd" / name).read_text())
    out = subprocess.run(
        ["systemd-analyze", "verify", str(target)],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "SYSTEMD_LOG_COLOR": "0"},
    )
    # The venv under /opt is not installed on a test machine; every other remark is a defect
    # (unknown keys, values that fail to parse, bad specifiers).
    remarks = [
        line
        for line in (out.stdout + out.stderr).splitlines()
        if line.strip() and "/.venv/bin/go-trader is not executable" not in line
    ]
    assert remarks == []
