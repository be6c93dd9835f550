#!/usr/bin/env python3
"""Integration: a lake written partly before trace_id existed (schema evolution, issue 7 item 4).

serve delivers records of one hour under request A (three good records, one bad) and stops.
Every lake file is then turned into what the previous fleetlake wrote — trace_id dropped,
schema_version 1, via fl_pq_tool downgrade, catalog sizes updated — and meta.db is taken back
to before catalog migration 5. serve starts again (upgrading the catalog) and delivers request
B into the same hour. Then, on the mixed lake:
- SQL (POST /v1/query and `fleetlake query`) gives NULL trace_id for A's rows and B's id for
  B's, and filters on trace_id (=, IS NULL, IS NOT NULL) count right;
- DuckDB through the exported DDL (union_by_name) gives the same, also while every file is
  still old (the view keeps the column);
- `fleetlake check` is clean; `fleetlake compact` merges old and new files of the hour into
  schema 2 files with the same answers; `fleetlake erase` rewrites old and new files; the
  lifecycle's cold rewrite (ZSTD) keeps every file's schema; after each, the answers hold and
  check is clean."""
import json
import os
import sqlite3
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
import fltest  # noqa: E402

TA = "11111111111111111111111111111111"  # request A: sent before the upgrade (not stored)
TB = "0af7651916cd43dd8448eb211c80319c"
PQ_TOOL = os.environ.get("FL_PQ_TOOL") or os.path.join(os.path.dirname(fltest.BIN), "fl_pq_tool")
TABLES = ("raw_sensor_data", "processed_sensor_data", "rejected_records")


def traceparent(trace):
    return {"traceparent": f"00-{trace}-00f067aa0ba902b7-01"}


c = fltest.Checks()
root = fltest.scratch_dir("trace-mixed")
data = os.path.join(root, "data")
opts = ["--set", "raw.buffer_interval_s=1", "--set", "process.batch_interval_s=1",
        "--set", "compaction.enabled=off", "--set", "lifecycle.enabled=off"]


def post(srv, devices, trace, first_second):
    recs = [fltest.record(d, f"2026-01-05T01:02:{first_second + i:02d}Z")
            for i, d in enumerate(devices)]
    recs.append({"device_id": "truck-bad", "timestamp": "2026-01-05T01:03:00Z",
                 "humidity": "wet"})
    st, _, js = srv.post_records(recs, headers=traceparent(trace))
    c.eq((st, js["accepted"], js["failed"]), (200, len(devices), 1), f"request {trace[:4]} posted")


def wait_rows(srv, raw, rejected):
    def done():
        return ({t: sum(f["rows"] for f in fltest.catalog_files(data, t) if f["state"] == "live")
                 for t in TABLES} ==
                {"raw_sensor_data": raw, "processed_sensor_data": raw, "rejected_records": rejected})
    fltest.wait_for(done, timeout=60, what=f"{raw} rows delivered and processed")


# ---- before the upgrade: request A, then every file as the old fleetlake wrote it -------------
srv = fltest.Server(data, shards=2, extra=opts).start()
post(srv, ["truck-a1", "truck-a2", "truck-a3"], TA, 1)
wait_rows(srv, 3, 1)
c.eq(srv.stop(), 0, "serve exits 0")

db = sqlite3.connect(os.path.join(data, "meta.db"))
old_files = db.execute("SELECT path, table_name FROM lake_files WHERE state = 'live'").fetchall()
for path, table in old_files:
    full = os.path.join(data, "lake", path)
    codec = "snappy" if table == "processed_sensor_data" else "gzip"
    p = subprocess.run([PQ_TOOL, "downgrade", codec, full + ".v1", full, "trace_id", "1"],
                       capture_output=True, text=True, check=True)
    os.replace(full + ".v1", full)
    db.execute("UPDATE lake_files SET bytes = ? WHERE path = ?", (os.path.getsize(full), path))
c.check(len(old_files) >= 3, f"old files: {len(old_files)}")
db.executescript("""
    DELETE FROM catalog_columns WHERE name = 'trace_id';
    UPDATE catalog_columns SET position = -(position - 1)
     WHERE is_partition = 1 AND table_name <> 'hourly_summary';
    UPDATE catalog_columns SET position = -position WHERE position < 0;
    DELETE FROM catalog_migrations WHERE version >= 5;""")
db.commit()
db.close()
glob = fltest.sql_str(os.path.join(data, "lake", "raw-data", "**", "*.parquet"))
types = [r["column_name"] for r in fltest.duck(f"DESCRIBE SELECT * FROM read_parquet({glob})")]
c.check("trace_id" not in types and "sequence_number" in types, f"old raw files: {types}")


def cli_query(sql):
    p = fltest.run_cli("query", "--data", data, "--format", "json", sql)
    return [tuple(r) for r in json.loads(p.stdout)["rows"]]


def ddl_rows(table, sql):
    p = fltest.run_cli("catalog", "ddl", table, "--dialect", "duckdb", "--live-files",
                       "--data", data)
    return fltest.duck(p.stdout, sql)


# the exported DuckDB view keeps trace_id (NULL) while no file has it yet
rows = ddl_rows("raw_sensor_data", 'SELECT device_id, trace_id FROM "raw_sensor_data"'
                                   " ORDER BY device_id")
c.eq([(r["device_id"], r["trace_id"]) for r in rows],
     [("truck-a1", None), ("truck-a2", None), ("truck-a3", None)], "all-old lake via DuckDB DDL")
c.eq(cli_query("SELECT count(*), count(trace_id) FROM raw_sensor_data"), [(3, 0)],
     "all-old lake via SQL: 3 rows, no trace id")

