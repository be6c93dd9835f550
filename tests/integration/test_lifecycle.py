"""Integration: `fleetlake lifecycle --dry-run` with a faked clock (--now). serve delivers a
few hours of simulator records (event time one day in the past), then the plan is printed for
clocks far in the future: 100 days later every live file would go hot -> warm, 500 days later
hot -> cold, 1,200 days later every file is expired; [lifecycle] overrides move the
boundaries; the plan's totals match the catalog; nothing changes (catalog and lake files);
without --dry-run the command refuses (applying the moves is not implemented yet)."""
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
                "--quiet"], check=True, timeout=120, stdout=subprocess.DEVNULL)
time.sleep(2.5)
c.eq(srv.stop(), 0, "serve stops")


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
p = fltest.run_cli("lifecycle", "--data", data, check=False)
c.eq(p.returncode, 2, "without --dry-run: refused (not implemented yet)")
c.check("--dry-run" in p.stderr, f"says to use --dry-run: {p.stderr}")
c.eq(live(), before, "catalog unchanged")
c.eq(fltest.lake_files_on_disk(data, "raw-data"), disk, "lake files unchanged")
c.finish()
