"""Integration: SQL safety. A server with tight query limits (2 s, 5,000 rows, 64 MiB) holds a
small lake; 40+ hostile statements — writes, schema changes, ATTACH, PRAGMA, extension
loading, transactions, multi-statement injection, recursive CTE bombs, huge cross joins, huge
strings, deep expressions, oversized SQL — go through POST /v1/query, and a sample through the
CLI (--url and --data). Each is refused (400 not_allowed / sql_error) or stopped by a limit
(408 timeout, 503 busy beyond query.max_concurrent; too_many_rows / out_of_memory / timeout as a 4xx/5xx or, when rows were already
streaming, as the body's error member). Afterwards the server is healthy, a normal query answers
correctly, the catalog is unchanged, and no file was created by ATTACH or VACUUM INTO."""
import json
import os
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
import fltest  # noqa: E402

c = fltest.Checks()
root = fltest.scratch_dir("sql-safety")
data = root + "/data"
srv = fltest.Server(data, shards=2, extra=[
    "--set", "raw.buffer_interval_s=1", "--set", "process.batch_interval_s=1",
    "--set", "query.timeout_s=2", "--set", "query.max_rows=5000",
    "--set", "query.memory_bytes=64MiB", "--set", "query.max_sql_bytes=16KiB",
    "--set", "query.max_concurrent=2"]).start()
fltest.run_cli("sim", "--url", f"http://127.0.0.1:{srv.port}", "--devices", "5",
               "--records", "1000", "--seed", "3", "--quiet")


def query(sql, fmt="json"):
    st, _, body = srv.request("POST", "/v1/query", json.dumps({"sql": sql, "format": fmt}),
                              {"Content-Type": "application/json"}, timeout=60)
    return st, body.decode(errors="replace")


def raw_rows():
    st, body = query("SELECT count(*) FROM raw_sensor_data")
    return json.loads(body)["rows"][0][0] if st == 200 else -1


fltest.wait_for(lambda: raw_rows() == 1000, timeout=60, what="the lake to hold 1000 rows")
# Processing, summaries and compaction may still add files: compare raw_sensor_data's rows.
files_before = fltest.catalog_files(data, "raw_sensor_data")

evil = os.path.join(root, "evil.db")
HOSTILE = [
    "INSERT INTO lake_files (path, table_name) VALUES ('x', 'raw_sensor_data')",
    "INSERT INTO device_state SELECT * FROM device_state",
    "INSERT INTO lake_files (path) VALUES ('x') ON CONFLICT DO NOTHING",
    "REPLACE INTO device_state (device_id) VALUES ('x')",
    "UPDATE lake_files SET state = 'retired'",
    "UPDATE device_state SET record_count = 0",
    "DELETE FROM lake_files",
    "DELETE FROM lake_files RETURNING *",
    "DROP TABLE lake_files",
    "DROP TABLE IF EXISTS device_state",
    "DROP INDEX device_state_shard",
    "CREATE TABLE t (x)",
    "CREATE TEMP TABLE t AS SELECT * FROM lake_files",
    "CREATE TEMP VIEW v AS SELECT 1",
    "CREATE TRIGGER t AFTER INSERT ON lake_files BEGIN DELETE FROM lake_files; END",
    "CREATE INDEX i ON lake_files (rows)",
    "CREATE VIRTUAL TABLE temp.x USING raw_sensor_data",
    "ALTER TABLE lake_files RENAME TO gone",
    f"ATTACH DATABASE '{evil}' AS evil",
    "ATTACH ':memory:' AS m",
    "DETACH main",
    "PRAGMA writable_schema = ON",
    "PRAGMA journal_mode = OFF",
    "PRAGMA query_only = OFF",
    "PRAGMA table_info(lake_files)",
    "SELECT * FROM pragma_database_list",
    "SELECT load_extension('libc.so.6')",
    "SELECT load_extension('/tmp/evil.so', 'sqlite3_evil_init')",
    "VACUUM",
    f"VACUUM INTO '{evil}'",
    "REINDEX",
    "ANALYZE",
    "BEGIN IMMEDIATE",
    "COMMIT",
    "SAVEPOINT s",
    "SELECT 1; DELETE FROM lake_files",
    "SELECT 1; ATTACH ':memory:' AS m",
    # limits
    "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT count(*) FROM c",
    "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT x FROM c",
    "SELECT count(*) FROM raw_sensor_data a, raw_sensor_data b, raw_sensor_data c",
    "SELECT a.device_id, b.device_id FROM raw_sensor_data a, raw_sensor_data b",
    "SELECT a.device_id FROM raw_sensor_data a, raw_sensor_data b "
    "ORDER BY a.temperature * b.temperature",
    "SELECT randomblob(2000000000)",
    "SELECT zeroblob(1000000000)",
    "SELECT length(printf('%.*c', 1000000000, 'x'))",
    "SELECT length(format('%1000000000d', 1))",
    "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c LIMIT 10000000) "
    "SELECT group_concat(hex(randomblob(64))) FROM c",
    "SELECT " + "(" * 1200 + "1" + ")" * 1200,
    "SELECT 1" + " UNION ALL SELECT 1" * 200,
    "SELECT '" + "x" * 20000 + "'",
    "SELECT * FROM nonexistent_table",
]
BOMB = "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT count(*) FROM c"
assert BOMB in HOSTILE
ALLOWED = {"not_allowed", "sql_error", "timeout", "too_many_rows", "out_of_memory"}
c.check(len(HOSTILE) >= 30, f"{len(HOSTILE)} hostile statements")
codes = {}
for sql in HOSTILE:
    t0 = time.time()
    st, body = query(sql)
    took = time.time() - t0
    code = None
    try:
        if st != 200:
            code = json.loads(body)["error"]["code"]
        else:  # an error after rows began streaming: the body's error member
            code = json.loads(body).get("error", {}).get("code")
    except ValueError:
        pass
    codes[code] = codes.get(code, 0) + 1
    c.check(code in ALLOWED and (st != 200 or code in ("too_many_rows", "out_of_memory",
                                                        "timeout")),
            f"refused or stopped ({st} {code}, {took:.1f} s): {sql[:80]}")
    c.check(took < 10, f"answered in {took:.1f} s: {sql[:60]}")
    if code == "timeout" and st != 200:
        c.eq(st, 408, "timeout before the first row is 408")
