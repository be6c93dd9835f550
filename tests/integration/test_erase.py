"""Integration: right to erasure, across tiers. serve runs with tiny buffers while the simulator
sends ~50 min of records (a past, closed time range) for 20 devices, plus a few rejected
records of the victim, and two more bursts 45 and 400 days back; then serve stops,
`fleetlake summarize` writes hourly_summary, `fleetlake compact` merges part of the raw files
and `fleetlake lifecycle` moves the 45-day-old files to the warm directory and rewrites the
400-day-old ones to archived-data/ (the replaced hot/warm copies stay on disk for the grace
period), so the device is in delivered, compacted, processed, summary and rejected files in
every tier. `fleetlake erase` refuses while serve runs; `--dry-run` lists the files and changes
nothing; `erase` then leaves no trace of the device in ANY Parquet file on disk (every column
of every file under the lake and the warm directory scanned), deletes its device_state row,
keeps every other device's row counts, keeps warm files in the warm directory and cold files
in archived-data/ with ZSTD, and `fleetlake check` is clean."""
import json
import os
import sqlite3
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
import fltest  # noqa: E402

c = fltest.Checks()
root = fltest.scratch_dir("erase")
data = root + "/data"
small = ["--set", "raw.buffer_interval_s=1", "--set", "raw.buffer_bytes=4KiB",
         "--set", "compaction.enabled=off"]
VICTIM = "truck-0003"

t0 = time.gmtime(time.time() - 6 * 3600)
start = time.strftime("%Y-%m-%dT%H:00:00Z", t0)
srv = fltest.Server(data, shards=2, extra=small).start()
subprocess.run([fltest.BIN, "sim", "--url", f"http://127.0.0.1:{srv.port}", "--devices", "20",
                "--records", "2000", "--start", start, "--interval-ms", "20000",
                "--bad-rate", "0.02", "--seed", "7", "--quiet"], check=True, timeout=120,
               stdout=subprocess.DEVNULL)
# Rejected records that name the victim (a bad temperature), and one that names a device whose
# id merely contains the victim's: it must stay.
bad = [{"device_id": VICTIM, "timestamp": start, "temperature": "hot"},
       {"device_id": VICTIM + "9", "timestamp": start, "temperature": "hot"}]
for b in bad:
    srv.post_records(json.dumps(b))
OLD = {45: None, 400: None}  # days back -> start of the burst
for days in OLD:
    OLD[days] = time.strftime("%Y-%m-%dT%H:00:00Z", time.gmtime(time.time() - days * 86400))
    subprocess.run([fltest.BIN, "sim", "--url", f"http://127.0.0.1:{srv.port}", "--devices", "20",
                    "--records", "400", "--start", OLD[days], "--interval-ms", "20000",
                    "--seed", str(days), "--quiet"], check=True, timeout=120,
                   stdout=subprocess.DEVNULL)
    srv.post_records(json.dumps({"device_id": VICTIM, "timestamp": OLD[days], "temperature": "x"}))
time.sleep(2.5)

p = fltest.run_cli("erase", "--data", data, "--device", VICTIM, check=False)
c.check(p.returncode != 0 and "serve is running" in p.stderr,
        f"erase refuses while serve runs: {p.returncode} {p.stderr}")
c.eq(srv.stop(), 0, "serve stops")

end = time.strftime("%Y-%m-%dT%H:00:00Z", time.gmtime(time.time() - 3 * 3600))
fltest.run_cli("summarize", "--data", data, "--from", start, "--to", end)
for days, t in OLD.items():
    fltest.run_cli("summarize", "--data", data, "--from", t, "--to",
                   time.strftime("%Y-%m-%dT%H:00:00Z",
                                 time.gmtime(time.time() - days * 86400 + 3 * 3600)))
fltest.run_cli("compact", "--data", data, "--table", "raw_sensor_data")
p = fltest.run_cli("lifecycle", "--data", data)  # real clock, default grace: copies stay on disk
c.check("hot  -> warm" in p.stdout and "hot  -> cold" in p.stdout,
        f"lifecycle moved files to warm and cold: {p.stdout[-600:]}")
WARM = os.path.realpath(data) + "/lake-warm"


def tiers():
    out = {}
    for f in fltest.catalog_files(data):
        if f["state"] == "live":
            out.setdefault(f["tier"], []).append(f)
    return out


def scheduled():
    db = sqlite3.connect(f"file:{os.path.join(data, 'meta.db')}?mode=ro", uri=True)
    try:
        return db.execute("SELECT count(*) FROM lake_deletes").fetchone()[0]
    finally:
        db.close()


c.check(all(len(tiers().get(t, [])) > 0 for t in ("hot", "warm", "cold")),
        f"files in every tier: { {k: len(v) for k, v in tiers().items()} }")
c.check(scheduled() > 0, "replaced copies await deletion (grace)")

TABLES = ["raw_sensor_data", "processed_sensor_data", "rejected_records", "hourly_summary"]


def live(table):
    """Full paths of the live files of table, wherever they live (main lake or warm dir)."""
    return sorted(os.path.join(f["location"] or os.path.join(data, "lake"), f["path"])
                  for f in fltest.catalog_files(data, table) if f["state"] == "live")


def device_counts(table):
    files = ", ".join(fltest.sql_str(p) for p in live(table))
    col = "record_count" if table == "hourly_summary" else "1"
    rows = fltest.duck(f"SELECT device_id, sum({col})::BIGINT AS n FROM read_parquet([{files}])"
                       f" GROUP BY device_id ORDER BY device_id")
    return {r["device_id"]: r["n"] for r in rows}


