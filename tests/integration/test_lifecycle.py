"""Integration: the lifecycle with a faked clock (--now). serve delivers a few hours of
simulator records (event time one day in the past, some rejected), `fleetlake summarize` writes
their hourly_summary. The dry run prints the plan for clocks far in the future: 100 days later
every live file would go hot -> warm, 500 days later hot -> cold, 1,200 days later every file is
expired; [lifecycle] overrides move the boundaries; the plan's totals match the catalog;
nothing changes. Then the moves are applied, step by step (warm directory on "another volume",
grace 0): hot -> warm (100 days), again (idempotent: nothing), warm -> cold (500 days),
expired (1,200 days). After each step: `fleetlake query` counts of all four tables are
unchanged (until expiry removes everything), `fleetlake check` is clean, every live file is
where its tier says (warm dir / archived-data/ with the ZSTD codec and the same key-value
metadata, per DuckDB's parquet_metadata and parquet_kv_metadata) and nowhere else, and DuckDB
reads the live files with the same row counts, directly and through the DuckDB DDL of
`fleetlake catalog ddl --live-files`."""
import json
import os
import re
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
import fltest  # noqa: E402

c = fltest.Checks()
root = fltest.scratch_dir("lifecycle")
data = root + "/data"
small = ["--set", "raw.buffer_interval_s=1", "--set", "raw.buffer_bytes=4KiB",
         "--set", "compaction.enabled=off"]

start_s = time.time() - 86400
start = time.strftime("%Y-%m-%dT%H:00:00Z", time.gmtime(start_s))
srv = fltest.Server(data, shards=2, extra=small).start()
subprocess.run([fltest.BIN, "sim", "--url", f"http://127.0.0.1:{srv.port}", "--devices", "10",
                "--records", "600", "--start", start, "--interval-ms", "20000", "--seed", "7",
                "--bad-rate", "0.03", "--quiet"], check=True, timeout=120,
               stdout=subprocess.DEVNULL)
time.sleep(2.5)
c.eq(srv.stop(), 0, "serve stops")
fltest.run_cli("summarize", "--data", data, "--from", start,
               "--to", time.strftime("%Y-%m-%dT%H:00:00Z", time.gmtime(start_s + 3 * 3600)))
TABLES = ["raw_sensor_data", "processed_sensor_data", "rejected_records", "hourly_summary"]


def live():
    return sorted((f["path"], f["rows"]) for f in fltest.catalog_files(data)
                  if f["state"] == "live")


before = live()
disk = fltest.lake_files_on_disk(data, "raw-data")
c.check(len(before) > 0, f"files delivered: {len(before)}")
rows = sum(r for _, r in before)


def plan(days, *extra):
    now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(start_s + days * 86400))
    p = fltest.run_cli("lifecycle", "--data", data, "--dry-run", "--now", now, *extra)
    moves = [ln for ln in p.stdout.splitlines() if " -> " in ln]
    total = p.stdout.splitlines()[-1]
    return moves, total


moves, total = plan(0)
c.eq(moves, [], "today: everything stays hot")
moves, total = plan(100)
c.eq(len(moves), len(before), "100 days on: every live file planned")
c.check(all(m.startswith("hot  -> warm") for m in moves), f"hot -> warm: {moves[:2]}")
c.check(f"{len(before)} files ({rows} rows" in total and total.startswith("dry run"),
        f"totals match the catalog: {total}")
moves, total = plan(500)
c.check(moves and all(m.startswith("hot  -> cold") for m in moves),
        f"500 days on: straight to cold: {moves[:2]}")
moves, total = plan(1200)
c.check(moves and all(m.startswith("hot  -> expired") for m in moves),
        f"1,200 days on: expired: {moves[:2]}")
m = re.search(r"(\d+) files? \((\d+) rows, \d+ bytes\) to expired", total)
c.check(m and int(m.group(1)) == len(before) and int(m.group(2)) == rows,
        f"expired totals: {total}")
moves, total = plan(100, "--set", "lifecycle.hot_days=200")
c.eq(moves, [], "hot_days=200: 100 days is still hot")
p = fltest.run_cli("lifecycle", "--data", data, "--dry-run", "--set", "lifecycle.warm_days=10",
                   check=False)
c.eq(p.returncode, 2, "warm_days below hot_days refused")
c.eq(live(), before, "dry runs: catalog unchanged")
c.eq(fltest.lake_files_on_disk(data, "raw-data"), disk, "dry runs: lake files unchanged")

# ---- applying the moves ----------------------------------------------------------------------
warm_dir = os.path.realpath(root) + "/warm-volume"  # another directory, as another volume would be
apply_cfg = ["--set", f"lifecycle.warm_dir={warm_dir}", "--set", "compaction.retire_grace_s=0"]


def counts():
    out = {}
    for t in TABLES:
        p = fltest.run_cli("query", "--data", data, "--format", "json",
                           f"SELECT count(*) AS n FROM {t}")
        out[t] = json.loads(p.stdout)["rows"][0][0]
    return out


def live_rows():
    return [f for f in fltest.catalog_files(data) if f["state"] == "live"]


