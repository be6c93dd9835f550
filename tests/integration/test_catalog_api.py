"""Integration: the catalog registry and DDL export (the Glue Data Catalog role). serve with
small buffers takes simulator records (some invalid) timestamped hours in the past, so every
lake table gets files. Then GET /v1/tables and /v1/tables/{name} must report exactly the sums
of meta.db's live lake_files rows; /ddl answers text/plain for every dialect, 400 for a bad
dialect or a live table, 404 for an unknown table; and the DuckDB DDL — executed by DuckDB
against the real lake, glob and --live-files forms — returns the catalog's row count with the
catalog's columns and types (DESCRIBE). The CLI prints the same JSON and DDL as the API.
Athena, Trino and Spark are not available here: their DDL is checked by structure only
(tests/unit/catalog/test_ddl.c has the golden text)."""
import atexit
import json
import os
import subprocess
import sys
import time
import urllib.parse

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
import fltest  # noqa: E402

c = fltest.Checks()
root = fltest.scratch_dir("catalog")
data = root + "/data"
extra = ["--set", "raw.buffer_interval_s=1", "--set", "process.batch_interval_s=1",
         "--set", "summary.interval_s=1", "--set", "summary.allowed_lateness_s=0",
         "--set", "compaction.enabled=off"]
DUCK_TYPES = {"VARCHAR": "VARCHAR", "TIMESTAMPTZ": "TIMESTAMP WITH TIME ZONE",
              "TINYINT": "TINYINT", "SMALLINT": "SMALLINT", "INTEGER": "INTEGER",
              "BIGINT": "BIGINT", "DOUBLE": "DOUBLE", "BOOLEAN": "BOOLEAN", "BLOB": "BLOB"}


def get(srv, path):
    st, hd, body = srv.request("GET", path)
    return st, hd, body


def get_json(srv, path):
    st, _, body = get(srv, path)
    return st, json.loads(body)


def live_sums(table):
    rows = [f for f in fltest.catalog_files(data, table) if f["state"] == "live"]
    return (len(rows), sum(f["rows"] for f in rows), sum(f["bytes"] for f in rows),
            len({(f["year"], f["month"], f["day"], f["hour"]) for f in rows}))


servers = []


@atexit.register
def _stop_leftovers():  # a failed assertion must not leave a serve running
    for s in servers:
        if s.proc and s.proc.poll() is None:
            s.proc.kill()


srv = fltest.Server(data, shards=2, extra=extra).start()
servers.append(srv)
start = time.strftime("%Y-%m-%dT%H:00:00Z", time.gmtime(time.time() - 5 * 3600))
subprocess.run([fltest.BIN, "sim", "--url", f"http://127.0.0.1:{srv.port}", "--devices", "8",
                "--records", "600", "--start", start, "--interval-ms", "60000",
                "--bad-rate", "0.05", "--seed", "7", "--quiet"], check=True, timeout=120,
               stdout=subprocess.DEVNULL)
stream_n = sum(s["records"] for s in json.loads(
    fltest.run_cli("stream", "list", "--data", data, "--format", "json").stdout)["shards"])
fltest.wait_for(lambda: live_sums("raw_sensor_data")[1] == stream_n, timeout=60,
                what="raw delivery of every record")
fltest.wait_for(lambda: live_sums("processed_sensor_data")[1] == stream_n and
                live_sums("rejected_records")[1] > 0, timeout=60,
                what="every record processed, rejected files")
# hourly_summary (when the summary job exists) gets its closed hours; not required here
time.sleep(3)
c.eq(srv.stop(), 0, "serve stops")  # a quiet lake: the API, CLI and DuckDB see one state
srv = fltest.Server(data, shards=2, extra=extra + ["--set", "summary.enabled=off"]).start()
servers.append(srv)


def settled(state={"last": None, "same": 0}):
    """The lake no longer changes (the restarted consumers found nothing left to write)."""
    now = [live_sums(t) for t in ("raw_sensor_data", "processed_sensor_data", "rejected_records")]
    state["same"] = state["same"] + 1 if now == state["last"] else 0
    state["last"] = now
    return state["same"] >= 3


fltest.wait_for(settled, timeout=60, interval=0.5, what="a quiet lake after restart")

# ---- GET /v1/tables ----------------------------------------------------------------------------
st, lst = get_json(srv, "/v1/tables")
c.eq(st, 200, "GET /v1/tables")
by_name = {t["name"]: t for t in lst["tables"]}
for name in ("raw_sensor_data", "processed_sensor_data", "rejected_records", "device_state"):
    c.check(name in by_name, f"{name} listed")
