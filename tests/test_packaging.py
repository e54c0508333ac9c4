"""Packaging and setup: what an install on a fresh machine relies on."""

from __future__ import annotations

import re
import shlex
import tomllib
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def _pyproject() -> dict:
    return tomllib.loads((REPO / "pyproject.toml").read_text())


def _version(spec: str) -> tuple[int, ...]:
    return tuple(int(p) for p in re.search(r">=\s*([\d.]+)", spec).group(1).split("."))


def test_license_is_an_spdx_expression_with_a_backend_that_reads_it():
    """A TOML-table license makes setuptools >= 77 print a deprecation banner on every install;
    the SPDX string form (PEP 639) needs setuptools >= 77 to build at all."""
    data = _pyproject()
    assert data["project"]["license"] == "MIT"
    setuptools = [r for r in data["build-system"]["requires"] if r.startswith("setuptools")]
    assert len(setuptools) == 1 and _version(setuptools[0]) >= (77,)


def test_setup_byte_compiles_every_package_workers_import():
    """The first worker launches after a deploy must not each compile the project."""
    lines = [
        shlex.split(line)
        for line in (REPO / "scripts" / "setup.sh").read_text().splitlines()
        if "compileall" in line and not line.lstrip().startswith("#")
    ]
    assert len(lines) == 1
    argv = lines[0]
    assert argv[:3] == [".venv/bin/python", "-m", "compileall"]
    compiled = {a for a in argv[3:] if not a.startswith("-") and a != ">&2"}
    packages = {
        p.rstrip("*") for p in _pyproject()["tool"]["setuptools"]["packages"]["find"]["include"]
    }
    assert packages | {"shared_scripts"} <= compiled
    assert all((REPO / name).is_dir() for name in compiled)
