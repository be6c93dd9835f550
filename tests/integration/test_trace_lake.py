#!/usr/bin/env python3
"""Integration: the W3C trace id of an ingest request reaches the lake (issue 7 item 4).

Records are POSTed under known `traceparent` headers: two good records under T1; a good and a
bad record (temperature "hot") under T2; a body that is not JSON under T3; one record without a
traceparent (the server makes a trace id and returns it). After delivery and processing, the
exact trace ids are found in raw_sensor_data and processed_sensor_data (one per record) and in
rejected_records (the bad record's and the bad body's), through POST /v1/query and through
DuckDB reading the Parquet files directly, and DuckDB through the exported DDL. The dead-letter
log shows the trace id too (`fleetlake stream read --dead-letters`)."""
import json
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
import fltest  # noqa: E402

T1 = "4bf92f3577b34da6a3ce929d0e0e4736"
T2 = "0af7651916cd43dd8448eb211c80319c"
T3 = "a3ce929d0e0e47364bf92f3577b34da6"


def traceparent(trace):
    return {"traceparent": f"00-{trace}-00f067aa0ba902b7-01"}


c = fltest.Checks()
data = os.path.join(fltest.scratch_dir("trace-lake"), "data")
srv = fltest.Server(data, shards=2, extra=["--set", "raw.buffer_interval_s=1",
                                           "--set", "process.batch_interval_s=1"]).start()

st, hd, js = srv.post_records([fltest.record("truck-0001", "2026-01-05T01:02:03Z"),
                               fltest.record("truck-0002", "2026-01-05T01:02:04Z")],
                              headers=traceparent(T1))
c.eq((st, js["accepted"]), (200, 2), "two records under T1 accepted")
c.check(hd.get("traceparent", "").startswith(f"00-{T1}-"), "response continues T1")
st, _, js = srv.post_records([fltest.record("truck-0003", "2026-01-05T01:02:05Z"),
                              {"device_id": "truck-0004", "timestamp": "2026-01-05T01:02:06Z",
                               "temperature": "hot"}], headers=traceparent(T2))
c.eq((st, js["accepted"], js["failed"]), (200, 1, 1), "T2: one accepted, one rejected")
st, _, _ = srv.post_records("this is not json", headers=traceparent(T3))
c.eq(st, 400, "T3: a body that is not JSON is refused")
st, hd, js = srv.post_records(fltest.record("truck-0005", "2026-01-05T01:02:07Z"))
c.eq(st, 200, "a record without traceparent accepted")
generated = hd.get("traceparent", "")[3:35]
c.check(len(generated) == 32 and generated not in (T1, T2, T3), f"a trace id made: {generated}")

expect_raw = {"truck-0001": T1, "truck-0002": T1, "truck-0003": T2, "truck-0005": generated}
expect_rej = [("wrong_type", T2), ("bad_json", T3)]


def query(sql):
    return srv.query(sql)


def delivered():
    try:
        return (query("SELECT count(*) FROM raw_sensor_data") == [(4,)] and
                query("SELECT count(*) FROM processed_sensor_data") == [(4,)] and
                query("SELECT count(*) FROM rejected_records") == [(2,)])
    except AssertionError:
        return False


fltest.wait_for(delivered, timeout=60, what="delivery and processing of every record")

# ---- POST /v1/query --------------------------------------------------------------------------
c.eq(dict(query("SELECT device_id, trace_id FROM raw_sensor_data")), expect_raw,
     "raw_sensor_data.trace_id per record (SQL)")
c.eq(query(f"SELECT device_id FROM raw_sensor_data WHERE trace_id = '{T1}' ORDER BY device_id"),
     [("truck-0001",), ("truck-0002",)], "raw rows of request T1 (SQL filter)")
c.eq(query("SELECT count(*) FROM raw_sensor_data WHERE trace_id IS NULL"), [(0,)],
     "no raw row without a trace id")
c.eq(dict(query("SELECT device_id, trace_id FROM processed_sensor_data")), expect_raw,
     "processed_sensor_data.trace_id per record (SQL)")
c.eq(query("SELECT error_code, trace_id FROM rejected_records ORDER BY sequence_number"),
     expect_rej, "rejected_records.trace_id (SQL)")
c.eq(query(f"SELECT r.device_id FROM rejected_records j JOIN raw_sensor_data r"
           f" ON r.trace_id = j.trace_id WHERE j.error_code = 'wrong_type'"),
     [("truck-0003",)], "from a rejected record to the accepted records of its request")

# ---- DuckDB, reading the Parquet files itself -------------------------------------------------
lake = os.path.join(data, "lake")


def glob(prefix):
    return fltest.sql_str(os.path.join(lake, prefix, "**", "*.parquet"))


rows = fltest.duck(f"SELECT device_id, trace_id FROM read_parquet({glob('raw-data')})")
c.eq({r["device_id"]: r["trace_id"] for r in rows}, expect_raw, "raw trace ids (DuckDB)")
rows = fltest.duck(f"SELECT device_id, trace_id FROM read_parquet({glob('processed-data')})")
c.eq({r["device_id"]: r["trace_id"] for r in rows}, expect_raw, "processed trace ids (DuckDB)")
rows = fltest.duck(f"SELECT error_code, trace_id FROM read_parquet("
                   f"{glob('errors/rejected_records')}) ORDER BY sequence_number")
c.eq([(r["error_code"], r["trace_id"]) for r in rows], expect_rej, "rejected trace ids (DuckDB)")
kv = fltest.duck(f"SELECT DISTINCT decode(value) AS v FROM parquet_kv_metadata({glob('raw-data')})"
                 f" WHERE decode(key) = 'schema_version'")
c.eq(kv, [{"v": "2"}], "raw files are of schema_version 2")
types = {r["column_name"]: r["column_type"] for r in fltest.duck(
    f"DESCRIBE SELECT * FROM read_parquet({glob('raw-data')})")}
c.eq(types.get("trace_id"), "VARCHAR", "trace_id is a string column")

# ---- DuckDB through the exported DDL ----------------------------------------------------------
for table, key in (("raw_sensor_data", "device_id"), ("processed_sensor_data", "device_id")):
    st, _, body = srv.request("GET", f"/v1/tables/{table}/ddl?dialect=duckdb&live_files=1")
    c.eq(st, 200, f"{table} DuckDB DDL")
    rows = fltest.duck(body.decode(), f'SELECT {key}, trace_id FROM "{table}"')
    c.eq({r[key]: r["trace_id"] for r in rows}, expect_raw, f"{table} trace ids via DDL")

# ---- the dead-letter log ------------------------------------------------------------------------
letters = [r["dead_letter"] for r in fltest.stream_records(data, dead_letters=True)]
c.eq([(d["code"], d.get("trace_id")) for d in letters], expect_rej,
     "fleetlake stream read --dead-letters shows the trace ids")

c.eq(srv.stop(), 0, "serve exits 0")
c.finish()