def parquet_on_disk(top):
    out = []
    for d, _, names in os.walk(top):
        out += [os.path.relpath(os.path.join(d, n), top) for n in names
                if n.endswith(".parquet")]
    return sorted(out)


def check_clean(step):
    p = fltest.run_cli("check", "--data", data, check=False)
    c.eq(p.returncode, 0, f"{step}: check clean: {p.stdout[-2000:]}")


def duck_rows(paths):
    lst = ", ".join(fltest.sql_str(x) for x in paths)
    return fltest.duck(f"SELECT count(*)::BIGINT AS n FROM read_parquet([{lst}],"
                       f" union_by_name = true)")[0]["n"]


def ddl_count(table):
    """DuckDB over `fleetlake catalog ddl --dialect duckdb --live-files`: rows of table."""
    p = fltest.run_cli("catalog", "ddl", table, "--dialect", "duckdb", "--live-files",
                       "--data", data)
    return fltest.duck(p.stdout, f"SELECT count(*) AS n FROM {table}")[0]["n"]


def apply(days):
    now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(start_s + days * 86400))
    p = fltest.run_cli("lifecycle", "--data", data, "--now", now, *apply_cfg)
    return [ln for ln in p.stdout.splitlines() if " -> " in ln], p.stdout.splitlines()[-1]


counts0 = counts()
c.check(all(counts0[t] > 0 for t in TABLES), f"every table has rows: {counts0}")
c.eq(sum(f["rows"] for f in live_rows()), sum(counts0.values()), "catalog rows = query counts")
n_live = len(live_rows())

# hot -> warm
moves, total = apply(100)
c.eq(len(moves), n_live, "100 days: every live file moved")
c.check(all(m.startswith("hot  -> warm") for m in moves), f"hot -> warm: {moves[:2]}")
c.check(total.startswith(f"moved: {n_live} files"), f"totals: {total}")
rows = live_rows()
c.check(all(f["tier"] == "warm" and f["location"] == warm_dir for f in rows),
        f"rows say warm in {warm_dir}: {[(f['tier'], f['location']) for f in rows[:2]]}")
c.eq(parquet_on_disk(warm_dir), sorted(f["path"] for f in rows), "warm dir holds exactly them")
c.eq(parquet_on_disk(os.path.join(data, "lake")), [], "the hot copies are gone (grace 0)")
c.eq(counts(), counts0, "warm: query counts unchanged")
check_clean("warm")
c.eq(duck_rows([os.path.join(warm_dir, f["path"]) for f in rows]), sum(counts0.values()),
     "DuckDB reads the warm files")
c.eq(ddl_count("raw_sensor_data"), counts0["raw_sensor_data"],
     "warm: the DuckDB DDL (--live-files) lists the warm files")

moves, total = apply(100)
c.eq(moves, [], "the same clock again: nothing to move (idempotent)")
c.check(total.startswith("moved: 0 files"), f"totals: {total}")

# warm -> cold
moves, total = apply(500)
c.eq(len(moves), n_live, "500 days: every live file moved")
c.check(all(m.startswith("warm -> cold") for m in moves), f"warm -> cold: {moves[:2]}")
rows = live_rows()
c.check(all(f["tier"] == "cold" and not f["location"] and
            f["path"].startswith("archived-data/") for f in rows), "rows say cold, archived-data/")
lake = os.path.join(data, "lake")
c.eq(parquet_on_disk(lake), sorted(f["path"] for f in rows),
     "the lake holds exactly the archived files")
c.eq(parquet_on_disk(warm_dir), [], "the warm copies are gone (grace 0)")
c.eq(counts(), counts0, "cold: query counts unchanged")
check_clean("cold")
paths = [os.path.join(lake, f["path"]) for f in rows]
lst = ", ".join(fltest.sql_str(x) for x in paths)
codecs = fltest.duck(f"SELECT DISTINCT compression FROM parquet_metadata([{lst}])")
c.eq([r["compression"] for r in codecs], ["ZSTD"], "cold files are ZSTD")
kv = fltest.duck(f"SELECT DISTINCT decode(key) AS k, decode(value) AS v"
                 f" FROM parquet_kv_metadata([{lst}]) ORDER BY k, v")
c.check({"k": "schema_version", "v": "2"} in kv and
        any(r["k"] == "fleetlake.table" for r in kv), f"key-value metadata kept: {kv}")
c.eq(duck_rows(paths), sum(counts0.values()), "DuckDB reads the cold files")
c.eq(ddl_count("processed_sensor_data"), counts0["processed_sensor_data"],
     "cold: the DuckDB DDL (--live-files) lists the archived files")

# expired
moves, total = apply(1200)
c.eq(len(moves), n_live, "1,200 days: every live file expired")
c.check(all(m.startswith("cold -> expired") for m in moves), f"expired: {moves[:2]}")
c.eq(live_rows(), [], "no live catalog row left")
c.eq(parquet_on_disk(lake), [], "no lake file left")
c.eq(counts(), {t: 0 for t in TABLES}, "expired: queries count nothing")
check_clean("expired")
c.finish()
