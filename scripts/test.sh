#!/usr/bin/env bash
# Set up, then lint and run the whole test suite (offline; loopback servers and temp dirs only).
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
.venv/bin/ruff check .
.venv/bin/ruff format --check .
.venv/bin/lint-imports  # the layers: [tool.importlinter] in pyproject.toml
.venv/bin/mypy  # --strict on the files pyproject.toml [tool.mypy] lists
exec .venv/bin/pytest "$@"
