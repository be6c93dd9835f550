#!/usr/bin/env python3
"""bench_query.py — the query benchmark of issue 5: fleetlake and DuckDB over the same lake.

1. Generates (once; reused while its parameters match) a lake of FL_BENCH_QUERY_ROWS processed
   records (default 100 M; 1,000 devices, 21 days) with build/bench_query_gen — the processed
   pipeline's writer and catalog rows, one sorted SNAPPY file per hour.
2. Times each query with fleetlake's in-process query API (build/bench_query: the code behind
   `fleetlake query --data DIR`; one session, one warm-up run, then FL_BENCH_QUERY_REPEAT runs)
   and with DuckDB (@duckdb/node-api in-process, read_parquet over the same files with
   hive_partitioning; one warm-up, then the same number of runs) with 2 threads (its default on
   this machine) and with 1 thread (fleetlake scans on one thread).
3. Fails loudly (exit 1) unless both engines return the same rows (floats to 1e-9 relative).
4. Prints a table of medians and ratios, then the hourly_summary dashboard benchmark
   (bench/bench_summary.py) unless FL_BENCH_QUERY_SUMMARY=0.

Each engine gets the query in its natural form. fleetlake filters on `timestamp` only (its
catalog prunes files by partition and min/max time); DuckDB also gets the equivalent hive
partition predicates (year/month/day/hour), so it can skip files by path instead of reading
every footer — the formulation most favourable to DuckDB.

Environment: FL_BENCH_QUERY_ROWS, FL_BENCH_QUERY_REPEAT (5), FL_BENCH_QUERY_DIR (where the lake
goes; default BUILD/bench-query-lake-ROWS — a few GB at 100 M rows, never in git),
FL_BENCH_QUERY_SUMMARY, FL_BENCH_JSON (write all figures to this file).
Usage: python3 bench/bench_query.py [BUILD_DIR]   (default build-release)"""
import json
import math
import os
import shutil
import statistics
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
BUILD = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, "build-release"))
ROWS = int(os.environ.get("FL_BENCH_QUERY_ROWS", "100000000"))
REPEAT = int(os.environ.get("FL_BENCH_QUERY_REPEAT", "5"))
LAKE_DIR = os.path.abspath(os.environ.get("FL_BENCH_QUERY_DIR",
                                          os.path.join(BUILD, f"bench-query-lake-{ROWS}")))
DEVICES, DAYS = 1000, 21
FIRST_DAY = 1790553600  # 2026-09-28 00:00:00 UTC (bench_query_gen's FIRST_HOUR_US)
HOUR, DAY = 3600, 86400

# The queried periods, inside the generated 21 days (all in October 2026).
H1 = FIRST_DAY + 10 * DAY + 14 * HOUR  # 2026-10-08 14:00 UTC
D1 = FIRST_DAY + 10 * DAY              # 2026-10-08
W1 = FIRST_DAY + 7 * DAY               # 2026-10-05 (Monday) .. 2026-10-11
US = 1000000


def ours_range(lo, hi):
    return f"timestamp >= {lo * US} AND timestamp < {hi * US}"


def duck_range(lo, hi, parts):
    return f"{parts} AND timestamp >= to_timestamp({lo}) AND timestamp < to_timestamp({hi})"


