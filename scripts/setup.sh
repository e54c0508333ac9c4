#!/usr/bin/env bash
# Create .venv (if missing) and install go-trader with its test tools. Idempotent and quick when
# nothing changed: the install is skipped while .venv/.installed is newer than pyproject.toml.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
if ! "$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
  echo "setup: go-trader needs Python 3.11 or newer (found: $("$PYTHON" --version 2>&1)); set PYTHON=/path/to/python3.11" >&2
  exit 1
fi
if [ ! -x .venv/bin/python ]; then
  echo "setup: creating .venv" >&2
  "$PYTHON" -m venv .venv
fi
if [ ! -f .venv/.installed ] || [ pyproject.toml -nt .venv/.installed ]; then
  echo "setup: installing dependencies into .venv (first run takes a minute)" >&2
  .venv/bin/python -m pip install --quiet --upgrade pip >&2
  .venv/bin/python -m pip install --quiet -e '.[test]' >&2
  touch .venv/.installed
fi
# The dashboard's browser test (tests/test_dashboard_browser.py) drives Debian's Chromium through
# Playwright; Playwright's own browser download is never used. Installed here when missing and
# root (CI); otherwise the test skips and says why.
if [ ! -x /usr/bin/chromium ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "setup: installing chromium (apt) for the dashboard's browser test" >&2
    { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; } >&2 \
      || echo "setup: WARNING: could not install chromium; the browser test will be skipped" >&2
  else
    echo "setup: note: /usr/bin/chromium is missing (apt-get install chromium as root); the dashboard's browser test will be skipped" >&2
  fi
fi
# Byte-compile the project once here, so the first worker launches after a deploy do not each
# pay for compiling (and, with several at once, race to write the same .pyc files).
.venv/bin/python -m compileall -q supervisor supervisor_entry shared_tools shared_strategies shared_scripts platforms backtest chat_bridge >&2
