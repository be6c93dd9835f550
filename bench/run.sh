#!/usr/bin/env bash
# bench/run.sh BUILD_DIR — fleetlake's benchmarks (`make bench`). Prints one table per
# benchmark; copy the figures into docs/PERFORMANCE.md with the date and the command.
#   FL_BENCH_SECONDS   duration of each end-to-end run (default 60)
#   FL_BENCH_ONLY      run one benchmark: decode | e2e | parquet | delivery | audit | security | alerts | throttle | tls | query | dashboard
#   FL_BENCH_QUERY_ROWS  rows of the query benchmark's lake (default 100000000; a few GB under
#                      BUILD_DIR, generated once and reused; e.g. 1000000 for a smoke run)
set -euo pipefail
build=${1:-build-release}
here=$(cd "$(dirname "$0")" && pwd)
export FL_BENCH_SECONDS=${FL_BENCH_SECONDS:-60}
only=${FL_BENCH_ONLY:-}

echo "fleetlake benchmarks — $(date -u +%Y-%m-%dT%H:%M:%SZ) — $(nproc) cores, $(uname -r)"
if [ -z "$only" ] || [ "$only" = decode ]; then
  echo
  echo "== decode + validate (single thread) =="
  "$build/bench_decode"
fi
if [ -z "$only" ] || [ "$only" = e2e ]; then
  echo
  echo "== end to end: fleetlake sim -> serve (fsync) vs InfluxDB 1.6, ${FL_BENCH_SECONDS}s each =="
  python3 "$here/e2e.py" "$build/fleetlake"
fi
if [ -z "$only" ] || [ "$only" = audit ]; then
  echo
  echo "== audit trail: cost of one entry, then ingest with it on vs off (alternating runs) =="
  "$build/bench_audit"
  FL_BENCH_SECONDS=${FL_BENCH_AUDIT_SECONDS:-20} python3 "$here/audit_overhead.py" "$build/fleetlake"
fi
if [ -z "$only" ] || [ "$only" = security ]; then
  echo
  echo "== ingest with auth + throttling + audit on vs all off (alternating runs) =="
  FL_BENCH_SECONDS=${FL_BENCH_SECURITY_SECONDS:-20} python3 "$here/security_overhead.py" "$build/fleetlake"
fi
if [ -z "$only" ] || [ "$only" = throttle ]; then
  echo
  echo "== throttling: one token-bucket take (16 threads as the server), and ingest with throttling on vs off (alternating runs) =="
  "$build/bench_throttle" 16
  FL_BENCH_SECONDS=${FL_BENCH_THROTTLE_SECONDS:-20} python3 "$here/throttle_overhead.py" "$build/fleetlake"
fi
if [ -z "$only" ] || [ "$only" = alerts ]; then
  echo
  echo "== alert latency: anomalous POST -> /v1/events and -> webhook, under 10k records/s =="
  python3 "$here/alert_latency.py" "$build/fleetlake"
  echo
  echo "== alert rule changes (PUT /v1/rules/{name}) with 100k and 1M devices tracked =="
  "$build/bench_rules" "$build"
fi
if [ -z "$only" ] || [ "$only" = tls ]; then
  echo
  echo "== ingest over HTTPS vs plain HTTP, same load (alternating runs) =="
  FL_BENCH_SECONDS=${FL_BENCH_TLS_SECONDS:-20} python3 "$here/tls.py" "$build/fleetlake"
fi
if [ -z "$only" ] || [ "$only" = parquet ]; then
  echo
  echo "== Parquet encode/scan vs DuckDB, and lake bytes per record =="
  python3 "$here/parquet_vs_duckdb.py" "$build"
fi
if [ -z "$only" ] || [ "$only" = delivery ]; then
  echo
  echo "== raw delivery core: stream records -> Parquet+GZIP files, by records per trace id (request) =="
  for batch in 500 20 1 0; do "$build/bench_delivery" 1000000 "$batch" 3; done
fi
if [ -z "$only" ] || [ "$only" = query ]; then
  echo
  echo "== SQL over the lake vs DuckDB (${FL_BENCH_QUERY_ROWS:-100000000} processed rows), hourly_summary dashboards =="
  python3 "$here/bench_query.py" "$build"
fi
if [ -z "$only" ] || [ "$only" = dashboard ]; then
  echo
  echo "== dashboard page-ready times (headless Chromium): fleet page with 1,000 devices, device page over 30 days =="
  "$here/../scripts/install-web-npm.sh" --test
  python3 "$here/dashboard.py" "$build"
fi
