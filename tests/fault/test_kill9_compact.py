"""Fault: kill -9 during compaction (and delivery). A server with tiny buffers delivers the
simulator's records — several past hours of event time — into many small files. Then, for
FL_KILL_CYCLES cycles (default 5), either a `fleetlake compact` process or a serve compacting
by itself (compaction.interval_s=1) while the simulator still loads it, is killed with -9 at a
random moment: mid-write, between publish and the catalog swap, mid-transaction, mid-deletion.
Afterwards a clean serve + `fleetlake compact` finish the job, and: `fleetlake check` exits 0,
every acknowledged record (sim --acked-out) is exactly once in DuckDB's view of the LIVE
catalogued files (retired files awaiting deletion are on disk too, so the list comes from
meta.db, not a glob), and the row total equals the stream's record count."""
import csv
import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
import fltest  # noqa: E402

cycles = int(os.environ.get("FL_KILL_CYCLES", "5"))
c = fltest.Checks()
root = fltest.scratch_dir("kill9-compact")
data = root + "/data"
rng = random.Random(int(os.environ.get("FL_SEED", "7")))
small = ["--set", "raw.buffer_interval_s=1", "--set", "raw.buffer_bytes=4KiB"]
# small targets and memory: several outputs and runs per hour, so kills land between them
compact_cfg = ["--set", "compaction.target_bytes=64KiB", "--set", "compaction.memory_bytes=256KiB",
               "--set", "compaction.retire_grace_s=0"]
auto = small + compact_cfg + ["--set", "compaction.interval_s=1",
                              "--set", "compaction.close_after_s=30m"]
acked_files = []


def sim_proc(srv, cycle, hours_ago, duration):
    acked = f"{root}/acked-{cycle}.ndjson"
    acked_files.append(acked)
    return subprocess.Popen(
        [fltest.BIN, "sim", "--url", f"http://127.0.0.1:{srv.port}", "--devices", "30",
         "--batch", "50", "--connections", "2", "--duration", str(duration),
         "--interval-ms", "10000", "--seed", str(cycle + 1),
         "--start", time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() - hours_ago * 3600)),
         "--bad-rate", "0.01", "--acked-out", acked, "--no-retry", "--quiet"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


# ---- many small files for closed hours ------------------------------------------------------------
srv = fltest.Server(data, shards=2, extra=small + ["--set", "compaction.enabled=off"]).start()
sim = sim_proc(srv, 100, 8, 4)
sim.wait()
time.sleep(2)
c.eq(srv.stop(), 0, "loading serve stops")

kills = {"cli": 0, "serve": 0}
for cycle in range(cycles):
    if cycle % 2 == 0:
        # kill `fleetlake compact` mid-pass
        p = subprocess.Popen([fltest.BIN, "compact", "--data", data, *compact_cfg],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(rng.uniform(0.05, 1.5))
        if p.poll() is None:
            p.send_signal(signal.SIGKILL)
            kills["cli"] += 1
        p.wait()
        # new small files for the next cycles to merge (a closed hour, late for it)
        srv = fltest.Server(data, shards=2, extra=small + ["--set", "compaction.enabled=off"]).start()
        sim = sim_proc(srv, cycle, rng.uniform(3, 7), 2)
        sim.wait()
        time.sleep(1.5)
        srv.kill9()  # and a kill during delivery
    else:
        # kill serve while it compacts by itself and delivers
        srv = fltest.Server(data, shards=2, extra=auto).start()
        sim = sim_proc(srv, cycle, rng.uniform(3, 7), 10)
        time.sleep(rng.uniform(1.0, 4.0))
        srv.kill9()
        kills["serve"] += 1
        sim.send_signal(signal.SIGKILL)
        sim.wait()

# ---- a clean finish ---------------------------------------------------------------------------------
srv = fltest.Server(data, shards=2, extra=small + ["--set", "compaction.enabled=off"]).start()


def caught_up():
    m = srv.metrics()
    lag = [v for k, v in m.items() if k.startswith("fleetlake_lake_delivery_lag_records")]
    return len(lag) == 3 and all(v == 0 for v in lag)


fltest.wait_for(caught_up, timeout=120, interval=0.5, what="delivery lag 0")
c.eq(srv.stop(), 0, "clean stop after recovery")
# --all: the simulator's records reach the current hour, which is not closed yet
p = fltest.run_cli("compact", "--data", data, "--all", *compact_cfg, timeout=300)
print(p.stdout.strip().splitlines()[-1])
p = fltest.run_cli("compact", "--data", data, "--dry-run", "--all", *compact_cfg)
c.check("plan: 0 partitions" in p.stdout, f"everything compacted: {p.stdout[-600:]}")
p = fltest.run_cli("check", "--data", data, check=False)
c.eq(p.returncode, 0, f"check clean: {p.stdout[-3000:]}")

# ---- exactly once, through the catalog's live files -------------------------------------------------
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
                continue  # cut by kill -9
            w.writerow([shard, seq])
            total += 1
c.check(total > 0, "some records were acknowledged")
db = sqlite3.connect(f"file:{os.path.join(data, 'meta.db')}?mode=ro", uri=True)
live = [r[0] for r in db.execute("SELECT path FROM lake_files WHERE table_name ="
                                 " 'raw_sensor_data' AND state = 'live' ORDER BY path")]
compacted = db.execute("SELECT count(*) FROM lake_files WHERE path LIKE '%/compacted-%'"
                       " AND state = 'live'").fetchone()[0]
db.close()
c.check(compacted > 0, "compaction outputs are live")
stream = json.loads(fltest.run_cli("stream", "list", "--data", data, "--format", "json").stdout)
stream_records = sum(s["records"] for s in stream["shards"])
files = ", ".join(fltest.sql_str(os.path.join(data, "lake", p)) for p in live)
r = fltest.duck(
    f"CREATE TABLE lake AS SELECT shard_id, sequence_number FROM read_parquet([{files}])",
    f"CREATE TABLE acked AS SELECT DISTINCT shard, seq FROM read_csv({fltest.sql_str(acked_csv)},"
    f" header = true)",
    "SELECT (SELECT count(*) FROM lake) AS rows,"
    " (SELECT count(DISTINCT (shard_id, sequence_number)) FROM lake) AS distinct_rows,"
    " (SELECT count(*) FROM acked a WHERE NOT EXISTS (SELECT 1 FROM lake l"
    "   WHERE l.shard_id = a.shard AND l.sequence_number = a.seq)) AS missing")[0]
print(f"{cycles} cycles ({kills}): {total} acknowledged, stream {stream_records}, lake "
      f"{r['rows']} rows in {len(live)} live files ({compacted} compacted)")
c.eq(r["missing"], 0, "acknowledged records missing")
c.eq(r["rows"], r["distinct_rows"], "records in the lake more than once")
c.eq(r["rows"], stream_records, "lake rows == stream records")
c.finish()
