#!/usr/bin/env bash
# Set up, then run one paper cycle of the 14 seed spot strategies on the simulated market.
# Run it again to continue the same book (state/offline.db).
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
exec .venv/bin/go-trader --config examples/offline.json --once "$@"
