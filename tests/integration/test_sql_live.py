"""Integration: queries while the lake changes. A simulator sends records timestamped hours in
the past (so their hours are closed) while delivery writes small files every second, the
processor commits every second and compaction (every second, 30 s retire grace) merges closed
hours and retires the small files. Meanwhile queries run in a loop through POST /v1/query and
`fleetlake query --data`: none fails, and within each statement the Parquet row count equals
the catalog's live row sum read by the same statement (one snapshot: a statement never sees a
compacted file together with the files it replaced), and the count never decreases. At the
end the count equals the records in the stream, and compaction has retired files."""
import json
import os
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
import fltest  # noqa: E402

c = fltest.Checks()
root = fltest.scratch_dir("sql-live")
data = root + "/data"
srv = fltest.Server(data, shards=2, extra=[
    "--set", "raw.buffer_interval_s=1", "--set", "raw.buffer_bytes=4KiB",
    "--set", "process.batch_interval_s=1", "--set", "compaction.interval_s=1",
    "--set", "compaction.close_after_s=1h", "--set", "compaction.retire_grace_s=30"]).start()

SQL = ("SELECT (SELECT count(*) FROM raw_sensor_data) AS n, "
       "(SELECT coalesce(sum(rows), 0) FROM lake_files WHERE table_name = 'raw_sensor_data' "
       "AND state = 'live') AS cat, "
       "(SELECT count(*) FROM processed_sensor_data) AS p, "
       "(SELECT coalesce(sum(rows), 0) FROM lake_files WHERE table_name = 'processed_sensor_data' "
       "AND state = 'live') AS pcat")
start = time.strftime("%Y-%m-%dT%H:00:00Z", time.gmtime(time.time() - 4 * 3600))
sim = subprocess.Popen([fltest.BIN, "sim", "--url", f"http://127.0.0.1:{srv.port}", "--devices",
                        "20", "--records", "4000", "--start", start, "--interval-ms", "20000",
                        "--rate", "300", "--duration", "15s", "--seed", "9", "--quiet"], stdout=subprocess.DEVNULL)

results, errors = [], []


last_by_reader = {}


def check_row(r, where):
    n, cat, p, pcat = r
    if n != cat or p != pcat:
        errors.append(f"{where}: inconsistent snapshot {r}")
    # Each reader runs its statements one after another: a later statement's snapshot is
    # never older, so its counts never decrease (compaction keeps the row count).
    prev = last_by_reader.get(where, (0, 0))
    if n < prev[0] or p < prev[1]:
        errors.append(f"{where}: count decreased {prev} -> {(n, p)}")
    last_by_reader[where] = (n, p)
    results.append((time.time(), n, p))


def http_loop():
    while sim.poll() is None or len(results) < 40:
        st, _, body = srv.request("POST", "/v1/query", json.dumps({"sql": SQL}),
                                  {"Content-Type": "application/json"}, timeout=60)
        if st != 200:
            errors.append(f"http {st}: {body[:300]}")
            continue
        js = json.loads(body)
        if "error" in js:
            errors.append(f"http mid-stream: {js['error']}")
            continue
        check_row(js["rows"][0], threading.current_thread().name)


threads = [threading.Thread(target=http_loop) for _ in range(2)]
for t in threads:
    t.start()
local = 0
while sim.poll() is None:
    p = fltest.run_cli("query", "--data", data, "--format", "json", SQL, check=False)
    if p.returncode != 0:
        errors.append(f"cli: {p.stderr[:300]}")
    else:
        check_row(json.loads(p.stdout)["rows"][0], "cli")
        local += 1
for t in threads:
    t.join()
c.eq(sim.wait(), 0, "simulator finished")
c.eq(errors[:5], [], "no query failed and every statement saw one snapshot")
c.check(local >= 3 and len(results) >= 40, f"{len(results)} queries ran ({local} local)")
stream_n = sum(s["records"] for s in json.loads(
    fltest.run_cli("stream", "list", "--data", data, "--format", "json").stdout)["shards"])
c.check(stream_n > 1000, f"{stream_n} records in the stream")


def settled():
    st, _, body = srv.request("POST", "/v1/query", json.dumps({"sql": SQL}),
                              {"Content-Type": "application/json"})
    r = json.loads(body)["rows"][0]
    return r[0] == stream_n and r[2] == r[0] and r


final = fltest.wait_for(settled, timeout=90, interval=0.5, what="every record in the lake")
retired = [f for f in fltest.catalog_files(data, "raw_sensor_data") if f["state"] == "retired"]
c.check(len(retired) > 0, f"compaction retired files meanwhile ({len(retired)})")
m = srv.metrics()
c.check(m.get('fleetlake_compaction_partitions_total{table="raw_sensor_data"}', 0) >= 1,
        "compaction ran")
c.eq(srv.stop(), 0, "serve stops")
c.eq(final[0], stream_n, "final count == stream records")
c.finish()
