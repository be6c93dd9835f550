"""Integration: lake compaction. serve runs with tiny buffers (1 s, 4 KiB) so the simulator's
records, timestamped hours in the past, land in many small files of closed hours. Then
`fleetlake compact --dry-run` prints the plan and changes nothing; `fleetlake compact` leaves
fewer files whose rows — read by DuckDB through the catalog's live files, with hive
partitioning — are the same multiset as before, sorted by (device_id, timestamp) within each
output file; `fleetlake check` is clean. Finally a server with compaction.interval_s=1
compacts newly delivered closed hours by itself and deletes retired files after the grace."""
import json
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
import fltest  # noqa: E402

c = fltest.Checks()
root = fltest.scratch_dir("compact")
data = root + "/data"
small = ["--set", "raw.buffer_interval_s=1", "--set", "raw.buffer_bytes=4KiB",
         "--set", "compaction.enabled=off"]


def sim(srv, start, records, seed):
    subprocess.run([fltest.BIN, "sim", "--url", f"http://127.0.0.1:{srv.port}", "--devices", "20",
                    "--records", str(records), "--start", start, "--interval-ms", "20000",
                    "--bad-rate", "0.02", "--seed", str(seed), "--quiet"], check=True,
                   timeout=120, stdout=subprocess.DEVNULL)


def live(table="raw_sensor_data"):
    return sorted(f["path"] for f in fltest.catalog_files(data, table) if f["state"] == "live")


def rows_of(paths):
    files = ", ".join(fltest.sql_str(os.path.join(data, "lake", p)) for p in paths)
    return fltest.duck(
        f"SELECT device_id, epoch_us(timestamp) AS ts, temperature, humidity, pressure, latitude,"
        f" longitude, metadata_version, metadata_source, extra, epoch_us(received_at) AS recv,"
        f" shard_id, sequence_number, year, month, day, hour"
        f" FROM read_parquet([{files}], hive_partitioning = true)"
        f" ORDER BY shard_id, sequence_number")


t0 = time.gmtime(time.time() - 6 * 3600)
start = time.strftime("%Y-%m-%dT%H:00:00Z", t0)
srv = fltest.Server(data, shards=2, extra=small).start()
sim(srv, start, 3000, 1)  # 20 devices x 20 s: ~ 3000 records over ~50 min of event time
time.sleep(2.5)
c.eq(srv.stop(), 0, "serve stops")
before_paths = live()
c.check(len(before_paths) > 20, f"many small files to compact: {len(before_paths)}")
before = rows_of(before_paths)

# ---- --dry-run --------------------------------------------------------------------------------
p = fltest.run_cli("compact", "--data", data, "--dry-run")
c.check("raw_sensor_data" in p.stdout and "plan:" in p.stdout, f"plan printed: {p.stdout}")
c.check("dry run: nothing changed" in p.stdout, "dry run says so")
c.eq(live(), before_paths, "dry run changed nothing in the catalog")
c.eq(fltest.lake_files_on_disk(data, "raw-data"), before_paths, "dry run changed no file")

# ---- compact ------------------------------------------------------------------------------------
p = fltest.run_cli("compact", "--data", data)
print(p.stdout.strip())
after_paths = live()
c.check(0 < len(after_paths) < len(before_paths),
        f"fewer files: {len(before_paths)} -> {len(after_paths)}")
c.check(all("/compacted-" in k for k in after_paths), "outputs are compacted-*")
after = rows_of(after_paths)
c.eq(len(after), len(before), "same row count")
c.check(after == before, "same multiset of rows, every value (NULLs included) preserved")
for k in after_paths:
    f = fltest.sql_str(os.path.join(data, "lake", k))
    r = fltest.duck(f"SELECT count(*) AS unsorted FROM (SELECT device_id, timestamp,"
                    f" lag(device_id) OVER () AS pd, lag(timestamp) OVER () AS pt"
                    f" FROM read_parquet({f})) WHERE pd > device_id OR"
                    f" (pd = device_id AND pt > timestamp)")[0]
    c.eq(r["unsorted"], 0, f"{k} sorted by (device_id, timestamp)")
kv = fltest.duck(f"SELECT decode(value) AS v FROM parquet_kv_metadata("
                 f"{fltest.sql_str(os.path.join(data, 'lake', after_paths[0]))})"
                 f" WHERE decode(key) = 'schema_version'")
c.eq(kv, [{"v": "2"}], "schema_version kept")
p = fltest.run_cli("check", "--data", data, check=False)
c.eq(p.returncode, 0, f"check clean after compaction: {p.stdout[-2000:]}")
p = fltest.run_cli("compact", "--data", data, "--dry-run")
c.check("plan: 0 partitions" in p.stdout, f"nothing left to compact: {p.stdout}")

# ---- serve compacts by itself -------------------------------------------------------------------
auto = ["--set", "raw.buffer_interval_s=1", "--set", "raw.buffer_bytes=4KiB",
        "--set", "compaction.interval_s=1", "--set", "compaction.close_after_s=1h",
        "--set", "compaction.retire_grace_s=0"]
srv = fltest.Server(data, shards=2, extra=auto).start()
sim(srv, time.strftime("%Y-%m-%dT%H:00:00Z", time.gmtime(time.time() - 4 * 3600)), 1500, 2)


def settled():
    paths = fltest.catalog_files(data, "raw_sensor_data")
    live_parts = [f for f in paths if f["state"] == "live" and "/part-" in f["path"]]
    return not live_parts and fltest.lake_files_on_disk(data, "raw-data") == live()


fltest.wait_for(settled, timeout=90, interval=0.5, what="serve compacting new closed hours")
m = srv.metrics()
c.check(m.get('fleetlake_compaction_partitions_total{table="raw_sensor_data"}', 0) >= 1,
        "partitions metric counted")
c.check(m.get('fleetlake_compaction_retired_files_deleted_total{table="raw_sensor_data"}', 0) >= 1,
        "retired files deleted after the (zero) grace")
c.eq(srv.stop(), 0, "serve stops")
stream_n = sum(s["records"] for s in json.loads(
    fltest.run_cli("stream", "list", "--data", data, "--format", "json").stdout)["shards"])
c.eq(len(rows_of(live())), stream_n, "lake rows == stream records after both compactions")
p = fltest.run_cli("check", "--data", data, check=False)
c.eq(p.returncode, 0, f"check clean after serve's compaction: {p.stdout[-2000:]}")
c.finish()
