#!/usr/bin/env python3
"""parquet_vs_duckdb.py BUILD_DIR — our Parquet writer and reader against DuckDB, in one run,
and the lake's bytes per record (bench/run.sh section `parquet`; docs/PERFORMANCE.md).

1. Encode: BUILD_DIR/bench_parquet writes 1,000,000 processed_sensor_data-like rows with
   SNAPPY, GZIP and ZSTD (single thread, best of 3) into /tmp/fleetlake_bench_<codec>.parquet;
   then DuckDB (bench/parquet_vs_duckdb.js) loads our SNAPPY file into an in-memory table and
   times COPY tbl TO ... (FORMAT parquet, COMPRESSION <codec>) with SET threads=1 (per core) and
   with its default thread count, best of 3.
2. Scan: count(*), sum(length(device_id)), max(timestamp), sum(temperature) — a 3-column
   projection — by our reader (bench_parquet --scan, a fresh process) and by DuckDB
   (threads=1), over our files and over DuckDB's, best of 3; the four aggregates must agree.
3. Lake bytes per record: BUILD_DIR/fleetlake serve (raw.buffer_interval_s=1) receives
   FL_BENCH_LAKE_RECORDS (200,000) simulator records as JSON; once the catalog's raw_sensor_data
   rows equal the accepted count, the raw-data bytes (sum of lake_files.bytes) are compared with
   the JSON bytes received (fleetlake_ingest_bytes_total); then the same files are rewritten as one
   GZIP file per hour (fl_pq_tool concat — what compaction will produce) and measured again.
   FL_BENCH_LAKE=0 skips this part; FL_BENCH_LAKE_BATCH (500) sets the records per request (each
   request has its own trace id, so 1 is the worst case for the trace_id column).

Environment: FL_BENCH_PARQUET_ROWS (1000000), FL_BENCH_REPEAT (3), FL_BENCH_ENCODE=0 (skip parts
1 and 2), FL_BENCH_JSON=file (all figures as JSON), TMPDIR."""
import json
import os
import re
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "lib"))
import fltest  # noqa: E402


def run_ours(build, rows, repeat):
    p = subprocess.run([os.path.join(build, "bench_parquet"), str(rows), str(repeat)],
                       capture_output=True, text=True, check=True, timeout=1800)
    line = next(l for l in p.stdout.splitlines() if l.startswith("BENCH_JSON "))
    return json.loads(line[len("BENCH_JSON "):])


def scan_ours(build, path, repeat):
    p = subprocess.run([os.path.join(build, "bench_parquet"), "--scan", path, str(repeat)],
                       capture_output=True, text=True, check=True, timeout=600)
    return json.loads(p.stdout.split("BENCH_SCAN ", 1)[1])


def run_duckdb(files, out_dir, repeat):
    subprocess.run(["bash", os.path.join(HERE, "..", "scripts", "install-test-npm.sh")],
                   check=True, timeout=600)
    cfg = {"files": files, "out_dir": out_dir, "repeat": repeat}
    p = subprocess.run(["node", os.path.join(HERE, "parquet_vs_duckdb.js"), json.dumps(cfg)],
                       capture_output=True, text=True, timeout=1800)
    if p.returncode:
        raise SystemExit(f"parquet_vs_duckdb.js failed: {p.stderr}")
    return json.loads(p.stdout)


def same_aggregates(a, b):
    return (a["scan_rows"] if "scan_rows" in a else a["rows"]) == \
        (b["scan_rows"] if "scan_rows" in b else b["rows"]) and \
        a["device_id_bytes"] == b["device_id_bytes"] and \
        str(a["max_timestamp_us"]) == str(b["max_timestamp_us"]) and \
        abs(a["temperature_sum"] - b["temperature_sum"]) <= 1e-9 * abs(b["temperature_sum"])