P = "processed_sensor_data"
D = "read_parquet('{glob}', hive_partitioning = true)"
DEV3 = "('truck-0007', 'truck-0042', 'truck-0420')"
QUERIES = [
    # (name, kind, fleetlake SQL, DuckDB SQL)
    ("count in a 1-hour range", "pruned",
     f"SELECT count(*) AS n FROM {P} WHERE {ours_range(H1, H1 + HOUR)}",
     f"SELECT count(*) AS n FROM {D} WHERE "
     + duck_range(H1, H1 + HOUR, "year = 2026 AND month = 10 AND day = 8 AND hour = 14")),
    ("one device's readings for a day", "pruned",
     f"SELECT timestamp, temperature, humidity, pressure, anomaly_score FROM {P} "
     f"WHERE device_id = 'truck-0042' AND {ours_range(D1, D1 + DAY)} ORDER BY timestamp",
     f"SELECT epoch_us(timestamp), temperature, humidity, pressure, anomaly_score FROM {D} "
     f"WHERE device_id = 'truck-0042' AND "
     + duck_range(D1, D1 + DAY, "year = 2026 AND month = 10 AND day = 8")
     + " ORDER BY timestamp"),
    ("3 devices (IN) for a day", "pruned",
     f"SELECT device_id, count(*) AS n, max(temperature) AS t FROM {P} "
     f"WHERE device_id IN {DEV3} AND {ours_range(D1, D1 + DAY)} GROUP BY device_id ORDER BY 1",
     f"SELECT device_id, count(*) AS n, max(temperature) AS t FROM {D} "
     f"WHERE device_id IN {DEV3} AND "
     + duck_range(D1, D1 + DAY, "year = 2026 AND month = 10 AND day = 8")
     + " GROUP BY device_id ORDER BY 1"),
    ("per-device average over a day", "scan",
     f"SELECT device_id, count(*) AS n, avg(temperature) AS t FROM {P} "
     f"WHERE {ours_range(D1, D1 + DAY)} GROUP BY device_id ORDER BY device_id",
     f"SELECT device_id, count(*) AS n, avg(temperature) AS t FROM {D} WHERE "
     + duck_range(D1, D1 + DAY, "year = 2026 AND month = 10 AND day = 8")
     + " GROUP BY device_id ORDER BY device_id"),
    ("fleet hourly aggregates over a week", "scan",
     f"SELECT year, month, day, hour, count(*) AS n, avg(temperature) AS t, "
     f"max(temperature) AS tmax, avg(humidity) AS h, sum(anomaly_flag) AS anomalies FROM {P} "
     f"WHERE {ours_range(W1, W1 + 7 * DAY)} GROUP BY year, month, day, hour ORDER BY 1, 2, 3, 4",
     f"SELECT year, month, day, hour, count(*) AS n, avg(temperature) AS t, "
     f"max(temperature) AS tmax, avg(humidity) AS h, count_if(anomaly_flag) AS anomalies "
     f"FROM {D} WHERE "
     + duck_range(W1, W1 + 7 * DAY, "year = 2026 AND month = 10 AND day BETWEEN 5 AND 11")
     + " GROUP BY year, month, day, hour ORDER BY 1, 2, 3, 4"),
    ("last reading per device", "scan",
     f"SELECT device_id, max(timestamp) AS ts, temperature FROM {P} "
     f"GROUP BY device_id ORDER BY device_id",
     f"SELECT device_id, epoch_us(max(timestamp)) AS ts, arg_max(temperature, timestamp) "
     f"FROM {D} GROUP BY device_id ORDER BY device_id"),
    ("top-10 devices by anomaly count", "scan",
     f"SELECT device_id, count(*) AS anomalies FROM {P} WHERE anomaly_flag = 1 "
     f"GROUP BY device_id ORDER BY anomalies DESC, device_id LIMIT 10",
     f"SELECT device_id, count(*) AS anomalies FROM {D} WHERE anomaly_flag "
     f"GROUP BY device_id ORDER BY anomalies DESC, device_id LIMIT 10"),
]


def generate():
    marker = os.path.join(LAKE_DIR, "bench_query_gen.json")
    want = {"rows": ROWS, "devices": DEVICES, "hours": DAYS * 24}
    if os.path.exists(marker):
        with open(marker) as f:
            have = json.load(f)
        if all(have.get(k) == v for k, v in want.items()):
            return have
    shutil.rmtree(LAKE_DIR, ignore_errors=True)
    print(f"generating {ROWS:,} processed records into {LAKE_DIR} ...", flush=True)
    out = subprocess.run([os.path.join(BUILD, "bench_query_gen"), "--out", LAKE_DIR, "--rows",
                          str(ROWS), "--devices", str(DEVICES), "--days", str(DAYS)],
                         check=True, stdout=subprocess.PIPE, text=True).stdout
    have = json.loads(out)
    with open(marker, "w") as f:
        json.dump(have, f)
    return have


def same(a, b):
    if isinstance(a, float) or isinstance(b, float):
        if a is None or b is None:
            return a is b
        return math.isclose(float(a), float(b), rel_tol=1e-9, abs_tol=1e-9)
    return a == b


def compare(name, ours, theirs):
    if len(ours) != len(theirs):
        return f"{name}: fleetlake {len(ours)} rows, DuckDB {len(theirs)} rows"
    for i, (r, s) in enumerate(zip(ours, theirs)):
        if len(r) != len(s) or not all(same(x, y) for x, y in zip(r, s)):
            return f"{name}: row {i} differs: fleetlake {r} vs DuckDB {s}"
    return None


