"""Integration: the real-time processor. Simulated fleet records (plus producer retries) are
posted to a server running with 1 s batches and the fleet in Asia/Seoul; DuckDB then reads
processed-data with hive partitioning and the test checks: every accepted non-duplicate
record is there exactly once, rows are sorted by (device_id, timestamp) within each file, the
files are SNAPPY with the DESIGN §4.2 columns, and every enrichment column equals what this
test computes independently (zoneinfo for local_hour, ISO day_of_week, is_weekend;
Fahrenheit). Then /v1/devices (paged) matches the last record sent per device, /v1/devices/{id}
answers 404 for an unknown device, and — on a restart with a one-hour batch interval —
/v1/devices/{id}/readings returns a device's rows in order including ones not yet flushed,
and the device state (counts) survived the restart."""
import datetime
import json
import os
import subprocess
import sys
import time
import urllib.parse
import zoneinfo

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
import fltest  # noqa: E402

c = fltest.Checks()
root = fltest.scratch_dir("processed")
data = root + "/data"
SEOUL = zoneinfo.ZoneInfo("Asia/Seoul")
common = ["--set", "process.time_zone=Asia/Seoul"]
srv = fltest.Server(data, shards=2, extra=common + ["--set", "process.batch_interval_s=1"]).start()

# ---- records: the simulator's, sent by this test so it knows exactly what was accepted -------
gen = os.path.join(root, "records.ndjson")
fltest.run_cli("sim", "--out", gen, "--devices", "12", "--records", "2400", "--seed", "11",
               "--anomaly-rate", "0.05")
records = [json.loads(line) for line in open(gen) if line.strip()]
c.check(len(records) == 2400, f"simulator wrote {len(records)} records")
retries = records[100:160]  # producer retries: the same (device_id, timestamp) again


def ts_us(r):
    t = r["timestamp"]
    if isinstance(t, int):
        return t * 1000
    dt = datetime.datetime.fromisoformat(t.replace("Z", "+00:00"))
    return int(dt.timestamp()) * 1_000_000 + dt.microsecond


accepted = []
for i in range(0, len(records), 400):
    st, _, js = srv.post_records(records[i:i + 400])
    c.eq(st, 200, "post status")
    accepted += [r for r, o in zip(records[i:i + 400], js["records"]) if "seq" in o]
st, _, js = srv.post_records(retries)
c.eq(js["accepted"], len(retries), "retries accepted by ingest (collapsed later)")
c.eq(len(accepted), len(records), "every simulated record accepted")

expected = {}
for r in accepted:  # first wins
    expected.setdefault((r["device_id"], ts_us(r)), r)


def processed():
    m = srv.metrics()
    done = m.get('fleetlake_process_records_total{outcome="processed"}', 0)
    dups = m.get('fleetlake_process_records_total{outcome="duplicate"}', 0)
    lag = [v for k, v in m.items() if k.startswith("fleetlake_process_lag_records")]
    return done + dups >= len(accepted) + len(retries) and lag and all(v == 0 for v in lag)


fltest.wait_for(processed, timeout=60, what="processing of every record")
m = srv.metrics()
c.eq(m.get('fleetlake_process_records_total{outcome="processed"}'), float(len(expected)),
     "processed records == distinct (device_id, timestamp)")
c.check(m.get('fleetlake_process_records_total{outcome="duplicate"}', 0) >= len(retries),
        "retries counted as duplicates")
c.check(m.get("fleetlake_process_freshness_seconds_count", 0) == len(expected),
        "freshness observed once per committed record")

# ---- processed-data through DuckDB -------------------------------------------------------------
glob = fltest.sql_str(os.path.join(data, "lake", "processed-data", "**", "*.parquet"))
rows = fltest.duck(
    f"SELECT device_id, epoch_us(timestamp) AS ts, temperature, humidity, pressure,"
    f" temperature_fahrenheit, anomaly_flag, anomaly_score, day_of_week, is_weekend, latitude,"
    f" longitude, local_hour, quality_flags, year, month, day, hour, filename, file_row_number"
    f" FROM read_parquet({glob}, hive_partitioning = true, filename = true,"
    f" file_row_number = true) ORDER BY filename, file_row_number")