def encode_and_scan(build, rows, repeat):
    print(f"bench_parquet: {rows:,} rows, best of {repeat} ...", flush=True)
    ours = run_ours(build, rows, repeat)
    files = {c["codec"]: c["path"] for c in ours["codecs"]}
    out_dir = tempfile.mkdtemp(prefix="fl-pq-duckdb-")
    duck = run_duckdb(files, out_dir, repeat)
    n = ours["rows"]
    assert duck["rows"] == n, (duck["rows"], n)
    dthreads = duck["default_threads"]
    print(f"\nEncode ({n:,} rows x 13 columns; fleetlake single thread; DuckDB {duck['version']} "
          f"COPY from an in-memory table, threads=1 and threads={dthreads}; best of {repeat})")
    print("| codec  | fleetlake rows/s | fleetlake MB/s | DuckDB rows/s (1 thr) | DuckDB MB/s "
          f"| ratio | DuckDB rows/s ({dthreads} thr) | fleetlake MB | DuckDB MB | size ratio |")
    print("|--------|-----------------:|---------------:|----------------------:|------------:"
          "|------:|----------------------:|-------------:|----------:|-----------:|")
    result = {"rows": n, "duckdb_version": duck["version"], "encode": [], "scan": []}
    for c in ours["codecs"]:
        d1 = next(w for w in duck["write"] if w["codec"] == c["codec"] and w["threads"] == 1)
        dn = next(w for w in duck["write"] if w["codec"] == c["codec"] and w["threads"] == dthreads)
        fr, dr = n / c["write_s"], n / d1["write_s"]
        row = {"codec": c["codec"], "fleetlake_rows_s": fr, "fleetlake_mb_s":
               c["bytes"] / 1e6 / c["write_s"], "duckdb_rows_s": dr, "duckdb_mb_s":
               d1["bytes"] / 1e6 / d1["write_s"], "ratio": fr / dr,
               "duckdb_rows_s_default_threads": n / dn["write_s"],
               "fleetlake_mb": c["bytes"] / 1e6, "duckdb_mb": d1["bytes"] / 1e6,
               "size_ratio": c["bytes"] / d1["bytes"]}
        result["encode"].append(row)
        print(f"| {c['codec']:<6} | {fr:>16,.0f} | {row['fleetlake_mb_s']:>14.1f} | {dr:>21,.0f} "
              f"| {row['duckdb_mb_s']:>11.1f} | {row['ratio']:>5.2f} "
              f"| {row['duckdb_rows_s_default_threads']:>21,.0f} | {row['fleetlake_mb']:>12.2f} "
              f"| {row['duckdb_mb']:>9.2f} | {row['size_ratio']:>10.2f} |")
    print(f"\nScan: count, sum(length(device_id)), max(timestamp), sum(temperature); single thread, "
          f"best of {repeat}")
    print("| codec  | file by   | fleetlake rows/s | DuckDB rows/s | ratio | aggregates agree |")
    print("|--------|-----------|-----------------:|--------------:|------:|------------------|")
    for c in ours["codecs"]:
        for whose in ("fleetlake", "duckdb"):
            d = next(s for s in duck["scan"] if s["codec"] == c["codec"] and s["file_by"] == whose)
            # Every scan by our reader runs in a fresh `bench_parquet --scan` process, as
            # DuckDB's run in its own: bench_parquet's in-process scan follows its writes and
            # finds the allocator warm (no page faults for the decoded columns), which flatters.
            o = scan_ours(build, d["path"], repeat)
            fr, dr = o["scan_rows"] / o["scan_s"], d["rows"] / d["scan_s"]
            agree = same_aggregates(o, d)
            result["scan"].append({"codec": c["codec"], "file_by": whose, "fleetlake_rows_s": fr,
                                   "duckdb_rows_s": dr, "ratio": fr / dr, "agree": agree})
            print(f"| {c['codec']:<6} | {whose:<9} | {fr:>16,.0f} | {dr:>13,.0f} | {fr / dr:>5.2f} "
                  f"| {'yes' if agree else 'NO: ' + json.dumps([o, d])} |")
    shutil.rmtree(out_dir, ignore_errors=True)
    return result


# ---- lake bytes per record ---------------------------------------------------------------------

def raw_files(data):
    db = sqlite3.connect(f"file:{os.path.join(data, 'meta.db')}?mode=ro", uri=True, timeout=30)
    try:
        return db.execute("SELECT path, year, month, day, hour, rows, bytes FROM lake_files "
                          "WHERE table_name = 'raw_sensor_data'").fetchall()
    finally:
        db.close()


