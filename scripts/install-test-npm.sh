#!/usr/bin/env bash
# install-test-npm.sh — install the npm test peers pinned in tests/interop/package-lock.json
# (DuckDB via @duckdb/node-api, an independent Parquet reader used by the lake tests) into
# tests/interop/node_modules. Idempotent: does nothing when the installed tree matches the lock.
set -euo pipefail
dir="$(cd "$(dirname "$0")/../tests/interop" && pwd)"
if ! command -v npm >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    apt-get install -y --no-install-recommends nodejs npm >/dev/null ||
      { apt-get update >/dev/null && apt-get install -y --no-install-recommends nodejs npm >/dev/null; }
  else
    echo "install-test-npm: npm is missing; install it with: sudo apt-get install -y nodejs npm" >&2
    exit 1
  fi
fi
stamp="$dir/node_modules/.package-lock.json"
if [ -f "$stamp" ] && [ "$stamp" -nt "$dir/package-lock.json" ] &&
   [ -d "$dir/node_modules/@duckdb/node-api" ]; then
  exit 0
fi
echo "install-test-npm: npm ci in tests/interop"
(cd "$dir" && npm ci --no-audit --no-fund --loglevel=error)