keys = [(r["device_id"], r["ts"]) for r in rows]
c.eq(len(keys), len(set(keys)), "no (device_id, timestamp) twice")
c.eq(set(keys), set(expected), "every accepted non-duplicate record present")
cat = fltest.catalog_files(data, "processed_sensor_data")
c.eq(sorted(os.path.join(data, "lake", f["path"]) for f in cat),
     sorted({r["filename"] for r in rows}), "catalog rows == files read")
c.eq(sum(f["rows"] for f in cat), len(expected), "catalog row counts")

bad = 0
prev = {}
for r in rows:
    k = (r["device_id"], r["ts"])
    if r["filename"] in prev and prev[r["filename"]] >= k:
        bad += 1
    prev[r["filename"]] = k
c.eq(bad, 0, "rows sorted by (device_id, timestamp) within every file")


def near(a, b):
    return (a is None and b is None) or (a is not None and b is not None and abs(a - b) < 1e-9)


mismatch = []
for r in rows:
    src = expected.get((r["device_id"], r["ts"]))
    if src is None:
        continue
    utc = datetime.datetime.fromtimestamp(r["ts"] / 1e6, datetime.timezone.utc)
    loc = utc.astimezone(SEOUL)
    t = src.get("temperature")
    lat = (src.get("location") or {}).get("latitude")
    lon = (src.get("location") or {}).get("longitude")
    want = {
        "temperature": t, "humidity": src.get("humidity"), "pressure": src.get("pressure"),
        "temperature_fahrenheit": None if t is None else t * 9 / 5 + 32,
        "latitude": lat, "longitude": lon,
    }
    for col, w in want.items():
        if not near(r[col], w):
            mismatch.append((r["device_id"], r["ts"], col, r[col], w))
    exact = {"local_hour": loc.hour, "day_of_week": loc.isoweekday(),
             "is_weekend": loc.isoweekday() >= 6, "year": utc.year, "month": utc.month,
             "day": utc.day, "hour": utc.hour}
    for col, w in exact.items():
        if r[col] != w:
            mismatch.append((r["device_id"], r["ts"], col, r[col], w))
    if not (0 <= r["anomaly_score"] <= 1) or r["anomaly_flag"] != (r["anomaly_score"] >= 0.5):
        mismatch.append((r["device_id"], r["ts"], "anomaly", r["anomaly_score"], r["anomaly_flag"]))
    if r["quality_flags"] & 4:
        mismatch.append((r["device_id"], r["ts"], "duplicate flag written", r["quality_flags"]))
c.check(not mismatch, f"enrichment matches the independent computation: {mismatch[:5]}")
c.check(any(r["anomaly_flag"] for r in rows), "some anomalies flagged (anomaly-rate 0.05)")
codecs = fltest.duck(f"SELECT DISTINCT compression FROM parquet_metadata({glob})")
c.eq([r["compression"] for r in codecs], ["SNAPPY"], "processed-data is SNAPPY")
types = {r["column_name"]: r["column_type"] for r in fltest.duck(
    f"DESCRIBE SELECT * FROM read_parquet({glob}, hive_partitioning = false)")}
c.eq(types, {"device_id": "VARCHAR", "temperature": "DOUBLE", "humidity": "DOUBLE",
             "pressure": "DOUBLE", "timestamp": "TIMESTAMP WITH TIME ZONE",
             "temperature_fahrenheit": "DOUBLE", "anomaly_flag": "BOOLEAN",
             "anomaly_score": "DOUBLE", "day_of_week": "TINYINT", "is_weekend": "BOOLEAN",
             "latitude": "DOUBLE", "longitude": "DOUBLE", "local_hour": "TINYINT",
             "quality_flags": "INTEGER", "trace_id": "VARCHAR"}, "column types")

# ---- /v1/devices ------------------------------------------------------------------------------
last = {}
for r in accepted:
    if r["device_id"] not in last or ts_us(r) >= ts_us(last[r["device_id"]]):
        last[r["device_id"]] = r
seen, cursor, pages = [], None, 0
while True:
    q = "/v1/devices?limit=5" + (f"&cursor={cursor}" if cursor else "")
    st, _, body = srv.request("GET", q)
    c.eq(st, 200, "GET /v1/devices")
    js = json.loads(body)
    seen += js["devices"]
    pages += 1
    cursor = js["next_cursor"]
    if not cursor or pages > 10:
        break