# ---- after the upgrade: request B into the same hour -------------------------------------------
srv = fltest.Server(data, shards=2, extra=opts).start()
post(srv, ["truck-b1", "truck-b2"], TB, 11)
wait_rows(srv, 5, 2)
db = sqlite3.connect(f"file:{os.path.join(data, 'meta.db')}?mode=ro", uri=True)
version = db.execute("SELECT max(version) FROM catalog_migrations").fetchone()[0]
cols = [r[0] for r in db.execute("SELECT name FROM catalog_columns WHERE table_name ="
                                 " 'raw_sensor_data' ORDER BY position")]
db.close()
c.eq(version, 5, "catalog upgraded to migration 5")
c.eq(cols[12:], ["sequence_number", "trace_id", "year", "month", "day", "hour"],
     "meta.db registry copy: trace_id after the file columns, partitions last")

EXPECT = {"truck-a1": None, "truck-a2": None, "truck-a3": None, "truck-b1": TB, "truck-b2": TB}


def http_query(sql):
    return srv.query(sql)


def check_answers(step, q, expect=EXPECT):
    """The mixed lake's answers through SQL function q."""
    n_null = sum(1 for v in expect.values() if v is None)
    for t in ("raw_sensor_data", "processed_sensor_data"):
        c.eq(dict(q(f"SELECT device_id, trace_id FROM {t}")), expect, f"{step}: {t} trace ids")
    c.eq(q("SELECT count(*) FROM raw_sensor_data WHERE trace_id IS NULL"), [(n_null,)],
         f"{step}: IS NULL counts the old rows")
    c.eq(q(f"SELECT count(*) FROM raw_sensor_data WHERE trace_id = '{TB}'"),
         [(len(expect) - n_null,)], f"{step}: = counts the new rows")
    c.eq(q("SELECT count(*) FROM processed_sensor_data WHERE trace_id IS NOT NULL"
           " AND timestamp >= 1767574800000000"), [(len(expect) - n_null,)],
         f"{step}: IS NOT NULL with a pruned time range")
    c.eq(q("SELECT trace_id FROM rejected_records ORDER BY received_at"), [(None,), (TB,)],
         f"{step}: rejected_records trace ids")


def check_duckdb(step, expect=EXPECT):
    for t in ("raw_sensor_data", "processed_sensor_data"):
        rows = ddl_rows(t, f'SELECT device_id, trace_id FROM "{t}"')
        c.eq({r["device_id"]: r["trace_id"] for r in rows}, expect, f"{step}: {t} via DuckDB DDL")


def check_clean(step):
    p = fltest.run_cli("check", "--data", data, check=False)
    c.eq(p.returncode, 0, f"{step}: check clean: {p.stdout[-1500:]}")


check_answers("mixed, POST /v1/query", http_query)
c.eq(srv.stop(), 0, "serve exits 0")
check_answers("mixed, fleetlake query", cli_query)
check_duckdb("mixed")
check_clean("mixed")

# ---- compaction merges old and new files of the hour -----------------------------------------
before = {t: len([f for f in fltest.catalog_files(data, t) if f["state"] == "live"])
          for t in ("raw_sensor_data", "rejected_records")}
c.check(before["raw_sensor_data"] >= 2, f"several raw files in the hour: {before}")
# --all: rejected_records is partitioned by rejection time, an hour that is still open
p = fltest.run_cli("compact", "--data", data, "--all", "--set", "compaction.retire_grace_s=0")
live = {t: [f for f in fltest.catalog_files(data, t) if f["state"] == "live"]
        for t in ("raw_sensor_data", "rejected_records")}
c.eq(len(live["raw_sensor_data"]), 1, f"one compacted raw file for the hour: {p.stdout[-500:]}")
c.check(all("/compacted-" in f["path"] for v in live.values() for f in v),
        f"every live raw and rejected file is a compaction output: {live}")
out = os.path.join(data, "lake", live["raw_sensor_data"][0]["path"])
kv = fltest.duck(f"SELECT decode(value) AS v FROM parquet_kv_metadata({fltest.sql_str(out)})"
                 f" WHERE decode(key) = 'schema_version'")
c.eq(kv, [{"v": "2"}], "the compacted file is schema 2")
check_answers("compacted", cli_query)
check_duckdb("compacted")
check_clean("compacted")

# ---- erasure rewrites files of both schemas ------------------------------------------------------
fltest.run_cli("erase", "--data", data, "--device", "truck-a2")
EXPECT2 = {k: v for k, v in EXPECT.items() if k != "truck-a2"}
check_answers("erased", cli_query, EXPECT2)
check_duckdb("erased", EXPECT2)
check_clean("erased")

# ---- the lifecycle's cold rewrite keeps each file's schema -----------------------------------
# 400 days on: the readings (2026-01-05) and the rejections (today) are all past warm_days
now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + 400 * 86400))
p = fltest.run_cli("lifecycle", "--data", data, "--now", now,
                   "--set", f"lifecycle.warm_dir={os.path.realpath(root)}/warm",
                   "--set", "compaction.retire_grace_s=0")
cold = [f for f in fltest.catalog_files(data) if f["state"] == "live"]
c.check(cold and all(f["tier"] == "cold" for f in cold), f"every file cold: {p.stdout[-500:]}")
versions = set()
for f in cold:
    kv = fltest.duck(f"SELECT decode(value) AS v FROM parquet_kv_metadata("
                     f"{fltest.sql_str(os.path.join(data, 'lake', f['path']))})"
                     f" WHERE decode(key) = 'schema_version'")
    versions.add((f["table_name"], kv[0]["v"]))
c.check(("processed_sensor_data", "1") in versions and ("raw_sensor_data", "2") in versions,
        f"cold files keep their schema versions: {sorted(versions)}")
check_answers("cold", cli_query, EXPECT2)
check_duckdb("cold", EXPECT2)
check_clean("cold")
c.finish()
