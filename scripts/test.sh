#!/usr/bin/env bash
# Set up, then lint and run the whole test suite (offline; loopback servers and temp dirs only).
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
.venv/bin/ruff check .
.venv/bin/ruff format --check .
.venv/bin/lint-imports  # the layers: [tool.importlinter] in pyproject.toml
.venv/bin/mypy  # --strict on the files pyproject.toml [tool.mypy] lists
# One pytest-xdist worker per core (nproc honours the CPU affinity; capped at 8 so a big host
# does not start dozens of daemons at once); worksteal rebalances when one worker is left with
# the slow tests. GO_TRADER_TEST_WORKERS=0 runs in one process (e.g. to debug); extra args pass
# through (a later -n overrides this one).
workers=${GO_TRADER_TEST_WORKERS:-$(nproc 2>/dev/null || echo 2)}
if [ "$workers" -gt 8 ]; then workers=8; fi
exec .venv/bin/pytest -n "$workers" --dist worksteal "$@"
