#!/usr/bin/env bash
# Load every example config of upstream's operator guide (examples/upstream-guide/) the way the
# daemon would, and print the load log. An operator moving from upstream can run their own
# config the same way: `go-trader check-config --config config.json`.
#   scripts/check-upstream-examples.sh | grep -c ignored   # prints 0 (issue 20)
# Each file is copied to a temp dir first: a version-less upstream file is migrated in place.
set -uo pipefail
cd "$(dirname "$0")/.."
py=.venv/bin/python
[ -x "$py" ] || py=python3
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
for f in examples/upstream-guide/*.json; do
  name=$(basename "$f")
  cp "$f" "$tmp/$name"
  echo "== $f"
  "$py" -m supervisor.cli check-config --config "$tmp/$name" 2>&1
  echo "exit $?"
done
