"""Fault: kill -9 during erasure. A server with tiny buffers delivers simulator records of 20
devices at three ages (hours, 45 days and 400 days back, a few rejected), `fleetlake
summarize` writes their hourly_summary, `fleetlake compact` merges raw files and `fleetlake
lifecycle` moves the old ones to the warm directory and to archived-data/ (ZSTD), so every
device is in every table and every tier. Then, for FL_KILL_CYCLES cycles (default 4), one more
device is erased: `fleetlake erase` is killed with -9 at a random moment (mid-scan, mid-rewrite,
between publish and commit, mid-deletion) and run again to the end, as an operator would.
After each cycle: the erased devices have no row in any table (`fleetlake query`) and no
device_state row, every other device's row counts are what they were, raw_sensor_data's
(shard_id, sequence_number) pairs are distinct, EVERY Parquet file on disk — the lake,
archived-data/ and the warm directory, catalogued or not — is scanned and none holds an
erased device, and `fleetlake check` exits 0."""
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

cycles = int(os.environ.get("FL_KILL_CYCLES", "4"))
rng = random.Random(int(os.environ.get("FL_SEED", "17")))
c = fltest.Checks()
root = fltest.scratch_dir("kill9-erase")
data = root + "/data"
WARM = os.path.realpath(data) + "/lake-warm"
small = ["--set", "raw.buffer_interval_s=1", "--set", "raw.buffer_bytes=4KiB",
         "--set", "compaction.enabled=off", "--set", "lifecycle.enabled=off"]
TABLES = ["raw_sensor_data", "processed_sensor_data", "hourly_summary"]


def iso(t):
    return time.strftime("%Y-%m-%dT%H:00:00Z", time.gmtime(t))


srv = fltest.Server(data, shards=2, extra=small).start()
bursts = []
for days in (0.3, 45, 400):
    t = time.time() - days * 86400
    bursts.append(t)
    subprocess.run([fltest.BIN, "sim", "--url", f"http://127.0.0.1:{srv.port}", "--devices",
                    "20", "--records", "800", "--start", iso(t), "--interval-ms", "30000",
                    "--seed", str(int(days) + 1), "--bad-rate", "0.02", "--quiet"],
                   check=True, timeout=120, stdout=subprocess.DEVNULL)
    for d in range(1, cycles + 2):  # rejected records naming the devices to erase
        srv.post_records(json.dumps({"device_id": f"truck-{d:04d}", "timestamp": iso(t),
                                     "temperature": "hot"}))
time.sleep(2.5)
c.eq(srv.stop(), 0, "loading serve stops")
for t in bursts:
    fltest.run_cli("summarize", "--data", data, "--from", iso(t), "--to", iso(t + 3 * 3600))
fltest.run_cli("compact", "--data", data, "--all", "--set", "compaction.retire_grace_s=0")
p = fltest.run_cli("lifecycle", "--data", data)  # default grace: replaced copies stay a while
c.check("-> warm" in p.stdout and "-> cold" in p.stdout, f"tiers: {p.stdout[-500:]}")


def query(sql):
    p = fltest.run_cli("query", "--data", data, "--format", "json", sql, timeout=300)
    return json.loads(p.stdout)["rows"]


def per_device(table):
    return {r[0]: r[1] for r in query(f"SELECT device_id, count(*) FROM {table}"
                                      f" GROUP BY device_id")}


def state_rows(dev):
    db = sqlite3.connect(f"file:{os.path.join(data, 'meta.db')}?mode=ro", uri=True)
    try:
        return db.execute("SELECT count(*) FROM device_state WHERE device_id = ?",
                          (dev,)).fetchone()[0]
    finally:
        db.close()


def parquet_files():
    out = []
    for top in (os.path.join(data, "lake"), WARM):
        for d, _, names in os.walk(top):
            out += [os.path.join(d, n) for n in names if n.endswith(".parquet")]
    return sorted(out)


def files_holding(devs):
    """Every Parquet file on disk (any tier, catalogued or not) with a value equal to one of
    devs or containing it as a quoted JSON string."""
    hits = set()
    files = parquet_files()
    lst = ", ".join(fltest.sql_str(f) for f in files)
    rows = fltest.duck(f"SELECT filename, COLUMNS(c -> c <> 'filename')::VARCHAR"
                       f" FROM read_parquet([{lst}], union_by_name = true, filename = true,"
                       f" hive_partitioning = false)", timeout=600)
    for r in rows:
        for k, v in r.items():
            if k == "filename" or v is None:
                continue
            if any(v == d or f'"{d}"' in v for d in devs):
                hits.add(r["filename"])
                break
    return sorted(hits)


base = {t: per_device(t) for t in TABLES}
rejected_base = query("SELECT count(*) FROM rejected_records")[0][0]
live = [f for f in fltest.catalog_files(data) if f["state"] == "live"]
c.check({f["tier"] for f in live} == {"hot", "warm", "cold"},
        f"every tier holds files: {sorted({f['tier'] for f in live})}")
erased, kills, rejected_prev = [], 0, rejected_base
for cycle in range(cycles):
    victim = f"truck-{cycle + 1:04d}"
    c.check(base["raw_sensor_data"].get(victim, 0) > 0, f"{victim} has rows before")
    # calibrate: a dry run does the scan, about half of the work; kill within twice its time
    t0 = time.monotonic()
    fltest.run_cli("erase", "--data", data, "--device", victim, "--dry-run")
    dry_s = time.monotonic() - t0
    p = subprocess.Popen([fltest.BIN, "erase", "--data", data, "--device", victim],
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(rng.uniform(0.1, 2.0) * dry_s)
    if p.poll() is None:
        p.send_signal(signal.SIGKILL)
        kills += 1
    p.wait()
    p = fltest.run_cli("erase", "--data", data, "--device", victim, timeout=600)
    c.check("erased device " + victim in p.stdout, f"the rerun finishes: {p.stdout[-300:]}")
    erased.append(victim)
    for t in TABLES:
        want = {d: n for d, n in base[t].items() if d not in erased}
        c.eq(per_device(t), want, f"cycle {cycle}: {t}: erased devices gone, others intact")
    rejected = query("SELECT count(*) FROM rejected_records")[0][0]
    c.check(rejected <= rejected_prev - 3,
            f"cycle {cycle}: the victim's rejected rows (3 posted) went: {rejected_prev} -> "
            f"{rejected}")
    rejected_prev = rejected
    raw = query("SELECT count(*), count(DISTINCT shard_id || '/' || sequence_number)"
                " FROM raw_sensor_data")[0]
    c.eq(raw[0], raw[1], f"cycle {cycle}: raw rows exactly once")
    c.eq(state_rows(victim), 0, f"cycle {cycle}: device_state row gone")
    c.eq(files_holding(erased), [], f"cycle {cycle}: no file on disk holds an erased device")
    p = fltest.run_cli("check", "--data", data, check=False, timeout=300)
    c.eq(p.returncode, 0, f"cycle {cycle}: check clean: {p.stdout[-2000:]}")
print(f"{cycles} cycles, {kills} erase runs killed mid-way; erased {erased}")
c.finish()