c.eq(by_name["device_state"]["kind"], "live", "device_state is live")
c.eq(by_name["device_state"]["prefix"], None, "live table has no location")
c.eq(by_name["device_state"]["rows"], 8, "device_state rows = devices")
lake_tables = [t for t in lst["tables"] if t["kind"] == "lake"]
for t in lake_tables:
    files, rows, nbytes, parts = live_sums(t["name"])
    c.eq((t["files"], t["rows"], t["bytes"], t["partitions"]), (files, rows, nbytes, parts),
         f"{t['name']}: files/rows/bytes/partitions equal lake_files' live sums")
c.eq(by_name["raw_sensor_data"]["rows"], stream_n, "raw rows = stream records")
c.eq(by_name["raw_sensor_data"]["partition_keys"], ["year", "month", "day", "hour"], "raw keys")
if "hourly_summary" in by_name:
    c.eq(by_name["hourly_summary"]["partition_keys"], ["year", "month", "day"],
         "hourly_summary partitioned by day")

# ---- GET /v1/tables/{name} ---------------------------------------------------------------------
st, raw = get_json(srv, "/v1/tables/raw_sensor_data")
c.eq(st, 200, "GET /v1/tables/raw_sensor_data")
names = [col["name"] for col in raw["columns"]]
c.eq(names[:3], ["device_id", "timestamp", "temperature"], "raw columns in file order")
c.eq(names[-4:], ["year", "month", "day", "hour"], "partition keys last")
c.eq(sum(p["rows"] for p in raw["partitions_list"]), raw["rows"], "partitions sum to rows")
c.eq(sum(p["files"] for p in raw["tiers"]), raw["files"], "tiers sum to files")
c.eq([t["tier"] for t in raw["tiers"]], ["hot"], "one tier: hot")
ts = next(col for col in raw["columns"] if col["name"] == "timestamp")
c.eq((ts["type"], ts["nullable"], ts["sql"]["duckdb"], ts["sql"]["trino"]),
     ("timestamp", False, "TIMESTAMPTZ", "timestamp"), "timestamp column described")
st, ds = get_json(srv, "/v1/tables/device_state")
c.eq(st, 200, "GET /v1/tables/device_state")
c.check("tiers" not in ds and ds["columns"][0]["name"] == "device_id", "live table: columns")
st, err = get_json(srv, "/v1/tables/no_such_table")
c.eq((st, err["error"]["code"]), (404, "not_found"), "unknown table 404")
st, _, _ = get(srv, "/v1/tables/raw_sensor_data/nope")
c.eq(st, 404, "unknown sub-route 404")
st, _, _ = srv.request("POST", "/v1/tables", b"{}", {"Content-Type": "application/json"})
c.eq(st, 405, "POST /v1/tables 405")

# ---- DDL ---------------------------------------------------------------------------------------
ddl = {}
for d in ("athena", "trino", "spark", "duckdb"):
    st, hd, body = get(srv, f"/v1/tables/raw_sensor_data/ddl?dialect={d}")
    c.eq(st, 200, f"ddl {d} 200")
    c.check(hd.get("content-type", "").startswith("text/plain"), f"ddl {d} text/plain")
    ddl[d] = body.decode()
lake_uri = "file://" + os.path.realpath(data) + "/lake"
c.check(f"LOCATION '{lake_uri}/raw-data/'" in ddl["athena"] and
        "'projection.hour.range' = '0,23'" in ddl["athena"], "athena: location + projection")
c.check(f"external_location = '{lake_uri}/raw-data'" in ddl["trino"] and
        ddl["trino"].index('"hour" integer') > ddl["trino"].index('"sequence_number" bigint'),
        "trino: location, partition keys last")
c.check("USING PARQUET" in ddl["spark"] and "MSCK REPAIR TABLE `raw_sensor_data`;" in ddl["spark"],
        "spark: parquet + repair")
c.check("compaction.retire_grace_s" in ddl["duckdb"], "duckdb DDL documents the retired-file caveat")
loc = urllib.parse.quote("s3://bucket/fleet", safe="")
st, _, body = get(srv, f"/v1/tables/processed_sensor_data/ddl?dialect=athena&location={loc}")
c.check(st == 200 and "LOCATION 's3://bucket/fleet/processed-data/'" in body.decode(),
        "location override")