def duck(threads, glob):
    spec = {"repeat": REPEAT, "threads": threads,
            "sql": [q[3].format(glob=glob) for q in QUERIES]}
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
        json.dump(spec, f)
    try:
        out = subprocess.run(["node", os.path.join(HERE, "bench_query.js"), f.name], check=True,
                             stdout=subprocess.PIPE, text=True).stdout
    finally:
        os.unlink(f.name)
    return [json.loads(line) for line in out.splitlines()]


def main():
    gen = generate()
    # A lake generated by an older build: opening its catalog read-write (catalog list) brings
    # meta.db to the current schema, which the read-only query session cannot do.
    subprocess.run([os.path.join(BUILD, "fleetlake"), "catalog", "list", "--data", LAKE_DIR],
                   check=True, stdout=subprocess.DEVNULL)
    glob = os.path.join(LAKE_DIR, "lake", "processed-data", "**", "*.parquet")
    print(f"lake: {gen['rows']:,} rows, {gen['files']} files, {gen['bytes'] / 1e9:.2f} GB "
          f"(generated in {gen['seconds']:.1f} s); median of {REPEAT} warm runs", flush=True)
    out = subprocess.run([os.path.join(BUILD, "bench_query"), "--data", LAKE_DIR, "--repeat",
                          str(REPEAT), ] + [q[2] for q in QUERIES], check=True,
                         stdout=subprocess.PIPE, text=True).stdout
    ours = [json.loads(line) for line in out.splitlines()]
    duck2, duck1 = duck(2, glob), duck(1, glob)
    failures, results = [], []
    for q, o, d2, d1 in zip(QUERIES, ours, duck2, duck1):
        for d in (d2, d1):
            err = compare(q[0], o["result"]["rows"], d["rows"])
            if err:
                failures.append(err)
        st = o["result"]["stats"]["tables"].get(P, {})
        results.append({"query": q[0], "kind": q[1], "fleetlake_ms": statistics.median(o["times_ms"]),
                        "duckdb2_ms": statistics.median(d2["times_ms"]),
                        "duckdb1_ms": statistics.median(d1["times_ms"]),
                        "rows_out": len(o["result"]["rows"]),
                        "rows_scanned": st.get("rows_scanned", 0),
                        "row_groups_read": st.get("row_groups_read", 0),
                        "row_groups_skipped": st.get("row_groups_skipped", 0),
                        "files_opened": st.get("files_opened", 0),
                        "fleetlake_runs_ms": o["times_ms"], "duckdb2_runs_ms": d2["times_ms"]})
    print(f"{'query':38} {'kind':6} {'fleetlake ms':>12} {'DuckDB 2thr':>11} {'ratio':>6} "
          f"{'DuckDB 1thr':>11} {'ratio':>6} {'rows scanned':>13} {'groups read/skip':>16}")
    for r in results:
        print(f"{r['query']:38} {r['kind']:6} {r['fleetlake_ms']:12.1f} {r['duckdb2_ms']:11.1f} "
              f"{r['fleetlake_ms'] / r['duckdb2_ms']:6.2f} {r['duckdb1_ms']:11.1f} "
              f"{r['fleetlake_ms'] / r['duckdb1_ms']:6.2f} {r['rows_scanned']:13,} "
              f"{r['row_groups_read']:>8,}/{r['row_groups_skipped']:<7,}")
    print("answers: " + ("IDENTICAL in both engines" if not failures else "DIFFERENT"))
    summary = None
    if os.environ.get("FL_BENCH_QUERY_SUMMARY", "1") != "0":
        summary = json.loads(subprocess.run(
            [sys.executable, os.path.join(HERE, "bench_summary.py"),
             os.path.join(BUILD, "bench_summary")], check=True, capture_output=True,
            text=True).stdout)
        print(f"hourly_summary dashboard (a week, 1,000 devices): fleetlake "
              f"{summary['dashboard_median_ms']:.1f} ms median ({summary['dashboard_best_ms']:.1f} "
              f"best), DuckDB {summary['duckdb_median_ms']:.1f} ms median "
              f"({summary['duckdb_best_ms']:.1f} best); target <= 50 ms")
    if os.environ.get("FL_BENCH_JSON"):
        with open(os.environ["FL_BENCH_JSON"], "w") as f:
            json.dump({"lake": gen, "queries": results, "summary": summary,
                       "failures": failures}, f, indent=1)
    for f in failures:
        print("MISMATCH: " + f, file=sys.stderr)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
