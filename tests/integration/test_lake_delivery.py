"""Integration: raw delivery into the lake. The server runs with a 1 s buffer interval; records
across several UTC hours (one of them late, one with unknown fields, one sparse) and rejected
records are posted; the test then checks the Parquet files sit at the DESIGN §4.3 keys
(unpadded partition values), match the catalog, and read back — through DuckDB, an
independent Parquet reader, with hive partitioning — with exact values, then that a restart
delivers nothing twice."""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
import fltest  # noqa: E402

c = fltest.Checks()
root = fltest.scratch_dir("lake")
data = root + "/data"
srv = fltest.Server(data, shards=2, extra=["--set", "raw.buffer_interval_s=1",
                                           "--set", "log.level=debug"]).start()

recs = [
    fltest.record("truck-0001", "2026-01-05T01:02:03.456Z", temperature=21.5),
    fltest.record("truck-0002", "2026-01-05T01:59:59.999999Z", temperature=-3.25),
    fltest.record("truck-0003", "2026-01-05T02:00:00Z", humidity=55.5),
    fltest.record("truck-0004", "2026-01-05T11:30:00+09:00"),  # 02:30 UTC
    fltest.record("truck-0001", "2026-01-05T03:15:00Z", extra_field={"a": [1, 2]}),
    {"device_id": "truck-0005", "timestamp": "2026-01-05T03:20:00Z"},  # sparse: all optional NULL
]
st, _, js = srv.post_records(recs)
c.eq(st, 200, "post status")
c.eq(js["accepted"], len(recs), "all accepted")
# a late record, for an hour long closed, posted after the others
late = fltest.record("truck-0006", "2025-12-31T23:10:00Z", temperature=1.5)
st, _, js2 = srv.post_records(late)
c.eq(st, 200, "late record accepted")
bad = [{"device_id": "truck-0007", "timestamp": "2026-01-05T01:00:00Z", "temperature": "hot"},
       {"device_id": "truck-0008"}]
st, _, js3 = srv.post_records(bad)
c.eq(st, 400, "all-bad batch is 400")
st, _, _ = srv.request("POST", "/v1/records", b"{\"device_id\":\"x\xff\xfe\",",
                       {"Content-Type": "application/json"})
c.eq(st, 400, "non-UTF-8 body rejected")

total = len(recs) + 1


def delivered():
    m = srv.metrics()
    n = sum(v for k, v in m.items()
            if k.startswith("fleetlake_lake_records_delivered_total") and "raw_sensor_data" in k)
    r = sum(v for k, v in m.items()
            if k.startswith("fleetlake_lake_records_delivered_total") and "rejected_records" in k)
    return n >= total and r >= 3


fltest.wait_for(delivered, timeout=30, what="delivery of every record")
m = srv.metrics()
lag = [v for k, v in m.items() if k.startswith("fleetlake_lake_delivery_lag_records")]
c.check(len(lag) == 3 and all(v == 0 for v in lag), f"delivery lag is 0 for 3 consumers: {lag}")
c.check(m.get('fleetlake_lake_flushes_total{table="raw_sensor_data",reason="interval"}', 0) >= 4,
        "interval flushes counted")

# ---- keys -------------------------------------------------------------------------------------
keys = fltest.lake_files_on_disk(data, "raw-data")
parts = sorted({os.path.dirname(k) for k in keys})
c.eq(parts, ["raw-data/year=2025/month=12/day=31/hour=23",
             "raw-data/year=2026/month=1/day=5/hour=1",
             "raw-data/year=2026/month=1/day=5/hour=2",
             "raw-data/year=2026/month=1/day=5/hour=3"], "partition directories (unpadded)")
for k in keys:
    name = os.path.basename(k)
    c.check(name.startswith("part-") and name.endswith(".parquet") and len(name.split("-")) == 4,
            f"file name {name}")
cat = fltest.catalog_files(data, "raw_sensor_data")
c.eq(sorted(r["path"] for r in cat), keys, "catalog rows == files on disk")
c.eq(sum(r["rows"] for r in cat), total, "catalog row counts")
c.eq(m.get('fleetlake_lake_files_committed_total{table="raw_sensor_data"}'), float(len(cat)),
     "files committed metric == catalog rows")
for r in cat:
    size = os.path.getsize(os.path.join(data, "lake", r["path"]))
    c.eq(r["bytes"], size, f"catalog bytes of {r['path']}")
    c.check(r["first_seq"] <= r["last_seq"] and r["min_ts"] <= r["max_ts"], "ranges ordered")
    c.eq((r["tier"], r["state"]), ("hot", "live"), "tier and state")
    c.check(f"/part-{r['shard']}-{r['first_seq']}-{r['last_seq']}.parquet" in r["path"],
            "name carries shard and sequence range")

# ---- contents through DuckDB -----------------------------------------------------------------
glob = fltest.sql_str(os.path.join(data, "lake", "raw-data", "**", "*.parquet"))
rows = fltest.duck(f"SELECT device_id, epoch_us(timestamp) AS ts, temperature, humidity, pressure,"
                   f" latitude, longitude, metadata_version, metadata_source, extra,"
                   f" epoch_us(received_at) AS received, shard_id, sequence_number,"
                   f" year, month, day, hour"
                   f" FROM read_parquet({glob}, hive_partitioning = true) ORDER BY ts")