st, _, body = get(srv, "/v1/tables/raw_sensor_data/ddl?dialect=oracle")
c.eq((st, json.loads(body)["error"]["code"]), (400, "bad_dialect"), "bad dialect 400")
st, _, _ = get(srv, "/v1/tables/raw_sensor_data/ddl")
c.eq(st, 400, "missing dialect 400")
st, _, _ = get(srv, "/v1/tables/device_state/ddl?dialect=duckdb")
c.eq(st, 400, "live table has no DDL: 400")
st, _, _ = get(srv, "/v1/tables/nope/ddl?dialect=duckdb")
c.eq(st, 404, "ddl of unknown table 404")
st, _, _ = get(srv, "/v1/tables/raw_sensor_data/ddl?dialect=spark&location=" +
               urllib.parse.quote("s3://b/x'; DROP TABLE t; --", safe=""))
c.eq(st, 400, "quote in location refused")

# ---- DuckDB executes its DDL against the real lake -----------------------------------------------
for t in lake_tables:
    if t["rows"] == 0:
        continue
    name = t["name"]
    st, meta = get_json(srv, f"/v1/tables/{name}")
    for live in ("0", "1"):
        st, _, body = get(srv, f"/v1/tables/{name}/ddl?dialect=duckdb&live_files={live}")
        c.eq(st, 200, f"{name} duckdb ddl live_files={live}")
        sql = body.decode()
        n = fltest.duck(sql, f'SELECT count(*) AS n FROM "{name}"')[0]["n"]
        c.eq(n, t["rows"], f"{name}: DuckDB count via DDL (live_files={live}) = catalog rows")
    desc = fltest.duck(sql, f'DESCRIBE "{name}"')
    c.eq([(r["column_name"], r["column_type"]) for r in desc],
         [(col["name"], DUCK_TYPES[col["sql"]["duckdb"]]) for col in meta["columns"]],
         f"{name}: DuckDB DESCRIBE = catalog columns and types")
c.check(sum(1 for t in lake_tables if t["rows"] > 0) >= 3, "at least three lake tables checked")
api_list = get(srv, "/v1/tables")[2].decode()
api_ddl = get(srv, "/v1/tables/rejected_records/ddl?dialect=trino")[2].decode()
c.eq(srv.stop(), 0, "serve stops")

# ---- the registry's copy in meta.db (written at serve start) -----------------------------------
import sqlite3  # noqa: E402
db = sqlite3.connect(f"file:{os.path.join(data, 'meta.db')}?mode=ro", uri=True)
persisted = {r[0]: (r[1], r[2]) for r in db.execute(
    "SELECT name, kind, partition_keys FROM catalog_tables")}
cols = db.execute("SELECT name, type FROM catalog_columns WHERE table_name = 'raw_sensor_data'"
                  " ORDER BY position").fetchall()
db.close()
c.eq(sorted(persisted), sorted(by_name), "meta.db catalog_tables = the API's tables")
c.eq(persisted["raw_sensor_data"], ("lake", "year,month,day,hour"), "persisted raw table")
c.eq([(n, t) for n, t in cols], [(col["name"], col["type"]) for col in raw["columns"]],
     "persisted raw columns = the API's")

# ---- CLI: the same JSON and DDL ----------------------------------------------------------------
p = fltest.run_cli("catalog", "list", "--data", data, "--format", "json")
c.eq(json.loads(p.stdout), json.loads(api_list), "CLI list JSON = API")
p = fltest.run_cli("catalog", "ddl", "rejected_records", "--dialect", "trino", "--data", data)
c.eq(p.stdout, api_ddl, "CLI ddl = API ddl")
p = fltest.run_cli("catalog", "list", "--data", data)
c.check("raw_sensor_data" in p.stdout and "device_state" in p.stdout, "CLI list table")
p = fltest.run_cli("catalog", "show", "raw_sensor_data", "--data", data)
c.check("partition key" in p.stdout and "year=" in p.stdout, "CLI show lists columns, partitions")
p = fltest.run_cli("catalog", "ddl", "raw_sensor_data", "--dialect", "duckdb", "--live-files",
                   "--data", data)
c.eq(fltest.duck(p.stdout, "SELECT count(*) AS n FROM raw_sensor_data")[0]["n"], stream_n,
     "CLI --live-files DDL counts every record once")
p = fltest.run_cli("catalog", "ddl", "raw_sensor_data", "--dialect", "hive", "--data", data,
                   check=False)
c.eq(p.returncode, 2, "CLI bad dialect exits 2")
p = fltest.run_cli("catalog", "show", "nope", "--data", data, check=False)
c.eq(p.returncode, 2, "CLI unknown table exits 2")
c.finish()
