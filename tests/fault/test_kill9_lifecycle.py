"""Fault: kill -9 during the lifecycle. A server with tiny buffers delivers ~30 hours of
simulator records (event time a few days back, some rejected) into many small files, and
`fleetlake summarize` writes their hourly_summary. Then, for FL_KILL_CYCLES cycles (default 6),
`fleetlake lifecycle` with a faked clock is killed with -9 at a random moment (mid-copy,
between publish and commit, mid-transaction, mid-deletion): the first half of the cycles aims
at warm (100 days on), the second half at cold (500 days on). After EVERY kill, every row is
queryable exactly once: `fleetlake query` counts of all four tables equal the counts before,
and raw_sensor_data's (shard_id, sequence_number) pairs are all distinct. Then a pass runs to
the end: every live file is cold, `fleetlake check` exits 0, the files on disk are exactly the
catalogued ones (no leftover in the warm directory or the lake), and DuckDB's count over the
live files equals the counts. Last, an expiry pass is killed and finished: nothing is left."""
import json
import os
import random
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
import fltest  # noqa: E402

cycles = int(os.environ.get("FL_KILL_CYCLES", "6"))
rng = random.Random(int(os.environ.get("FL_SEED", "13")))
c = fltest.Checks()
root = fltest.scratch_dir("kill9-lifecycle")
data = root + "/data"
warm_dir = os.path.realpath(root) + "/warm"
small = ["--set", "raw.buffer_interval_s=1", "--set", "raw.buffer_bytes=4KiB",
         "--set", "compaction.enabled=off", "--set", "lifecycle.enabled=off"]
cfg = ["--set", f"lifecycle.warm_dir={warm_dir}", "--set", "compaction.retire_grace_s=0"]
TABLES = ["raw_sensor_data", "processed_sensor_data", "rejected_records", "hourly_summary"]

start_s = (int(time.time()) // 3600 - 40) * 3600
start = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(start_s))
srv = fltest.Server(data, shards=2, extra=small).start()
subprocess.run([fltest.BIN, "sim", "--url", f"http://127.0.0.1:{srv.port}", "--devices", "20",
                "--records", "3000", "--start", start, "--interval-ms", "720000", "--seed", "5",
                "--bad-rate", "0.02", "--quiet"], check=True, timeout=300,
               stdout=subprocess.DEVNULL)
time.sleep(2.5)
c.eq(srv.stop(), 0, "loading serve stops")
fltest.run_cli("summarize", "--data", data, "--from", start,
               "--to", time.strftime("%Y-%m-%dT%H:00:00Z", time.gmtime(start_s + 32 * 3600)),
               timeout=300)


def query(sql):
    p = fltest.run_cli("query", "--data", data, "--format", "json", sql, timeout=300)
    return json.loads(p.stdout)["rows"][0]


def counts():
    return {t: query(f"SELECT count(*) FROM {t}")[0] for t in TABLES}


def raw_distinct():
    return query("SELECT count(*) FROM (SELECT DISTINCT shard_id, sequence_number"
                 " FROM raw_sensor_data)")[0]


def live_rows():
    return [f for f in fltest.catalog_files(data) if f["state"] == "live"]


def parquet_on_disk(top):
    out = []
    for d, _, names in os.walk(top):
        out += [os.path.relpath(os.path.join(d, n), top) for n in names
                if n.endswith(".parquet")]
    return sorted(out)


def lifecycle(days, kill_after=None):
    now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(start_s + days * 86400))
    p = subprocess.Popen([fltest.BIN, "lifecycle", "--data", data, "--now", now, *cfg],
                         stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    if kill_after is None:
        out, _ = p.communicate(timeout=600)
        c.eq(p.returncode, 0, f"lifecycle to the end exits 0: {out[-800:]}")
        return out, False
    time.sleep(kill_after)
    killed = p.poll() is None
    if killed:
        p.send_signal(signal.SIGKILL)
    out, _ = p.communicate(timeout=60)
    return out, killed


base = counts()
n_files = len(live_rows())
c.check(all(base[t] > 0 for t in TABLES), f"every table has rows: {base}")
c.eq(raw_distinct(), base["raw_sensor_data"], "raw rows distinct before")
print(f"{n_files} live files, counts {base}")

kills, moved_lines = 0, 0
for cycle in range(cycles):
    days = 100 if cycle < cycles // 2 else 500
    out, killed = lifecycle(days, rng.uniform(0.05, 1.2))
    kills += killed
    moved_lines += sum(1 for ln in out.splitlines() if " -> " in ln)
    c.eq(counts(), base, f"cycle {cycle} ({days} days, killed={killed}): counts unchanged")
    c.eq(raw_distinct(), base["raw_sensor_data"], f"cycle {cycle}: raw rows exactly once")

out, _ = lifecycle(500)
rows = live_rows()
c.check(len(rows) == n_files and all(f["tier"] == "cold" for f in rows),
        f"after a full pass every live file is cold: {len(rows)} of {n_files}")
c.eq(counts(), base, "after the full pass: counts unchanged")
c.eq(raw_distinct(), base["raw_sensor_data"], "after the full pass: raw rows exactly once")
p = fltest.run_cli("check", "--data", data, check=False, timeout=300)
c.eq(p.returncode, 0, f"check clean: {p.stdout[-2500:]}")
c.eq(parquet_on_disk(warm_dir), [], "no leftover in the warm directory")
c.eq(parquet_on_disk(os.path.join(data, "lake")), sorted(f["path"] for f in rows),
     "the lake holds exactly the live cold files")
lst = ", ".join(fltest.sql_str(os.path.join(data, "lake", f["path"])) for f in rows
                if f["table_name"] == "raw_sensor_data")
r = fltest.duck(f"SELECT count(*)::BIGINT AS n, count(DISTINCT (shard_id, sequence_number))"
                f"::BIGINT AS d FROM read_parquet([{lst}])")[0]
c.eq((r["n"], r["d"]), (base["raw_sensor_data"], base["raw_sensor_data"]),
     "DuckDB over the live raw files: every row once")

out, killed = lifecycle(1200, rng.uniform(0.05, 0.5))
kills += killed
left = counts()
c.check(all(0 <= left[t] <= base[t] for t in TABLES), f"mid-expiry counts: {left}")
lifecycle(1200)
c.eq(counts(), {t: 0 for t in TABLES}, "expired: nothing left to query")
c.eq(parquet_on_disk(os.path.join(data, "lake")), [], "expired: no lake file left")
p = fltest.run_cli("check", "--data", data, check=False, timeout=300)
c.eq(p.returncode, 0, f"check clean after expiry: {p.stdout[-2500:]}")
print(f"{cycles + 1} kill cycles, {kills} killed mid-pass, {moved_lines} moves printed before "
      f"the kills")
c.finish()