print("codes:", codes)
c.check(codes.get("not_allowed", 0) >= 25, "writes/ATTACH/PRAGMA/... are not_allowed")
c.check(codes.get("timeout", 0) >= 1, "a CTE bomb hits the time limit")
c.check(codes.get("too_many_rows", 0) >= 1, "an endless result hits the row limit")

# The same through the CLI, remote and local.
for sql in ["DELETE FROM lake_files", "ATTACH ':memory:' AS m", "PRAGMA query_only = 0",
            "SELECT load_extension('x')",
            "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT count(*) FROM c"]:
    for where in (["--url", f"http://127.0.0.1:{srv.port}"], ["--data", data, "--set", "query.timeout_s=2"]):
        p = fltest.run_cli("query", *where, sql, check=False)
        c.check(p.returncode == 1 and ("not_allowed" in p.stderr or "timeout" in p.stderr or
                                       "sql_error" in p.stderr),
                f"CLI {where[0]} refuses: {sql[:50]} -> {p.stderr.strip()[:120]}")

# Concurrent runaways do not take the server down: at most two run (and time out), the others
# are turned away with 503 busy — or, when their connection was served by a worker thread
# busy with a running statement, run after it. The server answers meanwhile.
results = []
threads = [threading.Thread(target=lambda: results.append(query(BOMB)[0])) for _ in range(4)]
for t in threads:
    t.start()
time.sleep(0.5)
t0 = time.time()
st, _, _ = srv.request("GET", "/healthz")
c.check(st == 200 and time.time() - t0 < 5, "healthz answers while statements run")
for t in threads:
    t.join()
c.check(len(results) == 4 and set(results) <= {408, 503} and results.count(408) >= 2,
        f"concurrent CTE bombs time out or are busy: {sorted(results)}")

# Healthy afterwards.
st, _, _ = srv.request("GET", "/healthz")
c.eq(st, 200, "healthz after the hostile statements")
c.eq(raw_rows(), 1000, "a normal query still answers correctly")
st, body = query("SELECT device_id, count(*) AS n FROM raw_sensor_data GROUP BY 1 ORDER BY 1", "ndjson")
c.eq(st, 200, "ndjson query ok")
c.eq(sum(json.loads(l)["n"] for l in body.splitlines()), 1000, "ndjson counts sum to 1000")
c.eq(fltest.catalog_files(data, "raw_sensor_data"), files_before, "catalog unchanged")
c.check(not os.path.exists(evil), "no file created by ATTACH or VACUUM INTO")
st, body = query("SELECT 1", "xml")
c.eq(st, 400, "unknown format is 400")
st, _, body = srv.request("POST", "/v1/query", b"not json", {"Content-Type": "application/json"})
c.eq(st, 400, "non-JSON body is 400")
c.eq(srv.stop(), 0, "serve stops cleanly")
c.finish()