c.eq([d["device_id"] for d in seen], sorted(last), "paged devices: all, once, by device_id")
for d in seen:
    want = last[d["device_id"]]
    got = d["latest"]
    gts = ts_us({"timestamp": got["timestamp"]})
    c.check(gts == ts_us(want) and near(got["temperature"], want.get("temperature")),
            f"{d['device_id']} latest reading is the last sent")
    c.eq(d["status"], "online", f"{d['device_id']} online")
    c.eq(d["record_count"], sum(1 for r in accepted if r["device_id"] == d["device_id"])
         + sum(1 for r in retries if r["device_id"] == d["device_id"]),
         f"{d['device_id']} record_count counts every record read")
st, _, body = srv.request("GET", "/v1/devices?status=offline")
c.eq(json.loads(body)["devices"], [], "no device offline")
st, _, body = srv.request("GET", "/v1/devices?status=bogus")
c.eq(st, 400, "bad status is 400")
st, _, body = srv.request("GET", "/v1/devices/no-such-truck")
c.check(st == 404 and json.loads(body)["error"]["code"] == "not_found", "unknown device 404 JSON")
st, _, _ = srv.request("POST", "/v1/devices/truck-0001")
c.eq(st, 405, "POST on a device is 405")
st, _, _ = srv.request("GET", "/v1/devices/truck-0001/nope")
c.eq(st, 404, "unknown sub-resource 404")
dev = sorted(last)[0]
st, _, body = srv.request("GET", f"/v1/devices/{dev}/readings?limit=10000")
got = [ts_us({"timestamp": x["timestamp"]}) for x in json.loads(body)["readings"]]
c.eq(got, sorted(ts for (d, ts) in expected if d == dev), "readings from committed files, in order")
c.eq(srv.stop(), 0, "clean stop")

# ---- unflushed rows are readable at once; state survives the restart ---------------------------
srv = fltest.Server(data, shards=2,
                    extra=common + ["--set", "process.batch_interval_s=3600",
                                    "--set", "process.stale_after_s=2",
                                    "--set", "process.offline_after_s=4"]).start()
st, _, body = srv.request("GET", f"/v1/devices/{dev}")
before = json.loads(body)
c.eq(before["record_count"], seen[0]["record_count"], "device state restored after restart")
now = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)
fresh = [fltest.record("truck-fresh", (now - datetime.timedelta(seconds=30 - i))
                       .strftime("%Y-%m-%dT%H:%M:%SZ"), temperature=10.0 + i) for i in range(20)]
st, _, js = srv.post_records(fresh[::-1])  # sent newest first: the API still orders by time
posted_at = time.time()
c.eq(js["accepted"], 20, "fresh records accepted")


def visible():
    st, _, body = srv.request("GET", "/v1/devices/truck-fresh/readings?from="
                              + urllib.parse.quote((now - datetime.timedelta(minutes=5))
                                                   .strftime("%Y-%m-%dT%H:%M:%SZ")))
    return st == 200 and len(json.loads(body)["readings"]) == 20 and json.loads(body)


js = fltest.wait_for(visible, timeout=20, what="unflushed readings visible")
temps = [x["temperature"] for x in js["readings"]]
c.eq(temps, [10.0 + i for i in range(20)], "unflushed readings in timestamp order")
c.eq(len(fltest.catalog_files(data, "processed_sensor_data")), len(cat),
     "nothing committed yet (one-hour batch)")


def status_of(dev_id):
    return json.loads(srv.request("GET", f"/v1/devices/{dev_id}")[2])["status"]


if time.time() - posted_at < 1.5:
    c.eq(status_of("truck-fresh"), "online", "online right after its records")
time.sleep(max(0, posted_at + 2.5 - time.time()))
c.eq(status_of("truck-fresh"), "stale", "stale after stale_after_s of silence")
time.sleep(max(0, posted_at + 4.5 - time.time()))
c.eq(status_of("truck-fresh"), "offline", "offline after offline_after_s of silence")
offline = json.loads(srv.request("GET", "/v1/devices?status=offline&limit=1000")[2])["devices"]
c.check("truck-fresh" in [d["device_id"] for d in offline], "status filter lists it as offline")
c.eq(json.loads(srv.request("GET", "/v1/devices?status=online")[2])["devices"], [],
     "no device online any more")
c.eq(srv.stop(), 0, "clean stop (drain commits)")
c.eq(sum(f["rows"] for f in fltest.catalog_files(data, "processed_sensor_data")),
     len(expected) + 20, "drain committed the fresh rows")
c.finish()