c.eq(len(rows), total, "rows read by DuckDB")
by_dev_ts = {(r["device_id"], r["ts"]): r for r in rows}
first = by_dev_ts.get(("truck-0001", 1767574923456000))
c.check(first is not None, "truck-0001 01:02:03.456 present")
if first:
    c.eq(first["temperature"], 21.5, "temperature")
    c.eq(first["humidity"], 40.2, "humidity")
    c.eq(first["pressure"], 1013.1, "pressure")
    c.eq((first["latitude"], first["longitude"]), (37.56, 126.97), "location")
    c.eq((first["metadata_version"], first["metadata_source"]), ("1.2.0", "fms-gw"), "metadata")
    c.eq(first["extra"], None, "no extra")
    c.eq((first["year"], first["month"], first["day"], first["hour"]), (2026, 1, 5, 1),
         "hive partition columns are integers")
    c.eq(int(js["records"][0]["seq"]), first["sequence_number"], "sequence number as acked")
    c.eq(int(js["records"][0]["shard"][-4:]), first["shard_id"], "shard as acked")
    c.check(first["received"] > 1767574923456000, "received_at is the arrival time")
edge = by_dev_ts.get(("truck-0002", 1767578399999999))
c.eq(edge and edge["hour"], 1, "last µs of hour 1 stays in hour=1")
seoul = by_dev_ts.get(("truck-0004", 1767580200000000))
c.eq(seoul and (seoul["day"], seoul["hour"]), (5, 2), "+09:00 converted to UTC partition")
ex = [r for r in rows if r["extra"]]
c.eq(len(ex), 1, "one record with extra")
if ex:
    # verbatim: the bytes as sent (Python's json.dumps puts a space after ':' and ',')
    c.eq(ex[0]["extra"], '{"extra_field":{"a": [1, 2]}}', "extra JSON text verbatim")
sparse = [r for r in rows if r["device_id"] == "truck-0005"]
c.check(sparse and all(sparse[0][k] is None for k in
                       ("temperature", "humidity", "pressure", "latitude", "longitude",
                        "metadata_version", "metadata_source", "extra")), "sparse record NULLs")
late_rows = [r for r in rows if r["device_id"] == "truck-0006"]
c.eq(late_rows and (late_rows[0]["year"], late_rows[0]["month"], late_rows[0]["day"],
                    late_rows[0]["hour"]), (2025, 12, 31, 23), "late record in its own partition")
c.eq(len({(r["shard_id"], r["sequence_number"]) for r in rows}), total, "no duplicates")
kv = fltest.duck(f"SELECT decode(value) AS v FROM parquet_kv_metadata({glob})"
                 f" WHERE decode(key) = 'schema_version'")
c.check(len(kv) == len(keys) and all(r["v"] == "2" for r in kv), "schema_version metadata")
codecs = fltest.duck(f"SELECT DISTINCT compression FROM parquet_metadata({glob})")
c.eq([r["compression"] for r in codecs], ["GZIP"], "GZIP codec")
types = {r["column_name"]: r["column_type"] for r in fltest.duck(
    f"DESCRIBE SELECT * FROM read_parquet({glob}, hive_partitioning = true)")}
c.eq(types.get("timestamp"), "TIMESTAMP WITH TIME ZONE", "timestamp type")
c.eq(types.get("shard_id"), "INTEGER", "shard_id type")
c.eq(types.get("sequence_number"), "BIGINT", "sequence_number type")
c.eq(types.get("month"), "BIGINT", "month partition inferred as integer")

# ---- rejected records ------------------------------------------------------------------------
eglob = fltest.sql_str(os.path.join(data, "lake", "errors", "rejected_records", "**", "*.parquet"))
rej = fltest.duck(f"SELECT error_code, error_message, raw, raw_text, year, month"
                  f" FROM read_parquet({eglob}, hive_partitioning = true) ORDER BY sequence_number")
c.eq([r["error_code"] for r in rej], ["wrong_type", "missing_field", "bad_json"],
     "rejected codes in order")
if len(rej) == 3:
    c.check("temperature" in rej[0]["error_message"], "message names the field")
    c.eq(bytes(rej[2]["raw"]), b"{\"device_id\":\"x\xff\xfe\",", "raw bytes exact (invalid UTF-8)")
    c.eq(rej[2]["raw_text"], "{\"device_id\":\"x\ufffd\ufffd\",", "raw_text replaces invalid UTF-8")
    c.check(rej[0]["year"] >= 2024, "rejected partitioned by rejection time")
ekeys = fltest.lake_files_on_disk(data, "errors/rejected_records")
c.check(all("/part-0-" in k and "/hour=" in k for k in ekeys) and ekeys, "rejected keys")
c.eq(sorted(r["path"] for r in fltest.catalog_files(data, "rejected_records")), ekeys,
     "rejected catalog rows == files")

# ---- a restart delivers nothing twice --------------------------------------------------------
c.eq(srv.stop(), 0, "clean stop")
srv = fltest.Server(data, shards=2, extra=["--set", "raw.buffer_interval_s=1"]).start()
st, _, _ = srv.post_records(fltest.record("truck-0009", "2026-01-05T04:00:00Z"))
c.eq(st, 200, "post after restart")
fltest.wait_for(lambda: len(fltest.lake_files_on_disk(data, "raw-data")) == len(keys) + 1,
                timeout=30, what="the new file")
c.eq(srv.stop(), 0, "clean stop 2")
n = fltest.duck(f"SELECT count(*) AS n, count(DISTINCT (shard_id, sequence_number)) AS d"
                f" FROM read_parquet({glob})")
c.eq((n[0]["n"], n[0]["d"]), (total + 1, total + 1), "after restart: every record once")
log = srv.log_text()
c.check("removed orphan" not in log, "no orphans after clean stops")
c.finish()
