#!/usr/bin/env bash
# install-web-npm.sh [--test] — the dashboard's JavaScript libraries, pinned in
# web/package-lock.json (uPlot for charts, topojson-client and world-atlas for the map: no map
# tiles are fetched), installed with npm ci and copied into web/vendor/, which the gateway
# serves at /ui/vendor/ (web/vendor/ and node_modules are not committed).
# --test: also the browser tests' playwright-core (tests/browser/package-lock.json), which
# drives Debian's /usr/bin/chromium.
# Idempotent: npm ci runs only when a lock file is newer than its installed tree.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
if ! command -v npm >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    apt-get install -y --no-install-recommends nodejs npm >/dev/null ||
      { apt-get update >/dev/null && apt-get install -y --no-install-recommends nodejs npm >/dev/null; }
  else
    echo "install-web-npm: npm is missing; install it with: sudo apt-get install -y nodejs npm" >&2
    exit 1
  fi
fi

# npm_ci DIR MARKER: npm ci in DIR unless node_modules/MARKER exists and the tree is newer
# than the lock file.
npm_ci() {
  local dir="$1" marker="$2" stamp="$1/node_modules/.package-lock.json"
  if [ -f "$stamp" ] && [ "$stamp" -nt "$dir/package-lock.json" ] && [ -e "$dir/node_modules/$marker" ]; then
    return 0
  fi
  echo "install-web-npm: npm ci in ${dir#"$root"/}"
  (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error)
}

web="$root/web"
npm_ci "$web" uplot
nm="$web/node_modules"
vendor="$web/vendor"
mkdir -p "$vendor"
# source (in node_modules) -> name under web/vendor/
files=(
  "uplot/dist/uPlot.esm.js:uPlot.esm.js"
  "uplot/dist/uPlot.min.css:uPlot.min.css"
  "topojson-client/dist/topojson-client.min.js:topojson-client.min.js"
  "world-atlas/countries-50m.json:countries-50m.json"
)
for f in "${files[@]}"; do
  src="$nm/${f%%:*}" dst="$vendor/${f##*:}"
  if [ ! -f "$dst" ] || [ "$src" -nt "$dst" ]; then
    cp "$src" "$dst.tmp" && mv "$dst.tmp" "$dst"
  fi
done

if [ "${1:-}" = "--test" ]; then
  npm_ci "$root/tests/browser" playwright-core
fi