def lake_bytes_per_record(build, records, batch):
    tool = os.path.join(build, "fl_pq_tool")
    os.environ["FLEETLAKE_BIN"] = os.path.join(build, "fleetlake")
    fltest.BIN = os.environ["FLEETLAKE_BIN"]
    base = tempfile.mkdtemp(prefix="fl-lake-bytes-")
    data = os.path.join(base, "data")
    srv = fltest.Server(data, extra=["--set", "raw.buffer_interval_s=1"]).start()
    try:
        sim = subprocess.run([fltest.BIN, "sim", "--url", f"http://127.0.0.1:{srv.port}",
                              "--records", str(records), "--batch", str(batch), "--duration", "0"],
                             capture_output=True, text=True, timeout=600)
        if sim.returncode:
            raise SystemExit(f"sim failed: {sim.stderr}")
        m = srv.metrics()
        accepted = int(m.get('fleetlake_records_total{outcome="accepted",code="ok"}', 0))
        json_bytes = int(m["fleetlake_ingest_bytes_total"])
        fltest.wait_for(lambda: sum(r[5] for r in raw_files(data)) == accepted, timeout=300,
                        what="raw delivery to commit every accepted record")
        files = raw_files(data)
    finally:
        srv.stop()
    lake_bytes = sum(r[6] for r in files)
    hours = {}
    for r in files:
        hours.setdefault(r[1:5], []).append(os.path.join(data, "lake", r[0]))
    hourly_bytes = 0
    for k, paths in sorted(hours.items()):
        out = os.path.join(base, "hour-%d-%d-%d-%d.parquet" % k)
        p = subprocess.run([tool, "concat", "gzip", out, *sorted(paths)], capture_output=True,
                           text=True, check=True, timeout=600)
        hourly_bytes += json.loads(p.stdout)["bytes"]
    res = {"records": accepted, "json_bytes": json_bytes, "raw_files": len(files),
           "partitions": len(hours), "lake_bytes": lake_bytes, "hourly_bytes": hourly_bytes,
           "saved_pct": 100 * (1 - lake_bytes / json_bytes),
           "hourly_saved_pct": 100 * (1 - hourly_bytes / json_bytes)}
    print(f"\nLake bytes per record ({accepted:,} sim records as JSON arrays of {batch}, "
          f"raw.buffer_interval_s=1, {len(files)} raw-data files in {len(hours)} hourly partitions)")
    print("| form | bytes | bytes/record | saved vs JSON |")
    print("|---|---:|---:|---:|")
    print(f"| JSON received (fleetlake_ingest_bytes_total) | {json_bytes:,} | "
          f"{json_bytes / accepted:.1f} | - |")
    print(f"| raw-data as delivered (GZIP, {len(files)} files) | {lake_bytes:,} | "
          f"{lake_bytes / accepted:.1f} | {res['saved_pct']:.1f} % |")
    print(f"| raw-data, one GZIP file per hour ({len(hours)} files) | {hourly_bytes:,} | "
          f"{hourly_bytes / accepted:.1f} | {res['hourly_saved_pct']:.1f} % |")
    shutil.rmtree(base, ignore_errors=True)
    return res


def main():
    build = sys.argv[1] if len(sys.argv) > 1 else "build-release"
    rows = int(os.environ.get("FL_BENCH_PARQUET_ROWS", "1000000"))
    repeat = int(os.environ.get("FL_BENCH_REPEAT", "3"))
    out = {"date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
    if os.environ.get("FL_BENCH_ENCODE", "1") != "0":
        out.update(encode_and_scan(build, rows, repeat))
    if os.environ.get("FL_BENCH_LAKE", "1") != "0":
        out["lake"] = lake_bytes_per_record(
            build, int(os.environ.get("FL_BENCH_LAKE_RECORDS", "200000")),
            int(os.environ.get("FL_BENCH_LAKE_BATCH", "500")))
    if os.environ.get("FL_BENCH_JSON"):
        with open(os.environ["FL_BENCH_JSON"], "w") as f:
            json.dump(out, f, indent=1)


if __name__ == "__main__":
    main()
