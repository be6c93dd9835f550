"""Fault: kill -9 during raw delivery. The server runs with a 1 s buffer interval and 64 KiB
buffers, so lake files are committed continuously while the simulator loads it; it is killed
FL_KILL_CYCLES times (default 5) at random moments: mid-write, between publish and catalog
commit, mid-transaction. After a last restart delivery catches up (lag 0 on /metrics), the
server stops, and DuckDB — reading every Parquet file under raw-data/ — must hold every
acknowledged record (--acked-out) exactly once, and exactly as many rows as the stream has
records (nothing doubled); the files on disk must be exactly the catalog's (no orphans)."""
import csv
import json
import os
import random
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
import fltest  # noqa: E402

cycles = int(os.environ.get("FL_KILL_CYCLES", "5"))
c = fltest.Checks()
root = fltest.scratch_dir("kill9-lake")
data = root + "/data"
rng = random.Random(int(os.environ.get("FL_SEED", "11")))
extra = ["--set", "raw.buffer_interval_s=1", "--set", "raw.buffer_bytes=64KiB"]
acked_files = []
base = int(time.time()) - (cycles + 1) * 7200

for cycle in range(cycles):
    srv = fltest.Server(data, shards=2, extra=extra).start()
    acked = f"{root}/acked-{cycle}.ndjson"
    acked_files.append(acked)
    sim = subprocess.Popen([fltest.BIN, "sim", "--url", f"http://127.0.0.1:{srv.port}",
                            "--devices", "50", "--batch", str(rng.choice([10, 100, 500])),
                            "--connections", "2", "--duration", "30", "--seed", str(cycle + 1),
                            # spans hours of event time, so several partitions are active
                            "--start", time.strftime("%Y-%m-%dT%H:%M:%SZ",
                                                     time.gmtime(base + cycle * 7200)),
                            "--dup-rate", "0", "--late-rate", "0.05", "--ooo-rate", "0",
                            "--bad-rate", "0.01", "--acked-out", acked, "--no-retry", "--quiet"],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    # Long enough for 1 s interval flushes to commit files, so kills land during commits.
    time.sleep(rng.uniform(1.2, 3.5))
    srv.kill9()
    time.sleep(0.05)
    sim.send_signal(signal.SIGKILL)
    sim.wait()

srv = fltest.Server(data, shards=2, extra=extra).start()
log_after_kills = srv.log_text()


def caught_up():
    m = srv.metrics()
    lag = [v for k, v in m.items() if k.startswith("fleetlake_lake_delivery_lag_records")]
    return len(lag) == 3 and all(v == 0 for v in lag)


fltest.wait_for(caught_up, timeout=180, interval=0.5, what="delivery lag 0")
c.eq(srv.stop(), 0, "clean stop after recovery")

# ---- what was acknowledged ------------------------------------------------------------------
acked_csv = f"{root}/acked.csv"
total = 0
with open(acked_csv, "w", newline="") as out:
    w = csv.writer(out)
    w.writerow(["shard", "seq"])
    for path in acked_files:
        try:
            lines = open(path).read().split("\n")
        except FileNotFoundError:
            continue
        for line in lines:
            try:
                a = json.loads(line)
                shard, seq = int(a["shard"][-4:]), int(a["seq"])
            except (ValueError, KeyError, TypeError):
                continue  # a line cut by kill -9 of the simulator
            w.writerow([shard, seq])
            total += 1
c.check(total > 0, "some records were acknowledged")

stream = json.loads(fltest.run_cli("stream", "list", "--data", data, "--format", "json").stdout)
stream_records = sum(s["records"] for s in stream["shards"])

glob = fltest.sql_str(os.path.join(data, "lake", "raw-data", "**", "*.parquet"))
lake = f"read_parquet({glob}, hive_partitioning = true)"
acked_t = f"read_csv({fltest.sql_str(acked_csv)}, header = true)"
r = fltest.duck(
    f"CREATE TABLE lake AS SELECT shard_id, sequence_number, timestamp, year, month, day, hour"
    f" FROM {lake}",
    f"CREATE TABLE acked AS SELECT DISTINCT shard, seq FROM {acked_t}",
    "SELECT (SELECT count(*) FROM lake) AS rows,"
    " (SELECT count(DISTINCT (shard_id, sequence_number)) FROM lake) AS distinct_rows,"
    " (SELECT count(*) FROM acked) AS acked,"
    " (SELECT count(*) FROM acked a WHERE NOT EXISTS (SELECT 1 FROM lake l"
    "   WHERE l.shard_id = a.shard AND l.sequence_number = a.seq)) AS missing,"
    " (SELECT count(*) FROM lake WHERE year <> year(timestamp AT TIME ZONE 'UTC')"
    "   OR month <> month(timestamp AT TIME ZONE 'UTC') OR day <> day(timestamp AT TIME ZONE 'UTC')"
    "   OR hour <> hour(timestamp AT TIME ZONE 'UTC')) AS misplaced")[0]
print(f"{cycles} kill -9 cycles: {total} acknowledged, stream holds {stream_records}, "
      f"lake holds {r['rows']} rows in {len(fltest.lake_files_on_disk(data, 'raw-data'))} files")
c.eq(r["missing"], 0, "acknowledged records missing from the lake")
c.eq(r["rows"], r["distinct_rows"], "records in the lake more than once")
c.eq(r["rows"], stream_records, "lake rows == stream records (nothing lost or doubled)")
c.eq(r["misplaced"], 0, "rows in a partition other than their UTC hour")

# ---- no orphans: the files are exactly the catalog's -------------------------------------------
for prefix, table in (("raw-data", "raw_sensor_data"),
                      ("errors/rejected_records", "rejected_records")):
    on_disk = fltest.lake_files_on_disk(data, prefix)
    in_catalog = sorted(f["path"] for f in fltest.catalog_files(data, table))
    c.eq([k for k in on_disk if k not in set(in_catalog)], [], f"{prefix}: files not in the catalog")
    c.eq([k for k in in_catalog if k not in set(on_disk)], [], f"{prefix}: catalog rows without a file")
tmp = [os.path.join(d, n) for d, _, ns in os.walk(os.path.join(data, "lake")) for n in ns
       if n.endswith(".tmp")]
c.eq(tmp, [], "temp files left behind")
dead_letters = len(fltest.stream_records(data, dead_letters=True))
rej = fltest.duck(f"SELECT count(*) AS n, count(DISTINCT sequence_number) AS d FROM read_parquet("
                  f"{fltest.sql_str(os.path.join(data, 'lake', 'errors', 'rejected_records', '**', '*.parquet'))})")[0]
c.eq(rej["n"], rej["d"], "rejected records delivered once")
c.eq(rej["n"], dead_letters, "rejected rows == dead letters")
# Whether a kill landed mid-commit is chance; say what recovery met, for the log.
print("recovery removed orphans:", log_after_kills.count("removed orphan"),
      "| discarded temp files:", "discarded" in log_after_kills)
c.finish()
