#!/usr/bin/env bash
# Refresh the dashboard's vendored JavaScript from npm (run by hand, then commit the result).
# The page serves it from the package, never from a CDN, so the dashboard works offline.
#   scripts/vendor-js.sh            # the pinned version below
#   LWC_VERSION=4.2.3 scripts/vendor-js.sh
# lightweight-charts 4.x: the page uses series.setMarkers (5.x moved markers to a plugin).
set -euo pipefail
cd "$(dirname "$0")/.."
LWC_VERSION=${LWC_VERSION:-4.2.3}
dest=supervisor/http/static/vendor
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
(cd "$tmp" && npm pack --silent "lightweight-charts@${LWC_VERSION}" >/dev/null)
tar -xzf "$tmp"/lightweight-charts-"${LWC_VERSION}".tgz -C "$tmp"
mkdir -p "$dest"
cp "$tmp"/package/dist/lightweight-charts.standalone.production.js "$dest"/
cp "$tmp"/package/LICENSE "$dest"/lightweight-charts.LICENSE.txt
if [ -f "$tmp"/package/NOTICE ]; then cp "$tmp"/package/NOTICE "$dest"/lightweight-charts.NOTICE.txt; fi
echo "lightweight-charts ${LWC_VERSION}" > "$dest"/VERSIONS.txt
echo "vendored lightweight-charts ${LWC_VERSION} into $dest" >&2