def all_parquet_files():
    """Every Parquet file of every tier: the lake (hot, archived-data/) and the warm dir."""
    out = []
    for top in (os.path.join(data, "lake"), WARM):
        for d, _, names in os.walk(top):
            out += [os.path.join(d, n) for n in names if n.endswith(".parquet")]
    return sorted(out)


def files_mentioning(needle):
    """Every Parquet file on disk (catalogued or not, any state) whose any column, cast to
    text, contains needle as a whole quoted or exact value."""
    hits = []
    for f in all_parquet_files():
        rows = fltest.duck(f"SELECT * FROM read_parquet({fltest.sql_str(f)})")
        for r in rows:
            for v in r.values():
                s = v if isinstance(v, str) else json.dumps(v)
                if s == needle or f'"{needle}"' in s or f'\\"{needle}\\"' in s:
                    hits.append(f)
                    break
            else:
                continue
            break
    return hits


def state_rows(dev):
    db = sqlite3.connect(f"file:{os.path.join(data, 'meta.db')}?mode=ro", uri=True)
    try:
        return db.execute("SELECT count(*) FROM device_state WHERE device_id = ?",
                          (dev,)).fetchone()[0]
    finally:
        db.close()


before = {t: device_counts(t) for t in TABLES if t != "rejected_records"}
for t, counts in before.items():
    c.check(counts.get(VICTIM, 0) > 0, f"{t} holds the victim before: {counts.get(VICTIM)}")
c.check(len(files_mentioning(VICTIM)) > 0, "the victim is in files before")
c.eq(state_rows(VICTIM), 1, "victim has a device_state row")
rejected_before = len(fltest.duck(
    "SELECT 1 FROM read_parquet([" + ", ".join(fltest.sql_str(p)
                                               for p in live("rejected_records")) + "])"))
disk_before = all_parquet_files()
live_before = {t: live(t) for t in TABLES}

# ---- --dry-run --------------------------------------------------------------------------------
p = fltest.run_cli("erase", "--data", data, "--device", VICTIM, "--dry-run")
c.check("would rewrite" in p.stdout and "dry run: nothing changed" in p.stdout,
        f"dry run lists files: {p.stdout[-1500:]}")
c.check("rejected_records" in p.stdout or "errors/rejected_records" in p.stdout,
        f"dry run finds the rejected records: {p.stdout[-1500:]}")
c.eq(all_parquet_files(), disk_before, "dry run changed no file")
c.eq({t: live(t) for t in TABLES}, live_before, "dry run changed no catalog row")
c.eq(state_rows(VICTIM), 1, "dry run kept device_state")

# ---- erase ------------------------------------------------------------------------------------
p = fltest.run_cli("erase", "--data", data, "--device", VICTIM)
c.check("erased device " + VICTIM in p.stdout, f"erase reports: {p.stdout[-1500:]}")
c.check("rows of device " + VICTIM + " removed" in p.stderr, f"audit log lines: {p.stderr[-1500:]}")
c.eq(files_mentioning(VICTIM), [], "no Parquet file on disk mentions the victim")
c.eq(state_rows(VICTIM), 0, "device_state row deleted")
for t, counts in before.items():
    want = {d: n for d, n in counts.items() if d != VICTIM}
    c.eq(device_counts(t), want, f"{t}: every other device's rows unchanged")
rejected_after = len(fltest.duck(
    "SELECT 1 FROM read_parquet([" + ", ".join(fltest.sql_str(p)
                                               for p in live("rejected_records")) + "])"))
c.check(rejected_before - 1 >= rejected_after,
        f"the victim's rejected rows went: {rejected_before} -> {rejected_after}")
c.check(len(files_mentioning(VICTIM + "9")) > 0, "a device whose id contains the victim's stays")

c.check("awaiting deletion deleted now" in p.stdout, f"scheduled copies reported: {p.stdout[-300:]}")
c.eq(scheduled(), 0, "no replaced copy awaits deletion any more")
after = tiers()
c.check(all(len(after.get(t, [])) > 0 for t in ("hot", "warm", "cold")),
        f"still files in every tier: { {k: len(v) for k, v in after.items()} }")
c.check(all(f["location"] == WARM and os.path.exists(os.path.join(WARM, f["path"]))
            for f in after["warm"]), "warm files (rewritten ones too) stay in the warm dir")
c.check(all(f["path"].startswith("archived-data/") and not f["location"] for f in after["cold"]),
        "cold files (rewritten ones too) stay in archived-data/")
cold = ", ".join(fltest.sql_str(os.path.join(data, "lake", f["path"])) for f in after["cold"])
codecs = fltest.duck(f"SELECT DISTINCT compression FROM parquet_metadata([{cold}])")
c.eq([r["compression"] for r in codecs], ["ZSTD"], "cold files stay ZSTD")
c.check(any("/compacted-" in f["path"] for f in after["cold"] + after["warm"]),
        "erase rewrote warm or cold files")

p = fltest.run_cli("check", "--data", data, check=False)
c.eq(p.returncode, 0, f"check clean after erase: {p.stdout[-2000:]}")

p = fltest.run_cli("erase", "--data", data, "--device", VICTIM)
c.check("0 rewritten, 0 removed, 0 rows" in p.stdout, f"a second erase finds nothing: {p.stdout}")
c.finish()
